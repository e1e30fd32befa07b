"""Every MCP client in the field connects on the first try: the clients' real registrations, end to end.

Each entry of ``tests/client_corpus`` is a client's real DCR body or CIMD document (source noted in the
file; CLAUDE-04, CLAUDE-05, CLIENT-01..05). Against a real daphne, each run:

1. registers it at ``/register`` (DCR) or has the server fetch it (CIMD) from the local HTTPS document
   server, whose host the deployment allows with ``CIMD_ALLOWED_PRIVATE_HOSTS`` (TLS verification on:
   daphne trusts the server's own CA through ``SSL_CERT_FILE``);
2. signs alice in and consents: real Chromium for the Claude.ai CIMD and the Cursor ``cursor://`` cases,
   the browserless helper (same pages, same forms) for the others;
3. exchanges the code at ``/token`` with the client's own auth method: ``none``, ``client_secret_post``,
   ``client_secret_basic`` (RFC 7591 default), or ``private_key_jwt`` with an RS256 assertion signed by a
   key the test publishes at the document's ``jwks_uri``;
4. calls ``/mcp`` with the official SDK in both eras (2026-07-28 ``server/discover`` and the legacy
   ``initialize`` handshake): ``whoami`` names the client;
5. refreshes with the same auth method and calls ``/mcp`` again with the new token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from tests.support.client_keys import ClientKey, assertion_params, jwks
from tests.support.daphne import DaphneServer, start_daphne
from tests.support.https_server import DocumentServer
from tests.support.oauth_browserless import headless_consent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CORPUS = Path(__file__).parents[1] / "client_corpus"
TIMEOUT = 60
USERNAME, PASSWORD = "alice", "wonderland-42"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def corpus(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.json").read_text())


# --- Servers ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("documents"))
    yield server
    server.close()


def _daphne(tmp_path_factory, documents: DocumentServer, **env: str) -> DaphneServer:
    server = start_daphne(tmp_path_factory.mktemp("daphne"), {
        "CIMD_ALLOWED_PRIVATE_HOSTS": "localhost", "SSL_CERT_FILE": str(documents.cert_path), **env,
    })
    server.create_user(USERNAME, PASSWORD)
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory, documents) -> Iterator[DaphneServer]:
    """The default configuration: private_key_jwt offered."""
    daphne = _daphne(tmp_path_factory, documents)
    yield daphne
    daphne.stop()


@pytest.fixture(scope="module")
def server_without_private_key_jwt(tmp_path_factory, documents) -> Iterator[DaphneServer]:
    daphne = _daphne(tmp_path_factory, documents, PRIVATE_KEY_JWT_ENABLED="false")
    yield daphne
    daphne.stop()


# --- One client ---------------------------------------------------------------------------------------------


@dataclass
class Registration:
    client_id: str
    auth_method: str
    secret: str | None = None
    key: ClientKey | None = None


def register_or_publish(server: DaphneServer, documents: DocumentServer, name: str) -> Registration:
    """Step 1: DCR with the body as the client sends it, or CIMD with the document as published."""
    entry = corpus(name)
    if entry["kind"] == "dcr":
        response = httpx.post(server.url + "/register", json=entry["document"], timeout=10)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["grant_types"] == entry["expect"]["grant_types"]
        return Registration(body["client_id"], body["token_endpoint_auth_method"], body.get("client_secret"))
    path = f"/{name}/{secrets.token_hex(4)}/client.json"
    document = {**entry["document"], "client_id": documents.url(path)}
    key = None
    if "jwks_uri" in document:
        key = ClientKey.generate("RS256")
        jwks_path = path.replace("client.json", "jwks.json")
        documents.documents[jwks_path] = jwks(key)
        document["jwks_uri"] = documents.url(jwks_path)
    documents.documents[path] = document
    return Registration(document["client_id"], "(negotiated)", key=key)


@dataclass
class Authorization:
    url: str
    redirect_uri: str
    verifier: str
    state: str


def authorization(server: DaphneServer, client_id: str, redirect_uri: str) -> Authorization:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "mcp",
                       "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
                       "resource": server.url + "/mcp"})
    return Authorization(f"{server.url}/authorize?{query}", redirect_uri, verifier, state)


async def chromium_consent(server: DaphneServer, request: Authorization, *, expect_on_page: list[str]) -> str:
    """Step 2 in real Chromium: sign in, read the consent page, press Allow; the code redirect's URL.

    The 303 of the consent POST is read from the network, because nothing serves the client's
    redirect URI (claude.ai, or cursor://, which Chromium hands to the OS)."""
    async_api = pytest.importorskip("playwright.async_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package (.ci/run does).")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            context.set_default_timeout(15_000)
            page = await context.new_page()
            landed: list[str] = []

            async def fulfil(route):
                landed.append(route.request.url)
                await route.fulfill(status=200, content_type="text/html", body="<p>Back at the client.</p>")

            redirect = urlsplit(request.redirect_uri)
            if redirect.scheme == "https":
                await page.route(f"https://{redirect.netloc}/**", fulfil)
            await page.goto(request.url)
            await page.wait_for_url(lambda url: url.startswith(server.url + "/login?"))
            await page.fill("#id_username", USERNAME)
            await page.fill("#id_password", PASSWORD)
            async with page.expect_response(lambda r: r.url.startswith(server.url + "/authorize?") and r.request.method == "GET"):
                await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(lambda url: url.startswith(server.url + "/authorize?"))
            text = await page.locator("main, body").first.inner_text()
            for expected in expect_on_page:
                assert expected in text, text
            async with page.expect_response(lambda r: r.request.method == "POST" and "/authorize" in r.url) as posted:
                await page.get_by_role("button", name="Allow").click()
            response = await posted.value
            assert response.status == 303
            location = response.headers["location"]
            if redirect.scheme == "https":
                await page.wait_for_url(lambda url: url.startswith(request.redirect_uri + "?"))
                assert landed == [location]
            return location
        finally:
            await browser.close()


def client_auth(registration: Registration, server: DaphneServer) -> tuple[dict[str, str], dict[str, str]]:
    """Step 3/5: the body parameters and headers of the client's own token endpoint auth method."""
    method = registration.auth_method
    if method == "none":
        return {"client_id": registration.client_id}, {}
    if method == "client_secret_post":
        return {"client_id": registration.client_id, "client_secret": registration.secret}, {}
    if method == "client_secret_basic":
        basic = base64.b64encode(f"{registration.client_id}:{registration.secret}".encode()).decode()
        return {}, {"Authorization": f"Basic {basic}"}
    assert method == "private_key_jwt" and registration.key is not None
    assertion = registration.key.assertion(registration.client_id, server.url + "/token")
    return assertion_params(assertion, registration.client_id), {}


async def whoami_in_both_eras(server: DaphneServer, access_token: str) -> list[dict]:
    """Step 4: the official SDK, 2026-07-28 (server/discover) and the legacy initialize handshake."""
    seen = []
    for mode in ("auto", "legacy"):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {access_token}"},
                                      timeout=httpx2.Timeout(TIMEOUT)) as http:
            transport = streamable_http_client(server.url + "/mcp", http_client=http)
            async with Client(transport, mode=mode, read_timeout_seconds=TIMEOUT) as mcp:
                assert mcp.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
                result = await mcp.call_tool("whoami", {})
                (block,) = result.content
                assert isinstance(block, types.TextContent)
                seen.append(json.loads(block.text))
    return seen


async def connect(server: DaphneServer, documents: DocumentServer, name: str, redirect_uri: str, *,
                  chromium: list[str] | None = None, expect_method: str | None = None) -> Registration:
    """Steps 1 to 5 for one corpus entry; ``chromium`` lists what the consent page must say."""
    registration = register_or_publish(server, documents, name)
    request = authorization(server, registration.client_id, redirect_uri)
    with anyio.fail_after(TIMEOUT):
        if chromium is not None:
            location = await chromium_consent(server, request, expect_on_page=chromium)
        else:
            location = (await headless_consent(request.url, username=USERNAME, password=PASSWORD)).location
    assert location.startswith(redirect_uri + "?"), location
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == request.state and query["iss"] == server.url
    if registration.auth_method == "(negotiated)":
        registration.auth_method = expect_method or corpus(name)["expect"]["token_endpoint_auth_method"]
    body, headers = client_auth(registration, server)
    exchanged = httpx.post(server.url + "/token", data={
        "grant_type": "authorization_code", "code": query["code"], "redirect_uri": redirect_uri,
        "code_verifier": request.verifier, "resource": server.url + "/mcp", **body,
    }, headers=headers, timeout=10)
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    with anyio.fail_after(TIMEOUT):
        for identity in await whoami_in_both_eras(server, tokens["access_token"]):
            assert identity["client_id"] == registration.client_id and identity["username"] == USERNAME
    body, headers = client_auth(registration, server)  # a fresh assertion: jti is single-use
    refreshed = httpx.post(server.url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "resource": server.url + "/mcp", **body,
    }, headers=headers, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    with anyio.fail_after(TIMEOUT):
        identities = await whoami_in_both_eras(server, refreshed.json()["access_token"])
    assert [identity["client_id"] for identity in identities] == [registration.client_id] * 2
    return registration


# --- The corpus ----------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.asyncio
async def test_claude_ai_cimd_in_chromium(server, documents):
    """CLAUDE-04, CLAUDE-02, AUTH-26, AUTH-30: Claude's document with its jwt-bearer grant; the consent
    page names Claude, its publisher's host and claude.ai."""
    await connect(server, documents, "claude_ai_cimd", corpus("claude_ai_cimd")["redirect_uri"],
                  chromium=["Claude", "localhost", "claude.ai"])


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["claude_dcr_client_secret_post", "claude_dcr_none"])
async def test_claude_dcr(server, documents, name):
    """CLAUDE-05: Claude's DCR body, both forms; jwt-bearer narrowed away."""
    registration = await connect(server, documents, name, corpus(name)["redirect_uri"])
    assert registration.auth_method == corpus(name)["expect"]["token_endpoint_auth_method"]
    assert (registration.secret is not None) is (registration.auth_method == "client_secret_post")


@pytest.mark.asyncio
async def test_chatgpt_cimd_with_private_key_jwt(server, documents):
    """CLIENT-01: ChatGPT's document; /token with a real RS256 assertion signed by the key at its jwks_uri."""
    await connect(server, documents, "chatgpt_cimd", corpus("chatgpt_cimd")["redirect_uri"], expect_method="private_key_jwt")


@pytest.mark.asyncio
async def test_chatgpt_cimd_as_public_client(server_without_private_key_jwt, documents):
    """CLIENT-01 (gamedevpl#641): where private_key_jwt is not offered, the same document is a public client."""
    metadata = httpx.get(server_without_private_key_jwt.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert "private_key_jwt" not in metadata["token_endpoint_auth_methods_supported"]
    assert "token_endpoint_auth_signing_alg_values_supported" not in metadata
    await connect(server_without_private_key_jwt, documents, "chatgpt_cimd", corpus("chatgpt_cimd")["redirect_uri"],
                  expect_method="none")


@pytest.mark.asyncio
async def test_chatgpt_like_document_listing_only_private_key_jwt(server, documents):
    """CLIENT-01 (Engram#1633): a client that never negotiates down still connects."""
    name = "chatgpt_like_private_key_jwt_only"
    await connect(server, documents, name, corpus(name)["redirect_uri"], expect_method="private_key_jwt")


@pytest.mark.browser
@pytest.mark.asyncio
async def test_cursor_dcr_with_its_cursor_scheme_in_chromium(server, documents):
    """CLIENT-02, RFC 8252 §7.1, §8.6: Cursor's three URIs register; the code goes to cursor://, and the
    consent page says so."""
    await connect(server, documents, "cursor_dcr", "cursor://anysphere.cursor-mcp/oauth/callback",
                  chromium=["Cursor", "cursor:", "anysphere.cursor-mcp", "Any app can claim a scheme"])


@pytest.mark.asyncio
async def test_cursor_dcr_with_its_loopback_uri(server, documents):
    """CLIENT-02, RFC 8252 §7.3: the same registration, authorized on its localhost URI at another port."""
    await connect(server, documents, "cursor_dcr", "http://localhost:49152/callback")


@pytest.mark.asyncio
@pytest.mark.parametrize("name, port", [("vscode_cimd", 50123), ("vscode_dcr", 61234)])
async def test_vscode(server, documents, name, port):
    """CLIENT-03: VS Code's document (device_code grant dropped) and its DCR fallback, each on a loopback
    port other than the registered 33418 (RFC 8252 §7.3)."""
    await connect(server, documents, name, f"http://127.0.0.1:{port}/")


@pytest.mark.asyncio
async def test_python_sdk_dcr(server, documents):
    """CLIENT-05, AUTH-32: the Python SDK's body (application_type native); the corpus holds what the SDK sends."""
    sent = OAuthClientMetadata(client_name="MCP SDK e2e", redirect_uris=["http://127.0.0.1:8765/callback"],
                               token_endpoint_auth_method="none").model_dump(by_alias=True, mode="json", exclude_none=True)
    assert sent == corpus("python_sdk_dcr")["document"]
    await connect(server, documents, "python_sdk_dcr", corpus("python_sdk_dcr")["redirect_uri"])


@pytest.mark.asyncio
async def test_rfc7591_defaults(server, documents):
    """RFC 7591 §2: no grant_types and no auth method mean authorization_code and client_secret_basic."""
    registration = await connect(server, documents, "rfc7591_defaults_dcr", corpus("rfc7591_defaults_dcr")["redirect_uri"])
    assert registration.auth_method == "client_secret_basic" and registration.secret


def test_metadata_keeps_none_first_and_advertises_the_algorithms(server):
    """CLIENT-04, CLAUDE-04 (oauth_probe): none first, CIMD on, the signing algorithms where private_key_jwt is."""
    metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["token_endpoint_auth_methods_supported"][0] == "none"
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "PS256", "ES256", "EdDSA"]
    assert metadata["client_id_metadata_document_supported"] is True


@pytest.mark.asyncio
async def test_refusals_are_oauth_errors_never_5xx(server, documents):
    """Negative cases against daphne: dangerous redirect schemes and an unusable grant list are refused
    at /register; a wrong key and a replayed jti are invalid_client at /token."""
    for redirect in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "vbscript:x", "blob:https://a/b",
                     "http://evil.example/cb"):
        response = httpx.post(server.url + "/register", json={"redirect_uris": [redirect], "token_endpoint_auth_method": "none"},
                              timeout=10)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri"), redirect
    nothing = httpx.post(server.url + "/register", json={**corpus("claude_dcr_none")["document"],
                                                          "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}, timeout=10)
    assert (nothing.status_code, nothing.json()["error"]) == (400, "invalid_client_metadata")

    registration = register_or_publish(server, documents, "chatgpt_like_private_key_jwt_only")
    with anyio.fail_after(TIMEOUT):
        request = authorization(server, registration.client_id, corpus("chatgpt_cimd")["redirect_uri"])
        location = (await headless_consent(request.url, username=USERNAME, password=PASSWORD)).location
    code = parse_qs(urlsplit(location).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
                "code_verifier": request.verifier}
    impostor = ClientKey.generate("RS256", kid=registration.key.kid)
    wrong_key = httpx.post(server.url + "/token", data={**exchange, **assertion_params(
        impostor.assertion(registration.client_id, server.url + "/token"), registration.client_id)}, timeout=10)
    assert (wrong_key.status_code, wrong_key.json()["error"]) == (401, "invalid_client")
    assertion = registration.key.assertion(registration.client_id, server.url + "/token")
    first = httpx.post(server.url + "/token", data={**exchange, **assertion_params(assertion, registration.client_id)}, timeout=10)
    assert first.status_code == 200, first.text
    replayed = httpx.post(server.url + "/token", data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"],
                                                       **assertion_params(assertion, registration.client_id)}, timeout=10)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")
