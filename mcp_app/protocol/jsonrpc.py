"""JSON-RPC 2.0 framing: the one decode point for POST bodies, the one encode point for answers (TRANS-04, TRANS-06).

A body is one message, or (2025-03-26 only) a batch. Each message is classified as a request,
a notification or a response; anything else is ``-32600``; unparseable bytes are ``-32700``.

The codec is orjson. Its parser refuses nesting deeper than 1024 levels with an ordinary decode
error, so a body nested 10,000 deep is a parse error, not a ``RecursionError`` (which is still
caught here, in case anything recursive ever parses a body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .errors import InvalidRequest, ParseError

RequestId = int | str
Kind = Literal["request", "notification", "response"]


@dataclass(frozen=True, slots=True)
class Message:
    kind: Kind
    method: str | None = None
    id: RequestId | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def decode_body(body: bytes) -> tuple[list[Message], bool]:
    """Decode a POST body: ``(messages, is_batch)``. Raises :class:`ParseError` / :class:`InvalidRequest`."""
    try:
        payload = orjson.loads(body)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise ParseError() from exc
    if isinstance(payload, list):
        if not payload:
            raise InvalidRequest("Empty batch")
        return [classify(item) for item in payload], True
    return [classify(payload)], False


def encode(payload: Any) -> bytes:
    """Serialize one JSON-RPC message (or batch answer) for the wire."""
    try:
        return orjson.dumps(payload)
    except TypeError:  # integers beyond 64 bits, or values orjson does not know: the standard library copes
        return json.dumps(payload, default=str).encode()


def classify(item: Any) -> Message:
    if not isinstance(item, dict) or item.get("jsonrpc") != "2.0":
        raise InvalidRequest()
    has_id = "id" in item
    request_id = item.get("id")
    if has_id and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        raise InvalidRequest("Invalid request id")
    if "method" in item:
        method = item["method"]
        params = item.get("params", {})
        if not isinstance(method, str) or not method or (params is not None and not isinstance(params, dict)):
            raise InvalidRequest()
        kind: Kind = "request" if has_id else "notification"
        return Message(kind, method, request_id if has_id else None, params or {}, item)
    if has_id and ("result" in item) != ("error" in item):
        return Message("response", None, request_id, {}, item)
    raise InvalidRequest()


def result(request_id: RequestId, payload: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": payload}


def error(request_id: RequestId | None, exc: Any) -> dict[str, Any]:
    """A JSON-RPC error message for an :class:`~mcp_app.protocol.errors.MCPError`."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "error": exc.to_error()}
    if request_id is not None:
        message["id"] = request_id
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message
