"""Revocation that takes effect at once, shared by ``/revoke``, the admin, the key commands and MCP tools.

A JWT access token stays valid until it expires unless the verifier checks something live. Ours
checks that the token's row still exists (one indexed lookup, see :mod:`oauth_app.tokens`), so
revoking is deleting that row, which DOT's own ``revoke_access_token`` does (and it revokes the
bound refresh token too).

Verifiers cache what they verified for about a second (``VERIFIED_TOKEN_CACHE_SECONDS``), so
revocation also invalidates those caches, on every path at once: the deletion of an access-token
row (``/revoke``, the admin, refresh-token reuse, ``retiresigningkey --force``, the helpers below)
and a client switched off are caught by model signals; a signing-key change by
:func:`oauth_app.keys.clear_cache`. The revoking process drops its entries immediately; after the
transaction commits, one message on the channel layer's :data:`GROUP` tells every other process to
drop them too. Each ASGI process listens on that group from its first verification on
(:func:`ensure_listening`). The same broadcast carries other apps' invalidations
(:func:`on_invalidate`), e.g. ``mcp_app``'s session cache, and ``mcp_app``'s open SSE streams
watch :data:`TOKENS` to end a stream whose bearer was revoked (issue 12 §4): one mechanism for
"this token stopped working", in every process.

With the in-memory channel layer there is one process, so there is nothing to broadcast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import AccessToken, Grant, RefreshToken, revoke_access_token

from activity.log import Kind, acting_as, record

from .models import Client

log = logging.getLogger(__name__)

GROUP = "oauth-invalidations"
MESSAGE_TYPE = "cache.invalidate"
TOKENS, CLIENTS, KEYS = "tokens", "clients", "keys"


def revoke_access_tokens(access_tokens: QuerySet) -> int:
    """Revoke the given access tokens and their refresh tokens; returns how many were revoked."""
    count = 0
    # "api" unless the caller said who (admin, user, key retirement): the activity log records it.
    with transaction.atomic(), acting_as("api", default=True):
        for token in access_tokens.select_for_update():
            revoke_access_token(token)
            count += 1
    return count


def _revoke_refresh_tokens(tokens: QuerySet) -> None:
    with acting_as("api", default=True):
        for refresh_token in tokens.filter(revoked__isnull=True):
            refresh_token.revoke()


def revoke_client_tokens(client: Client) -> int:
    """Revoke every access and refresh token of ``client``; returns how many access tokens went."""
    with transaction.atomic():
        count = revoke_access_tokens(AccessToken.objects.filter(application=client))
        _revoke_refresh_tokens(RefreshToken.objects.filter(application=client))
    return count


def revoke_user_tokens(user) -> int:
    """Revoke every access and refresh token issued on behalf of ``user``."""
    with transaction.atomic():
        count = revoke_access_tokens(AccessToken.objects.filter(user=user))
        _revoke_refresh_tokens(RefreshToken.objects.filter(user=user))
    return count


def revoke_user_client_tokens(user, client: Client) -> int:
    """Revoke what ``user`` authorized ``client`` to hold ("connected apps"): tokens and pending codes."""
    with transaction.atomic():
        count = revoke_access_tokens(AccessToken.objects.filter(user=user, application=client))
        _revoke_refresh_tokens(RefreshToken.objects.filter(user=user, application=client))
        Grant.objects.filter(user=user, application=client).delete()
    return count


def disable_client(client: Client) -> int:
    """Switch ``client`` off (no new authorizations or tokens) and revoke what it holds."""
    with transaction.atomic(), acting_as("client-disabled"):
        Client.objects.filter(pk=client.pk).update(is_active=False)
        client.is_active = False
        record(Kind.CLIENT_DISABLED, client_id=client.client_id)
        invalidate(CLIENTS, [client.client_id])
        return revoke_client_tokens(client)


# --- Invalidation: this process at once, the others over the channel layer -------------------------

_handlers: dict[str, list[Callable[[list[str]], None]]] = {}


def on_invalidate(kind: str, handler: Callable[[list[str]], None]) -> None:
    """Register what drops cached ``kind`` entries (by key) in a process; runs here and in every other process.

    Several handlers may watch one kind (e.g. :data:`TOKENS`: the verified-token cache, and
    ``mcp_app``'s open streams, which end when their token is revoked). A handler may run on any
    thread (the revoking request's, or the listener's event loop) and must not block.
    """
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def _drop(kind: str, keys: list[str]) -> None:
    for handler in _handlers.get(kind, ()):
        try:
            handler(keys)
        except Exception:  # one app's handler must not keep the others from running
            log.exception("Cache-invalidation handler for %s failed", kind)


def _register_own_handlers() -> None:
    from .tokens import verified

    on_invalidate(TOKENS, verified.forget_tokens)
    on_invalidate(CLIENTS, verified.forget_clients)
    on_invalidate(KEYS, _keys_changed)


def _keys_changed(keys: list[str]) -> None:
    from .keys import key_cache
    from .tokens import verified

    key_cache.expire()
    verified.clear()


def invalidate(kind: str, keys: list[str]) -> None:
    """Drop ``keys`` of ``kind`` here now, and in every process once the current transaction commits.

    Nothing is broadcast for a transaction that rolls back (``on_commit`` drops the callback).
    """
    keys = list(keys)
    _drop(kind, keys)
    transaction.on_commit(lambda: _broadcast(kind, keys))  # runs at once outside a transaction


def _broadcast(kind: str, keys: list[str]) -> None:
    # Drop once more after the commit: a verification that raced with the transaction may have
    # cached the row it still saw.
    _drop(kind, keys)
    layer = _broadcast_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(GROUP, {"type": MESSAGE_TYPE, "kinds": {kind: keys}})
    except Exception:  # the revocation itself has happened; other processes' entries expire within the bound
        log.exception("Could not broadcast a cache invalidation")


def _broadcast_layer():
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None  # one process: the local drop was all there is to do
    return layer


@receiver(post_delete, sender=AccessToken, dispatch_uid="oauth_app.revocation.access_token_deleted")
def _access_token_deleted(sender, instance: AccessToken, **kwargs: Any) -> None:
    checksum = getattr(instance, "token_checksum", None)
    if checksum:
        invalidate(TOKENS, [checksum])


@receiver(post_save, sender=Client, dispatch_uid="oauth_app.revocation.client_saved")
def _client_saved(sender, instance: Client, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        invalidate(CLIENTS, [instance.client_id])


# --- Listening (one task per process and event loop) ----------------------------------------------

class _Listener:
    """Receives other processes' invalidations; until it has joined, verifications are not cached."""

    REJOIN_SECONDS = 3600.0  # channels_redis forgets group members after a day
    RETRY_FIRST_SECONDS = 0.5
    RETRY_MAX_SECONDS = 10.0

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def ensure(self) -> None:
        from .tokens import verified

        loop = asyncio.get_running_loop()
        if self.task is not None and self.loop is loop and not self.task.done():
            return
        layer = _broadcast_layer()
        if layer is None:
            verified.enabled = True
            return
        verified.enabled = False
        self.loop = loop
        self.task = loop.create_task(self._run(layer), name="oauth-invalidation-listener")

    async def _run(self, layer) -> None:
        """Listen until cancelled. A lost Redis connection is not the end: while this process cannot
        hear other processes' invalidations its verifications are not cached (so a revocation
        elsewhere still takes effect at once here), and it rejoins with a growing pause."""
        from .tokens import verified

        pause = self.RETRY_FIRST_SECONDS
        try:
            while True:
                try:
                    # The default "specific" prefix, like every stream's channel: channels_redis reads all of a
                    # process's channels through one lock and one queue per prefix, and the lock holder
                    # blocks on its own prefix's queue only, so a second prefix starves every other receiver.
                    channel = await layer.new_channel()
                    while True:
                        await layer.group_add(GROUP, channel)
                        verified.enabled = True
                        pause = self.RETRY_FIRST_SECONDS
                        try:
                            async with asyncio.timeout(self.REJOIN_SECONDS):
                                while True:
                                    message = await layer.receive(channel)
                                    for kind, keys in (message.get("kinds") or {}).items():
                                        _drop(kind, list(keys))
                        except TimeoutError:
                            continue  # the periodic re-join (asyncio.timeout's TimeoutError)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis went away or timed out: an operational event, not a bug
                    verified.enabled = False
                    verified.clear()
                    log.warning("Cache-invalidation listener lost the channel layer (%s: %s); verifications are "
                                "not cached until it rejoins (next try in %.1f s).", type(exc).__name__, exc, pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, self.RETRY_MAX_SECONDS)
        finally:
            verified.enabled = False
            verified.clear()


_listener = _Listener()


async def ensure_listening() -> None:
    """Start this process's invalidation listener (idempotent; cheap when already running)."""
    await _listener.ensure()
