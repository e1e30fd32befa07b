"""The operator's console and the connected-apps page in a real Chromium against a real daphne.

One story, as an operator and a person live it: the admin adds a Claude.ai client from its
preset and copies its Client ID with the page's Copy button (the real clipboard); the person
signs in, consents and the client exchanges the code and calls a tool over ``/mcp``; the admin
sees those steps in the client's timeline and the activity log; the person sees the app in
``/account/apps``, revokes it, and the next ``/mcp`` request with that token is 401.

Screenshots of each page, plus the token list and the signing keys, go to a temporary folder, so
a test run leaves the checkout clean; ``make screenshots`` runs this test with
``SCREENSHOTS_DIR=docs/screenshots`` to refresh the ones the README shows.

Nothing listens at ``https://claude.ai``: ``page.route`` answers the redirect inside the browser.
No sleeps: every wait is on a Playwright event, a URL or a locator.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support.daphne import REPO, DaphneServer, start_daphne

sync_api = pytest.importorskip("playwright.sync_api")
from tests.e2e.test_browser import TIMEOUT_MS, browser  # noqa: E402,F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(90)]

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "mcp-console-screenshots")
CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback"
ADMIN, ADMIN_PASSWORD = "operator", "operator-password-42"
PERSON, PERSON_PASSWORD = "alice", "wonderland-42"
VIEWPORT = {"width": 1280, "height": 860}
MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory) -> Iterator[DaphneServer]:
    """A daphne of its own, with the admin's static files collected (whitenoise serves them)."""
    subprocess.run([sys.executable, str(REPO / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"],
                   cwd=REPO, check=True, timeout=120)
    server = start_daphne(tmp_path_factory.mktemp("console"), extra_env={"RESOURCE_NAME": "Acme MCP"})
    server.create_user(PERSON, PERSON_PASSWORD)
    server.manage("ensureadmin", extra_env={"ADMIN_USERNAME": ADMIN, "ADMIN_PASSWORD": ADMIN_PASSWORD})
    yield server
    server.stop()


def new_page(browser, server: DaphneServer, *, clipboard: bool = False):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context, context.new_page()


def shoot(page, name: str, **options) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size > 1000, f"{path} is not a screenshot"


def admin_sign_in(page, server: DaphneServer) -> None:
    page.goto(server.url + "/admin/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/admin/")


def call_whoami(server: DaphneServer, access_token: str) -> httpx.Response:
    """A 2026-07-28 (stateless) ``tools/call`` as an MCP client sends it."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "whoami", "arguments": {},
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}}}
    return httpx.post(server.url + "/mcp", json=body, timeout=15, headers={
        "Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "whoami"})


def test_operator_adds_claude_person_connects_then_revokes(browser, console_server):
    """DJ-07, CLAUDE-02, AUTH-25, SEC-14: preset → copied Client ID → OAuth flow → tool call →
    client timeline and activity log → connected apps → revoke → the token is refused (401)."""
    server = console_server
    admin_context, admin = new_page(browser, server, clipboard=True)
    admin_sign_in(admin, server)
    groups = admin.locator("#content-main .module caption").all_text_contents()
    assert [g.strip() for g in groups] == ["Clients", "Tokens", "Signing keys", "Activity", "People"]
    assert "Acme MCP · admin" in admin.locator("#site-name").inner_text()

    # --- The operator adds Claude from its preset and copies the Client ID --------------------
    admin.goto(server.url + "/admin/oauth_app/client/add/")
    assert "implicit" not in admin.content() and 'value="password"' not in admin.content()
    admin.get_by_role("link", name=re.compile(r"^Claude\.ai \/ Claude Desktop")).click()
    admin.wait_for_url(re.compile(r"/add/\?preset=claude$"))
    assert admin.locator("#id_name").input_value() == "Claude"
    assert admin.locator("#id_redirect_uris").input_value().splitlines() == [
        CLAUDE_CALLBACK, "https://claude.com/api/mcp/auth_callback"]
    assert admin.get_by_role("radio", name="Public", exact=True).is_checked()
    assert admin.locator("input[name=token_endpoint_auth_method][value=none]").is_checked()
    shoot(admin, "client-preset", full_page=True)
    admin.locator("input[name=_save]").click()
    admin.wait_for_url(re.compile(r"/admin/oauth_app/client/\d+/change/$"))
    client_page_url = admin.url
    admin.get_by_role("button", name="Copy").first.click()
    admin.get_by_role("button", name="Copied").wait_for()
    client_id = admin.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", client_id), client_id
    assert admin.locator("#client-id").inner_text() == client_id

    # --- The person connects Claude: sign in, consent, callback ------------------------------
    person_context, person = new_page(browser, server)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    person.goto(server.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": CLAUDE_CALLBACK, "scope": "mcp",
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256", "resource": server.url + "/mcp"}))
    person.wait_for_url(re.compile(r"/login\?"))
    assert "{#" not in person.content() and "{%" not in person.content()
    shoot(person, "login")
    person.fill("#id_username", PERSON)
    person.fill("#id_password", PERSON_PASSWORD)
    person.get_by_role("button", name="Sign in").click()
    person.wait_for_url(re.compile(r"/authorize\?"))
    assert "Claude" in person.get_by_role("heading", level=1).inner_text()
    assert person.locator("dt:text-is('Sends you back to') + dd").inner_text() == "claude.ai"
    shoot(person, "consent")
    landed: list[str] = []
    person.route("https://claude.ai/**", lambda route: (landed.append(route.request.url), route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Claude</title><p>Connected.</p>")))
    person.get_by_role("button", name="Allow").click()
    person.wait_for_url(re.compile(r"^https://claude\.ai/api/mcp/auth_callback\?"))
    query = parse_qs(urlsplit(landed[0]).query)
    assert query["state"] == [state] and query["iss"] == [server.url]

    token = httpx.post(server.url + "/token", timeout=10, data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CLAUDE_CALLBACK,
        "client_id": client_id, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    access_token = token.json()["access_token"]
    called = call_whoami(server, access_token)
    assert called.status_code == 200, called.text
    assert PERSON in called.text

    # --- The operator sees the steps in the client's timeline and the activity log ------------
    admin.goto(client_page_url)
    timeline = admin.locator("#client-timeline")
    for step in ("Registered (admin)", "Consent allowed: mcp", "Token issued (authorization_code): mcp"):
        assert timeline.get_by_text(step).count() == 1, timeline.inner_text()
    assert "never" not in admin.locator(".console-stats div").first.inner_text()  # last token
    # /mcp feeds the log (issue 10 §3): the tool call and its outcome, and the summary's last uses.
    assert timeline.get_by_text(re.compile(r"^Tool whoami: ok")).count() == 1, timeline.inner_text()
    stats = admin.locator(".console-stats div")
    for label in ("Last tool call", "Last /mcp request"):
        stat = stats.filter(has_text=label).inner_text()
        assert "never" not in stat, stat
    assert "whoami" in stats.filter(has_text="Last tool call").inner_text()
    assert "Copy" in admin.locator("#client-id + button").inner_text()
    shoot(admin, "client-page", full_page=True)
    admin.goto(server.url + "/admin/activity/event/")
    rows = admin.locator("#result_list tbody tr")
    assert rows.filter(has_text="Consent allowed").count() == 1
    shoot(admin, "activity-log")

    # Tokens are read only, people by name; signing keys have buttons instead of a Save button.
    admin.goto(server.url + "/admin/oauth2_provider/accesstoken/")
    token_row = admin.locator("#result_list tbody tr")
    assert token_row.count() == 1
    assert all(text in token_row.inner_text() for text in (PERSON, "Claude", "mcp", "active"))
    assert admin.get_by_role("link", name=re.compile("^Add")).count() == 0
    shoot(admin, "tokens")
    admin.goto(server.url + "/admin/oauth_app/signingkey/")
    admin.get_by_role("link", name="Create next key").click()
    admin.wait_for_url(re.compile(r"/signingkey/create/$"))
    admin.locator("#id_algorithm").select_option("ES256")
    admin.get_by_role("button", name="Create next key").click()
    admin.wait_for_url(server.url + "/admin/oauth_app/signingkey/")
    assert "is published as 'next'" in admin.locator("ul.messagelist").inner_text()
    assert admin.locator("#result_list tbody tr", has_text="next").count() == 1
    shoot(admin, "signing-keys")
    admin.locator("#result_list tbody tr", has_text="active").get_by_role("link").first.click()
    assert admin.locator("input[name=_save]").count() == 0
    assert admin.get_by_text("State timeline").count() == 1

    # --- The person sees and revokes Claude in connected apps ---------------------------------
    person.goto(server.url + "/account/apps")
    app = person.locator("li.app", has_text="Claude")
    assert app.count() == 1
    assert app.locator("dt:text-is('Can') + dd").inner_text() == "mcp"
    assert "not yet" not in app.locator("dt:text-is('Last used') + dd").inner_text()
    shoot(person, "connected-apps")
    with person.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/revoke")) as posted:
        app.get_by_role("button", name=re.compile("Revoke")).click()
    assert posted.value.status == 303  # SEC-14
    person.wait_for_url(server.url + "/account/apps")
    assert person.get_by_role("status").inner_text() == "Claude can no longer access your account."
    assert person.locator("li.app", has_text="Claude").count() == 0

    refused = call_whoami(server, access_token)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")

    admin.goto(client_page_url)
    assert admin.locator("#client-timeline").get_by_text("Token revoked by user").count() == 1
    person_context.close()
    admin_context.close()
