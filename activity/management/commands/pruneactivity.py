"""``manage.py pruneactivity``: delete activity older than ``ACTIVITY_RETENTION_DAYS``.

Housekeeping runs here (cron, a systemd timer), never inside a request.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from activity.models import Event


class Command(BaseCommand):
    help = "Delete activity-log entries older than ACTIVITY_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Keep this many days instead of the setting.")

    def handle(self, *args, days: int | None, **options) -> None:
        days = settings.ACTIVITY_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = Event.objects.filter(at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} activity event(s) older than {days} day(s).")
