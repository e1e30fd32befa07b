"""A client's own signing keys and RFC 7523 client assertions, made with pyjwt at run time.

Nothing is committed: keys are generated per test session. :func:`forged_hs256` builds the one token
pyjwt refuses to make (an HMAC keyed with the public key's PEM bytes, the classic algorithm-confusion
attack), byte by byte, so the server can be shown refusing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKey:
    private_key: Any
    kid: str
    algorithm: str

    @classmethod
    def generate(cls, algorithm: str = "RS256", kid: str | None = None) -> "ClientKey":
        if algorithm in {"RS256", "PS256"}:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(algorithm)
        return cls(key, kid or secrets.token_hex(8), algorithm)

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def assertion(self, client_id: str, audience: str, *, lifetime: int = 60, kid: str | None = None,
                  algorithm: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime,
                   "jti": secrets.token_urlsafe(16), **claims}
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, self.private_key, algorithm=algorithm or self.algorithm,
                          headers={"kid": kid or self.kid})


def jwks(*keys: ClientKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_hs256(key: ClientKey, client_id: str, audience: str) -> str:
    """HS256 signed with the public key's PEM as the HMAC secret (what a verifier that lets the token
    pick its algorithm would accept)."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = _b64(json.dumps({"iss": client_id, "sub": client_id, "aud": audience, "exp": now + 60,
                            "jti": secrets.token_urlsafe(16)}).encode())
    signature = hmac.new(key.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def unsigned(client_id: str, audience: str, kid: str) -> str:
    """``alg: none``: no signature at all."""
    now = int(time.time())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": audience, "exp": now + 60,
                       "jti": secrets.token_urlsafe(16)}, None, algorithm="none", headers={"kid": kid})


def assertion_params(assertion: str, client_id: str | None = None) -> dict[str, str]:
    params = {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}
    if client_id is not None:
        params["client_id"] = client_id
    return params
