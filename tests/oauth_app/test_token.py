"""The token, revocation and introspection endpoints: code exchange, refresh rotation, replay."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from oauth_app.models import Client
from tests.conftest import LOOPBACK_CALLBACK, RESOURCE

pytestmark = pytest.mark.django_db


def exchange(http, client: Client, code: str, verifier: str, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
            "client_id": client.client_id, "code_verifier": verifier, **extra}
    return http.post("/token", data)


def refresh(http, client: Client, refresh_token: str, **extra):
    return http.post("/token", {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                "client_id": client.client_id, **extra})


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_code_exchange_returns_bearer_tokens(client, public_client, code_for):
    """The happy path: a code and its verifier buy an access and a refresh token."""
    code, pkce = code_for(public_client, resource=RESOURCE, scope="mcp user")
    response = exchange(client, public_client, code, pkce.verifier, resource=RESOURCE)
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"mcp", "user"}
    assert body["access_token"] and body["refresh_token"]
    assert response["Cache-Control"] == "no-store"
    stored = AccessToken.objects.get(token_checksum=checksum(body["access_token"]))
    assert stored.resource == [RESOURCE]


def test_wrong_code_verifier_is_invalid_grant(client, public_client, code_for):
    """AUTH-38: PKCE verification at /token."""
    code, _ = code_for(public_client)
    response = exchange(client, public_client, code, "w" * 43)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(client, public_client, code_for):
    code, _ = code_for(public_client)
    response = client.post("/token", {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": LOOPBACK_CALLBACK, "client_id": public_client.client_id})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_code_replay_is_refused_and_revokes_what_it_produced(client, public_client, code_for):
    """OAuth 2.1 §4.1.3: a second use of a code fails and revokes the tokens the first use issued."""
    code, pkce = code_for(public_client)
    first = exchange(client, public_client, code, pkce.verifier).json()
    replay = exchange(client, public_client, code, pkce.verifier)
    assert replay.status_code == HTTPStatus.BAD_REQUEST
    assert replay.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(token_checksum=checksum(first["access_token"])).exists()
    assert refresh(client, public_client, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_replayed_after_a_refresh_revokes_the_newest_pair(client, public_client, code_for):
    """OAuth 2.1 §4.1.3, RFC 9700 §4.14.2: the access token the code produced is gone (replaced by a
    refresh); the replay still fails cleanly and revokes the family, the refreshed pair included."""
    code, pkce = code_for(public_client)
    first = exchange(client, public_client, code, pkce.verifier).json()
    second = refresh(client, public_client, first["refresh_token"]).json()
    replay = exchange(client, public_client, code, pkce.verifier)
    assert replay.status_code == HTTPStatus.BAD_REQUEST
    assert replay.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(token_checksum=checksum(second["access_token"])).exists()
    assert refresh(client, public_client, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_expired_code_is_refused(client, public_client, code_for):
    from oauth2_provider.models import Grant

    code, pkce = code_for(public_client)
    Grant.objects.filter(code=code).update(expires=timezone.now() - timedelta(seconds=1))
    assert exchange(client, public_client, code, pkce.verifier).json()["error"] == "invalid_grant"


def test_refresh_rotates_and_keeps_resource(client, public_client, token_pair):
    """AUTH-42, DJ-05: each refresh returns a new refresh token; the audience carries over."""
    first = token_pair(resource=RESOURCE)
    second = refresh(client, public_client, first["refresh_token"])
    assert second.status_code == HTTPStatus.OK
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert AccessToken.objects.get(token_checksum=checksum(body["access_token"])).resource == [RESOURCE]


def test_refresh_reuse_after_grace_revokes_the_family(client, public_client, token_pair):
    """DJ-05, RFC 9700 §4.14: replaying a rotated refresh token kills the whole family."""
    first = token_pair()
    second = refresh(client, public_client, first["refresh_token"]).json()
    RefreshToken.objects.filter(token_checksum=checksum(first["refresh_token"])).update(
        revoked=timezone.now() - timedelta(minutes=5))
    reuse = refresh(client, public_client, first["refresh_token"])
    assert reuse.status_code == HTTPStatus.BAD_REQUEST
    assert reuse.json()["error"] == "invalid_grant"
    assert refresh(client, public_client, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(token_checksum=checksum(second["access_token"])).exists()


def test_tokens_are_hashed_at_rest(client, public_client, token_pair):
    """SEC: refresh (and access) token values are not stored, only their SHA-256."""
    body = token_pair()
    stored_refresh = RefreshToken.objects.get(token_checksum=checksum(body["refresh_token"]))
    assert stored_refresh.token == ""
    stored_access = AccessToken.objects.get(token_checksum=checksum(body["access_token"]))
    assert stored_access.token == ""


class TestConfidentialClients:
    @pytest.fixture
    def confidential(self, make_client):
        return make_client(public=False)

    def test_client_secret_post(self, client, confidential, code_for):
        app, secret = confidential
        code, pkce = code_for(app)
        response = exchange(client, app, code, pkce.verifier, client_secret=secret)
        assert response.status_code == HTTPStatus.OK

    def test_client_secret_basic(self, client, confidential, code_for):
        app, secret = confidential
        code, pkce = code_for(app)
        basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
        response = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                          "code_verifier": pkce.verifier}, HTTP_AUTHORIZATION=f"Basic {basic}")
        assert response.status_code == HTTPStatus.OK

    def test_wrong_secret_is_invalid_client(self, client, confidential, code_for):
        app, _ = confidential
        code, pkce = code_for(app)
        response = exchange(client, app, code, pkce.verifier, client_secret="wrong")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_client"

    def test_secret_is_hashed_with_the_fast_hasher(self, confidential):
        app, secret = confidential
        app.refresh_from_db()
        assert app.client_secret.startswith("client_secret_sha256$")
        assert secret not in app.client_secret

    def test_client_credentials(self, client, make_client):
        app, secret = make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
        response = client.post("/token", {"grant_type": "client_credentials", "client_id": app.client_id,
                                          "client_secret": secret, "scope": "mcp"})
        assert response.status_code == HTTPStatus.OK
        assert "refresh_token" not in response.json()


def test_password_grant_is_unsupported(client, make_client, alice):
    """RFC 9700 §2.4: no resource-owner password grant anywhere."""
    app, secret = make_client(public=False)
    response = client.post("/token", {"grant_type": "password", "username": "alice", "password": "wonderland-42",
                                      "client_id": app.client_id, "client_secret": secret})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unsupported_grant_type"


def test_unknown_client_is_401_invalid_client(client):
    """CLAUDE-06: a client the server no longer knows gets 401 invalid_client."""
    response = client.post("/token", {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "client_gone"})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


def test_deleted_client_gets_invalid_client(client, public_client, token_pair):
    """CLAUDE-06: delete the client, and its refresh gets 401 invalid_client."""
    tokens = token_pair()
    client_id = public_client.client_id
    public_client.delete()
    response = client.post("/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                      "client_id": client_id})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


def test_disabled_client_cannot_refresh(client, public_client, token_pair):
    """Disabled in the admin (a saved row): the next refresh is refused, although the client was cached."""
    tokens = token_pair()
    public_client.is_active = False
    public_client.save()
    response = refresh(client, public_client, tokens["refresh_token"])
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("data", [
    {}, {"grant_type": "authorization_code"}, {"grant_type": "nonsense", "client_id": "x"},
    {"grant_type": "authorization_code", "client_id": "\x00bad", "code": "c"},
])
def test_bad_token_requests_are_rfc6749_errors(client, data):
    """Bad input gets RFC 6749 error JSON with a 4xx, never a 500."""
    response = client.post("/token", data)
    assert 400 <= response.status_code < 500
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type", "invalid_client", "invalid_grant"}


class TestRevocation:
    def test_revoke_access_token(self, client, public_client, token_pair):
        """RFC 7009: revoking an access token removes it (and its refresh token)."""
        tokens = token_pair()
        response = client.post("/revoke", {"token": tokens["access_token"], "client_id": public_client.client_id})
        assert response.status_code == HTTPStatus.OK
        assert not AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()
        assert refresh(client, public_client, tokens["refresh_token"]).json()["error"] == "invalid_grant"

    def test_revoke_refresh_token(self, client, public_client, token_pair):
        tokens = token_pair()
        response = client.post("/revoke", {"token": tokens["refresh_token"], "token_type_hint": "refresh_token",
                                           "client_id": public_client.client_id})
        assert response.status_code == HTTPStatus.OK
        assert refresh(client, public_client, tokens["refresh_token"]).json()["error"] == "invalid_grant"

    def test_other_clients_cannot_revoke(self, client, make_client, token_pair):
        """RFC 7009 §2.1: only the client the token was issued to may revoke it."""
        tokens = token_pair()
        other, _ = make_client(name="Other")
        client.post("/revoke", {"token": tokens["access_token"], "client_id": other.client_id})
        assert AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()

    def test_unknown_token_is_200(self, client, public_client):
        """RFC 7009 §2.2: unknown tokens are not an error."""
        response = client.post("/revoke", {"token": "nope", "client_id": public_client.client_id})
        assert response.status_code == HTTPStatus.OK


class TestIntrospection:
    @pytest.fixture
    def resource_server(self, make_client):
        return make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="", name="RS")

    def test_caller_must_authenticate(self, client, token_pair):
        """RFC 7662 §2.1: introspection requires an authenticated caller."""
        tokens = token_pair()
        response = client.post("/introspect", {"token": tokens["access_token"]})
        assert response.status_code in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}
        assert b"active" not in response.content

    def test_active_and_revoked(self, client, public_client, token_pair, resource_server):
        app, secret = resource_server
        tokens = token_pair(scope="mcp")
        basic = "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
        active = client.post("/introspect", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic).json()
        assert active["active"] is True
        assert active["client_id"] == public_client.client_id
        assert active["scope"] == "mcp"
        client.post("/revoke", {"token": tokens["access_token"], "client_id": public_client.client_id})
        revoked = client.post("/introspect", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic).json()
        assert revoked == {"active": False}
