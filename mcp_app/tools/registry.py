"""The registry of tools, resources, resource templates and prompts that ``/mcp`` serves.

Any installed Django app adds to it with decorators, typically from a module its
``AppConfig.ready`` imports::

    from mcp_app.tools import registry, ToolContext

    @registry.tool(scopes=("mcp",), annotations={"readOnlyHint": True})
    async def add(a: int, b: int, context: ToolContext) -> str:
        "Add two numbers."
        return str(a + b)

A tool's input schema comes from its type hints (through pydantic) or from an explicit JSON
Schema; its description from the docstring unless given. A parameter named ``context`` receives
the :class:`~mcp_app.context.ToolContext` (the caller's principal and the progress/log channels)
and is not part of the schema. Explicit input schemas are compiled once, at registration. Tools never see HTTP requests or ASGI scopes.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..context import LOG_LEVELS, ToolContext

__all__ = ["LOG_LEVELS", "PromptArgument", "Registry", "Tool", "ToolContext", "ToolError", "registry"]

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
CONTEXT_PARAMETER = "context"


class ToolError(Exception):
    """Raised by a tool to answer with ``isError: true`` and this message (shown to the model as is)."""


class ArgumentsInvalid(ToolError):
    """The arguments do not match the input schema; the message is safe to show the model."""


@dataclass
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Callable[..., Any]
    scopes: tuple[str, ...] = ("mcp",)
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    title: str | None = None
    arguments_model: type[BaseModel] | None = None
    wants_context: bool = False
    client_capabilities: tuple[str, ...] = ()
    """Client capabilities the tool relies on; a 2026-07-28 call without them gets -32021."""
    validator: jsonschema.protocols.Validator | None = field(default=None, repr=False)
    """An explicit input schema, compiled once at registration (the schema itself is checked then, not per call)."""
    _description: dict[str, Any] | None = field(default=None, repr=False)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.arguments_model is not None:
            try:
                parsed = self.arguments_model.model_validate(arguments)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())
                raise ArgumentsInvalid(f"Invalid arguments: {problems}") from None
            return dict(parsed.__dict__)  # exactly the fields (extra="forbid"): a copy the caller may extend
        if self.validator is None:
            self.validator = jsonschema.Draft202012Validator(self.input_schema)
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(arguments))
        if error is not None:
            raise ArgumentsInvalid(f"Invalid arguments: {error.message}")
        return arguments

    def describe(self) -> dict[str, Any]:
        """The ``tools/list`` entry, built once (a tool does not change after registration)."""
        if self._description is None:
            self._description = self._describe()
        return self._description

    def _describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "description": self.description, "inputSchema": self.input_schema}
        if self.title:
            entry["title"] = self.title
        if self.output_schema is not None:
            entry["outputSchema"] = self.output_schema
        if self.annotations:
            entry["annotations"] = self.annotations
        return entry


@dataclass
class Resource:
    uri: str
    name: str
    handler: Callable[..., Any]
    description: str = ""
    mime_type: str | None = "application/json"
    scopes: tuple[str, ...] = ("mcp",)
    title: str | None = None

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"uri": self.uri, "name": self.name}
        if self.title:
            entry["title"] = self.title
        if self.description:
            entry["description"] = self.description
        if self.mime_type:
            entry["mimeType"] = self.mime_type
        return entry


@dataclass
class ResourceTemplate:
    uri_template: str
    name: str
    handler: Callable[..., Any]
    description: str = ""
    mime_type: str | None = "application/json"
    scopes: tuple[str, ...] = ("mcp",)
    pattern: re.Pattern[str] | None = None

    def match(self, uri: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(uri) if self.pattern else None
        return found.groupdict() if found else None

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"uriTemplate": self.uri_template, "name": self.name}
        if self.description:
            entry["description"] = self.description
        if self.mime_type:
            entry["mimeType"] = self.mime_type
        return entry


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str = ""
    required: bool = False


@dataclass
class Prompt:
    name: str
    description: str
    handler: Callable[..., Any]
    arguments: tuple[PromptArgument, ...] = ()
    scopes: tuple[str, ...] = ("mcp",)
    completions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    title: str | None = None

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.title:
            entry["title"] = self.title
        if self.arguments:
            entry["arguments"] = [
                {"name": a.name, **({"description": a.description} if a.description else {}), "required": a.required}
                for a in self.arguments
            ]
        return entry


def _arguments_model(name: str, function: Callable[..., Any]) -> tuple[type[BaseModel], bool]:
    signature = inspect.signature(function)
    hints = inspect.get_annotations(function, eval_str=True)
    fields: dict[str, Any] = {}
    wants_context = False
    for parameter in signature.parameters.values():
        if parameter.name == CONTEXT_PARAMETER:
            wants_context = True
            continue
        annotation = hints.get(parameter.name, Any)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, wants_context


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return schema


def _template_pattern(uri_template: str) -> re.Pattern[str]:
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", uri_template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(regex)


class Registry:
    """Tools, resources, templates and prompts by name (or URI); listing order is registration order."""

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.templates: dict[str, ResourceTemplate] = {}
        self.prompts: dict[str, Prompt] = {}
        self._listeners: list[Callable[[str], Awaitable[None] | None]] = []

    # --- decorators ---------------------------------------------------------------------------

    def tool(self, name: str | None = None, *, description: str | None = None, input_schema: dict | None = None,
             output_schema: dict | None = None, annotations: dict | None = None, scopes: Iterable[str] = ("mcp",),
             title: str | None = None, client_capabilities: Iterable[str] = ()
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or function.__name__
            if not TOOL_NAME.match(tool_name):
                raise ValueError(f"Invalid tool name {tool_name!r}: 1-128 of A-Z a-z 0-9 _ - .")
            if tool_name in self.tools:
                raise ValueError(f"Tool {tool_name!r} is already registered")
            model, wants_context = _arguments_model(tool_name, function)
            validator = None
            if input_schema is not None:
                jsonschema.Draft202012Validator.check_schema(input_schema)
                validator = jsonschema.Draft202012Validator(input_schema)
            self.tools[tool_name] = Tool(
                name=tool_name,
                description=description or inspect.getdoc(function) or "",
                input_schema=input_schema if input_schema is not None else _schema_of(model),
                handler=function,
                scopes=tuple(scopes),
                output_schema=output_schema,
                annotations=annotations,
                title=title,
                arguments_model=None if input_schema is not None else model,
                wants_context=wants_context,
                client_capabilities=tuple(client_capabilities),
                validator=validator,
            )
            return function

        return register

    def resource(self, uri: str, *, name: str, description: str = "", mime_type: str | None = "application/json",
                 scopes: Iterable[str] = ("mcp",), title: str | None = None):
        def register(function):
            if "{" in uri:
                self.templates[uri] = ResourceTemplate(uri, name, function, description, mime_type, tuple(scopes),
                                                       _template_pattern(uri))
            else:
                self.resources[uri] = Resource(uri, name, function, description, mime_type, tuple(scopes), title)
            return function

        return register

    def prompt(self, name: str | None = None, *, description: str | None = None,
               arguments: Iterable[PromptArgument] = (), scopes: Iterable[str] = ("mcp",),
               completions: dict[str, Callable[..., Any]] | None = None, title: str | None = None):
        def register(function):
            prompt_name = name or function.__name__
            self.prompts[prompt_name] = Prompt(prompt_name, description or inspect.getdoc(function) or "", function,
                                               tuple(arguments), tuple(scopes), dict(completions or {}), title)
            return function

        return register

    # --- change notifications --------------------------------------------------------------------

    def on_list_changed(self, listener: Callable[[str], Awaitable[None] | None]) -> None:
        self._listeners.append(listener)

    async def list_changed(self, kind: str) -> None:
        """Tell subscribers that the ``kind`` list (``tools``, ``resources``, ``prompts``) changed."""
        for listener in self._listeners:
            outcome = listener(kind)
            if inspect.isawaitable(outcome):
                await outcome


registry = Registry()
