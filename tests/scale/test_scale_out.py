"""Scale-out: real daphne processes sharing PostgreSQL and a Redis channel layer (issue 12).

Sessions, streams, notifications and revocation must not depend on which process a request lands
on (issue 4 §3: "stored so that any worker process can serve it"; issue 12 "Done when"):

* a session created on A serves requests on B, and a notification produced on one process
  reaches the GET stream held on the other (TRANS-12, TRANS-16, TRANS-17, TRANS-18);
* revoking a token on B, by any path (``/revoke``, the admin's bulk revocation, refresh-token
  reuse, the ``revoke_client_tokens`` tool), closes the stream it opened on A within one second,
  and the token then gets 401 (AUTH-14, issue 3 §6);
* a process killed mid-stream loses nothing: resuming on another process with ``Last-Event-ID``
  delivers every event the client had not seen, in order, exactly once (TRANS-19, TRANS-20);
  SIGTERM ends open streams cleanly (the chunked body is terminated, no reset), and they resume.

The machine (and CI, see ``.ci/run``) serves PostgreSQL on 127.0.0.1:5432 with trust auth; each
run gets a fresh database there. Redis is a ``redis-server`` of the run's own, on a unix socket in
the test's temporary folder (the binary ``.ci/run`` installs): runs in parallel (CI, developers,
several worktrees) never see each other's groups and keys, and no shared Redis database is flushed.
Processes that a test kills are its own (:func:`victim`), started on the same database and Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet
import psycopg
import pytest

from tests.support.daphne import DaphneServer, start_daphne
from tests.support.oauth import Pkce, authorize_query
from tests.support.oauth_browserless import headless_consent, parse_forms

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
CALLBACK = "http://127.0.0.1:33418/callback"
ALICE = ("alice", "wonderland-42")
ROOT = ("root", "staff-password-42")
# Issue 12 §4: "closes the affected live SSE streams on every process within one second".
REVOCATION_BOUND_SECONDS = 1.0
# How long a test waits for something that should happen at once before it reports it missing.
PATIENCE_SECONDS = 20


@dataclass
class Cluster:
    a: DaphneServer
    b: DaphneServer
    env: dict[str, str]
    tmp: pytest.TempPathFactory
    secret: str = ""  # of client_scaleout, the client most tests use

    def client(self, client_id: str, **fields: str) -> str:
        """Register a confidential client-credentials client; returns its secret."""
        secret = secrets.token_urlsafe(32)
        extra = "".join(f", {name}={value!r}" for name, value in fields.items())
        self.a.manage("shell", "-c", (
            "from oauth_app.models import Client;"
            f"Client(name={client_id!r}, client_id={client_id!r}, client_type='confidential', client_secret={secret!r},"
            f"authorization_grant_type='client-credentials', token_endpoint_auth_method='client_secret_post'{extra}).save()"))
        return secret


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> str:
    """A Redis server for this run alone, listening on a unix socket; ready when it says so."""
    binary = shutil.which("redis-server") or pytest.fail("redis-server is not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("redis")
    sock = folder / "redis.sock"
    process = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
                                "--dir", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(30, process.kill)  # bounds the wait below if it never gets ready
    watchdog.start()
    try:
        for line in process.stdout:  # its own log line, not polling ("ready to accept connections")
            if "ready to accept connections" in line.lower():
                break
        else:
            pytest.fail(f"redis-server did not start (exit status {process.wait()})")
    finally:
        watchdog.cancel()
    process.stdout.close()  # nothing more is read; redis-server logs little after start-up
    yield f"unix://{sock}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_url):
    """Two daphne processes (A and B) on one PostgreSQL database and one Redis."""
    name = "mcp_scale_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    # As in any deployment of several processes: one database, one Redis, the same secrets.
    env = {"DATABASE_URL": POSTGRES + name, "REDIS_URL": redis_url, "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "SECRET_KEY": secrets.token_urlsafe(50), "SIGNING_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "DJANGO_SETTINGS_MODULE": "tests.settings_e2e"}
    a = start_daphne(tmp_path_factory.mktemp("a"), env)
    # One issuer for the whole deployment: every process has A's PUBLIC_URL, as behind a proxy.
    env["PUBLIC_URL"] = a.url
    b = start_daphne(tmp_path_factory.mktemp("b"), env)
    a.manage("shell", "-c", (
        "from django.contrib.auth import get_user_model; User = get_user_model();"
        f"User.objects.create_user({ALICE[0]!r}, password={ALICE[1]!r});"
        f"User.objects.create_superuser({ROOT[0]!r}, password={ROOT[1]!r});"
        "from oauth_app.models import Client;"
        f"Client(name='Public', client_id='client_public', client_type='public', redirect_uris={CALLBACK!r},"
        "authorization_grant_type='authorization-code', token_endpoint_auth_method='none').save()"))
    result = Cluster(a, b, env, tmp_path_factory)
    result.secret = result.client("client_scaleout")
    yield result
    a.stop()
    b.stop()
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def victim(cluster):
    """A third process on the same database and Redis, for a test to kill (it plays A's part)."""
    server = start_daphne(cluster.tmp.mktemp("victim"), cluster.env)
    yield server
    server.stop()


# --- HTTP helpers ---------------------------------------------------------------------------------


def token(server: DaphneServer, secret: str, scope: str = "mcp", client_id: str = "client_scaleout") -> str:
    response = httpx.post(server.url + "/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret, "scope": scope})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def headers(bearer: str, session: str | None = None) -> dict[str, str]:
    result = {"Authorization": f"Bearer {bearer}", "Accept": ACCEPT, "Content-Type": "application/json",
              "MCP-Protocol-Version": LEGACY}
    if session:
        result["Mcp-Session-Id"] = session
    return result


def initialize(server: DaphneServer, bearer: str) -> str:
    response = httpx.post(server.url + "/mcp", headers=headers(bearer), json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "scale", "version": "1"}}})
    assert response.status_code == 200
    return response.headers["mcp-session-id"]


def notify_call(caller: str, count: int, interval: float = 0.0, request_id: int = 7) -> dict:
    """A tools/call of the demo tool that sends ``count`` notifications to the session's GET stream."""
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": "start-notification-stream",
                       "arguments": {"interval": interval, "count": count, "caller": caller, "target": "session"}}}


def texts(caller: str, count: int, first: int = 1) -> list[str]:
    return [f"[{step}/{count}] Event from {caller}" for step in range(first, count + 1)]


class SSEReader:
    """The events of an SSE response, parsed as the HTML standard says; comments are skipped."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self) -> tuple[str | None, dict | None] | None:
        """The next event as ``(id, data)`` (``data`` None for a priming event), or None at the end."""
        event_id: str | None = None
        data: list[str] = []
        async for line in self.lines:
            if line == "":
                if event_id is not None or data:
                    payload = "\n".join(data)
                    return event_id, json.loads(payload) if payload else None
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
        return None

    async def messages(self, count: int) -> list[tuple[str, dict]]:
        """The next ``count`` events that carry a message, with their ids."""
        found: list[tuple[str, dict]] = []
        async with asyncio.timeout(PATIENCE_SECONDS):
            while len(found) < count:
                event = await self.next()
                assert event is not None, f"stream ended after {len(found)} of {count} messages"
                if event[1] is not None:
                    found.append(event)
        return found

    async def until_end(self) -> list[tuple[str | None, dict | None]]:
        """Every remaining event; returns once the server has terminated the body cleanly."""
        rest = []
        while (event := await self.next()) is not None:
            rest.append(event)
        return rest


@asynccontextmanager
async def get_stream(http: httpx.AsyncClient, server: DaphneServer, bearer: str, session: str,
                     last_event_id: str | None = None) -> AsyncIterator[SSEReader]:
    """An open GET stream. A new one is returned once its priming event arrived (it is subscribed)."""
    extra = {"Accept": "text/event-stream"} | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    async with http.stream("GET", server.url + "/mcp", headers={**headers(bearer, session), **extra}) as response:
        if response.status_code != 200:
            await response.aread()
        assert response.status_code == 200, (response.status_code, response.text)
        reader = SSEReader(response)
        if last_event_id is None:
            async with asyncio.timeout(PATIENCE_SECONDS):
                first = await reader.next()
            assert first is not None and first[0] and first[1] is None, first  # the priming event
        yield reader


def seq(event_id: str) -> int:
    return int(event_id.rpartition(".")[2])


async def assert_closed_by(reader: SSEReader, revoke) -> None:
    """``revoke()`` (a coroutine acting on another process) ends the stream cleanly within one second."""
    ending = asyncio.ensure_future(reader.until_end())
    try:
        await revoke()
        revoked_at = time.monotonic()
        try:
            async with asyncio.timeout(5 * REVOCATION_BOUND_SECONDS):
                rest = await asyncio.shield(ending)
        except TimeoutError:
            pytest.fail(f"the stream was still open {5 * REVOCATION_BOUND_SECONDS:.0f} s after the revocation")
        closed_after = max(0.0, time.monotonic() - revoked_at)
    finally:
        ending.cancel()
    assert [data for _, data in rest if data is not None] == []
    assert closed_after < REVOCATION_BOUND_SECONDS, f"closed {closed_after:.2f} s after the revocation"


def assert_rejected(server: DaphneServer, bearer: str, session: str) -> None:
    response = httpx.post(server.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {}})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]




# --- Sessions and notifications across processes ----------------------------------------------------


def test_session_created_on_a_is_served_by_b(cluster):
    """TRANS-12, TRANS-16: a session lives in the database, not in one process's memory."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.a, bearer)
    response = httpx.post(cluster.b.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    assert response.status_code == 200
    assert "whoami" in {tool["name"] for tool in response.json()["result"]["tools"]}


def test_delete_on_b_ends_the_session_on_a(cluster):
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.a, bearer)
    assert httpx.delete(cluster.b.url + "/mcp", headers=headers(bearer, session)).status_code == 204
    response = httpx.post(cluster.a.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {}})
    assert response.status_code == 404


@pytest.mark.asyncio
async def test_delete_on_b_closes_the_get_stream_on_a(cluster):
    """TRANS-14: ending a session ends its open streams, wherever they are held."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.a, bearer)
    async with httpx.AsyncClient(timeout=30) as http:
        async with get_stream(http, cluster.a, bearer, session) as stream:
            assert (await http.delete(cluster.b.url + "/mcp", headers=headers(bearer, session))).status_code == 204
            async with asyncio.timeout(PATIENCE_SECONDS):
                assert await stream.until_end() == []


def test_revocation_on_a_is_immediate_on_b(cluster):
    """Issue 3 §6: a token revoked through one process fails verification in another at once."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.b, bearer)
    assert httpx.post(cluster.a.url + "/revoke", data={"token": bearer, "client_id": "client_scaleout",
                                                       "client_secret": cluster.secret}).status_code == 200
    assert_rejected(cluster.b, bearer, session)


@pytest.mark.asyncio
async def test_get_stream_on_b_receives_notification_sent_from_a(cluster):
    """TRANS-17, TRANS-18: a server message produced on A reaches the session's GET stream held by B (Redis)."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.a, bearer)
    async with httpx.AsyncClient(timeout=30) as http:
        async with get_stream(http, cluster.b, bearer, session) as stream:
            call = await http.post(cluster.a.url + "/mcp", headers=headers(bearer, session), json=notify_call("scale", 2))
            assert call.status_code == 200
            received = await stream.messages(2)
    assert [m["params"]["data"] for _, m in received] == texts("scale", 2)


# --- Revocation closes live streams on other processes (issue 12 §4) --------------------------------


@pytest.mark.asyncio
async def test_revoke_endpoint_on_b_closes_the_stream_on_a(cluster):
    """RFC 7009 ``/revoke`` on B: the GET stream the token holds on A ends within 1 s; the token gets 401."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(cluster.a, bearer)

    async with httpx.AsyncClient(timeout=30) as http:
        async def revoke() -> None:
            response = await http.post(cluster.b.url + "/revoke", data={
                "token": bearer, "client_id": "client_scaleout", "client_secret": cluster.secret})
            assert response.status_code == 200

        async with get_stream(http, cluster.a, bearer, session) as stream:
            await assert_closed_by(stream, revoke)
    assert_rejected(cluster.a, bearer, session)


@pytest.mark.asyncio
async def test_admin_revoke_all_on_b_closes_the_stream_on_a(cluster):
    """The admin's "Revoke all tokens of the selected clients" (oauth_app.revocation) on B closes A's stream."""
    secret = cluster.client("client_admin_revoked")
    bearer = token(cluster.a, secret, client_id="client_admin_revoked")
    session = initialize(cluster.a, bearer)
    async with httpx.AsyncClient(timeout=30, base_url=cluster.b.url) as admin, httpx.AsyncClient(timeout=30) as http:
        page = await admin.get("/admin/login/")
        login = await admin.post("/admin/login/", data={"username": ROOT[0], "password": ROOT[1], "next": "/admin/",
                                                        "csrfmiddlewaretoken": admin.cookies["csrftoken"]})
        assert page.status_code == 200 and login.status_code == 302, login.text[:500]
        changelist = await admin.get("/admin/oauth_app/client/", params={"q": "client_admin_revoked"})
        assert changelist.status_code == 200
        pk = _selected_pk(changelist.text, "client_admin_revoked")

        async def revoke() -> None:
            response = await admin.post("/admin/oauth_app/client/", data={
                "action": "revoke_all_tokens", "_selected_action": pk, "confirmed": "yes", "index": "0",
                "csrfmiddlewaretoken": admin.cookies["csrftoken"]})
            assert response.status_code == 302, response.text[:500]  # back to the list, with a message

        async with get_stream(http, cluster.a, bearer, session) as stream:
            await assert_closed_by(stream, revoke)
    assert_rejected(cluster.a, bearer, session)


def _selected_pk(html: str, client_id: str) -> str:
    """The primary key in the changelist's action checkbox of the only row listed."""
    values = [i.get("value") for form in parse_forms(html) for i in form.inputs if i.get("name") == "_selected_action"]
    assert len(values) == 1, f"expected one row for {client_id}, got {values}"
    return values[0]


@pytest.mark.asyncio
async def test_admin_tool_on_b_closes_the_stream_on_a(cluster):
    """The ``revoke_client_tokens`` MCP tool, called on B by an admin client, closes A's stream."""
    secret = cluster.client("client_tool_revoked")
    bearer = token(cluster.a, secret, client_id="client_tool_revoked")
    session = initialize(cluster.a, bearer)
    admin_bearer = token(cluster.a, cluster.secret, scope="mcp admin")
    admin_session = initialize(cluster.b, admin_bearer)

    async with httpx.AsyncClient(timeout=30) as http:
        async def revoke() -> None:
            response = await http.post(cluster.b.url + "/mcp", headers=headers(admin_bearer, admin_session), json={
                "jsonrpc": "2.0", "id": 11, "method": "tools/call",
                "params": {"name": "revoke_client_tokens", "arguments": {"client_id": "client_tool_revoked"}}})
            assert response.status_code == 200
            assert not response.json()["result"].get("isError"), response.json()
            assert "Revoked 1 access token" in response.json()["result"]["content"][0]["text"], response.json()

        async with get_stream(http, cluster.a, bearer, session) as stream:
            await assert_closed_by(stream, revoke)
    assert_rejected(cluster.a, bearer, session)


@pytest.mark.asyncio
async def test_refresh_token_reuse_on_b_closes_the_stream_on_a(cluster):
    """A replayed refresh token (RFC 9700 §4.14.2) revokes its family: the stream of the current token ends."""
    pkce = Pkce.new()
    query = authorize_query("client_public", CALLBACK, pkce, resource=cluster.a.url + "/mcp")
    redirect = await headless_consent(cluster.a.url + "/authorize?" + urlencode(query), username=ALICE[0], password=ALICE[1])
    assert redirect.code, redirect
    first = httpx.post(cluster.a.url + "/token", data={"grant_type": "authorization_code", "code": redirect.code,
                                                      "redirect_uri": CALLBACK, "client_id": "client_public",
                                                      "code_verifier": pkce.verifier}).json()
    second = httpx.post(cluster.a.url + "/token", data={"grant_type": "refresh_token", "client_id": "client_public",
                                                       "refresh_token": first["refresh_token"]}).json()
    assert "access_token" in second, second
    # The first refresh token was rotated a minute ago, as far as the server can tell: outside the
    # 10 s grace window for a client retrying a lost response, its replay is theft.
    checksum = hashlib.sha256(first["refresh_token"].encode()).hexdigest()
    cluster.a.manage("shell", "-c", (
        "from datetime import timedelta; from django.utils import timezone;"
        "from oauth2_provider.models import RefreshToken;"
        f"assert RefreshToken.objects.filter(token_checksum={checksum!r}).update(revoked=timezone.now() - timedelta(minutes=1)) == 1"))
    bearer = second["access_token"]
    session = initialize(cluster.a, bearer)

    async with httpx.AsyncClient(timeout=30) as http:
        async def revoke() -> None:
            response = await http.post(cluster.b.url + "/token", data={
                "grant_type": "refresh_token", "client_id": "client_public", "refresh_token": first["refresh_token"]})
            assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text

        async with get_stream(http, cluster.a, bearer, session) as stream:
            await assert_closed_by(stream, revoke)
    assert_rejected(cluster.a, bearer, session)


# --- A process that dies or stops loses nothing (issue 12 §5) ------------------------------------------------


async def _resume_and_collect(http: httpx.AsyncClient, server: DaphneServer, bearer: str, session: str,
                              last_event_id: str, expected: list[str]) -> list[tuple[str, dict]]:
    """Resume on ``server`` after ``last_event_id``: the missed events, then proof nothing else follows.

    After the expected events, one more notification ("marker") is sent; it must be the very next
    event, so a duplicate delivered late would show up without waiting for it to (not) arrive.
    """
    async with get_stream(http, server, bearer, session, last_event_id=last_event_id) as stream:
        resumed = await stream.messages(len(expected))
        call = await http.post(server.url + "/mcp", headers=headers(bearer, session), json=notify_call("marker", 1, request_id=99))
        assert call.status_code == 200
        marker = await stream.messages(1)
    assert [m["params"]["data"] for _, m in resumed] == expected
    assert [m["params"]["data"] for _, m in marker] == texts("marker", 1)
    ids = [seq(event_id) for event_id, _ in resumed + marker]
    assert ids == sorted(set(ids)) and ids[0] > seq(last_event_id)
    return resumed



@pytest.mark.asyncio
async def test_killed_process_loses_nothing_on_resume_elsewhere(cluster, victim):
    """SIGKILL the process holding the GET stream mid-stream; resuming on B with Last-Event-ID gets the rest.

    The notifications come from a tool call running on B, which goes on while the victim dies.
    Every event the client had not yet parsed arrives, in order, exactly once (TRANS-19, TRANS-20).
    """
    count, seen_before_kill = 30, 5
    bearer = token(cluster.a, cluster.secret)
    session = initialize(victim, bearer)
    async with httpx.AsyncClient(timeout=60) as http:
        call = None
        async with get_stream(http, victim, bearer, session) as stream:
            call = asyncio.ensure_future(http.post(cluster.b.url + "/mcp", headers=headers(bearer, session),
                                                   json=notify_call("kill", count, interval=0.05)))
            seen = await stream.messages(seen_before_kill)
            victim.process.kill()
            victim.process.wait(timeout=30)
            try:
                async with asyncio.timeout(PATIENCE_SECONDS):
                    seen += [event for event in await stream.until_end() if event[1] is not None]
            except httpx.TransportError:
                pass  # the expected way for a killed server's stream to end: the connection drops
        assert [m["params"]["data"] for _, m in seen] == texts("kill", count)[:len(seen)]
        resumed = await _resume_and_collect(http, cluster.b, bearer, session, seen[-1][0],
                                            texts("kill", count, first=len(seen) + 1))
        assert (await call).status_code == 200
    assert len(seen) + len(resumed) == count



@pytest.mark.asyncio
async def test_sigterm_ends_streams_cleanly(cluster, victim):
    """Graceful shutdown (issue 12 §5): SIGTERM terminates the open GET stream's body properly."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(victim, bearer)
    async with httpx.AsyncClient(timeout=60) as http:
        async with get_stream(http, victim, bearer, session) as stream:
            call = await http.post(cluster.b.url + "/mcp", headers=headers(bearer, session), json=notify_call("term", 2))
            assert call.status_code == 200
            assert len(await stream.messages(2)) == 2
            victim.process.terminate()
            async with asyncio.timeout(PATIENCE_SECONDS):
                rest = await stream.until_end()  # raises httpx.RemoteProtocolError on a truncated body
    assert [data for _, data in rest if data is not None] == []
    assert victim.process.wait(timeout=30) == 0


@pytest.mark.asyncio
async def test_stream_stopped_by_sigterm_resumes_elsewhere(cluster, victim):
    """After SIGTERM, the session's GET stream resumes on B with Last-Event-ID: nothing lost, nothing twice."""
    bearer = token(cluster.a, cluster.secret)
    session = initialize(victim, bearer)
    async with httpx.AsyncClient(timeout=60) as http:
        async with get_stream(http, victim, bearer, session) as stream:
            call = await http.post(cluster.b.url + "/mcp", headers=headers(bearer, session), json=notify_call("before", 3))
            assert call.status_code == 200
            seen = await stream.messages(3)
            victim.process.terminate()
            victim.process.wait(timeout=30)
            try:
                async with asyncio.timeout(PATIENCE_SECONDS):
                    await stream.until_end()
            except httpx.TransportError:
                pass  # see test_sigterm_ends_streams_cleanly
        # Produced while no stream is open: stored, and replayed after the last id the client saw.
        call = await http.post(cluster.b.url + "/mcp", headers=headers(bearer, session), json=notify_call("after", 3))
        assert call.status_code == 200
        await _resume_and_collect(http, cluster.b, bearer, session, seen[-1][0], texts("after", 3))
