"""Tell open connections, in every process, that their access token stopped working.

Revoking deletes the token's row (:mod:`oauth_app.revocation`, DOT's ``/revoke``, refresh-token
reuse, a replayed code, ``retiresigningkey --force``), and verification fails everywhere on the next
request. A connection that stays open (an SSE stream on ``/mcp``) makes no next request, so every
deletion of a live token is also announced on the channel layer, once its transaction has committed,
to the token's group (:func:`token_group`). A consumer holding a stream for a token joins that group
and ends the stream on :data:`TOKEN_REVOKED` (handler ``oauth_token_revoked``). With ``REDIS_URL``
the announcement reaches every daphne process.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from oauth2_provider.models import AccessToken

from .tokens import token_checksum

log = logging.getLogger(__name__)

TOKEN_REVOKED = "oauth.token.revoked"
"""The channel-layer message type; a consumer's handler for it is ``oauth_token_revoked``."""


def group_for_checksum(checksum: str) -> str:
    """The group of the token whose SHA-256 (as DOT stores it) is ``checksum`` (76 characters)."""
    return f"oauth-token-{checksum}"


def token_group(raw_token: str) -> str:
    """The group a connection authenticated by ``raw_token`` joins to hear of its revocation."""
    return group_for_checksum(token_checksum(raw_token))


def _announce(group: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": TOKEN_REVOKED})
    except Exception:  # the revocation itself has happened; only open streams learn of it late
        log.exception("Could not announce a token revocation; open streams end when the token expires")


@receiver(post_delete, sender=AccessToken, dispatch_uid="oauth_app.revocation_events")
def access_token_deleted(sender, instance: AccessToken, using: str, **kwargs) -> None:
    # An expired token's streams have ended already (they end at expiry): cleartokens stays quiet.
    if not instance.token_checksum or instance.expires <= timezone.now():
        return
    group = group_for_checksum(instance.token_checksum)
    transaction.on_commit(lambda: _announce(group), using=using)
