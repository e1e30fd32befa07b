"""Tool handlers: ``tools/list`` and ``tools/call``.

:func:`call_tool` is the one place where a tool call completes: :func:`tool_finished` is called
once per call with its outcome and duration (the hook an activity log attaches to).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..context import ToolContext
from ..protocol.errors import MCPError
from ..tools.registry import CONTEXT_PARAMETER, Tool, ToolError
from .common import call, paginate, text, visible

log = logging.getLogger(__name__)


def tool_result(value: Any, output_schema: dict[str, Any] | None) -> dict[str, Any]:
    """Turn what a tool returned into a ``CallToolResult``."""
    if isinstance(value, dict) and "content" in value:
        return value
    if output_schema is not None:
        return {"content": [{"type": "text", "text": text(value)}], "structuredContent": value}
    if isinstance(value, list) and all(isinstance(item, dict) and "type" in item for item in value):
        return {"content": value}
    return {"content": [{"type": "text", "text": text(value)}]}


def error_result(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


async def list_tools(request, context: ToolContext) -> dict[str, Any]:
    items = [tool.describe() for tool in request.registry.tools.values() if visible(tool.scopes, context)]
    return paginate(items, request.params, "tools")


def tool_finished(tool: Tool, context: ToolContext, outcome: str, seconds: float) -> None:
    """Called once when a tool call completes; ``outcome`` is ``ok``, ``error`` (``isError``), ``failed``
    (the tool raised unexpectedly), ``invalid`` (arguments refused) or ``cancelled``."""


async def call_tool(request, context: ToolContext) -> dict[str, Any]:
    tool: Tool = request.target
    started = time.perf_counter()
    outcome = "ok"
    try:
        try:
            arguments = tool.validate(request.params.arguments or {})
        except ToolError as exc:
            outcome = "invalid"
            return error_result(str(exc))
        if tool.wants_context:
            arguments[CONTEXT_PARAMETER] = context
        try:
            value = await call(tool.handler, **arguments)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except MCPError:
            outcome = "failed"
            raise
        except ToolError as exc:
            outcome = "error"
            return error_result(str(exc))
        except Exception:
            outcome = "failed"
            log.exception("Tool %s failed", tool.name)
            return error_result(f"The tool {tool.name} failed unexpectedly.")
        result = tool_result(value, tool.output_schema)
        if result.get("isError"):
            outcome = "error"
        return result
    finally:
        tool_finished(tool, context, outcome, time.perf_counter() - started)
