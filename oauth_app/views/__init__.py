"""Views of the authorization server, split by endpoint family and re-exported here."""

from .account import ConnectedAppsView, RevokeAppView
from .authorize import ConsentView
from .login import LoginView
from .metadata import JwksView, ServerMetadataView
from .registration import RegistrationManagementView, RegistrationView
from .token import IntrospectTokenView, RevokeTokenView, TokenView

__all__ = [
    "ConnectedAppsView", "ConsentView", "IntrospectTokenView", "JwksView", "LoginView", "RegistrationManagementView",
    "RegistrationView", "RevokeAppView", "RevokeTokenView", "ServerMetadataView", "TokenView",
]
