"""``GET /mcp/sse-probe``: a short event stream that ``manage.py doctor`` reads to detect a buffering proxy.

The doctor has no token, and ``/mcp`` streams need one, so this unauthenticated stream sits
beside ``/mcp`` (behind the same proxy location) and carries the headers ``/mcp`` streams carry.
It sends one event at once, holds the stream open :data:`HOLD_SECONDS`, sends a second event
and ends. Unbuffered, the first event arrives within milliseconds; a buffering proxy delivers
it only with the end of the stream. It touches no database and lasts a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

HOLD_SECONDS = 3.0  # longer than the doctor's 2 s deadline for the first event


async def _events() -> AsyncIterator[bytes]:
    yield f"event: probe\ndata: {json.dumps({'n': 1, 'time': time.time()})}\n\n".encode()
    await asyncio.sleep(HOLD_SECONDS)  # the stream stays open: a buffering proxy holds event 1 until now
    yield f"event: probe\ndata: {json.dumps({'n': 2, 'time': time.time()})}\n\n".encode()


@require_GET
async def sse_probe(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # as /mcp streams send it
    return response
