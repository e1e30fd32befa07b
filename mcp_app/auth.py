"""Bearer authentication for ``/mcp``: header → principal, and the RFC 6750/9728 challenges.

Only the ``Authorization`` header is read (AUTH-14: never the query string). Verification is the
``oauth_app`` API; the challenge text is DOT's builder, so there is one format for both apps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from oauth2_provider.www_authenticate import build_bearer_challenge
from oauth_app.exceptions import InsufficientScope, InvalidToken, TokenError
from oauth_app.tokens import Principal, verify_access_token

from .conf import mcp_settings
from .db import database_sync_to_async


def resource_metadata_url() -> str:
    return settings.PUBLIC_URL + reverse("oauth2_provider:oauth-resource-metadata-mcp")


@dataclass(frozen=True)
class Challenge:
    """An authentication failure, ready to be written as an HTTP response."""

    status: int
    www_authenticate: str
    body: bytes


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
    return Challenge(status, header, json.dumps(body).encode())


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(authorization: str | None) -> Principal | Challenge:
    """Verify the bearer for the MCP resource and the scopes every request needs."""
    raw = bearer_token(authorization)
    if raw is None:
        return challenge(None)
    try:
        # oauth_app.tokens.averify_access_token, but through mcp_app.db (the connection stays open).
        return await database_sync_to_async(verify_access_token)(raw, settings.MCP_RESOURCE,
                                                                 tuple(mcp_settings.REQUIRED_SCOPES))
    except InsufficientScope as exc:
        return challenge(exc, exc.required)
    except InvalidToken as exc:
        return challenge(exc)
