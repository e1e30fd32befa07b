"""The 2026-07-28 era: every request stands alone (no session), carrying its version and capabilities in ``_meta``.

Rules, in the order they are checked: no batches; ``_meta`` must name the protocol version
(TRANS-28, HTTP 400); an ``MCP-Protocol-Version`` header that disagrees with the body is a header
mismatch (TRANS-29, checked before the version itself is judged, TRANS-30), except Claude's legacy
header (CLAUDE-14, a setting); ``Mcp-Method`` / ``Mcp-Name`` must match the body (TRANS-32);
notifications and responses get 202; client capabilities must be declared (HTTP 400). A tool call
streams when the request carries a progress token or a log level; ``subscriptions/listen`` is a
stream of list-changed notifications (TRANS-41). Anything else is one JSON exchange.
"""

from __future__ import annotations

import logging
from typing import Any

from ..conf import mcp_settings
from ..context import META_CLIENT_CAPABILITIES, ToolContext
from ..dispatcher import SERVER_INFO_KEY, dispatcher, server_info
from ..protocol import headers as h
from ..protocol import jsonrpc
from ..protocol.errors import HeaderMismatch, InvalidRequest, MissingMeta, UnsupportedProtocolVersion
from ..protocol.jsonrpc import Message
from ..protocol.versions import LEGACY_VERSIONS, MODERN_VERSIONS, SUPPORTED_VERSIONS, Era
from ..subscriptions import LISTEN_GROUP, acknowledged_filter, wants
from . import streams
from .exchange import answer_json
from .http import Request, Response

log = logging.getLogger(__name__)
STREAMING_METHODS = {"tools/call"}


async def post(request: Request, response: Response, messages: list[Message], is_batch: bool,
               body_version: Any, header_version: str | None) -> None:
    request.era = Era.MODERN
    message = messages[0]
    if is_batch:
        raise InvalidRequest("Batches are not supported in this protocol version")
    request.rpc_id = message.id
    if body_version is None:
        raise MissingMeta()
    check_version_header(body_version, header_version)
    if body_version not in MODERN_VERSIONS:
        raise UnsupportedProtocolVersion(data={"supported": list(SUPPORTED_VERSIONS), "requested": str(body_version)})
    if message.kind != "response":
        h.check_modern_headers(request.headers, message.method or "", message.params)
    if message.kind != "request":
        await response.empty(202)
        return
    meta = message.params["_meta"]
    if not isinstance(meta.get(META_CLIENT_CAPABILITIES), dict):
        raise MissingMeta("Missing _meta client capabilities")  # TRANS-28: HTTP 400 like every required _meta field
    context = ToolContext(principal=request.principal, version=body_version, era=Era.MODERN).with_meta(meta)
    if message.method == "subscriptions/listen":
        await listen(request, response, message, context)
        return
    if message.method in STREAMING_METHODS and context.streaming:
        prepared = dispatcher.prepare(message, context)  # refusals keep their HTTP status: no stream yet
        await streams.streamed_call(request, response, dispatcher, prepared, context, session=None)
        return
    await answer_json(request, response, message, context)


def check_version_header(body_version: Any, header_version: str | None) -> None:
    if header_version == body_version:
        return
    if header_version in LEGACY_VERSIONS and mcp_settings.ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY:
        # CLAUDE-14: Claude's connectors send the legacy header with a modern body.
        log.info("Accepting MCP-Protocol-Version %s with a %s body (known client bug)", header_version, body_version)
        return
    raise HeaderMismatch("MCP-Protocol-Version header does not match _meta protocol version")


async def listen(request: Request, response: Response, message: Message, context: ToolContext) -> None:
    """``subscriptions/listen``: acknowledged filters first, then list-changed notifications until the token
    expires or is revoked."""
    dispatcher.parse(message, context)  # the params must be valid for the version
    filters = acknowledged_filter(message.params.get("notifications") or {})
    inbox = streams.Inbox(request)
    try:
        await inbox.join(LISTEN_GROUP)
        await streams.start_sse(response)
        meta = {"io.modelcontextprotocol/subscriptionId": message.id}
        await streams.send_event(response, None, jsonrpc.notification("notifications/subscriptions/acknowledged",
                                                                      {"_meta": meta, "notifications": filters}))
        while (event := await inbox.next_event(response, request.principal)) is not None:
            if event.get("type") == "mcp.end":  # the bearer was revoked, or the layer was lost
                break
            if event.get("type") == "mcp.list_changed" and wants(filters, event["kind"]):
                await streams.send_event(response, None, jsonrpc.notification(
                    f"notifications/{event['kind']}/list_changed", {"_meta": meta}))
        # A graceful end of the subscription is a complete result (TRANS-41).
        await streams.send_event(response, None, jsonrpc.result(message.id, {
            "resultType": "complete", "_meta": {**meta, SERVER_INFO_KEY: server_info()}}))
        await response.end()
    finally:
        await inbox.close()
