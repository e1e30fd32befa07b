"""The demo tool ``start-notification-stream`` (tests only): notifications on a request's stream or a session's GET stream.

Registered at import, through the public registry, like any app's tool. The conformance app loads
it; the consumer tests import it; ``tests.settings_e2e`` installs only it for the SDK and scale-out
daphne processes.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from mcp_app.tools import ToolContext, registry

NAME = "start-notification-stream"


async def start_notification_stream(context: ToolContext, interval: float = 1.0, count: int = 5, caller: str = "client",
                                    target: Literal["request", "session"] = "request") -> str:
    """Send `count` notifications, one every `interval` seconds, then answer: a tool for testing streams.

    With a progress token each step is a progress notification; with a log level each step is
    also a log message. `target="session"` sends them to the session's GET stream instead
    (legacy protocol versions only).
    """
    count = max(0, min(count, 1000))
    interval = max(0.0, min(interval, 60.0))
    for step in range(1, count + 1):
        text = f"[{step}/{count}] Event from {caller}"
        if target == "session" and context.send_session_notification is not None:
            await context.send_session_notification("notifications/message", {"level": "info", "data": text})
        else:
            await context.report_progress(step, count, text)
            await context.log("info", text)
        if step < count:
            await asyncio.sleep(interval)
    return f"Sent {count} notifications to {caller}."


if NAME not in registry.tools:
    registry.tool(NAME, scopes=("mcp",), title="Notification stream (demo)",
                  annotations={"readOnlyHint": True})(start_notification_stream)
