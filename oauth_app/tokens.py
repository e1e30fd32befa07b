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

Verified tokens are cached per process (:data:`verified`), keyed by the token's SHA-256 and the
resource, for at most ``min(exp, VERIFIED_TOKEN_CACHE_SECONDS)`` (1 s by default). Revocation
drops entries at once in the revoking process and broadcasts to every other process
(:mod:`oauth_app.revocation`), so a revoked token is refused everywhere within that bound, and in
practice at once. The async twin checks the signature on the event loop (no thread: it is CPU
work, about 0.1 ms) and runs only the revocation lookup through ``run``; concurrent misses for the
same token share one verification.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any

import jwt
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import AccessToken
from oauth2_provider.settings import oauth2_settings

from .exceptions import InsufficientScope, InvalidToken
from .keys import VerificationKey, get_signing_key, key_cache

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


class VerifiedCache:
    """Principals of recently verified tokens in this process, each valid for at most ``min(exp, bound)``.

    Keyed by ``(checksum, resource)``: the audience check depends on the resource. Plain dict
    operations (atomic under the GIL) serve the event loop and Django's threads alike; the lock
    only guards the occasional sweep.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self.enabled = True
        """Switched off while this process cannot hear other processes' revocations (see revocation.py)."""

    @staticmethod
    def bound() -> float:
        return float(getattr(settings, "VERIFIED_TOKEN_CACHE_SECONDS", 1.0))

    def get(self, checksum: str, resource: str) -> Principal | None:
        entry = self._entries.get((checksum, resource))
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop((checksum, resource), None)
            return None
        return entry[0]

    def put(self, checksum: str, resource: str, principal: Principal) -> None:
        bound = self.bound()
        if bound <= 0 or not self.enabled:
            return
        lifetime = min(bound, principal.expires_at.timestamp() - time.time())
        if lifetime <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._sweep()
        self._entries[(checksum, resource)] = (principal, time.monotonic() + lifetime)

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            for key, (_, deadline) in list(self._entries.items()):
                if deadline <= now:
                    self._entries.pop(key, None)
            if len(self._entries) >= self.MAX_ENTRIES:  # all fresh: a flood of distinct tokens
                self._entries.clear()

    def forget_tokens(self, checksums: set[str] | list[str]) -> None:
        wanted = set(checksums)
        for key in [key for key in list(self._entries) if key[0] in wanted]:
            self._entries.pop(key, None)

    def forget_clients(self, client_ids: set[str] | list[str]) -> None:
        wanted = set(client_ids)
        for key, (principal, _) in list(self._entries.items()):
            if principal.client_id in wanted:
                self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


verified = VerifiedCache()


def _header(raw: str) -> tuple[str, dict]:
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
    return kid, header


def _verify(raw: str, key: VerificationKey | None, resource: str) -> dict:
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


def _decode(raw: str, resource: str) -> dict:
    """Signature and claims (the key store may be read, on a stale or unknown ``kid``)."""
    kid, _ = _header(raw)
    return _verify(raw, key_cache.get(kid), resource)


def _principal(claims: dict) -> Principal:
    audience = claims["aud"]
    return Principal(
        issuer=claims["iss"],
        subject=str(claims["sub"]),
        client_id=str(claims["client_id"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=dt_timezone.utc),
        token_id=str(claims["jti"]),
        audience=tuple(audience) if isinstance(audience, list) else (audience,),
    )


def is_live(checksum: str) -> bool:
    """The revocation check: the token's row exists, is unexpired, and its client is active (one indexed query)."""
    return AccessToken.objects.filter(token_checksum=checksum, expires__gt=timezone.now(),
                                      application__is_active=True).exists()


def _check_input(raw: Any) -> None:
    if not isinstance(raw, str) or not raw or len(raw) > 16384:
        raise InvalidToken("The access token is malformed.")


def _scoped(principal: Principal, required_scopes: tuple[str, ...]) -> Principal:
    if required_scopes and not principal.has_scopes(required_scopes):
        raise InsufficientScope(required_scopes)
    return principal


def verify_access_token(raw: str, resource: str, required_scopes: tuple[str, ...] = ()) -> Principal:
    """Verify a bearer token presented to ``resource`` and return its :class:`Principal`.

    Raises :class:`InvalidToken` (RFC 6750 ``invalid_token``, 401) or :class:`InsufficientScope`
    (``insufficient_scope``, 403, naming every scope in ``required_scopes``).
    """
    _check_input(raw)
    checksum = token_checksum(raw)
    principal = verified.get(checksum, resource)
    if principal is None:
        principal = _principal(_decode(raw, resource))
        if not is_live(checksum):
            raise InvalidToken("The access token has been revoked.")
        verified.put(checksum, resource, principal)
    return _scoped(principal, required_scopes)


async def averify_access_token(raw: str, resource: str, required_scopes: tuple[str, ...] = (),
                               run: Callable[..., Awaitable[Any]] | None = None) -> Principal:
    """Async twin of :func:`verify_access_token` for ASGI consumers.

    ``run(function, *args)`` runs synchronous database work (default: channels'
    ``database_sync_to_async``); it is needed only on a cache miss, for the revocation lookup,
    and when the key store must be read.
    """
    _check_input(raw)
    checksum = token_checksum(raw)
    principal = verified.get(checksum, resource)
    if principal is not None:
        return _scoped(principal, required_scopes)
    if run is None:
        async def run(function, *args):
            return await database_sync_to_async(function)(*args)
    # When an entry expires, every request in flight with that token misses at once (64 clients of
    # one token: 64 revocation lookups queued on the database threads, every second). The first
    # one verifies; the others wait for its answer, good or bad.
    loop = asyncio.get_running_loop()
    key = (checksum, resource)
    while (leader := _verifying.get(key)) is not None and leader.get_loop() is loop:
        try:
            return _scoped(await asyncio.shield(leader), required_scopes)
        except asyncio.CancelledError:
            if not leader.cancelled():
                raise  # this request was cancelled
            # The leading request was cancelled (its client left): the first waiter to wake up
            # leads in its place, the others wait for it.
    answer = loop.create_future()
    answer.add_done_callback(_retrieve)
    _verifying[key] = answer
    try:
        principal = await _averify(raw, checksum, resource, run)
    except asyncio.CancelledError:
        answer.cancel()
        raise
    except BaseException as exc:
        answer.set_exception(exc)
        raise
    else:
        answer.set_result(principal)
    finally:
        if _verifying.get(key) is answer:
            del _verifying[key]
    return _scoped(principal, required_scopes)


_verifying: dict[tuple[str, str], asyncio.Future] = {}
"""Verifications in progress on a cache miss, by (checksum, resource): see :func:`averify_access_token`."""


def _retrieve(answer: asyncio.Future) -> None:
    # Nobody may be waiting for a failed verification: mark its exception as seen, or asyncio
    # would log it as never retrieved.
    if not answer.cancelled():
        answer.exception()


async def _averify(raw: str, checksum: str, resource: str, run: Callable[..., Awaitable[Any]]) -> Principal:
    from .revocation import ensure_listening

    await ensure_listening()
    kid, _ = _header(raw)
    key = key_cache.peek(kid)
    if key is key_cache.STALE:
        key = await run(key_cache.get, kid)
    principal = _principal(_verify(raw, key, resource))
    if not await run(is_live, checksum):
        raise InvalidToken("The access token has been revoked.")
    verified.put(checksum, resource, principal)
    return principal
