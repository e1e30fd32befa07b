"""The benchmark tool: ``echo``, the same trivial tool the SDK server in ``bench/sdk_echo_server.py`` serves.

Async, so a call never leaves the event loop (no thread hop, no database).
"""

from mcp_app.tools.registry import registry


async def echo(text: str) -> str:
    """Return the text unchanged (benchmark tool)."""
    return text


if "echo" not in registry.tools:
    registry.tool(scopes=("mcp",), title="Echo (benchmark)", annotations={"readOnlyHint": True})(echo)
