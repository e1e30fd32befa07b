"""``manage.py clearmcpsessions``: delete idle legacy MCP sessions and stream events past retention.

The same rules as the occasional sweep in :func:`mcp_app.sessions.append_event`, run on a
schedule (docs/deploy.md, a systemd timer) so that housekeeping does not depend on traffic:
sessions unseen for ``MCP_APP["SESSION_IDLE_SECONDS"]`` and events older than
``MCP_APP["EVENT_RETENTION_SECONDS"]`` (the ``Last-Event-ID`` replay window).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from mcp_app.conf import mcp_settings
from mcp_app.models import Event, Session


class Command(BaseCommand):
    help = "Delete MCP sessions idle longer than SESSION_IDLE_SECONDS and SSE events older than EVENT_RETENTION_SECONDS."

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        events, _ = Event.objects.filter(created__lt=now - timedelta(seconds=mcp_settings.EVENT_RETENTION_SECONDS)).delete()
        sessions, _ = Session.objects.filter(
            last_seen__lt=now - timedelta(seconds=mcp_settings.SESSION_IDLE_SECONDS)).delete()
        self.stdout.write(f"Deleted {sessions} idle session row(s) and {events} expired event row(s).")
