"""JSON-RPC and MCP error codes, and the exception that carries one to the wire.

Codes are the documented constants of ``mcp_types.jsonrpc``. Each :class:`MCPError` knows its
HTTP status, so the transport turns any of them into a response in one place. Messages are
fixed, safe strings: exception text from inside the server never reaches a client.
"""

from __future__ import annotations

from http import HTTPStatus
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
    """An error answered as a JSON-RPC error object (and, for HTTP, a status code)."""

    code: int = INTERNAL_ERROR
    message: str = "Internal server error"
    http_status: int = HTTPStatus.OK

    def __init__(self, message: str | None = None, data: Any = None, *, http_status: int | None = None) -> None:
        if message is not None:
            self.message = message
        if http_status is not None:
            self.http_status = http_status
        self.data = data
        super().__init__(self.message)

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(MCPError):
    code, message, http_status = PARSE_ERROR, "Parse error", HTTPStatus.BAD_REQUEST


class InvalidRequest(MCPError):
    code, message, http_status = INVALID_REQUEST, "Invalid request", HTTPStatus.BAD_REQUEST


class MethodNotFound(MCPError):
    code, message = METHOD_NOT_FOUND, "Method not found"


class InvalidParams(MCPError):
    code, message = INVALID_PARAMS, "Invalid params"


class InternalError(MCPError):
    code, message = INTERNAL_ERROR, "Internal server error"


class HeaderMismatch(MCPError):
    code, message, http_status = HEADER_MISMATCH, "Header mismatch", HTTPStatus.BAD_REQUEST


class MissingClientCapability(MCPError):
    code, message, http_status = MISSING_REQUIRED_CLIENT_CAPABILITY, "Missing required client capability", HTTPStatus.BAD_REQUEST


class UnsupportedProtocolVersion(MCPError):
    code, message, http_status = UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", HTTPStatus.BAD_REQUEST


class ResourceNotFound(MCPError):
    code, message = RESOURCE_NOT_FOUND_LEGACY, "Resource not found"
