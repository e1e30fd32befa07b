"""The lean path: one POST answered with one JSON body, in either era.

No layer channel, no group, no helper task, except for ``tools/call``: tools are arbitrary code
and may run long, so one task waits for ``http.disconnect`` meanwhile and cancels the call if the
client goes away (TRANS-40).
"""

from __future__ import annotations

import asyncio

from ..context import ToolContext
from ..dispatcher import dispatcher
from ..protocol.jsonrpc import Message
from .http import Request, Response

WATCHED_METHODS = {"tools/call"}


async def answer_json(request: Request, response: Response, message: Message, context: ToolContext) -> None:
    if message.method not in WATCHED_METHODS:
        await response.reply(await dispatcher.answer(message, context))
        return
    work = asyncio.ensure_future(dispatcher.answer(message, context))
    gone = asyncio.ensure_future(request.receive())
    try:
        await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not work.done():
            work.cancel()
    if work.cancelled() or not work.done():
        await asyncio.gather(work, return_exceptions=True)
        return  # the client left: nobody to answer
    await response.reply(work.result())
