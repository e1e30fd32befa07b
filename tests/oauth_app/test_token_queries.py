"""Issue 9 §6: the SQL each ``/token`` grant costs, counted, so an unneeded query cannot creep back in.

Counts are of one warm request (client, scope and signing-key caches filled by an earlier one)
inside the test's transaction, so savepoints count and BEGIN/COMMIT do not. The client itself comes
from the per-process cache (``oauth_app/client_cache.py``). What remains per grant:

* client_credentials: the access-token row and its signing-key link (in a savepoint).
* authorization_code: the grant with its user, read once for validation, redirect URI,
  PKCE and scopes (and once more by DOT's RFC 8707 narrowing); the grant's deletion; the new access
  and refresh tokens, the key link and the consumed-code record (in a savepoint).
* refresh_token: the refresh token with its access token and user, read once under its row lock
  (issue 8: two concurrent refreshes cannot both rotate it) and checked here, where DOT would read
  all three again; in the token transaction, one UPDATE that is both the race check and the old
  token's revocation, the old access token's deletion (Django clears the refresh tokens' link to it,
  then deletes it; the key link and the consumed-code record keep no constraint, so they cost
  nothing here), and the new pair and key link. DOT's own rotation took seven queries for what the
  UPDATE and the deletion do in three (``OAuth2Validator._rotate``).

The activity event each grant records ("token issued/refreshed") is not among them: the log writes
through the database driver's own cursor (``activity/log.py``), which Django does not count; in
production the writer thread batches it outside the request anyway.
"""

from __future__ import annotations

import pytest

from oauth_app import keys, scopes
from oauth_app.models import Client
from tests.conftest import LOOPBACK_CALLBACK

pytestmark = pytest.mark.django_db

CLIENT_CREDENTIALS_QUERIES = 4
AUTHORIZATION_CODE_QUERIES = 9
REFRESH_TOKEN_QUERIES = 11


@pytest.fixture
def confidential(make_client):
    return make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")


def client_credentials(http, client: Client, secret: str):
    return http.post("/token", {"grant_type": "client_credentials", "client_id": client.client_id,
                                "client_secret": secret, "scope": "mcp"})


def test_client_credentials(client, confidential, django_assert_num_queries):
    target, secret = confidential
    assert client_credentials(client, target, secret).status_code == 200  # fills the scope and key caches
    with django_assert_num_queries(CLIENT_CREDENTIALS_QUERIES):
        assert client_credentials(client, target, secret).status_code == 200


def test_authorization_code(client, public_client, code_for, token_pair, django_assert_num_queries):
    token_pair()
    code, pkce = code_for(public_client)
    with django_assert_num_queries(AUTHORIZATION_CODE_QUERIES):
        response = client.post("/token", {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": LOOPBACK_CALLBACK, "client_id": public_client.client_id,
                                          "code_verifier": pkce.verifier})
    assert response.status_code == 200


def test_refresh_token(client, public_client, token_pair, django_assert_num_queries):
    pair = token_pair()
    with django_assert_num_queries(REFRESH_TOKEN_QUERIES):
        response = client.post("/token", {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"],
                                          "client_id": public_client.client_id})
    assert response.status_code == 200


def test_scope_lookups_are_cached_and_invalidated(client, confidential, django_assert_num_queries):
    """Scopes are read once, then served from memory until a Scope or the client's allowed scopes change."""
    from oauth_app.models import Scope

    target, secret = confidential
    client_credentials(client, target, secret)
    with django_assert_num_queries(0):
        assert scopes.all_scopes()["mcp"]
        assert scopes.allowed_scope_names(target) is None
    Scope.objects.create(name="reports", description="Read reports")
    assert "reports" in scopes.all_scopes()
    target.allowed_scopes.set([Scope.objects.get(name="reports")])
    assert scopes.allowed_scope_names(target) == {"reports"}
    response = client_credentials(client, target, secret)  # mcp is no longer allowed for this client
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_signing_key_is_loaded_once_per_rotation(client, confidential, django_assert_num_queries):
    """The private key is read and decrypted once; a rotation makes the next token use the new key."""
    import jwt

    target, secret = confidential
    first = client_credentials(client, target, secret).json()["access_token"]
    with django_assert_num_queries(0):
        keys.get_signing_key()
    new_active, _ = keys.rotate("ES256")
    second = client_credentials(client, target, secret).json()["access_token"]
    assert jwt.get_unverified_header(second)["kid"] == new_active.kid != jwt.get_unverified_header(first)["kid"]


def test_cached_client_follows_its_row(client, confidential):
    """A client change takes effect on the next /token: saving the row drops the cached copy (OAUTH-28)."""
    target, secret = confidential
    assert client_credentials(client, target, secret).status_code == 200  # cached now
    target.is_active = False
    target.save()
    response = client_credentials(client, target, secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_disabled_client_is_refused_at_once(client, confidential):
    """disable_client (an UPDATE, no signal) drops the cached client too, in this process and the others."""
    from oauth_app.revocation import disable_client

    target, secret = confidential
    assert client_credentials(client, target, secret).status_code == 200
    disable_client(target)
    assert client_credentials(client, target, secret).status_code == 401


def test_deleted_client_is_unknown_at_once(client, confidential):
    """A deleted client gets 401 invalid_client on the next /token, which makes Claude re-register (CLAUDE-06, OAUTH-11)."""
    target, secret = confidential
    assert client_credentials(client, target, secret).status_code == 200
    target.delete()
    response = client_credentials(client, target, secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
