"""Scale-out: two real daphne processes sharing PostgreSQL and a Redis channel layer.

Sessions, streams and revocation must not depend on which process a request lands on
(issue 4 §3: "stored so that any worker process can serve it"; issue 3 §6: revocation seen by
other processes within one second). The machine (and CI, see ``.ci/run``) serves PostgreSQL on
127.0.0.1:5432 with trust auth and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid

import httpx
import psycopg
import pytest

from tests.support.daphne import start_daphne

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
REDIS_DB = 11
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two daphne processes (A and B) on one PostgreSQL database and one Redis database."""
    name = "mcp_scale_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    env = {"DATABASE_URL": POSTGRES + name, "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}", "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "DJANGO_SETTINGS_MODULE": "tests.settings_e2e"}
    a = start_daphne(tmp_path_factory.mktemp("a"), env)
    b = start_daphne(tmp_path_factory.mktemp("b"), {**env, "PUBLIC_URL": a.url})
    secret = secrets.token_urlsafe(32)
    a.manage("shell", "-c", (
        "from oauth_app.models import Client;"
        f"c = Client(name='scale', client_id='client_scaleout', client_type='confidential', client_secret={secret!r},"
        "authorization_grant_type='client-credentials', token_endpoint_auth_method='client_secret_post'); c.save()"))
    yield a, b, secret
    a.stop()
    b.stop()
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def token(server, secret: str, scope: str = "mcp") -> str:
    response = httpx.post(server.url + "/token", data={"grant_type": "client_credentials", "client_id": "client_scaleout",
                                                      "client_secret": secret, "scope": scope})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def headers(bearer: str, session: str | None = None) -> dict[str, str]:
    result = {"Authorization": f"Bearer {bearer}", "Accept": ACCEPT, "Content-Type": "application/json",
              "MCP-Protocol-Version": LEGACY}
    if session:
        result["Mcp-Session-Id"] = session
    return result


def initialize(server, bearer: str) -> str:
    response = httpx.post(server.url + "/mcp", headers=headers(bearer), json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "scale", "version": "1"}}})
    assert response.status_code == 200
    return response.headers["mcp-session-id"]


def test_session_created_on_a_is_served_by_b(cluster):
    """TRANS-12, TRANS-16: a session lives in the database, not in one process's memory."""
    a, b, secret = cluster
    bearer = token(a, secret)
    session = initialize(a, bearer)
    response = httpx.post(b.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    assert response.status_code == 200
    assert "whoami" in {tool["name"] for tool in response.json()["result"]["tools"]}


def test_delete_on_b_ends_the_session_on_a(cluster):
    a, b, secret = cluster
    bearer = token(a, secret)
    session = initialize(a, bearer)
    assert httpx.delete(b.url + "/mcp", headers=headers(bearer, session)).status_code == 204
    response = httpx.post(a.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {}})
    assert response.status_code == 404


def test_revocation_on_a_is_immediate_on_b(cluster):
    """Issue 3 §6: a token revoked through one process fails verification in another at once."""
    a, b, secret = cluster
    bearer = token(a, secret)
    session = initialize(b, bearer)
    assert httpx.post(a.url + "/revoke", data={"token": bearer, "client_id": "client_scaleout",
                                               "client_secret": secret}).status_code == 200
    response = httpx.post(b.url + "/mcp", headers=headers(bearer, session),
                          json={"jsonrpc": "2.0", "id": 4, "method": "ping", "params": {}})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.asyncio
async def test_get_stream_on_b_receives_notification_sent_from_a(cluster):
    """TRANS-17, TRANS-18: a server message produced on A reaches the session's GET stream held by B (Redis)."""
    a, b, secret = cluster
    bearer = token(a, secret)
    session = initialize(a, bearer)
    received: list[dict] = []
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream("GET", b.url + "/mcp", headers={**headers(bearer, session), "Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            # The priming event proves B has subscribed before the tool runs on A.
            async with asyncio.timeout(30):
                async for line in lines:
                    if line.startswith("id:"):
                        break
            call = await http.post(a.url + "/mcp", headers=headers(bearer, session), json={
                "jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {"name": "start-notification-stream",
                           "arguments": {"interval": 0, "count": 2, "caller": "scale", "target": "session"}}})
            assert call.status_code == 200
            async with asyncio.timeout(30):
                async for line in lines:
                    if line.startswith("data: {"):
                        received.append(json.loads(line[6:]))
                        if len(received) == 2:
                            break
    assert [m["params"]["data"] for m in received] == ["[1/2] Event from scale", "[2/2] Event from scale"]
