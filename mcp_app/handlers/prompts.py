"""Prompt handlers: ``prompts/list``, ``prompts/get``, and ``completion/complete`` for prompt arguments."""

from __future__ import annotations

from typing import Any

from ..context import ToolContext
from ..protocol.errors import InvalidParams
from .common import call, paginate, visible


async def list_prompts(request, context: ToolContext) -> dict[str, Any]:
    items = [p.describe() for p in request.registry.prompts.values() if visible(p.scopes, context)]
    return paginate(items, request.params, "prompts")


async def get_prompt(request, context: ToolContext) -> dict[str, Any]:
    prompt = request.target
    if prompt is None:
        raise InvalidParams(f"Unknown prompt: {request.params.name}")
    arguments = request.params.arguments or {}
    missing = [a.name for a in prompt.arguments if a.required and a.name not in arguments]
    if missing:
        raise InvalidParams(f"Missing required arguments: {', '.join(missing)}")
    known = {a.name for a in prompt.arguments}
    value = await call(prompt.handler, context, **{k: v for k, v in arguments.items() if k in known})
    if isinstance(value, dict) and "messages" in value:
        return value
    if isinstance(value, str):
        value = [{"role": "user", "content": {"type": "text", "text": value}}]
    return {"description": prompt.description, "messages": value}


async def complete(request, context: ToolContext) -> dict[str, Any]:
    ref = request.params.ref
    argument = request.params.argument
    values: list[str] = []
    if ref.type == "ref/prompt":
        prompt = request.registry.prompts.get(ref.name)
        if prompt is None:
            raise InvalidParams("Unknown prompt")
        completer = prompt.completions.get(argument.name)
        if completer is not None and visible(prompt.scopes, context):
            values = list(await call(completer, context, str(argument.value or "")))
    elif ref.type != "ref/resource":
        raise InvalidParams("Unknown reference type")
    return {"completion": {"values": values[:100], "total": len(values), "hasMore": len(values) > 100}}
