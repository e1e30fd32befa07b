"""Server-Sent Events framing for Streamable HTTP (TRANS-08, TRANS-10, TRANS-21)."""

from __future__ import annotations

import json
from typing import Any

KEEPALIVE = b": keepalive\n\n"
"""A comment line: keeps proxies from closing an idle stream, ignored by clients."""


def retry(milliseconds: int) -> bytes:
    """The reconnection delay a client should use after the connection drops."""
    return f"retry: {milliseconds}\n\n".encode()


def event(event_id: str | None, payload: dict[str, Any] | None) -> bytes:
    """One ``message`` event; ``payload=None`` is a priming event (an id with empty data)."""
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append("event: message")
    lines.append("data: " + (json.dumps(payload) if payload is not None else ""))
    return ("\n".join(lines) + "\n\n").encode()
