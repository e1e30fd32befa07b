"""The signing-key store: key generation, encryption at rest, rotation states and the key cache.

Lifecycle (RFC 9068 access tokens, DJ-10): a key is created ``next`` (published at ``/jwks`` so
caches learn it before it signs), becomes ``active`` (exactly one signs), then ``retiring`` (still
published, so tokens it signed keep verifying until they expire), then ``retired`` (gone from
``/jwks``; its tokens no longer verify), and is finally pruned. Every transition lives here; the
``manage.py`` commands and the admin actions only call these functions.

Private keys are stored as PKCS#8 PEM encrypted with Fernet under
``settings.SIGNING_KEY_ENCRYPTION_KEYS`` (the first key encrypts, all decrypt, so the
key-encryption key itself can be rotated). Without one, signing fails closed.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from jwcrypto import jwk as jwcrypto_jwk
from oauth2_provider.models import AccessToken
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .exceptions import SigningKeyError
from .models import SigningKey, TokenKey

PUBLISHED_STATES = (SigningKey.State.NEXT, SigningKey.State.ACTIVE, SigningKey.State.RETIRING)
_JWK_CODECS = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}


# --- Encryption at rest ---------------------------------------------------------------------


def _fernet() -> MultiFernet:
    keys = getattr(settings, "SIGNING_KEY_ENCRYPTION_KEYS", [])
    if not keys:
        raise ImproperlyConfigured(
            "SIGNING_KEY_ENCRYPTION_KEY is not set: signing keys cannot be stored or used. "
            "Set it to a Fernet key (see the README)."
        )
    return MultiFernet([Fernet(key) for key in keys])


def reencrypt_all() -> int:
    """Re-encrypt every stored private key under the first ``SIGNING_KEY_ENCRYPTION_KEY``.

    The middle step of rotating the key-encryption key (docs/deploy.md): put the new key first
    and keep the old one after it, run this, then drop the old key. ``MultiFernet.rotate``
    decrypts with whichever key works and encrypts with the first. All rows change in one
    transaction, so a key that no configured key decrypts changes nothing and raises
    :class:`SigningKeyError` naming its kid. Returns how many keys were re-encrypted.
    """
    fernet = _fernet()
    count = 0
    with transaction.atomic():
        for key in SigningKey.objects.select_for_update().order_by("pk"):
            try:
                key.private_key = fernet.rotate(bytes(key.private_key))
            except InvalidToken as exc:
                raise SigningKeyError(f"Signing key {key.kid} cannot be decrypted with any SIGNING_KEY_ENCRYPTION_KEY; "
                                      "add the key it was encrypted with (after the new one) and run this again.") from exc
            key.save(update_fields=["private_key"])
            count += 1
    _load_private_key.cache_clear()
    clear_cache()
    return count


# --- Creation --------------------------------------------------------------------------------


def _generate_private_key(algorithm: str):
    if algorithm == SigningKey.Algorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == SigningKey.Algorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == SigningKey.Algorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    raise SigningKeyError(f"Unsupported algorithm {algorithm!r}; choose one of {', '.join(SigningKey.Algorithm.values)}.")


def public_jwk_of(private_key, algorithm: str) -> dict[str, Any]:
    """The public JWK (RFC 7517) with ``kid`` = RFC 7638 thumbprint, ``use`` and ``alg``."""
    jwk = _JWK_CODECS[algorithm].to_jwk(private_key.public_key(), as_dict=True)
    jwk["kid"] = jwcrypto_jwk.JWK(**jwk).thumbprint()
    jwk.update(use="sig", alg=algorithm)
    return jwk


def create_key(algorithm: str = SigningKey.Algorithm.RS256) -> SigningKey:
    """Create a ``next`` key. At most one ``next`` key exists at a time."""
    private_key = _generate_private_key(algorithm)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    jwk = public_jwk_of(private_key, algorithm)
    with transaction.atomic():
        pending = SigningKey.objects.select_for_update().filter(state=SigningKey.State.NEXT).first()
        if pending is not None:
            raise SigningKeyError(f"Key {pending.kid} is already waiting as 'next'; rotate or retire it first.")
        key = SigningKey.objects.create(kid=jwk["kid"], algorithm=algorithm, state=SigningKey.State.NEXT,
                                        private_key=_fernet().encrypt(pem), public_jwk=jwk)
    clear_cache()
    return key


def rotate(algorithm: str = SigningKey.Algorithm.RS256) -> tuple[SigningKey, SigningKey | None]:
    """Promote the ``next`` key (creating one with ``algorithm`` if there is none) to ``active``.

    The previous active key becomes ``retiring``. Returns ``(new_active, previous_active)``.
    """
    with transaction.atomic():
        if not SigningKey.objects.filter(state=SigningKey.State.NEXT).exists():
            create_key(algorithm)
        return activate(SigningKey.objects.get(state=SigningKey.State.NEXT).kid)


def activate(kid: str) -> tuple[SigningKey, SigningKey | None]:
    """Make ``kid`` (a ``next`` key) the active one; the old active key starts retiring."""
    now = timezone.now()
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(kid=kid).first()
        if key is None:
            raise SigningKeyError(f"No signing key with kid {kid!r}.")
        if key.state != SigningKey.State.NEXT:
            raise SigningKeyError(f"Key {kid} is {key.state}; only a 'next' key can be activated.")
        previous = SigningKey.objects.select_for_update().filter(state=SigningKey.State.ACTIVE).first()
        if previous is not None:
            previous.state, previous.retiring_at = SigningKey.State.RETIRING, now
            previous.save(update_fields=["state", "retiring_at"])
        key.state, key.activated_at = SigningKey.State.ACTIVE, now
        key.save(update_fields=["state", "activated_at"])
    clear_cache()
    return key, previous


# --- Retirement ----------------------------------------------------------------------------------


def unexpired_token_count(kid: str) -> int:
    return TokenKey.objects.filter(kid=kid, access_token__expires__gt=timezone.now()).count()


def retire(kid: str, *, force: bool = False) -> int:
    """Retire ``kid``; refused while unexpired tokens depend on it unless ``force``, which revokes them.

    Returns how many tokens were revoked.
    """
    from activity.log import acting_as

    from .revocation import revoke_access_tokens

    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(kid=kid).first()
        if key is None:
            raise SigningKeyError(f"No signing key with kid {kid!r}.")
        if key.state == SigningKey.State.ACTIVE:
            raise SigningKeyError(f"Key {kid} is the active key; rotate first so another key signs.")
        if key.state == SigningKey.State.RETIRED:
            raise SigningKeyError(f"Key {kid} is already retired.")
        dependants = TokenKey.objects.filter(kid=kid, access_token__expires__gt=timezone.now())
        count = dependants.count()
        if count and not force:
            raise SigningKeyError(f"{count} unexpired token(s) were signed by {kid}; wait for them to expire, "
                            "or use --force to revoke them.")
        with acting_as("key-retirement"):  # the activity log says why these tokens went
            revoked = revoke_access_tokens(AccessToken.objects.filter(signing_key_link__kid=kid)) if count else 0
        key.state, key.retired_at = SigningKey.State.RETIRED, timezone.now()
        key.save(update_fields=["state", "retired_at"])
    clear_cache()
    return revoked


def prune() -> list[SigningKey]:
    """Delete retired keys, and retiring keys none of whose tokens are still unexpired."""
    removed = []
    with transaction.atomic():
        for key in SigningKey.objects.select_for_update().filter(state__in=[SigningKey.State.RETIRING, SigningKey.State.RETIRED]):
            if key.state == SigningKey.State.RETIRED or unexpired_token_count(key.kid) == 0:
                removed.append(key)
                key.delete()
    clear_cache()
    return removed


def prune_token_links() -> int:
    """Delete the key links of access tokens that no longer exist (left behind on purpose: see TokenKey)."""
    gone = ~Exists(AccessToken.objects.filter(pk=OuterRef("access_token_id")))
    deleted, _ = TokenKey.objects.filter(gone).delete()
    return deleted


# --- Use: the active private key and the published public keys -----------------------------------


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: Any


@functools.lru_cache(maxsize=16)
def _load_private_key(kid: str, encrypted: bytes):
    return serialization.load_pem_private_key(_fernet().decrypt(encrypted), password=None)


class _SigningKeyCache:
    """The active key and its decrypted private key, loaded once per rotation.

    Every state change calls :func:`clear_cache`, here and (over the channel layer) in every other
    process; the entry also expires after ``MAX_AGE_SECONDS`` in case that message is lost. Signing
    with a key that has just started retiring is harmless: it is still published and verifies.
    """

    MAX_AGE_SECONDS = 30.0

    def __init__(self) -> None:
        self.entry: tuple[float, SigningKey, Any] | None = None

    def get(self) -> tuple[SigningKey, Any]:
        entry = self.entry
        if entry is not None and time.monotonic() - entry[0] < self.MAX_AGE_SECONDS:
            return entry[1], entry[2]
        key = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).first()
        if key is None:
            raise ImproperlyConfigured("No active signing key: run 'manage.py createsigningkey --activate'.")
        try:
            private_key = _load_private_key(key.kid, bytes(key.private_key))
        except InvalidToken as exc:
            raise ImproperlyConfigured(f"Signing key {key.kid} cannot be decrypted with SIGNING_KEY_ENCRYPTION_KEY.") from exc
        self.entry = (time.monotonic(), key, private_key)
        return key, private_key

    def clear(self) -> None:
        self.entry = None


signing_key_cache = _SigningKeyCache()


def get_signing_key() -> tuple[SigningKey, Any]:
    """The active key and its private key object. Raises :class:`ImproperlyConfigured` if none."""
    return signing_key_cache.get()


def published_jwks() -> list[dict[str, Any]]:
    """Public JWKs of the next, active and retiring keys, for ``/jwks``."""
    return [key.public_jwk for key in SigningKey.objects.filter(state__in=PUBLISHED_STATES).order_by("created")]


class _KeyCache:
    """Verification keys by ``kid``, refreshed when stale or when an unknown ``kid`` shows up.

    An unknown ``kid`` triggers at most one database read per ``MIN_REFRESH_SECONDS`` per process,
    so a flood of tokens with random ``kid`` values cannot hammer the database. Entries also
    expire after ``MAX_AGE_SECONDS`` so a key retired by another process stops verifying.
    """

    MIN_REFRESH_SECONDS = 1.0
    MAX_AGE_SECONDS = 30.0
    STALE: Any = object()
    """What :meth:`peek` returns when only :meth:`get` (which may read the database) can answer."""

    def __init__(self) -> None:
        self._keys: dict[str, VerificationKey] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._keys, self._loaded_at = {}, float("-inf")

    def expire(self) -> None:
        """Make the next lookup read the store again (another process changed a key's state)."""
        self._loaded_at = float("-inf")
        signing_key_cache.clear()

    def _refresh(self) -> None:
        keys = {}
        for row in SigningKey.objects.filter(state__in=PUBLISHED_STATES).only("kid", "algorithm", "public_jwk"):
            codec = _JWK_CODECS[row.algorithm]
            keys[row.kid] = VerificationKey(row.kid, row.algorithm, codec.from_jwk(row.public_jwk))
        self._keys, self._loaded_at = keys, time.monotonic()

    def peek(self, kid: str) -> VerificationKey | None | Any:
        """The key for ``kid`` without touching the database (safe on an event loop), or :attr:`STALE`."""
        age = time.monotonic() - self._loaded_at
        keys = self._keys
        if age > self.MAX_AGE_SECONDS or (kid not in keys and age > self.MIN_REFRESH_SECONDS):
            return self.STALE
        return keys.get(kid)

    def get(self, kid: str) -> VerificationKey | None:
        with self._lock:
            age = time.monotonic() - self._loaded_at
            if age > self.MAX_AGE_SECONDS or (kid not in self._keys and age > self.MIN_REFRESH_SECONDS):
                self._refresh()
            return self._keys.get(kid)


key_cache = _KeyCache()


def clear_cache() -> None:
    """Forget cached keys (after a state change), and the tokens verified with them, in every process."""
    from .revocation import KEYS, invalidate

    key_cache.clear()
    signing_key_cache.clear()
    invalidate(KEYS, ["*"])
