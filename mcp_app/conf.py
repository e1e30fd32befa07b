"""Typed access to the ``MCP_APP`` settings namespace, and the other settings ``/mcp`` reads per request.

Defaults live in :data:`DEFAULTS`; ``project/settings.py`` sets ``MCP_APP`` from the environment.
Settings are read through Django's ``LazySettings``, whose every attribute access runs Python code
(``LazyObject.__getattribute__``): several per request were about a tenth of ``/mcp``'s own CPU.
So the values are held here and dropped on Django's ``setting_changed`` signal, which every way of
overriding settings sends (``override_settings``, pytest-django's ``settings`` fixture); a change
inside the ``MCP_APP`` dict itself is still seen, since the dict is held, not copied.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    "SERVER_NAME": "django-mcp-server",
    "SERVER_VERSION": "1.0.0",
    "INSTRUCTIONS": "Tools for operating this MCP authorization server: who you are, its clients, and their tokens.",
    # Every request to /mcp needs these scopes (the 401 challenge names them, AUTH-06).
    "REQUIRED_SCOPES": ("mcp",),
    "MAX_BODY_BYTES": 4 * 1024 * 1024,
    # CLAUDE-14: accept a legacy MCP-Protocol-Version header on a 2026-07-28 body (logged).
    "ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY": True,
    "SSE_KEEPALIVE_SECONDS": 15.0,
    "SSE_RETRY_MILLISECONDS": 1000,
    "EVENT_RETENTION_SECONDS": 3600,
    "SESSION_IDLE_SECONDS": 7 * 24 * 3600,
    "DISCOVER_TTL_MS": 3_600_000,
    "LIST_TTL_MS": 60_000,
    # Threads for /mcp's database work (mcp_app.db); SQLite always gets one.
    "DATABASE_THREADS": 10,
    # How long a legacy session read from the database is trusted in this process. DELETE and
    # log-level changes drop it everywhere at once, over the channel layer (and nothing is cached
    # while this process cannot hear that layer); idle expiry and the five-minute last_seen write
    # cut an entry shorter. A second would cost one query per session per second under load.
    "SESSION_CACHE_SECONDS": 30.0,
    # Record sessions and tool calls in the activity log (activity.log). Only the benchmark turns it
    # off (bench/bench_activity.py measures the log's cost against the same code without it).
    "ACTIVITY_LOG": True,
}


class MCPSettings:
    def __init__(self) -> None:
        self._namespace: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown MCP_APP setting {name!r}")
        namespace = self._namespace
        if namespace is None:
            namespace = self._namespace = getattr(settings, "MCP_APP", {})
        return namespace.get(name, DEFAULTS[name])


mcp_settings = MCPSettings()

_held: dict[str, Any] = {}


def setting(name: str, default: Any = None) -> Any:
    """``getattr(settings, name, default)``, held until the setting changes."""
    try:
        return _held[name]
    except KeyError:
        value = _held[name] = getattr(settings, name, default)
        return value


@receiver(setting_changed)
def _setting_changed(setting: str, **kwargs: Any) -> None:
    _held.pop(setting, None)
    if setting == "MCP_APP":
        mcp_settings._namespace = None
