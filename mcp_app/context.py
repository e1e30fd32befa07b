"""The one context type: what a tool, resource or prompt handler (and the dispatcher) knows about a request.

The transport builds a :class:`ToolContext` per request: the verified principal, the protocol
version and era, the request's progress token and log level, and the channels a handler may use
to talk back (notifications on the request's own stream, the legacy session's GET stream). Tools
receive it as their ``context`` parameter; they never see HTTP requests or ASGI scopes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .protocol.versions import Era

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"


class Notifier(Protocol):
    async def __call__(self, method: str, params: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class ToolContext:
    """One request as handlers see it."""

    principal: Any
    version: str = ""
    era: Era = Era.LEGACY
    progress_token: str | int | None = None
    log_level: str | None = None
    client_capabilities: dict[str, Any] | None = None
    send_notification: Notifier | None = None
    send_session_notification: Notifier | None = None
    set_log_level: Callable[[str], Awaitable[None]] | None = None
    session_id: str = ""
    """The legacy era's ``Mcp-Session-Id`` (empty in 2026-07-28); for the activity log, which stores a hash."""
    _cancelled: asyncio.Event | None = field(default=None, repr=False)

    def with_meta(self, meta: Any) -> ToolContext:
        """Take the per-request fields from the request's ``_meta`` (2026-07-28 carries the log level there)."""
        if isinstance(meta, dict):
            self.progress_token = meta.get("progressToken")
            if self.era is Era.MODERN:
                if META_LOG_LEVEL in meta:
                    self.log_level = meta[META_LOG_LEVEL]
                capabilities = meta.get(META_CLIENT_CAPABILITIES)
                self.client_capabilities = capabilities if isinstance(capabilities, dict) else None
        return self

    @property
    def cancelled(self) -> asyncio.Event:
        """Set when the request is cancelled (created on first use: most requests never look)."""
        if self._cancelled is None:
            self._cancelled = asyncio.Event()
        return self._cancelled

    @property
    def streaming(self) -> bool:
        """Whether the client asked for notifications during the request (progress or log messages)."""
        return self.progress_token is not None or self.log_level is not None

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress`` if the request asked for it (it carried a progress token)."""
        if self.progress_token is None or self.send_notification is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.send_notification("notifications/progress", params)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send ``notifications/message`` if the client opted in at ``level`` or lower (RFC 5424 order)."""
        if self.log_level is None or self.send_notification is None:
            return
        if LOG_LEVELS.index(level) < LOG_LEVELS.index(self.log_level):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger:
            params["logger"] = logger
        await self.send_notification("notifications/message", params)
