"""The redirect URI policy for registered clients (RFC 9700 §2.1, RFC 8252 §7.1 and §7.3, OAuth 2.1 §2.3.1).

Accepted by default, for DCR, CIMD and the admin alike (they all go through :meth:`Client.clean`):

* ``https`` URLs with a host;
* ``http`` on a loopback host (``127.0.0.1``, ``[::1]``, ``localhost``), any port (DOT matches the port
  loosely at request time, RFC 8252 §7.3);
* private-use schemes of native apps (RFC 8252 §7.1): ``cursor://anysphere.cursor-mcp/oauth/callback``,
  ``vscode://…``, ``com.example.app:/oauth``.

Refused: the schemes a browser would execute or read locally (``javascript:``, ``data:``, ``file:``,
``vbscript:``, ``blob:``…), ``http`` off loopback, fragments, userinfo and wildcards.

``ALLOWED_REDIRECT_URI_SCHEMES`` (DOT's setting, fed from the environment) narrows the non-loopback
schemes; its entry ``*`` stands for "any private-use scheme". ``http`` is never in it, so DOT's
``oauth2_provider.E003`` ("plaintext http redirect URIs are allowed") is a true statement about this
server: plain http exists only on loopback, through :func:`allowed_schemes_for` (DOT's per-client
``Application.get_allowed_schemes`` hook), not through the global list.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_REDIRECT_URI_LENGTH = 2000
#: The entry of ``ALLOWED_REDIRECT_URI_SCHEMES`` that admits every private-use scheme.
ANY_PRIVATE_USE_SCHEME = "*"
#: Schemes that are never a redirect target: a browser executes them, reads local data through them,
#: or they name something other than an app (RFC 8252 §8.1, RFC 9700 §4.1).
DANGEROUS_SCHEMES = frozenset({
    "javascript", "data", "file", "vbscript", "blob", "about", "filesystem", "view-source",
    "ws", "wss", "ftp", "mailto", "tel", "sms",
})


def _allowed_setting() -> list[str]:
    from oauth2_provider.settings import oauth2_settings

    return [scheme.lower() for scheme in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES]


def is_loopback_uri(uri: str) -> bool:
    """Whether ``uri`` is an ``http`` URI on a loopback host."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def is_private_use_uri(uri: str) -> bool:
    """Whether ``uri`` uses a private-use (custom) scheme, i.e. neither http nor https (RFC 8252 §7.1)."""
    scheme = urlsplit(uri).scheme.lower()
    return bool(scheme) and scheme not in {"http", "https"}


def _scheme_allowed(scheme: str, allowed: list[str]) -> bool:
    if scheme in {"http", "https"}:
        return scheme in allowed
    return scheme in allowed or ANY_PRIVATE_USE_SCHEME in allowed


def validate_redirect_uri(uri: str) -> None:
    """Raise :class:`ValidationError` unless ``uri`` is an acceptable redirect URI."""
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise ValidationError("Redirect URI is longer than %(max)s characters.", params={"max": MAX_REDIRECT_URI_LENGTH})
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError as exc:
        raise ValidationError("Redirect URI is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValidationError("Redirect URI must be absolute (https, http on a loopback host, or an app's own scheme).")
    if scheme in DANGEROUS_SCHEMES:
        raise ValidationError("Redirect URI scheme %(scheme)s: is not allowed.", params={"scheme": scheme})
    if "#" in uri:
        raise ValidationError("Redirect URI must not contain a fragment.")
    if parts.username or parts.password:
        raise ValidationError("Redirect URI must not contain credentials.")
    if "*" in uri:
        raise ValidationError("Redirect URI must not contain wildcards.")
    if scheme == "http":
        if parts.hostname not in LOOPBACK_HOSTS:
            raise ValidationError(
                "Plain http redirect URIs are only allowed for loopback hosts (localhost, 127.0.0.1, [::1])."
            )
        return
    if scheme == "https" and not parts.hostname:
        raise ValidationError("An https redirect URI needs a host.")
    if not _scheme_allowed(scheme, _allowed_setting()):
        raise ValidationError("Redirect URI scheme %(scheme)s: is not allowed on this server.", params={"scheme": scheme})
    if scheme != "https" and not (parts.netloc or parts.path.startswith("/")):
        # RFC 8252 §7.1: "com.example.app:/oauth2redirect" or "cursor://host/path"; an opaque
        # "app:callback" is not a URL an OS hands to an app.
        raise ValidationError("A private-use redirect URI needs a path, e.g. com.example.app:/callback.")


def allowed_schemes_for(redirect_uris: Iterable[str]) -> list[str]:
    """The redirect schemes DOT may use for a client with these registered redirect URIs.

    ``http`` is included only when one of them is a loopback URI; private-use schemes only when one
    of them uses that scheme and the policy admits it. DOT checks registered URIs and the final
    redirect against this list (``Application.get_allowed_schemes``).
    """
    allowed = _allowed_setting()
    schemes = {scheme for scheme in allowed if scheme != ANY_PRIVATE_USE_SCHEME}
    for uri in redirect_uris:
        scheme = urlsplit(uri).scheme.lower()
        if scheme == "http" and is_loopback_uri(uri):
            schemes.add("http")
        elif scheme and scheme not in DANGEROUS_SCHEMES and _scheme_allowed(scheme, allowed):
            schemes.add(scheme)
    return sorted(schemes)
