"""``manage.py clearmcpsessions``: delete idle legacy MCP sessions and stream events past retention.

Housekeeping runs here, on a schedule (docs/deploy.md, a systemd timer), never inside a request:
sessions unseen for ``MCP_APP["SESSION_IDLE_SECONDS"]`` and events older than
``MCP_APP["EVENT_RETENTION_SECONDS"]`` (the ``Last-Event-ID`` replay window). Each session it
removes is recorded as closed in the activity log.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from activity.log import Kind, flush, record, user_id_of

from mcp_app.conf import mcp_settings
from mcp_app.models import Event, Session


class Command(BaseCommand):
    help = "Delete MCP sessions idle longer than SESSION_IDLE_SECONDS and SSE events older than EVENT_RETENTION_SECONDS."

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        events, _ = Event.objects.filter(created__lt=now - timedelta(seconds=mcp_settings.EVENT_RETENTION_SECONDS)).delete()
        idle = Session.objects.filter(last_seen__lt=now - timedelta(seconds=mcp_settings.SESSION_IDLE_SECONDS))
        closed = 0
        while batch := list(idle.values_list("pk", "client_id", "subject", "id_hash")[:1000]):
            with transaction.atomic():
                Session.objects.filter(pk__in=[pk for pk, *_ in batch]).delete()
                for _, client_id, subject, id_hash in batch:
                    _record_expired(client_id, subject, id_hash)
            closed += len(batch)
        flush()
        self.stdout.write(f"Deleted {closed} idle session row(s) and {events} expired event row(s).")


def _record_expired(client_id: str, subject: str, id_hash: str) -> None:
    """The activity log's "session closed" for an expired session. Only the id's SHA-256 is stored
    here, so its reference is taken from that: the same 12 digits as ``activity.log.session_ref``."""
    record(Kind.SESSION_CLOSED, client_id=client_id, user_id=user_id_of(subject, client_id),
           detail={"session": id_hash[:12], "reason": "idle"})
