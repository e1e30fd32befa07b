"""Read-only admin for access tokens, refresh tokens and authorization codes, with a revoke action.

Nothing here is editable: a token is a signed JWT (changing a row's expiry would change nothing
in the token a client holds) and codes are one-shot, so there is no SAVE button. Every list
shows the person by name, the client, the scope, the expiry, the last use and the state.

Revocation: DOT revokes an access token by deleting its row, and that deletion is what makes
revocation immediate (verification checks the row). So a revoked *access* token leaves the list;
its revocation, with who did it, stays in the activity log (linked from here). A revoked
*refresh* token stays listed as "revoked by …" until ``cleartokens`` prunes it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import ngettext
from oauth2_provider.admin import mask_credential
from oauth2_provider.models import AccessToken, Grant, RefreshToken, revoke_access_token

from activity.log import Kind, acting_as, admin_actor
from activity.models import Event
from activity.timeline import USE_KINDS, flush

for model in (AccessToken, RefreshToken, Grant):
    admin.site.unregister(model)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        options = [("active", "active"), ("expired", "expired")]
        if model_admin.model is RefreshToken:
            options.append(("revoked", "revoked"))
        return options

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if queryset.model is RefreshToken:
            if value == "revoked":
                return queryset.filter(revoked__isnull=False)
            if value == "active":
                return queryset.filter(revoked__isnull=True, access_token__expires__gt=now)
            if value == "expired":
                return queryset.filter(revoked__isnull=True).exclude(access_token__expires__gt=now)
            return queryset
        if value == "active":
            return queryset.filter(expires__gt=now)
        if value == "expired":
            return queryset.filter(expires__lte=now)
        return queryset


class ReadOnlyTokenAdmin(admin.ModelAdmin):
    """Shared: view only, people by name, a "revoke" action gated on the change permission."""

    list_select_related = ("application", "user")
    list_filter = (StateFilter, "application", "user")
    search_fields = ("application__client_id", "application__name", "user__username")
    list_per_page = 50
    actions = ("revoke_selected",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read only: no form, no SAVE

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead (a raw delete would orphan a refresh token)

    def has_revoke_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_fields(self, request, obj=None):
        return self.detail_fields

    def changelist_view(self, request, extra_context=None):
        title = str(self.opts.verbose_name_plural).capitalize()
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_readonly_fields(self, request, obj=None):
        return self.detail_fields

    @admin.display(description="person", ordering="user__username")
    def person(self, obj) -> str:
        return obj.user.get_username() if obj.user_id else "— (the client itself)"

    @admin.display(description="client", ordering="application__name")
    def client(self, obj):
        if not obj.application_id:
            return "—"
        url = reverse("admin:oauth_app_client_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.name or obj.application.client_id)

    def _revoke(self, request, objects, revoke) -> int:
        count = 0
        with acting_as(admin_actor(request.user)):
            for obj in objects:
                self.log_change(request, obj, "Revoked.")
                revoke(obj)
                count += 1
        return count


def _last_use_subquery():
    return Subquery(
        Event.objects.filter(client_id=OuterRef("application__client_id"), user_id=OuterRef("user_id"),
                             kind__in=USE_KINDS).order_by("-at").values("at")[:1]
    )


@admin.register(AccessToken)
class AccessTokenAdmin(ReadOnlyTokenAdmin):
    list_display = ("pk", "person", "client", "scope", "expires", "last_use", "state")
    detail_fields = ("masked_token", "person", "client", "scope", "created", "expires", "last_use", "state",
                     "revocations")

    def get_queryset(self, request):
        flush()
        return super().get_queryset(request).annotate(last_use_at=_last_use_subquery())

    @admin.display(description="token")
    def masked_token(self, obj) -> str:
        return "JWT (only its SHA-256 is stored)" if not obj.token else mask_credential(obj.token)

    @admin.display(description="last use", ordering="last_use_at")
    def last_use(self, obj):
        return getattr(obj, "last_use_at", None) or "—"

    @admin.display(description="state")
    def state(self, obj) -> str:
        return "active" if obj.expires > timezone.now() else "expired"

    @admin.display(description="revocations")
    def revocations(self, obj):
        url = reverse("admin:activity_event_changelist") + "?" + urlencode({"kind__exact": Kind.TOKEN_REVOKED})
        return format_html('Revoked tokens leave this list; <a href="{}">the activity log</a> keeps who revoked '
                           'them and when.', url)

    @admin.action(description="Revoke the selected access tokens (and their refresh tokens)", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        count = self._revoke(request, queryset, revoke_access_token)
        self.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", count) % count,
                          messages.SUCCESS)


@admin.register(RefreshToken)
class RefreshTokenAdmin(ReadOnlyTokenAdmin):
    list_display = ("pk", "person", "client", "scope", "created", "expires", "last_use", "state")
    detail_fields = ("masked_token", "person", "client", "scope", "created", "expires", "last_use", "state",
                     "token_family")

    def get_queryset(self, request):
        flush()
        return (super().get_queryset(request).select_related("access_token")
                .annotate(last_use_at=_last_use_subquery()))

    @admin.display(description="token")
    def masked_token(self, obj) -> str:
        return "opaque (only its SHA-256 is stored)" if not obj.token else mask_credential(obj.token)

    @admin.display(description="scope")
    def scope(self, obj) -> str:
        return obj.access_token.scope if obj.access_token_id else "—"

    @admin.display(description="access token expires")
    def expires(self, obj):
        return obj.access_token.expires if obj.access_token_id else "—"

    @admin.display(description="last use", ordering="last_use_at")
    def last_use(self, obj):
        return getattr(obj, "last_use_at", None) or "—"

    @admin.display(description="state")
    def state(self, obj) -> str:
        if obj.revoked is None:
            if obj.access_token_id and obj.access_token.expires > timezone.now():
                return "active"
            return "expired access token (refreshable)" if obj.access_token_id else "orphaned"
        revoker = (Event.objects.filter(kind=Kind.TOKEN_REVOKED, detail__refresh=obj.pk)
                   .values_list("actor", flat=True).first())
        when = timezone.localtime(obj.revoked).strftime("%Y-%m-%d %H:%M")
        return f"revoked by {revoker} ({when})" if revoker else f"replaced by a refresh ({when})"

    @admin.action(description="Revoke the selected refresh tokens (and their access tokens)", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        count = self._revoke(request, queryset.filter(revoked__isnull=True), lambda token: token.revoke())
        self.message_user(request, ngettext("Revoked %d refresh token.", "Revoked %d refresh tokens.", count) % count,
                          messages.SUCCESS)


@admin.register(Grant)
class GrantAdmin(ReadOnlyTokenAdmin):
    """Authorization codes waiting to be exchanged (they live a minute; exchanged ones are gone)."""

    list_display = ("pk", "person", "client", "scope", "expires", "state")
    detail_fields = ("masked_code", "person", "client", "scope", "redirect_uri", "created", "expires", "state")
    list_filter = (StateFilter, "application", "user")

    @admin.display(description="code")
    def masked_code(self, obj) -> str:
        return mask_credential(obj.code)

    @admin.display(description="state")
    def state(self, obj) -> str:
        return "active" if obj.expires > timezone.now() else "expired"

    @admin.action(description="Revoke the selected authorization codes", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        count = self._revoke(request, queryset, lambda grant: grant.delete())
        self.message_user(request, ngettext("Revoked %d code.", "Revoked %d codes.", count) % count, messages.SUCCESS)
