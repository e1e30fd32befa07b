"""The lean path: one POST answered with one JSON body, in either era.

No layer channel, no group, no helper task, except for ``tools/call``: tools are arbitrary code
and may run long, so one task waits for ``http.disconnect`` meanwhile and, if the client goes
away, cancels the request's own task (the call stops; the ASGI app then ends quietly). The call
itself runs inline, in the request's task.
"""

from __future__ import annotations

import asyncio

from ..context import ToolContext
from ..dispatcher import dispatcher
from ..protocol.jsonrpc import Message
from .http import Request, Response

WATCHED_METHODS = frozenset({"tools/call"})


async def _cancel_on_disconnect(request: Request, owner: asyncio.Task) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    request.gone = True
    owner.cancel()


async def answer_json(request: Request, response: Response, message: Message, context: ToolContext) -> None:
    if message.method not in WATCHED_METHODS:
        await response.reply(await dispatcher.answer(message, context))
        return
    watcher = asyncio.ensure_future(_cancel_on_disconnect(request, asyncio.current_task()))
    try:
        reply = await dispatcher.answer(message, context)
    finally:
        watcher.cancel()
    await response.reply(reply)
