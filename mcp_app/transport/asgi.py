"""The ASGI application serving ``/mcp`` and ``/mcp/`` (routed by ``project/asgi.py``; CLAUDE-12: no redirect).

One call per HTTP request, in this order: Host, Origin (TRANS-02), OPTIONS preflight, method,
body size, authentication (every request, AUTH-14), then the method's handling: POST goes to
its era (:mod:`.modern` or :mod:`.legacy`, decided per request from the body, TRANS-44), GET and
DELETE to the legacy era. Anything raised on the way, before an answer was written, is answered
by :func:`mcp_app.wire.wire_error`.

Why not a Channels consumer: an ``AsyncConsumer`` gives every request a layer channel and a
dispatch loop, which a single JSON exchange never needs; streams open the channel-layer side
themselves when they start (:class:`.streams.Inbox`). The channel layer, the routing and daphne
are still Channels'.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..auth import authenticate
from ..conf import mcp_settings
from ..context import META_PROTOCOL_VERSION
from ..protocol import headers as h
from ..protocol import jsonrpc
from ..protocol.errors import BodyTooLarge
from ..protocol.versions import Era, request_era
from ..wire import wire_error
from . import legacy, modern, security
from .http import Request, Response

log = logging.getLogger(__name__)


class MCPEndpoint:
    """``/mcp``: Streamable HTTP, both protocol eras."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("/mcp speaks HTTP only")
        request = Request(scope, receive)
        response = Response(send, [])
        try:
            await self.handle(request, response)
        except asyncio.CancelledError:
            if request.gone:  # a stream's Inbox cancelled us because the client went away: nothing left to say
                asyncio.current_task().uncancel()
                return
            # Shutdown (daphne cancels every application on SIGTERM): a stream ends with a terminated
            # body, not a truncated one; its events are stored, so the client resumes elsewhere.
            if response.started and not response.finished:
                try:
                    await response.end()
                except Exception:  # the connection may be gone already
                    pass
            raise
        except ConnectionAbortedError:
            return  # disconnected while sending the body
        except Exception as exc:
            if not response.started:
                await response.reply(wire_error(exc, request.era, request.rpc_id, "transport"))
            elif not response.finished:
                log.error("Error on /mcp after the response started", exc_info=exc)
                await response.end()

    async def handle(self, request: Request, response: Response) -> None:
        security.check_host(request)
        response.cors = security.check_origin(request)
        method = request.method
        if method == "OPTIONS":
            await response.empty(204, security.PREFLIGHT_HEADERS)
            return
        if method not in {"GET", "POST", "DELETE"}:
            await response.empty(405, [(b"allow", security.ALLOW_METHODS)])
            return
        await request.read_body(mcp_settings.MAX_BODY_BYTES)
        if request.too_large:
            raise BodyTooLarge()
        request.principal = await authenticate(request.header("authorization"))
        if method == "POST":
            await self.post(request, response)
        elif method == "GET":
            await legacy.get(request, response)
        else:
            await legacy.delete(request, response)

    async def post(self, request: Request, response: Response) -> None:
        security.check_post_media_types(request)
        messages, is_batch = jsonrpc.decode_body(request.body)
        first = messages[0]
        meta = first.params.get("_meta") if isinstance(first.params, dict) else None
        body_version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
        header_version = request.header(h.PROTOCOL_VERSION)
        if request_era(body_version, header_version, first.method) is Era.MODERN:
            await modern.post(request, response, messages, is_batch, body_version, header_version)
        else:
            await legacy.post(request, response, messages, is_batch)


application = MCPEndpoint()
