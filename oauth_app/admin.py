"""Admin for clients and scopes; DOT's own admin covers grants and tokens (with revoke actions).

A new client's secret is generated server-side and shown exactly once, in the message after
saving; only its hash is stored, so it can never be displayed again.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.generators import generate_client_secret

from .models import Client, Scope


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = (
            "name", "client_id", "client_type", "authorization_grant_type", "redirect_uris",
            "token_endpoint_auth_method", "allowed_scopes", "skip_authorization", "is_active",
            "allowed_origins", "user",
        )


admin.site.unregister(Client)


@admin.register(Client)
class ClientAdmin(ApplicationAdmin):
    form = ClientForm
    list_display = (
        "name", "client_id", "registration_source", "client_type", "token_endpoint_auth_method", "is_active", "created",
    )
    list_filter = ("registration_source", "client_type", "is_active", "authorization_grant_type")
    search_fields = ("name", "client_id", "redirect_uris")
    readonly_fields = ("registration_source", "cimd_expires_at", "created", "updated")
    filter_horizontal = ("allowed_scopes",)
    radio_fields = {"client_type": admin.HORIZONTAL, "authorization_grant_type": admin.VERTICAL}
    ordering = ("-created",)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A client_id is an identity other systems hold: fixed once created.
        return fields + ("client_id",) if obj is not None else fields

    def save_model(self, request, obj: Client, form, change: bool) -> None:
        secret = None
        if not change and obj.client_type == Client.CLIENT_CONFIDENTIAL:
            secret = generate_client_secret()
            obj.client_secret = secret
        if obj.client_type == Client.CLIENT_PUBLIC:
            obj.token_endpoint_auth_method = Client.AuthMethod.NONE
        super().save_model(request, obj, form, change)
        if secret:
            messages.warning(
                request,
                f"Client secret for {obj.client_id}: {secret} — copy it now; it is stored hashed and will not be shown again.",
            )


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "grantable_by")
    list_filter = ("grantable_by",)
    search_fields = ("name", "description")
    filter_horizontal = ("users", "groups")
