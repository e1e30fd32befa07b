"""``manage.py prunesigningkeys``: drop retired keys and retiring keys whose tokens have all expired.

It also forgets the key links of access tokens that no longer exist (``oauth_app.models.TokenKey``
keeps no constraint, so deleting a token costs ``/token`` no extra query).
"""

from __future__ import annotations

from oauth_app import keys

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = ("Delete retired keys, and retiring keys none of whose tokens are still unexpired; forget the key "
            "links of deleted tokens.")

    def handle(self, *args, json: bool, **options) -> None:
        removed = keys.prune()
        links = keys.prune_token_links()
        message = f"Pruned {len(removed)} key(s)." if removed else "Nothing to prune."
        if links:
            message += f" Forgot {links} key link(s) of deleted tokens."
        self.emit(removed, json, message)
