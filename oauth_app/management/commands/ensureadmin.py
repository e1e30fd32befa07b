"""``manage.py ensureadmin``: make sure the first admin account exists (used by ``make run``).

Idempotent: an existing account is left as it is. A new one takes ``ADMIN_PASSWORD`` from the
environment, or gets a generated password that is printed once and never stored in clear.

With ``--banner`` it ends ``make run``'s output with the one block an operator needs: where the
admin is, the account (and the generated password, the one time there is one), the URL to paste
into an MCP client, and the discovery URL.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the admin superuser (ADMIN_USERNAME, default 'admin') if it does not exist yet."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--banner", action="store_true",
                            help="Print the start-up block: admin URL, account, MCP URL, discovery URL.")

    def handle(self, *args, username: str, banner: bool = False, **options) -> None:
        if not username:
            raise CommandError("ADMIN_USERNAME must not be empty.")
        User = get_user_model()
        password = None
        if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
            status = f"Admin account '{username}' already exists."
        else:
            password = os.environ.get("ADMIN_PASSWORD") or ""
            generated = not password
            if generated:
                password = secrets.token_urlsafe(18)
            User.objects.create_superuser(username=username, email="", password=password)
            if generated:
                status = (f"Created admin account '{username}' with password: {password}\n"
                          "This password is shown only once; change it in the admin.")
            else:
                status = f"Created admin account '{username}' with the password from ADMIN_PASSWORD."
                password = None
        if not banner:
            self.stdout.write(self.style.WARNING(status) if password else status)
            return
        self.stdout.write(self._banner(username, password))

    def _banner(self, username: str, generated_password: str | None) -> str:
        issuer = settings.ISSUER
        if generated_password:
            account = f"{username} / {generated_password}   (generated: shown only this once)"
        else:
            account = f"{username}   (password: ADMIN_PASSWORD, or the one shown at the first start)"
        rows = [
            ("Admin", issuer + "/admin/"),
            ("Account", account),
            ("MCP URL", settings.MCP_RESOURCE + "   <- paste this into Claude, ChatGPT, Cursor, ..."),
            ("Discovery", issuer + "/.well-known/oauth-authorization-server"),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [f"  {label.ljust(width)}  {value}" for label, value in rows]
        rule = "-" * max(len(line) for line in lines)
        title = f"  {settings.RESOURCE_NAME} is starting on {issuer}"
        return "\n".join(["", rule, title, rule, *lines, rule, ""])
