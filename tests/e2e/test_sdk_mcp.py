"""The official MCP Python SDK (``mcp`` 2.3.0) against ``/mcp`` on a real daphne, in both eras.

Every test starts with no token: the SDK's streamable HTTP client sends its first MCP request
through an ``httpx2.AsyncClient`` whose ``auth`` is the SDK's ``OAuthClientProvider``; ``/mcp``
answers ``401`` with ``WWW-Authenticate: Bearer resource_metadata=…, scope="mcp"`` and the
provider discovers (RFC 9728, RFC 8414), registers (RFC 7591), has the person sign in and
consent (headless, :mod:`tests.support.oauth_browserless`), exchanges the code with PKCE and
retries the request (AUTH-04, AUTH-05, AUTH-06, CLAUDE-07).

How the SDK picks the era (2.3.0):

* ``Client(transport, mode="legacy")`` runs ``ClientSession.initialize()``, which always offers
  ``LATEST_HANDSHAKE_VERSION`` (2025-11-25). Another handshake version needs the low-level
  ``ClientSession``: :func:`initialize_at` sends the same ``initialize`` with the version
  forced, ``adopt()``s the result and sends ``notifications/initialized``, as ``initialize()``
  does. After ``initialized`` the transport opens the GET stream by itself; on exit it sends
  ``DELETE`` with the session id (``terminate_on_close``).
* ``Client(transport)`` (``mode="auto"``, the default) first sends ``server/discover`` at
  ``LATEST_MODERN_VERSION`` (2026-07-28) and ``adopt()``s the result when it lists a modern
  version; otherwise it falls back to ``initialize``. From then on every request carries the
  ``_meta`` protocol version, client info and capabilities, and the ``MCP-Protocol-Version``,
  ``Mcp-Method`` and ``Mcp-Name`` headers. No session, no GET stream, no DELETE.

How the SDK resumes (legacy): the transport remembers the last SSE ``id`` of a POST response
stream; when the stream ends without the JSON-RPC response it waits the server's ``retry``
(1000 ms here) and sends ``GET /mcp`` with ``Last-Event-ID``, then keeps reading until the
response. ``ClientMessageMetadata.on_resumption_token_update`` sees every event id (priming
included), and ``resumption_token`` would start a request by that GET directly. The test cuts
the POST stream at an event boundary in the HTTP transport under the SDK
(:class:`tests.support.mcp_wire.RecordingTransport`) and checks that no event was lost
(TRANS-19, TRANS-20, TRANS-21).

Server messages are checked against the official JSON schema of the negotiated version.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ClientMessageMetadata
from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

from tests.support.mcp_wire import Exchange, RecordingTransport, SseEvent, assert_schema, parse_sse_block
from tests.support.oauth_browserless import HeadlessUserAgent, InMemoryTokenStorage, make_provider, recording_client

pytestmark = [pytest.mark.e2e]

TIMEOUT = 30  # seconds, for each test's whole conversation; nothing waits on anything but the server
MODERN = "2026-07-28"
RESUME_TIMEOUT = 10  # the SDK waits the server's retry (1 s) before resuming; the tool takes 0.2 s
RESUME_HANG = (
    "the SDK's resumed stream (GET with Last-Event-ID) never ended: did the server cancel the legacy request "
    "when its POST stream dropped? (TRANS-21, TRANS-55: a disconnect is not a cancellation)"
)
USER_TOOLS = ["whoami", "start-notification-stream"]
ADMIN_TOOLS = {"list_clients", "revoke_client_tokens"}


# --- Plumbing ------------------------------------------------------------------------------------------


class Inbox:
    """What an SDK callback received, and a bounded wait for the n-th item."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = anyio.Event()

    async def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, count: int) -> list[Any]:
        while len(self.items) < count:  # bounded by the caller's fail_after
            await self._changed.wait()
        return self.items

    def clear(self) -> None:
        self.items = []


@dataclass
class Wire:
    """One person's SDK HTTP client (OAuth provider as its auth) and everything it sent."""

    url: str
    http: httpx2.AsyncClient
    recorder: RecordingTransport
    log: list[Exchange]
    agent: HeadlessUserAgent
    storage: InMemoryTokenStorage

    @property
    def endpoint(self) -> str:
        return f"{self.url}/mcp"

    def mcp(self, rpc_method: str | None = None, *, status: int | None = 200) -> list[Exchange]:
        """Exchanges with /mcp (of one JSON-RPC method, one status), oldest first."""
        return [
            e for e in self.log
            if e.url == self.endpoint
            and (rpc_method is None or e.rpc_method == rpc_method)
            and (status is None or e.status == status)
        ]

    def last(self, rpc_method: str) -> Exchange:
        found = self.mcp(rpc_method)
        assert found, f"no {rpc_method} to /mcp in {[e.line for e in self.log]}"
        return found[-1]


@asynccontextmanager
async def sdk_wire(url: str, *, username: str = "alice", password: str = "wonderland-42") -> AsyncIterator[Wire]:
    log: list[Exchange] = []
    recorder = RecordingTransport(log)
    agent = HeadlessUserAgent(username=username, password=password, timeout=TIMEOUT)
    storage = InMemoryTokenStorage()
    provider = make_provider(url, agent, storage)
    async with recording_client(log, transport=recorder, auth=provider, timeout=httpx2.Timeout(TIMEOUT)) as http:
        yield Wire(url, http, recorder, log, agent, storage)


async def initialize_at(session: ClientSession, version: str) -> types.InitializeResult:
    """``ClientSession.initialize()`` with the offered protocol version forced to ``version``."""
    result = await session.send_request(
        types.InitializeRequest(
            params=types.InitializeRequestParams(
                protocol_version=version,
                capabilities=types.ClientCapabilities(),
                client_info=types.Implementation(name="sdk-e2e", version="1"),
            )
        ),
        types.InitializeResult,
    )
    assert result.protocol_version == version
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())
    return result


@asynccontextmanager
async def legacy_session(wire: Wire, version: str, **callbacks: Any) -> AsyncIterator[ClientSession]:
    """An initialized legacy session at ``version``: the high-level ``Client`` where it can
    (the latest handshake version), else a ``ClientSession`` with :func:`initialize_at`."""
    transport = streamable_http_client(wire.endpoint, http_client=wire.http)
    if version == LATEST_HANDSHAKE_VERSION:
        async with Client(transport, mode="legacy", read_timeout_seconds=TIMEOUT, **callbacks) as client:
            yield client.session
        return
    async with (
        transport as (read, write),
        ClientSession(read, write, read_timeout_seconds=TIMEOUT, **callbacks) as session,
    ):
        await initialize_at(session, version)
        yield session


def event_number(event_id: str) -> tuple[str, int]:
    stream, _, number = event_id.rpartition(".")
    return stream, int(number)


def assert_event_ids(events: list[SseEvent], *, stream_prefix: str) -> str:
    """Every event has an id ``<stream>.<n>`` of one stream, ``n`` strictly increasing; returns the stream."""
    ids = [event.id for event in events]
    assert all(ids), f"events without id: {events}"
    streams = {event_number(i)[0] for i in ids}
    assert len(streams) == 1, ids
    (stream,) = streams
    assert stream.startswith(stream_prefix), ids
    numbers = [event_number(i)[1] for i in ids]
    assert numbers == sorted(set(numbers)), f"ids not strictly increasing: {ids}"
    return stream


def assert_oauth_from_401(wire: Wire, first_rpc: str) -> Exchange:
    """The conversation began with the 401 on /mcp and the SDK's whole OAuth flow; returns the retry."""
    url = wire.url
    assert [e.line for e in wire.log[:6]] == [
        ("POST", f"{url}/mcp", 401),
        ("GET", f"{url}/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{url}/.well-known/oauth-authorization-server", 200),
        ("POST", f"{url}/register", 201),
        ("POST", f"{url}/token", 200),
        ("POST", f"{url}/mcp", 200),
    ]
    challenge, retry = wire.log[0], wire.log[5]
    assert challenge.rpc_method == retry.rpc_method == first_rpc
    assert "authorization" not in challenge.request_headers
    header = challenge.response_headers["www-authenticate"]
    assert header.startswith("Bearer ")
    assert f'resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"' in header
    assert 'scope="mcp"' in header
    assert retry.request_headers["authorization"] == f"Bearer {wire.storage.tokens.access_token}"
    assert wire.log[4].form["grant_type"] == "authorization_code" and wire.log[4].form["code_verifier"]
    assert len(wire.agent.authorization_urls) == 1
    assert "code_challenge_method=S256" in wire.agent.authorization_urls[0]
    return retry


def text_of(result: types.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, types.TextContent)
    return block.text


async def check_common_features(session: ClientSession, wire: Wire, version: str, *, not_found: int) -> None:
    """tools/list, whoami, resources, prompts and completion: the same in both eras for alice."""
    client_id = wire.storage.client_info.client_id

    # tools/list: the built-ins of scope mcp, in registration order; admin tools hidden (not staff).
    tools = await session.list_tools()
    assert [tool.name for tool in tools.tools] == USER_TOOLS
    assert not ADMIN_TOOLS & {tool.name for tool in tools.tools}
    assert tools.next_cursor is None
    assert_schema(version, "ListToolsResult", wire.last("tools/list").response_json["result"])
    whoami_tool = tools.tools[0]
    assert whoami_tool.output_schema is not None and whoami_tool.annotations.read_only_hint is True

    # tools/call whoami: structuredContent per its output schema, mirrored in a text block (TRANS-48).
    result = await session.call_tool("whoami", {})
    assert result.is_error is not True
    who = result.structured_content
    assert who["username"] == "alice"
    assert who["client_id"] == client_id
    assert who["scopes"] == ["mcp"]
    assert who["subject"] and who["expires_at"]
    assert json.loads(text_of(result)) == who

    # resources: the caller's own registration; the admin template is invisible and unreadable.
    resources = await session.list_resources()
    assert [(str(r.uri), r.name, r.mime_type) for r in resources.resources] == [
        ("mcp://client/registration", "client-registration", "application/json")
    ]
    assert (await session.list_resource_templates()).resource_templates == []
    read = await session.read_resource("mcp://client/registration")
    (content,) = read.contents
    assert isinstance(content, types.TextResourceContents)
    assert str(content.uri) == "mcp://client/registration"
    registration = json.loads(content.text)
    assert registration["client_id"] == client_id
    assert registration["name"] == "MCP SDK e2e"
    assert_schema(version, "ReadResourceResult", wire.last("resources/read").response_json["result"])
    with pytest.raises(MCPError) as refused:
        await session.read_resource(f"mcp://clients/{client_id}")
    assert refused.value.code == not_found

    # prompts: list, get with its argument, and completion of that argument.
    prompts = await session.list_prompts()
    assert [p.name for p in prompts.prompts] == ["explain_scope"]
    (argument,) = prompts.prompts[0].arguments
    assert (argument.name, argument.required) == ("scope", True)
    prompt = await session.get_prompt("explain_scope", {"scope": "mcp"})
    (message,) = prompt.messages
    assert message.role == "user"
    assert "OAuth scope 'mcp' (" in message.content.text
    assert "an unknown scope" not in message.content.text  # the description of the scope, from the database
    assert_schema(version, "GetPromptResult", wire.last("prompts/get").response_json["result"])
    completion = await session.complete(
        types.PromptReference(type="ref/prompt", name="explain_scope"), {"name": "scope", "value": "m"}
    )
    assert completion.completion.values == ["mcp"]
    assert completion.completion.has_more is False


def progress_handler(inbox: Inbox):
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        await inbox.add((progress, total, message))

    return on_progress


def expected_progress(count: int, caller: str) -> list[tuple[float, float, str]]:
    return [(float(step), float(count), f"[{step}/{count}] Event from {caller}") for step in range(1, count + 1)]


# --- Legacy era -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [LATEST_HANDSHAKE_VERSION, "2025-06-18"])
async def test_legacy_era_from_401_to_delete(daphne_server, version):
    """AUTH-05, AUTH-06, CLAUDE-07, TRANS-12, TRANS-15, TRANS-14, TRANS-17, TRANS-19, TRANS-20, TRANS-21,
    TRANS-22, TRANS-23, TRANS-47, TRANS-48, TRANS-50, TRANS-51, TRANS-53, TRANS-56.

    The SDK authorizes from the 401, initializes at ``version``, uses every feature, gets a
    notification on its GET stream, survives a dropped POST stream by resuming with
    ``Last-Event-ID`` without losing an event, and ends the session with DELETE.
    """
    url = daphne_server.url
    session_messages = Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        await session_messages.add(params)

    with anyio.fail_after(TIMEOUT):
        async with sdk_wire(url) as wire:
            async with legacy_session(wire, version, logging_callback=on_log) as session:
                # --- OAuth from the 401, then the handshake (TRANS-23) -----------------------------
                initialize = assert_oauth_from_401(wire, "initialize")
                assert initialize.request_json["params"]["protocolVersion"] == version
                assert initialize.response_headers["content-type"] == "application/json"
                assert_schema(version, "JSONRPCResponse", initialize.response_json)
                assert_schema(version, "InitializeResult", initialize.response_json["result"])
                assert session.protocol_version == version
                assert session.server_info.name == "django-mcp-server"
                capabilities = session.server_capabilities
                assert capabilities.tools is not None and capabilities.prompts is not None
                assert capabilities.resources is not None and capabilities.completions is not None
                session_id = initialize.response_headers["mcp-session-id"]
                assert all(0x21 <= ord(c) <= 0x7E for c in session_id) and len(session_id) >= 32  # TRANS-12

                await check_common_features(session, wire, version, not_found=-32002)

                # --- A streamed call: every progress notification, on an SSE stream with ids -------
                progress = Inbox()
                result = await session.call_tool(
                    "start-notification-stream", {"interval": 0.01, "count": 3, "caller": "sdk"},
                    progress_callback=progress_handler(progress),
                )
                assert text_of(result) == "Sent 3 notifications to sdk."
                assert sorted(await progress.wait_for(3)) == expected_progress(3, "sdk")
                stream = wire.last("tools/call")
                assert stream.response_headers["content-type"] == "text/event-stream"
                assert stream.response_headers["x-accel-buffering"] == "no"
                events = stream.events
                if version == "2025-11-25":  # TRANS-21: a priming event (id, empty data) first
                    assert events[0].id and events[0].data == ""
                    events = events[1:]
                assert_event_ids(stream.events, stream_prefix="s")
                assert [e.message["method"] for e in events[:3]] == ["notifications/progress"] * 3
                assert [e.message["params"]["progress"] for e in events[:3]] == [1, 2, 3]
                for event in events[:3]:
                    assert_schema(version, "ProgressNotification", event.message)
                assert events[3].message["id"] == stream.request_json["id"]
                assert_schema(version, "CallToolResult", events[3].message["result"])
                assert len(events) == 4

                # --- The GET stream: a notification for the session, not for a request (TRANS-17) --
                result = await session.call_tool(
                    "start-notification-stream", {"interval": 0, "count": 2, "caller": "get", "target": "session"}
                )
                assert text_of(result) == "Sent 2 notifications to get."
                received = await session_messages.wait_for(2)
                assert [(m.level, m.data) for m in received] == [
                    ("info", "[1/2] Event from get"), ("info", "[2/2] Event from get")
                ]
                (get_stream,) = [e for e in wire.log if e.method == "GET" and e.url == wire.endpoint]
                assert get_stream.status == 200
                assert get_stream.request_headers["mcp-session-id"] == session_id
                assert get_stream.response_headers["content-type"] == "text/event-stream"
                notes = [e for e in get_stream.events if e.data]
                assert [n.message["params"]["data"] for n in notes] == ["[1/2] Event from get", "[2/2] Event from get"]
                for note in notes:
                    assert_schema(version, "LoggingMessageNotification", note.message)
                    assert "id" not in note.message  # never a response on the GET stream
                assert_event_ids(notes, stream_prefix="g")

                # --- A dropped POST stream, resumed by the SDK with GET + Last-Event-ID ------------
                # The transport under the SDK cuts the next tools/call stream after two progress
                # events; the server must keep the request running (a legacy disconnect is not a
                # cancellation) and replay the rest to the SDK's GET with Last-Event-ID.
                wire.recorder.cut_next(lambda e: e.method == "POST" and e.rpc_method == "tools/call", after_events=2)
                progress = Inbox()
                tokens: list[str] = []

                async def on_token(token: str) -> None:
                    tokens.append(token)

                with anyio.fail_after(RESUME_TIMEOUT, reason=RESUME_HANG):
                    result = await session.send_request(
                        types.CallToolRequest(params=types.CallToolRequestParams(
                            name="start-notification-stream",
                            arguments={"interval": 0.05, "count": 5, "caller": "resume"},
                        )),
                        types.CallToolResult,
                        metadata=ClientMessageMetadata(on_resumption_token_update=on_token),
                        progress_callback=progress_handler(progress),
                    )
                    assert text_of(result) == "Sent 5 notifications to resume."
                    assert sorted(await progress.wait_for(5)) == expected_progress(5, "resume")

                cut = wire.last("tools/call")
                assert cut.cut
                resumed_at = wire.log.index(cut) + 1
                resume = next(e for e in wire.log[resumed_at:] if e.method == "GET" and e.url == wire.endpoint)
                before, after = cut.events, resume.events
                assert [e.message["params"]["progress"] for e in before if e.data] == [1, 2]
                assert resume.status == 200
                assert resume.request_headers["last-event-id"] == before[-1].id
                assert resume.request_headers["mcp-session-id"] == session_id
                assert [e.message["params"]["progress"] for e in after[:-1]] == [3, 4, 5]
                assert after[-1].message["id"] == cut.request_json["id"]
                # One stream, every id once and in order, each one reported to the SDK's callback.
                stream_id = assert_event_ids(before + after, stream_prefix="s")
                assert tokens == [e.id for e in before + after]

                # Completeness, checked apart from the SDK: a replay from the first data event
                # returns exactly the events the SDK got after it.
                first = next(e for e in before if e.data)
                async with httpx.AsyncClient(timeout=TIMEOUT) as plain:
                    replay = await plain.get(wire.endpoint, headers={
                        "authorization": f"Bearer {wire.storage.tokens.access_token}",
                        "accept": "text/event-stream",
                        "mcp-session-id": session_id,
                        "mcp-protocol-version": version,
                        "last-event-id": first.id,
                    })
                assert replay.status_code == 200, replay.text
                replayed = [e for e in map(parse_sse_block, replay.content.split(b"\n\n")) if e is not None]
                expected = [e for e in before + after if event_number(e.id)[1] > event_number(first.id)[1]]
                # Compared as JSON: PostgreSQL keeps the stored events as jsonb, which does not keep key order.
                assert [(e.id, e.message) for e in replayed] == [(e.id, e.message) for e in expected]
                assert {event_number(e.id)[0] for e in replayed} == {stream_id}

                # Every request after initialize carried the session and the negotiated version (TRANS-22).
                for exchange in wire.log[6:]:
                    if exchange.url == wire.endpoint:
                        assert exchange.request_headers["mcp-session-id"] == session_id
                        if exchange.method == "POST":
                            assert exchange.request_headers["mcp-protocol-version"] == version

            # --- Leaving the session: the SDK's DELETE ends it (TRANS-15), then 404 (TRANS-14) ----
            (delete,) = [e for e in wire.log if e.method == "DELETE"]
            assert delete.line == ("DELETE", wire.endpoint, 204)
            assert delete.request_headers["mcp-session-id"] == session_id

            async with httpx.AsyncClient(timeout=TIMEOUT) as plain:
                headers = {
                    "authorization": f"Bearer {wire.storage.tokens.access_token}",
                    "accept": "application/json, text/event-stream",
                    "mcp-session-id": session_id,
                    "mcp-protocol-version": version,
                }
                gone = await plain.post(wire.endpoint, headers=headers,
                                        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
                assert gone.status_code == 404
                stream_headers = {**headers, "accept": "text/event-stream"}
                assert (await plain.get(wire.endpoint, headers=stream_headers)).status_code == 404
                assert (await plain.delete(wire.endpoint, headers=headers)).status_code == 404


# --- Modern era -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_modern_era_from_401(daphne_server):
    """AUTH-05, CLAUDE-07, CLAUDE-13, TRANS-28, TRANS-29, TRANS-32, TRANS-34, TRANS-35, TRANS-36, TRANS-42,
    TRANS-47, TRANS-48, TRANS-50, TRANS-51, TRANS-53, TRANS-56.

    ``Client`` in its default ``mode="auto"`` discovers 2026-07-28 with ``server/discover`` (the
    request that meets the 401), then works statelessly: ``_meta`` and headers on every
    request, progress and opted-in log messages on the streamed call, no session at all.
    """
    url = daphne_server.url
    logs = Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        await logs.add(params)

    with anyio.fail_after(TIMEOUT):
        async with sdk_wire(url) as wire:
            transport = streamable_http_client(wire.endpoint, http_client=wire.http)
            options = {"read_timeout_seconds": TIMEOUT, "log_level": "info", "logging_callback": on_log}
            async with Client(transport, **options) as client:
                session = client.session
                # --- OAuth from the 401 on server/discover, then the era (TRANS-34) -------------------
                discover = assert_oauth_from_401(wire, "server/discover")
                assert LATEST_MODERN_VERSION == MODERN
                assert client.protocol_version == MODERN
                assert discover.request_headers["mcp-protocol-version"] == MODERN
                assert discover.request_headers["mcp-method"] == "server/discover"
                assert discover.request_json["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == MODERN
                assert "mcp-session-id" not in discover.response_headers
                assert_schema(MODERN, "JSONRPCResultResponse", discover.response_json)
                assert_schema(MODERN, "DiscoverResult", discover.response_json["result"])
                found = session.discover_result
                assert found.supported_versions == [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"]
                assert found.cache_scope == "public" and found.ttl_ms > 0
                assert client.server_info.name == "django-mcp-server"
                assert client.server_capabilities.tools is not None

                await check_common_features(session, wire, MODERN, not_found=-32602)
                # Each result of 2026-07-28 says it is complete and who answered (TRANS-35); lists are
                # cacheable privately, per token (TRANS-36).
                listing = wire.last("tools/list").response_json["result"]
                assert listing["resultType"] == "complete" and listing["cacheScope"] == "private"
                assert listing["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "django-mcp-server"

                # --- A streamed call: progress and (opted-in) log messages, on one SSE stream ----------
                progress = Inbox()
                logs.clear()
                result = await client.call_tool(
                    "start-notification-stream", {"interval": 0.01, "count": 3, "caller": "modern"},
                    progress_callback=progress_handler(progress),
                )
                assert text_of(result) == "Sent 3 notifications to modern."
                assert sorted(await progress.wait_for(3)) == expected_progress(3, "modern")
                assert [(m.level, m.data) for m in await logs.wait_for(3)] == [
                    ("info", f"[{step}/3] Event from modern") for step in (1, 2, 3)
                ]
                stream = wire.last("tools/call")
                assert stream.response_headers["content-type"] == "text/event-stream"
                assert all(e.id is None for e in stream.events)  # stateless: nothing to resume
                notifications = [e.message for e in stream.events[:-1]]
                assert [n["method"] for n in notifications] == ["notifications/progress", "notifications/message"] * 3
                definitions = {"notifications/progress": "ProgressNotification",
                               "notifications/message": "LoggingMessageNotification"}
                for note in notifications:
                    assert_schema(MODERN, definitions[note["method"]], note)
                final = stream.events[-1].message
                assert final["id"] == stream.request_json["id"]
                assert_schema(MODERN, "CallToolResult", final["result"])

                # Every request after the probe carried _meta and the 2026-07-28 headers (TRANS-28, -29, -32).
                names = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
                for exchange in wire.mcp(status=None):
                    body = exchange.request_json
                    meta = body["params"]["_meta"]
                    assert meta["io.modelcontextprotocol/protocolVersion"] == MODERN
                    assert "io.modelcontextprotocol/clientCapabilities" in meta
                    assert exchange.request_headers["mcp-protocol-version"] == MODERN
                    assert exchange.request_headers["mcp-method"] == body["method"]
                    if body["method"] in names:
                        assert exchange.request_headers["mcp-name"] == body["params"][names[body["method"]]]
                    assert "mcp-session-id" not in exchange.request_headers

            # Stateless: the SDK opened no GET stream and sent no DELETE (TRANS-39).
            assert {e.method for e in wire.mcp(status=None)} == {"POST"}
