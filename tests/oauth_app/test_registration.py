"""Dynamic client registration (RFC 7591) and management (RFC 7592) as real MCP clients use it."""

from __future__ import annotations

import json
import re
from http import HTTPStatus

import pytest

from oauth_app.models import Client
from tests.conftest import CLAUDE_CALLBACK, ISSUER, LOOPBACK_CALLBACK

pytestmark = pytest.mark.django_db


def register(client, metadata, **extra):
    return client.post("/register", json.dumps(metadata), content_type="application/json", **extra)


@pytest.mark.parametrize("callback", [CLAUDE_CALLBACK, "https://claude.com/api/mcp/auth_callback"])
def test_claude_registers_with_client_secret_post(client, callback):
    """CLAUDE-02, CLAUDE-05: Claude's registration (client_secret_post) gets a secret and its own method back."""
    response = register(client, {
        "client_name": "Claude", "redirect_uris": [callback],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post", "scope": "admin user mcp",
    })
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert re.fullmatch(r"client_[A-Za-z0-9_-]{22}", body["client_id"])
    assert body["client_secret"]
    assert body["client_secret_expires_at"] == 0 and isinstance(body["client_secret_expires_at"], int)
    assert isinstance(body["client_id_issued_at"], int)
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert body["redirect_uris"] == [callback]
    assert body["scope"] == "admin mcp user"
    assert body["registration_client_uri"] == f"{ISSUER}/register/{body['client_id']}"
    assert body["registration_access_token"]
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.registration_source == Client.RegistrationSource.DCR
    assert stored.client_secret != body["client_secret"]
    assert stored.client_secret.startswith("client_secret_sha256$")


@pytest.mark.parametrize("redirect", [LOOPBACK_CALLBACK, "http://localhost:6274/oauth/callback", "http://[::1]:9000/cb"])
def test_public_loopback_client_registration(client, redirect):
    """CLAUDE-02, SEC-11: Claude Code and the MCP Inspector register public loopback clients."""
    response = register(client, {"client_name": "Claude Code", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"})
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body


@pytest.mark.parametrize("redirect", [
    "javascript:alert(1)", "http://evil.example/callback", "data:text/html,hi", "https://app.example.com/cb#frag",
    "https://user:pw@app.example.com/cb", "/relative/callback",
])
def test_bad_redirect_uris_are_refused(client, redirect):
    """SEC-11, AUTH-40: dangerous or non-loopback http redirect URIs get invalid_redirect_uri."""
    response = register(client, {"redirect_uris": [redirect], "token_endpoint_auth_method": "none"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_redirect_uri"
    assert not Client.objects.exists()


@pytest.mark.parametrize("metadata, error", [
    ({"token_endpoint_auth_method": "none"}, "invalid_client_metadata"),
    ({"redirect_uris": "https://a.example/cb"}, "invalid_client_metadata"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "client_name": "x" * 5000}, "invalid_client_metadata"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "logo_uri": "https://a.example/" + "x" * 3000}, "invalid_client_metadata"),
    ({"redirect_uris": [f"https://a.example/cb{i}" for i in range(50)]}, "invalid_redirect_uri"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "grant_types": ["implicit"]}, "invalid_client_metadata"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "grant_types": ["password"]}, "invalid_client_metadata"),
    ({"redirect_uris": [CLAUDE_CALLBACK], "scope": "admin superpowers"}, "invalid_client_metadata"),
])
def test_bad_metadata_is_refused_with_rfc7591_error(client, metadata, error):
    """RFC 7591 §3.2.2: bad metadata gets 400 with the right error code, and nothing is stored."""
    response = register(client, metadata)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["error"] == error
    assert not Client.objects.exists()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"x" * (70 * 1024)])
def test_unparseable_or_oversized_body(client, body):
    """Bad input never gives a 500: garbage and oversized bodies get invalid_client_metadata."""
    response = client.post("/register", body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_client_metadata"


def test_registration_rate_limit(client, settings):
    """Registration is rate-limited per address: 429 with Retry-After once the budget is spent."""
    settings.REGISTER_RATE_LIMIT = "3/m"
    metadata = {"redirect_uris": [LOOPBACK_CALLBACK], "token_endpoint_auth_method": "none"}
    statuses = [register(client, metadata).status_code for _ in range(3)]
    assert statuses == [HTTPStatus.CREATED] * 3
    limited = register(client, metadata)
    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(limited["Retry-After"]) >= 1
    other_address = register(client, metadata, REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == HTTPStatus.CREATED


def test_rate_limit_zero_turns_it_off(client, settings):
    """REGISTER_RATE_LIMIT=0 disables the limit."""
    settings.REGISTER_RATE_LIMIT = "0"
    metadata = {"redirect_uris": [LOOPBACK_CALLBACK], "token_endpoint_auth_method": "none"}
    assert {register(client, metadata).status_code for _ in range(40)} == {HTTPStatus.CREATED}


def test_forwarded_for_is_not_trusted_by_default(client, settings):
    """The limit cannot be dodged by inventing X-Forwarded-For addresses (TRUSTED_PROXIES=0)."""
    settings.REGISTER_RATE_LIMIT = "1/m"
    metadata = {"redirect_uris": [LOOPBACK_CALLBACK], "token_endpoint_auth_method": "none"}
    assert register(client, metadata, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == HTTPStatus.CREATED
    assert register(client, metadata, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == HTTPStatus.TOO_MANY_REQUESTS


class TestManagement:
    """RFC 7592: read, update and delete with the registration access token."""

    @pytest.fixture
    def registered(self, client):
        return register(client, {"client_name": "Inspector", "redirect_uris": [LOOPBACK_CALLBACK],
                                 "token_endpoint_auth_method": "client_secret_post"}).json()

    def auth(self, registered):
        return {"HTTP_AUTHORIZATION": f"Bearer {registered['registration_access_token']}"}

    def path(self, registered):
        return "/register/" + registered["client_id"]

    def test_read(self, client, registered):
        response = client.get(self.path(registered), **self.auth(registered))
        assert response.status_code == HTTPStatus.OK
        body = response.json()
        assert body["client_id"] == registered["client_id"]
        assert body["token_endpoint_auth_method"] == "client_secret_post"
        assert "client_secret" not in body

    def test_update(self, client, registered):
        new = {"client_id": registered["client_id"], "client_name": "Renamed", "token_endpoint_auth_method": "client_secret_post",
               "redirect_uris": ["http://127.0.0.1:9999/callback"]}
        response = client.put(self.path(registered), json.dumps(new), content_type="application/json", **self.auth(registered))
        assert response.status_code == HTTPStatus.OK
        assert response.json()["client_name"] == "Renamed"
        assert Client.objects.get(client_id=registered["client_id"]).redirect_uris == "http://127.0.0.1:9999/callback"

    def test_update_with_bad_redirect_keeps_the_stored_client(self, client, registered):
        new = {"client_name": "Evil", "redirect_uris": ["http://evil.example/cb"]}
        response = client.put(self.path(registered), json.dumps(new), content_type="application/json", **self.auth(registered))
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["error"] == "invalid_redirect_uri"
        assert Client.objects.get(client_id=registered["client_id"]).name == "Inspector"

    def test_wrong_token(self, client, registered):
        response = client.get(self.path(registered), HTTP_AUTHORIZATION="Bearer nope")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_token"

    def test_delete_then_token_request_gets_invalid_client(self, client, registered):
        """CLAUDE-06: after deletion the token endpoint answers 401 invalid_client, so clients re-register."""
        assert client.delete(self.path(registered), **self.auth(registered)).status_code == HTTPStatus.NO_CONTENT
        response = client.post("/token", {"grant_type": "authorization_code", "code": "whatever",
                                          "redirect_uri": LOOPBACK_CALLBACK, "client_id": registered["client_id"],
                                          "client_secret": registered["client_secret"], "code_verifier": "v" * 43})
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_client"
