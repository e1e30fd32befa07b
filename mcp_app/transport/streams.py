"""Long-lived responses: SSE framing on the wire, the channel-layer inbox, the event store, replay, keep-alive.

Only streams pay for the machinery: an :class:`Inbox` is opened when a response becomes a stream
(an SSE answer to a POST, a GET, ``subscriptions/listen``). It watches the client (a disconnect
cancels the request, except for a resumable legacy stream, TRANS-21/TRANS-55) and, when the stream
listens to groups, owns a layer channel whose messages (events, cancellations, session end, list
changes) it queues for the stream. Closing it leaves every group and cancels its tasks (DJ-09).

A stream ends, on every process, when the bearer that opened it is revoked (issue 12 §4, AUTH-14):
each open stream is registered here by its token's checksum, and :func:`_end_revoked` (an
:func:`oauth_app.revocation.on_invalidate` handler for ``TOKENS``, which runs in the revoking
process at once and in the others through its channel-layer broadcast) ends those streams. A
stream whose channel-layer receive fails ends too (logged), so its client resumes with
``Last-Event-ID`` instead of waiting on a stream that will never deliver again.

The session's GET stream is exclusive (TRANS-17): a lock in the shared cache names the holder's
layer channel and lives ``GET_LOCK_SECONDS``, refreshed while the stream is open, so a process
that died holds it briefly. A GET resuming the standalone stream with ``Last-Event-ID`` takes it
over (the old holder, if alive, is told to end). One process-wide cache client takes these locks:
``django.core.cache.cache`` is per task context under ASGI, which would be one connection per stream.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.core.cache.backends.base import BaseCache
from django.utils import timezone
from oauth_app.revocation import TOKENS, on_invalidate
from oauth_app.tokens import token_checksum

from .. import sessions
from ..conf import mcp_settings
from ..context import ToolContext
from ..dispatcher import Dispatcher, Prepared
from ..protocol import jsonrpc, sse
from ..auth import bearer_token
from ..protocol.errors import StreamConflict
from .http import Request, Response

log = logging.getLogger(__name__)

SSE = b"text/event-stream"
SSE_HEADERS = ((b"x-accel-buffering", b"no"),)
END = {"type": "mcp.end"}


# --- Streams by token: revocation ends them ---------------------------------------------------------

_by_token: dict[str, set["Inbox"]] = {}
_by_token_lock = threading.Lock()


def _end_revoked(checksums: list[str]) -> None:
    """``TOKENS`` invalidation handler: end every open stream of these tokens (any thread)."""
    with _by_token_lock:
        inboxes = [inbox for checksum in checksums for inbox in _by_token.get(checksum, ())]
    for inbox in inboxes:
        inbox.end_threadsafe()


on_invalidate(TOKENS, _end_revoked)


# --- The GET stream's lock ----------------------------------------------------------------------------

_lock_cache: BaseCache | None = None


def lock_cache() -> BaseCache:
    """One cache client for the whole process (created on first use)."""
    global _lock_cache
    if _lock_cache is None:
        from django.core.cache import caches

        _lock_cache = caches.create_connection("default")
    return _lock_cache


def get_lock_seconds() -> float:
    """How long a GET lock outlives its last refresh: three keep-alive periods."""
    return 3 * float(mcp_settings.SSE_KEEPALIVE_SECONDS)


def stream_group(stream: str) -> str:
    return f"mcp-stream-{stream}"


def session_group(session: sessions.SessionInfo) -> str:
    return f"mcp-session-{session.pk}"


class Inbox:
    """The client and channel-layer side of one stream."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.owner = asyncio.current_task()
        self.loop = asyncio.get_running_loop()
        self.layer = None
        self.channel: str | None = None
        self.groups: set[str] = set()
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_cancel: dict[Any, Callable[[], None]] = {}
        self.disconnected = False
        self.resumable = False
        """A legacy POST stream: a dropped connection is not a cancellation; the request runs on."""
        self.lock_key: str | None = None
        self._lock_refresh_at = 0.0
        self.checksum: str | None = None
        self._tasks: list[asyncio.Task] = [asyncio.ensure_future(self._watch_client())]
        self._watch_token()

    def _watch_token(self) -> None:
        raw = bearer_token(self.request.header("authorization"))
        if raw is None:
            return
        self.checksum = token_checksum(raw)
        with _by_token_lock:
            _by_token.setdefault(self.checksum, set()).add(self)

    def _unwatch_token(self) -> None:
        if self.checksum is None:
            return
        with _by_token_lock:
            watchers = _by_token.get(self.checksum)
            if watchers is not None:
                watchers.discard(self)
                if not watchers:
                    del _by_token[self.checksum]
        self.checksum = None

    def end_threadsafe(self) -> None:
        """End the stream (its bearer was revoked); callable from any thread."""
        try:
            self.loop.call_soon_threadsafe(self.deliver, dict(END))
        except RuntimeError:  # the loop is closed: the stream is gone anyway
            pass

    def deliver(self, message: dict[str, Any]) -> None:
        """Hand one message to the stream (from the channel layer, or ``mcp.end`` from here)."""
        kind = message.get("type")
        if kind == "mcp.cancel":
            callback = self.on_cancel.get(message.get("request_id"))
            if callback is not None:
                callback()
        elif kind == "mcp.end":
            for callback in list(self.on_cancel.values()):
                callback()
        self.events.put_nowait(message)

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
        try:
            while True:
                self.deliver(await self.layer.receive(self.channel))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. Redis timed out: this stream would never hear anything again
            log.warning("A stream lost the channel layer (%s: %s); ending it so that its client resumes",
                        type(exc).__name__, exc)
            self.deliver(dict(END))

    async def take_get_lock(self, key: str, take_over: bool) -> None:
        """Hold the session's GET lock (:class:`StreamConflict` if another stream holds it).

        ``take_over``: the client resumes the standalone stream (``Last-Event-ID``), so the stream it
        had is dead to it, or held by a process that died: the lock passes to this stream.
        """
        cache, seconds = lock_cache(), get_lock_seconds()
        if not await cache.aadd(key, self.channel, timeout=seconds):
            if not take_over:
                raise StreamConflict()
            holder = await cache.aget(key)
            if isinstance(holder, str) and holder != self.channel:
                await self.layer.send(holder, dict(END))  # a live holder ends; a dead one costs nothing
            await cache.aset(key, self.channel, timeout=seconds)
        self.lock_key = key
        self._lock_refresh_at = time.monotonic() + seconds / 3

    async def _refresh_lock(self) -> None:
        if self.lock_key is None or time.monotonic() < self._lock_refresh_at:
            return
        cache, seconds = lock_cache(), get_lock_seconds()
        self._lock_refresh_at = time.monotonic() + seconds / 3
        if not await cache.atouch(self.lock_key, timeout=seconds):
            await cache.aadd(self.lock_key, self.channel, timeout=seconds)

    async def close(self) -> None:
        self._unwatch_token()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for group in list(self.groups):
            await self.layer.group_discard(group, self.channel)
        self.groups.clear()
        if self.lock_key is not None:
            key, self.lock_key = self.lock_key, None
            cache = lock_cache()
            if await cache.aget(key) == self.channel:  # not if another stream took it over meanwhile
                await cache.adelete(key)

    async def next_event(self, response: Response, principal: Any) -> dict[str, Any] | None:
        """The next layer message, writing keep-alive comments meanwhile; ``None`` once the bearer expired.

        Every request is authenticated (AUTH-14): a stream outliving its token ends, and the client
        comes back with a fresh one.
        """
        while True:
            remaining = (principal.expires_at - timezone.now()).total_seconds()
            if remaining <= 0:
                return None
            await self._refresh_lock()
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
    # notifications/cancelled, DELETE, or the bearer's revocation: the stream ends without a response.
    inbox.on_cancel[prepared.message.id] = lambda: outbox.put_nowait(("cancel", None))
    try:
        if session is not None:
            inbox.resumable = True
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
        # Joined before anything is read, so no live event falls between the backlog and the stream.
        await inbox.join(stream_group(stream))
        await inbox.join(session_group(session))
        if stream == session.standalone_stream:
            await inbox.take_get_lock(f"mcp-get-{session.pk}", take_over=after is not None)
        # The database work comes before the response starts: a session deleted meanwhile is
        # then still the era's 404 (SessionNotFound from the event store), not a broken stream.
        priming = None
        if after is None:
            # Messages queued while no GET stream was open come first; if there are none, a priming
            # event (TRANS-21) gives the client an id to resume from. Either way every id sent is
            # in this stream and in increasing order, so Last-Event-ID replays exactly what follows.
            backlog = await sessions.undelivered_standalone(session)
            if not backlog:
                priming = await sessions.append_event(session, stream, {}, delivered=True)
            after = 0
        else:
            backlog = await sessions.events_after(session, stream, after)
        await start_sse(response)
        if priming is not None:
            await send_event(response, priming, None)
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
