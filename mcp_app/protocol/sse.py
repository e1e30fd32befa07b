"""Server-Sent Events framing for Streamable HTTP (TRANS-08, TRANS-10, TRANS-21)."""

from __future__ import annotations

from typing import Any

from .jsonrpc import encode

KEEPALIVE = b": keepalive\n\n"
"""A comment line: keeps proxies from closing an idle stream, ignored by clients."""


def retry(milliseconds: int) -> bytes:
    """The reconnection delay a client should use after the connection drops."""
    return f"retry: {milliseconds}\n\n".encode()


def event(event_id: str | None, payload: dict[str, Any] | None) -> bytes:
    """One ``message`` event; ``payload=None`` is a priming event (an id with empty data)."""
    head = f"id: {event_id}\nevent: message\ndata: " if event_id is not None else "event: message\ndata: "
    return head.encode() + (encode(payload) if payload is not None else b"") + b"\n\n"
