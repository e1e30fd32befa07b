"""``manage.py doctor``: each ✗ it can report, against a deliberately broken deployment.

Most broken setups are one fault in a small local server that otherwise answers like this
project (:class:`FakeDeployment`; its healthy form passes every step, so each variant fails
for the one reason it was given). The faults that belong to real parts use real parts: a
buffering proxy is Debian's nginx with the committed server block mis-edited, and the wrong
issuer is a real daphne started as the issue describes (``PUBLIC_URL`` left to its ``HOST:PORT``
default while daphne listens elsewhere).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oauth_app.doctor import ANTHROPIC_EGRESS, CLAUDE_REGISTRATION, Doctor, StepFailed, Target, diagnose
from tests.support.daphne import REPO, start_daphne
from tests.support.environment_file import production_environment
from tests.support.https_server import make_certificate
from tests.support.nginx import listening_socket, render_site, start_nginx

STEPS = ["dns", "tls", "challenge", "prm", "as-metadata", "registration", "jwks", "sse", "clock", "claude-user"]


class FakeDeployment:
    """This project's public surface, in miniature, with switches that break one thing each."""

    def __init__(self, *, tls_dir=None) -> None:
        self.challenge: str | None = 'Bearer resource_metadata="{url}/.well-known/oauth-protected-resource/mcp", scope="mcp"'
        self.mcp_status = 401
        self.mcp_location: str | None = None
        self.path_form_prm = True
        self.issuer: str | None = None  # None: the server's own URL
        self.registration_status = 201
        self.dcr, self.cimd = True, True
        self.block_claude_user = False
        self.clock_offset = 0.0
        self.registered: list[dict] = []
        self.deleted: list[str] = []
        deployment = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", **headers) -> None:
                self.send_response_only(status)
                self.send_header("Date", formatdate(time.time() + deployment.clock_offset, usegmt=True))
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, data: dict, status: int = 200) -> None:
                self._send(status, json.dumps(data).encode())

            def _blocked(self) -> bool:
                if deployment.block_claude_user and self.headers.get("User-Agent") == "Claude-User":
                    self._send(403, b"<html><title>Just a moment...</title></html>", "text/html")
                    return True
                return False

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self._blocked():
                    return
                url = deployment.url
                if self.path == "/mcp":
                    headers = {}
                    if deployment.mcp_location:
                        headers["Location"] = deployment.mcp_location
                    if deployment.challenge is not None:
                        headers["WWW_Authenticate"] = deployment.challenge.format(url=url)
                    self._send(deployment.mcp_status, b'{"error": "invalid_token"}', **headers)
                elif self.path == "/register":
                    if deployment.registration_status != 201:
                        self._json({"error": "invalid_client_metadata", "error_description": "Unsupported grant type."},
                                   deployment.registration_status)
                        return
                    deployment.registered.append(json.loads(body))
                    client_id = f"client_{len(deployment.registered)}"
                    self._json({**json.loads(body), "client_id": client_id, "client_secret": "s3cret",
                                "grant_types": ["authorization_code", "refresh_token"],
                                "registration_access_token": "rat-" + client_id,
                                "registration_client_uri": f"{url}/register/{client_id}"}, 201)
                else:
                    self._send(404)

            def do_DELETE(self) -> None:  # noqa: N802
                client_id = self.path.rsplit("/", 1)[-1]
                if self.headers.get("Authorization") == f"Bearer rat-{client_id}":
                    deployment.deleted.append(client_id)
                    self._send(204)
                else:
                    self._send(401)

            def do_GET(self) -> None:  # noqa: N802
                if self._blocked():
                    return
                url = deployment.url
                prm = {"resource": f"{url}/mcp", "authorization_servers": [url], "scopes_supported": ["mcp"]}
                if self.path == "/.well-known/oauth-protected-resource":
                    self._json(prm)
                elif self.path == "/.well-known/oauth-protected-resource/mcp" and deployment.path_form_prm:
                    self._json(prm)
                elif self.path == "/.well-known/oauth-authorization-server":
                    metadata = {
                        "issuer": deployment.issuer or url, "authorization_endpoint": f"{url}/authorize",
                        "token_endpoint": f"{url}/token", "registration_endpoint": f"{url}/register",
                        "jwks_uri": f"{url}/jwks", "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
                        "client_id_metadata_document_supported": deployment.cimd,
                        "authorization_response_iss_parameter_supported": True,
                    }
                    if not deployment.dcr:
                        del metadata["registration_endpoint"]
                    self._json(metadata)
                elif self.path == "/jwks":
                    self._json({"keys": [{"kty": "EC", "kid": "k1"}]})
                elif self.path == "/mcp/sse-probe":
                    body = b"event: probe\ndata: {\"n\": 1}\n\nevent: probe\ndata: {\"n\": 2}\n\n"
                    self._send(200, body, "text/event-stream")
                else:
                    self._send(404)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme, host = "http", "127.0.0.1"
        if tls_dir is not None:
            cert, key = make_certificate(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme, host = "https", "localhost"
        self.url = f"{scheme}://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    deployment = FakeDeployment()
    yield deployment
    deployment.close()


def statuses(report) -> dict[str, str]:
    return {step.name: step.status for step in report.steps}


def test_a_healthy_deployment_passes_and_its_test_client_is_deleted(fake):
    """The baseline every broken variant departs from: all steps pass (DNS and TLS skipped on http
    loopback), Claude's registration body is sent verbatim and deleted with its own token."""
    report = diagnose(fake.url + "/mcp")
    assert statuses(report) == {**{name: "pass" for name in STEPS}, "dns": "skip", "tls": "skip"}, report.text()
    assert report.ok
    assert fake.registered == [CLAUDE_REGISTRATION]
    assert fake.deleted == ["client_1"]


def test_401_without_resource_metadata(fake):
    """CLAUDE-08, AUTH-05: a 401 whose challenge has no resource_metadata means Claude never starts OAuth."""
    fake.challenge = 'Bearer realm="mcp"'
    step = diagnose(fake.url + "/mcp").step("challenge")
    assert step.status == "fail"
    assert "no resource_metadata" in step.detail and "CLAUDE-08" in step.cause
    assert "resource_metadata=" in step.fix


def test_401_without_www_authenticate(fake):
    """CLAUDE-08: a proxy that strips WWW-Authenticate breaks discovery the same way."""
    fake.challenge = None
    step = diagnose(fake.url + "/mcp").step("challenge")
    assert step.status == "fail" and step.detail == "401 without WWW-Authenticate"


def test_redirect_on_the_mcp_url(fake):
    """CLAUDE-12: no redirects on the MCP URL."""
    fake.mcp_status, fake.mcp_location, fake.challenge = 307, fake.url + "/mcp/", None
    step = diagnose(fake.url + "/mcp").step("challenge")
    assert step.status == "fail" and "CLAUDE-12" in step.cause


def test_missing_path_form_prm(fake):
    """CLAUDE-07, RFC 9728 §3.1: only the root PRM is served; the path-form URL is a 404."""
    fake.path_form_prm = False
    fake.challenge = 'Bearer resource_metadata="{url}/.well-known/oauth-protected-resource"'
    report = diagnose(fake.url + "/mcp")
    step = report.step("prm")
    assert step.status == "fail"
    assert step.detail == f"{fake.url}/.well-known/oauth-protected-resource/mcp: 404"
    assert "path-form" in step.cause and "CLAUDE-07" in step.cause
    assert report.step("as-metadata").status == "skip"  # nothing to discover it from


def test_issuer_differs_from_the_protected_resources_authorization_server(fake):
    """RFC 8414 §3.3: metadata whose issuer differs by one byte (a trailing slash) is rejected by clients."""
    fake.issuer = fake.url + "/"
    step = diagnose(fake.url + "/mcp").step("as-metadata")
    assert step.status == "fail"
    assert step.detail == f"issuer is {fake.url + '/'!r}, the resource names {fake.url!r}"
    assert "RFC 8414" in step.cause and step.fix.startswith(f"set PUBLIC_URL={fake.url} ")


def test_dcr_off_is_a_skip_while_cimd_is_on(fake):
    """DCR_ENABLED=false: Claude uses CIMD, so nothing fails; with CIMD off too, no client can register."""
    fake.dcr = False
    report = diagnose(fake.url + "/mcp")
    assert report.ok and report.step("registration").status == "skip"
    fake.cimd = False
    step = diagnose(fake.url + "/mcp").step("as-metadata")
    assert step.status == "fail" and "neither CIMD nor a registration_endpoint" in step.detail


def test_registration_refused(fake):
    """CLAUDE-05, CLAUDE-23: a server that refuses Claude's body makes Claude say it couldn't register."""
    fake.registration_status = 400
    step = diagnose(fake.url + "/mcp").step("registration")
    assert step.status == "fail" and "invalid_client_metadata" in step.detail
    assert "Couldn't register" in step.cause


def test_registration_rate_limited(fake):
    """A 429 at /register: behind a proxy without TRUSTED_PROXIES every client shares one address."""
    fake.registration_status = 429
    step = diagnose(fake.url + "/mcp").step("registration")
    assert step.status == "fail" and "TRUSTED_PROXIES" in step.fix


def test_waf_blocks_claude_user(fake):
    """CLIENT-07: a bot rule that answers Claude-User with a challenge page."""
    fake.block_claude_user = True
    report = diagnose(fake.url + "/mcp")
    step = report.step("claude-user")
    assert step.status == "fail"
    assert "HTTP 403 (text/html)" in step.detail and "CLIENT-07" in step.cause
    assert "Claude-User" in step.fix and ANTHROPIC_EGRESS in step.fix
    assert report.step("challenge").status == "pass"  # the same request without that agent is fine


def test_clock_skew(fake):
    """A server clock 5 minutes fast is reported with its offset."""
    fake.clock_offset = 300
    step = diagnose(fake.url + "/mcp").step("clock")
    assert step.status == "fail"
    assert abs(int(step.detail.split()[4]) - 300) <= 1, step.detail  # "the server's clock is +300 s off ..."
    assert "NTP" in step.fix


def test_untrusted_certificate(tmp_path, monkeypatch):
    """CLAUDE-01, CLAUDE-23 ("Couldn't reach"): a self-signed certificate; every request step is skipped."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    deployment = FakeDeployment(tls_dir=tmp_path)
    try:
        report = diagnose(deployment.url + "/mcp")
    finally:
        deployment.close()
    step = report.step("tls")
    assert step.status == "fail" and "self-signed" in step.detail
    assert "public CA" in step.fix
    assert statuses(report)["challenge"] == "skip"


def test_private_address():
    """CLAUDE-01: a host whose address is private cannot be reached from Anthropic's servers."""
    with pytest.raises(StepFailed) as failed:
        Doctor(Target.parse("https://10.20.30.40/mcp")).dns()
    assert "not public: 10.20.30.40" in failed.value.detail and "CLAUDE-01" in failed.value.cause


def test_command_exit_status_and_json(fake, tmp_path):
    """``manage.py doctor URL --json``: the steps as data, exit status 1 when one failed, 0 when none did."""
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    fake.challenge = 'Bearer realm="mcp"'
    failed = subprocess.run([sys.executable, "manage.py", "doctor", fake.url + "/mcp", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1, failed.stderr
    data = json.loads(failed.stdout)
    assert data["ok"] is False and [s["name"] for s in data["steps"]] == STEPS
    assert next(s for s in data["steps"] if s["name"] == "challenge")["status"] == "fail"
    fake.challenge = 'Bearer resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"'
    passed = subprocess.run([sys.executable, "manage.py", "doctor", fake.url], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=60)
    assert passed.returncode == 0, passed.stdout
    assert passed.stdout.splitlines()[0] == f"Connection doctor for {fake.url}/mcp"
    assert "✓ POST /mcp without a token: 401" in passed.stdout and passed.stdout.rstrip().endswith("All steps passed.")


# --- Real parts: a wrong PUBLIC_URL on daphne, a buffering nginx ----------------------------------------


@pytest.mark.e2e
def test_wrong_issuer_when_daphne_is_started_on_another_port(tmp_path):
    """Issue 11 §3, CLAUDE-11: `daphne -p OTHER` with PUBLIC_URL left to its HOST:PORT default advertises
    http://127.0.0.1:8000. The doctor names the fix, and the server logs the mismatch once, with it."""
    server = start_daphne(tmp_path, {"PUBLIC_URL": "", "PORT": "8000"})
    try:
        report = diagnose(server.url + "/mcp")
        log = server.log()
    finally:
        server.stop()
    challenge = report.step("challenge")
    assert challenge.status == "fail"
    assert challenge.detail == ("resource_metadata points at another origin: "
                                "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp")
    assert challenge.fix == f"set PUBLIC_URL={server.url} and restart"
    step = report.step("prm")
    assert step.status == "fail"
    assert step.detail.endswith(f"says resource='http://127.0.0.1:8000/mcp', but the MCP URL is '{server.url}/mcp'")
    assert "CLAUDE-11" in step.cause and step.fix.startswith(f"set PUBLIC_URL={server.url} ")
    assert report.step("as-metadata").status == "skip"
    warnings = [line for line in log.splitlines() if "but PUBLIC_URL is" in line]
    assert len(warnings) == 1, log  # the doctor made several requests; one line
    assert f"A request arrived for {server.url} but PUBLIC_URL is http://127.0.0.1:8000" in warnings[0]
    assert f"set PUBLIC_URL={server.url}" in warnings[0]


@pytest.mark.e2e
def test_buffering_proxy(tmp_path, monkeypatch):
    """The committed nginx block with the /mcp location mis-edited to buffer (and to ignore the
    X-Accel-Buffering header the server sends): the first SSE event arrives only with the end."""
    cert, key = make_certificate(tmp_path)
    tls, plain = listening_socket(), listening_socket()
    url = f"https://localhost:{tls.getsockname()[1]}"
    env = production_environment(PUBLIC_URL=url, ALLOWED_HOSTS="localhost", DATABASE_URL="", REDIS_URL="")
    del env["DATA_DIR"]
    server = start_daphne(tmp_path / "daphne", env)
    site = render_site(tls_port=tls.getsockname()[1], http_port=plain.getsockname()[1],
                       upstreams=[server.url.removeprefix("http://")], cert=cert, key=key, webroot=tmp_path)
    assert "proxy_buffering off;" in site
    site = site.replace("proxy_buffering off;", "proxy_buffering on;\n        proxy_ignore_headers X-Accel-Buffering;")
    nginx = start_nginx(tmp_path / "nginx", site, [tls, plain])
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        report = diagnose(url + "/mcp")
    finally:
        nginx.stop()
        server.stop()
    step = report.step("sse")
    assert step.status == "fail", report.text()
    assert step.detail.startswith("first event after 3.")
    assert "buffers" in step.cause and "proxy_buffering off" in step.fix
    assert report.step("tls").status == "pass" and report.step("challenge").status == "pass"
