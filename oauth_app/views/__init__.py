"""Views of the authorization server, split by endpoint family and re-exported here."""

from .authorize import ConsentView
from .login import LoginView
from .metadata import JwksView, ServerMetadataView
from .registration import RegistrationManagementView, RegistrationView
from .token import TokenView

__all__ = ["ConsentView", "JwksView", "LoginView", "RegistrationManagementView", "RegistrationView", "ServerMetadataView",
           "TokenView"]
