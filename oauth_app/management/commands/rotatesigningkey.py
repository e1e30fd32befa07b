"""``manage.py rotatesigningkey``: promote the next key (or a new one) to active."""

from __future__ import annotations

from django.core.management.base import CommandError

from oauth_app import keys
from oauth_app.exceptions import SigningKeyError
from oauth_app.models import SigningKey

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = ("Make the 'next' key active (creating one if there is none). The previous active key becomes "
            "'retiring': still published, so tokens it signed keep verifying until they expire.")

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--algorithm", choices=SigningKey.Algorithm.values, default=SigningKey.Algorithm.RS256,
                            help="Algorithm of the key to create when no 'next' key is waiting.")

    def handle(self, *args, algorithm: str, json: bool, **options) -> None:
        try:
            active, previous = keys.rotate(algorithm)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        message = f"Key {active.kid} is now active."
        if previous is not None:
            message += f" Key {previous.kid} is retiring."
        self.emit([k for k in (active, previous) if k is not None], json, message)
