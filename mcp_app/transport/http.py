"""The request and response of one ``/mcp`` exchange, over raw ASGI."""

from __future__ import annotations

from typing import Any

from ..protocol import jsonrpc
from ..protocol.versions import Era
from ..wire import Reply

JSON = b"application/json"
NO_STORE = (b"cache-control", b"no-store")


class Request:
    """What arrived: method, headers (lower-case names), body; and what the handling learnt so far."""

    __slots__ = ("scope", "receive", "method", "headers", "body", "too_large", "era", "rpc_id", "principal", "gone")

    def __init__(self, scope: dict[str, Any], receive: Any) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.headers: dict[str, str] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.body = b""
        self.too_large = False
        self.era: Era | None = None
        """Known once the body was read: picks the HTTP status of an error (mcp_app.protocol.status)."""
        self.rpc_id: Any = None
        """The JSON-RPC id an error escaping to the transport answers."""
        self.principal: Any = None
        self.gone = False
        """The client disconnected during a stream, which cancelled the request's task."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    async def read_body(self, limit: int) -> None:
        """Collect the body; past ``limit`` stop reading and remember it was too large."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                self.too_large = True
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Response:
    """The response side; every response carries the CORS headers and ``Cache-Control: no-store``."""

    __slots__ = ("send", "cors", "started", "finished")

    def __init__(self, send: Any, cors: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.cors = cors
        self.started = False
        self.finished = False

    async def start(self, status: int, content_type: bytes | None, extra: tuple | list = ()) -> None:
        headers = [*extra, *self.cors, NO_STORE]
        if content_type:
            headers.append((b"content-type", content_type))
        self.started = True
        await self.send({"type": "http.response.start", "status": int(status), "headers": headers})

    async def body(self, data: bytes, more: bool = False) -> None:
        if not more:
            self.finished = True
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def end(self) -> None:
        if not self.finished:
            await self.body(b"")

    async def json(self, status: int, payload: Any, extra: tuple | list = ()) -> None:
        body = jsonrpc.encode(payload)
        # A known length spares daphne the chunked encoding of a one-piece body.
        await self.start(status, JSON, (*extra, (b"content-length", str(len(body)).encode())))
        await self.body(body)

    async def reply(self, reply: Reply, extra: tuple | list = ()) -> None:
        await self.json(reply.status, reply.payload, (*reply.headers, *extra))

    async def empty(self, status: int, extra: tuple | list = ()) -> None:
        await self.start(status, None, (*extra, (b"content-length", b"0")))
        await self.body(b"")
