"""Lifecycle handlers: ``initialize`` and ``ping`` (legacy), ``server/discover`` (2026-07-28), ``logging/setLevel``."""

from __future__ import annotations

from typing import Any

from ..conf import mcp_settings
from ..context import LOG_LEVELS, ToolContext
from ..protocol.errors import InvalidParams
from ..protocol.versions import SUPPORTED_VERSIONS, negotiate


def capabilities() -> dict[str, Any]:
    """Exactly what is implemented (TRANS-46)."""
    return {
        "tools": {"listChanged": True},
        "resources": {"listChanged": True},
        "prompts": {"listChanged": True},
        "completions": {},
        "logging": {},
    }


async def initialize(request, context: ToolContext) -> dict[str, Any]:
    from ..dispatcher import server_info

    return {
        "protocolVersion": negotiate(request.params.protocol_version),
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": mcp_settings.INSTRUCTIONS,
    }


async def ping(request, context: ToolContext) -> dict[str, Any]:
    return {}


async def discover(request, context: ToolContext) -> dict[str, Any]:
    return {
        "supportedVersions": list(SUPPORTED_VERSIONS),
        "capabilities": capabilities(),
        "instructions": mcp_settings.INSTRUCTIONS,
        "ttlMs": mcp_settings.DISCOVER_TTL_MS,
        "cacheScope": "public",
    }


async def set_level(request, context: ToolContext) -> dict[str, Any]:
    level = request.params.level
    if level not in LOG_LEVELS:
        raise InvalidParams("Unknown log level")
    if context.set_log_level is not None:
        await context.set_log_level(level)
    return {}
