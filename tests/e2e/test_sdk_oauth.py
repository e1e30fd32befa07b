"""The official MCP Python SDK (``mcp`` 2.3.0) completes OAuth against a real daphne, from the 401.

The SDK's ``streamable_http_client`` runs on an ``httpx2.AsyncClient`` whose ``auth`` is
``mcp.client.auth.OAuthClientProvider``, exactly as an MCP client configures it::

    async with Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(auth=provider))):
        ...

Its first request, ``POST /mcp`` (``server/discover``: ``Client`` defaults to ``mode="auto"``),
is answered ``401`` with ``WWW-Authenticate: Bearer resource_metadata=…, scope="mcp"``
(AUTH-04, AUTH-05, AUTH-06). The provider then discovers the protected resource metadata it
names (AUTH-15, AUTH-16), the authorization server metadata with its issuer check (AUTH-22,
AUTH-23), registers dynamically (AUTH-31), authorizes with PKCE S256 and ``resource``
(AUTH-34, AUTH-38) through a headless login and consent, checks the RFC 9207 ``iss`` (AUTH-25,
CLAUDE-19), exchanges the code and retries the ``POST /mcp`` with the token, in the order
Claude does (CLAUDE-07).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.oauth_browserless import LOOPBACK_REDIRECT_URI as REDIRECT_URI
from tests.support.oauth_browserless import (
    Exchange,
    HeadlessUserAgent,
    InMemoryTokenStorage,
    make_provider,
    recording_client,
)

pytestmark = [pytest.mark.e2e]

TIMEOUT = 30  # seconds, for the whole flow; no step waits on anything but the server


@pytest.mark.asyncio
async def test_sdk_oauth_client_provider_completes_authorization(daphne_server):
    """AUTH-04, AUTH-05, AUTH-06, AUTH-07, AUTH-15, AUTH-16, AUTH-22, AUTH-23, AUTH-25, AUTH-31,
    AUTH-34, AUTH-38, CLAUDE-07, CLAUDE-19.

    The SDK connects to /mcp from the 401, having made exactly Claude's sequence of requests,
    with a Bearer access token and a refresh token in its TokenStorage; the refresh token it
    stored then works, with rotation, both through the provider's own refresh before an MCP
    request and in a direct refresh grant.
    """
    url = daphne_server.url
    agent = HeadlessUserAgent(username="alice", password="wonderland-42", timeout=TIMEOUT)
    storage = InMemoryTokenStorage()
    provider = make_provider(url, agent, storage)
    log: list[Exchange] = []

    with anyio.fail_after(TIMEOUT):
        async with (
            recording_client(log, auth=provider, timeout=httpx2.Timeout(TIMEOUT)) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
                connected_log = list(log)

                # CLAUDE-07: POST /mcp → 401 → PRM (the challenge's resource_metadata, which is the
                # path-inserted URL) → RFC 8414 metadata → DCR → token → the same POST /mcp again;
                # the browser part (authorize, login, consent) ran in between, outside the SDK's client.
                assert [e.line for e in connected_log] == [
                    ("POST", f"{url}/mcp", 401),
                    ("GET", f"{url}/.well-known/oauth-protected-resource/mcp", 200),
                    ("GET", f"{url}/.well-known/oauth-authorization-server", 200),
                    ("POST", f"{url}/register", 201),
                    ("POST", f"{url}/token", 200),
                    ("POST", f"{url}/mcp", 200),
                ]
                challenge, retry = connected_log[0], connected_log[-1]
                token_request = connected_log[4].form
                assert client.protocol_version == "2026-07-28"

                # AUTH-34: the provider refreshes by itself, with client_id and resource, before
                # sending a request once it believes the access token expired (no 401 needed).
                tokens = storage.tokens
                assert tokens is not None and tokens.refresh_token
                first_refresh = tokens.refresh_token
                provider.context.token_expiry_time = time.time() - 1
                log.clear()
                who = await client.call_tool("whoami", {})
                refresh_log = list(log)

    # AUTH-04, AUTH-05, AUTH-06, AUTH-07: the first request had no token and got a challenge
    # naming the PRM and the scope, without error= (no credentials were sent).
    assert challenge.rpc_method == retry.rpc_method == "server/discover"
    assert "authorization" not in challenge.request_headers
    www_authenticate = challenge.response_headers["www-authenticate"]
    assert www_authenticate.startswith("Bearer ")
    assert f'resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"' in www_authenticate
    assert 'scope="mcp"' in www_authenticate
    assert "error=" not in www_authenticate
    assert retry.request_headers["authorization"] == f"Bearer {tokens.access_token}"

    # AUTH-15, AUTH-16: the PRM the SDK accepted names the resource and this server.
    prm = provider.context.protected_resource_metadata
    assert prm is not None
    assert str(prm.resource) == f"{url}/mcp"
    assert [str(server) for server in prm.authorization_servers] == [url]

    # AUTH-22, AUTH-23: the SDK's issuer check passed on the byte-exact issuer; S256 advertised.
    metadata = provider.context.oauth_metadata
    assert metadata is not None
    assert str(metadata.issuer) == url
    assert metadata.code_challenge_methods_supported == ["S256"]

    # AUTH-31: dynamic registration gave a public client; the SDK stored it, bound (SEP-2352) to our issuer.
    client_info = storage.client_info
    assert client_info is not None
    assert client_info.client_id.startswith("client_")
    assert client_info.token_endpoint_auth_method == "none"
    assert client_info.client_secret is None
    assert client_info.issuer == url

    # AUTH-34, AUTH-38: one authorization request, with PKCE S256, state and the MCP resource.
    assert len(agent.authorization_urls) == 1
    authorize = urlsplit(agent.authorization_urls[0])
    params = {name: values[0] for name, values in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{url}/authorize"
    assert params["response_type"] == "code"
    assert params["client_id"] == client_info.client_id
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["resource"] == f"{url}/mcp"
    assert params["state"]
    # ...and the code exchange repeats resource and carries the PKCE verifier, without a secret.
    assert token_request["grant_type"] == "authorization_code"
    assert token_request["resource"] == f"{url}/mcp"
    assert token_request["client_id"] == client_info.client_id
    assert token_request["redirect_uri"] == REDIRECT_URI
    assert len(token_request["code_verifier"]) >= 43
    assert "client_secret" not in token_request

    # AUTH-25, CLAUDE-19: the redirect carried code, state and iss == issuer, byte for byte.
    (redirect,) = agent.redirects
    assert redirect.location.startswith(REDIRECT_URI + "?")
    assert redirect.code
    assert redirect.state == params["state"]
    assert redirect.iss == url

    # The SDK holds real tokens.
    assert tokens is not None
    assert tokens.token_type == "Bearer"
    assert tokens.access_token
    assert tokens.refresh_token
    assert tokens.expires_in and tokens.expires_in > 0
    assert "mcp" in (tokens.scope or "").split()

    # The refresh before the next MCP request (see above), then the MCP requests of call_tool
    # (after the call the SDK lists the tools, to check structuredContent against the tool's
    # output schema), each with the new token.
    assert [e.line for e in refresh_log] == [("POST", f"{url}/token", 200)] + [("POST", f"{url}/mcp", 200)] * (
        len(refresh_log) - 1
    )
    assert [e.rpc_method for e in refresh_log[1:]] == ["tools/call", "tools/list"]
    log = refresh_log
    assert log[0].form["grant_type"] == "refresh_token"
    assert log[0].form["refresh_token"] == first_refresh
    assert log[0].form["client_id"] == client_info.client_id
    assert log[0].form["resource"] == f"{url}/mcp"
    refreshed = storage.tokens
    assert refreshed is not None and refreshed.token_type == "Bearer"
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != first_refresh  # rotated
    assert {e.request_headers["authorization"] for e in log[1:]} == {f"Bearer {refreshed.access_token}"}
    assert who.structured_content["client_id"] == client_info.client_id
    assert who.structured_content["username"] == "alice"

    # The stored refresh token also works in a plain refresh grant (public client: client_id, no
    # secret; resource as AUTH-34 requires) and is rotated again.
    with anyio.fail_after(TIMEOUT):
        async with httpx.AsyncClient(timeout=TIMEOUT) as plain:
            response = await plain.post(
                f"{url}/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refreshed.refresh_token,
                    "client_id": client_info.client_id,
                    "resource": f"{url}/mcp",
                },
            )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert body["refresh_token"] and body["refresh_token"] != refreshed.refresh_token
