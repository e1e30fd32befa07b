"""Django middleware of the authorization server.

* :class:`FrameAncestorsMiddleware`: anti-framing for every HTML page (RFC 9700 §4.16, SEC-13).
  Django's ``XFrameOptionsMiddleware`` sends ``X-Frame-Options: DENY``; this adds the modern
  equivalent, CSP ``frame-ancestors 'none'``, which Django 5.2 has no setting for.
* :class:`PublicUrlMiddleware`: the issuer can't silently be wrong (a request for another
  origin than ``PUBLIC_URL`` is logged once, with the fix).
"""

from __future__ import annotations

import logging
from typing import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


class FrameAncestorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response


class PublicUrlMiddleware:
    """Log, once per origin and process, a request for an origin other than ``PUBLIC_URL``'s.

    ``PUBLIC_URL`` is the issuer and the MCP resource in every document this server hands out.
    When clients reach it under another origin (daphne started on another port, a proxy in
    front but ``PUBLIC_URL`` left at its ``HOST:PORT`` default, TLS terminated without
    ``SECURE_PROXY_SSL_HEADER``), discovery, ``aud`` and RFC 9207 ``iss`` all name the wrong
    server and clients fail without a word (CLAUDE-11). This says so, with the fix. ``/mcp`` is
    served by Channels, not by this middleware; clients reach the metadata views (Django) right
    after its 401, so the mismatch is seen there, and ``manage.py doctor`` checks it from outside.
    """

    MAX_REPORTED = 16  # distinct origins logged per process; hosts are bounded by ALLOWED_HOSTS anyway

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.reported: set[str] = set()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if len(self.reported) < self.MAX_REPORTED:
            self._compare(request)
        return self.get_response(request)

    def _compare(self, request: HttpRequest) -> None:
        try:
            seen = origin_of(request.scheme, request.get_host())
        except DisallowedHost:
            return  # Django answers 400 for it
        expected = origin_of(*_scheme_and_netloc(settings.PUBLIC_URL))
        if seen == expected or seen in self.reported:
            return
        self.reported.add(seen)
        logger.warning("A request arrived for %s but PUBLIC_URL is %s, so clients are sent to %s (issuer, "
                       "resource metadata, token audience). Fix: %s", seen, expected, expected,
                       public_url_fix(seen, expected, from_environment=settings.PUBLIC_URL_FROM_ENVIRONMENT))


def _scheme_and_netloc(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def origin_of(scheme: str, netloc: str) -> str:
    """``scheme://host[:port]``, lower-cased, without the scheme's default port."""
    scheme, netloc = scheme.lower(), netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}"


def public_url_fix(seen: str, expected: str, *, from_environment: bool) -> str:
    """The operator's next step when requests for ``seen`` reach a server whose PUBLIC_URL is ``expected``."""
    seen_scheme, seen_host = seen.split("://", 1)
    expected_scheme, expected_host = expected.split("://", 1)
    if seen_host == expected_host and seen_scheme == "http" and expected_scheme == "https":
        return ("the proxy terminates TLS but Django sees http: set SECURE_PROXY_SSL_HEADER=true and make the "
                "proxy send X-Forwarded-Proto (docs/deploy.md).")
    if not from_environment:
        return (f"PUBLIC_URL is not set and defaults to HOST:PORT; set PUBLIC_URL={seen} if that is the URL clients "
                "use, and restart.")
    return f"set PUBLIC_URL={seen} if that is the URL clients use (and restart), or send clients to {expected}."
