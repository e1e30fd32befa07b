"""Client ID Metadata Documents (AUTH-26..AUTH-30, CLAUDE-04) with DOT's SSRF-hardened fetcher.

The document server is a real HTTPS server on loopback. DOT's fetcher refuses non-public
addresses by design (SEC-19); the tests that exercise a successful fetch lift exactly that one
check (``oauth2_provider.cimd._ip_is_public``) and keep everything else real: TLS verification,
the document checks, caching. ``test_loopback_documents_are_refused`` proves the guard itself.
"""

from __future__ import annotations

from http import HTTPStatus
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
def allow_loopback_fetch(monkeypatch):
    monkeypatch.setattr("oauth2_provider.cimd._ip_is_public", lambda ip: True)


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
