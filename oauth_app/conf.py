"""Typed access to the settings the client policy needs, read live on every call (tests override them).

Values come from ``project/settings.py`` (the environment); this module only shapes them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from oauth2_provider.settings import oauth2_settings

from .client_metadata import ServerCapabilities
from .redirects import validate_redirect_uri


def _redirect_uri_check(uri: str) -> None:
    try:
        validate_redirect_uri(uri)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None


def server_capabilities() -> ServerCapabilities:
    """Grant types and token endpoint auth methods this server supports, and its redirect policy."""
    return ServerCapabilities(
        grant_types=frozenset(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED),
        auth_methods=tuple(oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED),
        validate_redirect_uri=_redirect_uri_check,
    )


def cimd_allowed_private_hosts() -> frozenset[str]:
    """Host names whose documents and JWKS may be fetched from private or loopback addresses."""
    return frozenset(host.lower().rstrip(".") for host in getattr(settings, "CIMD_ALLOWED_PRIVATE_HOSTS", []))


def client_assertion_audiences() -> frozenset[str]:
    """RFC 7523 §3: a client assertion's ``aud`` is the token endpoint URL or the issuer."""
    return frozenset({settings.ISSUER, settings.ISSUER + reverse("oauth2_provider:token")})
