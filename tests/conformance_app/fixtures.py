"""The fixtures that ``@modelcontextprotocol/conformance`` server scenarios call, registered through the
public ``mcp_app.tools.registry`` API exactly as any installed app would register its own.

Names, arguments and outputs follow the suite's scenario descriptions (its reference
"everything server"). Only what this server can honour is here: no sampling, elicitation or
roots tools, because the server never initiates requests to the client.
"""

from __future__ import annotations

import asyncio
import json

from mcp_app.tools import PromptArgument, ToolContext, registry

from . import streaming  # noqa: F401  (the demo streaming tool)

# A 1x1 red PNG and a minimal WAV, as the suite's reference server uses.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# SEP-1613 / SEP-2106: a raw JSON Schema 2020-12 input schema that must reach tools/list unchanged.
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                          "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


# --- tools ----------------------------------------------------------------------------------------

@registry.tool(description="Tests simple text content response")
async def test_simple_text() -> dict:
    return {"content": [_text("This is a simple text response for testing.")]}


@registry.tool(description="Tests image content response")
async def test_image_content() -> dict:
    return {"content": [{"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}]}


@registry.tool(description="Tests audio content response")
async def test_audio_content() -> dict:
    return {"content": [{"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"}]}


@registry.tool(description="Tests embedded resource content response")
async def test_embedded_resource() -> dict:
    return {"content": [{"type": "resource", "resource": {
        "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content."}}]}


@registry.tool(description="Tests response with multiple content types (text, image, resource)")
async def test_multiple_content_types() -> dict:
    return {"content": [
        _text("Multiple content types test:"),
        {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json",
                                          "text": json.dumps({"test": "data", "value": 123})}},
    ]}


@registry.tool(description="Tests tool that emits log messages during execution")
async def test_tool_with_logging(context: ToolContext) -> dict:
    for step, message in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
        if step:
            await asyncio.sleep(0.05)
        await context.log("info", message, logger="conformance")
    return {"content": [_text("Tool with logging executed successfully")]}


@registry.tool(description="Tests tool that reports progress notifications")
async def test_tool_with_progress(context: ToolContext) -> dict:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await asyncio.sleep(0.05)
        await context.report_progress(progress, 100, f"Completed step {progress} of 100")
    return {"content": [_text(str(context.progress_token))]}


@registry.tool(description="Tests error response handling")
async def test_error_handling() -> dict:
    return {"content": [_text("This tool intentionally returns an error for testing")], "isError": True}


@registry.tool(description="Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
               input_schema=JSON_SCHEMA_2020_12)
async def json_schema_2020_12_tool(**arguments) -> dict:
    return {"content": [_text(f"JSON Schema 2020-12 tool called with: {json.dumps(arguments)}")]}


# --- resources ------------------------------------------------------------------------------------

@registry.resource("test://static-text", name="static-text", title="Static Text Resource",
                   description="A static text resource for testing", mime_type="text/plain")
async def static_text(context: ToolContext) -> str:
    return "This is the content of the static text resource."


@registry.resource("test://static-binary", name="static-binary", title="Static Binary Resource",
                   description="A static binary resource (image) for testing", mime_type="image/png")
async def static_binary(context: ToolContext) -> dict:
    return {"contents": [{"uri": "test://static-binary", "mimeType": "image/png", "blob": PNG_BASE64}]}


@registry.resource("test://template/{id}/data", name="template", mime_type="application/json",
                   description="A resource template with parameter substitution")
async def template_data(context: ToolContext, id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@registry.resource("test://watched-resource", name="watched-resource", title="Watched Resource",
                   description="A resource whose content the subscription scenarios watch", mime_type="text/plain")
async def watched_resource(context: ToolContext) -> str:
    return "Watched resource content"


# --- prompts --------------------------------------------------------------------------------------

@registry.prompt("test_simple_prompt", title="Simple Test Prompt", description="A simple prompt without arguments")
async def test_simple_prompt(context: ToolContext) -> str:
    return "This is a simple prompt for testing."


async def _complete_arg(context: ToolContext, value: str) -> list[str]:
    return [candidate for candidate in ("paris", "park", "party", "testValue1", "testing") if candidate.startswith(value)]


@registry.prompt("test_prompt_with_arguments", title="Prompt With Arguments",
                 description="A prompt with required arguments",
                 arguments=[PromptArgument("arg1", "First test argument", required=True),
                            PromptArgument("arg2", "Second test argument", required=True)],
                 completions={"arg1": _complete_arg, "arg2": _complete_arg})
async def test_prompt_with_arguments(context: ToolContext, arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@registry.prompt("test_prompt_with_embedded_resource", title="Prompt With Embedded Resource",
                 description="A prompt that includes an embedded resource",
                 arguments=[PromptArgument("resourceUri", "URI of the resource to embed", required=True)])
async def test_prompt_with_embedded_resource(context: ToolContext, resourceUri: str) -> list[dict]:
    return [
        {"role": "user", "content": {"type": "resource", "resource": {
            "uri": resourceUri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}}},
        {"role": "user", "content": _text("Please process the embedded resource above.")},
    ]


@registry.prompt("test_prompt_with_image", title="Prompt With Image", description="A prompt that includes image content")
async def test_prompt_with_image(context: ToolContext) -> list[dict]:
    return [
        {"role": "user", "content": {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}},
        {"role": "user", "content": _text("Please analyze the image above.")},
    ]


# --- 2026-07-28 diagnostic hooks of the server-stateless scenario (SEP-2575) ---------------------

@registry.tool(description="Sends log messages, which reach the client only if its request set a log level")
async def test_logging_tool(context: ToolContext) -> dict:
    for message in ("Logging tool started", "Logging tool working", "Logging tool finished"):
        await context.log("info", message, logger="conformance")
    return {"content": [_text("Logging tool done")]}


async def _dynamic_tool() -> dict:
    return {"content": [_text("A tool that comes and goes")]}


async def _dynamic_prompt(context: ToolContext) -> str:
    return "A prompt that comes and goes."


@registry.tool(description="Adds or removes the tool test_dynamic_tool, then announces the tools list change")
async def test_trigger_tool_change() -> dict:
    if registry.tools.pop("test_dynamic_tool", None) is None:
        registry.tool("test_dynamic_tool", description="A tool that comes and goes")(_dynamic_tool)
    await registry.list_changed("tools")
    return {"content": [_text("The tools list changed")]}


@registry.tool(description="Adds or removes the prompt test_dynamic_prompt, then announces the prompts list change")
async def test_trigger_prompt_change() -> dict:
    if registry.prompts.pop("test_dynamic_prompt", None) is None:
        registry.prompt("test_dynamic_prompt", description="A prompt that comes and goes")(_dynamic_prompt)
    await registry.list_changed("prompts")
    return {"content": [_text("The prompts list changed")]}


@registry.tool(description="Relies on the client's sampling capability: a call from a client that did not declare it "
               "is refused with -32021 before the tool runs", client_capabilities=("sampling",))
async def test_missing_capability() -> dict:
    return {"content": [_text("The client declared sampling")]}
