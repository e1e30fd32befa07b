"""``manage.py ensureadmin``: make sure the first admin account exists (used by ``make run``).

Idempotent: an existing account is left as it is. A new one takes ``ADMIN_PASSWORD`` from the
environment, or gets a generated password that is printed once and never stored in clear.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the admin superuser (ADMIN_USERNAME, default 'admin') if it does not exist yet."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))

    def handle(self, *args, username: str, **options) -> None:
        if not username:
            raise CommandError("ADMIN_USERNAME must not be empty.")
        User = get_user_model()
        if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
            self.stdout.write(f"Admin account '{username}' already exists.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created admin account '{username}' with password: {password}\n"
                "This password is shown only once; change it in the admin."
            ))
        else:
            self.stdout.write(f"Created admin account '{username}' with the password from ADMIN_PASSWORD.")
