"""RFC 7591/7592 dynamic client registration, on DOT's registration views.

DOT creates the client, issues the registration access token and serves RFC 7592 management. This
subclass puts the client-metadata policy (:mod:`oauth_app.client_metadata`, shared with CIMD) in front:

* a per-address rate limit (429 with ``Retry-After``);
* the metadata is parsed once (deep nesting, wrong types, ``"client_name": null`` are 400
  ``invalid_client_metadata`` naming the field, never a 500) and **narrowed**: unsupported grant
  types are dropped (Claude's ``jwt-bearer``), and DOT receives only what it can store;
* ``invalid_redirect_uri`` for redirect URIs the policy refuses;
* afterwards, what DOT's model has no field for: the auth method (``client_secret_post``,
  ``private_key_jwt`` with ``jwks_uri``/``jwks``), an optional ``scope``, and the RFC 7591 §3.2.1
  integers ``client_id_issued_at`` and ``client_secret_expires_at``.

:func:`registration_error` is the one place a policy refusal becomes the wire error.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from oauth2_provider.views import DynamicClientRegistrationManagementView, DynamicClientRegistrationView

from ..client_metadata import ClientMetadata, InvalidClientMetadata, narrow, parse
from ..conf import server_capabilities
from ..models import Client, Scope
from ..throttling import RegistrationThrottle

MAX_BODY_BYTES = 64 * 1024


def registration_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def effective_metadata(body: bytes) -> ClientMetadata:
    """The policy applied to a registration body (raises :class:`InvalidClientMetadata`)."""
    metadata = narrow(parse(body, MAX_BODY_BYTES), source="dcr", server=server_capabilities())
    if metadata.scope is not None:
        unknown = set(metadata.scope.split()) - set(Scope.objects.values_list("name", flat=True))
        if unknown:
            raise InvalidClientMetadata(f"scope: unknown scope {' '.join(sorted(unknown))}.")
    return metadata


def hand_to_dot(request, metadata: ClientMetadata) -> None:
    """DOT's views parse ``request.body`` themselves: give them the narrowed metadata instead."""
    request._body = json.dumps(metadata.for_dot()).encode()


def complete_registration(response: HttpResponse, metadata: ClientMetadata | None) -> HttpResponse:
    """Store what DOT's model has no field for, and report the registration truthfully."""
    if response.status_code not in (200, 201):
        return response
    data = json.loads(response.content)
    client = Client.objects.get(client_id=data["client_id"])
    if metadata is not None:
        with transaction.atomic():
            client.apply_metadata(metadata)
            client.save(update_fields=["token_endpoint_auth_method", "jwks_uri", "jwks",
                                       "token_endpoint_auth_signing_alg", "client_type"])
            if metadata.scope is not None:
                client.allowed_scopes.set(Scope.objects.filter(name__in=metadata.scope.split()))
    data["token_endpoint_auth_method"] = client.token_endpoint_auth_method
    data["grant_types"] = list(metadata.grant_types) if metadata is not None else data["grant_types"]
    if client.token_endpoint_auth_method == Client.AuthMethod.PRIVATE_KEY_JWT:
        data.pop("client_secret", None)
        if client.jwks_uri:
            data["jwks_uri"] = client.jwks_uri
        if client.jwks is not None:
            data["jwks"] = client.jwks
        if client.token_endpoint_auth_signing_alg:
            data["token_endpoint_auth_signing_alg"] = client.token_endpoint_auth_signing_alg
    data["response_types"] = ["code"] if client.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE else []
    # DOT derives this from the request's Host; the public origin is the one clients must use.
    data["registration_client_uri"] = settings.PUBLIC_URL + reverse(
        "oauth2_provider:dcr-register-management", kwargs={"client_id": client.client_id}
    )
    data["client_id_issued_at"] = int(client.created.timestamp())
    scopes = client.allowed_scope_names()
    if scopes:
        data["scope"] = " ".join(sorted(scopes))
    if client.token_endpoint_auth_method in (Client.AuthMethod.CLIENT_SECRET_BASIC, Client.AuthMethod.CLIENT_SECRET_POST):
        data["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: 0 means it does not expire.
    return JsonResponse(data, status=response.status_code)


class RegistrationView(DynamicClientRegistrationView):
    """``POST /register``."""

    def post(self, request, *args, **kwargs):
        throttle = RegistrationThrottle()
        if not throttle.allow_request(request, self):
            response = registration_error("rate_limited", "Too many registrations from this address; try again later.", 429)
            response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
            return response
        try:
            metadata = effective_metadata(request.body)
        except InvalidClientMetadata as exc:
            return registration_error(exc.error, exc.description)
        hand_to_dot(request, metadata)
        # One transaction for DOT's insert and our completion (auth method, keys, scopes): a failure in
        # between must not leave a client registered with the wrong token_endpoint_auth_method.
        with transaction.atomic():
            return complete_registration(super().post(request, *args, **kwargs), metadata)


class RegistrationManagementView(DynamicClientRegistrationManagementView):
    """``GET/PUT/DELETE /register/<client_id>`` (RFC 7592)."""

    def get(self, request, client_id, *args, **kwargs):
        return complete_registration(super().get(request, client_id, *args, **kwargs), None)

    def put(self, request, client_id, *args, **kwargs):
        try:
            metadata = effective_metadata(request.body)
        except InvalidClientMetadata as exc:
            return registration_error(exc.error, exc.description)
        hand_to_dot(request, metadata)
        return complete_registration(super().put(request, client_id, *args, **kwargs), metadata)
