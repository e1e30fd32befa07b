"""Signing keys: encryption at rest, JWKS, and the rotation lifecycle end to end (DJ-10)."""

from __future__ import annotations

import hashlib
import io

from http import HTTPStatus

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from jwcrypto import jwk as jwcrypto_jwk

from oauth_app import keys
from oauth_app.exceptions import InvalidToken, SigningKeyError
from oauth_app.models import SigningKey
from oauth_app.tokens import verify_access_token
from tests.conftest import RESOURCE

pytestmark = pytest.mark.django_db


def test_private_key_is_encrypted_at_rest():
    key = keys.create_key("RS256")
    stored = bytes(SigningKey.objects.get(pk=key.pk).private_key)
    assert b"PRIVATE KEY" not in stored
    assert b"BEGIN" not in stored


def test_kid_is_the_rfc7638_thumbprint():
    key = keys.create_key("ES256")
    assert key.kid == jwcrypto_jwk.JWK(**{k: v for k, v in key.public_jwk.items() if k not in {"kid", "use", "alg"}}).thumbprint()


def test_signing_fails_closed_without_the_encryption_key(settings):
    settings.SIGNING_KEY_ENCRYPTION_KEYS = []
    keys._load_private_key.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="SIGNING_KEY_ENCRYPTION_KEY"):
        keys.get_signing_key()
    with pytest.raises(ImproperlyConfigured, match="SIGNING_KEY_ENCRYPTION_KEY"):
        keys.create_key()


def test_wrong_encryption_key_is_a_clear_error(settings):
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    keys._load_private_key.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        keys.get_signing_key()


def test_encryption_key_rotation_keeps_old_keys_readable(settings):
    """The first key encrypts, every listed key decrypts: the key-encryption key can be rotated."""
    old = settings.SIGNING_KEY_ENCRYPTION_KEYS[0]
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    keys._load_private_key.cache_clear()
    assert keys.get_signing_key()[0].state == SigningKey.State.ACTIVE


def test_no_active_key_is_a_clear_error(client, token_pair):
    SigningKey.objects.update(state=SigningKey.State.RETIRED)
    with pytest.raises(ImproperlyConfigured, match="createsigningkey"):
        keys.get_signing_key()


def test_exactly_one_active_key():
    first = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
    keys.rotate("ES256")
    keys.rotate("ES256")
    assert SigningKey.objects.filter(state=SigningKey.State.ACTIVE).count() == 1
    assert SigningKey.objects.get(pk=first.pk).state == SigningKey.State.RETIRING


def test_jwks_document(client):
    """JWKS lists next, active and retiring keys with the right members, and never private parts."""
    active = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
    nxt = keys.create_key("RS256")
    response = client.get("/jwks")
    assert response.status_code == HTTPStatus.OK
    max_age = int(response["Cache-Control"].split("max-age=")[1])
    assert 0 < max_age < 3600, "shorter than the rotation overlap (one access-token lifetime)"
    published = {k["kid"]: k for k in response.json()["keys"]}
    assert set(published) == {active.kid, nxt.kid}
    rsa = published[nxt.kid]
    assert (rsa["kty"], rsa["use"], rsa["alg"]) == ("RSA", "sig", "RS256") and rsa["n"] and rsa["e"]
    ec = published[active.kid]
    assert (ec["kty"], ec["crv"], ec["alg"]) == ("EC", "P-256", "ES256") and ec["x"] and ec["y"]
    for jwk in published.values():
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_jwks_is_in_both_discovery_documents(client):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert client.get(path).json()["jwks_uri"] == "http://testserver/jwks"


def test_rotation_end_to_end(client, token_pair, public_client):
    """Issue 3: a token signed before rotation verifies after it, JWKS shows both keys during the
    overlap, and once the old key is retired the old token is refused while new tokens verify."""
    old_key = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
    old_token = token_pair()["access_token"]

    new_key, previous = keys.rotate("RS256")
    assert previous.kid == old_key.kid
    assert verify_access_token(old_token, RESOURCE).client_id == public_client.client_id
    assert {k["kid"] for k in client.get("/jwks").json()["keys"]} == {old_key.kid, new_key.kid}
    new_token = token_pair()["access_token"]
    assert verify_access_token(new_token, RESOURCE)

    with pytest.raises(SigningKeyError, match="unexpired token"):
        keys.retire(old_key.kid)
    assert keys.retire(old_key.kid, force=True) == 1
    assert {k["kid"] for k in client.get("/jwks").json()["keys"]} == {new_key.kid}
    with pytest.raises(InvalidToken):
        verify_access_token(old_token, RESOURCE)
    assert verify_access_token(new_token, RESOURCE)


def test_retired_key_alone_refuses_its_tokens(token_pair):
    """Even if its row survived, a token whose key was retired no longer verifies."""
    from oauth2_provider.models import AccessToken

    old_token = token_pair()["access_token"]
    old_kid = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
    keys.rotate("ES256")
    SigningKey.objects.filter(kid=old_kid).update(state=SigningKey.State.RETIRED)
    keys.clear_cache()
    assert AccessToken.objects.exists()
    with pytest.raises(InvalidToken, match="unknown or retired key"):
        verify_access_token(old_token, RESOURCE)


def test_another_process_notices_a_retired_key(token_pair, monkeypatch):
    """Processes that did not retire the key drop it once their cache entry ages out."""
    old_token = token_pair()["access_token"]
    old_kid = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
    verify_access_token(old_token, RESOURCE)  # warm this process's cache
    keys.rotate("ES256")
    keys.key_cache._keys[old_kid] = keys.key_cache._keys.get(old_kid)  # as another process still has it
    SigningKey.objects.filter(kid=old_kid).update(state=SigningKey.State.RETIRED)
    monkeypatch.setattr(keys.key_cache, "_loaded_at", keys.key_cache._loaded_at - keys.key_cache.MAX_AGE_SECONDS - 1)
    with pytest.raises(InvalidToken, match="unknown or retired key"):
        verify_access_token(old_token, RESOURCE)


def test_prunesigningkeys_forgets_the_key_links_of_deleted_tokens(token_pair):
    """A deleted token leaves its key link behind (no constraint, so /token pays no query for it);
    prunesigningkeys removes exactly those links, and counting a key's tokens never sees them."""
    from django.core.management import call_command
    from oauth2_provider.models import AccessToken

    from oauth_app.models import TokenKey

    kept, gone = token_pair(), token_pair()
    kid = keys.get_signing_key()[0].kid
    assert keys.unexpired_token_count(kid) == 2
    AccessToken.objects.get(token_checksum=hashlib.sha256(gone["access_token"].encode()).hexdigest()).delete()
    assert TokenKey.objects.count() == 2 and keys.unexpired_token_count(kid) == 1
    call_command("prunesigningkeys", stdout=io.StringIO())
    assert list(TokenKey.objects.values_list("access_token__token_checksum", flat=True)) == [
        hashlib.sha256(kept["access_token"].encode()).hexdigest()]
