"""RFC 8414 authorization server metadata, on DOT's ``OAuthServerMetadataView``.

DOT builds the document from settings; we add what it cannot know: the ``jwks_uri`` of our
access-token keys, that introspection needs an authenticated caller (so ``none`` is not an
introspection auth method), and, only while ``private_key_jwt`` is offered, the client-assertion
signing algorithms (``*_endpoint_auth_signing_alg_values_supported``, RFC 8414 §2).
The same document is served at ``/.well-known/openid-configuration`` (AUTH-20).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.views import View
from oauth2_provider.views import OAuthServerMetadataView

from ..client_metadata import PRIVATE_KEY_JWT, SIGNING_ALGORITHMS
from ..keys import published_jwks


class ServerMetadataView(OAuthServerMetadataView):
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["jwks_uri"] = settings.ISSUER + reverse("oauth2_provider:jwks")
        data["introspection_endpoint_auth_methods_supported"] = [
            method for method in data.get("introspection_endpoint_auth_methods_supported", []) if method != "none"
        ]
        for endpoint in ("token", "revocation", "introspection"):
            if PRIVATE_KEY_JWT in data.get(f"{endpoint}_endpoint_auth_methods_supported", []):
                data[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] = list(SIGNING_ALGORITHMS)
        result = JsonResponse(data)
        result["Access-Control-Allow-Origin"] = response["Access-Control-Allow-Origin"]
        return result


class JwksView(View):
    """``/jwks``: the public keys of the next, active and retiring signing keys (RFC 7517).

    Cached for 5 minutes: well under the rotation overlap, which lasts at least one access-token
    lifetime, and a ``next`` key is published before it signs anything.
    """

    max_age = 300

    def get(self, request, *args, **kwargs):
        response = JsonResponse({"keys": published_jwks()})
        response["Cache-Control"] = f"public, max-age={self.max_age}"
        response["Access-Control-Allow-Origin"] = "*"
        return response
