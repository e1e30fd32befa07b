"""Two refreshes with one refresh token at the same moment, on real daphne with SQLite (the `make run` default).

Before WAL and IMMEDIATE transactions one of the two answers was a 500 (``database is locked``).
Now each answer is 200 or 400 ``invalid_grant``, exactly one wins, and the winner's tokens keep
working (issue 8, "Done when"; CLAUDE-16).
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import httpx
import pytest

from tests.support.daphne import start_daphne
from tests.support.live import Mcp, authorize, create_public_client, exchange, refresh

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROUNDS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_daphne(tmp_path_factory.mktemp("race"))
    server.create_user("alice", "wonderland-42")
    create_public_client(server, "client_race")
    yield server
    server.stop()


@pytest.mark.asyncio
async def test_concurrent_refreshes_one_wins_and_its_tokens_work(server):
    """CLAUDE-16, DJ-05: of two simultaneous refreshes, one gets tokens, the other invalid_grant; never a 5xx."""
    async with httpx.AsyncClient(timeout=60) as http:
        code, pkce = await authorize(server, "client_race", "alice", "wonderland-42")
        tokens = (await exchange(http, server, "client_race", code, pkce)).json()
        for _ in range(ROUNDS):
            answers = await asyncio.gather(*(refresh(http, server, "client_race", tokens["refresh_token"])
                                             for _ in range(2)))
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [HTTPStatus.OK, HTTPStatus.BAD_REQUEST], [a.text for a in answers]
            winner, loser = sorted(answers, key=lambda a: a.status_code)
            assert loser.json()["error"] == "invalid_grant"
            tokens = winner.json()
            # The winner's access token is accepted by /mcp (both eras); its refresh token is the next round's.
            mcp = Mcp(http, server, tokens["access_token"])
            assert (await mcp.modern("server/discover")).status_code == HTTPStatus.OK
            assert (await mcp.initialize()).status_code == HTTPStatus.OK
        last = await refresh(http, server, "client_race", tokens["refresh_token"])
        assert last.status_code == HTTPStatus.OK
