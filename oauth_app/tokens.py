"""JWT access tokens (RFC 9068): minting for DOT and the one verification API for resource servers.

Minting is DOT's ``ACCESS_TOKEN_GENERATOR`` hook: oauthlib calls :func:`generate_access_token`
with its request once the grant is validated (the audience has been resolved by
:meth:`OAuth2Validator.resolve_audience`). DOT still stores a row for every token (only its
SHA-256), which is what makes introspection, the admin and instant revocation work.

Verification (:func:`verify_access_token`) pins everything an attacker could choose: the key is
looked up by ``kid`` among our published keys, the algorithm is that key's own (so ``none`` and
HS256-with-the-public-key are impossible), ``typ`` must be ``at+jwt``, and ``iss``, ``aud``,
``exp``, ``nbf`` are checked by pyjwt. Last comes revocation: the token's row must still exist and
its client must be active (one indexed lookup).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

import jwt
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import AccessToken
from oauth2_provider.settings import oauth2_settings

from .exceptions import InsufficientScope, InvalidToken
from .keys import get_signing_key, key_cache

JWT_TYPE = "at+jwt"
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id"]
CLOCK_SKEW_SECONDS = 30


def _audience_claim(resources: list[str]) -> str | list[str]:
    return resources[0] if len(resources) == 1 else resources


def generate_access_token(request) -> str:
    """oauthlib token generator: a signed RFC 9068 JWT for ``request`` (DOT ``ACCESS_TOKEN_GENERATOR``)."""
    key, private_key = get_signing_key()
    now = int(time.time())
    client_id = request.client.client_id
    user = getattr(request, "user", None)
    subject = str(user.pk) if user is not None and getattr(user, "pk", None) is not None else client_id
    claims = {
        "iss": settings.ISSUER,
        "sub": subject,
        "aud": _audience_claim(list(request.resource)),
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(request.scopes or []),
    }
    # Recorded for the validator, which links the stored row to the key (see TokenKey).
    request.signing_kid = key.kid
    return jwt.encode(claims, private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": JWT_TYPE})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified access token speaks for."""

    issuer: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime
    token_id: str
    audience: tuple[str, ...]

    def has_scopes(self, required: tuple[str, ...] | list[str] | frozenset[str]) -> bool:
        return set(required) <= self.scopes


def token_checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _decode(raw: str, resource: str) -> dict:
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is malformed.") from exc
    # RFC 9068 §4: reject anything not typed as an access token (e.g. an ID token).
    if str(header.get("typ", "")).lower() not in {JWT_TYPE, "application/" + JWT_TYPE}:
        raise InvalidToken("The token is not a JWT access token.")
    kid = header.get("kid")
    if not isinstance(kid, str) or len(kid) > 64:
        raise InvalidToken("The access token names no known key.")
    key = key_cache.get(kid)
    if key is None:
        raise InvalidToken("The access token was signed by an unknown or retired key.")
    try:
        return jwt.decode(
            raw,
            key.key,
            algorithms=[key.algorithm],
            audience=resource,
            issuer=settings.ISSUER,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True, "strict_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidToken("The access token is not valid yet.") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("The access token was not issued for this resource.") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("The access token was not issued by this server.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is invalid.") from exc


def verify_access_token(raw: str, resource: str, required_scopes: tuple[str, ...] = ()) -> Principal:
    """Verify a bearer token presented to ``resource`` and return its :class:`Principal`.

    Raises :class:`InvalidToken` (RFC 6750 ``invalid_token``, 401) or :class:`InsufficientScope`
    (``insufficient_scope``, 403, naming every scope in ``required_scopes``).
    """
    if not isinstance(raw, str) or not raw or len(raw) > 16384:
        raise InvalidToken("The access token is malformed.")
    claims = _decode(raw, resource)
    live = (
        AccessToken.objects.filter(token_checksum=token_checksum(raw), expires__gt=timezone.now(),
                                   application__is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    if live is None:
        raise InvalidToken("The access token has been revoked.")
    audience = claims["aud"]
    principal = Principal(
        issuer=claims["iss"],
        subject=str(claims["sub"]),
        client_id=str(claims["client_id"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=dt_timezone.utc),
        token_id=str(claims["jti"]),
        audience=tuple(audience) if isinstance(audience, list) else (audience,),
    )
    if required_scopes and not principal.has_scopes(required_scopes):
        raise InsufficientScope(required_scopes)
    return principal


async def averify_access_token(raw: str, resource: str, required_scopes: tuple[str, ...] = ()) -> Principal:
    """Async twin of :func:`verify_access_token` for ASGI consumers."""
    return await database_sync_to_async(verify_access_token)(raw, resource, required_scopes)
