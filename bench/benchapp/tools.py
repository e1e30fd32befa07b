"""The benchmark tools, the same ones the SDK server in ``bench/sdk_echo_server.py`` serves.

* ``echo(text)``: returns the text (the ``tools/call`` cases);
* ``blob(size)``: returns ``size`` characters (the result-size curve);
* ``BENCH_EXTRA_TOOLS=N`` registers ``N`` more trivial tools ``extra_0 ...`` (the ``tools/list`` curve).

Async, so a call never leaves the event loop (no thread hop, no database).
"""

import os

from mcp_app.tools.registry import registry


async def echo(text: str) -> str:
    """Return the text unchanged (benchmark tool)."""
    return text


async def blob(size: int) -> str:
    """Return `size` characters (benchmark tool)."""
    return "x" * max(0, min(size, 8 * 1024 * 1024))


def _extra(index: int):
    async def extra(value: str = "") -> str:
        return value

    extra.__doc__ = f"Extra benchmark tool number {index}."
    return extra


if "echo" not in registry.tools:
    registry.tool(scopes=("mcp",), title="Echo (benchmark)", annotations={"readOnlyHint": True})(echo)
    registry.tool(scopes=("mcp",), title="Blob (benchmark)", annotations={"readOnlyHint": True})(blob)
    for number in range(int(os.environ.get("BENCH_EXTRA_TOOLS", "0") or 0)):
        registry.tool(f"extra_{number}", scopes=("mcp",))(_extra(number))
