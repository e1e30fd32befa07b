"""Exceptions of the authorization server; wire data lives in class attributes (DOT's style).

:class:`TokenError` and its subclasses map one-to-one onto RFC 6750 §3.1 errors; resource
servers (``mcp_app``) turn them into a ``WWW-Authenticate`` challenge in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal


class SigningKeyError(Exception):
    """A signing-key operation the key's current state does not allow (message is for operators)."""


class TokenError(Exception):
    """A bearer token that must not be accepted."""

    error: Literal["invalid_token", "insufficient_scope"] = "invalid_token"
    status_code = 401
    description = "The access token is invalid."

    def __init__(self, description: str | None = None) -> None:
        if description is not None:
            self.description = description
        super().__init__(self.description)


class InvalidToken(TokenError):
    """RFC 6750 ``invalid_token`` (401): malformed, expired, revoked, wrong issuer or audience."""


class InsufficientScope(TokenError):
    """RFC 6750 ``insufficient_scope`` (403): valid token, but the operation needs more scopes."""

    error = "insufficient_scope"
    status_code = 403
    description = "The access token does not carry the scopes this operation needs."

    def __init__(self, required: Iterable[str], description: str | None = None) -> None:
        self.required = tuple(required)
        super().__init__(description)
