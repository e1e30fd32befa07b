"""The committed nginx server block, in front of two real daphne processes on PostgreSQL + Redis.

``deploy/nginx/mcp.conf`` is rendered for loopback (:mod:`tests.support.nginx`: host name,
listen ports, a throw-away certificate for ``localhost``, the two daphne ports as upstreams) and
run by Debian's ``nginx``. Both daphne processes run with the documented production environment
(``deploy/mcp.env``: ``PUBLIC_URL`` https, ``SECURE_PROXY_SSL_HEADER``, ``TRUSTED_PROXIES=1``,
``SECURE_SSL_REDIRECT``, HSTS) on one PostgreSQL database and Redis DB 10. The client side
trusts the certificate through ``SSL_CERT_FILE``, as the real TLS verification of every client
library here honours it.

What a team deploying this relies on (issue 11 §5): the official SDK connects through the
proxy, SSE events are not buffered, the registration rate limit sees client addresses through
``X-Forwarded-For``, and ``manage.py doctor`` passes against the proxy's URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid

import anyio
import httpx
import psycopg
import pytest
import redis
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.test_sdk_mcp import TIMEOUT, assert_oauth_from_401, legacy_session, sdk_wire
from tests.support.daphne import REPO, start_daphne
from tests.support.environment_file import production_environment
from tests.support.https_server import make_certificate
from tests.support.nginx import listening_socket, render_site, start_nginx

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
REDIS_DB = 10
RATE_LIMIT = 5  # registrations per minute and client address, for this cluster
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
REGISTRATION = {  # the Python SDK's DCR body (CLIENT-05)
    "client_name": "rate-limit probe", "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
    "token_endpoint_auth_method": "none", "application_type": "native",
}


class Cluster:
    def __init__(self, url: str, nginx, daphnes, cert, secret: str) -> None:
        self.url, self.nginx, self.daphnes, self.cert, self.secret = url, nginx, daphnes, cert, secret


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    name = "mcp_nginx_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    cert, key = make_certificate(tmp)
    tls, plain = listening_socket(), listening_socket()
    url = f"https://localhost:{tls.getsockname()[1]}"
    env = production_environment(
        PUBLIC_URL=url, ALLOWED_HOSTS="localhost", DATABASE_URL=POSTGRES + name,
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}", REGISTER_RATE_LIMIT=f"{RATE_LIMIT}/m",
        # The production settings plus the demo streaming tool the GET-stream test calls (tests only).
        DJANGO_SETTINGS_MODULE="tests.settings_e2e",
    )
    del env["DATA_DIR"]  # each process gets its own scratch folder; all state is in PostgreSQL and Redis
    previous_cert_file = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(cert)
    daphnes, nginx = [], None
    try:
        daphnes = [start_daphne(tmp / "a", env), start_daphne(tmp / "b", env)]
        site = render_site(tls_port=tls.getsockname()[1], http_port=plain.getsockname()[1],
                           upstreams=[d.url.removeprefix("http://") for d in daphnes], cert=cert, key=key, webroot=tmp)
        nginx = start_nginx(tmp / "nginx", site, [tls, plain])
        a = daphnes[0]
        a.create_user("alice", "wonderland-42")
        secret = secrets.token_urlsafe(32)
        a.manage("shell", "-c", (
            "from oauth_app.models import Client;"
            f"c = Client(name='nginx', client_id='client_nginx', client_type='confidential', client_secret={secret!r},"
            "authorization_grant_type='client-credentials', token_endpoint_auth_method='client_secret_post'); c.save()"))
        yield Cluster(url, nginx, daphnes, cert, secret)
    finally:
        if nginx is not None:
            nginx.stop()
        for daphne in daphnes:
            daphne.stop()
        if previous_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous_cert_file
        with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bearer(cluster: Cluster) -> str:
    response = httpx.post(cluster.url + "/token", data={"grant_type": "client_credentials", "client_id": "client_nginx",
                                                       "client_secret": cluster.secret, "scope": "mcp"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def mcp_headers(token: str, session: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "Content-Type": "application/json",
               "MCP-Protocol-Version": LEGACY}
    if session:
        headers["Mcp-Session-Id"] = session
    return headers


# --- The official SDK through nginx ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_sdk_client_connects_through_nginx(cluster):
    """AUTH-05, CLAUDE-07, TRANS-17: the SDK authorizes from the 401 and uses /mcp through the proxy, in
    both eras; the metadata it reads names the https URL (SECURE_PROXY_SSL_HEADER), and both daphne
    processes serve the conversation (no sticky routing)."""
    before = [len(d.log()) for d in cluster.daphnes]
    with anyio.fail_after(TIMEOUT):
        async with sdk_wire(cluster.url) as wire:
            async with legacy_session(wire, LEGACY) as session:
                assert_oauth_from_401(wire, "initialize")
                result = await session.call_tool("whoami", {})
                assert result.structured_content["username"] == "alice"
        async with sdk_wire(cluster.url) as wire:
            async with Client(streamable_http_client(wire.endpoint, http_client=wire.http)) as client:
                assert_oauth_from_401(wire, "server/discover")
                result = await client.call_tool("whoami", {})
                assert result.structured_content["username"] == "alice"
    served = [d.log()[start:] for d, start in zip(cluster.daphnes, before)]
    assert all('"POST /mcp"' in log or '"POST /token"' in log for log in served), "one daphne served nothing"


def test_http_redirects_to_https_and_hsts_is_sent(cluster):
    """SEC: port 80 only redirects; Django's pages carry HSTS behind the proxy (SECURE_HSTS_*)."""
    plain = cluster.nginx.sockets[1].getsockname()[1]
    redirect = httpx.get(f"http://127.0.0.1:{plain}/.well-known/oauth-authorization-server", headers={"Host": "localhost"})
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://localhost/.well-known/oauth-authorization-server"
    metadata = httpx.get(cluster.url + "/.well-known/oauth-authorization-server")
    assert metadata.json()["issuer"] == cluster.url
    assert metadata.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"


# --- SSE through nginx ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_stream_events_arrive_within_a_second(cluster):
    """TRANS-17: notifications sent 1.5 s apart to the session's GET stream each arrive within 1 s of
    being sent: nginx's /mcp location does not buffer (or gzip, which Debian turns on) the stream."""
    token = bearer(cluster)
    interval, count = 1.5, 3
    async with httpx.AsyncClient(timeout=30) as http:
        init = await http.post(cluster.url + "/mcp", headers=mcp_headers(token), json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "nginx", "version": "1"}}})
        assert init.status_code == 200
        session = init.headers["mcp-session-id"]
        arrivals: list[float] = []
        async with http.stream("GET", cluster.url + "/mcp",
                               headers={**mcp_headers(token, session), "Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert "content-encoding" not in stream.headers
            lines = stream.aiter_lines()
            async with asyncio.timeout(10):
                async for line in lines:  # the priming event: the stream is subscribed
                    if line.startswith("id:"):
                        break
            started = time.monotonic()
            call = asyncio.create_task(http.post(cluster.url + "/mcp", headers=mcp_headers(token, session), json={
                "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "start-notification-stream",
                           "arguments": {"interval": interval, "count": count, "caller": "nginx", "target": "session"}}}))
            async with asyncio.timeout(interval * count + 10):
                async for line in lines:
                    if line.startswith("data: {"):
                        arrivals.append(time.monotonic() - started)
                        if len(arrivals) == count:
                            break
            assert (await call).status_code == 200
    lateness = [arrival - step * interval for step, arrival in enumerate(arrivals)]
    assert all(late < 1.0 for late in lateness), f"events arrived {lateness} s after they were sent"


# --- X-Forwarded-For and the registration rate limit ------------------------------------------------------


def register_from(cluster: Cluster, address: str, **headers: str) -> int:
    """POST /register through nginx from the loopback address ``address`` (nginx sees it as $remote_addr)."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=10) as http:
        return http.post(cluster.url + "/register", json=REGISTRATION, headers=headers).status_code


def test_rate_limit_counts_client_addresses_through_x_forwarded_for(cluster):
    """TRUSTED_PROXIES=1: the limit counts the address nginx appends to X-Forwarded-For, per client, and a
    client cannot escape it (or frame another client) with an X-Forwarded-For of its own."""
    assert [register_from(cluster, "127.0.0.2") for _ in range(RATE_LIMIT)] == [201] * RATE_LIMIT
    assert register_from(cluster, "127.0.0.2") == 429
    assert register_from(cluster, "127.0.0.2", **{"X-Forwarded-For": "198.51.100.7"}) == 429  # spoof ignored
    assert register_from(cluster, "127.0.0.3") == 201  # another client: its own count
    assert register_from(cluster, "127.0.0.4", **{"X-Forwarded-For": "127.0.0.2"}) == 201  # not charged to .2


# --- The doctor against the proxy ------------------------------------------------------------------------


def doctor(cluster: Cluster) -> tuple[int, dict]:
    env = {**cluster.daphnes[0].env, "SSL_CERT_FILE": str(cluster.cert)}
    result = subprocess.run([sys.executable, "manage.py", "doctor", cluster.url + "/mcp", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def doctor_run(cluster):
    return doctor(cluster)


def test_doctor_passes_every_step_loopback_allows(doctor_run):
    """CLAUDE-01, CLAUDE-07, CLAUDE-08, CLAUDE-11, CLIENT-07: through nginx every step passes but DNS,
    which is skipped for loopback; the TLS step verifies the proxy's certificate and the SSE probe
    is not buffered. (The registration step is asserted on its own below.)"""
    _, report = doctor_run
    statuses = {step["name"]: step["status"] for step in report["steps"]}
    assert statuses.pop("dns") == "skip"
    statuses.pop("registration")
    failures = [step for step in report["steps"] if step["name"] in statuses and step["status"] != "pass"]
    assert not failures, failures
    assert list(statuses) == ["tls", "challenge", "prm", "as-metadata", "jwks", "sse", "clock", "claude-user"]


def test_doctor_registers_claude_and_deletes_it_through_nginx(cluster, doctor_run):
    """CLAUDE-05: Claude's real registration body succeeds through the proxy and is deleted again (RFC 7592),
    so the doctor's exit status is 0."""
    code, report = doctor_run
    registration = next(step for step in report["steps"] if step["name"] == "registration")
    assert registration["status"] == "pass", registration
    assert code == 0
    left = cluster.daphnes[0].manage("shell", "-c", "from oauth_app.models import Client; "
                                     "print(Client.objects.filter(name='Claude').count())").stdout.split()[-1]
    assert left == "0"  # the doctor leaves nothing behind
