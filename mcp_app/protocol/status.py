"""The one table from (era, error) to HTTP status.

A JSON-RPC error travels in an HTTP response whose status the transport must pick. The rules
differ between eras: in 2026-07-28 an unknown method is HTTP 404 (TRANS-30), while the legacy era
answers every JSON-RPC error it could parse with HTTP 200. ``None`` as the era means "any era"
(and covers failures found before the era is known: parse errors, media types, Origin, Host).
Errors that are not in the table are answered with HTTP 200.
"""

from __future__ import annotations

from http import HTTPStatus

from .errors import (
    BodyTooLarge, ForbiddenHost, ForbiddenOrigin, HeaderMismatch, InternalError, InvalidRequest, MCPError, MethodNotFound,
    MissingClientCapability, MissingMeta, NotAcceptable, ParseError, SessionNotFound, StreamConflict,
    UnsupportedMediaType, UnsupportedProtocolVersion,
)
from .versions import Era

STATUS: dict[tuple[Era | None, type[MCPError]], HTTPStatus] = {
    (None, ParseError): HTTPStatus.BAD_REQUEST,  # TRANS-06
    (None, InvalidRequest): HTTPStatus.BAD_REQUEST,
    (None, BodyTooLarge): HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    (None, UnsupportedMediaType): HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    (None, NotAcceptable): HTTPStatus.NOT_ACCEPTABLE,  # TRANS-05
    (None, ForbiddenOrigin): HTTPStatus.FORBIDDEN,  # TRANS-02 (DNS rebinding)
    (None, ForbiddenHost): HTTPStatus.BAD_REQUEST,  # as Django answers a Host outside ALLOWED_HOSTS
    (None, SessionNotFound): HTTPStatus.NOT_FOUND,  # TRANS-15, TRANS-16
    (None, StreamConflict): HTTPStatus.CONFLICT,
    (None, HeaderMismatch): HTTPStatus.BAD_REQUEST,  # TRANS-29, TRANS-32
    (None, MissingClientCapability): HTTPStatus.BAD_REQUEST,
    (None, UnsupportedProtocolVersion): HTTPStatus.BAD_REQUEST,
    (None, MissingMeta): HTTPStatus.BAD_REQUEST,  # TRANS-28
    (Era.MODERN, MethodNotFound): HTTPStatus.NOT_FOUND,  # TRANS-30
}

ESCAPED_INTERNAL_ERROR = HTTPStatus.INTERNAL_SERVER_ERROR
"""A server fault that escaped to the transport before any JSON-RPC answer could carry it (a bug)."""


def http_status(era: Era | None, error: MCPError) -> int:
    """The HTTP status of a response carrying ``error`` in ``era`` (most specific class first)."""
    for cls in type(error).__mro__:
        status = STATUS.get((era, cls)) or STATUS.get((None, cls))
        if status is not None:
            return int(status)
        if cls is MCPError:
            break
    return int(HTTPStatus.OK)


__all__ = ["ESCAPED_INTERNAL_ERROR", "STATUS", "InternalError", "http_status"]
