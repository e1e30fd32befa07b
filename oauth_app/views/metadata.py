"""RFC 8414 authorization server metadata, on DOT's ``OAuthServerMetadataView``.

DOT builds the document from settings; we only correct what it cannot know: introspection
needs an authenticated caller (so ``none`` is not an introspection auth method).
The same document is served at ``/.well-known/openid-configuration`` (AUTH-20).
"""

from __future__ import annotations

import json

from django.http import JsonResponse
from oauth2_provider.views import OAuthServerMetadataView


class ServerMetadataView(OAuthServerMetadataView):
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["introspection_endpoint_auth_methods_supported"] = [
            method for method in data.get("introspection_endpoint_auth_methods_supported", []) if method != "none"
        ]
        result = JsonResponse(data)
        result["Access-Control-Allow-Origin"] = response["Access-Control-Allow-Origin"]
        return result
