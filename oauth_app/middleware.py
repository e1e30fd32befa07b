"""Anti-framing for every HTML page (RFC 9700 §4.16, SEC-13).

Django's ``XFrameOptionsMiddleware`` sends ``X-Frame-Options: DENY``; this adds the modern
equivalent, CSP ``frame-ancestors 'none'``, which Django 5.2 has no setting for.
"""

from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse


class FrameAncestorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response
