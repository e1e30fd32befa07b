"""RFC 7591/7592 dynamic client registration, on DOT's registration views.

DOT parses the metadata, creates the client, issues the registration access token and
serves RFC 7592 management. This subclass adds what MCP clients in the field need:

* a per-address rate limit (429 with ``Retry-After``);
* ``invalid_redirect_uri`` for redirect URIs our policy refuses (``javascript:``, plain
  ``http`` off loopback), and ``invalid_client_metadata`` for oversized fields;
* the registered ``token_endpoint_auth_method`` (Claude registers with
  ``client_secret_post``), an optional ``scope``, and the RFC 7591 §3.2.1 integers
  ``client_id_issued_at`` and ``client_secret_expires_at`` in every response.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import DynamicClientRegistrationManagementView, DynamicClientRegistrationView

from ..models import Client, Scope
from ..redirects import validate_redirect_uri
from ..throttling import RegistrationThrottle

MAX_BODY_BYTES = 64 * 1024
MAX_REDIRECT_URIS = 20
MAX_STRING_FIELD = 2000


def registration_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def check_metadata(body: bytes) -> JsonResponse | None:
    """Our registration policy on top of DOT's parsing; ``None`` when the metadata passes."""
    if len(body) > MAX_BODY_BYTES:
        return registration_error("invalid_client_metadata", f"Client metadata is larger than {MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(body)
    except ValueError:
        return None  # DOT answers invalid_client_metadata for unparseable JSON.
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if isinstance(value, str) and len(value) > MAX_STRING_FIELD:
            return registration_error("invalid_client_metadata", f"{key} is longer than {MAX_STRING_FIELD} characters.")
    redirect_uris = data.get("redirect_uris")
    if isinstance(redirect_uris, list):
        if len(redirect_uris) > MAX_REDIRECT_URIS:
            return registration_error("invalid_redirect_uri", f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered.")
        for uri in redirect_uris:
            if isinstance(uri, str):
                try:
                    validate_redirect_uri(uri)
                except ValidationError as exc:
                    return registration_error("invalid_redirect_uri", " ".join(exc.messages))
    grant_types = data.get("grant_types")
    if isinstance(grant_types, list):
        unsupported = {g for g in grant_types if isinstance(g, str)} - set(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)
        if unsupported:
            # RFC 9700 §2.1.2, §2.4: no implicit or password grant, not even for registration.
            return registration_error("invalid_client_metadata", f"Unsupported grant type: {' '.join(sorted(unsupported))}.")
    response_types = data.get("response_types")
    if isinstance(response_types, list) and set(response_types) - {"code"}:
        return registration_error("invalid_client_metadata", "Only the code response type is supported.")
    scope = data.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            return registration_error("invalid_client_metadata", "scope must be a space-separated string.")
        unknown = set(scope.split()) - set(Scope.objects.values_list("name", flat=True))
        if unknown:
            return registration_error("invalid_client_metadata", f"Unknown scope: {' '.join(sorted(unknown))}.")
    return None


def complete_registration(response: HttpResponse, metadata: dict) -> HttpResponse:
    """Store what DOT's model has no field for, and report the registration truthfully."""
    if response.status_code not in (200, 201):
        return response
    data = json.loads(response.content)
    client = Client.objects.get(client_id=data["client_id"])
    if metadata:
        requested = metadata.get("token_endpoint_auth_method", Client.AuthMethod.CLIENT_SECRET_BASIC)
        with transaction.atomic():
            client.token_endpoint_auth_method = requested
            client.save(update_fields=["token_endpoint_auth_method"])
            if "scope" in metadata:
                client.allowed_scopes.set(Scope.objects.filter(name__in=str(metadata["scope"]).split()))
    data["token_endpoint_auth_method"] = client.token_endpoint_auth_method
    # DOT derives this from the request's Host; the public origin is the one clients must use.
    data["registration_client_uri"] = settings.PUBLIC_URL + reverse(
        "oauth2_provider:dcr-register-management", kwargs={"client_id": client.client_id}
    )
    data["client_id_issued_at"] = int(client.created.timestamp())
    scopes = client.allowed_scope_names()
    if scopes:
        data["scope"] = " ".join(sorted(scopes))
    if client.client_type == Client.CLIENT_CONFIDENTIAL:
        data["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: 0 means it does not expire.
    return JsonResponse(data, status=response.status_code)


def _metadata(request) -> dict:
    try:
        data = json.loads(request.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class RegistrationView(DynamicClientRegistrationView):
    """``POST /register``."""

    def post(self, request, *args, **kwargs):
        throttle = RegistrationThrottle()
        if not throttle.allow_request(request, self):
            response = registration_error("rate_limited", "Too many registrations from this address; try again later.", 429)
            response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
            return response
        refused = check_metadata(request.body)
        if refused is not None:
            return refused
        # One transaction for DOT's insert and our completion (auth method, scopes): a failure in
        # between must not leave a client registered with the wrong token_endpoint_auth_method.
        with transaction.atomic():
            return complete_registration(super().post(request, *args, **kwargs), _metadata(request))


class RegistrationManagementView(DynamicClientRegistrationManagementView):
    """``GET/PUT/DELETE /register/<client_id>`` (RFC 7592)."""

    def get(self, request, client_id, *args, **kwargs):
        return complete_registration(super().get(request, client_id, *args, **kwargs), {})

    def put(self, request, client_id, *args, **kwargs):
        refused = check_metadata(request.body)
        if refused is not None:
            return refused
        return complete_registration(super().put(request, client_id, *args, **kwargs), _metadata(request))
