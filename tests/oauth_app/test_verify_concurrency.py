"""Concurrent verifications of one token share the revocation lookup (issue 9 §1).

When the verified-token cache entry of a busy token expires, every request in flight with it misses
at once. One of them verifies (signature, claims, the revocation lookup); the others wait for its
answer, whatever it is, so 64 clients of one token cost one lookup a second, not 64.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from oauth_app.exceptions import InvalidToken
from oauth_app.revocation import revoke_client_tokens
from oauth_app.tokens import averify_access_token, is_live, verified

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CALLERS = 20


class GatedLookups:
    """A ``run`` for averify_access_token that counts revocation lookups and holds them until released."""

    def __init__(self) -> None:
        self.lookups = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, function, *args):
        if function is is_live:
            self.lookups += 1
            self.started.set()
            await self.release.wait()
        return await database_sync_to_async(function)(*args)  # as the default run: connections closed after


async def verify_together(raw: str, gate: GatedLookups) -> list:
    tasks = [asyncio.create_task(averify_access_token(raw, settings.MCP_RESOURCE, run=gate)) for _ in range(CALLERS)]
    await gate.started.wait()
    await asyncio.sleep(0)  # let every caller reach the shared answer
    gate.release.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def raw_token(token_pair):
    verified.clear()
    return token_pair()["access_token"]


async def test_concurrent_misses_make_one_lookup(raw_token):
    """TRANS-16: the bearer is still checked for every request; the database is asked once for all of them."""
    gate = GatedLookups()
    results = await verify_together(raw_token, gate)
    assert gate.lookups == 1
    assert all(not isinstance(result, BaseException) for result in results), results
    assert len({result.token_id for result in results}) == 1


async def test_a_revoked_token_is_refused_to_every_waiter(raw_token, public_client):
    """AUTH-08: the shared answer is the refusal too: each caller gets InvalidToken (401)."""
    await database_sync_to_async(revoke_client_tokens)(public_client)
    gate = GatedLookups()
    results = await verify_together(raw_token, gate)
    assert gate.lookups == 1
    assert all(isinstance(result, InvalidToken) for result in results), results


async def test_waiters_verify_themselves_when_the_first_caller_leaves(raw_token):
    """A client that disconnects mid-verification does not take the others down with it."""
    gate = GatedLookups()
    first = asyncio.create_task(averify_access_token(raw_token, settings.MCP_RESOURCE, run=gate))
    await gate.started.wait()
    others = [asyncio.create_task(averify_access_token(raw_token, settings.MCP_RESOURCE, run=gate)) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    gate.release.set()
    results = await asyncio.gather(*others)
    assert first.cancelled()
    assert all(result.token_id == results[0].token_id for result in results)
    assert gate.lookups == 2  # the cancelled first one, then one of the others
