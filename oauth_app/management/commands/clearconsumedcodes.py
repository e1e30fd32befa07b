"""``manage.py clearconsumedcodes``: forget exchanged authorization codes older than a day.

A consumed code is kept (as its SHA-256) only to recognise a replay and revoke what the code
produced (RFC 6749 §4.1.2, RFC 9700 §4.2.4). Codes live 60 s, so replays come within minutes; a
day of history is plenty. docs/deploy.md runs this from a systemd timer.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from oauth_app.models import ConsumedCode

RETENTION = timedelta(days=1)


class Command(BaseCommand):
    help = "Delete the replay-detection records of authorization codes exchanged more than a day ago."

    def handle(self, *args, **options) -> None:
        deleted, _ = ConsumedCode.objects.filter(consumed_at__lt=timezone.now() - RETENTION).delete()
        self.stdout.write(f"Deleted {deleted} consumed-code record(s).")
