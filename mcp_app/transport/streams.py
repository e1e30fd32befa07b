"""Long-lived responses: SSE framing on the wire, the channel-layer inbox, the event store, replay, keep-alive.

Only streams pay for the machinery: an :class:`Inbox` is opened when a response becomes a stream
(an SSE answer to a POST, a GET, ``subscriptions/listen``). It watches the client (a disconnect
cancels the request, except for a resumable legacy stream, TRANS-21/TRANS-55) and, when the stream
listens to groups, owns a layer channel whose messages (events, cancellations, session end, list
changes) it queues for the stream. Closing it leaves every group and cancels its tasks (DJ-09).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone

from .. import sessions
from ..conf import mcp_settings
from ..context import ToolContext
from ..dispatcher import Dispatcher, Prepared
from ..protocol import jsonrpc, sse
from ..protocol.errors import StreamConflict
from .http import Request, Response

SSE = b"text/event-stream"
SSE_HEADERS = ((b"x-accel-buffering", b"no"),)


def stream_group(stream: str) -> str:
    return f"mcp-stream-{stream}"


def session_group(session: sessions.SessionInfo) -> str:
    return f"mcp-session-{session.pk}"


class Inbox:
    """The client and channel-layer side of one stream."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.owner = asyncio.current_task()
        self.layer = None
        self.channel: str | None = None
        self.groups: set[str] = set()
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_cancel: dict[Any, Callable[[], None]] = {}
        self.disconnected = False
        self.resumable = False
        """A legacy POST stream: a dropped connection is not a cancellation; the request runs on."""
        self.lock_key: str | None = None
        self._tasks: list[asyncio.Task] = [asyncio.ensure_future(self._watch_client())]

    async def join(self, group: str) -> None:
        if self.channel is None:
            self.layer = get_channel_layer()
            self.channel = await self.layer.new_channel()
            self._tasks.append(asyncio.ensure_future(self._pump()))
        await self.layer.group_add(group, self.channel)
        self.groups.add(group)

    async def _watch_client(self) -> None:
        while (await self.request.receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        if not self.resumable and self.owner is not None:
            # Closing the stream cancels the request (TRANS-40); the ASGI app ends quietly.
            self.request.gone = True
            self.owner.cancel()

    async def _pump(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            kind = message.get("type")
            if kind == "mcp.cancel":
                callback = self.on_cancel.get(message.get("request_id"))
                if callback is not None:
                    callback()
            elif kind == "mcp.end":
                for callback in list(self.on_cancel.values()):
                    callback()
            self.events.put_nowait(message)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for group in list(self.groups):
            await self.layer.group_discard(group, self.channel)
        self.groups.clear()
        if self.lock_key is not None:
            await cache.adelete(self.lock_key)
            self.lock_key = None

    async def next_event(self, response: Response, principal: Any) -> dict[str, Any] | None:
        """The next layer message, writing keep-alive comments meanwhile; ``None`` once the bearer expired.

        Every request is authenticated (AUTH-14): a stream outliving its token ends, and the client
        comes back with a fresh one.
        """
        while True:
            remaining = (principal.expires_at - timezone.now()).total_seconds()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(min(mcp_settings.SSE_KEEPALIVE_SECONDS, remaining)):
                    return await self.events.get()
            except TimeoutError:
                await response.body(sse.KEEPALIVE, more=True)


async def start_sse(response: Response) -> None:
    await response.start(200, SSE, SSE_HEADERS)
    await response.body(sse.retry(mcp_settings.SSE_RETRY_MILLISECONDS), more=True)


async def send_event(response: Response, event_id: str | None, payload: dict[str, Any] | None) -> None:
    await response.body(sse.event(event_id, payload), more=True)


async def publish(session: sessions.SessionInfo, stream: str, payload: dict[str, Any]) -> str:
    """Store an event of a legacy stream and hand it to whoever listens, in any process."""
    event_id = await sessions.append_event(session, stream, payload)
    await get_channel_layer().group_send(stream_group(stream), {"type": "mcp.event", "id": event_id, "payload": payload})
    return event_id


async def streamed_call(request: Request, response: Response, dispatcher: Dispatcher, prepared: Prepared,
                        context: ToolContext, session: sessions.SessionInfo | None) -> None:
    """Answer one request as an SSE stream: its notifications as they come, then its response.

    Legacy streams (``session``) store every event for ``Last-Event-ID`` replay and end on
    ``notifications/cancelled`` or DELETE; modern streams end when the client goes away.
    """
    stream = "s" + secrets.token_hex(8)
    outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def send_notification(method: str, params: dict[str, Any]) -> None:
        outbox.put_nowait(("message", jsonrpc.notification(method, params)))

    async def emit(payload: dict[str, Any]) -> None:
        event_id = await publish(session, stream, payload) if session is not None else None
        await send_event(response, event_id, payload)

    context.send_notification = send_notification
    inbox = Inbox(request)
    work: asyncio.Task | None = None
    try:
        if session is not None:
            inbox.resumable = True
            inbox.on_cancel[prepared.message.id] = lambda: outbox.put_nowait(("cancel", None))
            await inbox.join(session_group(session))
        await start_sse(response)
        if session is not None and context.version == "2025-11-25":
            await send_event(response, await sessions.append_event(session, stream, {}), None)  # priming (TRANS-21)
        work = asyncio.ensure_future(dispatcher.answer(prepared.message, context, prepared=prepared, where="embedded"))
        work.add_done_callback(lambda _: outbox.put_nowait(("done", None)))
        while True:
            try:
                async with asyncio.timeout(mcp_settings.SSE_KEEPALIVE_SECONDS):
                    kind, payload = await outbox.get()
            except TimeoutError:
                await response.body(sse.KEEPALIVE, more=True)
                continue
            if kind == "message":
                await emit(payload)
            elif kind == "cancel":  # the stream ends without a response (TRANS-55)
                break
            elif kind == "done":
                if not work.cancelled():
                    await emit(work.result().payload)
                break
        await response.end()
    finally:
        # Whatever ended the stream (response, cancellation, disconnect), leave no task running (DJ-09).
        if work is not None:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        await inbox.close()


async def replay_or_follow(request: Request, response: Response, session: sessions.SessionInfo, stream: str,
                           after: int | None) -> None:
    """The legacy GET stream: a backlog (or a replay after ``Last-Event-ID``), then live events."""
    inbox = Inbox(request)
    try:
        if stream == session.standalone_stream:
            lock = f"mcp-get-{session.pk}"
            if not await cache.aadd(lock, 1, timeout=3600):
                raise StreamConflict()
            inbox.lock_key = lock
        await inbox.join(stream_group(stream))
        await inbox.join(session_group(session))
        await start_sse(response)
        if after is None:
            # Messages queued while no GET stream was open come first; if there are none, a priming
            # event (TRANS-21) gives the client an id to resume from. Either way every id sent is
            # in this stream and in increasing order, so Last-Event-ID replays exactly what follows.
            backlog = await sessions.undelivered_standalone(session)
            if not backlog:
                await send_event(response, await sessions.append_event(session, stream, {}, delivered=True), None)
            after = 0
        else:
            backlog = await sessions.events_after(session, stream, after)
        last = after
        for event_id, payload in backlog:
            await send_event(response, event_id, payload)
            last = max(last, sessions.parse_event_id(event_id)[1])
            if _is_final(stream, session, payload):
                await response.end()
                return
        while (event := await inbox.next_event(response, request.principal)) is not None:
            if event.get("type") == "mcp.end":
                break
            if event.get("type") != "mcp.event":
                continue
            number = sessions.parse_event_id(event["id"])[1]
            if number <= last:
                continue
            await send_event(response, event["id"], event["payload"])
            last = number
            if stream == session.standalone_stream:
                await sessions.mark_delivered(event["id"])
            if _is_final(stream, session, event["payload"]):
                break
        await response.end()
    finally:
        await inbox.close()


def _is_final(stream: str, session: sessions.SessionInfo, payload: dict[str, Any]) -> bool:
    """A resumed POST stream ends with its JSON-RPC response."""
    return stream != session.standalone_stream and "id" in payload and ("result" in payload or "error" in payload)
