"""Who may talk to ``/mcp`` at all, checked before authentication: Host, Origin (with CORS), media types.

* **Host** (DNS rebinding, and the same rule as every Django view): the ``Host`` header must match
  ``ALLOWED_HOSTS``, with Django's own ``validate_host``; otherwise 400.
* **Origin** (TRANS-02): browsers may call ``/mcp`` only from this server's own origin, a loopback
  origin (the MCP Inspector, local apps), or an origin listed explicitly in ``CORS_ALLOWED_ORIGINS``;
  its ``*`` opens the metadata endpoints, never ``/mcp``. Requests without ``Origin``
  (server-to-server, e.g. Claude's backend) are not affected. Allowed origins get CORS headers.
* **Content-Type and Accept** (TRANS-04, TRANS-05): a POST is ``application/json`` and accepts both
  JSON and SSE; a GET accepts SSE.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from django.http.request import split_domain_port, validate_host
from oauth_app.redirects import LOOPBACK_HOSTS

from ..conf import setting
from ..protocol import headers as h
from ..protocol.errors import ForbiddenHost, ForbiddenOrigin, NotAcceptable, UnsupportedMediaType
from .http import Request

ALLOW_METHODS = b"GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = b"Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name"
EXPOSE_HEADERS = b"WWW-Authenticate, Mcp-Session-Id"
PREFLIGHT_HEADERS = ((b"access-control-allow-methods", ALLOW_METHODS), (b"access-control-allow-headers", ALLOW_HEADERS),
                     (b"access-control-max-age", b"86400"))


def _allowed_hosts() -> tuple[str, ...]:
    allowed = tuple(setting("ALLOWED_HOSTS"))
    if setting("DEBUG") and not allowed:  # what Django's HttpRequest.get_host allows in that case
        return (".localhost", "127.0.0.1", "[::1]")
    return allowed


def check_host(request: Request) -> None:
    """Raise :class:`ForbiddenHost` unless the request's host is in ``ALLOWED_HOSTS``."""
    host = request.header("host")
    if host is None:
        server = request.scope.get("server")
        host = f"{server[0]}:{server[1]}" if server and server[0] else ""
    if not _host_allowed(host, _allowed_hosts()):
        raise ForbiddenHost()


@functools.lru_cache(maxsize=1024)  # the verdict per Host value and setting; Host is client-chosen, so bounded
def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def origin_allowed(origin: str) -> bool:
    listed = [entry for entry in setting("CORS_ORIGINS", []) if entry != "*"]
    if origin == setting("PUBLIC_URL") or origin in listed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOOPBACK_HOSTS


def check_origin(request: Request) -> list[tuple[bytes, bytes]]:
    """The CORS headers every response carries; raises :class:`ForbiddenOrigin` for a foreign browser origin."""
    origin = request.header("origin")
    if not origin:
        return []
    if not origin_allowed(origin):
        raise ForbiddenOrigin()
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
            (b"access-control-expose-headers", EXPOSE_HEADERS)]


def check_post_media_types(request: Request) -> None:
    refusal = _post_media_refusal(request.header("content-type"), request.header("accept"))
    if refusal is not None:
        raise refusal()


@functools.lru_cache(maxsize=256)  # clients send a handful of distinct pairs; client-chosen, so bounded
def _post_media_refusal(content_type: str | None, accept: str | None) -> type[Exception] | None:
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        return UnsupportedMediaType
    if not (h.accepts(accept or "", "application/json") and h.accepts(accept or "", "text/event-stream")):
        return NotAcceptable
    return None


def check_get_media_types(request: Request) -> None:
    if not h.accepts(request.header("accept") or "", "text/event-stream"):
        raise NotAcceptable("Accept must list text/event-stream")
