"""Views of the authorization server, split by endpoint family and re-exported here."""

from .authorize import ConsentView
from .login import LoginView
from .metadata import JwksView, ServerMetadataView
from .registration import RegistrationManagementView, RegistrationView
from .token import IntrospectTokenView, RevokeTokenView, TokenView

__all__ = [
    "ConsentView", "IntrospectTokenView", "JwksView", "LoginView", "RegistrationManagementView", "RegistrationView",
    "RevokeTokenView", "ServerMetadataView", "TokenView",
]
