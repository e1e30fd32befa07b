"""Admin for clients, scopes and people: presets, the client page, bulk revocation, timelines.

* **Adding a client** starts from a preset (:mod:`oauth_app.presets`). The form offers only the
  grant types this server supports (no implicit, password, device code or hybrid: what
  ``/register`` refuses, the admin refuses), and the auth method must fit the client type.
* **The client page** shows the Client ID first (copy button), the secret once right after
  creation (generated server-side, only its hash is stored), a "Connection details" panel and
  the client's recent activity.
* Bulk revocation (all tokens of a client or a user, disabling a client) asks for confirmation,
  is attributed to the admin in the activity log, and every action is in Django's ``LogEntry``.

Tokens and grants are in :mod:`oauth_app.admin_tokens`, signing keys in
:mod:`oauth_app.admin_keys`, the activity log in :mod:`activity.admin`.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import ngettext
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_id_token_model

from activity import timeline
from activity.log import Kind, acting_as, admin_actor, record

from . import admin_keys, admin_tokens, revocation  # noqa: F401  (admin_keys/admin_tokens register their admins)
from .models import Client, Scope
from .presets import AUTH_METHODS_BY_TYPE, BY_KEY, PRESETS, SUPPORTED_GRANTS

#: Session key holding a new client's secret until the client page has shown it once.
SECRET_SESSION_KEY = "oauth_app.new_client_secret"

admin.site.unregister(get_id_token_model())  # no OpenID Connect here


class ClientForm(forms.ModelForm):
    authorization_grant_type = forms.ChoiceField(
        label="Grant type", widget=forms.RadioSelect,
        choices=[(value, label) for value, label in Client.GRANT_TYPES if value in SUPPORTED_GRANTS],
        help_text="Authorization code (with PKCE and refresh tokens) for people; client credentials for a "
                  "service acting as itself.",
    )

    class Meta:
        model = Client
        fields = (
            "name", "client_id", "client_type", "authorization_grant_type", "token_endpoint_auth_method",
            "redirect_uris", "allowed_scopes", "skip_authorization", "is_active", "allowed_origins", "user",
        )
        help_texts = {
            "redirect_uris": "One per line. https, or http on localhost / 127.0.0.1 (any port matches).",
            "token_endpoint_auth_method": "Public clients use none (PKCE); confidential clients send their secret.",
        }

    def clean(self):
        cleaned = super().clean()
        client_type = cleaned.get("client_type")
        method = cleaned.get("token_endpoint_auth_method")
        allowed = AUTH_METHODS_BY_TYPE.get(client_type, ())
        if client_type == Client.CLIENT_PUBLIC:
            # The auth method follows the client type: a public client has no secret to send.
            cleaned["token_endpoint_auth_method"] = Client.AuthMethod.NONE
        elif client_type and method and method not in allowed:
            self.add_error("token_endpoint_auth_method", ValidationError(
                "A %(type)s client authenticates with %(allowed)s.",
                params={"type": client_type, "allowed": " or ".join(allowed)}))
        grant = cleaned.get("authorization_grant_type")
        if grant == Client.GRANT_CLIENT_CREDENTIALS and client_type == Client.CLIENT_PUBLIC:
            self.add_error("client_type", "Client credentials need a confidential client (it has a secret).")
        if grant == Client.GRANT_AUTHORIZATION_CODE and not (cleaned.get("redirect_uris") or "").split():
            self.add_error("redirect_uris", "The authorization code grant needs at least one redirect URI.")
        return cleaned


def confirm_bulk(modeladmin, request, queryset, *, action: str, title: str, consequence: str, run,
                 log_message: str) -> TemplateResponse | None:
    """Render a confirmation page first; on confirmation, ``run(obj)`` for each object and report.

    Each object gets a ``LogEntry`` and the revocations are attributed to this admin.
    """
    if request.POST.get("confirmed") != "yes":
        return TemplateResponse(request, "admin/oauth_app/confirm_bulk.html", {
            **modeladmin.admin_site.each_context(request),
            "title": title, "consequence": consequence, "objects": queryset, "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME, "opts": modeladmin.model._meta,
        })
    total = 0
    with acting_as(admin_actor(request.user)):
        for obj in queryset:
            total += run(obj)
            modeladmin.log_change(request, obj, log_message)
    modeladmin.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", total) % total,
                            messages.SUCCESS)
    return None


def connection_details(request) -> list[tuple[str, str]]:
    """What a person pastes into an MCP client, and the discovery documents behind it."""
    issuer = settings.ISSUER
    return [
        ("MCP server URL", settings.MCP_RESOURCE),
        ("Issuer", issuer),
        ("Authorization server metadata", issuer + "/.well-known/oauth-authorization-server"),
        ("Protected resource metadata", issuer + "/.well-known/oauth-protected-resource/mcp"),
        ("Authorization endpoint", issuer + reverse("oauth2_provider:authorize")),
        ("Token endpoint", issuer + reverse("oauth2_provider:token")),
        ("JWKS", issuer + reverse("oauth2_provider:jwks")),
    ]


admin.site.unregister(Client)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    add_form_template = "admin/oauth_app/client/add_form.html"
    change_form_template = "admin/oauth_app/client/change_form.html"
    list_display = ("name", "client_id", "registration_source", "client_type", "authorization_grant_type",
                    "is_active", "created")
    list_filter = ("registration_source", "client_type", "is_active", "authorization_grant_type")
    search_fields = ("name", "client_id", "redirect_uris")
    readonly_fields = ("registration_source", "cimd_expires_at", "created", "updated")
    filter_horizontal = ("allowed_scopes",)
    radio_fields = {"client_type": admin.HORIZONTAL, "token_endpoint_auth_method": admin.VERTICAL}
    raw_id_fields = ("user",)
    ordering = ("-created",)
    # DOT's Application.get_absolute_url reverses a view this server does not mount (NoReverseMatch).
    view_on_site = False

    actions = ("revoke_all_tokens", "disable_clients")

    def get_fieldsets(self, request, obj=None):
        main = ["name", "client_type", "authorization_grant_type", "token_endpoint_auth_method", "redirect_uris",
                "allowed_scopes", "is_active"]
        if obj is None:
            main.insert(1, "client_id")
        advanced = ["skip_authorization", "allowed_origins", "user"]
        if obj is not None:
            advanced += ["registration_source", "cimd_expires_at", "created", "updated"]
        return [(None, {"fields": main}), ("Advanced", {"classes": ["collapse"], "fields": advanced})]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A client_id is an identity other systems hold: fixed once created.
        return fields + ("client_id",) if obj is not None else fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        preset = BY_KEY.get(request.GET.get("preset", ""))
        if preset is not None:
            initial.update(preset.initial())
        return initial

    def add_view(self, request, form_url="", extra_context=None):
        chosen = BY_KEY.get(request.GET.get("preset", ""))
        extra_context = {**(extra_context or {}), "presets": PRESETS, "chosen_preset": chosen}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            extra.update(
                new_secret=request.session.pop(SECRET_SESSION_KEY, None) if request.method == "GET" else None,
                connection_details=connection_details(request),
                summary=timeline.client_summary(obj.client_id),
                events=timeline.for_client(obj.client_id, limit=25),
            )
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request, obj: Client, form, change: bool) -> None:
        secret = None
        if not change and obj.client_type == Client.CLIENT_CONFIDENTIAL:
            secret = generate_client_secret()
            obj.client_secret = secret
        was_active = Client.objects.filter(pk=obj.pk).values_list("is_active", flat=True).first() if change else None
        with acting_as(admin_actor(request.user)):
            super().save_model(request, obj, form, change)
            if change and form.changed_data:
                record(Kind.CLIENT_CHANGED, client_id=obj.client_id, actor=admin_actor(request.user),
                       detail={"fields": sorted(form.changed_data)})
            if was_active and not obj.is_active:
                record(Kind.CLIENT_DISABLED, client_id=obj.client_id, actor=admin_actor(request.user))
                revocation.revoke_client_tokens(obj)
        if secret:
            # Shown once, on the client page the add view redirects to; only the hash is stored.
            request.session[SECRET_SESSION_KEY] = {"client_id": obj.client_id, "secret": secret}

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Client “{obj.name or obj.client_id}” was added.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:oauth_app_client_change", args=[obj.pk]))

    @admin.action(description="Revoke all tokens of the selected clients", permissions=["change"])
    def revoke_all_tokens(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="revoke_all_tokens", title="Revoke all tokens?",
                            consequence="Every access and refresh token of these clients stops working now.",
                            run=revocation.revoke_client_tokens, log_message="Revoked all tokens.")

    @admin.action(description="Disable the selected clients and revoke their tokens", permissions=["change"])
    def disable_clients(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="disable_clients", title="Disable clients?",
                            consequence="These clients can no longer sign anyone in, and their tokens stop working now.",
                            run=revocation.disable_client, log_message="Disabled and revoked all tokens.")


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "grantable_by")
    list_filter = ("grantable_by",)
    search_fields = ("name", "description")
    filter_horizontal = ("users", "groups")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PersonAdmin(UserAdmin):
    """Django's user admin plus "revoke all tokens of this user" and the person's timeline."""

    change_form_template = "admin/auth/user/change_form_timeline.html"
    actions = ("revoke_user_tokens",)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            extra["events"] = timeline.for_user(obj.pk, limit=25)
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Revoke all tokens of the selected users", permissions=["change"])
    def revoke_user_tokens(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="revoke_user_tokens", title="Revoke all tokens?",
                            consequence="Every token issued on behalf of these people stops working now.",
                            run=revocation.revoke_user_tokens, log_message="Revoked all tokens.")
