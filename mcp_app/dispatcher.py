"""The dispatcher: a table from method to handler, shared by both protocol eras.

:meth:`Dispatcher.prepare` does everything that can refuse a request before it runs, once: the
method must exist in the request's protocol version, the params are parsed into that version's
official wire model (``mcp-types``; handlers receive it typed), the tool or prompt is resolved and
its scopes and client capabilities are checked. :meth:`Dispatcher.run` calls the handler and
decorates the result (2026-07-28 ``resultType``, ``serverInfo``, cache hints). :meth:`Dispatcher.answer`
does both and turns whatever was raised into the JSON-RPC error through :func:`mcp_app.wire.wire_error`,
the one place where exceptions become wire errors.

Handlers live in :mod:`mcp_app.handlers`, grouped by feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp_types.methods import CLIENT_REQUESTS
from oauth_app.exceptions import InsufficientScope
from pydantic import BaseModel, TypeAdapter

from .conf import mcp_settings, setting
from .context import META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION, ToolContext
from .handlers import lifecycle, prompts, resources, tools
from .protocol import jsonrpc
from .protocol.errors import InvalidParams, MethodNotFound, MissingClientCapability
from .protocol.jsonrpc import Message
from .protocol.versions import Era
from .tools.registry import Registry, registry as default_registry
from .wire import Reply, Where, wire_error

SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
__all__ = ["META_CLIENT_CAPABILITIES", "META_LOG_LEVEL", "META_PROTOCOL_VERSION", "SERVER_INFO_KEY", "Dispatcher",
           "Prepared", "capabilities", "dispatcher", "server_info"]

# Results that carry cache hints in 2026-07-28 (TRANS-36), and their scope: lists filtered by
# the caller's scopes are private to that authorization context.
CACHEABLE = {"server/discover": "public", "tools/list": "private", "prompts/list": "private",
             "resources/list": "private", "resources/templates/list": "private", "resources/read": "private"}

Handler = Callable[["Prepared", ToolContext], Awaitable[dict[str, Any]]]


_params_models: dict[tuple[str, str], TypeAdapter] = {
    key: TypeAdapter(model.model_fields["params"].annotation) for key, model in CLIENT_REQUESTS.items()}
"""The official ``mcp-types`` request models' ``params`` fields, by (method, protocol version).

Only the params are validated: the request's other fields are settled before (``jsonrpc`` and
``id`` by :func:`~mcp_app.protocol.jsonrpc.classify`, ``method`` by this lookup), and the models
carry no validators of their own. That takes half the time of validating the whole request."""


@dataclass(slots=True)
class Prepared:
    """A request that passed every check: ready to run."""

    message: Message
    params: BaseModel | None
    """The params as the official wire model of the request's version (``None`` when the request had none)."""
    handler: Handler
    registry: Registry
    target: Any = None
    """The tool or prompt a ``tools/call`` / ``prompts/get`` names, once resolved."""


_server_info: tuple[Any, dict[str, str]] | None = None


def server_info() -> dict[str, str]:
    """``serverInfo``, built once per settings object (tests may override the settings)."""
    global _server_info
    current = setting("MCP_APP")
    if _server_info is None or _server_info[0] is not current:
        _server_info = (current, {"name": mcp_settings.SERVER_NAME, "version": mcp_settings.SERVER_VERSION})
    return _server_info[1]


capabilities = lifecycle.capabilities


class Dispatcher:
    def __init__(self, tools_registry: Registry | None = None) -> None:
        self.registry = tools_registry or default_registry
        self.table: dict[str, Handler] = {
            "initialize": lifecycle.initialize,
            "ping": lifecycle.ping,
            "server/discover": lifecycle.discover,
            "logging/setLevel": lifecycle.set_level,
            "tools/list": tools.list_tools,
            "tools/call": tools.call_tool,
            "resources/list": resources.list_resources,
            "resources/templates/list": resources.list_templates,
            "resources/read": resources.read_resource,
            "prompts/list": prompts.list_prompts,
            "prompts/get": prompts.get_prompt,
            "completion/complete": prompts.complete,
        }

    # --- entry points ------------------------------------------------------------------------------

    def prepare(self, message: Message, context: ToolContext) -> Prepared:
        """Method, params and authorization checks, once, before any response byte is written.

        Raises :class:`MethodNotFound`, :class:`InvalidParams` (or pydantic's ``ValidationError``),
        :class:`MissingClientCapability` or :class:`~oauth_app.exceptions.InsufficientScope`.
        """
        method = message.method or ""
        handler = self.table.get(method)
        if handler is None:
            raise MethodNotFound()
        params = self.parse(message, context)
        prepared = Prepared(message, params, handler, self.registry)
        if method == "tools/call":
            tool = self.registry.tools.get(params.name)
            if tool is None:
                raise InvalidParams(f"Unknown tool: {params.name}")
            try:
                self.require(tool.scopes, context)
                self._require_client_capabilities(tool.client_capabilities, context)
            except InsufficientScope:
                tools.tool_denied(tool.name, context)
                raise
            except MissingClientCapability as exc:
                tools.tool_denied(tool.name, context, exc.code)
                raise
            prepared.target = tool
        elif method == "prompts/get":
            prompt = self.registry.prompts.get(params.name)
            if prompt is not None:
                self.require(prompt.scopes, context)
            prepared.target = prompt
        return prepared

    @staticmethod
    def parse(message: Message, context: ToolContext) -> BaseModel | None:
        """The params as the official wire model of ``context.version``; :class:`MethodNotFound` if the
        version has no such method, pydantic's ``ValidationError`` if the params do not fit."""
        adapter = _params_models.get((message.method, context.version))
        if adapter is None:
            raise MethodNotFound()
        return adapter.validate_python(message.params, by_name=False)  # a dict: absent params are {}

    async def run(self, prepared: Prepared, context: ToolContext) -> dict[str, Any]:
        """The JSON-RPC response of a prepared request (handler errors are raised)."""
        result = await prepared.handler(prepared, context)
        return jsonrpc.result(prepared.message.id, self._decorate(prepared.message.method, result, context))

    async def answer(self, message: Message, context: ToolContext, *, prepared: Prepared | None = None,
                     where: Where = "request") -> Reply:
        """Prepare (unless done) and run one request; every failure becomes its wire error here."""
        try:
            if prepared is None:
                prepared = self.prepare(message, context)
            return Reply(200, await self.run(prepared, context))
        except Exception as exc:
            return wire_error(exc, context.era, message.id, where)

    async def dispatch(self, message: Message, context: ToolContext) -> dict[str, Any]:
        """The JSON-RPC message answering ``message`` (result or error), for embedding in a batch or stream."""
        return (await self.answer(message, context, where="embedded")).payload

    # --- helpers ---------------------------------------------------------------------------------

    def _decorate(self, method: str | None, result: dict[str, Any], context: ToolContext) -> dict[str, Any]:
        if context.era is Era.MODERN:
            result.setdefault("resultType", "complete")
            result.setdefault("_meta", {})[SERVER_INFO_KEY] = server_info()
            if method in CACHEABLE:
                result.setdefault("ttlMs", mcp_settings.LIST_TTL_MS)
                result.setdefault("cacheScope", CACHEABLE[method])
        return result

    @staticmethod
    def require(scopes: tuple[str, ...], context: ToolContext) -> None:
        if not context.principal.scopes.issuperset(scopes):
            raise InsufficientScope(sorted(set(scopes) | {"mcp"}))

    @staticmethod
    def _require_client_capabilities(needed: tuple[str, ...], context: ToolContext) -> None:
        """2026-07-28: a request needing a capability the client did not declare in ``_meta`` gets -32021."""
        if not needed or context.era is not Era.MODERN:
            return
        declared = context.client_capabilities
        missing = [name for name in needed if not isinstance(declared, dict) or name not in declared]
        if missing:
            raise MissingClientCapability(data={"requiredCapabilities": {name: {} for name in missing}})


dispatcher = Dispatcher()
