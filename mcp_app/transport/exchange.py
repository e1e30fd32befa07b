"""The lean path: one POST answered with one JSON body, in either era.

No layer channel, no group, no helper task, except for a ``tools/call`` that runs long: tools are
arbitrary code, so once a call has run :data:`WATCH_AFTER_SECONDS`, a task waits for
``http.disconnect`` and, if the client goes away, cancels the request's own task (the call stops;
the ASGI app then ends quietly). A quick call (most are) ends before that and never pays for the
task. The call itself runs inline, in the request's task.

Which calls have run that long is found by one sweep per event loop every
:data:`WATCH_AFTER_SECONDS` while calls are in flight (:class:`_Watchdog`), not by a timer per
call: a ``call_later`` and its ``cancel`` for each call cost more CPU than the rest of this path's
bookkeeping under daphne (cancelled timers stay in the loop's heap until they reach its top).
"""

from __future__ import annotations

import asyncio
import weakref

from ..context import ToolContext
from ..dispatcher import dispatcher
from ..protocol.jsonrpc import Message
from .http import Request, Response

WATCHED_METHODS = frozenset({"tools/call"})
WATCH_AFTER_SECONDS = 0.05
"""How long a call runs before its client's disconnect is watched for: between one and two of these
(a sweep, not a task, until then)."""


async def _cancel_on_disconnect(request: Request, owner: asyncio.Task) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    request.gone = True
    owner.cancel()


class _Watchdog:
    """One event loop's calls in flight, and the one timer that starts watchers for those that run long."""

    __slots__ = ("calls", "timer")

    def __init__(self) -> None:
        self.calls: dict[asyncio.Task, list] = {}
        """The request's task: [its request, its watcher once started, seen by a sweep already]."""
        self.timer: asyncio.TimerHandle | None = None

    def enter(self, task: asyncio.Task, request: Request) -> None:
        self.calls[task] = [request, None, False]
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self.sweep)

    def leave(self, task: asyncio.Task) -> None:
        watcher = self.calls.pop(task)[1]
        if watcher is not None:
            watcher.cancel()

    def sweep(self) -> None:
        self.timer = None
        for task, entry in self.calls.items():
            if not entry[2]:
                entry[2] = True  # in flight now; still in flight at the next sweep: it has run a full period
            elif entry[1] is None:
                entry[1] = asyncio.ensure_future(_cancel_on_disconnect(entry[0], task))
        if self.calls:
            self.timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self.sweep)


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = weakref.WeakKeyDictionary()


_last: tuple[asyncio.AbstractEventLoop | None, _Watchdog | None] = (None, None)
"""The last loop asked about and its watchdog: a process serves from one loop, and a
``WeakKeyDictionary`` lookup makes a weak reference every time."""


def _watchdog() -> _Watchdog:
    global _last
    loop = asyncio.get_running_loop()
    if _last[0] is loop:
        return _last[1]
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog()
    _last = (loop, watchdog)
    return watchdog


async def answer_json(request: Request, response: Response, message: Message, context: ToolContext) -> None:
    if message.method not in WATCHED_METHODS:
        await response.reply(await dispatcher.answer(message, context))
        return
    owner = asyncio.current_task()
    watchdog = _watchdog()
    watchdog.enter(owner, request)
    try:
        reply = await dispatcher.answer(message, context)
    finally:
        watchdog.leave(owner)
    await response.reply(reply)
