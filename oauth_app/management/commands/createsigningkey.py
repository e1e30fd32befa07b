"""``manage.py createsigningkey``: prepare the next signing key (``--activate`` to switch at once)."""

from __future__ import annotations

from django.core.management.base import CommandError

from oauth_app import keys
from oauth_app.exceptions import SigningKeyError
from oauth_app.models import SigningKey

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = ("Create a 'next' signing key, published at /jwks before it signs. With --activate it becomes the "
            "active key at once and the previous active key starts retiring.")

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--algorithm", choices=SigningKey.Algorithm.values, default=SigningKey.Algorithm.RS256)
        parser.add_argument("--activate", action="store_true", help="Make the new key the active one now.")
        parser.add_argument("--if-missing", action="store_true",
                            help="Do nothing if an active key exists (what `make run` uses).")

    def handle(self, *args, algorithm: str, activate: bool, if_missing: bool, json: bool, **options) -> None:
        if if_missing and SigningKey.objects.filter(state=SigningKey.State.ACTIVE).exists():
            if not json:
                self.stdout.write("An active signing key exists; nothing to do.")
            else:
                self.emit([], True)
            return
        try:
            key = keys.create_key(algorithm)
            if activate:
                key, _ = keys.activate(key.kid)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        self.emit([key], json, f"Created {key.state} {key.algorithm} key {key.kid}.")
