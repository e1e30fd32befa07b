"""``private_key_jwt`` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2), with pyjwt.

A client registered (by DCR or its CIMD document) with ``token_endpoint_auth_method:
private_key_jwt`` authenticates at ``/token``, ``/revoke`` and ``/introspect`` by posting
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and a JWT
``client_assertion`` signed with one of the keys it published (``jwks_uri``) or registered (``jwks``).

Checks, each failing closed to ``invalid_client`` (the reason is logged, never sent):

* the request uses no other client authentication (no HTTP Basic, no ``client_secret``);
* the client opted in to ``private_key_jwt``; assertions from other clients are refused;
* ``alg`` is in :data:`~oauth_app.client_metadata.SIGNING_ALGORITHMS` and matches the key type
  (RSA: RS256/PS256, EC P-256: ES256, Ed25519: EdDSA) and the key's own ``alg``; ``none`` and HS*
  never verify, so an HMAC made with the public key bytes is refused;
* ``iss`` = ``sub`` = client_id, ``aud`` is the token endpoint or the issuer, ``exp`` is required and
  at most :data:`MAX_LIFETIME` seconds ahead;
* ``jti`` is single-use: remembered in the default cache (Redis when ``REDIS_URL`` is set, so every
  process shares it) with ``cache.add`` until the assertion expires.

Keys from a ``jwks_uri`` are fetched by the CIMD fetcher (:class:`oauth_app.cimd.SafeFetcher`: https,
public addresses unless ``CIMD_ALLOWED_PRIVATE_HOSTS`` names the host, size and time limits), cached for
the response's max-age clamped to [:data:`JWKS_MIN_AGE`, :data:`JWKS_MAX_AGE`], and re-fetched for an
unknown ``kid`` at most once every :data:`JWKS_REFRESH_INTERVAL` seconds per URL; a failed fetch is not
repeated for :data:`JWKS_FAILURE_BACKOFF` seconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

import jwt
from django.core.cache import cache

from .client_metadata import PRIVATE_JWK_MEMBERS, PRIVATE_KEY_JWT, SIGNING_ALGORITHMS
from .conf import client_assertion_audiences

log = logging.getLogger(__name__)

JWT_BEARER_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 300
"""Seconds an assertion may still be valid when it arrives (RFC 7523 §3 lets the server bound it)."""
LEEWAY = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""
JWKS_MIN_AGE, JWKS_DEFAULT_AGE, JWKS_MAX_AGE = 60, 300, 3600
JWKS_FAILURE_BACKOFF = 10
"""Seconds a JWKS URL that failed is not fetched again."""
JWKS_REFRESH_INTERVAL = 10
"""At most one forced re-fetch per JWKS URL in this many seconds (an unknown ``kid`` is attacker-chosen)."""
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)
_KEY_ALGORITHMS = {("RSA", None): {"RS256", "PS256"}, ("EC", "P-256"): {"ES256"}, ("OKP", "Ed25519"): {"EdDSA"}}


class AssertionRefused(Exception):
    """A client assertion that does not authenticate its client (message for the log only)."""


def presents_assertion(request) -> bool:
    """Whether an oauthlib request carries either RFC 7523 client assertion parameter (even empty)."""
    return any(name in ("client_assertion", "client_assertion_type") for name, _ in (request.decoded_body or []))


def authenticate(request, load_client: Callable[[str, Any], Any]) -> bool:
    """Authenticate the oauthlib ``request`` by its client assertion; sets ``request.client``.

    ``load_client`` is the validator's ``_load_application`` (it resolves CIMD clients too).
    """
    try:
        _authenticate(request, load_client)
    except AssertionRefused as exc:
        log.info("Client assertion refused: %s", exc)
        return False
    return True


def _body(request, name: str) -> str | None:
    values = [value for key, value in (request.decoded_body or []) if key == name]
    if len(values) > 1:
        raise AssertionRefused(f"{name} given more than once")
    return values[0] if values else None


def _authenticate(request, load_client) -> None:
    if _body(request, "client_assertion_type") != JWT_BEARER_CLIENT_ASSERTION:
        raise AssertionRefused("unsupported client_assertion_type")
    assertion = _body(request, "client_assertion")
    if not assertion:
        raise AssertionRefused("missing client_assertion")
    # RFC 6749 §2.3 / RFC 7521 §4.2: one authentication method per request.
    if request.headers.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower() == "basic":
        raise AssertionRefused("client_assertion together with HTTP Basic")
    if _body(request, "client_secret"):
        raise AssertionRefused("client_assertion together with client_secret")
    try:
        header = jwt.get_unverified_header(assertion)
        # Only to find the client whose keys verify it; nothing here is trusted until jwt.decode below.
        routing = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AssertionRefused(f"malformed assertion ({type(exc).__name__})") from None
    client_id = _body(request, "client_id") or routing.get("sub")
    if not isinstance(client_id, str) or not client_id:
        raise AssertionRefused("no client_id and no sub")
    algorithm = header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        raise AssertionRefused(f"alg {algorithm!r} is not accepted")
    client = load_client(client_id, request)
    if client is None:
        raise AssertionRefused(f"unknown client {client_id!r}")
    if client.token_endpoint_auth_method != PRIVATE_KEY_JWT:
        raise AssertionRefused(f"client {client_id!r} is not registered for private_key_jwt")
    if client.token_endpoint_auth_signing_alg and algorithm != client.token_endpoint_auth_signing_alg:
        raise AssertionRefused(f"alg {algorithm} differs from the registered {client.token_endpoint_auth_signing_alg}")
    claims = _verify(assertion, header, algorithm, client)
    if claims["sub"] != client_id:
        raise AssertionRefused("sub is not the client_id")
    now = time.time()
    if claims["exp"] > now + MAX_LIFETIME + LEEWAY:
        raise AssertionRefused("exp is too far in the future")
    if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now + LEEWAY:
        raise AssertionRefused("iat is in the future")
    _consume_jti(client_id, claims, now)
    request.client = client
    request.client_id = client_id


def _verify(assertion: str, header: dict[str, Any], algorithm: str, client) -> dict[str, Any]:
    last_error: Exception | None = None
    for jwk in _candidate_keys(client, header.get("kid"), algorithm):
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm).key
            return jwt.decode(
                assertion, key=key, algorithms=[algorithm], audience=sorted(client_assertion_audiences()),
                issuer=client.client_id, leeway=LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # a malformed registered key is a refusal too
            last_error = exc
    raise AssertionRefused(f"no registered key verifies the assertion ({type(last_error).__name__ if last_error else 'no key'})")


def _compatible(jwk: dict[str, Any], algorithm: str) -> bool:
    """The algorithm is pinned to the key: RSA keys verify RS256/PS256 only, and so on."""
    if PRIVATE_JWK_MEMBERS & jwk.keys() or jwk.get("use", "sig") != "sig":
        return False
    if jwk.get("alg") and jwk["alg"] != algorithm:
        return False
    kty = jwk.get("kty")
    allowed = _KEY_ALGORITHMS.get((kty, None if kty == "RSA" else jwk.get("crv")), set())
    return algorithm in allowed


def _candidate_keys(client, kid: str | None, algorithm: str) -> list[dict[str, Any]]:
    def select(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        chosen = [key for key in keys if isinstance(key, dict) and (kid is None or key.get("kid") == kid)]
        return [key for key in chosen if _compatible(key, algorithm)]

    if client.jwks:
        candidates = select(client.jwks.get("keys", []))
    elif not client.jwks_uri:
        raise AssertionRefused("the client has no keys")
    else:
        candidates = select(_jwks_from_uri(client.jwks_uri))
    if not candidates and kid is not None and not client.jwks:
        # A key rotated in since we cached the set; re-fetch, but not on every unknown kid.
        digest = hashlib.sha256(client.jwks_uri.encode()).hexdigest()
        if cache.add(f"oauth_app:jwks-refresh:{digest}", True, timeout=JWKS_REFRESH_INTERVAL):
            candidates = select(_jwks_from_uri(client.jwks_uri, force=True))
    if not candidates:
        raise AssertionRefused(f"no key with kid {kid!r} for alg {algorithm}")
    return candidates


def _max_age(cache_control: str | None) -> int:
    if not cache_control:
        return JWKS_DEFAULT_AGE
    lowered = cache_control.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return JWKS_MIN_AGE
    match = _MAX_AGE.search(cache_control)
    age = int(match.group(1)) if match else JWKS_DEFAULT_AGE
    return max(JWKS_MIN_AGE, min(age, JWKS_MAX_AGE))


def _jwks_from_uri(uri: str, *, force: bool = False) -> list[dict[str, Any]]:
    from .cimd import CIMDError, SafeFetcher

    digest = hashlib.sha256(uri.encode()).hexdigest()
    key, backoff = f"oauth_app:jwks:{digest}", f"oauth_app:jwks-failed:{digest}"
    if not force:
        cached = cache.get(key)
        if cached is not None:
            return cached
    if cache.get(backoff):
        raise AssertionRefused(f"JWKS {uri} failed recently; not fetched again yet")
    try:
        document, cache_control = SafeFetcher().fetch_json_with_headers(uri)
    except CIMDError as exc:
        # Errors are not cached as a key set (a transient failure must not lock the client out
        # for long), but a short backoff keeps a dead URL from being fetched on every request.
        cache.set(backoff, True, timeout=JWKS_FAILURE_BACKOFF)
        raise AssertionRefused(f"JWKS {uri} could not be fetched: {exc}") from None
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise AssertionRefused(f"JWKS {uri} has no keys array")
    public = [k for k in keys if isinstance(k, dict) and not PRIVATE_JWK_MEMBERS & k.keys()]
    cache.set(key, public, timeout=_max_age(cache_control))
    return public


def _consume_jti(client_id: str, claims: dict[str, Any], now: float) -> None:
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 512:
        raise AssertionRefused("jti is not a usable string")
    digest = hashlib.sha256(f"{client_id}\x00{jti}".encode()).hexdigest()
    ttl = math.ceil(claims["exp"] - now + LEEWAY) + 1
    if not cache.add(f"oauth_app:client-assertion-jti:{digest}", True, timeout=max(ttl, 1)):
        raise AssertionRefused("jti replayed")
