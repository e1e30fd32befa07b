"""One client-metadata policy for DCR (RFC 7591), RFC 7592 updates and Client ID Metadata Documents.

The policy **narrows** instead of refusing (RFC 7591 §2, §3.2.1): grant types and response types the
server does not support are dropped and the effective values are what the client is stored with and
told about; a client is refused (``invalid_client_metadata``) only when nothing usable is left, when a
field has the wrong type, or when what is left is inconsistent. A CIMD document gets the same rules,
because its author cannot be asked to change it: Claude's document lists
``urn:ietf:params:oauth:grant-type:jwt-bearer`` (CLAUDE-04), VS Code's the device grant.

Token endpoint auth method (CIMD draft §4.1, draft SEP-3149): a document may list
``token_endpoint_auth_methods_supported`` besides ``token_endpoint_auth_method``; the strongest method
both sides support wins, and shared-secret methods never count for CIMD (AUTH-29). ``private_key_jwt``
needs exactly one of ``jwks_uri`` / ``jwks`` (RFC 7591 §2).

Everything here is plain data in, plain data out (no Django, no database): the views and the CIMD
fetcher feed it :class:`ServerCapabilities` built from settings and turn :class:`InvalidClientMetadata`
into the wire error in one place each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
NONE = "none"
CLIENT_SECRET_BASIC = "client_secret_basic"
CLIENT_SECRET_POST = "client_secret_post"
PRIVATE_KEY_JWT = "private_key_jwt"
SHARED_SECRET_METHODS = frozenset({CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, "client_secret_jwt"})
#: Strongest first: what negotiation prefers when the client offers several methods.
METHOD_STRENGTH = (PRIVATE_KEY_JWT, CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, NONE)
#: Signing algorithms accepted in client assertions (RFC 7523); never ``none`` or an HMAC.
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

MAX_STRING_FIELD = 2000
MAX_REDIRECT_URIS = 20
MAX_JWKS_KEYS = 10

STRING_FIELDS = (
    "client_name", "client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri", "software_id",
    "software_version", "scope", "token_endpoint_auth_method", "token_endpoint_auth_signing_alg",
    "application_type", "client_id", "software_statement",
)
STRING_LIST_FIELDS = ("redirect_uris", "grant_types", "response_types", "contacts", "token_endpoint_auth_methods_supported")
OBJECT_FIELDS = ("jwks",)

Source = Literal["dcr", "cimd"]


class InvalidClientMetadata(Exception):
    """Metadata the policy refuses; ``error`` is the RFC 7591 §3.2.2 code, ``description`` names the field."""

    def __init__(self, description: str, error: str = "invalid_client_metadata") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    """What this server supports, as the policy needs to know it (built from settings by the caller)."""

    grant_types: frozenset[str]
    auth_methods: tuple[str, ...]
    validate_redirect_uri: Callable[[str], None] = field(default=lambda uri: None)
    """Raises ``ValueError`` (message shown to the client) for a redirect URI the server refuses."""


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """The effective registration: what the client is stored with and what it is told."""

    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    token_endpoint_auth_method: str
    client_name: str = ""
    scope: str | None = None
    jwks_uri: str = ""
    jwks: dict[str, Any] | None = None
    token_endpoint_auth_signing_alg: str = ""
    dropped_grant_types: tuple[str, ...] = ()

    @property
    def primary_grant(self) -> str:
        """The one non-refresh grant (DOT stores one grant type per client)."""
        return next(grant for grant in self.grant_types if grant != REFRESH_TOKEN)

    def for_dot(self, **extra: Any) -> dict[str, Any]:
        """The metadata in the shape DOT's own DCR/CIMD code accepts.

        DOT knows one grant per client and only ``none`` / secret methods; ``private_key_jwt`` is
        handed over as ``none`` and applied afterwards by :mod:`oauth_app.views.registration` or
        :mod:`oauth_app.cimd`.
        """
        method = NONE if self.token_endpoint_auth_method == PRIVATE_KEY_JWT else self.token_endpoint_auth_method
        grants = [self.primary_grant] + ([REFRESH_TOKEN] if REFRESH_TOKEN in self.grant_types else [])
        return {
            **extra,
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "grant_types": grants,
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": method,
        }


def parse(body: bytes, max_bytes: int) -> dict[str, Any]:
    """Decode a registration body; every way it can be malformed is ``invalid_client_metadata``."""
    if len(body) > max_bytes:
        raise InvalidClientMetadata(f"Client metadata is larger than {max_bytes} bytes.")
    try:
        data = json.loads(body)
    except RecursionError:
        # json's C scanner recurses per nesting level: 10,000 nested arrays exhaust the stack.
        raise InvalidClientMetadata("Client metadata is nested too deeply.") from None
    except ValueError:
        raise InvalidClientMetadata("Request body must be valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidClientMetadata("Request body must be a JSON object.")
    return data


def check_types(data: Mapping[str, Any]) -> None:
    """RFC 7591 §2 types: each known field has its type or is absent (``null`` is a wrong type)."""
    for name in STRING_FIELDS:
        if name in data:
            value = data[name]
            if not isinstance(value, str):
                raise InvalidClientMetadata(f"{name} must be a string.")
            if len(value) > MAX_STRING_FIELD:
                raise InvalidClientMetadata(f"{name} is longer than {MAX_STRING_FIELD} characters.")
    for name in STRING_LIST_FIELDS:
        if name in data:
            value = data[name]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise InvalidClientMetadata(f"{name} must be an array of strings.")
            if any(len(item) > MAX_STRING_FIELD for item in value):
                raise InvalidClientMetadata(f"{name} has an entry longer than {MAX_STRING_FIELD} characters.")
    for name in OBJECT_FIELDS:
        if name in data and not isinstance(data[name], dict):
            raise InvalidClientMetadata(f"{name} must be a JSON object.")
    for name, value in data.items():
        if isinstance(value, str) and len(value) > MAX_STRING_FIELD:
            raise InvalidClientMetadata(f"{name} is longer than {MAX_STRING_FIELD} characters.")


def _narrow_grants(data: Mapping[str, Any], supported: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    requested = list(dict.fromkeys(data.get("grant_types", [AUTHORIZATION_CODE])))  # RFC 7591 §2 default
    kept = [grant for grant in requested if grant in supported]
    dropped = tuple(grant for grant in requested if grant not in supported)
    primary = [grant for grant in kept if grant != REFRESH_TOKEN]
    if not primary:
        offered = " ".join(requested) or "(none)"
        raise InvalidClientMetadata(
            f"grant_types: none of {offered} is usable here; this server supports "
            f"{' '.join(sorted(supported - {REFRESH_TOKEN}))} (with refresh_token)."
        )
    requested_responses = data.get("response_types")
    if len(primary) > 1:
        # One grant per client (DOT): the redirect-based one when the client asks for "code".
        wants_code = requested_responses is None or "code" in requested_responses
        choice = AUTHORIZATION_CODE if wants_code and AUTHORIZATION_CODE in primary else primary[0]
        dropped += tuple(grant for grant in primary if grant != choice)
        primary = [choice]
    grant = primary[0]
    if grant == AUTHORIZATION_CODE:
        # DOT issues refresh tokens with every authorization-code exchange; say so.
        grants = (AUTHORIZATION_CODE, REFRESH_TOKEN)
        responses = ("code",)
        if requested_responses is not None and "code" not in requested_responses:
            raise InvalidClientMetadata("response_types must include code for the authorization_code grant.")
    else:
        if REFRESH_TOKEN in kept:
            dropped += (REFRESH_TOKEN,)  # no refresh tokens without a user (RFC 6749 §4.4.3)
        grants = (grant,)
        responses = ()
        if requested_responses:
            raise InvalidClientMetadata(f"response_types must be empty for the {grant} grant.")
    return grants, responses, dropped


def _check_https_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.fragment:
        raise InvalidClientMetadata(f"{name} must be an https URL without credentials or fragment.")


def check_jwks(jwks: Mapping[str, Any]) -> None:
    """An inline JWK Set (RFC 7517 §5) of public signature keys of a supported type."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys or len(keys) > MAX_JWKS_KEYS:
        raise InvalidClientMetadata(f"jwks must hold a keys array of 1 to {MAX_JWKS_KEYS} public keys.")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in {"RSA", "EC", "OKP"}:
            raise InvalidClientMetadata("jwks keys must be RSA, EC or OKP public keys.")
        if PRIVATE_JWK_MEMBERS & key.keys():
            raise InvalidClientMetadata("jwks must not contain private key material.")
        if key.get("use", "sig") != "sig":
            raise InvalidClientMetadata("jwks keys must be signature keys (use sig).")
        for value in key.values():
            # JWK members are strings (x5c, key_ops: arrays of strings); nothing nested is stored.
            if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise InvalidClientMetadata("jwks key members must be strings or arrays of strings.")


def _key_source(data: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    jwks_uri, jwks = data.get("jwks_uri", ""), data.get("jwks")
    if jwks_uri and jwks is not None:
        raise InvalidClientMetadata("jwks_uri and jwks must not both be present (RFC 7591 §2).")
    if jwks_uri:
        _check_https_url("jwks_uri", jwks_uri)
    if jwks is not None:
        check_jwks(jwks)
    return jwks_uri, jwks


def _negotiate_method(data: Mapping[str, Any], source: Source, server: ServerCapabilities) -> str:
    singular = data.get("token_endpoint_auth_method")
    plural = data.get("token_endpoint_auth_methods_supported")
    alg = data.get("token_endpoint_auth_signing_alg", "")
    has_keys = bool(data.get("jwks_uri") or data.get("jwks") is not None)

    def usable(method: str) -> bool:
        if method not in server.auth_methods:
            return False
        if source == "cimd" and method in SHARED_SECRET_METHODS:
            return False  # AUTH-29: a public document cannot hold a shared secret
        if method == PRIVATE_KEY_JWT:
            return has_keys and (not alg or alg in SIGNING_ALGORITHMS)
        return True

    if source == "dcr" and plural is None:
        method = singular or CLIENT_SECRET_BASIC  # RFC 7591 §2 default
        if method == PRIVATE_KEY_JWT and not has_keys:
            raise InvalidClientMetadata("private_key_jwt needs jwks_uri or jwks.")
        if method == PRIVATE_KEY_JWT and alg and alg not in SIGNING_ALGORITHMS:
            raise InvalidClientMetadata(
                f"token_endpoint_auth_signing_alg {alg} is not supported; use one of {', '.join(SIGNING_ALGORITHMS)}."
            )
        if method not in server.auth_methods:
            raise InvalidClientMetadata(
                f"token_endpoint_auth_method {method} is not supported; use one of {', '.join(server.auth_methods)}."
            )
        return method
    offered = list(plural or []) + ([singular] if singular else [])
    if not offered:
        offered = [NONE]  # CIMD draft §4.1: a document without a method is a public client
    for method in METHOD_STRENGTH:
        if method in offered and usable(method):
            return method
    if source == "cimd" and all(method in SHARED_SECRET_METHODS for method in offered):
        raise InvalidClientMetadata("A client ID metadata document cannot use a shared-secret auth method.")
    raise InvalidClientMetadata(
        f"token_endpoint_auth_method: none of {', '.join(offered)} is usable here "
        f"(supported: {', '.join(m for m in server.auth_methods if source == 'dcr' or m not in SHARED_SECRET_METHODS)})."
    )


def narrow(data: Mapping[str, Any], *, source: Source, server: ServerCapabilities) -> ClientMetadata:
    """Apply the policy to registration metadata or a CIMD document; raise :class:`InvalidClientMetadata`."""
    check_types(data)
    redirect_uris = data.get("redirect_uris", [])
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidClientMetadata(f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered.", "invalid_redirect_uri")
    for uri in redirect_uris:
        try:
            server.validate_redirect_uri(uri)
        except ValueError as exc:
            raise InvalidClientMetadata(f"{uri}: {exc}", "invalid_redirect_uri") from None
    if source == "cimd" and ("client_secret" in data or "client_secret_expires_at" in data):
        raise InvalidClientMetadata("A client ID metadata document must not contain client_secret.")
    supported = server.grant_types if source == "dcr" else server.grant_types & {AUTHORIZATION_CODE, REFRESH_TOKEN}
    grants, responses, dropped = _narrow_grants(data, supported)
    if AUTHORIZATION_CODE in grants and not redirect_uris:
        raise InvalidClientMetadata("redirect_uris is required for the authorization_code grant.")
    method = _negotiate_method(data, source, server)
    jwks_uri, jwks = _key_source(data) if method == PRIVATE_KEY_JWT else ("", None)
    return ClientMetadata(
        redirect_uris=tuple(redirect_uris),
        grant_types=grants,
        response_types=responses,
        token_endpoint_auth_method=method,
        client_name=data.get("client_name", ""),
        scope=data.get("scope"),
        jwks_uri=jwks_uri,
        jwks=jwks,
        token_endpoint_auth_signing_alg=data.get("token_endpoint_auth_signing_alg", "") if method == PRIVATE_KEY_JWT else "",
        dropped_grant_types=dropped,
    )
