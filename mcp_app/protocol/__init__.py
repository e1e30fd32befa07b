"""The MCP protocol core: JSON-RPC messages, error codes, versions, per-version rules.

Nothing in this package imports Django or touches I/O: it takes and returns plain data, so it
is tested without a database or an event loop. Wire shapes of each protocol version come from the
official ``mcp-types`` package (the MCP Python SDK's wire-type distribution).
"""
