"""What daphne's HTTP layer (Twisted) does per request that it need not: here, and only here.

Twisted's ``Request.requestReceived`` parses the ``Content-Type`` of every POST to decide whether
to decode a form body, and its ``_parseContentType`` builds an ``email.message.EmailMessage`` for
it: about a fifth of daphne's CPU per ``/mcp`` request (``bench/bench_mcp.py``), to learn
``application/json`` again and again. Daphne offers no switch, so the function is memoized: it is
pure (bytes in, bytes out), clients send a handful of distinct values, and the cache is bounded.
The patch is applied when ``project.asgi`` is imported, i.e. in the daphne process only.
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
