"""Dynamic client registration (RFC 7591) and management (RFC 7592) as real MCP clients use it."""

from __future__ import annotations

import json
import re
from pathlib import Path
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


# --- The clients' real registrations (CLAUDE-05, CLIENT-02, CLIENT-03, CLIENT-05) and the hardening -----------

CORPUS = Path(__file__).parents[1] / "client_corpus"


def corpus(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["claude_dcr_client_secret_post", "claude_dcr_none", "cursor_dcr", "vscode_dcr",
                                  "python_sdk_dcr", "rfc7591_defaults_dcr"])
def test_real_registration_bodies_are_accepted_with_the_effective_grants(client, name):
    """CLAUDE-05, CLIENT-02, CLIENT-03, CLIENT-05: the body exactly as the client sends it registers; the
    response and the stored client show the effective grant list (jwt-bearer dropped, RFC 7591 §3.2.1)."""
    entry = corpus(name)
    response = register(client, entry["document"])
    assert response.status_code == HTTPStatus.CREATED, response.content
    body = response.json()
    assert body["grant_types"] == entry["expect"]["grant_types"]
    assert body["token_endpoint_auth_method"] == entry["expect"]["token_endpoint_auth_method"]
    assert body["redirect_uris"] == entry["document"]["redirect_uris"]
    assert body["response_types"] == ["code"]
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.token_endpoint_auth_method == entry["expect"]["token_endpoint_auth_method"]
    assert stored.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE
    has_secret = entry["expect"]["token_endpoint_auth_method"] != "none"
    assert ("client_secret" in body) is has_secret


def test_cursor_keeps_all_three_redirect_uris(client):
    """CLIENT-02: the private-use cursor:// URI, the https one and the loopback one are all stored."""
    body = register(client, corpus("cursor_dcr")["document"]).json()
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.redirect_uris.split() == corpus("cursor_dcr")["document"]["redirect_uris"]
    assert stored.get_allowed_schemes() == ["cursor", "http", "https"]


@pytest.mark.parametrize("redirect", [
    "vbscript:msgbox(1)", "file:///etc/passwd", "blob:https://a.example/uuid", "https://*.example.com/cb",
    "com.example.app:callback", "about:blank",
])
def test_dangerous_redirect_schemes_are_refused(client, redirect):
    """CLIENT-02, SEC-11: javascript:, data:, file:, vbscript:, blob:, wildcards and opaque URIs are refused."""
    response = register(client, {"redirect_uris": [CLAUDE_CALLBACK, redirect], "token_endpoint_auth_method": "none"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_redirect_uri"
    assert not Client.objects.exists()


@pytest.mark.parametrize("redirect", ["com.example.app:/oauth2redirect", "vscode://vscode.github-authentication/did-authenticate"])
def test_private_use_schemes_are_accepted(client, redirect):
    """RFC 8252 §7.1: native apps' private-use schemes register."""
    response = register(client, {"redirect_uris": [redirect], "token_endpoint_auth_method": "none"})
    assert response.status_code == HTTPStatus.CREATED, response.content


def test_narrowed_scheme_setting_refuses_private_use_schemes(client, settings):
    """ALLOWED_REDIRECT_URI_SCHEMES narrows the policy: with only https, cursor:// is refused, loopback stays."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}
    refused = register(client, corpus("cursor_dcr")["document"])
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["error"] == "invalid_redirect_uri" and "cursor" in refused.json()["error_description"]
    assert register(client, {"redirect_uris": [LOOPBACK_CALLBACK], "token_endpoint_auth_method": "none"}).status_code == 201


def test_nothing_usable_in_the_grant_list_is_refused(client):
    response = register(client, {"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none",
                                 "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_client_metadata"
    assert "grant_types" in response.json()["error_description"]
    assert not Client.objects.exists()


@pytest.mark.parametrize("field, value", [
    ("client_name", None), ("client_name", ["Claude"]), ("redirect_uris", None), ("grant_types", "authorization_code"),
    ("response_types", None), ("token_endpoint_auth_method", None), ("scope", None), ("client_uri", None),
    ("logo_uri", {}), ("contacts", "a@b.example"), ("jwks", []), ("jwks_uri", None),
])
def test_type_wrong_metadata_is_400_naming_the_field(client, field, value):
    """Issue 8: "client_name": null is not an IntegrityError 500; every type-wrong field is 400
    invalid_client_metadata and the message names the field."""
    response = register(client, {"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none", field: value})
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["error"] == "invalid_client_metadata"
    assert response.json()["error_description"].startswith(field)
    assert not Client.objects.exists()


def test_json_nested_ten_thousand_deep_is_400(client):
    """Issue 8: deep nesting is invalid_client_metadata, not a RecursionError 500."""
    body = b'{"client_name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = client.post("/register", body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_client_metadata"


def test_private_key_jwt_registration_gets_no_secret(client):
    """CLIENT-01: a DCR client may register private_key_jwt with its jwks; it is told no secret."""
    from tests.support.client_keys import ClientKey, jwks

    keys = jwks(ClientKey.generate("ES256"))
    response = register(client, {"client_name": "Signed", "redirect_uris": [CLAUDE_CALLBACK],
                                 "token_endpoint_auth_method": "private_key_jwt", "jwks": keys})
    assert response.status_code == HTTPStatus.CREATED, response.content
    body = response.json()
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["jwks"] == keys
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.client_type == Client.CLIENT_CONFIDENTIAL and stored.jwks == keys


def test_rfc7592_update_goes_through_the_same_policy(client):
    """One policy for DCR and RFC 7592: an update with Claude's three grants is narrowed, not refused."""
    registered = register(client, corpus("claude_dcr_none")["document"]).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {registered['registration_access_token']}"}
    update = {**corpus("claude_dcr_client_secret_post")["document"], "client_name": "Claude (renamed)"}
    response = client.put(f"/register/{registered['client_id']}", json.dumps(update), content_type="application/json", **auth)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["grant_types"] == ["authorization_code", "refresh_token"]
    stored = Client.objects.get(client_id=registered["client_id"])
    assert stored.name == "Claude (renamed)" and stored.token_endpoint_auth_method == "client_secret_post"
