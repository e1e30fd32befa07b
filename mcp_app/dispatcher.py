"""The dispatcher: a table from method to (params check, handler), shared by both protocol eras.

The transport hands it a decoded request and a :class:`CallContext`; it validates the params
against the official wire types of the request's protocol version (``mcp-types``), authorizes
(scopes), runs the handler and returns the JSON-RPC response. This is the single place where
exceptions become JSON-RPC errors: :class:`MCPError` subclasses keep their code, a pydantic
``ValidationError`` becomes ``-32602`` without internal text, anything else becomes ``-32603``
and is logged with its stack. Scope failures (:class:`~oauth_app.exceptions.InsufficientScope`)
are not JSON-RPC errors: they escape to the transport, which answers HTTP 403 (AUTH-09).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_types.methods import CLIENT_REQUESTS, validate_client_request
from oauth_app.exceptions import InsufficientScope
from pydantic import ValidationError

from .conf import mcp_settings
from .protocol import jsonrpc
from .protocol.errors import InvalidParams, MCPError, MethodNotFound, MissingClientCapability, ResourceNotFound
from .protocol.jsonrpc import Message
from .protocol.versions import SUPPORTED_VERSIONS, Era, negotiate
from .tools.registry import LOG_LEVELS, Registry, ToolContext, ToolError, registry as default_registry

log = logging.getLogger(__name__)

SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
PAGE_SIZE = 50

# Results that carry cache hints in 2026-07-28 (TRANS-36), and their scope: lists filtered by
# the caller's scopes are private to that authorization context.
CACHEABLE = {"server/discover": "public", "tools/list": "private", "prompts/list": "private",
             "resources/list": "private", "resources/templates/list": "private", "resources/read": "private"}


@dataclass
class CallContext:
    """One request as the dispatcher sees it; built by the transport."""

    principal: Any
    version: str
    era: Era
    send_notification: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    send_session_notification: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    log_level: str | None = None
    set_log_level: Callable[[str], Awaitable[None]] | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def tool_context(self, params: dict[str, Any]) -> ToolContext:
        meta = params.get("_meta") or {}
        level = meta.get(META_LOG_LEVEL) if self.era is Era.MODERN else self.log_level
        return ToolContext(principal=self.principal, progress_token=meta.get("progressToken"), log_level=level,
                           send_notification=self.send_notification,
                           send_session_notification=self.send_session_notification, cancelled=self.cancelled)


def server_info() -> dict[str, str]:
    return {"name": mcp_settings.SERVER_NAME, "version": mcp_settings.SERVER_VERSION}


def capabilities() -> dict[str, Any]:
    """Exactly what is implemented (TRANS-46)."""
    return {
        "tools": {"listChanged": True},
        "resources": {"listChanged": True},
        "prompts": {"listChanged": True},
        "completions": {},
        "logging": {},
    }


def _paginate(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    cursor = params.get("cursor")
    start = 0
    if cursor not in (None, ""):  # an empty cursor is the first page (TRANS-54, 2026-07-28)
        try:
            start = int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise InvalidParams("Invalid cursor") from None
        if start < 0 or start > len(items):
            raise InvalidParams("Invalid cursor")
    page: dict[str, Any] = {key: items[start:start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(items):
        page["nextCursor"] = base64.urlsafe_b64encode(str(start + PAGE_SIZE).encode()).decode()
    return page


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    # Synchronous handlers may use the ORM: run them off the event loop.
    from .db import database_sync_to_async

    return await database_sync_to_async(function)(*args, **kwargs)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, indent=2)


def tool_result(value: Any, output_schema: dict[str, Any] | None) -> dict[str, Any]:
    """Turn what a tool returned into a ``CallToolResult``."""
    if isinstance(value, dict) and "content" in value:
        return value
    if output_schema is not None:
        return {"content": [{"type": "text", "text": _text(value)}], "structuredContent": value}
    if isinstance(value, list) and all(isinstance(item, dict) and "type" in item for item in value):
        return {"content": value}
    return {"content": [{"type": "text", "text": _text(value)}]}


def error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


class Dispatcher:
    def __init__(self, tools: Registry | None = None) -> None:
        self.registry = tools or default_registry
        self.table: dict[str, Callable[[dict[str, Any], CallContext], Awaitable[dict[str, Any]]]] = {
            "initialize": self.initialize,
            "ping": self.ping,
            "server/discover": self.discover,
            "tools/list": self.list_tools,
            "tools/call": self.call_tool,
            "resources/list": self.list_resources,
            "resources/templates/list": self.list_resource_templates,
            "resources/read": self.read_resource,
            "prompts/list": self.list_prompts,
            "prompts/get": self.get_prompt,
            "completion/complete": self.complete,
            "logging/setLevel": self.set_level,
        }

    # --- entry points ------------------------------------------------------------------------------

    def check(self, message: Message, context: CallContext) -> None:
        """Method and params validation for the request's version, then authorization.

        Raises :class:`MethodNotFound`, :class:`InvalidParams` or :class:`InsufficientScope`
        before any response byte is written, so the transport can still pick the HTTP status.
        """
        method = message.method or ""
        if method not in self.table:
            raise MethodNotFound()
        self.validate(message, context)
        if method == "tools/call":
            tool = self.registry.tools.get(message.params.get("name"))
            if tool is None:
                raise InvalidParams(f"Unknown tool: {message.params.get('name')}")
            self._require(tool.scopes, context)
            self._require_client_capabilities(tool.client_capabilities, message.params, context)
        elif method == "prompts/get":
            prompt = self.registry.prompts.get(message.params.get("name"))
            if prompt is not None:
                self._require(prompt.scopes, context)

    def validate(self, message: Message, context: CallContext) -> None:
        """Is ``message.method`` part of ``context.version``, with params of the right shape?"""
        if (message.method, context.version) not in CLIENT_REQUESTS:
            raise MethodNotFound()
        try:
            validate_client_request(message.method, context.version, message.params)
        except ValidationError:
            raise InvalidParams() from None

    async def dispatch(self, message: Message, context: CallContext) -> dict[str, Any]:
        """Answer one request with a JSON-RPC response (result or error)."""
        try:
            self.check(message, context)
            result = await self.table[message.method](message.params, context)
        except InsufficientScope:
            raise
        except MCPError as exc:
            return jsonrpc.error(message.id, exc)
        except ValidationError:
            return jsonrpc.error(message.id, InvalidParams())
        except Exception:
            log.exception("Unexpected error while handling %s", message.method)
            return jsonrpc.error(message.id, MCPError())
        return jsonrpc.result(message.id, self._decorate(message.method, result, context))

    def _decorate(self, method: str, result: dict[str, Any], context: CallContext) -> dict[str, Any]:
        if context.era is Era.MODERN:
            result.setdefault("resultType", "complete")
            result.setdefault("_meta", {})[SERVER_INFO_KEY] = server_info()
            if method in CACHEABLE:
                result.setdefault("ttlMs", mcp_settings.LIST_TTL_MS)
                result.setdefault("cacheScope", CACHEABLE[method])
        return result

    def _require(self, scopes: tuple[str, ...], context: CallContext) -> None:
        if not set(scopes) <= context.principal.scopes:
            raise InsufficientScope(sorted(set(scopes) | {"mcp"}))

    def _require_client_capabilities(self, needed: tuple[str, ...], params: dict[str, Any], context: CallContext) -> None:
        """2026-07-28: a request needing a capability the client did not declare in ``_meta`` gets -32021."""
        if not needed or context.era is not Era.MODERN:
            return
        declared = (params.get("_meta") or {}).get(META_CLIENT_CAPABILITIES)
        missing = [name for name in needed if not isinstance(declared, dict) or name not in declared]
        if missing:
            raise MissingClientCapability(data={"requiredCapabilities": {name: {} for name in missing}})

    def _visible(self, scopes: tuple[str, ...], context: CallContext) -> bool:
        return set(scopes) <= context.principal.scopes

    # --- lifecycle ---------------------------------------------------------------------------------

    async def initialize(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        return {
            "protocolVersion": negotiate(params.get("protocolVersion")),
            "capabilities": capabilities(),
            "serverInfo": server_info(),
            "instructions": mcp_settings.INSTRUCTIONS,
        }

    async def ping(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        return {}

    async def discover(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        return {
            "supportedVersions": list(SUPPORTED_VERSIONS),
            "capabilities": capabilities(),
            "instructions": mcp_settings.INSTRUCTIONS,
            "ttlMs": mcp_settings.DISCOVER_TTL_MS,
            "cacheScope": "public",
        }

    async def set_level(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        level = params.get("level")
        if level not in LOG_LEVELS:
            raise InvalidParams("Unknown log level")
        if context.set_log_level is not None:
            await context.set_log_level(level)
        return {}

    # --- tools -----------------------------------------------------------------------------------------

    async def list_tools(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        tools = [tool.describe() for tool in self.registry.tools.values() if self._visible(tool.scopes, context)]
        return _paginate(tools, params, "tools")

    async def call_tool(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        tool = self.registry.tools[params["name"]]
        try:
            arguments = tool.validate(params.get("arguments") or {})
        except ToolError as exc:
            return error_result(str(exc))
        if tool.wants_context:
            arguments[CONTEXT_NAME] = context.tool_context(params)
        try:
            value = await _call(tool.handler, **arguments)
        except asyncio.CancelledError:
            raise
        except MCPError:
            raise
        except ToolError as exc:
            return error_result(str(exc))
        except Exception:
            log.exception("Tool %s failed", tool.name)
            return error_result(f"The tool {tool.name} failed unexpectedly.")
        return tool_result(value, tool.output_schema)

    # --- resources ---------------------------------------------------------------------------------

    async def list_resources(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        items = [r.describe() for r in self.registry.resources.values() if self._visible(r.scopes, context)]
        return _paginate(items, params, "resources")

    async def list_resource_templates(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        items = [t.describe() for t in self.registry.templates.values() if self._visible(t.scopes, context)]
        return _paginate(items, params, "resourceTemplates")

    async def read_resource(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        uri = params["uri"]
        resource = self.registry.resources.get(uri)
        variables: dict[str, str] = {}
        if resource is None:
            for template in self.registry.templates.values():
                found = template.match(uri)
                if found is not None:
                    resource, variables = template, found
                    break
        if resource is None or not self._visible(resource.scopes, context):
            raise (InvalidParams if context.era is Era.MODERN else ResourceNotFound)("Resource not found", {"uri": uri})
        value = await _call(resource.handler, context.tool_context(params), **variables)
        if value is None:  # a template that matched a URI naming nothing
            raise (InvalidParams if context.era is Era.MODERN else ResourceNotFound)("Resource not found", {"uri": uri})
        if isinstance(value, dict) and "contents" in value:
            return value
        content: dict[str, Any] = {"uri": uri}
        if resource.mime_type:
            content["mimeType"] = resource.mime_type
        if isinstance(value, bytes):
            content["blob"] = base64.b64encode(value).decode()
        else:
            content["text"] = _text(value)
        return {"contents": [content]}

    # --- prompts ------------------------------------------------------------------------------------

    async def list_prompts(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        items = [p.describe() for p in self.registry.prompts.values() if self._visible(p.scopes, context)]
        return _paginate(items, params, "prompts")

    async def get_prompt(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        prompt = self.registry.prompts.get(params["name"])
        if prompt is None:
            raise InvalidParams(f"Unknown prompt: {params['name']}")
        arguments = params.get("arguments") or {}
        missing = [a.name for a in prompt.arguments if a.required and a.name not in arguments]
        if missing:
            raise InvalidParams(f"Missing required arguments: {', '.join(missing)}")
        known = {a.name for a in prompt.arguments}
        value = await _call(prompt.handler, context.tool_context(params),
                            **{k: v for k, v in arguments.items() if k in known})
        if isinstance(value, dict) and "messages" in value:
            return value
        if isinstance(value, str):
            value = [{"role": "user", "content": {"type": "text", "text": value}}]
        return {"description": prompt.description, "messages": value}

    async def complete(self, params: dict[str, Any], context: CallContext) -> dict[str, Any]:
        ref = params.get("ref") or {}
        argument = params.get("argument") or {}
        values: list[str] = []
        if ref.get("type") == "ref/prompt":
            prompt = self.registry.prompts.get(ref.get("name"))
            if prompt is None:
                raise InvalidParams("Unknown prompt")
            completer = prompt.completions.get(argument.get("name"))
            if completer is not None and self._visible(prompt.scopes, context):
                values = list(await _call(completer, context.tool_context(params), str(argument.get("value", ""))))
        elif ref.get("type") != "ref/resource":
            raise InvalidParams("Unknown reference type")
        return {"completion": {"values": values[:100], "total": len(values), "hasMore": len(values) > 100}}


CONTEXT_NAME = "context"
dispatcher = Dispatcher()
