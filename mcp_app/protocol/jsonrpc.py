"""JSON-RPC 2.0 framing: decoding a POST body into messages, and building responses (TRANS-04, TRANS-06).

A body is one message, or (2025-03-26 only) a batch. Each message is classified as a request,
a notification or a response; anything else is ``-32600``; unparseable bytes are ``-32700``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidRequest, MCPError, ParseError

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
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError() from exc
    if isinstance(payload, list):
        if not payload:
            raise InvalidRequest("Empty batch")
        return [classify(item) for item in payload], True
    return [classify(payload)], False


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


def error(request_id: RequestId | None, exc: MCPError) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "error": exc.to_error()}
    if request_id is not None:
        message["id"] = request_id
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message
