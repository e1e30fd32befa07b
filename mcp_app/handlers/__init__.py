"""Request handlers, grouped by feature: ``lifecycle`` (initialize, ping, discover, logging), ``tools``,
``resources``, ``prompts`` (with completion).

Each handler takes the :class:`~mcp_app.dispatcher.Prepared` request (typed params, the resolved
tool or prompt, the registry) and the :class:`~mcp_app.context.ToolContext`, and returns the result
object. It raises :class:`~mcp_app.protocol.errors.MCPError` for protocol errors; the dispatcher
turns those into JSON-RPC errors.
"""
