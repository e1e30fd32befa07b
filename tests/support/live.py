"""A client's side of a real server, for concurrency and load tests: sign-in, tokens, MCP calls.

Everything goes over HTTP (``httpx.AsyncClient``) to a daphne started by
:mod:`tests.support.daphne`; nothing reads the server's database. The person's login and
consent are :func:`tests.support.oauth_browserless.headless_consent`, the same walk a browser does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from mcp.shared.auth import OAuthClientMetadata

from tests.support.daphne import DaphneServer
from tests.support.oauth import Pkce
from tests.support.oauth_browserless import headless_consent

REDIRECT_URI = "http://127.0.0.1:33418/callback"  # parsed from the redirect, never fetched
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"

# CLAUDE-05: the registration body Claude sends, as quoted in the checklist (not tidied up).
CLAUDE_REGISTRATION = {
    "client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
    "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    "response_types": ["code"], "token_endpoint_auth_method": "client_secret_post",
}


# What the official MCP SDK's OAuthClientProvider registers (its OAuthClientMetadata, serialised as it sends it).
SDK_REGISTRATION = OAuthClientMetadata(
    client_name="live", redirect_uris=["http://localhost:33418/callback"], grant_types=["authorization_code", "refresh_token"],
    response_types=["code"], token_endpoint_auth_method="none",
).model_dump(by_alias=True, mode="json", exclude_none=True)


def create_public_client(server: DaphneServer, client_id: str) -> str:
    """A public authorization-code client with the loopback :data:`REDIRECT_URI` (set up like an admin would)."""
    server.manage("shell", "-c", (
        "from oauth_app.models import Client;"
        f"Client.objects.create(name='live', client_id={client_id!r}, client_type='public',"
        f"authorization_grant_type='authorization-code', redirect_uris={REDIRECT_URI!r},"
        "token_endpoint_auth_method='none')"))
    return client_id


async def authorize(server: DaphneServer, client_id: str, username: str, password: str) -> tuple[str, Pkce]:
    """Sign in and consent; return the code and its PKCE pair."""
    pkce = Pkce.new()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "mcp",
                       "state": secrets.token_urlsafe(8), "code_challenge": pkce.challenge,
                       "code_challenge_method": "S256"})
    redirect = await headless_consent(f"{server.url}/authorize?{query}", username=username, password=password)
    assert redirect.code, redirect
    return redirect.code, pkce


async def exchange(http: httpx.AsyncClient, server: DaphneServer, client_id: str, code: str, pkce: Pkce) -> httpx.Response:
    return await http.post(f"{server.url}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": client_id,
        "code_verifier": pkce.verifier})


async def refresh(http: httpx.AsyncClient, server: DaphneServer, client_id: str, refresh_token: str) -> httpx.Response:
    return await http.post(f"{server.url}/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id})


async def revoke(http: httpx.AsyncClient, server: DaphneServer, client_id: str, token: str) -> httpx.Response:
    return await http.post(f"{server.url}/revoke", data={"token": token, "client_id": client_id})


@dataclass
class Mcp:
    """MCP requests with one bearer token, in either era."""

    http: httpx.AsyncClient
    server: DaphneServer
    token: str

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": ACCEPT, "Content-Type": "application/json", **extra}

    async def initialize(self) -> httpx.Response:
        return await self.http.post(f"{self.server.url}/mcp", headers=self._headers(**{"MCP-Protocol-Version": LEGACY}),
                                    json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                                        "protocolVersion": LEGACY, "capabilities": {},
                                        "clientInfo": {"name": "live", "version": "1"}}})

    async def legacy(self, session_id: str, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = self._headers(**{"MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": session_id})
        return await self.http.post(f"{self.server.url}/mcp", headers=headers,
                                    json={"jsonrpc": "2.0", "id": 2, "method": method, "params": params or {}})

    async def modern(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
        headers = self._headers(**{"MCP-Protocol-Version": MODERN, "Mcp-Method": method})
        return await self.http.post(f"{self.server.url}/mcp", headers=headers, json={
            "jsonrpc": "2.0", "id": 3, "method": method, "params": {**(params or {}), "_meta": meta}})
