"""Fixtures for the ``/mcp`` consumer tests: real tokens, a fresh channel layer, controllable test tools.

Consumer tests run with ``django_db(transaction=True, serialized_rollback=True)``: the consumer
reaches the database from worker threads (``database_sync_to_async``), which only see committed
rows, and ``serialized_rollback`` brings back the rows data migrations created (the ``mcp``,
``user`` and ``admin`` scopes) after each flush. Tokens are minted in *sync* fixtures, before
the test's event loop starts, through the real authorize + consent + token exchange.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient

import tests.conformance_app.streaming  # noqa: F401  (the demo tool start-notification-stream)
from mcp_app.tools.registry import ToolContext, registry
from oauth_app import keys
from tests.conftest import ISSUER, LOOPBACK_CALLBACK, RESOURCE
from tests.support.oauth import Pkce, obtain_code


@dataclass(frozen=True)
class Tokens:
    """Raw bearer tokens for the consumer tests."""

    alice: str  # scope mcp, alice via the public client
    alice_other_client: str  # scope mcp, alice via another client (another principal)
    bob: str  # scope mcp, another user (another principal)
    root: str  # scopes mcp admin, a staff user
    user_only: str  # scope user: lacks the scope every /mcp request needs
    expired: str  # signed by the real key, expired an hour ago
    foreign: str  # signed by the real key, issued for another resource
    wrong_issuer: str  # signed by the real key, another issuer


def forge(**claims) -> str:
    """A JWT signed with the active key, with chosen claims (no database row: verification fails before)."""
    key, private_key = keys.get_signing_key()
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "1", "aud": RESOURCE, "client_id": "client_x", "iat": now, "nbf": now,
               "exp": now + 600, "jti": uuid.uuid4().hex, "scope": "mcp", **claims}
    return jwt.encode(payload, private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "at+jwt"})


@pytest.fixture
def issue_token(client, make_client):
    """Factory: ``issue_token(user, scope="mcp", target=None)`` runs authorize + consent + /token for ``user``."""

    def issue(user, scope: str = "mcp", target=None) -> str:
        target = target or make_client(name=f"client of {user.username} {uuid.uuid4().hex[:6]}")[0]
        browser = HttpClient(enforce_csrf_checks=True)
        browser.force_login(user)
        pkce = Pkce.new()
        code = obtain_code(browser, target.client_id, LOOPBACK_CALLBACK, pkce, scope=scope)
        response = client.post("/token", {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": LOOPBACK_CALLBACK, "client_id": target.client_id,
                                          "code_verifier": pkce.verifier})
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


@pytest.fixture
def tokens(token_pair, issue_token, alice, public_client, make_client) -> Tokens:
    """Every token the consumer tests use (sync: runs before the test's event loop)."""
    users = get_user_model().objects
    bob = users.create_user("bob", password="builder-42")
    root = users.create_user("root", password="staff-password-42", is_staff=True)
    return Tokens(
        alice=token_pair()["access_token"],
        alice_other_client=issue_token(alice, "mcp", make_client(name="Second client")[0]),
        bob=issue_token(bob),
        root=issue_token(root, "mcp admin"),
        user_only=token_pair(scope="user")["access_token"],
        expired=forge(iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        foreign=forge(aud="https://other.example/api"),
        wrong_issuer=forge(iss="https://evil.example"),
    )


@pytest.fixture(autouse=True)
def _close_worker_connections():
    """Close the database connections ``/mcp``'s pool threads opened (``mcp_app.db``), and stop the threads.

    Pool threads keep their connections; Django never closes an in-memory SQLite connection
    (``close()`` is a no-op there), so a connection would outlive the test and the next database-free
    test reaching that thread (a synchronous tool in the dispatcher tests) would trip pytest-django's
    database blocker. Closing it is safe: the test database lives on through the main thread's
    connection (shared cache).
    """
    yield
    from mcp_app.db import pool

    pool.shutdown()


@pytest.fixture
def layer(settings):
    """A fresh in-memory channel layer for this test (changing the setting resets Channels' cache)."""
    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_channel_layer()


@dataclass
class Probe:
    """What the controllable test tools report back to a test (events are bound to the test's loop lazily)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    sent_after_release: int = 0


@pytest.fixture
def probe():
    """Registers ``test-blocker`` and ``test-gate`` in the global registry for one test, then removes them."""
    state = Probe()

    async def blocker(context: ToolContext) -> str:
        """Reports progress once, then waits until cancelled."""
        await context.report_progress(1, None, "started")
        state.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        return "never"

    async def gate(context: ToolContext) -> str:
        """Reports progress, waits for the test to release it, reports again and answers."""
        try:
            await context.report_progress(1, 2, "before the gate")
            state.started.set()
            await state.release.wait()
            await context.report_progress(2, 2, "after the gate")
            state.sent_after_release += 1
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        state.finished.set()
        return "through the gate"

    registry.tool("test-blocker")(blocker)
    registry.tool("test-gate")(gate)
    yield state
    registry.tools.pop("test-blocker", None)
    registry.tools.pop("test-gate", None)
