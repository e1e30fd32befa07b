"""``manage.py prunesigningkeys``: drop retired keys and retiring keys whose tokens have all expired."""

from __future__ import annotations

from oauth_app import keys

from ._signingkeys import SigningKeyCommand


class Command(SigningKeyCommand):
    help = "Delete retired keys, and retiring keys none of whose tokens are still unexpired."

    def handle(self, *args, json: bool, **options) -> None:
        removed = keys.prune()
        self.emit(removed, json, f"Pruned {len(removed)} key(s)." if removed else "Nothing to prune.")
