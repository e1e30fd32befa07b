"""``/token``: DOT's ``TokenView``, without the query it makes only for a signal nobody hears.

After a successful grant DOT reads the new access token back from the database to send
``oauth2_provider.signals.app_authorized``. Nothing in this project listens to it, so that read
is skipped unless some receiver is connected (then DOT's own behaviour applies unchanged).
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.signals import app_authorized


class TokenView(dot_views.TokenView):
    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        if app_authorized.has_listeners():
            return super().authorization_flow_token_response(request, *args, **kwargs)
        from django.http import HttpResponse

        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response
