"""2026-07-28 ``subscriptions/listen``: which list-changed notifications a listener gets (TRANS-41).

Listeners join one channel-layer group; :func:`announce_list_changed` (wired to the registry's
change hook) sends to it, so every daphne process's listeners hear a change made anywhere.
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer

LISTEN_GROUP = "mcp-listeners"
FILTER_KEYS = {"tools": "toolsListChanged", "resources": "resourcesListChanged", "prompts": "promptsListChanged"}


def acknowledged_filter(requested: dict[str, Any]) -> dict[str, Any]:
    """The subset of the requested notifications this server honours (list changes only)."""
    return {key: True for key in FILTER_KEYS.values() if requested.get(key) is True}


def wants(filters: dict[str, Any], kind: str) -> bool:
    return filters.get(FILTER_KEYS.get(kind, ""), False) is True


async def announce_list_changed(kind: str) -> None:
    layer = get_channel_layer()
    if layer is not None and kind in FILTER_KEYS:
        await layer.group_send(LISTEN_GROUP, {"type": "mcp.list_changed", "kind": kind})
