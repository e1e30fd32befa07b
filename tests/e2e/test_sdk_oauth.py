"""The official MCP Python SDK (``mcp`` 2.3.0) completes OAuth against a real daphne.

``mcp.client.auth.OAuthClientProvider`` discovers the protected resource metadata of
``{PUBLIC_URL}/mcp`` (AUTH-15, AUTH-16), the authorization server metadata with its issuer
check (AUTH-22, AUTH-23), registers dynamically (AUTH-31), authorizes with PKCE S256 and
``resource`` (AUTH-34, AUTH-38) through a headless login and consent, checks the RFC 9207
``iss`` (AUTH-25, CLAUDE-19) and exchanges the code, in the order Claude does (CLAUDE-07).

How the flow is started, for now. In 2.3.0 the provider (an ``httpx2.Auth``) begins
discovery only when the request it authenticates is answered ``401`` (or ``403
insufficient_scope``); it has no proactive entry point, and probing the well-known URLs
without a ``WWW-Authenticate`` header is still a reaction to that ``401``. ``/mcp`` does not
exist yet (it answers 404), so :func:`tests.support.oauth_browserless.authorize_like_provider`
replays the provider's 401 branch with the SDK's own building blocks and methods, against
the real server, with nothing faked. Once ``/mcp`` exists this test switches to the plain
flow, a change confined to :func:`sdk_authorize` below::

    async with Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(auth=provider))):
        ...

(``Client`` from ``mcp``, ``streamable_http_client`` from ``mcp.client.streamable_http``);
the ``401`` from ``/mcp`` then triggers the same requests, plus the ``POST /mcp`` first.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata

from tests.support.oauth_browserless import (
    Exchange,
    HeadlessUserAgent,
    InMemoryTokenStorage,
    authorize_like_provider,
    recording_client,
)

pytestmark = [pytest.mark.e2e]

TIMEOUT = 30  # seconds, for the whole flow; no step waits on anything but the server
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never fetched: the redirect is parsed


def make_provider(url: str, agent: HeadlessUserAgent, storage: InMemoryTokenStorage) -> OAuthClientProvider:
    """The SDK's provider as an MCP client configures it: a public client on a loopback redirect."""
    return OAuthClientProvider(
        server_url=f"{url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK e2e",
            redirect_uris=[REDIRECT_URI],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=agent.redirect_handler,
        callback_handler=agent.callback_handler,
    )


async def sdk_authorize(provider: OAuthClientProvider, log: list[Exchange]) -> None:
    """The SDK's whole authorization, every request it makes recorded in ``log``.

    Switch point: with ``/mcp`` in place this becomes a ``streamable_http_client`` session on
    a ``recording_client(log, auth=provider)``.
    """
    async with recording_client(log, timeout=TIMEOUT) as http:
        await authorize_like_provider(provider, http)


@pytest.mark.asyncio
async def test_sdk_oauth_client_provider_completes_authorization(daphne_server):
    """AUTH-15, AUTH-16, AUTH-22, AUTH-23, AUTH-25, AUTH-31, AUTH-34, AUTH-38, CLAUDE-07, CLAUDE-19.

    The SDK ends with a Bearer access token and a refresh token in its TokenStorage, having
    made exactly Claude's sequence of requests; the refresh token it stored then works, with
    rotation, both through the provider's own refresh and in a direct refresh grant.
    """
    url = daphne_server.url
    agent = HeadlessUserAgent(username="alice", password="wonderland-42", timeout=TIMEOUT)
    storage = InMemoryTokenStorage()
    provider = make_provider(url, agent, storage)
    log: list[Exchange] = []

    with anyio.fail_after(TIMEOUT):
        await sdk_authorize(provider, log)

    # CLAUDE-07: PRM (path-inserted form first, found there) → RFC 8414 metadata → DCR → token;
    # the browser part (authorize, login, consent) ran in between, outside the SDK's client.
    assert [e.line for e in log] == [
        ("GET", f"{url}/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{url}/.well-known/oauth-authorization-server", 200),
        ("POST", f"{url}/register", 201),
        ("POST", f"{url}/token", 200),
    ]
    token_request = log[-1].form

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
    tokens = storage.tokens
    assert tokens is not None
    assert tokens.token_type == "Bearer"
    assert tokens.access_token
    assert tokens.refresh_token
    assert tokens.expires_in and tokens.expires_in > 0
    assert "mcp" in (tokens.scope or "").split()
    first_refresh = tokens.refresh_token

    # AUTH-34: the provider refreshes by itself, with client_id and resource, before sending a
    # request once it believes the access token expired (the one path of 2.3.0 that needs no
    # 401). The request it authenticates goes to a public document, so its answer is moot.
    provider.context.token_expiry_time = time.time() - 1
    log.clear()
    with anyio.fail_after(TIMEOUT):
        async with recording_client(log, timeout=TIMEOUT, auth=provider) as http:
            await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")
    assert [e.line for e in log] == [
        ("POST", f"{url}/token", 200),
        ("GET", f"{url}/.well-known/oauth-protected-resource/mcp", 200),
    ]
    assert log[0].form["grant_type"] == "refresh_token"
    assert log[0].form["refresh_token"] == first_refresh
    assert log[0].form["client_id"] == client_info.client_id
    assert log[0].form["resource"] == f"{url}/mcp"
    refreshed = storage.tokens
    assert refreshed is not None and refreshed.token_type == "Bearer"
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != first_refresh  # rotated

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
