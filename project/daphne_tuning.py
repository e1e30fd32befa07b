"""What daphne's HTTP layer (Twisted) does per request that it need not: here, and only here.

Two things, about a quarter of daphne's CPU per ``/mcp`` request between them
(``bench/bench_mcp.py``, py-spy):

* Twisted's ``Request.requestReceived`` parses the ``Content-Type`` of every POST to decide whether
  to decode a form body, and its ``_parseContentType`` builds an ``email.message.EmailMessage`` for
  it, to learn ``application/json`` again and again. Daphne offers no switch, so the function is
  memoized: it is pure (bytes in, bytes out), clients send a handful of distinct values, and the
  cache is bounded.
* Twisted's ``HTTPFactory.log`` formats a combined-log line for every request and writes it to
  Twisted's log, which daphne (at its default verbosity) sends nowhere, and at higher verbosity
  duplicates daphne's own access log. Daphne's factory is told not to: daphne's access log
  (``daphne.access``) is unchanged.

The patches are applied when ``project.asgi`` is imported, i.e. in the daphne process only.
"""

from __future__ import annotations

import functools


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
