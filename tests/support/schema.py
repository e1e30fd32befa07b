"""Validate wire data against the official MCP JSON schemas in ``tests/schemas/<version>/schema.json``.

The schemas are part of the checkout (``tests/schemas/README.md`` names their source and hashes);
nothing here reads outside it. A version without its file raises :class:`SchemaMissing` (an
``AssertionError``), so a test that needs a schema fails rather than passing unchecked.

``validate(instance, "InitializeResult", "2025-11-25")`` checks ``instance`` against
``#/$defs/InitializeResult`` (``#/definitions/...`` in the draft-07 schemas of 2025-03-26 and
2025-06-18) and raises :class:`jsonschema.ValidationError` on the first problem. The JSON-RPC
envelope definitions were renamed between versions; :func:`result_response` and
:func:`error_response` pick the right name.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


class SchemaMissing(AssertionError):
    """The official schema of a protocol version is not in ``tests/schemas``."""


def schema_path(version: str) -> Path:
    return SCHEMA_DIR / version / "schema.json"


@functools.cache
def document(version: str) -> dict[str, Any]:
    """The whole schema document of one protocol version; :class:`SchemaMissing` if it is not there."""
    path = schema_path(version)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaMissing(f"{path} is missing: copy schema/{version}/schema.json of the MCP specification "
                            "repository there (see tests/schemas/README.md)") from None


def _definitions_key(version: str) -> str:
    return "$defs" if "$defs" in document(version) else "definitions"


def definitions(version: str) -> dict[str, Any]:
    return document(version)[_definitions_key(version)]


@functools.cache
def validator(name: str, version: str) -> jsonschema.protocols.Validator:
    """A validator for the definition ``name`` of ``version`` (its ``$ref``s resolve inside the document)."""
    doc = document(version)
    key = _definitions_key(version)
    if name not in doc[key]:
        raise KeyError(f"{name} is not defined in the {version} schema")
    cls = validator_for(doc)
    schema = {"$schema": doc["$schema"], key: doc[key], "$ref": f"#/{key}/{name}"}
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(instance: Any, name: str, version: str) -> Any:
    """Raise :class:`jsonschema.ValidationError` unless ``instance`` is a valid ``name`` of ``version``."""
    error = jsonschema.exceptions.best_match(validator(name, version).iter_errors(instance))
    if error is not None:
        raise error
    return instance


def result_response(version: str) -> str:
    """The name of the successful JSON-RPC response envelope in ``version``."""
    return "JSONRPCResultResponse" if "JSONRPCResultResponse" in definitions(version) else "JSONRPCResponse"


def error_response(version: str) -> str:
    """The name of the JSON-RPC error envelope in ``version``."""
    return "JSONRPCErrorResponse" if "JSONRPCErrorResponse" in definitions(version) else "JSONRPCError"


def validate_result(message: dict[str, Any], result_name: str, version: str) -> dict[str, Any]:
    """Validate a JSON-RPC response envelope and its ``result`` as ``result_name``; return the result."""
    validate(message, result_response(version), version)
    return validate(message["result"], result_name, version)


def validate_error(message: dict[str, Any], version: str = "2026-07-28") -> dict[str, Any]:
    """Validate a JSON-RPC error envelope; return its ``error`` member.

    Error responses without ``id`` (the request was unreadable) are only expressible from
    2025-11-25 on (the older schemas require ``id``), so those are checked against 2026-07-28.
    """
    validate(message, error_response(version), version)
    return message["error"]
