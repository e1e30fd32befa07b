"""The legacy era (2025-03-26, 2025-06-18, 2025-11-25): ``initialize``, sessions, batches, cancellation, GET, DELETE.

A session is created by ``initialize`` and named by ``Mcp-Session-Id`` on every later request; it
is bound to the principal that created it (TRANS-16: anyone else's id is the same 404 as an
unknown one). Batches exist only in 2025-03-26 (TRANS-11). ``notifications/cancelled`` reaches
the request it names in whichever process runs it (channel layer). A tool call streams (SSE)
when the client asked for progress or set a log level; everything else is one JSON answer.
"""

from __future__ import annotations

from typing import Any

from activity.log import record_session, user_id_of
from channels.layers import get_channel_layer

from .. import sessions
from ..conf import mcp_settings
from ..context import ToolContext
from ..dispatcher import dispatcher
from ..protocol import headers as h
from ..protocol.errors import InvalidRequest, SessionNotFound
from ..protocol.jsonrpc import Message
from ..protocol.versions import DEFAULT_LEGACY, LEGACY_VERSIONS, Era, allows_batches, negotiate
from . import streams
from .exchange import answer_json
from .http import Request, Response
from .security import check_get_media_types

STREAMING_METHODS = {"tools/call"}


async def post(request: Request, response: Response, messages: list[Message], is_batch: bool) -> None:
    request.era = Era.LEGACY
    header_version = request.header(h.PROTOCOL_VERSION)
    if any(m.method == "initialize" for m in messages):
        if is_batch or messages[0].kind != "request":
            raise InvalidRequest("initialize must be sent alone")
        await _initialize(request, response, messages[0])
        return
    session = await _session(request)
    if header_version is not None and header_version not in LEGACY_VERSIONS:
        raise InvalidRequest(f"Unsupported MCP-Protocol-Version: {header_version}")
    version = header_version or session.protocol_version or DEFAULT_LEGACY
    if is_batch and not allows_batches(session.protocol_version):
        raise InvalidRequest("Batches are only supported in protocol version 2025-03-26")
    for message in messages:
        if message.kind == "notification" and message.method == "notifications/cancelled":
            await get_channel_layer().group_send(streams.session_group(session), {
                "type": "mcp.cancel", "request_id": message.params.get("requestId")})
    requests = [m for m in messages if m.kind == "request"]
    if not requests:
        await response.empty(202)
        return
    if is_batch:
        answers = [await dispatcher.dispatch(m, _context(request, session, version, m)) for m in requests]
        await response.json(200, answers)
        return
    message = requests[0]
    request.rpc_id = message.id
    context = _context(request, session, version, message)
    if message.method in STREAMING_METHODS and context.streaming:
        # Everything that can refuse the call (scopes: a 403) is decided before the stream starts.
        prepared = dispatcher.prepare(message, context)
        await streams.streamed_call(request, response, dispatcher, prepared, context, session)
        return
    await answer_json(request, response, message, context)


def _context(request: Request, session: sessions.SessionInfo, version: str, message: Message) -> ToolContext:
    async def set_level(level: str) -> None:
        await sessions.set_log_level(session, level)

    async def to_session(method: str, params: dict[str, Any]) -> None:
        await streams.publish(session, session.standalone_stream, {"jsonrpc": "2.0", "method": method, "params": params})

    context = ToolContext(principal=request.principal, version=version, era=Era.LEGACY, log_level=session.log_level,
                          set_log_level=set_level, send_session_notification=to_session,
                          session_id=request.header(h.SESSION_ID) or "")
    return context.with_meta(message.params.get("_meta"))


async def _initialize(request: Request, response: Response, message: Message) -> None:
    request.rpc_id = message.id
    version = negotiate(message.params.get("protocolVersion"))
    context = ToolContext(principal=request.principal, version=version, era=Era.LEGACY)
    reply = await dispatcher.answer(message, context)
    if reply.is_error:
        await response.reply(reply)
        return
    session_id, _ = await sessions.create_session(request.principal, version, message.params.get("clientInfo") or {})
    _record_session(request, session_id, opened=True, protocol_version=version)
    await response.reply(reply, [(b"mcp-session-id", session_id.encode())])


def _record_session(request: Request, session_id: str, *, opened: bool, protocol_version: str = "") -> None:
    """The activity log's session opened / closed (an in-memory append; the id is stored hashed)."""
    if not mcp_settings.ACTIVITY_LOG:
        return
    principal = request.principal
    record_session(opened=opened, client_id=principal.client_id, session_id=session_id,
                   user_id=user_id_of(principal.subject, principal.client_id), protocol_version=protocol_version)


async def _session(request: Request) -> sessions.SessionInfo:
    session_id = request.header(h.SESSION_ID)
    if not session_id:
        raise InvalidRequest("Missing Mcp-Session-Id header")
    session = await sessions.resolve_session(session_id, request.principal)
    if session is None:
        raise SessionNotFound()
    return session


async def get(request: Request, response: Response) -> None:
    """The standalone stream of a session (TRANS-17), or a replay after ``Last-Event-ID`` (TRANS-19/20)."""
    request.era = Era.LEGACY
    if not request.header(h.SESSION_ID):
        await response.empty(405, [(b"allow", b"POST, OPTIONS")])
        return
    check_get_media_types(request)
    session = await _session(request)
    stream, after = session.standalone_stream, None
    last_event_id = request.header(h.LAST_EVENT_ID)
    if last_event_id:
        parsed = sessions.parse_event_id(last_event_id)
        if parsed is None or not await sessions.stream_belongs_to(session, parsed[0]):
            raise InvalidRequest("Unknown Last-Event-ID")
        stream, after = parsed
    await streams.replay_or_follow(request, response, session, stream, after)


async def delete(request: Request, response: Response) -> None:
    """End a session (TRANS-14): its open streams end, in every process."""
    request.era = Era.LEGACY
    if not request.header(h.SESSION_ID):
        await response.empty(405, [(b"allow", b"POST, OPTIONS")])
        return
    session = await _session(request)
    await get_channel_layer().group_send(streams.session_group(session), {"type": "mcp.end"})
    await sessions.end_session(session)
    _record_session(request, request.header(h.SESSION_ID), opened=False)
    await response.empty(204)
