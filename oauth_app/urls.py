"""URLs of the authorization server, mounted at the site root (the issuer has no path).

They live in DOT's ``oauth2_provider`` namespace because DOT's metadata view builds its
endpoint URLs by reversing those names (``authorize``, ``token``, ``dcr-register``...).
"""

from __future__ import annotations

from django.urls import path
from oauth2_provider import views as dot_views

from . import views

app_name = "oauth2_provider"

urlpatterns = [
    path(".well-known/oauth-authorization-server", views.ServerMetadataView.as_view(), name="oauth-server-metadata"),
    path(".well-known/openid-configuration", views.ServerMetadataView.as_view(), name="oidc-connect-discovery-info"),
    path(".well-known/oauth-protected-resource", dot_views.OAuthProtectedResourceMetadataView.as_view(), name="oauth-resource-metadata"),
    # RFC 9728 §3.1 path form for the one resource this server protects.
    path(".well-known/oauth-protected-resource/mcp", dot_views.OAuthProtectedResourceMetadataView.as_view(), name="oauth-resource-metadata-mcp"),
    path("authorize", views.ConsentView.as_view(), name="authorize"),
    path("token", views.TokenView.as_view(), name="token"),
    path("revoke", dot_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect", dot_views.IntrospectTokenView.as_view(), name="introspect"),
    path("jwks", views.JwksView.as_view(), name="jwks"),
    path("register", views.RegistrationView.as_view(), name="dcr-register"),
    path("register/<str:client_id>", views.RegistrationManagementView.as_view(), name="dcr-register-management"),
]
