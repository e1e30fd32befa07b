"""What daphne's HTTP layer (Twisted) does per request that it need not: here, and only here.

Six things, about two fifths of daphne's CPU per ``/mcp`` request between them
(``bench/bench_mcp.py``, py-spy):

* Twisted's ``Request.requestReceived`` parses the ``Content-Type`` of every POST to decide whether
  to decode a form body, and its ``_parseContentType`` builds an ``email.message.EmailMessage`` for
  it, to learn ``application/json`` again and again. Daphne offers no switch, so the function is
  memoized: it is pure (bytes in, bytes out), clients send a handful of distinct values, and the
  cache is bounded.
* Daphne forgets a finished request only when its ``application_checker`` next runs, once a
  second. Until then the request (Twisted's ``Request``, its headers, the scope, the finished
  task) stays in ``Server.connections``: at a few thousand requests per second, thousands of dead
  requests outlive several garbage collections, reach the oldest generation and make every full
  collection walk them. That was about a seventh of the process's CPU and its p99 latency (a full
  collection stalled the loop for up to 100 ms). Daphne is told to forget a request as soon as it
  has both finished and been answered, which is exactly what its checker would do a second later;
  a request whose application raised is left to the checker, which logs it as before.
* Twisted's ``Request`` asks its connection for the local address on every request, and Twisted's
  TCP connection asks the kernel (``getsockname``) every time, although an accepted socket's local
  address never changes. The connection keeps the answer (an immutable ``IPv4Address``).
* Twisted never sends on ``write``: it buffers the bytes, asks the event loop to watch the socket
  for writability (an ``epoll_ctl``), sends on the loop's next turn, then stops watching (another
  ``epoll_ctl``): about a tenth of daphne's CPU per answer. A plain TCP connection with nothing
  waiting to be sent now sends at once; whatever the kernel does not take (or any write while
  something waits, or over TLS, or while closing) goes through Twisted's buffer as before, so the
  bytes keep their order and back-pressure works as it did.
* Daphne's access log makes one ``write`` system call per request. Lines are written as before,
  with the same text and timestamps, but those of requests answered in the same turn of the event
  loop go out in one write at the end of that turn (at four thousand requests per second, a turn
  answers about ten); a line waits microseconds, never for a later request.
* Twisted's ``HTTPFactory.log`` formats a combined-log line for every request and writes it to
  Twisted's log, which daphne (at its default verbosity) sends nowhere, and at higher verbosity
  duplicates daphne's own access log. Daphne's factory is told not to: daphne's access log
  (``daphne.access``) is unchanged.

The patches are applied by :func:`apply` when ``project.asgi`` is imported, i.e. in the daphne
process only.
"""

from __future__ import annotations

import asyncio
import atexit
import functools


def apply() -> None:
    """Every tuning below; each is idempotent and does nothing where its server is not installed."""
    memoize_content_type_parsing()
    reap_finished_requests()
    memoize_connection_host()
    send_at_once()
    coalesce_access_log_writes()
    skip_twisted_request_log()


def memoize_content_type_parsing() -> bool:
    """Wrap ``twisted.web.http._parseContentType`` in an LRU cache; ``False`` if Twisted has no such function."""
    try:
        from twisted.web import http
    except ImportError:  # served by another ASGI server
        return False
    original = getattr(http, "_parseContentType", None)
    if original is None or hasattr(original, "cache_info"):
        return original is not None
    http._parseContentType = functools.lru_cache(maxsize=64)(original)
    return True


def skip_twisted_request_log() -> bool:
    """Make daphne's ``HTTPFactory.log`` a no-op; ``False`` if daphne is not installed."""
    try:
        from daphne.http_protocol import HTTPFactory
    except ImportError:
        return False
    HTTPFactory.log = _no_request_log
    return True


def _no_request_log(self, request) -> None:
    """Daphne writes the access log itself (``daphne.access``); Twisted's copy went nowhere."""


def reap_finished_requests() -> bool:
    """Drop a request from daphne's ``Server.connections`` once it is answered and its app is done.

    ``False`` if daphne is not installed. Idempotent.
    """
    try:
        from daphne.server import Server
    except ImportError:
        return False
    if getattr(Server, "reaps_finished_requests", False):
        return True
    create_application = Server.create_application
    protocol_disconnected = Server.protocol_disconnected

    def create_application_reaped(self, protocol, scope):
        queue = create_application(self, protocol, scope)
        details = self.connections.get(protocol)
        if queue is not None and details is not None:
            details["application_instance"].add_done_callback(lambda _task: _reap(self, protocol))
        return queue

    def protocol_disconnected_reaped(self, protocol):
        if protocol not in self.connections:
            # Reaped already (a WebSocket can report its close twice); daphne would raise KeyError.
            return
        protocol_disconnected(self, protocol)
        _reap(self, protocol)

    Server.create_application = create_application_reaped
    Server.protocol_disconnected = protocol_disconnected_reaped
    Server.reaps_finished_requests = True
    return True


def _reap(server, protocol) -> None:
    """What ``Server.application_checker`` does for a clean finish, done now instead of within a second."""
    details = server.connections.get(protocol)
    if details is None or "disconnected" not in details:
        return
    task = details.get("application_instance")
    if task is None or not task.done():
        return
    if not task.cancelled() and task.exception() is not None:
        return  # the checker logs it (and answers 500 if it still can)
    del server.connections[protocol]


def memoize_connection_host() -> bool:
    """Each accepted TCP connection asks the kernel for its local address once; ``False`` without Twisted."""
    try:
        from twisted.internet import tcp
    except ImportError:
        return False
    original = tcp.Server.getHost
    if getattr(original, "memoized", False):
        return True

    def getHost(self):  # noqa: N802 (Twisted's name)
        try:
            return self._local_address
        except AttributeError:
            self._local_address = original(self)
            return self._local_address

    getHost.memoized = True
    tcp.Server.getHost = getHost
    return True


def coalesce_access_log_writes() -> bool:
    """Daphne's access-log lines of one event-loop turn in one write; ``False`` without daphne."""
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return False
    if getattr(AccessLogGenerator, "coalesces_writes", False):
        return True
    _write_entry.daphne_original = AccessLogGenerator.write_entry
    AccessLogGenerator.write_entry = _write_entry
    AccessLogGenerator.coalesces_writes = True
    return True


def _write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
    """Daphne's ``AccessLogGenerator.write_entry``, the same line, written at the end of the loop's turn."""
    line = '%s %s %s [%s] "%s" %s %s\n' % (host, ident or "-", user or "-", date.strftime("%d/%b/%Y:%H:%M:%S"),
                                          request, status or "-", length or "-")
    pending = self.__dict__.get("pending_lines")
    if pending is None:
        pending = self.pending_lines = []
        atexit.register(_write_pending, self)  # what the last turn left when the server stops
    pending.append(line)
    if len(pending) == 1:
        try:
            asyncio.get_running_loop().call_soon(_write_pending, self)
        except RuntimeError:  # not on an event loop: write now
            _write_pending(self)


def _write_pending(generator) -> None:
    lines = generator.pending_lines
    if lines:
        text = "".join(lines)
        lines.clear()
        generator.stream.write(text)


def send_at_once() -> bool:
    """A TCP connection with nothing buffered sends what it is given now; ``False`` without Twisted."""
    try:
        from twisted.internet import abstract, tcp
    except ImportError:
        return False
    if getattr(tcp.Connection, "sends_at_once", False):
        return True
    buffered_write = tcp.Connection.write

    def write(self, data: bytes) -> None:
        if (getattr(self, "TLS", False) or not self.connected or self.disconnecting or self._writeDisconnecting
                or self._writeDisconnected or self._tempDataLen or len(self.dataBuffer) != self.offset or not data):
            return buffered_write(self, data)
        sent = self.writeSomeData(data)
        if isinstance(sent, Exception) or sent < 0:
            # Lost: buffered as Twisted would, its next doWrite meets the same error and closes properly.
            return buffered_write(self, data)
        if sent < len(data):
            return abstract.FileDescriptor.write(self, data[sent:])
        return None

    def writeSequence(self, iovec) -> None:
        write(self, b"".join(iovec))

    tcp.Connection.write = write
    tcp.Connection.writeSequence = writeSequence
    tcp.Connection.sends_at_once = True
    return True
