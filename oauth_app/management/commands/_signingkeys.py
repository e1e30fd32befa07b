"""Shared output for the signing-key commands: a readable table, or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.core.management.base import BaseCommand

from oauth_app.keys import unexpired_token_count
from oauth_app.models import SigningKey

COLUMNS = ("kid", "alg", "state", "created", "activated", "tokens")


def describe(key: SigningKey) -> dict:
    return {
        "kid": key.kid,
        "alg": key.algorithm,
        "state": key.state,
        "created": key.created.isoformat(timespec="seconds") if key.created else None,
        "activated": key.activated_at.isoformat(timespec="seconds") if key.activated_at else None,
        "tokens": unexpired_token_count(key.kid),
    }


class SigningKeyCommand(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print machine-readable JSON instead of a table.")

    def emit(self, keys: Iterable[SigningKey], as_json: bool, message: str = "") -> None:
        rows = [describe(key) for key in keys]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if message:
            self.stdout.write(self.style.SUCCESS(message))
        if not rows:
            self.stdout.write("No signing keys.")
            return
        cells = [[str(row[c] if row[c] is not None else "-") for c in COLUMNS] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
        self.stdout.write("  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths)))
        for row in cells:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths)))
