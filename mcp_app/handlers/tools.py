"""Tool handlers: ``tools/list`` and ``tools/call``.

:func:`call_tool` is the one place where a tool call completes: :func:`tool_finished` is called
once per call with its outcome and duration, and records it in the activity log (:mod:`activity.log`:
an in-memory append, written in batches by a background thread). A call refused for its scopes
never reaches :func:`call_tool`; the dispatcher reports it through :func:`tool_denied`. Arguments and
results are never recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from activity.log import record_tool_call, user_id_of

from ..conf import mcp_settings
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


def tool_finished(name: str, context: ToolContext, outcome: str, seconds: float, error_code: int | None = None) -> None:
    """Called once when a tool call completes: ``outcome`` is ``ok``, ``error`` (a JSON-RPC error, an
    ``isError`` result, arguments refused, the tool failing or the call cancelled) or ``denied``
    (insufficient scope); ``error_code`` is the JSON-RPC error code if the call ended with one."""
    if not mcp_settings.ACTIVITY_LOG:
        return
    principal = context.principal
    record_tool_call(tool=name, outcome=outcome, duration_ms=seconds * 1000, client_id=principal.client_id,
                     user_id=user_id_of(principal.subject, principal.client_id), session_id=context.session_id,
                     error_code=error_code)


def tool_denied(name: str, context: ToolContext, error_code: int | None = None) -> None:
    """A ``tools/call`` the dispatcher refused before it ran (scopes: ``denied``; a missing client
    capability: ``error`` with its code)."""
    tool_finished(name, context, "denied" if error_code is None else "error", 0.0, error_code)


async def call_tool(request, context: ToolContext) -> dict[str, Any]:
    tool: Tool = request.target
    started = time.perf_counter()
    outcome, error_code = "error", None  # until the call returns a result that is not isError
    try:
        try:
            arguments = tool.validate(request.params.arguments or {})
        except ToolError as exc:
            return error_result(str(exc))
        if tool.wants_context:
            arguments[CONTEXT_PARAMETER] = context
        try:
            value = await call(tool.handler, **arguments)
        except MCPError as exc:
            error_code = exc.code
            raise
        except ToolError as exc:
            return error_result(str(exc))
        except Exception:
            log.exception("Tool %s failed", tool.name)
            return error_result(f"The tool {tool.name} failed unexpectedly.")
        result = tool_result(value, tool.output_schema)
        if not result.get("isError"):
            outcome = "ok"
        return result
    finally:  # also when cancelled (CancelledError passes through): recorded as an error
        tool_finished(tool.name, context, outcome, time.perf_counter() - started, error_code)
