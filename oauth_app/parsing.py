"""What the OAuth endpoints must be able to read before DOT and oauthlib see a request.

oauthlib decodes the query string of every request it handles (``oauthlib.common.urldecode``)
and raises ``ValueError`` on invalid percent-encoding, and Django raises ``TooManyFieldsSent``,
``RequestDataTooBig`` or ``BadRequest`` (a form body declared in a charset other than UTF-8)
when DOT first reads ``request.POST``. None is an OAuth error, so unguarded they become a 500
or Django's HTML 400 page. The functions here find those problems
up front and say what is wrong; the views turn that into the protocol's own error (RFC 6749
§5.2 ``invalid_request`` JSON, or a 400 page at ``/authorize`` before the client is known).
"""

from __future__ import annotations

import re

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest

# RFC 3986 §2.1: "%" is always followed by two hex digits. Stricter than oauthlib's own test
# (which lets a "%4" at the very end through), so every malformed query is refused the same way.
INVALID_PERCENT_ENCODING = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def query_problem(request: HttpRequest) -> str | None:
    """Why this request's query string is not valid percent-encoding (oauthlib would raise), or ``None``."""
    if INVALID_PERCENT_ENCODING.search(request.META.get("QUERY_STRING", "")):
        return "The query string is not valid percent-encoding."
    return None


def form_problem(request: HttpRequest) -> str | None:
    """Why Django could not parse this request's form body, or ``None`` (then ``request.POST`` is cached)."""
    if request.method != "POST":
        return None
    try:
        request.POST  # noqa: B018  (parsing is the point; Django caches the result)
    except TooManyFieldsSent:
        return "The request body has too many fields."
    except RequestDataTooBig:
        return "The request body is too large."
    except BadRequest as exc:  # e.g. a form body declared in a charset other than UTF-8 (Django 5.1+)
        return str(exc) or "The request body cannot be read."
    except SuspiciousOperation:
        return "The request body cannot be read."
    return None


def is_code_verifier(value: str) -> bool:
    """RFC 7636 §4.1: 43 to 128 unreserved characters."""
    return CODE_VERIFIER.fullmatch(value) is not None
