"""A real Chromium, driven by Playwright, against a real daphne process.

What a person sees and does: sign in, read the consent page, press Allow or Deny, land on
the client's redirect URI; and what a staff member does in the admin to add a client.

Nothing listens on the client's redirect URI: ``page.route`` answers that navigation inside
the browser, so the test reads the exact URL Chromium was sent to. No sleeps: every wait is
on a Playwright event or URL.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(45)]

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000  # per Playwright action or wait
CLIENT_NAME = "Browser Test Client"
ADMIN_USERNAME = "browser-admin"
ADMIN_PASSWORD = "browser-admin-password-42"
CALLBACK_BODY = "<!doctype html><title>Callback</title><p>Back at the client.</p>"


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package (.ci/run does).")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[sync_api.Page]:
    """A fresh browser context (no cookies) per test."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def framing_site() -> Iterator[str]:
    """A real HTTP server on another origin (same host, other port: same site, so the session
    cookie goes along, as in a real clickjacking attempt) serving ``<iframe src="?src=...">``.

    Real rather than ``page.route``-fulfilled: Chromium's local network access checks would
    block a page of unknown address space from framing a loopback URL before any header is read.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            src = parse_qs(urlsplit(self.path).query).get("src", ["about:blank"])[0]
            body = f'<!doctype html><title>Framing</title><iframe id="victim" src="{html.escape(src)}"></iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str
    verifier: str
    url: str


def start_authorization(server, scope: str = "mcp user") -> AuthorizationRequest:
    """Register a public client by DCR and build a PKCE S256 authorization URL for it."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    registered = httpx.post(
        server.url + "/register",
        json={"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none", "client_name": CLIENT_NAME},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": server.url + "/mcp",
    })
    return AuthorizationRequest(client_id, redirect_uri, state, verifier, f"{server.url}/authorize?{query}")


def capture_callback(page, redirect_uri: str) -> list[tuple[str, str | None]]:
    """Answer navigations to the (unserved) redirect URI in the browser; return (URL, Referer) seen."""
    seen: list[tuple[str, str | None]] = []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))

    def fulfil(route):
        seen.append((route.request.url, route.request.headers.get("referer")))
        route.fulfill(status=200, content_type="text/html", body=CALLBACK_BODY)

    page.route(origin + "/**", fulfil)
    return seen


def sign_in_to_consent(page, server, request: AuthorizationRequest) -> tuple[sync_api.Response, sync_api.Response]:
    """Open the authorization URL, sign in as alice; return the login and consent page responses."""
    login_page = page.goto(request.url)
    page.wait_for_url(lambda url: url.startswith(server.url + "/login?"))
    assert login_page.status == 200
    assert parse_qs(urlsplit(page.url).query)["next"][0].startswith("/authorize?")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wonderland-42")
    with page.expect_response(
        lambda r: r.url.startswith(server.url + "/login") and r.request.method == "POST"
    ) as login_info, page.expect_response(
        lambda r: r.url.startswith(server.url + "/authorize?") and r.request.method == "GET"
    ) as consent_info:
        page.get_by_role("button", name="Sign in").click()
    # SEC-14: the credential POST answers 303, never 307.
    assert login_info.value.status == 303
    consent = consent_info.value
    assert consent.status == 200
    page.wait_for_url(lambda url: url.startswith(server.url + "/authorize?"))
    return login_page, consent


def assert_consent_page(page) -> None:
    heading = page.get_by_role("heading", level=1)
    assert CLIENT_NAME in heading.inner_text()
    assert page.locator("ul.scopes code").all_inner_texts() == ["mcp", "user"]
    assert page.get_by_role("button", name="Allow").is_enabled()
    assert page.get_by_role("button", name="Deny").is_enabled()


def press_and_land(page, button: str, request: AuthorizationRequest) -> dict[str, list[str]]:
    """Press Allow/Deny; check the consent POST answers 303; return the callback's query."""
    seen = capture_callback(page, request.redirect_uri)
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/authorize" in r.url
    ) as post_info:
        page.get_by_role("button", name=button).click()
    page.wait_for_url(lambda url: url.startswith(request.redirect_uri + "?"))
    assert post_info.value.status == 303  # SEC-14
    # One navigation, and no Referer: the consent page's URL (the authorization request) stays
    # with the authorization server (referrer policy same-origin).
    assert seen == [(page.url, None)]
    assert page.locator("p").inner_text() == "Back at the client."
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def test_person_signs_in_and_allows(page, daphne_server):
    """AUTH-25, CLAUDE-19, OAUTH-22, SEC-14, SEC-15, OAUTH-20, AUTH-30: a person in Chromium.

    The authorization URL sends an anonymous browser to the sign-in page (SEC-15); the sign-in
    and consent POSTs answer 303 (SEC-14); the consent page names the client and lists the
    scopes, the loopback redirect host and its warning (AUTH-30); Allow lands on the redirect
    URI with ``code``, the same ``state`` and ``iss`` equal to the issuer byte for byte
    (AUTH-25, CLAUDE-19, OAUTH-22); the code is real: it redeems with the PKCE verifier (OAUTH-20).
    """
    request = start_authorization(daphne_server)
    sign_in_to_consent(page, daphne_server, request)
    assert_consent_page(page)
    assert page.locator("dt:text-is('Sends you back to') + dd").inner_text() == "127.0.0.1"
    assert page.locator("dt:text-is('Signed in as') + dd").inner_text() == "alice"
    assert page.locator("p.warning").is_visible()

    query = press_and_land(page, "Allow", request)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == [request.state]
    assert query["iss"] == [daphne_server.url]

    token = httpx.post(
        daphne_server.url + "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": request.redirect_uri,
            "client_id": request.client_id,
            "code_verifier": request.verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["access_token"]
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"mcp", "user"}


def test_person_denies(page, daphne_server):
    """AUTH-25, CLAUDE-19, OAUTH-22, SEC-14: Deny lands on the redirect URI with
    ``error=access_denied``, the same ``state`` and ``iss`` (RFC 9207 on error responses too),
    and no ``code``."""
    request = start_authorization(daphne_server)
    sign_in_to_consent(page, daphne_server, request)
    assert_consent_page(page)

    query = press_and_land(page, "Deny", request)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [request.state]
    assert query["iss"] == [daphne_server.url]
    assert "code" not in query


def test_consent_and_login_pages_cannot_be_framed(page, daphne_server, framing_site):
    """SEC-13, SEC-17: the login and consent pages send ``X-Frame-Options: DENY`` and CSP
    ``frame-ancestors 'none'``, and Chromium indeed refuses to render them in a frame."""
    request = start_authorization(daphne_server)
    for response in sign_in_to_consent(page, daphne_server, request):
        assert response.header_value("x-frame-options") == "DENY", response.url
        csp = response.header_value("content-security-policy") or ""
        assert "frame-ancestors 'none'" in csp, response.url

    # A page on another origin frames the consent URL. Chromium loads the signed-in consent
    # page in the frame, sees the headers and renders an error page instead of the form.
    consent_url = page.url
    framed: list[sync_api.Response] = []
    page.on("response", lambda r: framed.append(r) if r.frame != page.main_frame else None)
    page.goto(framing_site + "/?" + urlencode({"src": consent_url}))  # waits for the frame's load too
    assert [(r.url, r.status) for r in framed] == [(consent_url, 200)]
    for response in framed:
        assert response.header_value("x-frame-options") == "DENY", response.url
        assert "frame-ancestors 'none'" in (response.header_value("content-security-policy") or "")
    victim = page.frame_locator("#victim")
    assert victim.locator("form").count() == 0
    assert victim.locator("#id_password").count() == 0
    child = next(frame for frame in page.frames if frame != page.main_frame)
    assert not child.url.startswith(daphne_server.url), child.url


@pytest.fixture(scope="module")
def admin_account(daphne_server) -> tuple[str, str]:
    daphne_server.manage(
        "ensureadmin", extra_env={"ADMIN_USERNAME": ADMIN_USERNAME, "ADMIN_PASSWORD": ADMIN_PASSWORD}
    )
    return ADMIN_USERNAME, ADMIN_PASSWORD


def test_admin_adds_confidential_client_and_sees_secret_once(page, daphne_server, admin_account):
    """DJ-07, SEC-13, SEC-14: a superuser adds a confidential authorization-code client in the admin.

    Starting from the "Confidential web app" preset, the secret is generated server-side and
    shown once, on the client page the save lands on; a reload or the list never shows it again
    (only its hash is stored). The admin pages are not frameable either.
    """
    username, password = admin_account
    with page.expect_response(lambda r: r.url.startswith(daphne_server.url + "/admin/login/")) as login_info:
        page.goto(daphne_server.url + "/admin/")
    assert login_info.value.header_value("x-frame-options") == "DENY"
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_response(lambda r: r.request.method == "POST") as admin_login:
        page.get_by_role("button", name="Log in").click()
    assert admin_login.value.status in (302, 303), admin_login.value.status  # SEC-14: never 307
    page.wait_for_url(daphne_server.url + "/admin/")

    page.get_by_role("rowheader", name="Clients").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/oauth_app/client/$"))
    page.get_by_role("link", name="Add client").click()
    page.wait_for_url(re.compile(r"/admin/oauth_app/client/add/$"))

    name = f"Admin Browser Client {secrets.token_hex(4)}"
    page.get_by_role("link", name=re.compile(r"^Confidential web app")).click()
    page.wait_for_url(re.compile(r"/add/\?preset=web$"))
    assert page.get_by_role("radio", name="Confidential", exact=True).is_checked()
    page.fill("#id_name", name)
    page.fill("#id_redirect_uris", "https://app.example.com/callback")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/oauth_app/client/\d+/change/$"))

    # The client page: Client ID first, then the secret, shown this once.
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    assert re.fullmatch(r"client_[A-Za-z0-9_-]{22}", client_id), client_id
    assert len(secret) >= 32
    assert "stored hashed and will not be shown again" in page.locator(".console-secret").inner_text()
    assert secret not in "".join(page.locator("ul.messagelist li").all_inner_texts())

    # Shown once: neither a reload of the client page nor the list shows it again.
    page.reload()
    assert secret not in page.content()
    assert page.locator("#client-secret").count() == 0
    assert page.locator("#id_name").input_value() == name
    page.goto(daphne_server.url + "/admin/oauth_app/client/")
    row = page.locator("#result_list tbody tr", has_text=name)
    assert row.count() == 1
    assert client_id in row.inner_text()
    assert secret not in page.content()
