"""JSON-RPC and MCP error codes, and the exceptions that carry one to the wire.

Codes are the documented constants of ``mcp_types.jsonrpc``. An exception knows its code and a
fixed, safe message; it does not know its HTTP status: that depends on the era and lives in one
table, :mod:`mcp_app.protocol.status`. Exception text from inside the server never reaches a client.

The transport's refusals (body too large, wrong media types, foreign Origin or Host, unknown
session) are ``-32600`` subclasses, so the status table can tell them apart.
"""

from __future__ import annotations

from typing import Any

from mcp_types import jsonrpc

PARSE_ERROR = jsonrpc.PARSE_ERROR
INVALID_REQUEST = jsonrpc.INVALID_REQUEST
METHOD_NOT_FOUND = jsonrpc.METHOD_NOT_FOUND
INVALID_PARAMS = jsonrpc.INVALID_PARAMS
INTERNAL_ERROR = jsonrpc.INTERNAL_ERROR
HEADER_MISMATCH = jsonrpc.HEADER_MISMATCH
MISSING_REQUIRED_CLIENT_CAPABILITY = jsonrpc.MISSING_REQUIRED_CLIENT_CAPABILITY
UNSUPPORTED_PROTOCOL_VERSION = jsonrpc.UNSUPPORTED_PROTOCOL_VERSION
RESOURCE_NOT_FOUND_LEGACY = -32002
"""Legacy "resource not found"; 2026-07-28 uses INVALID_PARAMS instead (TRANS-45)."""


class MCPError(Exception):
    """An error answered as a JSON-RPC error object."""

    code: int = INTERNAL_ERROR
    message: str = "Internal server error"

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        if message is not None:
            self.message = message
        self.data = data
        super().__init__(self.message)

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(MCPError):
    code, message = PARSE_ERROR, "Parse error"


class InvalidRequest(MCPError):
    code, message = INVALID_REQUEST, "Invalid request"


class MethodNotFound(MCPError):
    code, message = METHOD_NOT_FOUND, "Method not found"


class InvalidParams(MCPError):
    code, message = INVALID_PARAMS, "Invalid params"


class InternalError(MCPError):
    code, message = INTERNAL_ERROR, "Internal server error"


class HeaderMismatch(MCPError):
    code, message = HEADER_MISMATCH, "Header mismatch"


class MissingClientCapability(MCPError):
    code, message = MISSING_REQUIRED_CLIENT_CAPABILITY, "Missing required client capability"


class UnsupportedProtocolVersion(MCPError):
    code, message = UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version"


class ResourceNotFound(MCPError):
    code, message = RESOURCE_NOT_FOUND_LEGACY, "Resource not found"


# --- refusals of the transport (all -32600; the status table gives each its HTTP status) ---------------


class MissingMeta(InvalidParams):
    """2026-07-28: a ``_meta`` field every request must carry is missing (TRANS-28)."""

    message = "Missing _meta protocol version and client capabilities"


class BodyTooLarge(InvalidRequest):
    message = "Request body too large"


class UnsupportedMediaType(InvalidRequest):
    message = "Content-Type must be application/json"


class NotAcceptable(InvalidRequest):
    message = "Accept must list application/json and text/event-stream"


class ForbiddenOrigin(InvalidRequest):
    message = "Origin not allowed"


class ForbiddenHost(InvalidRequest):
    message = "Host not allowed"


class SessionNotFound(InvalidRequest):
    message = "Session not found"


class StreamConflict(InvalidRequest):
    message = "Another GET stream is already open for this session"
