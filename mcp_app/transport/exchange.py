"""The lean path: one POST answered with one JSON body, in either era.

No layer channel, no group, no helper task, except for a ``tools/call`` that runs long: tools are
arbitrary code, so once a call has run :data:`WATCH_AFTER_SECONDS`, a task waits for
``http.disconnect`` and, if the client goes away, cancels the request's own task (the call stops;
the ASGI app then ends quietly). A quick call (most are) ends before that and never pays for the
task. The call itself runs inline, in the request's task.
"""

from __future__ import annotations

import asyncio

from ..context import ToolContext
from ..dispatcher import dispatcher
from ..protocol.jsonrpc import Message
from .http import Request, Response

WATCHED_METHODS = frozenset({"tools/call"})
WATCH_AFTER_SECONDS = 0.05
"""How long a call runs before its client's disconnect is watched for (a timer, not a task, until then)."""


async def _cancel_on_disconnect(request: Request, owner: asyncio.Task) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    request.gone = True
    owner.cancel()


async def answer_json(request: Request, response: Response, message: Message, context: ToolContext) -> None:
    if message.method not in WATCHED_METHODS:
        await response.reply(await dispatcher.answer(message, context))
        return
    owner = asyncio.current_task()
    watcher: asyncio.Future | None = None

    def watch() -> None:
        nonlocal watcher
        watcher = asyncio.ensure_future(_cancel_on_disconnect(request, owner))

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, watch)
    try:
        reply = await dispatcher.answer(message, context)
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
    await response.reply(reply)
