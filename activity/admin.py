"""The activity log in the admin: a read-only list with filters, linked from client and person pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from oauth_app.models import Client

from .log import flush
from .models import Event
from .timeline import describe


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("when", "what", "client", "user", "actor", "outcome")
    list_filter = ("kind", "outcome", "at")
    search_fields = ("client_id", "user__username", "tool", "actor")
    date_hierarchy = "at"
    list_select_related = ("user",)
    list_per_page = 100
    fields = ("at", "kind", "what", "client", "user", "actor", "outcome", "tool", "duration_ms", "count", "detail")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # `manage.py pruneactivity` enforces the retention

    def changelist_view(self, request, extra_context=None):
        flush()
        return super().changelist_view(request, {"title": "Activity", **(extra_context or {})})

    @admin.display(description="when", ordering="at")
    def when(self, obj: Event) -> str:
        return timezone.localtime(obj.at).strftime("%Y-%m-%d %H:%M:%S")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        self._client_names = {}
        return queryset

    @admin.display(description="what happened")
    def what(self, obj: Event) -> str:
        return describe(obj)

    @admin.display(description="client", ordering="client_id")
    def client(self, obj: Event):
        if not obj.client_id:
            return "—"
        cache = getattr(self, "_client_names", {})
        if obj.client_id not in cache:
            cache[obj.client_id] = Client.objects.filter(client_id=obj.client_id).values_list("pk", "name").first()
        found = cache[obj.client_id]
        if found is None:
            return obj.client_id
        pk, name = found
        return format_html('<a href="{}">{}</a>', reverse("admin:oauth_app_client_change", args=[pk]), name or obj.client_id)
