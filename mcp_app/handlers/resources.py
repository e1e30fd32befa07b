"""Resource handlers: ``resources/list``, ``resources/templates/list``, ``resources/read``."""

from __future__ import annotations

import base64
from typing import Any

from ..context import ToolContext
from ..protocol.errors import InvalidParams, ResourceNotFound
from ..protocol.versions import Era
from .common import call, paginate, text, visible


async def list_resources(request, context: ToolContext) -> dict[str, Any]:
    items = [r.describe() for r in request.registry.resources.values() if visible(r.scopes, context)]
    return paginate(items, request.params, "resources")


async def list_templates(request, context: ToolContext) -> dict[str, Any]:
    items = [t.describe() for t in request.registry.templates.values() if visible(t.scopes, context)]
    return paginate(items, request.params, "resourceTemplates")


def _not_found(uri: str, context: ToolContext) -> Exception:
    # TRANS-45: 2026-07-28 answers an unknown resource with -32602, the legacy era with -32002.
    return (InvalidParams if context.era is Era.MODERN else ResourceNotFound)("Resource not found", {"uri": uri})


async def read_resource(request, context: ToolContext) -> dict[str, Any]:
    uri = request.params.uri
    registry = request.registry
    resource = registry.resources.get(uri)
    variables: dict[str, str] = {}
    if resource is None:
        for template in registry.templates.values():
            found = template.match(uri)
            if found is not None:
                resource, variables = template, found
                break
    if resource is None or not visible(resource.scopes, context):
        raise _not_found(uri, context)
    value = await call(resource.handler, context, **variables)
    if value is None:  # a template that matched a URI naming nothing
        raise _not_found(uri, context)
    if isinstance(value, dict) and "contents" in value:
        return value
    content: dict[str, Any] = {"uri": uri}
    if resource.mime_type:
        content["mimeType"] = resource.mime_type
    if isinstance(value, bytes):
        content["blob"] = base64.b64encode(value).decode()
    else:
        content["text"] = text(value)
    return {"contents": [content]}
