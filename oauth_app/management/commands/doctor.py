"""``manage.py doctor [URL]``: the connection doctor (:mod:`oauth_app.doctor`) against a deployment.

Without URL it diagnoses ``PUBLIC_URL``. Exit status 0 only when no step failed.
"""

from __future__ import annotations

import json
import logging
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oauth_app.doctor import Target, diagnose


class Command(BaseCommand):
    help = ("Play, from outside, what a hosted MCP client (Claude) does against a deployment, one line per step "
            "with the likely cause and fix of each failure. Needs no token; deletes the client it registers.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("url", nargs="?", help="The MCP URL (https://host/mcp) or origin; default PUBLIC_URL.")
        parser.add_argument("--json", action="store_true", help="Print the steps as JSON.")
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds per request (default 10).")

    def handle(self, *args, url: str | None, json: bool, timeout: float, **options) -> None:
        target = url or settings.MCP_RESOURCE
        try:
            Target.parse(target)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per step, not per request
        report = diagnose(target, timeout=timeout)
        if json:
            self.stdout.write(_dumps(report.as_dict()))
        else:
            self.stdout.write(report.text())
        if not report.ok:
            sys.exit(1)


def _dumps(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
