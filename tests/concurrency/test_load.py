"""A bounded load test on real daphne: 32 workers for about 15 s, on SQLite and on PostgreSQL.

Each worker, in a loop, picks one of: exchange a fresh code, refresh its pair, refresh its pair
twice at once (a race it must lose once), register Claude's real body at ``/register``, open a
legacy session and use it, call the stateless era, revoke its pair. Then (issue 8, "Done when"):

* no answer was a 5xx, and the server log has no traceback (the clean-log check);
* every access token the server issued and nobody revoked (by ``/revoke``, or by rotating it
  away) still works at ``/mcp``;
* every legacy session that was created still answers (none lost).

The time bound is a deadline on starting new steps, not an assertion: nothing here is timed.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx
import psycopg
import pytest

from tests.support.daphne import DaphneServer, start_daphne
from tests.support.live import CLAUDE_REGISTRATION, SDK_REGISTRATION, Mcp, authorize, create_public_client, exchange, refresh, revoke

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

WORKERS = 32
SECONDS = 15
POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
CLIENT_ID = "client_load"
PEOPLE = [(f"person{i}", f"load-password-{i}-42") for i in range(4)]


@dataclass
class Ledger:
    """What the workers were given and what they gave back, to check nothing was lost."""

    statuses: Counter = field(default_factory=Counter)
    live_access_tokens: dict[str, str] = field(default_factory=dict)  # token -> who holds it
    sessions: list[tuple[str, str]] = field(default_factory=list)  # (session id, holder)
    server_errors: list[str] = field(default_factory=list)

    def note(self, what: str, response: httpx.Response) -> httpx.Response:
        self.statuses[(what, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{what}: {response.status_code} {response.text[:300]}")
        return response


@dataclass
class Worker:
    name: str
    person: tuple[str, str]
    http: httpx.AsyncClient
    server: DaphneServer
    ledger: Ledger
    tokens: dict | None = None

    def _take(self, tokens: dict) -> None:
        if self.tokens is not None:
            self.ledger.live_access_tokens.pop(self.tokens["access_token"], None)  # rotated away or revoked
        self.tokens = tokens
        self.ledger.live_access_tokens[tokens["access_token"]] = self.name

    async def new_pair(self) -> None:
        code, pkce = await authorize(self.server, CLIENT_ID, *self.person)
        response = self.ledger.note("code exchange", await exchange(self.http, self.server, CLIENT_ID, code, pkce))
        assert response.status_code == HTTPStatus.OK, response.text
        self._take(response.json())

    async def refresh(self) -> None:
        response = self.ledger.note("refresh", await refresh(self.http, self.server, CLIENT_ID, self.tokens["refresh_token"]))
        assert response.status_code == HTTPStatus.OK, response.text
        self._take(response.json())

    async def refresh_twice_at_once(self) -> None:
        answers = await asyncio.gather(*(refresh(self.http, self.server, CLIENT_ID, self.tokens["refresh_token"])
                                         for _ in range(2)))
        for answer in answers:
            self.ledger.note("racing refresh", answer)
        winners = [a for a in answers if a.status_code == HTTPStatus.OK]
        losers = [a for a in answers if a.status_code != HTTPStatus.OK]
        assert len(winners) == 1, [a.text for a in answers]
        assert [a.json()["error"] for a in losers] == ["invalid_grant"]
        self._take(winners[0].json())

    async def register(self) -> None:
        # Claude's real body (refused while DOT refuses its jwt-bearer grant: issue 7) and the MCP SDK's own.
        self.ledger.note("register (Claude)", await self.http.post(f"{self.server.url}/register", json=CLAUDE_REGISTRATION))
        response = self.ledger.note("register (SDK)", await self.http.post(f"{self.server.url}/register", json=SDK_REGISTRATION))
        assert response.status_code == HTTPStatus.CREATED, response.text

    async def legacy_session(self) -> None:
        mcp = Mcp(self.http, self.server, self.tokens["access_token"])
        response = self.ledger.note("initialize", await mcp.initialize())
        assert response.status_code == HTTPStatus.OK, response.text
        session_id = response.headers["mcp-session-id"]
        self.ledger.sessions.append((session_id, self.name))
        listed = self.ledger.note("tools/list (session)", await mcp.legacy(session_id, "tools/list"))
        assert listed.status_code == HTTPStatus.OK, listed.text

    async def modern_call(self) -> None:
        mcp = Mcp(self.http, self.server, self.tokens["access_token"])
        response = self.ledger.note("tools/list (stateless)", await mcp.modern("tools/list"))
        assert response.status_code == HTTPStatus.OK, response.text

    async def revoke(self) -> None:
        response = self.ledger.note("revoke", await revoke(self.http, self.server, CLIENT_ID, self.tokens["refresh_token"]))
        assert response.status_code == HTTPStatus.OK, response.text
        self.ledger.live_access_tokens.pop(self.tokens["access_token"], None)  # RFC 7009 §2.1: its access token too
        self.tokens = None
        await self.new_pair()

    async def run(self, deadline: float, rng: random.Random) -> None:
        steps = [self.refresh, self.refresh_twice_at_once, self.register, self.legacy_session, self.modern_call,
                 self.revoke, self.new_pair]
        weights = [4, 2, 2, 3, 3, 1, 1]
        while time.monotonic() < deadline:
            await rng.choices(steps, weights)[0]()


async def load(server: DaphneServer) -> Ledger:
    ledger = Ledger()
    rng = random.Random(8)  # a fixed mix; the interleaving is whatever the server makes of it
    limits = httpx.Limits(max_connections=WORKERS * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        workers = [Worker(f"w{i}", PEOPLE[i % len(PEOPLE)], http, server, ledger) for i in range(WORKERS)]
        await asyncio.gather(*(worker.new_pair() for worker in workers))  # each starts with a pair of its own
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(*(worker.run(deadline, random.Random(rng.random())) for worker in workers))
        holders = {worker.name: worker for worker in workers}
        # Nothing lost: every live access token works, every session still answers for its holder.
        for token in list(ledger.live_access_tokens):
            response = await Mcp(http, server, token).modern("server/discover")
            assert response.status_code == HTTPStatus.OK, f"an issued, unrevoked token stopped working: {response.text}"
        for session_id, holder in ledger.sessions:
            response = await Mcp(http, server, holders[holder].tokens["access_token"]).legacy(session_id, "ping")
            assert response.status_code == HTTPStatus.OK, f"session lost: {response.status_code} {response.text}"
    return ledger


def prepare(server: DaphneServer) -> DaphneServer:
    for username, password in PEOPLE:
        server.create_user(username, password)
    create_public_client(server, CLIENT_ID)
    return server


@pytest.fixture
def sqlite_server(tmp_path):
    server = prepare(start_daphne(tmp_path, {"REGISTER_RATE_LIMIT": "0"}))
    yield server
    server.stop()


@pytest.fixture
def postgres_server(tmp_path):
    name = "mcp_load_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    server = start_daphne(tmp_path, {"REGISTER_RATE_LIMIT": "0", "DATABASE_URL": POSTGRES + name})
    try:
        yield prepare(server)
    finally:
        server.stop()
        with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check(ledger: Ledger) -> None:
    print(sorted(ledger.statuses.items()), len(ledger.live_access_tokens), "live tokens", len(ledger.sessions), "sessions")
    assert not ledger.server_errors, ledger.server_errors[:5]
    done = {what for what, _ in ledger.statuses}
    assert done >= {"code exchange", "refresh", "racing refresh", "register (SDK)", "initialize", "tools/list (stateless)",
                    "revoke"}, ledger.statuses
    assert ledger.live_access_tokens and ledger.sessions


@pytest.mark.asyncio
async def test_load_on_sqlite(sqlite_server):
    """Issue 8 "Done when": SQLite (the make-run default) under 32 concurrent workers: no 5xx, nothing lost."""
    check(await load(sqlite_server))


@pytest.mark.asyncio
async def test_load_on_postgresql(postgres_server):
    """Issue 8 "Done when": the same mix on PostgreSQL: no 5xx, nothing lost."""
    check(await load(postgres_server))
