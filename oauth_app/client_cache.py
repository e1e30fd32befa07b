"""Recently loaded clients, per process, for at most ``VERIFIED_TOKEN_CACHE_SECONDS`` (1 s by default).

DOT loads the client by ``client_id`` at the start of every ``/token``, ``/revoke`` and
``/introspect`` request (``OAuth2Validator._load_application``); under load the same few clients
are read hundreds of times a second. :class:`oauth_app.validators.OAuth2Validator` asks here
first. An entry is dropped at once, here and (over the channel layer) in every other process, when
its ``Client`` row is saved or deleted (:data:`CLIENT_ROWS`) and when the client is disabled (an
``UPDATE`` without signals that invalidates :data:`~oauth_app.revocation.CLIENTS`); if such a
message is lost, or the row is changed behind Django's back (a raw SQL ``UPDATE``), the entry still
expires within the bound, the same bound the verified-token cache
keeps. Secrets are still checked on every request: what is cached is the row (its hashed secret),
never a verdict.

Every caller gets its own copy: DOT and oauthlib set attributes on ``request.client``. Clients
registered by a Client ID Metadata Document are not cached (DOT re-fetches their document from
the row's expiry).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from .models import Client
from .revocation import CLIENTS, invalidate, on_invalidate

CLIENT_ROWS = "client-rows"
MAX_ENTRIES = 1_000

_entries: dict[str, tuple[float, Client]] = {}


def _bound() -> float:
    return float(getattr(settings, "VERIFIED_TOKEN_CACHE_SECONDS", 1.0))


def get(client_id: str) -> Client | None:
    """A copy of the cached row of ``client_id``, or ``None`` (absent or expired)."""
    entry = _entries.get(client_id)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        _entries.pop(client_id, None)
        return None
    return copy.copy(entry[1])


def put(client: Client) -> None:
    bound = _bound()
    # A CIMD client's row carries its document's expiry, which DOT checks on every load to re-fetch
    # the document: those rows are always read from the database.
    if bound <= 0 or not client.is_active or client.registration_source == Client.RegistrationSource.CIMD:
        return
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()  # a flood of distinct clients: start again rather than sweep
    _entries[client.client_id] = (time.monotonic() + bound, copy.copy(client))


def forget(client_ids: list[str]) -> None:
    for client_id in client_ids:
        _entries.pop(client_id, None)


def clear() -> None:
    _entries.clear()


def _row_changed(sender, instance: Client, **kwargs: Any) -> None:
    invalidate(CLIENT_ROWS, [instance.client_id])


on_invalidate(CLIENT_ROWS, forget)
on_invalidate(CLIENTS, forget)
post_save.connect(_row_changed, sender=Client, dispatch_uid="oauth_app.client_cache.saved")
post_delete.connect(_row_changed, sender=Client, dispatch_uid="oauth_app.client_cache.deleted")
