"""``manage.py listsigningkeys``: every signing key with its state and how many live tokens it signed."""

from __future__ import annotations

from oauth_app.models import SigningKey

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = "List signing keys: kid, algorithm, state, created, activated, and unexpired tokens each signed."

    def handle(self, *args, json: bool, **options) -> None:
        self.emit(SigningKey.objects.order_by("created"), json)
