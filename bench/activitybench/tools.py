"""``echo`` plus :func:`activity.log.record_tool_call`, the call the MCP dispatcher will make per tool call."""

import time

from activity.log import record_tool_call, user_id_of
from mcp_app.tools.registry import ToolContext, registry


async def echo(text: str, context: ToolContext) -> str:
    """Return the text unchanged, and record the call in the activity log (benchmark tool)."""
    started = time.perf_counter()
    principal = context.principal
    record_tool_call(tool="echo", outcome="ok", duration_ms=(time.perf_counter() - started) * 1000,
                     client_id=principal.client_id, user_id=user_id_of(principal.subject, principal.client_id))
    return text


registry.tool(scopes=("mcp",), title="Echo (benchmark, logged)", annotations={"readOnlyHint": True})(echo)
