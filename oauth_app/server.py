"""The oauthlib server DOT drives (``OAUTH2_SERVER_CLASS``), reduced to OAuth 2.1.

oauthlib's pre-configured ``Server`` wires every grant it knows. OAuth 2.1 and RFC 9700 drop
the implicit and password grants and the ``plain`` PKCE method; DOT's RFC 9700 gates refuse
them late (at code creation) or with a generic error. Removing them from the server makes
the refusal immediate and standard: ``unsupported_response_type`` for ``token``,
``unsupported_grant_type`` for ``password``, ``invalid_request`` (unsupported
``code_challenge_method``) for ``plain``, already on the first GET of ``/authorize``.
"""

from __future__ import annotations

from oauthlib.oauth2 import Server as OAuthlibServer
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256


class OAuth21Server(OAuthlibServer):
    def __init__(self, request_validator, *args, **kwargs) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.auth_grant._code_challenge_methods = {"S256": code_challenge_method_s256}
        self._response_types = {"code": self.auth_grant, "none": self.auth_grant}
        self._grant_types.pop("password", None)
        self._grant_types.pop("urn:ietf:params:oauth:grant-type:device_code", None)
        # RFC 8707 audience policy (see oauth_app.validators).
        self.auth_grant.custom_validators.pre_auth.append(request_validator.check_authorization_resource)
        for grant in (self.auth_grant, self.refresh_grant, self.credentials_grant):
            grant.custom_validators.post_token.append(request_validator.resolve_audience)
