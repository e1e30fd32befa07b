"""Revocation is announced on the channel layer, so open streams in every process can end (issue 12 §4).

Every path that revokes a live access token deletes its row; :mod:`oauth_app.revocation_events`
announces each deletion, after commit, to the token's group. These tests listen on that group the
way an ``/mcp`` consumer holding a stream would (the in-memory layer here; Redis across processes in
``tests/scale``).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken

from oauth_app import revocation
from oauth_app.models import Client
from oauth_app.revocation_events import TOKEN_REVOKED, token_group

# serialized_rollback: the flush between transactional tests would drop the scopes the migrations create.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.asyncio]


@sync_to_async
def issue_token(client: Client, secret: str) -> str:
    response = HttpClient().post("/token", {"grant_type": "client_credentials", "client_id": client.client_id,
                                            "client_secret": secret, "scope": "mcp"})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


async def listen(raw_token: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(token_group(raw_token), channel)
    return channel


async def next_message(channel: str) -> dict:
    async with asyncio.timeout(10):
        return await get_channel_layer().receive(channel)


@pytest.fixture
def service(make_client):
    return make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="", name="Service")


async def test_revoke_endpoint_announces_the_token(service):
    """RFC 7009 ``/revoke``: the token's group hears it; another token's group hears nothing first."""
    client, secret = service
    revoked, kept = await issue_token(client, secret), await issue_token(client, secret)
    revoked_channel, kept_channel = await listen(revoked), await listen(kept)
    response = await sync_to_async(HttpClient().post)("/revoke", {"token": revoked, "client_id": client.client_id,
                                                                 "client_secret": secret})
    assert response.status_code == 200
    assert await next_message(revoked_channel) == {"type": TOKEN_REVOKED}
    # The kept token's group got nothing: revoking it now is the first thing it hears.
    await sync_to_async(revocation.revoke_access_tokens)(AccessToken.objects.filter(application=client))
    assert await next_message(kept_channel) == {"type": TOKEN_REVOKED}


async def test_revoking_a_client_announces_every_token(service):
    """The admin's bulk revocation and the ``revoke_client_tokens`` tool share ``revoke_client_tokens``."""
    client, secret = service
    tokens = [await issue_token(client, secret) for _ in range(3)]
    channels = [await listen(raw) for raw in tokens]
    assert await sync_to_async(revocation.revoke_client_tokens)(client) == 3
    for channel in channels:
        assert await next_message(channel) == {"type": TOKEN_REVOKED}


async def test_nothing_is_announced_before_commit(service):
    """A revocation rolled back never happened: nothing is announced; the committed one is."""
    client, secret = service
    raw = await issue_token(client, secret)
    channel = await listen(raw)

    @sync_to_async
    def revoke_then_roll_back() -> None:
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            revocation.revoke_client_tokens(client)
            raise RuntimeError("rolled back")
        assert AccessToken.objects.filter(application=client).count() == 1
        revocation.revoke_client_tokens(client)

    await revoke_then_roll_back()
    assert await next_message(channel) == {"type": TOKEN_REVOKED}
    layer = get_channel_layer()
    assert layer.channels.get(channel) is None or layer.channels[channel].empty()  # exactly one announcement
