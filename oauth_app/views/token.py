"""``/token``, ``/revoke`` and ``/introspect``: DOT's views, behind one guard for unreadable requests.

DOT and oauthlib do the protocol. What they cannot read (see :mod:`oauth_app.parsing`) is
answered here, before they run, with RFC 6749 §5.2 ``invalid_request`` JSON. A token request
that loses a race inside DOT's save transaction surfaces as an oauthlib error raised out of
``save_token``, which DOT answers without oauthlib's JSON headers; :class:`TokenView` restores
them, so every ``/token`` answer is ``application/json`` and ``no-store`` (RFC 6749 §5.1).

After a successful grant DOT reads the new access token back from the database only to send
``oauth2_provider.signals.app_authorized``; :class:`TokenView` skips that read while nobody listens
(the activity log does listen, and then DOT's own behaviour applies unchanged).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.signals import app_authorized
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from ..parsing import form_problem, query_problem


def invalid_request(description: str) -> HttpResponse:
    """RFC 6749 §5.2 ``invalid_request``, as oauthlib words it."""
    error = InvalidRequestError(description=description)
    return HttpResponse(error.json, status=error.status_code, content_type="application/json",
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


class ReadableRequestMixin:
    """Refuse a query string or form body that DOT/oauthlib would fail on, with ``invalid_request``.

    Its ``dispatch`` comes first in the MRO, so it carries the ``csrf_exempt`` and
    ``login_not_required`` marks that DOT put on its own (``as_view`` reads them from there).
    """

    @method_decorator(csrf_exempt)
    @method_decorator(login_not_required)
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        problem = query_problem(request) or form_problem(request)
        if problem is not None:
            return invalid_request(problem)
        return super().dispatch(request, *args, **kwargs)


class TokenView(ReadableRequestMixin, dot_views.TokenView):
    """``POST /token``."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Content-Type"] = "application/json"  # oauthlib's body is JSON on every path
        response.setdefault("Cache-Control", "no-store")
        response.setdefault("Pragma", "no-cache")
        return response

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        if app_authorized.has_listeners():
            return super().authorization_flow_token_response(request, *args, **kwargs)
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


class RevokeTokenView(ReadableRequestMixin, dot_views.RevokeTokenView):
    """``POST /revoke`` (RFC 7009)."""


class IntrospectTokenView(ReadableRequestMixin, dot_views.IntrospectTokenView):
    """``GET``/``POST /introspect`` (RFC 7662)."""
