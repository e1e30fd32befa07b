"""The authorization endpoint's consent page, on DOT's ``AuthorizationView``.

DOT validates the request (client, redirect URI, PKCE S256, ``resource``) and issues the
code; this subclass only decides what the person sees and may grant:

* the client's name, the host of a CIMD ``client_id`` and of the redirect URI (AUTH-30), and for a
  private-use scheme (``cursor://``) the scheme too, since any app can claim one (RFC 8252 §8.6);
* the requested scopes the person is entitled to grant, in plain language;
* 303 after the POST (RFC 9700 §4.12) and RFC 9207 ``iss`` on error redirects too;
* a query string oauthlib cannot decode gets the 400 error page at once: the client is not
  known yet, so there is nowhere to redirect to (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from django.http import HttpResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2.rfc6749.errors import InvalidRequestFatalError, InvalidScopeError

from activity.log import Kind, record

from ..consent import grantable_scopes
from ..models import Client
from ..parsing import query_problem
from ..redirects import is_loopback_uri, is_private_use_uri


class ConsentView(AuthorizationView):
    template_name = "oauth_app/consent.html"

    def dispatch(self, request, *args, **kwargs):
        # Before the sign-in redirect too: /login?next= would only carry the bad query along.
        problem = query_problem(request)
        if problem is not None:
            return self.render_to_response({"error": InvalidRequestFatalError(description=problem)}, status=400)
        return super().dispatch(request, *args, **kwargs)

    def _grantable(self, client_id: str, requested: list[str]):
        client = Client.objects.get(client_id=client_id)
        return client, grantable_scopes(self.request.user, client, requested)

    def get_initial(self):
        initial = super().get_initial()
        if initial.get("client_id"):
            _, scopes = self._grantable(initial["client_id"], initial["scope"].split())
            initial["scope"] = " ".join(scope.name for scope in scopes)
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        client = kwargs.get("application")
        if client is not None:
            requested = list(kwargs.get("scopes", []))
            _, scopes = self._grantable(client.client_id, requested)
            granted = {scope.name for scope in scopes}
            redirect_uri = kwargs.get("redirect_uri", "")
            context.update(
                client=client,
                client_host=urlsplit(client.client_id).hostname
                if client.registration_source == Client.RegistrationSource.CIMD
                else None,
                redirect_host=urlsplit(redirect_uri).hostname,
                redirect_is_loopback=is_loopback_uri(redirect_uri),
                # RFC 8252 §8.6: any app can claim a private-use scheme; say where the code goes.
                redirect_scheme=urlsplit(redirect_uri).scheme if is_private_use_uri(redirect_uri) else None,
                grantable=scopes,
                withheld=[name for name in requested if name not in granted],
            )
        return context

    def form_valid(self, form):
        # The hidden ``scope`` field is client-side data: re-apply the policy to what was posted.
        client, scopes = self._grantable(form.cleaned_data["client_id"], form.cleaned_data["scope"].split())
        if form.cleaned_data.get("allow") and not scopes:
            error = OAuthToolkitError(
                error=InvalidScopeError(
                    description="None of the requested scopes can be granted by this user.",
                    state=form.cleaned_data.get("state"),
                ),
                redirect_uri=form.cleaned_data["redirect_uri"],
            )
            return self.error_response(error, client)
        form.cleaned_data["scope"] = " ".join(scope.name for scope in scopes)
        allowed = bool(form.cleaned_data.get("allow"))
        record(Kind.CONSENT_ALLOWED if allowed else Kind.CONSENT_DENIED, client_id=client.client_id,
               user_id=self.request.user.pk, outcome="ok" if allowed else "denied",
               detail={"scope": form.cleaned_data["scope"]} if allowed else {})
        return super().form_valid(form)

    def redirect(self, redirect_to: str, application) -> HttpResponse:
        if application is None:
            # DOT passes no application for errors found while validating the request, although
            # oauthlib redirects only once client and redirect URI are verified. Without it DOT falls
            # back to the global scheme list, which has no http (loopback is per client): use the client's.
            application = Client.objects.filter(client_id=self.request.GET.get("client_id", "")).first()
        query = dict(parse_qsl(urlsplit(redirect_to).query))
        if "iss" not in query:
            redirect_to = _add_iss_to_redirect(redirect_to, oauth2_settings.oauth2_authorization_server_issuer(self.request))
        response = super().redirect(redirect_to, application)
        if self.request.method == "POST":
            response.status_code = 303
        return response
