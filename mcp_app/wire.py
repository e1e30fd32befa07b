"""The one place where exceptions become wire errors.

Everything that can go wrong on ``/mcp`` is raised as an exception: a JSON-RPC error
(:class:`~mcp_app.protocol.errors.MCPError`), a params model that did not validate (pydantic
``ValidationError``, answered as ``-32602`` without internal text), a bearer problem
(:class:`~oauth_app.exceptions.TokenError`: RFC 6750 401/403 with ``WWW-Authenticate``), or a bug
(anything else: logged with its stack, answered as ``-32603`` without detail). :func:`wire_error`
turns any of them into a :class:`Reply`: HTTP status (from :mod:`mcp_app.protocol.status`),
headers and body. The dispatcher calls it for each JSON-RPC request it answers; the transport calls
it for whatever escaped before an answer existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from oauth_app.exceptions import InsufficientScope, TokenError
from pydantic import ValidationError

from .auth import NoToken, challenge
from .protocol import jsonrpc
from .protocol.errors import InternalError, InvalidParams, MCPError
from .protocol.status import ESCAPED_INTERNAL_ERROR, http_status
from .protocol.versions import Era

log = logging.getLogger(__name__)

Where = Literal["request", "embedded", "transport"]
"""``request``: the answer to one request is the whole HTTP response; ``embedded``: the answer is one
message among others (a batch entry, an event on an SSE stream already started); ``transport``: the
failure happened outside any request's handling (framing, authentication, or a bug there)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, extra headers, and a JSON body (a JSON-RPC message, a batch, or an RFC 6750 body)."""

    status: int
    payload: Any
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def is_error(self) -> bool:
        return isinstance(self.payload, dict) and "error" in self.payload


def wire_error(exc: BaseException, era: Era | None, request_id: Any = None, where: Where = "request") -> Reply:
    """Turn ``exc`` into what the client receives. Never raises; never shows internal text."""
    if isinstance(exc, (TokenError, NoToken)):
        if where == "embedded" and isinstance(exc, InsufficientScope):
            # Inside a batch there is no HTTP status per message: the JSON-RPC answer names the scopes.
            exc = InvalidParams(f"Needs scopes: {' '.join(exc.required)}")
        else:
            found = challenge(exc if isinstance(exc, TokenError) else None,
                              exc.required if isinstance(exc, InsufficientScope) else None)
            return Reply(found.status, found.body, ((b"www-authenticate", found.www_authenticate.encode()),))
    if isinstance(exc, ValidationError):
        exc = InvalidParams()
    elif not isinstance(exc, MCPError):
        log.error("Unexpected error on /mcp", exc_info=exc)
        exc = InternalError()
        if where == "transport":
            return Reply(int(ESCAPED_INTERNAL_ERROR), jsonrpc.error(request_id, exc))
    status = 200 if where == "embedded" else http_status(era, exc)
    return Reply(status, jsonrpc.error(request_id, exc))
