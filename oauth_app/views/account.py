"""``/account/apps``: the applications a signed-in person has authorized, and revoking one.

An app is listed while the person holds a live token or refresh token for it (or a code not yet
exchanged). Revoking is a CSRF-protected POST answering 303; it ends that client's tokens for
this person only, through :func:`oauth_app.revocation.revoke_user_client_tokens`, so every
``/mcp`` request with those tokens is refused at once (verification checks the token row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Min
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView, View
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from activity import timeline
from activity.log import Kind, acting_as
from activity.models import Event

from .. import revocation
from ..models import Client


@dataclass
class ConnectedApp:
    client: Client
    scopes: list[str]
    authorized_at: datetime | None
    last_used: datetime | None


def connected_apps(user) -> list[ConnectedApp]:
    now = timezone.now()
    live_access = AccessToken.objects.filter(user=user, expires__gt=now)
    live_refresh = RefreshToken.objects.filter(user=user, revoked__isnull=True)
    client_ids = (set(live_access.values_list("application_id", flat=True))
                  | set(live_refresh.values_list("application_id", flat=True))
                  | set(Grant.objects.filter(user=user, expires__gt=now).values_list("application_id", flat=True)))
    apps = []
    for client in Client.objects.filter(pk__in=client_ids).order_by("name"):
        scopes = sorted({name for scope in live_access.filter(application=client).values_list("scope", flat=True)
                         for name in scope.split()})
        consented = (Event.objects.filter(kind=Kind.CONSENT_ALLOWED, client_id=client.client_id, user_id=user.pk)
                     .order_by("-at").values_list("at", flat=True).first())
        first_token = live_refresh.filter(application=client).aggregate(first=Min("created"))["first"]
        apps.append(ConnectedApp(client=client, scopes=scopes, authorized_at=consented or first_token,
                                 last_used=timeline.last_used(client.client_id, user.pk)))
    return apps


class ConnectedAppsView(LoginRequiredMixin, TemplateView):
    template_name = "oauth_app/connected_apps.html"

    def get_context_data(self, **kwargs):
        timeline.flush()
        return {**super().get_context_data(**kwargs), "apps": connected_apps(self.request.user)}


class RevokeAppView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        client = Client.objects.filter(pk=pk).first()
        if client is None:
            raise Http404("No such application.")
        with acting_as("user"):
            revocation.revoke_user_client_tokens(request.user, client)
        messages.success(request, f"{client.name or client.client_id} can no longer access your account.")
        return HttpResponseRedirect(reverse("account:apps"), status=303)
