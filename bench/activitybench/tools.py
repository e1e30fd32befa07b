"""``echo`` with a ``ToolContext``; with ``BENCH_ACTIVITY_RECORD`` it also calls
:func:`activity.log.record_tool_call`, the call the MCP dispatcher will make per tool call.

Both variants take the context and read the principal, so the two servers differ by the
recording alone.
"""

import time

from django.conf import settings

from activity.log import record_tool_call, user_id_of
from mcp_app.tools.registry import ToolContext, registry

RECORD = settings.BENCH_ACTIVITY_RECORD


async def echo(text: str, context: ToolContext) -> str:
    """Return the text unchanged (benchmark tool)."""
    started = time.perf_counter()
    principal = context.principal
    if RECORD:
        record_tool_call(tool="echo", outcome="ok", duration_ms=(time.perf_counter() - started) * 1000,
                         client_id=principal.client_id, user_id=user_id_of(principal.subject, principal.client_id))
    return text


registry.tool(scopes=("mcp",), title="Echo (benchmark)", annotations={"readOnlyHint": True})(echo)
