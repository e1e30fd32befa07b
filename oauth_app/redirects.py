"""The redirect URI policy for registered clients (RFC 9700 §2.1, RFC 8252 §7.3, OAuth 2.1 §2.3.1).

A redirect URI is acceptable when it is ``https``, or ``http`` on a loopback host (any port,
matched by DOT at request time), and carries no fragment or userinfo. Everything else
(``javascript:``, ``data:``, ``http://evil.example``) is refused at registration time, by the
admin form, DCR and CIMD alike, because they all go through :meth:`Client.clean`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_REDIRECT_URI_LENGTH = 2000


def is_loopback_uri(uri: str) -> bool:
    """Whether ``uri`` is an ``http`` URI on a loopback host."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def validate_redirect_uri(uri: str) -> None:
    """Raise :class:`ValidationError` unless ``uri`` is an acceptable redirect URI."""
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise ValidationError("Redirect URI is longer than %(max)s characters.", params={"max": MAX_REDIRECT_URI_LENGTH})
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError as exc:
        raise ValidationError("Redirect URI is not a valid URL.") from exc
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValidationError("Redirect URI must be an absolute https URL, or http on a loopback host.")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValidationError("Plain http redirect URIs are only allowed for loopback hosts (localhost, 127.0.0.1, [::1]).")
    if "#" in uri:
        raise ValidationError("Redirect URI must not contain a fragment.")
    if parts.username or parts.password:
        raise ValidationError("Redirect URI must not contain credentials.")
