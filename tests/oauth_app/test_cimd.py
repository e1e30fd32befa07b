"""Client ID Metadata Documents (AUTH-26..AUTH-30, CLAUDE-04, CLIENT-01) with DOT's SSRF-hardened fetcher.

The document server is a real HTTPS server on loopback. The fetcher refuses non-public addresses by
design (SEC-19); the tests that exercise a successful fetch name its host in
``CIMD_ALLOWED_PRIVATE_HOSTS``, the deployment setting for intranet clients, and keep everything else
real: TLS verification (``SSL_CERT_FILE`` points at the server's own CA), the document checks,
caching. ``test_loopback_documents_are_refused`` proves the guard itself.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

import pytest

from oauth_app.models import Client
from tests.support.https_server import DocumentServer
from tests.support.oauth import Pkce, authorize_query, consent, query_of

pytestmark = pytest.mark.django_db
CALLBACK = "https://claude.ai/api/mcp/auth_callback"


@pytest.fixture
def documents(tmp_path, monkeypatch):
    server = DocumentServer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_path))
    yield server
    server.close()


@pytest.fixture
def allow_loopback_fetch(settings):
    settings.CIMD_ALLOWED_PRIVATE_HOSTS = ["localhost"]


def publish(documents: DocumentServer, path: str = "/oauth/client.json", **overrides) -> str:
    client_id = documents.url(path)
    documents.documents[path] = {
        "client_id": client_id, "client_name": "Claude", "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"], **overrides,
    }
    return client_id


def test_cimd_client_full_flow(browser, client, documents, allow_loopback_fetch):
    """AUTH-26, AUTH-27, AUTH-30: an https client_id is fetched, shown with its host, and works end to end."""
    client_id = publish(documents)
    pkce = Pkce.new()
    params = authorize_query(client_id, CALLBACK, pkce, scope="mcp")
    page = browser.get("/authorize?" + urlencode(params))
    assert page.status_code == HTTPStatus.OK
    assert page.context["client_host"] == "localhost"
    assert page.context["redirect_host"] == "claude.ai"
    stored = Client.objects.get(client_id=client_id)
    assert stored.registration_source == Client.RegistrationSource.CIMD
    assert stored.client_type == Client.CLIENT_PUBLIC
    response = consent(browser, params)
    code = query_of(response["Location"])["code"]
    token = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                                   "client_id": client_id, "code_verifier": pkce.verifier})
    assert token.status_code == HTTPStatus.OK
    assert documents.hits["/oauth/client.json"] == 1, "the document is cached per its Cache-Control"


def test_document_must_name_its_own_url(browser, documents, allow_loopback_fetch):
    """AUTH-27: a document whose client_id differs from its URL is refused; nothing is stored."""
    client_id = publish(documents, client_id="https://elsewhere.example/client.json")
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, CALLBACK, Pkce.new())))
    assert response.status_code in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    assert "Location" not in response
    assert not Client.objects.filter(client_id=client_id).exists()


def test_document_with_a_secret_is_refused(browser, documents, allow_loopback_fetch):
    """AUTH-29: CIMD clients are public; a document carrying client_secret is refused."""
    client_id = publish(documents, token_endpoint_auth_method="client_secret_post", client_secret="x")
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, CALLBACK, Pkce.new())))
    assert "Location" not in response
    assert not Client.objects.filter(client_id=client_id).exists()


def test_document_with_dangerous_redirect_is_refused(browser, documents, allow_loopback_fetch):
    """SEC-11: our redirect policy applies to CIMD documents too."""
    client_id = publish(documents, redirect_uris=["http://evil.example/cb"])
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, "http://evil.example/cb", Pkce.new())))
    assert "Location" not in response
    assert not Client.objects.filter(client_id=client_id).exists()


def test_redirect_uri_must_be_in_the_document(browser, documents, allow_loopback_fetch):
    client_id = publish(documents)
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, "https://attacker.example/cb", Pkce.new())))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Location" not in response


def test_loopback_documents_are_refused(browser, documents):
    """SEC-19: without lifting the guard, a client_id resolving to loopback is never fetched."""
    client_id = publish(documents)
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, CALLBACK, Pkce.new())))
    assert "Location" not in response
    assert documents.hits == {}


@pytest.mark.parametrize("client_id", ["http://localhost/client.json", "https://localhost", "https://u:p@localhost/c.json"])
def test_malformed_client_id_urls(browser, client_id, allow_loopback_fetch):
    """AUTH-28: https, a path, no userinfo."""
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, CALLBACK, Pkce.new())))
    assert response.status_code in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    assert "Location" not in response


CORPUS = Path(__file__).parents[1] / "client_corpus"


def publish_real(documents: DocumentServer, name: str, path: str, **rewrite) -> tuple[str, dict]:
    """Serve a corpus document at ``path``: only ``client_id`` (and what ``rewrite`` names) is local."""
    entry = json.loads((CORPUS / f"{name}.json").read_text())
    client_id = documents.url(path)
    documents.documents[path] = {**entry["document"], "client_id": client_id, **rewrite}
    return client_id, entry


def test_claude_document_with_jwt_bearer_grant_is_accepted(browser, client, documents, allow_loopback_fetch):
    """CLAUDE-04 (DOT#1855): Claude's real document, three grants, becomes a public client with the two we support."""
    client_id, entry = publish_real(documents, "claude_ai_cimd", "/oauth/mcp-oauth-client-metadata")
    pkce = Pkce.new()
    params = authorize_query(client_id, entry["redirect_uri"], pkce)
    code = query_of(consent(browser, params)["Location"])["code"]
    stored = Client.objects.get(client_id=client_id)
    assert stored.name == "Claude" and stored.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE
    assert stored.token_endpoint_auth_method == "none" and stored.client_type == Client.CLIENT_PUBLIC
    token = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": entry["redirect_uri"],
                                   "client_id": client_id, "code_verifier": pkce.verifier})
    assert token.status_code == HTTPStatus.OK, token.content


def test_chatgpt_document_negotiates_private_key_jwt(browser, client, documents, allow_loopback_fetch):
    """CLIENT-01: ChatGPT's document (plural auth methods, jwks_uri) becomes a private_key_jwt client,
    which then cannot use /token as a public client."""
    from tests.support.client_keys import ClientKey, assertion_params, jwks

    key = ClientKey.generate("RS256")
    documents.documents["/oauth/jwks.json"] = jwks(key)
    client_id, entry = publish_real(documents, "chatgpt_cimd", "/oauth/client.json", jwks_uri=documents.url("/oauth/jwks.json"))
    pkce = Pkce.new()
    code = query_of(consent(browser, authorize_query(client_id, entry["redirect_uri"], pkce))["Location"])["code"]
    stored = Client.objects.get(client_id=client_id)
    assert stored.token_endpoint_auth_method == "private_key_jwt" and stored.client_type == Client.CLIENT_CONFIDENTIAL
    assert stored.jwks_uri == documents.url("/oauth/jwks.json") and stored.token_endpoint_auth_signing_alg == "RS256"
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": entry["redirect_uri"],
                "code_verifier": pkce.verifier}
    as_public = client.post("/token", {**exchange, "client_id": client_id})
    assert as_public.status_code == HTTPStatus.UNAUTHORIZED and as_public.json()["error"] == "invalid_client"
    signed = client.post("/token", {**exchange, **assertion_params(key.assertion(client_id, "http://testserver/token"), client_id)})
    assert signed.status_code == HTTPStatus.OK, signed.content


def test_chatgpt_document_is_public_when_private_key_jwt_is_off(browser, documents, allow_loopback_fetch, settings):
    """CLIENT-01 (gamedevpl#641): without private_key_jwt the same document negotiates down to none."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER,
                                "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"]}
    client_id, entry = publish_real(documents, "chatgpt_cimd", "/oauth/client.json")
    assert consent(browser, authorize_query(client_id, entry["redirect_uri"], Pkce.new())).status_code == 303
    stored = Client.objects.get(client_id=client_id)
    assert stored.token_endpoint_auth_method == "none" and stored.client_type == Client.CLIENT_PUBLIC and not stored.jwks_uri


def test_private_key_jwt_only_document_is_refused_when_unsupported(browser, documents, allow_loopback_fetch, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER,
                                "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"]}
    client_id, entry = publish_real(documents, "chatgpt_like_private_key_jwt_only", "/oauth/client.json")
    response = browser.get("/authorize?" + urlencode(authorize_query(client_id, entry["redirect_uri"], Pkce.new())))
    assert "Location" not in response
    assert not Client.objects.filter(client_id=client_id).exists()


def test_vscode_document_loopback_on_any_port(browser, documents, allow_loopback_fetch):
    """CLIENT-03, RFC 8252 §7.3: VS Code's document (device_code grant dropped) on another loopback port."""
    client_id, _ = publish_real(documents, "vscode_cimd", "/oauth/client-metadata.json")
    response = consent(browser, authorize_query(client_id, "http://127.0.0.1:50123/", Pkce.new()))
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"].startswith("http://127.0.0.1:50123/?code=")


def test_refreshed_document_changes_the_stored_auth_method(browser, documents, allow_loopback_fetch):
    """AUTH-27: a re-fetched document (cache expired) replaces the negotiated method and keys."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.support.client_keys import ClientKey, jwks

    documents.documents["/oauth/jwks.json"] = jwks(ClientKey.generate("RS256"))
    client_id, entry = publish_real(documents, "chatgpt_cimd", "/oauth/client.json", jwks_uri=documents.url("/oauth/jwks.json"))
    assert consent(browser, authorize_query(client_id, entry["redirect_uri"], Pkce.new())).status_code == 303
    assert Client.objects.get(client_id=client_id).token_endpoint_auth_method == "private_key_jwt"
    documents.documents["/oauth/client.json"] = {**documents.documents["/oauth/client.json"],
                                                 "token_endpoint_auth_method": "none",
                                                 "token_endpoint_auth_methods_supported": ["none"]}
    Client.objects.filter(client_id=client_id).update(cimd_expires_at=timezone.now() - timedelta(seconds=1))
    assert consent(browser, authorize_query(client_id, entry["redirect_uri"], Pkce.new())).status_code == 303
    stored = Client.objects.get(client_id=client_id)
    assert documents.hits["/oauth/client.json"] == 2
    assert stored.token_endpoint_auth_method == "none" and stored.client_type == Client.CLIENT_PUBLIC
    assert stored.jwks_uri == ""
