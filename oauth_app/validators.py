"""Our ``OAuth2Validator``: DOT's, plus authorization-code replay detection.

OAuth 2.1 §4.1.3 / RFC 6749 §4.1.2: if an authorization code is used more than once, the
server MUST deny the request and SHOULD revoke all tokens previously issued from that code.
DOT deletes a grant once it is exchanged, so a replay already fails with ``invalid_grant``;
this subclass remembers the exchanged code (as a SHA-256) together with what it produced,
and revokes that when the code comes back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from oauth2_provider.models import RefreshToken, revoke_access_token
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from oauth2_provider.settings import oauth2_settings

from .models import ConsumedCode

log = logging.getLogger(__name__)


class OAuth2Validator(DOTValidator):
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

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
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
            ConsumedCode.objects.create(
                code_checksum=ConsumedCode.checksum(request.code),
                application=request.client,
                access_token=getattr(request, "issued_access_token", None),
                token_family=refresh_token.token_family if refresh_token else None,
            )
