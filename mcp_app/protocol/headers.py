"""HTTP header names of the Streamable HTTP transport, and the 2026-07-28 header/body checks (TRANS-32).

``Mcp-Method`` must equal the body's ``method``; ``Mcp-Name`` must equal ``params.name`` (tools,
prompts) or ``params.uri`` (resources). Values may be RFC 2047-style ``=?base64?...?=`` encoded.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from .errors import HeaderMismatch

PROTOCOL_VERSION = "mcp-protocol-version"
SESSION_ID = "mcp-session-id"
LAST_EVENT_ID = "last-event-id"
METHOD = "mcp-method"
NAME = "mcp-name"

NAME_FIELD_BY_METHOD = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_ENCODED = re.compile(r"^=\?base64\?([A-Za-z0-9+/=_-]*)\?=$")
_VISIBLE = re.compile(r"^[\x20-\x7e]*$")


@functools.lru_cache(maxsize=1024)  # a client repeats its few method and tool names; refusals are not kept
def decode_header_value(value: str) -> str:
    """Decode ``=?base64?...?=`` values; refuse control or non-ASCII characters."""
    match = _ENCODED.match(value)
    if match:
        try:
            return base64.b64decode(match.group(1), altchars=b"-_" if ("-" in match.group(1) or "_" in match.group(1)) else None,
                                    validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise HeaderMismatch("Invalid base64 header value") from exc
    if not _VISIBLE.match(value):
        raise HeaderMismatch("Invalid characters in header value")
    return value


def check_modern_headers(headers: dict[str, str], method: str, params: dict[str, Any]) -> None:
    """TRANS-32: Mcp-Method is required and must match; Mcp-Name likewise for named methods."""
    sent_method = headers.get(METHOD)
    if sent_method is None:
        raise HeaderMismatch("Missing Mcp-Method header")
    if decode_header_value(sent_method) != method:
        raise HeaderMismatch("Mcp-Method header does not match the request body")
    field = NAME_FIELD_BY_METHOD.get(method)
    if field is None:
        return
    sent_name = headers.get(NAME)
    if sent_name is None:
        raise HeaderMismatch("Missing Mcp-Name header")
    if decode_header_value(sent_name) != params.get(field):
        raise HeaderMismatch("Mcp-Name header does not match the request body")


def accepts(accept: str, media_type: str) -> bool:
    """Whether an ``Accept`` header value admits ``media_type`` (wildcards included), TRANS-05."""
    kind = media_type.split("/")[0]
    for part in accept.split(","):
        value = part.split(";")[0].strip().lower()
        if value in {media_type, f"{kind}/*", "*/*"}:
            return True
    return False
