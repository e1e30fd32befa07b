"""What the official MCP SDK's HTTP client put on the wire, recorded and (on request) cut.

:class:`RecordingTransport` wraps the real ``httpx2`` transport under the SDK's
``httpx2.AsyncClient``, so every request the SDK makes (its ``OAuthClientProvider`` included)
lands in a list of :class:`Exchange` with the request's JSON
body and headers, the response's headers, and, while the body streams through untouched, the
JSON body or every SSE event (id, data) the SDK received. Nothing is buffered ahead of the SDK:
an event reaches the SDK as soon as its blank line has arrived.

:meth:`RecordingTransport.cut_next` arms a one-shot fault: the next matching response stream is
cut after a given number of events, at an event boundary, the connection closed (the server sees
a disconnect) and the SDK's read fails with ``httpx2.ReadError``, as on a dropped network.

:func:`assert_schema` validates a server message against the official MCP JSON schema of a
protocol version (from ``tests/schemas`` through :mod:`tests.support.schema`; a missing schema fails).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jsonschema

from tests.support import schema


# --- SSE ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event as it crossed the wire (comments and retry-only blocks are not events)."""

    id: str | None
    data: str
    event: str = "message"

    @property
    def message(self) -> Any:
        """The JSON-RPC message it carried, or ``None`` for a priming event (empty data)."""
        return json.loads(self.data) if self.data else None


def parse_sse_block(block: bytes) -> SseEvent | None:
    """Parse one event block (without its terminating blank line), per the SSE field rules."""
    event_id: str | None = None
    event = "message"
    data: list[str] = []
    seen_data = False
    for raw in block.decode("utf-8").splitlines():
        if not raw or raw.startswith(":"):
            continue
        name, _, value = raw.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)
            seen_data = True
    if not seen_data and event_id is None:
        return None  # a comment (keep-alive) or a retry-only block
    return SseEvent(id=event_id, data="\n".join(data), event=event)


def _split_blocks(buffer: bytearray) -> list[bytes]:
    """Remove every complete event block (ending in a blank line) from ``buffer``, with its terminator."""
    blocks = []
    while True:
        positions = [p for p in (buffer.find(b"\n\n"), buffer.find(b"\r\n\r\n")) if p >= 0]
        if not positions:
            return blocks
        end = min(positions)
        size = 4 if buffer.startswith(b"\r\n\r\n", end) else 2
        blocks.append(bytes(buffer[: end + size]))
        del buffer[: end + size]


# --- The transport ----------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One HTTP request the SDK made and what it got back.

    ``form`` holds the fields of a form-encoded request; ``request_json`` a JSON request body.
    ``response_json`` is the JSON body once the SDK has read it; ``events`` the SSE events of an
    event-stream response, in order, as they reached the SDK; ``cut`` marks a stream the test cut
    (see :meth:`RecordingTransport.cut_next`).
    """

    method: str
    url: str
    status: int
    form: dict[str, str] = field(default_factory=dict, repr=False)
    request_headers: httpx2.Headers = field(default_factory=httpx2.Headers, repr=False)
    request_json: Any = field(default=None, repr=False)
    response_headers: httpx2.Headers = field(default_factory=httpx2.Headers, repr=False)
    response_json: Any = field(default=None, repr=False)
    events: list[SseEvent] = field(default_factory=list, repr=False)
    cut: bool = False

    @property
    def line(self) -> tuple[str, str, int]:
        return (self.method, self.url, self.status)

    @property
    def rpc_method(self) -> str | None:
        """The JSON-RPC method of the request body, if it carried one."""
        return self.request_json.get("method") if isinstance(self.request_json, dict) else None


@dataclass
class _Cut:
    matches: Callable[[Exchange], bool]
    after_events: int


class _TeeStream(httpx2.AsyncByteStream):
    """The response body, passed through while being recorded (and possibly cut)."""

    def __init__(self, inner: httpx2.AsyncByteStream, exchange: Exchange, cut: _Cut | None, request: httpx2.Request):
        self.inner = inner
        self.exchange = exchange
        self.cut = cut
        self.request = request
        content_type = exchange.response_headers.get("content-type", "").split(";")[0].strip().lower()
        self.sse = content_type == "text/event-stream"
        self.json = content_type == "application/json"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if not self.sse:
            body = bytearray()
            async for chunk in self.inner:
                body += chunk
                yield chunk
            if self.json and body:
                self.exchange.response_json = json.loads(body)
            return
        buffer = bytearray()
        counted = 0
        async for chunk in self.inner:
            buffer += chunk
            for block in _split_blocks(buffer):
                event = parse_sse_block(block)
                if event is not None:
                    self.exchange.events.append(event)
                yield block
                if event is not None and event.data:
                    counted += 1
                if self.cut is not None and counted >= self.cut.after_events:
                    self.exchange.cut = True
                    await self.inner.aclose()
                    raise httpx2.ReadError("connection dropped by the test", request=self.request)
        if buffer:
            yield bytes(buffer)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Record every exchange into ``log`` (see the module docstring); optionally cut one stream."""

    def __init__(self, log: list[Exchange], inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.log = log
        self.inner = inner or httpx2.AsyncHTTPTransport()
        self._cut: _Cut | None = None

    def cut_next(self, matches: Callable[[Exchange], bool], *, after_events: int) -> None:
        """Cut the next response stream for which ``matches(exchange)`` holds after ``after_events``
        events that carry data (priming events do not count)."""
        self._cut = _Cut(matches, after_events)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            body = request.content
        except httpx2.RequestNotRead:
            body = b""
        request_type = request.headers.get("content-type", "")
        form: dict[str, str] = {}
        request_json: Any = None
        if request_type.startswith("application/x-www-form-urlencoded"):
            from urllib.parse import parse_qs

            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        elif request_type.startswith("application/json") and body:
            request_json = json.loads(body)
        response = await self.inner.handle_async_request(request)
        exchange = Exchange(
            request.method, str(request.url), response.status_code, form,
            request_headers=httpx2.Headers(request.headers), request_json=request_json,
            response_headers=httpx2.Headers(response.headers),
        )
        cut = None
        if self._cut is not None and self._cut.matches(exchange):
            cut, self._cut = self._cut, None
        response.stream = _TeeStream(response.stream, exchange, cut, request)
        self.log.append(exchange)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- Official JSON schemas ---------------------------------------------------------------------------


def assert_schema(version: str, definition: str, instance: Any) -> None:
    """``instance`` is valid against ``definition`` (e.g. ``InitializeResult``) of the official
    schema for protocol ``version``, with that schema's own dialect (draft-07 or 2020-12)."""
    root = schema.document(version)  # SchemaMissing (an AssertionError) when the file is not there
    defs = "$defs" if "$defs" in root else "definitions"
    if definition not in root[defs]:
        raise AssertionError(f"the {version} schema has no {definition}")
    validator = jsonschema.validators.validator_for(root)({**root, "$ref": f"#/{defs}/{definition}"})
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"- {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10])
        raise AssertionError(f"not a valid {version} {definition}:\n{details}\n{json.dumps(instance, indent=2)[:3000]}")
