"""``/mcp`` feeds the activity log (issue 10 §3): sessions opened and closed, one event per finished tool call.

Through the real ASGI application with real bearer tokens (the consumer tests' client). The unit
tests write each event at once (``ACTIVITY_BACKGROUND = False``), so the rows are there when the
response is. Arguments and results never reach the log; the session id is stored only as a hash.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command

from activity.log import Kind, flush, session_ref
from activity.models import Event
from mcp_app.models import Session
from tests.mcp_app.test_consumer import LATEST, MCP, exchange, header_list

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SECRET_ARGUMENT = "the-argument-no-log-may-hold-7f3a"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@database_sync_to_async
def events(kind: str | None = None) -> list[Event]:
    flush()  # what /mcp recorded on the event loop (tests write inline, but the ORM cannot run there)
    queryset = Event.objects.order_by("pk")
    return list(queryset.filter(kind=kind) if kind else queryset)


@database_sync_to_async
def alice_pk() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="alice").pk


async def test_session_open_and_close_are_recorded(tokens, public_client):
    """CLIENT-02/issue 10 §3: initialize records "session opened" (client, person, version, hashed id); DELETE
    records "session closed" with the same reference."""
    client = MCP(tokens.alice)
    session_id = await client.initialize(LATEST)
    deleted = await exchange("DELETE", headers=header_list(tokens.alice, extra={"Mcp-Session-Id": session_id}))
    assert deleted.status == 204
    opened, closed = await events(Kind.SESSION_OPENED), await events(Kind.SESSION_CLOSED)
    assert len(opened) == 1 and len(closed) == 1
    user = await alice_pk()
    assert (opened[0].client_id, opened[0].user_id) == (public_client.client_id, user)
    assert opened[0].detail == {"session": session_ref(session_id), "protocol_version": LATEST}
    assert (closed[0].client_id, closed[0].user_id, closed[0].detail) == (public_client.client_id, user,
                                                                           {"session": session_ref(session_id)})
    assert session_id not in json.dumps([e.detail for e in opened + closed])


async def test_tool_calls_are_recorded_with_outcome_and_never_their_arguments(tokens, public_client):
    """Issue 10 §3: one event per finished tools/call in both eras: tool, outcome (ok / error / denied), duration,
    client and person, the session reference in the legacy era, the JSON-RPC code of an error; no arguments."""
    client = MCP(tokens.alice)
    session_id = await client.initialize(LATEST)
    ok = await client.legacy("tools/call", {"name": "whoami", "arguments": {}}, session_id=session_id)
    assert ok.status == 200 and not ok.json()["result"].get("isError")
    refused = await client.legacy("tools/call", {"name": "start-notification-stream",
                                                 "arguments": {"count": "many", "caller": SECRET_ARGUMENT}},
                                  session_id=session_id)
    assert refused.json()["result"]["isError"] is True  # arguments refused: an isError result
    denied = await client.legacy("tools/call", {"name": "revoke_client_tokens",
                                                "arguments": {"client_id": SECRET_ARGUMENT}}, session_id=session_id)
    assert denied.status == 403
    modern = await client.modern("tools/call", {"name": "whoami", "arguments": {}})
    assert modern.status == 200

    calls = await events(Kind.TOOL_CALL)
    assert [(e.tool, e.outcome) for e in calls] == [
        ("whoami", "ok"), ("start-notification-stream", "error"), ("revoke_client_tokens", "denied"), ("whoami", "ok")]
    user = await alice_pk()
    assert {(e.client_id, e.user_id) for e in calls} == {(public_client.client_id, user)}
    assert all(e.duration_ms is not None and e.duration_ms >= 0 for e in calls)
    assert [e.detail.get("session") for e in calls] == [session_ref(session_id)] * 3 + [None]
    everything = json.dumps([(e.tool, e.detail, e.actor) for e in await events()])
    assert SECRET_ARGUMENT not in everything and "many" not in everything


async def test_a_json_rpc_error_is_recorded_with_its_code(tokens):
    """A tool that raises a JSON-RPC error is recorded as ``error`` with that code."""
    from mcp_app.protocol.errors import InvalidParams
    from mcp_app.tools.registry import registry

    async def refuses() -> str:
        """Always refuses."""
        raise InvalidParams("no")

    registry.tool("test-refuses")(refuses)
    try:
        reply = await MCP(tokens.alice).modern("tools/call", {"name": "test-refuses", "arguments": {}})
    finally:
        registry.tools.pop("test-refuses", None)
    assert reply.json()["error"]["code"] == -32602
    [call] = await events(Kind.TOOL_CALL)
    assert (call.tool, call.outcome, call.detail) == ("test-refuses", "error", {"error_code": -32602})


async def test_idle_sessions_swept_by_clearmcpsessions_are_recorded_closed(tokens, settings):
    """Sessions that expire (``clearmcpsessions``, never a request) are recorded closed, with the same reference."""
    session_id = await MCP(tokens.alice).initialize(LATEST)
    settings.MCP_APP = {**settings.MCP_APP, "SESSION_IDLE_SECONDS": 0}
    await database_sync_to_async(call_command)("clearmcpsessions", stdout=open("/dev/null", "w"))
    assert not await database_sync_to_async(Session.objects.exists)()
    [closed] = await events(Kind.SESSION_CLOSED)
    assert closed.detail == {"session": session_ref(session_id), "reason": "idle"}
    assert closed.user_id == await alice_pk()
