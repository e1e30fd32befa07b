"""The ``/mcp`` Streamable HTTP endpoint as a Channels consumer: HTTP in, HTTP out, nothing else.

Why not ``AsyncHttpConsumer``: its ``handle()`` runs inline in the dispatch loop, so while a
response streams, neither ``http.disconnect`` nor channel-layer messages are processed (DJ-09).
Here the dispatch loop only *receives*: the body is collected, then the response is produced in
a separate task (``self.work``). Disconnects and layer messages keep flowing: a disconnect
cancels the work (TRANS-40: closing the stream cancels the request) and leaves every group;
layer messages feed the open SSE stream. When the response is complete the consumer ends.

Per request the consumer checks Origin, method, headers and size, authenticates, resolves the
era and the session, then hands JSON-RPC requests to the dispatcher. Protocol rules live in
``mcp_app.protocol``; the method table in ``mcp_app.dispatcher``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from urllib.parse import urlsplit
from http import HTTPStatus
from typing import Any

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from oauth_app.exceptions import InsufficientScope
from oauth_app.redirects import LOOPBACK_HOSTS

from . import sessions
from .auth import Challenge, authenticate, challenge
from .conf import mcp_settings
from .dispatcher import META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, SERVER_INFO_KEY, CallContext, dispatcher, server_info
from .protocol import headers as h
from .protocol import jsonrpc, sse
from .protocol.errors import HeaderMismatch, InvalidParams, InvalidRequest, MCPError, MethodNotFound, UnsupportedProtocolVersion
from .protocol.jsonrpc import Message
from .protocol.versions import (
    DEFAULT_LEGACY, LEGACY_VERSIONS, MODERN_VERSIONS, SUPPORTED_VERSIONS, Era, allows_batches, negotiate, request_era,
)
from .subscriptions import LISTEN_GROUP, acknowledged_filter, wants

log = logging.getLogger(__name__)

ALLOW_HEADERS = "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name"
EXPOSE_HEADERS = "WWW-Authenticate, Mcp-Session-Id"
STREAMING_METHODS = {"tools/call"}


def stream_group(stream: str) -> str:
    return f"mcp-stream-{stream}"


def session_group(session: sessions.SessionInfo) -> str:
    return f"mcp-session-{session.pk}"


class Finished(Exception):
    """The response has been sent."""


class MCPConsumer(AsyncConsumer):
    """One instance per HTTP request to ``/mcp`` or ``/mcp/``."""

    async def __call__(self, scope, receive, send):
        self.body = bytearray()
        self.too_large = False
        self.work: asyncio.Task | None = None
        self.groups: set[str] = set()
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.cancel_ids: set[Any] = set()
        self.headers_sent = False
        self.released = asyncio.Event()
        self.lock_key: str | None = None
        self.resumable = False  # a legacy POST stream whose events are stored for Last-Event-ID
        loop = asyncio.ensure_future(super().__call__(scope, receive, send))
        finished = asyncio.ensure_future(self.released.wait())
        try:
            await asyncio.wait([loop, finished], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (loop, finished, self.work):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(*(t for t in (loop, finished, self.work) if t is not None), return_exceptions=True)
            await self._leave_groups()

    ### Receiving ------------------------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """``AsyncConsumer.dispatch`` without its ``aclose_old_connections()`` before every message.

        That call is a hop to the database thread per incoming message, and it would close the
        connection :mod:`mcp_app.db` keeps there. No handler here touches the database: every query
        goes through ``mcp_app.db.database_sync_to_async``, which does that housekeeping itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message: dict[str, Any]) -> None:
        if self.work is not None:
            return
        self.body += message.get("body", b"")
        if len(self.body) > mcp_settings.MAX_BODY_BYTES:
            self.too_large = True
        if self.too_large or not message.get("more_body", False):
            self.work = asyncio.ensure_future(self._respond())

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        if self.work is not None and not self.work.done():
            if self.resumable:
                # Legacy era: a dropped connection is not a cancellation (TRANS-21, TRANS-55). The
                # request runs on, its events are stored for GET + Last-Event-ID (writes to the gone
                # connection are dropped), and this consumer still hears notifications/cancelled and
                # DELETE; it ends with the request.
                return
            self.work.cancel()
        raise StopConsumer()

    async def mcp_event(self, message: dict[str, Any]) -> None:
        """A server message for the open SSE stream, from any process (channel layer)."""
        self.events.put_nowait(message)

    async def mcp_cancel(self, message: dict[str, Any]) -> None:
        """Legacy ``notifications/cancelled`` for a request this consumer may be running."""
        self.cancel_ids.add(message.get("request_id"))
        self.events.put_nowait({"type": "mcp.cancel", "request_id": message.get("request_id")})

    async def mcp_end(self, message: dict[str, Any]) -> None:
        """The session was deleted: end its streams."""
        self.events.put_nowait({"type": "mcp.end"})

    async def mcp_list_changed(self, message: dict[str, Any]) -> None:
        self.events.put_nowait(message)

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.add(group)

    async def _leave_groups(self) -> None:
        for group in list(self.groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups.clear()
        if self.lock_key is not None:
            await cache.adelete(self.lock_key)
            self.lock_key = None

    ### Writing --------------------------------------------------------------------------------

    def _header(self, name: str) -> str | None:
        return self.request_headers.get(name)

    def _cors(self) -> list[tuple[bytes, bytes]]:
        origin = self._header("origin")
        if not origin:
            return []
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", EXPOSE_HEADERS.encode())]

    async def _start(self, status: int, content_type: str | None, extra: list[tuple[bytes, bytes]] = ()) -> None:
        headers = list(extra) + self._cors()
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        headers.append((b"cache-control", b"no-store"))
        await self.send({"type": "http.response.start", "status": int(status), "headers": headers})
        self.headers_sent = True

    async def _body(self, data: bytes, more: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def _json(self, status: int, payload: Any, extra: list[tuple[bytes, bytes]] = ()) -> None:
        await self._start(status, "application/json", extra)
        await self._body(json.dumps(payload).encode())

    async def _empty(self, status: int, extra: list[tuple[bytes, bytes]] = ()) -> None:
        await self._start(status, None, extra)
        await self._body(b"")

    async def _rpc_error(self, exc: MCPError, request_id: Any = None) -> None:
        await self._json(exc.http_status, jsonrpc.error(request_id, exc))

    async def _challenge(self, result: Challenge) -> None:
        await self._start(result.status, "application/json", [(b"www-authenticate", result.www_authenticate.encode())])
        await self._body(result.body)

    ### Request handling -------------------------------------------------------------------------

    async def _respond(self) -> None:
        try:
            await self._route()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Unexpected error on /mcp")
            if not self.headers_sent:
                await self._rpc_error(MCPError(http_status=HTTPStatus.INTERNAL_SERVER_ERROR))
            else:
                await self._body(b"")
        finally:
            self.released.set()

    async def _route(self) -> None:
        self.request_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope["headers"]}
        method = self.scope["method"]
        origin = self._header("origin")
        if origin and not self._origin_allowed(origin):
            await self._json(HTTPStatus.FORBIDDEN, jsonrpc.error(None, InvalidRequest("Origin not allowed")))
            return
        if method == "OPTIONS":
            await self._empty(HTTPStatus.NO_CONTENT, [
                (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()), (b"access-control-max-age", b"86400")])
            return
        if method not in {"GET", "POST", "DELETE"}:
            await self._empty(HTTPStatus.METHOD_NOT_ALLOWED, [(b"allow", b"GET, POST, DELETE, OPTIONS")])
            return
        if self.too_large:
            await self._rpc_error(InvalidRequest("Request body too large", http_status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
            return
        principal = await authenticate(self._header("authorization"))
        if isinstance(principal, Challenge):
            await self._challenge(principal)
            return
        self.principal = principal
        try:
            await {"POST": self._post, "GET": self._get, "DELETE": self._delete}[method]()
        except InsufficientScope as exc:
            await self._challenge(challenge(exc, exc.required))

    def _origin_allowed(self, origin: str) -> bool:
        """TRANS-02 (DNS rebinding): browsers may call /mcp only from this server's own origin, a
        loopback origin (the MCP Inspector, local apps), or an origin listed explicitly in
        ``CORS_ALLOWED_ORIGINS``; its ``*`` opens the metadata endpoints, never /mcp. Requests
        without ``Origin`` (server-to-server, e.g. Claude's backend) are not affected."""
        listed = [entry for entry in getattr(settings, "CORS_ORIGINS", []) if entry != "*"]
        if origin == settings.PUBLIC_URL or origin in listed:
            return True
        parts = urlsplit(origin)
        return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOOPBACK_HOSTS

    ### POST ------------------------------------------------------------------------------------------

    async def _post(self) -> None:
        content_type = (self._header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            await self._rpc_error(InvalidRequest("Content-Type must be application/json",
                                                 http_status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE))
            return
        accept = self._header("accept") or ""
        if not (h.accepts(accept, "application/json") and h.accepts(accept, "text/event-stream")):
            await self._rpc_error(InvalidRequest("Accept must list application/json and text/event-stream",
                                                 http_status=HTTPStatus.NOT_ACCEPTABLE))
            return
        try:
            messages, is_batch = jsonrpc.decode_body(bytes(self.body))
        except MCPError as exc:
            await self._rpc_error(exc)
            return
        first = messages[0]
        meta = first.params.get("_meta") if isinstance(first.params, dict) else None
        body_version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
        header_version = self._header(h.PROTOCOL_VERSION)
        if request_era(body_version, header_version, first.method) is Era.MODERN:
            await self._post_modern(messages, is_batch, body_version, header_version)
        else:
            await self._post_legacy(messages, is_batch, header_version)

    # --- modern era (2026-07-28) -----------------------------------------------------------------

    async def _post_modern(self, messages: list[Message], is_batch: bool, body_version: Any, header_version: str | None) -> None:
        message = messages[0]
        request_id = message.id
        if is_batch:
            await self._rpc_error(InvalidRequest("Batches are not supported in this protocol version"))
            return
        if body_version is None:
            await self._rpc_error(InvalidParams("Missing _meta protocol version and client capabilities",
                                                http_status=HTTPStatus.BAD_REQUEST), request_id)
            return
        try:
            # TRANS-29 before TRANS-30: a header that disagrees with the body is a HeaderMismatch,
            # whatever version the body names.
            self._check_modern_version_header(body_version, header_version)
        except HeaderMismatch as exc:
            await self._rpc_error(exc, request_id)
            return
        if body_version not in MODERN_VERSIONS:
            await self._rpc_error(UnsupportedProtocolVersion(data={"supported": list(SUPPORTED_VERSIONS),
                                                                   "requested": str(body_version)}), request_id)
            return
        try:
            if message.kind != "response":
                h.check_modern_headers(self.request_headers, message.method or "", message.params)
        except HeaderMismatch as exc:
            await self._rpc_error(exc, request_id)
            return
        if message.kind != "request":
            await self._empty(HTTPStatus.ACCEPTED)
            return
        if not isinstance(message.params["_meta"].get(META_CLIENT_CAPABILITIES), dict):
            # TRANS-28: every _meta field a 2026-07-28 request must carry is checked with HTTP 400.
            await self._rpc_error(InvalidParams("Missing _meta client capabilities", http_status=HTTPStatus.BAD_REQUEST),
                                  request_id)
            return
        context = CallContext(principal=self.principal, version=body_version, era=Era.MODERN)
        if message.method == "subscriptions/listen":
            await self._listen(message, context)
            return
        try:
            dispatcher.check(message, context)
        except MethodNotFound:
            await self._rpc_error(MethodNotFound(http_status=HTTPStatus.NOT_FOUND), request_id)
            return
        except InvalidParams as exc:
            exc.http_status = HTTPStatus.BAD_REQUEST if not isinstance(message.params.get("_meta"), dict) else exc.http_status
            await self._rpc_error(exc, request_id)
            return
        except MCPError as exc:  # e.g. MissingClientCapability: its own HTTP status (400)
            await self._rpc_error(exc, request_id)
            return
        meta = message.params.get("_meta") or {}
        streaming = message.method in STREAMING_METHODS and ("progressToken" in meta or "io.modelcontextprotocol/logLevel" in meta)
        await self._answer(message, context, streaming, session=None)

    def _check_modern_version_header(self, body_version: str, header_version: str | None) -> None:
        if header_version == body_version:
            return
        if header_version in LEGACY_VERSIONS and mcp_settings.ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY:
            # CLAUDE-14: Claude's connectors send the legacy header with a modern body.
            log.info("Accepting MCP-Protocol-Version %s with a %s body (known client bug)", header_version, body_version)
            return
        raise HeaderMismatch("MCP-Protocol-Version header does not match _meta protocol version")

    # --- legacy era (initialize + sessions) ----------------------------------------------------------

    async def _post_legacy(self, messages: list[Message], is_batch: bool, header_version: str | None) -> None:
        if any(m.method == "initialize" for m in messages):
            if is_batch or messages[0].kind != "request":
                await self._rpc_error(InvalidRequest("initialize must be sent alone"))
                return
            await self._initialize(messages[0])
            return
        session_id = self._header(h.SESSION_ID)
        if not session_id:
            await self._rpc_error(InvalidRequest("Missing Mcp-Session-Id header"))
            return
        session = await sessions.resolve_session(session_id, self.principal)
        if session is None:
            await self._json(HTTPStatus.NOT_FOUND, jsonrpc.error(None, InvalidRequest("Session not found")))
            return
        if header_version is not None and header_version not in LEGACY_VERSIONS:
            await self._rpc_error(InvalidRequest(f"Unsupported MCP-Protocol-Version: {header_version}"))
            return
        version = header_version or session.protocol_version or DEFAULT_LEGACY
        if is_batch and not allows_batches(session.protocol_version):
            await self._rpc_error(InvalidRequest("Batches are only supported in protocol version 2025-03-26"))
            return
        for message in messages:
            if message.kind == "notification" and message.method == "notifications/cancelled":
                await self.channel_layer.group_send(session_group(session), {
                    "type": "mcp.cancel", "request_id": message.params.get("requestId")})
        requests = [m for m in messages if m.kind == "request"]
        if not requests:
            await self._empty(HTTPStatus.ACCEPTED)
            return
        context = self._legacy_context(session, version)
        await self._join(session_group(session))
        if is_batch:
            responses = []
            for message in requests:
                try:
                    responses.append(await dispatcher.dispatch(message, context))
                except InsufficientScope as exc:
                    responses.append(jsonrpc.error(message.id, InvalidParams(f"Needs scopes: {' '.join(exc.required)}")))
            await self._json(HTTPStatus.OK, responses)
            return
        message = requests[0]
        if message.method in dispatcher.table:
            try:
                dispatcher.check(message, context)  # scope failures must become a 403 before any stream starts
            except MCPError:
                pass  # answered as a JSON-RPC error by dispatch() below
        meta = message.params.get("_meta") or {}
        streaming = message.method in STREAMING_METHODS and ("progressToken" in meta or session.log_level)
        await self._answer(message, context, bool(streaming), session=session)

    def _legacy_context(self, session: sessions.SessionInfo, version: str) -> CallContext:
        async def set_level(level: str) -> None:
            await sessions.set_log_level(session, level)

        async def to_session(method: str, params: dict[str, Any]) -> None:
            await self._publish(session, session.standalone_stream, jsonrpc.notification(method, params))

        return CallContext(principal=self.principal, version=version, era=Era.LEGACY, log_level=session.log_level,
                           set_log_level=set_level, send_session_notification=to_session)

    async def _initialize(self, message: Message) -> None:
        version = negotiate(message.params.get("protocolVersion"))
        context = CallContext(principal=self.principal, version=version, era=Era.LEGACY)
        response = await dispatcher.dispatch(message, context)
        if "error" in response:
            await self._json(HTTPStatus.OK, response)
            return
        session_id, _ = await sessions.create_session(self.principal, version, message.params.get("clientInfo") or {})
        await self._json(HTTPStatus.OK, response, [(b"mcp-session-id", session_id.encode())])

    async def _publish(self, session: sessions.SessionInfo, stream: str, payload: dict[str, Any]) -> str:
        """Store an event of a legacy stream and hand it to whoever listens, in any process."""
        event_id = await sessions.append_event(session, stream, payload)
        await self.channel_layer.group_send(stream_group(stream), {"type": "mcp.event", "id": event_id, "payload": payload})
        return event_id

    # --- answering one request: JSON, or an SSE stream with notifications ------------------------------

    async def _answer(self, message: Message, context: CallContext, streaming: bool,
                      session: sessions.SessionInfo | None) -> None:
        if not streaming:
            try:
                response = await dispatcher.dispatch(message, context)
            except InsufficientScope as exc:
                await self._challenge(challenge(exc, exc.required))
                return
            await self._json(HTTPStatus.OK, response)
            return
        stream = "s" + secrets.token_hex(8)
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def send_notification(method: str, params: dict[str, Any]) -> None:
            await outbox.put(jsonrpc.notification(method, params))

        context.send_notification = send_notification
        self.resumable = session is not None
        await self._start_sse()
        if session is not None and context.version == "2025-11-25":
            await self._sse(await sessions.append_event(session, stream, {}), None)  # priming event (TRANS-21)
        work = asyncio.ensure_future(dispatcher.dispatch(message, context))
        helpers: tuple[asyncio.Future, ...] = ()
        try:
            while True:
                getter = asyncio.ensure_future(outbox.get())
                cancel = asyncio.ensure_future(self._cancelled(message.id))
                helpers = (getter, cancel)
                done, _ = await asyncio.wait({work, getter, cancel}, timeout=mcp_settings.SSE_KEEPALIVE_SECONDS,
                                             return_when=asyncio.FIRST_COMPLETED)
                for pending in (getter, cancel):
                    if pending not in done:
                        pending.cancel()
                if cancel in done:
                    work.cancel()
                    break
                if getter in done:
                    await self._emit(session, stream, getter.result())
                    continue
                if work in done:
                    while not outbox.empty():
                        await self._emit(session, stream, outbox.get_nowait())
                    await self._emit(session, stream, work.result())
                    break
                await self._body(sse.KEEPALIVE, more=True)
        finally:
            # Whatever ended the stream (response, cancellation, disconnect), leave no task running (DJ-09).
            for task in (work, *helpers):
                task.cancel()
            await asyncio.gather(work, *helpers, return_exceptions=True)
        await self._body(b"")

    async def _cancelled(self, request_id: Any) -> None:
        while request_id not in self.cancel_ids:
            message = await self.events.get()
            if message.get("type") == "mcp.end":
                self.cancel_ids.add(request_id)

    async def _emit(self, session: sessions.SessionInfo | None, stream: str, payload: dict[str, Any]) -> None:
        event_id = await self._publish(session, stream, payload) if session is not None else None
        await self._sse(event_id, payload)

    async def _start_sse(self) -> None:
        await self._start(HTTPStatus.OK, "text/event-stream", [(b"x-accel-buffering", b"no")])
        await self._body(sse.retry(mcp_settings.SSE_RETRY_MILLISECONDS), more=True)

    async def _sse(self, event_id: str | None, payload: dict[str, Any] | None) -> None:
        await self._body(sse.event(event_id, payload), more=True)

    # --- modern subscriptions/listen ------------------------------------------------------------------

    async def _listen(self, message: Message, context: CallContext) -> None:
        try:
            dispatcher.validate(message, context)
        except MCPError as exc:
            await self._rpc_error(exc, message.id)
            return
        filters = acknowledged_filter(message.params.get("notifications") or {})
        await self._join(LISTEN_GROUP)
        await self._start_sse()
        meta = {"io.modelcontextprotocol/subscriptionId": message.id}
        await self._sse(None, jsonrpc.notification("notifications/subscriptions/acknowledged",
                                                   {"_meta": meta, "notifications": filters}))
        while (event := await self._next_event()) is not None:
            if event.get("type") == "mcp.list_changed" and wants(filters, event["kind"]):
                await self._sse(None, jsonrpc.notification(f"notifications/{event['kind']}/list_changed", {"_meta": meta}))
        # A graceful end of the subscription is a complete result (TRANS-41).
        await self._sse(None, jsonrpc.result(message.id, {"resultType": "complete",
                                                          "_meta": {**meta, SERVER_INFO_KEY: server_info()}}))
        await self._body(b"")

    ### GET: the legacy standalone stream ----------------------------------------------------------------

    async def _get(self) -> None:
        session_id = self._header(h.SESSION_ID)
        if not session_id:
            await self._empty(HTTPStatus.METHOD_NOT_ALLOWED, [(b"allow", b"POST, OPTIONS")])
            return
        if not h.accepts(self._header("accept") or "", "text/event-stream"):
            await self._rpc_error(InvalidRequest("Accept must list text/event-stream", http_status=HTTPStatus.NOT_ACCEPTABLE))
            return
        session = await sessions.resolve_session(session_id, self.principal)
        if session is None:
            await self._json(HTTPStatus.NOT_FOUND, jsonrpc.error(None, InvalidRequest("Session not found")))
            return
        stream, after = session.standalone_stream, None
        last_event_id = self._header(h.LAST_EVENT_ID)
        if last_event_id:
            parsed = sessions.parse_event_id(last_event_id)
            if parsed is None or not await sessions.stream_belongs_to(session, parsed[0]):
                await self._rpc_error(InvalidRequest("Unknown Last-Event-ID"))
                return
            stream, after = parsed
        if stream == session.standalone_stream:
            lock = f"mcp-get-{session.pk}"
            if not await cache.aadd(lock, 1, timeout=3600):
                await self._rpc_error(InvalidRequest("Another GET stream is already open for this session",
                                                     http_status=HTTPStatus.CONFLICT))
                return
            self.lock_key = lock
        await self._join(stream_group(stream))
        await self._join(session_group(session))
        await self._start_sse()
        if after is None:
            # Messages queued while no GET stream was open come first; if there are none, a priming
            # event (TRANS-21) gives the client an id to resume from. Either way every id sent is
            # in this stream and in increasing order, so Last-Event-ID replays exactly what follows.
            backlog = await sessions.undelivered_standalone(session)
            if not backlog:
                await self._sse(await sessions.append_event(session, stream, {}, delivered=True), None)
            after = 0
        else:
            backlog = await sessions.events_after(session, stream, after)
        last = after
        for event_id, payload in backlog:
            await self._sse(event_id, payload)
            last = max(last, sessions.parse_event_id(event_id)[1])
            if self._is_final(stream, session, payload):
                await self._body(b"")
                return
        while (event := await self._next_event()) is not None:
            if event.get("type") == "mcp.end":
                break
            if event.get("type") != "mcp.event":
                continue
            number = sessions.parse_event_id(event["id"])[1]
            if number <= last:
                continue
            await self._sse(event["id"], event["payload"])
            last = number
            if stream == session.standalone_stream:
                await sessions.mark_delivered(event["id"])
            if self._is_final(stream, session, event["payload"]):
                break
        await self._body(b"")

    async def _next_event(self) -> dict[str, Any] | None:
        """The next channel-layer message for a long-lived stream, writing keep-alive comments meanwhile.

        ``None`` once the bearer that opened the stream has expired: the client must come back
        with a fresh token, because every request is authenticated (AUTH-14).
        """
        while True:
            remaining = (self.principal.expires_at - timezone.now()).total_seconds()
            if remaining <= 0:
                return None
            try:
                return await asyncio.wait_for(self.events.get(), timeout=min(mcp_settings.SSE_KEEPALIVE_SECONDS, remaining))
            except asyncio.TimeoutError:
                await self._body(sse.KEEPALIVE, more=True)

    @staticmethod
    def _is_final(stream: str, session: sessions.SessionInfo, payload: dict[str, Any]) -> bool:
        """A resumed POST stream ends with its JSON-RPC response."""
        return stream != session.standalone_stream and "id" in payload and ("result" in payload or "error" in payload)

    ### DELETE -----------------------------------------------------------------------------------------------

    async def _delete(self) -> None:
        session_id = self._header(h.SESSION_ID)
        if not session_id:
            await self._empty(HTTPStatus.METHOD_NOT_ALLOWED, [(b"allow", b"POST, OPTIONS")])
            return
        session = await sessions.resolve_session(session_id, self.principal)
        if session is None:
            await self._json(HTTPStatus.NOT_FOUND, jsonrpc.error(None, InvalidRequest("Session not found")))
            return
        await self.channel_layer.group_send(session_group(session), {"type": "mcp.end"})
        await sessions.end_session(session)
        await self._empty(HTTPStatus.NO_CONTENT)

