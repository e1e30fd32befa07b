#!/usr/bin/env python
"""The official MCP SDK's server with the benchmark ``echo`` tool, for ``bench/bench_mcp.py``.

``MCPServer`` (FastMCP's successor in mcp 2.x) with the benchmark tools (``echo``, ``blob``,
``--extra-tools N`` more) and Streamable HTTP under uvicorn, one process, on
a listening socket inherited from the parent (``--fd``), like ``tests/support/daphne.py`` does for
daphne. Defaults mirror ``/mcp`` as closely as the SDK allows:

* stateful (``Mcp-Session-Id`` after ``initialize``) for the legacy era, as ``/mcp`` keeps
  sessions; a request whose ``MCP-Protocol-Version`` names 2026-07-28 goes to the SDK's
  stateless single-exchange path whatever this setting is;
* ``json_response=True``: a plain ``application/json`` answer, as ``/mcp`` gives a ``tools/call``
  without a progress token or log level;
* ``structured_output=False``: the result is ``content`` only, as ``/mcp`` returns for ``echo``;
* no authentication (``/mcp`` verifies a bearer JWT on every request);
* uvicorn's access log with ``--access-log`` (uvicorn's default; ``bench_mcp.py`` passes it unless
  ``--no-access-log``, matching daphne, whose default verbosity writes one line per request);
  otherwise none, at log level warning.

``--raw`` serves instead a bare ASGI app that answers every request with the JSON-RPC result of an
``echo`` call (``json.loads`` + ``json.dumps``, no MCP at all): the benchmark's baseline, the most
the load generator can get out of one uvicorn process on the machine.

    python bench/sdk_echo_server.py --fd 3            # normally started by bench_mcp.py
    python bench/sdk_echo_server.py --port 8765       # by hand
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from mcp.server.mcpserver import MCPServer


def build_app(stateless: bool, extra_tools: int = 0):
    server = MCPServer("bench-sdk-echo", log_level="WARNING")

    @server.tool(structured_output=False)
    async def echo(text: str) -> str:
        """Return the text unchanged (benchmark tool)."""
        return text

    @server.tool(structured_output=False)
    async def blob(size: int) -> str:
        """Return `size` characters (benchmark tool)."""
        return "x" * max(0, min(size, 8 * 1024 * 1024))

    for number in range(extra_tools):
        def extra(value: str = "") -> str:
            return value

        server.tool(name=f"extra_{number}", description=f"Extra benchmark tool number {number}.",
                    structured_output=False)(extra)

    return server.streamable_http_app(json_response=True, stateless_http=stateless, host="127.0.0.1")


async def raw_app(scope, receive, send) -> None:
    """Echo without MCP: parse the JSON-RPC request, answer its ``arguments.text``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        request = json.loads(body)
        text = request["params"]["arguments"]["text"]
        payload = {"jsonrpc": "2.0", "id": request["id"], "result": {"content": [{"type": "text", "text": text}]}}
        status = 200
    except (ValueError, KeyError, TypeError):
        payload, status = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid request"}}, 400
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="serve on this inherited, listening socket")
    where.add_argument("--port", type=int, help="bind 127.0.0.1:PORT")
    parser.add_argument("--stateless", action="store_true", help="legacy era without sessions (stateless_http=True)")
    parser.add_argument("--raw", action="store_true", help="serve the bare ASGI echo baseline instead of the SDK")
    parser.add_argument("--extra-tools", type=int, default=0, help="register N more trivial tools (tools/list curve)")
    parser.add_argument("--access-log", action="store_true", help="uvicorn's access log, one line per request "
                        "(uvicorn's default, log level info)")
    args = parser.parse_args()
    app = raw_app if args.raw else build_app(args.stateless, args.extra_tools)
    location = {"fd": args.fd} if args.fd is not None else {"host": "127.0.0.1", "port": args.port}
    uvicorn.run(app, **location, log_level="info" if args.access_log else "warning", access_log=args.access_log,
                lifespan="on")


if __name__ == "__main__":
    main()
