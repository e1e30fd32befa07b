"""``manage.py retiresigningkey KID``: stop publishing a key; its tokens stop verifying."""

from __future__ import annotations

from django.core.management.base import CommandError

from oauth_app import keys
from oauth_app.exceptions import SigningKeyError
from oauth_app.models import SigningKey

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = ("Retire a signing key. Refused for the active key, and while unexpired tokens it signed exist, "
            "unless --force, which revokes those tokens.")

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("kid", help="The key id, as listed by listsigningkeys.")
        parser.add_argument("--force", action="store_true", help="Revoke the unexpired tokens the key signed.")

    def handle(self, *args, kid: str, force: bool, json: bool, **options) -> None:
        try:
            revoked = keys.retire(kid, force=force)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        message = f"Key {kid} is retired."
        if revoked:
            message += f" Revoked {revoked} token(s) it had signed."
        self.emit(SigningKey.objects.filter(kid=kid), json, message)
