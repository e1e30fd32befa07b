"""Bearer authentication for ``/mcp``: header → principal, and the RFC 6750/9728 challenges.

Only the ``Authorization`` header is read (AUTH-14: never the query string). Verification is the
``oauth_app`` API (:func:`oauth_app.tokens.averify_access_token`: a per-process cache of verified
tokens, the signature checked on the event loop, the revocation lookup on ``/mcp``'s database
pool); the challenge text is DOT's builder, so there is one format for both apps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from oauth2_provider.www_authenticate import build_bearer_challenge
from oauth_app.exceptions import TokenError
from oauth_app.tokens import Principal, averify_access_token

from .conf import mcp_settings, setting
from .db import run_sync


class NoToken(Exception):
    """The request carries no bearer token (RFC 6750 §3.1: a challenge without an error code)."""


_metadata_url: dict[str, str] = {}


def resource_metadata_url() -> str:
    public = settings.PUBLIC_URL
    url = _metadata_url.get(public)
    if url is None:  # reverse() is not free; PUBLIC_URL only changes in tests
        url = _metadata_url[public] = public + reverse("oauth2_provider:oauth-resource-metadata-mcp")
    return url


@dataclass(frozen=True)
class Challenge:
    """An authentication failure, ready to be written as an HTTP response."""

    status: int
    www_authenticate: str
    body: dict


def challenge(error: TokenError | None, scopes: tuple[str, ...] | list[str] | None = None) -> Challenge:
    """401 (no or bad token) or 403 (insufficient scope), each naming the scopes needed (AUTH-06, AUTH-10)."""
    needed = " ".join(scopes if scopes is not None else mcp_settings.REQUIRED_SCOPES)
    params: dict[str, str] = {}
    if error is not None:
        params = {"error": error.error, "error_description": error.description}
    params["scope"] = needed
    header = build_bearer_challenge(None, params, resource_metadata_url=resource_metadata_url())
    status = error.status_code if error is not None else 401
    body = {"error": error.error, "error_description": error.description} if error else {"error": "unauthorized"}
    return Challenge(status, header, body)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(authorization: str | None) -> Principal:
    """Verify the bearer for the MCP resource and the scopes every request needs.

    Raises :class:`NoToken`, :class:`~oauth_app.exceptions.InvalidToken` or
    :class:`~oauth_app.exceptions.InsufficientScope` (see :mod:`mcp_app.wire`).
    """
    raw = bearer_token(authorization)
    if raw is None:
        raise NoToken()
    return await averify_access_token(raw, setting("MCP_RESOURCE"), tuple(mcp_settings.REQUIRED_SCOPES), run=run_sync)
