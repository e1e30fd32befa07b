"""``manage.py reencryptsigningkeys``: re-encrypt every signing key under the first key-encryption key."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from oauth_app import keys
from oauth_app.exceptions import SigningKeyError


class Command(BaseCommand):
    help = ("Re-encrypt every stored signing key under the first SIGNING_KEY_ENCRYPTION_KEY "
            "(step 2 of rotating that key: add the new key first, run this, remove the old key).")

    def handle(self, *args, **options) -> None:
        try:
            count = keys.reencrypt_all()
        except (SigningKeyError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} signing key(s) under the first "
                                             "SIGNING_KEY_ENCRYPTION_KEY."))
