"""project/daphne_tuning.py changes how daphne's Twisted layer works, never what it answers."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from project import daphne_tuning

CONTENT_TYPES = [b"application/json", b"Application/JSON; charset=utf-8", b"application/x-www-form-urlencoded",
                 b"multipart/form-data; boundary=----x", b"text/plain", b"", b"garbage;;;=", b"\xff\xfe/\x00"]


def reference(line: bytes) -> bytes:
    """Twisted's own parse, written out: what the memoized function must keep answering."""
    message = EmailMessage()
    message["content-type"] = line.decode("charmap")
    return message.get_content_type().encode("charmap")


@pytest.mark.parametrize("line", CONTENT_TYPES)
def test_memoized_content_type_parse_answers_as_twisted_does(line):
    from twisted.web import http

    assert daphne_tuning.memoize_content_type_parsing()
    assert daphne_tuning.memoize_content_type_parsing()  # idempotent: wrapped once
    assert http._parseContentType(line) == reference(line)
    assert http._parseContentType(line) == reference(line)  # and from the cache
    assert http._parseContentType.cache_info().hits >= 1
    assert not hasattr(http._parseContentType.__wrapped__, "cache_info")


def test_twisted_request_log_is_skipped_on_daphnes_factory_only():
    from daphne.http_protocol import HTTPFactory
    from twisted.web import http

    assert daphne_tuning.skip_twisted_request_log()
    assert HTTPFactory.log is daphne_tuning._no_request_log
    assert http.HTTPFactory.log is not daphne_tuning._no_request_log  # Twisted's own class is untouched


# --- Reaping finished requests -----------------------------------------------------------------


class _Protocol:
    """What daphne's Server keys a connection by; a request's protocol object, nothing more needed."""


def _server():
    from daphne.server import Server

    assert daphne_tuning.reap_finished_requests()
    assert daphne_tuning.reap_finished_requests()  # idempotent: wrapped once
    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])  # never run: not listening
    server.connections = {}  # what Server.run() starts with
    return server


def _run_one(server, app):
    """Connect a protocol, start ``app`` for it as daphne does, finish the response, await the app."""
    async def scenario():
        server.application = app
        protocol = _Protocol()
        server.protocol_connected(protocol)
        queue = server.create_application(protocol, {"type": "http"})
        await queue.put({"type": "http.request", "body": b""})
        task = server.connections[protocol]["application_instance"]
        server.protocol_disconnected(protocol)  # what WebRequest.finish() calls once it has answered
        try:
            await task  # the reaper was registered first, so it has run when this returns
        except Exception:  # noqa: BLE001 (the failing app's own error; the test looks at what daphne keeps)
            pass
        return protocol, task

    return asyncio.run(scenario())


def test_a_request_that_finished_cleanly_is_forgotten_at_once():
    """Daphne's checker would drop it up to a second later; meanwhile it ages into the oldest GC generation."""
    server = _server()

    async def app(scope, receive, send):
        await receive()

    protocol, task = _run_one(server, app)
    assert task.done() and task.exception() is None
    assert protocol not in server.connections


def test_a_request_whose_application_raised_is_left_to_daphnes_checker():
    """The checker logs "Exception inside application" for it, as without the tuning."""
    server = _server()

    async def app(scope, receive, send):
        await receive()
        raise RuntimeError("boom")

    protocol, task = _run_one(server, app)
    assert isinstance(task.exception(), RuntimeError)
    assert server.connections[protocol]["application_instance"] is task


def test_a_protocol_reported_closed_twice_after_reaping_is_not_an_error():
    """A WebSocket can report its close twice; daphne's own code would raise KeyError once reaped."""
    server = _server()

    async def app(scope, receive, send):
        await receive()

    protocol, _ = _run_one(server, app)
    server.protocol_disconnected(protocol)
    assert protocol not in server.connections


def test_a_request_still_running_when_answered_is_forgotten_when_it_ends():
    """Answered (disconnected) first, app done later: the app's end reaps it."""
    server = _server()
    release = None

    async def scenario():
        nonlocal release
        release = asyncio.Event()

        async def app(scope, receive, send):
            await receive()
            await release.wait()

        server.application = app
        protocol = _Protocol()
        server.protocol_connected(protocol)
        queue = server.create_application(protocol, {"type": "http"})
        await queue.put({"type": "http.request", "body": b""})
        server.protocol_disconnected(protocol)
        kept_while_running = protocol in server.connections
        release.set()
        await server.connections[protocol]["application_instance"]
        return protocol, kept_while_running

    protocol, kept_while_running = asyncio.run(scenario())
    assert kept_while_running
    assert protocol not in server.connections


# --- The connection's local address --------------------------------------------------------------


class _CountingSocket:
    def __init__(self) -> None:
        self.calls = 0

    def getsockname(self):
        self.calls += 1
        return ("127.0.0.1", 8001)


def test_a_connection_asks_the_kernel_for_its_local_address_once():
    from twisted.internet import tcp
    from twisted.internet.address import IPv4Address

    assert daphne_tuning.memoize_connection_host()
    assert daphne_tuning.memoize_connection_host()  # idempotent

    class Connection:  # what tcp.Server.getHost reads: the socket and the address type
        _addressType = IPv4Address

        def __init__(self) -> None:
            self.socket = _CountingSocket()

    first, second = Connection(), Connection()
    assert tcp.Server.getHost(first) == IPv4Address("TCP", "127.0.0.1", 8001)
    assert tcp.Server.getHost(first) is tcp.Server.getHost(first)
    assert first.socket.calls == 1
    assert tcp.Server.getHost(second) == IPv4Address("TCP", "127.0.0.1", 8001)
    assert second.socket.calls == 1  # per connection, not per process


# --- The access log ---------------------------------------------------------------------------------


def _entries(generator) -> None:
    for n, status in enumerate((200, 401, 500)):
        generator(protocol="http", action="complete",
                  details={"client": f"127.0.0.1:{40000 + n}", "method": "POST", "path": "/mcp", "status": status,
                           "size": 10 + n})


def test_access_log_lines_of_one_loop_turn_are_written_together_and_unchanged():
    """The same lines as daphne's own write_entry, in order, in one write at the end of the turn."""
    import io

    from daphne.access import AccessLogGenerator

    assert daphne_tuning.coalesce_access_log_writes()
    assert daphne_tuning.coalesce_access_log_writes()  # idempotent

    class Stream(io.StringIO):
        writes = 0

        def write(self, text):
            Stream.writes += 1
            return super().write(text)

    reference = AccessLogGenerator(io.StringIO())
    reference.write_entry = daphne_tuning._write_entry.daphne_original.__get__(reference)
    _entries(reference)

    async def scenario():
        stream = Stream()
        generator = AccessLogGenerator(stream)
        _entries(generator)
        during_turn = stream.getvalue()
        turn_over = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(turn_over.set_result, None)  # queued after the write
        await turn_over
        return during_turn, stream.getvalue()

    during_turn, written = asyncio.run(scenario())
    assert during_turn == ""
    assert written.splitlines()[0].startswith("127.0.0.1:40000 - - [")
    # The timestamps are the seconds the entries were made; compare the lines without them.
    strip = lambda text: [line.split("[")[0] + line.split("]")[1] for line in text.splitlines()]  # noqa: E731
    assert strip(written) == strip(reference.stream.getvalue())
    assert len(written.splitlines()) == 3 and Stream.writes == 1


def test_access_log_written_at_once_off_the_event_loop():
    import io

    from daphne.access import AccessLogGenerator

    assert daphne_tuning.coalesce_access_log_writes()
    generator = AccessLogGenerator(io.StringIO())
    _entries(generator)
    assert [line.split('"')[2].split()[0] for line in generator.stream.getvalue().splitlines()] == ["200", "401", "500"]
