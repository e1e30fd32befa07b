"""Signing keys in the admin: view only, with "Create next key" and "Rotate" buttons and a timeline.

Nothing about a key is editable, so there is no SAVE button; state changes go through
:mod:`oauth_app.keys` with the same rules and confirmations as the commands
(``createsigningkey``, ``rotatesigningkey``, ``retiresigningkey [--force]``). Each change is in
Django's ``LogEntry`` and the activity log. No private key material is ever shown.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from activity import timeline
from activity.log import acting_as, admin_actor
from activity.models import Event

from . import keys
from .exceptions import SigningKeyError
from .models import SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    change_list_template = "admin/oauth_app/signingkey/change_list.html"
    change_form_template = "admin/oauth_app/signingkey/change_form.html"
    list_display = ("short_kid", "algorithm", "state", "created", "activated_at", "retiring_at", "live_tokens")
    list_display_links = ("short_kid",)
    list_filter = ("state", "algorithm")
    search_fields = ("kid",)
    fields = ("kid", "algorithm", "state", "created", "activated_at", "retiring_at", "retired_at", "public_jwk")
    readonly_fields = fields
    actions = ("retire_keys", "force_retire_keys")

    def has_add_permission(self, request) -> bool:
        return False  # "Create next key" button below, or `manage.py createsigningkey`

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # nothing is editable: view only, no SAVE

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retire, then `prunesigningkeys`

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm("oauth_app.change_signingkey")

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "Signing keys", **(extra_context or {}),
                 "has_manage_permission": self.has_manage_permission(request)}
        return super().changelist_view(request, extra)

    @admin.display(description="kid", ordering="kid")
    def short_kid(self, obj: SigningKey) -> str:
        return format_html('<code title="{}">{}…</code>', obj.kid, obj.kid[:12])

    @admin.display(description="unexpired tokens")
    def live_tokens(self, obj: SigningKey) -> int:
        return keys.unexpired_token_count(obj.kid)

    # --- Buttons: create next, rotate ---------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("create/", wrap(self.create_view), name="oauth_app_signingkey_create"),
            path("rotate/", wrap(self.rotate_view), name="oauth_app_signingkey_rotate"),
        ] + super().get_urls()

    def _confirm(self, request, *, title: str, consequence: str, button: str, choose_algorithm: bool):
        return TemplateResponse(request, "admin/oauth_app/signingkey/confirm.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": title,
            "consequence": consequence, "button": button, "choose_algorithm": choose_algorithm,
            "algorithms": SigningKey.Algorithm.choices,
        })

    def _done(self):
        return HttpResponseRedirect(reverse("admin:oauth_app_signingkey_changelist"))

    def create_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        if request.method != "POST" or request.POST.get("confirmed") != "yes":
            return self._confirm(request, title="Create the next signing key?", button="Create next key",
                                 consequence="The new key is published at /jwks at once but does not sign yet. "
                                             "Wait longer than the JWKS cache lifetime (5 minutes) before you rotate, "
                                             "so every resource server knows it first.", choose_algorithm=True)
        algorithm = request.POST.get("algorithm", SigningKey.Algorithm.RS256)
        try:
            with acting_as(admin_actor(request.user)):
                key = keys.create_key(algorithm)
        except SigningKeyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.log_addition(request, key, "Created as the next key.")
            self.message_user(request, f"Key {key.kid} ({key.algorithm}) is published as 'next'.", messages.SUCCESS)
        return self._done()

    def rotate_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        pending = SigningKey.objects.filter(state=SigningKey.State.NEXT).first()
        if request.method != "POST" or request.POST.get("confirmed") != "yes":
            first = "" if pending else "There is no 'next' key, so a new RS256 key is created and signs at once. "
            return self._confirm(request, title="Rotate the signing key?", button="Rotate",
                                 consequence=first + "The next key becomes active and signs every new token; the "
                                 "current active key becomes 'retiring' and stays published, so tokens it signed "
                                 "keep working until they expire.", choose_algorithm=False)
        try:
            with acting_as(admin_actor(request.user)):
                active, previous = keys.rotate()
        except SigningKeyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._done()
        self.log_change(request, active, "Rotated: now active.")
        if previous is not None:
            self.log_change(request, previous, "Rotated: now retiring.")
        self.message_user(request, f"Key {active.kid} is now active"
                          + (f"; {previous.kid} is retiring." if previous else "."), messages.SUCCESS)
        return self._done()

    # --- The key page: its state timeline -------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            timeline.flush()
            extra["states"] = [
                ("next", "Created, published as next", obj.created),
                ("active", "Activated: signs new tokens", obj.activated_at),
                ("retiring", "Retiring: published, no longer signs", obj.retiring_at),
                ("retired", "Retired: gone from /jwks", obj.retired_at),
            ]
            extra["key_events"] = list(Event.objects.filter(kind__startswith="key.", detail__kid=obj.kid)[:20])
        return super().change_view(request, object_id, form_url, extra)

    # --- Actions: retire (same rules as retiresigningkey) -------------------------------------

    def _apply(self, request, queryset, operation, done: str) -> None:
        with acting_as(admin_actor(request.user)):
            for key in queryset:
                try:
                    operation(key)
                except SigningKeyError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.log_change(request, key, done.format(kid=key.kid))
                    self.message_user(request, done.format(kid=key.kid), messages.SUCCESS)

    @admin.action(description="Retire the selected keys (refused while their tokens are unexpired)",
                  permissions=["manage"])
    def retire_keys(self, request, queryset):
        self._apply(request, queryset, lambda key: keys.retire(key.kid), "Key {kid} is retired.")

    @admin.action(description="Retire the selected keys and revoke their unexpired tokens", permissions=["manage"])
    def force_retire_keys(self, request, queryset):
        from .admin import confirm_bulk

        if request.POST.get("confirmed") != "yes":
            return confirm_bulk(self, request, queryset, action="force_retire_keys",
                                title="Retire keys and revoke tokens?",
                                consequence="Tokens signed by these keys stop working now.", run=lambda key: 0,
                                log_message="")
        self._apply(request, queryset, lambda key: keys.retire(key.kid, force=True), "Key {kid} is retired.")
