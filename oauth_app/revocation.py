"""Revocation that takes effect at once, shared by ``/revoke``, the admin, the key commands and MCP tools.

A JWT access token stays valid until it expires unless the verifier checks something live. Ours
checks that the token's row still exists (one indexed lookup, see :mod:`oauth_app.tokens`), so
revoking is deleting that row, which DOT's own ``revoke_access_token`` does (and it revokes the
bound refresh token too). Every process sees the change on its next verification.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from oauth2_provider.models import AccessToken, Grant, RefreshToken, revoke_access_token

from activity.log import Kind, acting_as, record

from .models import Client


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
        return revoke_client_tokens(client)
