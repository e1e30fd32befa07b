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
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from oauth2_provider.models import RefreshToken, revoke_access_token
from django.conf import settings
from django.utils import timezone
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error
from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from oauth2_provider.settings import oauth2_settings

from .models import ConsumedCode, TokenKey

log = logging.getLogger(__name__)


def canonical_resource(uri: str) -> str:
    """RFC 8707 / AUTH-35: scheme and host are case-insensitive and a trailing slash is dropped."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


class OAuth2Validator(DOTValidator):
    def _load_application(self, client_id, request):
        """DOT's lookup, except that a ``client_id`` with a NUL byte is simply unknown.

        DOT catches the ``ValueError`` psycopg2 raised for NUL; psycopg 3 sends the query and
        PostgreSQL answers ``DataError``, which would be a 500. No client id contains NUL.
        """
        if isinstance(client_id, str) and "\x00" in client_id:
            return None
        return super()._load_application(client_id, request)

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

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        consumed = ConsumedCode.objects.filter(code_checksum=ConsumedCode.checksum(code), application=client).first()
        if consumed is not None:
            log.warning("Authorization code replayed by client %s; revoking the tokens it produced.", client.client_id)
            if consumed.access_token is not None:
                revoke_access_token(consumed.access_token)
            RefreshToken.revoke_family(consumed.token_family)
        return False

    def _create_authorization_code(self, request, code, expires=None):
        # Store the canonical form on the grant, so /token compares like with like.
        request.resource = [canonical_resource(uri) for uri in getattr(request, "resource", None) or []]
        return super()._create_authorization_code(request, code, expires)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        TokenKey.objects.create(access_token=access_token, kid=request.signing_kid)
        request.issued_access_token = access_token
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.issued_refresh_token = refresh_token
        return refresh_token

    def _save_bearer_token(self, token, request, *args, **kwargs):
        generated = dict(token)
        previous_refresh_token = getattr(request, "refresh_token_instance", None)
        super()._save_bearer_token(token, request, *args, **kwargs)
        if token.get("access_token") != generated.get("access_token"):
            # Refresh inside the grace window (a concurrent retry): DOT answers with the pair the
            # first refresh produced, read back from the ``token`` columns. With hashed-at-rest
            # storage those columns are blank, so DOT would hand out empty tokens. Issue the pair
            # generated for this request instead, in the same family: both racing clients end up
            # with working tokens and reuse protection still covers the family.
            token.update(access_token=generated["access_token"], refresh_token=generated["refresh_token"])
            expires = timezone.now() + timedelta(seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS))
            access_token = self._create_access_token(expires, request, token)
            self._create_refresh_token(request, token["refresh_token"], access_token, previous_refresh_token)
        if request.grant_type == "authorization_code":
            refresh_token = getattr(request, "issued_refresh_token", None)
            consumed = ConsumedCode.objects.create(
                code_checksum=ConsumedCode.checksum(request.code),
                application=request.client,
                access_token=getattr(request, "issued_access_token", None),
                token_family=refresh_token.token_family if refresh_token else None,
            )
            if consumed.pk % 500 == 0:
                # Replays come within minutes (codes live 60 s); a day of history is plenty.
                ConsumedCode.objects.filter(consumed_at__lt=timezone.now() - timedelta(days=1)).delete()
