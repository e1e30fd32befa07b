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


# --- Sending at once ----------------------------------------------------------------------------


class _Reactor:
    """What a Twisted connection asks of its reactor when it writes: recorded, not run."""

    def __init__(self) -> None:
        self.writing: set = set()
        self.asked_to_watch = 0

    def addWriter(self, selectable) -> None:  # noqa: N802 (Twisted's names)
        self.writing.add(selectable)
        self.asked_to_watch += 1

    def removeWriter(self, selectable) -> None:  # noqa: N802
        self.writing.discard(selectable)

    def addReader(self, selectable) -> None:  # noqa: N802
        pass

    def removeReader(self, selectable) -> None:  # noqa: N802
        pass


def _connection():
    import socket

    from twisted.internet import tcp

    assert daphne_tuning.send_at_once()
    assert daphne_tuning.send_at_once()  # idempotent
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    reactor = _Reactor()
    connection = tcp.Connection(ours, protocol=None, reactor=reactor)
    connection.connected = 1  # what tcp.Server.__init__ sets for an accepted connection
    return connection, peer, reactor


def _drain(connection, peer, expected: int) -> bytes:
    """Read the peer while the connection's reactor would call doWrite: every byte, in order."""
    received = bytearray()
    peer.setblocking(False)
    while len(received) < expected:
        if connection in connection.reactor.writing:
            assert connection.doWrite() is None
        try:
            received += peer.recv(1 << 20)
        except BlockingIOError:
            pass
    return bytes(received)


def test_a_small_answer_is_sent_at_once_without_watching_the_socket():
    connection, peer, reactor = _connection()
    connection.writeSequence([b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n"])
    connection.write(b"{}")
    assert peer.recv(1024) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    assert reactor.asked_to_watch == 0 and connection.dataBuffer == b"" and not connection._tempDataLen


def test_what_the_kernel_does_not_take_is_buffered_and_later_writes_queue_behind_it():
    """A 4 MB body: partly sent, the rest buffered; a write meanwhile waits its turn; all arrives in order."""
    connection, peer, reactor = _connection()
    body = bytes(range(256)) * (4 * 4096)
    connection.write(body)
    assert reactor.asked_to_watch == 1  # the rest waits for writability, as Twisted does
    connection.write(b"tail")
    assert _drain(connection, peer, len(body) + 4) == body + b"tail"
    assert connection not in reactor.writing  # stopped watching once empty
    watched = reactor.asked_to_watch
    peer.setblocking(True)
    connection.write(b"again")  # nothing waits now: sent at once again
    assert peer.recv(1024) == b"again" and reactor.asked_to_watch == watched


def test_a_write_to_a_connection_the_peer_closed_does_not_raise_and_the_loss_is_found_by_dowrite():
    from twisted.internet import main

    connection, peer, reactor = _connection()
    peer.close()
    connection.write(b"x" * 100)  # may still be accepted by the kernel; the next one meets the reset
    connection.write(b"y" * 100)
    if connection in reactor.writing:
        assert connection.doWrite() is main.CONNECTION_LOST


def test_a_closing_connection_writes_through_twisteds_buffer():
    connection, peer, reactor = _connection()
    connection.disconnecting = 1
    connection.write(b"last words")
    assert reactor.asked_to_watch == 1 and connection._tempDataLen == len(b"last words")  # nothing sent yet
