"""Shared fixtures: people, clients and a logged-in browser for the Django test client."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient

from oauth_app.models import Client
from tests.support.oauth import Pkce, obtain_code

# Every test that starts daphne fails on a traceback or an undeclared 5xx in its server log
# (tests.support.daphne): the hooks are installed here, for every folder.
from tests.support.daphne import pytest_configure, pytest_runtest_call  # noqa: F401

ISSUER = "http://testserver"
RESOURCE = ISSUER + "/mcp"
LOOPBACK_CALLBACK = "http://127.0.0.1:33418/callback"
CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback"


@pytest.fixture(autouse=True)
def _public_url(settings):
    """Tests speak to ``http://testserver``: make that the public origin and issuer."""
    settings.PUBLIC_URL = ISSUER
    settings.ISSUER = ISSUER
    settings.MCP_RESOURCE = RESOURCE
    settings.PROTECTED_RESOURCES = [RESOURCE]
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": ISSUER,
        "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": RESOURCE,
        "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [ISSUER],
    }


@pytest.fixture(autouse=True)
def _activity_inline(settings):
    """Unit tests write activity at once, in the test's thread and transaction (no writer thread);
    what async code recorded and no page flushed is dropped after the test."""
    settings.ACTIVITY_BACKGROUND = False
    yield
    from activity.log import _writer

    _writer._pending.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from oauth_app import client_cache, scopes

    cache.clear()
    scopes.clear_cache()  # a rolled-back test leaves no signal behind: forget what it cached
    client_cache.clear()
    yield
    cache.clear()
    scopes.clear_cache()
    client_cache.clear()


@pytest.fixture(autouse=True)
def _active_signing_key(request, _activity_inline):
    """Tests that touch the database get an active ES256 signing key (cheap to generate)."""
    if not {"db", "transactional_db"} & set(request.fixturenames) and not request.node.get_closest_marker("django_db"):
        yield None
        return
    request.getfixturevalue("db")
    from oauth_app import keys

    key, _ = keys.activate(keys.create_key("ES256").kid)
    yield key
    keys.clear_cache()


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="wonderland-42")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("root", password="staff-password-42", is_staff=True)


@pytest.fixture
def browser(alice) -> HttpClient:
    """A browser session in which alice is signed in (CSRF checks enforced)."""
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(alice)
    return http


@pytest.fixture
def make_client(db):
    """Factory: ``make_client(public=True, redirect_uris=...)`` returns ``(client, secret)``."""

    def make(*, public: bool = True, redirect_uris: str = LOOPBACK_CALLBACK, grant: str = Client.GRANT_AUTHORIZATION_CODE,
             name: str = "Test client", **fields) -> tuple[Client, str | None]:
        secret = None if public else "s3cret-" + "x" * 40
        client = Client(
            name=name,
            client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
            redirect_uris=redirect_uris,
            token_endpoint_auth_method="none" if public else "client_secret_post",
            **fields,
        )
        if secret:
            client.client_secret = secret
        client.full_clean()
        client.save()
        return client, secret

    return make


@pytest.fixture
def public_client(make_client):
    return make_client()[0]


@pytest.fixture
def code_for(browser):
    """Factory: run authorize + consent for a client and return ``(code, pkce)``."""

    def run(client: Client, redirect_uri: str = LOOPBACK_CALLBACK, **kwargs) -> tuple[str, Pkce]:
        pkce = Pkce.new()
        return obtain_code(browser, client.client_id, redirect_uri, pkce, **kwargs), pkce

    return run


@pytest.fixture
def token_pair(client, public_client, code_for):
    """Factory: a full authorization-code exchange; returns the token response JSON."""

    def run(target: Client = None, **kwargs) -> dict:
        target = target or public_client
        code, pkce = code_for(target, **kwargs)
        response = client.post("/token", {
            "grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
            "client_id": target.client_id, "code_verifier": pkce.verifier,
        })
        assert response.status_code == 200, response.content
        return response.json()

    return run
