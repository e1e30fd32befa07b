"""``manage.py retiresigningkey --kid=KID``: stop publishing a key; its tokens stop verifying.

A kid is an RFC 7638 thumbprint (base64url), and one in 64 starts with ``-``, which argparse
takes for an option when it stands alone: ``retiresigningkey -3VNJ…`` fails with "the following
arguments are required". ``--kid=KID`` (one word) is read as a value whatever the kid begins
with; the bare positional form still works for kids that do not start with ``-``.
"""

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
        parser.add_argument("--kid", dest="kid_option", metavar="KID",
                            help="The key id, as listed by listsigningkeys. Write it as --kid=KID: kids may start with '-'.")
        parser.add_argument("kid", nargs="?", help="The key id (positional form; use --kid=KID for a kid starting with '-').")
        parser.add_argument("--force", action="store_true", help="Revoke the unexpired tokens the key signed.")

    def handle(self, *args, kid: str | None, kid_option: str | None, force: bool, json: bool, **options) -> None:
        if kid is not None and kid_option is not None and kid != kid_option:
            raise CommandError("Give the key id once: --kid=KID or KID, not both.")
        kid = kid_option if kid_option is not None else kid
        if not kid:
            raise CommandError("Which key? Give its id as --kid=KID (see listsigningkeys).")
        try:
            revoked = keys.retire(kid, force=force)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        message = f"Key {kid} is retired."
        if revoked:
            message += f" Revoked {revoked} token(s) it had signed."
        self.emit(SigningKey.objects.filter(kid=kid), json, message)
