"""Admin for clients, scopes, signing keys and bulk revocation; DOT's admin covers grants and tokens.

A new client's secret is generated server-side and shown exactly once, in the message after
saving; only its hash is stored. Signing keys show no key material and change state only through
actions that call :mod:`oauth_app.keys`, with the same rules as the ``manage.py`` commands. Bulk
revocation (all tokens of a client or a user, disabling a client) asks for confirmation first.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.template.response import TemplateResponse
from django.utils.translation import ngettext
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.generators import generate_client_secret

from . import keys, revocation
from .exceptions import SigningKeyError
from .models import Client, Scope, SigningKey


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = (
            "name", "client_id", "client_type", "authorization_grant_type", "redirect_uris",
            "token_endpoint_auth_method", "allowed_scopes", "skip_authorization", "is_active",
            "allowed_origins", "user",
        )


def confirm_bulk(modeladmin, request, queryset, *, action: str, title: str, consequence: str, run) -> TemplateResponse | None:
    """Render a confirmation page first; on confirmation, ``run(obj)`` for each object and report."""
    if request.POST.get("confirmed") != "yes":
        return TemplateResponse(request, "admin/oauth_app/confirm_bulk.html", {
            **modeladmin.admin_site.each_context(request),
            "title": title, "consequence": consequence, "objects": queryset, "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME, "opts": modeladmin.model._meta,
        })
    total = sum(run(obj) for obj in queryset)
    modeladmin.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", total) % total,
                            messages.SUCCESS)
    return None


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

    actions = ("revoke_all_tokens", "disable_clients")

    @admin.action(description="Revoke all tokens of the selected clients", permissions=["change"])
    def revoke_all_tokens(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="revoke_all_tokens", title="Revoke all tokens?",
                            consequence="Every access and refresh token of these clients stops working now.",
                            run=revocation.revoke_client_tokens)

    @admin.action(description="Disable the selected clients and revoke their tokens", permissions=["change"])
    def disable_clients(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="disable_clients", title="Disable clients?",
                            consequence="These clients can no longer sign anyone in, and their tokens stop working now.",
                            run=revocation.disable_client)

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


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "algorithm", "state", "created", "activated_at", "retiring_at", "live_tokens")
    list_filter = ("state", "algorithm")
    search_fields = ("kid",)
    fields = ("kid", "algorithm", "state", "created", "activated_at", "retiring_at", "retired_at", "public_jwk")
    readonly_fields = fields
    actions = ("activate_key", "retire_keys", "force_retire_keys")

    def has_add_permission(self, request) -> bool:
        return False  # keys are created by `manage.py createsigningkey` or the rotate action

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retire, then `prunesigningkeys`

    @admin.display(description="unexpired tokens")
    def live_tokens(self, obj: SigningKey) -> int:
        return keys.unexpired_token_count(obj.kid)

    def _apply(self, request, queryset, operation, done: str) -> None:
        for key in queryset:
            try:
                operation(key)
            except SigningKeyError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, done.format(kid=key.kid), messages.SUCCESS)

    @admin.action(description="Rotate: make the selected 'next' key active", permissions=["change"])
    def activate_key(self, request, queryset):
        self._apply(request, queryset, lambda key: keys.activate(key.kid), "Key {kid} is now active.")

    @admin.action(description="Retire the selected keys (refused while their tokens are unexpired)", permissions=["change"])
    def retire_keys(self, request, queryset):
        self._apply(request, queryset, lambda key: keys.retire(key.kid), "Key {kid} is retired.")

    @admin.action(description="Retire the selected keys and revoke their unexpired tokens", permissions=["change"])
    def force_retire_keys(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return confirm_bulk(self, request, queryset, action="force_retire_keys", title="Retire keys and revoke tokens?",
                                consequence="Tokens signed by these keys stop working now.", run=lambda key: 0)
        self._apply(request, queryset, lambda key: keys.retire(key.kid, force=True), "Key {kid} is retired.")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PersonAdmin(UserAdmin):
    """Django's user admin plus "revoke all tokens of this user"."""

    actions = ("revoke_user_tokens",)

    @admin.action(description="Revoke all tokens of the selected users", permissions=["change"])
    def revoke_user_tokens(self, request, queryset):
        return confirm_bulk(self, request, queryset, action="revoke_user_tokens", title="Revoke all tokens?",
                            consequence="Every token issued on behalf of these people stops working now.",
                            run=revocation.revoke_user_tokens)
