"""Built-in tools, resources and prompts, useful to an operator talking to this server through Claude.

They reach the authorization server only through ``oauth_app``'s public functions (the same
revocation code the admin uses).
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from oauth_app import revocation
from oauth_app.models import Client, Scope

from ..db import database_sync_to_async
from .registry import PromptArgument, ToolContext, ToolError, registry


@database_sync_to_async
def _username(subject: str, client_id: str) -> str | None:
    if subject == client_id or not subject.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(subject)).values_list("username", flat=True).first()


@registry.tool(scopes=("mcp",), title="Who am I", annotations={"readOnlyHint": True, "openWorldHint": False},
               output_schema={"type": "object", "properties": {
                   "subject": {"type": "string"}, "username": {"type": ["string", "null"]},
                   "client_id": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}},
                   "expires_at": {"type": "string"}}, "required": ["subject", "client_id", "scopes", "expires_at"]})
async def whoami(context: ToolContext) -> dict:
    """Who this connection acts for: the user, the client, the granted scopes and when the token expires."""
    principal = context.principal
    return {
        "subject": principal.subject,
        "username": await _username(principal.subject, principal.client_id),
        "client_id": principal.client_id,
        "scopes": sorted(principal.scopes),
        "expires_at": principal.expires_at.isoformat(),
    }


def _describe(client: Client) -> dict:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "registration_source": client.registration_source,
        "client_type": client.client_type,
        "active": client.is_active,
        "redirect_uris": client.redirect_uris.split(),
        "created": client.created.isoformat(),
    }


@registry.tool(scopes=("mcp", "admin"), title="List OAuth clients", annotations={"readOnlyHint": True})
def list_clients(search: str = "", limit: int = 50) -> list[dict]:
    """List the OAuth clients registered here (newest first), optionally filtered by name or client id."""
    queryset = Client.objects.order_by("-created")
    if search:
        queryset = queryset.filter(name__icontains=search) | queryset.filter(client_id__icontains=search)
    return [_describe(client) for client in queryset[: max(1, min(limit, 500))]]


@registry.tool(scopes=("mcp", "admin"), title="Revoke a client's tokens",
               annotations={"destructiveHint": True, "idempotentHint": True, "readOnlyHint": False})
def revoke_client_tokens(client_id: str) -> str:
    """Revoke every access and refresh token of one client, effective immediately."""
    client = Client.objects.filter(client_id=client_id).first()
    if client is None:
        raise ToolError(f"No client with id {client_id}.")
    count = revocation.revoke_client_tokens(client)
    return f"Revoked {count} access token(s) of {client.name or client.client_id}; its refresh tokens are revoked too."


def _json(value) -> str:
    return json.dumps(value, indent=2)


@registry.resource("mcp://client/registration", name="client-registration", title="This connection's client",
                   description="The OAuth client registration this connection uses.")
def client_registration(context: ToolContext) -> str:
    client = Client.objects.filter(client_id=context.principal.client_id).first()
    return _json(_describe(client) if client else {"client_id": context.principal.client_id})


@registry.resource("mcp://clients/{client_id}", name="client", description="Any client's registration (admin).",
                   scopes=("mcp", "admin"))
def client_by_id(context: ToolContext, client_id: str) -> str | None:
    client = Client.objects.filter(client_id=client_id).first()
    return _json(_describe(client)) if client is not None else None


def _scope_names(context: ToolContext, prefix: str) -> list[str]:
    return [name for name in Scope.objects.order_by("name").values_list("name", flat=True) if name.startswith(prefix)]


@registry.prompt("explain_scope", description="Explain what granting an OAuth scope of this server allows.",
                 arguments=[PromptArgument("scope", "The scope name, e.g. mcp", required=True)],
                 completions={"scope": _scope_names})
def explain_scope(context: ToolContext, scope: str) -> str:
    description = Scope.objects.filter(name=scope).values_list("description", flat=True).first() or "an unknown scope"
    return (f"Explain to me, in two sentences, what an application can do on this server when I grant it the "
            f"OAuth scope '{scope}' ({description}).")
