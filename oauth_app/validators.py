"""Our ``OAuth2Validator``: DOT's, plus the RFC 8707 audience policy and authorization-code replay detection.

Audience: every access token is issued for resources this server protects
(``settings.PROTECTED_RESOURCES``, the MCP endpoint); the ``resource`` a client asks for, at
``/authorize`` or ``/token``, must be one of them (``invalid_target`` otherwise), and a request
without ``resource`` gets the MCP endpoint. The two hooks are registered on oauthlib's grants by
:class:`oauth_app.server.OAuth21Server`.

OAuth 2.1 §4.1.3 / RFC 6749 §4.1.2: if an authorization code is used more than once, the
server MUST deny the request and SHOULD revoke all tokens previously issued from that code.
DOT deletes a grant once it is exchanged, so a replay already fails with ``invalid_grant``;
this subclass remembers the exchanged code (as a SHA-256) together with what it produced,
and revokes that when the code comes back.

Concurrency (read-then-write paths). oauthlib validates a code or refresh token before DOT's
``save_bearer_token`` transaction begins, so two requests carrying the same one can both pass
validation. The decision is therefore taken again inside that transaction, under a lock: the
grant row is deleted first (only one request deletes it) and the presented refresh token is
re-read ``FOR UPDATE`` and must still be live. On PostgreSQL the row lock makes the second
request wait for the first to commit; on SQLite ``transaction_mode = IMMEDIATE`` does the same
for the whole transaction. Both databases therefore see the same race the same way: one winner.

Refresh races (CLAUDE-16). DOT's grace period (``REFRESH_TOKEN_GRACE_PERIOD_SECONDS``) answers
a retry with the pair the first refresh issued, read back from the database, which hashed
storage cannot do (``oauth2_provider.E001``); any other answer inside a grace window would mint
a second live pair for whoever holds the old token, a thief included. So DOT's grace period is
0, and :data:`ROTATION_RACE_WINDOW` is ours: a refresh token that was *rotated* (not revoked)
less than that long ago is refused with ``invalid_grant`` and nothing else happens. The
concurrent loser gets ``invalid_grant``, the winner's tokens survive. Outside the window, a
replay is reuse and DOT revokes the whole family (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import router, transaction
from django.db.models import F
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken, refresh_token_expire_timedelta, revoke_access_token
from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error, InvalidGrantError, InvalidRequestError

from activity import receivers as activity_receivers
from activity.log import acting_as

from . import client_auth, client_cache
from .models import Client, ConsumedCode, TokenKey
from .parsing import is_code_verifier

log = logging.getLogger(__name__)

ROTATION_RACE_WINDOW = timedelta(seconds=10)
"""How long a rotated refresh token is answered with a plain ``invalid_grant`` (a concurrent
refresh that lost the race) before a replay counts as reuse and revokes its family."""


class _CodeAlreadyExchanged(Exception):
    """Raised inside the token transaction when another request exchanged the code first."""


class _RefreshTokenAlreadyUsed(Exception):
    """Raised inside the token transaction when another request rotated the refresh token first."""


def _stored_refresh_token(raw: str, *, lock: bool = False) -> RefreshToken | None:
    """The row DOT's ``validate_refresh_token`` picks (the live one, else the latest revoked), with its
    access token and user (DOT reads both after it; here they come in the same query)."""
    rows = (RefreshToken.objects.filter(token_checksum=hashlib.sha256(raw.encode("utf-8")).hexdigest())
            .select_related("access_token", "user"))
    if lock:
        rows = rows.select_for_update(of=("self",))  # the refresh token's row, not the joined ones
    return rows.order_by(F("revoked").desc(nulls_first=True)).first()


def _just_rotated(token: RefreshToken) -> bool:
    """Revoked less than :data:`ROTATION_RACE_WINDOW` ago *by rotation*: its successor's access token
    still points back at it (a deliberate revocation, RFC 7009 or the admin, mints no successor)."""
    return (token.revoked is not None and token.revoked > timezone.now() - ROTATION_RACE_WINDOW
            and AccessToken.objects.filter(source_refresh_token=token).exists())


def canonical_resource(uri: str) -> str:
    """RFC 8707 / AUTH-35: scheme and host are case-insensitive and a trailing slash is dropped."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


class OAuth2Validator(DOTValidator):
    ### Client authentication (RFC 7523 private_key_jwt on top of DOT's secret methods)

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        # An assertion is client authentication by definition: even a malformed one must fail
        # closed in authenticate_client, never pass as a public client (RFC 7521 §4.2).
        if client_auth.presents_assertion(request):
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        if client_auth.presents_assertion(request):
            return client_auth.authenticate(request, self._load_application)
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        # A private_key_jwt client authenticates with its keys only; the secret DOT generated for
        # the row was never handed out, and must never become a second way in.
        return request.client.token_endpoint_auth_method != Client.AuthMethod.PRIVATE_KEY_JWT

    def _load_application(self, client_id, request):
        """DOT's lookup, except that a ``client_id`` with a NUL byte is simply unknown.

        DOT catches the ``ValueError`` psycopg2 raised for NUL; psycopg 3 sends the query and
        PostgreSQL answers ``DataError``, which would be a 500. No client id contains NUL.
        A row loaded in the last second comes from :mod:`oauth_app.client_cache`.
        """
        if isinstance(client_id, str) and "\x00" in client_id:
            return None
        if not request.client and isinstance(client_id, str):
            cached = client_cache.get(client_id)  # a row loaded less than a second ago (client_cache.py)
            if cached is not None:
                request.client = cached
                return cached
        client = super()._load_application(client_id, request)
        if client is not None:
            client_cache.put(client)
        return client

    def _protected(self, resources: list[str], request) -> list[str]:
        protected = set(settings.PROTECTED_RESOURCES)
        canonical = [canonical_resource(resource) for resource in resources]
        for original, value in zip(resources, canonical):
            if value not in protected or "#" in original:
                raise CustomOAuth2Error(error="invalid_target", request=request,
                                        description=f"This server does not issue tokens for the resource {original!r}.")
        return canonical

    def check_authorization_resource(self, request) -> dict:
        """oauthlib ``pre_auth`` hook: refuse a foreign ``resource`` before the consent page."""
        self._protected([value for key, value in request.uri_query_params if key == "resource"], request)
        return {}

    def resolve_audience(self, request) -> None:
        """oauthlib ``post_token`` hook: settle ``request.resource``, which becomes the JWT ``aud``."""
        requested = [value for key, value in (getattr(request, "decoded_body", None) or []) if key == "resource"]
        request.resource = self._protected(requested, request)
        # DOT applies RFC 8707 inheritance and narrowing against the grant or refresh token.
        self._check_and_set_request_resource(request)
        request.resource = list(request.resource) or [settings.MCP_RESOURCE]
        request.resource_settled = True

    def _check_and_set_request_resource(self, request) -> None:
        # DOT calls this again when saving the token; the audience is already settled (and signed
        # into the JWT) by resolve_audience, and the grant it would re-read has just been claimed.
        if not getattr(request, "resource_settled", False):
            super()._check_and_set_request_resource(request)

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        if request.code_verifier is not None and not is_code_verifier(request.code_verifier):
            # oauthlib compares any string's S256; RFC 7636 §4.1 allows only these (the code stays usable).
            raise InvalidRequestError(request=request, description=(
                "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 §4.1)."))
        # One read of the grant and its user for the whole exchange: oauthlib asks again for the
        # redirect URI and the PKCE challenge, and DOT's validate_code would read both once more.
        # Keeping the row also means a concurrent exchange that deletes it cannot turn those later
        # reads into DoesNotExist.
        grant = Grant.objects.select_related("user").filter(code=code, application=client).first()
        if grant is None or grant.is_expired():
            self._revoke_code_products(code, client)
            return False
        # What DOT's validate_code sets, from the same row.
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.validated_grant = grant
        return True

    def _grant(self, code: str, request) -> Grant:
        grant = getattr(request, "validated_grant", None)
        if grant is not None and grant.code == code:
            return grant
        return Grant.objects.get(code=code, application=request.client)

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs) -> bool:
        return self._grant(code, request).redirect_uri_allowed(redirect_uri)

    def get_code_challenge(self, code, request) -> str | None:
        return self._grant(code, request).code_challenge or None

    def get_code_challenge_method(self, code, request) -> str | None:
        return self._grant(code, request).code_challenge_method or None

    def _revoke_code_products(self, code: str, client) -> None:
        """A replayed code: revoke what its first exchange produced (OAuth 2.1 §4.1.3)."""
        consumed = ConsumedCode.objects.filter(code_checksum=ConsumedCode.checksum(code), application=client).first()
        if consumed is not None:
            log.warning("Authorization code replayed by client %s; revoking the tokens it produced.", client.client_id)
            with acting_as("code-replay"):
                # By id: the row may be gone already (a refresh replaced it), see ConsumedCode.
                access_token = AccessToken.objects.filter(pk=consumed.access_token_id).first()
                if access_token is not None:
                    revoke_access_token(access_token)
                RefreshToken.revoke_family(consumed.token_family)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """DOT's checks (reuse, orphan, expiry, the right client) on one locked read of the token.

        DOT's own ``validate_refresh_token`` reads the token again, then its user and its client, one
        query each. With DOT's grace period at 0 (see the module docstring) its decisions come down
        to the ones below, taken on the row read here under its lock: were a rotation to commit
        between two reads, the second would take the winner's fresh rotation for reuse and revoke
        the family (seen under load on PostgreSQL). (A grace period cannot be set: hashed storage
        refuses one, ``oauth2_provider.E001``.)
        """
        with transaction.atomic(using=router.db_for_write(RefreshToken)):
            stored = _stored_refresh_token(refresh_token, lock=True)
            if stored is None:
                return False
            if stored.revoked is not None:
                if _just_rotated(stored):
                    # A concurrent refresh that lost the race (or a retry of one that did not see its
                    # answer): refuse it, but leave the family, and so the winner's tokens, alone.
                    log.info("Refresh token of client %s was rotated moments ago; refused without revoking its "
                             "family.", client.client_id)
                    return False
                # A rotated or revoked token presented again: reuse (RFC 9700 §4.14.2), as DOT decides it.
                if oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION and stored.token_family:
                    with acting_as("refresh-reuse"):
                        RefreshToken.revoke_family(stored.token_family)
                return False
            if stored.access_token is None:
                return False  # an orphan (its access token was deleted out of band): nothing to refresh
            lifetime = refresh_token_expire_timedelta()
            if lifetime and stored.access_token.expires + lifetime <= timezone.now():
                return False  # DOT's REFRESH_TOKEN_EXPIRE_SECONDS, counted from the access token's expiry
        request.user = stored.user
        request.refresh_token = refresh_token  # the raw value: the stored column is blank (hashed at rest)
        request.refresh_token_instance = stored
        return stored.application_id == client.pk

    def save_bearer_token(self, token, request, *args, **kwargs):
        """DOT's transaction around :meth:`_save_bearer_token`; a lost race becomes ``invalid_grant``
        once that transaction has rolled back (so nothing of the loser's is stored)."""
        try:
            saved = super().save_bearer_token(token, request, *args, **kwargs)
        except _CodeAlreadyExchanged:
            # The same code came twice at once: the second use is a replay like any other.
            self._revoke_code_products(request.code, request.client)
            raise InvalidGrantError(request=request) from None
        except _RefreshTokenAlreadyUsed:
            raise InvalidGrantError(request=request) from None
        activity_receivers.token_issued(request)  # after DOT's transaction: only what was stored
        return saved

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        # Already deleted inside the token transaction (see _claim); DOT's delete would find nothing.
        if not getattr(request, "code_claimed", False):
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)

    def _claim(self, request) -> None:
        """Inside the token transaction, take the code or refresh token for this request alone."""
        if request.grant_type == "authorization_code":
            deleted, _ = Grant.objects.filter(code=request.code, application=request.client).delete()
            if not deleted:
                raise _CodeAlreadyExchanged
            request.code_claimed = True
        elif request.grant_type == "refresh_token" and getattr(request, "refresh_token_instance", None) is not None:
            if self.rotate_refresh_token(request):
                self._rotate(request)
            elif not RefreshToken.objects.select_for_update().filter(pk=request.refresh_token_instance.pk,
                                                                     revoked__isnull=True).exists():
                raise _RefreshTokenAlreadyUsed  # DOT reuses the token; a concurrent request revoked it

    @staticmethod
    def _rotate(request) -> None:
        """Claim the presented refresh token and revoke it, as DOT's rotation does, in one UPDATE.

        DOT's rotation (``_save_bearer_token``) reads the token again under a lock, looks for an
        access token already issued from it (its grace period, 0 here), then calls
        ``RefreshToken.revoke()``, which reads the token and its access token once more, deletes the
        access token and saves every field of the token: seven queries, where this UPDATE and the
        access token's deletion take three. The UPDATE is also the race check: a concurrent rotation
        holds the row until it commits (PostgreSQL's row lock; SQLite's IMMEDIATE transaction
        already waited at BEGIN), after which ``revoked IS NULL`` no longer matches and this request
        loses. DOT then sees no refresh token to rotate and mints the new pair; the two creation
        hooks below link it to the rotated token (its family, and the new access token's
        ``source_refresh_token``, which :func:`_just_rotated` reads), as DOT would have.
        """
        presented: RefreshToken = request.refresh_token_instance
        now = timezone.now()
        claimed = RefreshToken.objects.filter(pk=presented.pk, revoked__isnull=True).update(revoked=now,
                                                                                           access_token=None)
        if not claimed:
            raise _RefreshTokenAlreadyUsed
        if presented.access_token is not None:
            # An instance delete, as DOT's revoke(): post_delete drops the token from every
            # process's verified cache (oauth_app.revocation). Gone already (revoked meanwhile): fine.
            presented.access_token.delete()
        presented.revoked, presented.access_token = now, None  # what the row says now
        request.rotated_refresh_token = presented
        request.refresh_token_instance = None  # nothing left for DOT's rotation to do

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        with acting_as("client"):  # RFC 7009 /revoke: the client gave the token back
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)

    def _create_authorization_code(self, request, code, expires=None):
        # Store the canonical form on the grant, so /token compares like with like.
        request.resource = [canonical_resource(uri) for uri in getattr(request, "resource", None) or []]
        return super()._create_authorization_code(request, code, expires)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        source_refresh_token = source_refresh_token or getattr(request, "rotated_refresh_token", None)
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        TokenKey.objects.create(access_token=access_token, kid=request.signing_kid)
        request.issued_access_token = access_token
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        previous_refresh_token = previous_refresh_token or getattr(request, "rotated_refresh_token", None)
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.issued_refresh_token = refresh_token
        return refresh_token

    def _save_bearer_token(self, token, request, *args, **kwargs):
        self._claim(request)
        super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code":
            refresh_token = getattr(request, "issued_refresh_token", None)
            # Pruned by ``manage.py clearconsumedcodes`` (a timer), never inside a request.
            ConsumedCode.objects.create(
                code_checksum=ConsumedCode.checksum(request.code),
                application=request.client,
                access_token=getattr(request, "issued_access_token", None),
                token_family=refresh_token.token_family if refresh_token else None,
            )
