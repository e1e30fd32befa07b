"""The admin: clients (secret shown once), scopes, and token revocation."""

from __future__ import annotations

import hashlib
import re
from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken

from oauth_app.models import Client, Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(db):
    user = get_user_model().objects.create_superuser("boss", password="boss-pass-123")
    http = HttpClient()
    http.force_login(user)
    return http


def test_add_client_shows_secret_once(admin_browser, client):
    response = admin_browser.post("/admin/oauth_app/client/add/", {
        "name": "Back office", "client_id": "client_manual_backoffice_0001", "client_type": "confidential",
        "authorization_grant_type": "client-credentials", "redirect_uris": "",
        "token_endpoint_auth_method": "client_secret_basic", "is_active": "on", "allowed_origins": "",
        "allowed_scopes": [Scope.objects.get(name="mcp").pk],
    }, follow=True)
    assert response.status_code == HTTPStatus.OK
    messages = [str(m) for m in response.context["messages"]]
    secret = re.search(r"Client secret for client_manual_backoffice_0001: (\S+)", " ".join(messages)).group(1)
    stored = Client.objects.get(client_id="client_manual_backoffice_0001")
    assert stored.client_secret.startswith("client_secret_sha256$")
    assert stored.allowed_scope_names() == {"mcp"}
    token = client.post("/token", {"grant_type": "client_credentials", "client_id": stored.client_id,
                                   "client_secret": secret, "scope": "mcp"})
    assert token.status_code == HTTPStatus.OK
    change_page = admin_browser.get(f"/admin/oauth_app/client/{stored.pk}/change/")
    assert secret not in change_page.content.decode()


def test_admin_refuses_dangerous_redirect(admin_browser):
    response = admin_browser.post("/admin/oauth_app/client/add/", {
        "name": "Bad", "client_id": "client_bad", "client_type": "public", "authorization_grant_type": "authorization-code",
        "redirect_uris": "http://evil.example/cb", "token_endpoint_auth_method": "none", "allowed_origins": "",
    })
    assert response.status_code == HTTPStatus.OK
    assert "only allowed for loopback hosts" in response.content.decode()
    assert not Client.objects.filter(client_id="client_bad").exists()


@pytest.mark.parametrize("path", [
    "/admin/oauth_app/client/", "/admin/oauth_app/scope/", "/admin/oauth2_provider/accesstoken/",
    "/admin/oauth2_provider/refreshtoken/", "/admin/oauth2_provider/grant/",
])
def test_changelists_render_with_search(admin_browser, path, public_client):
    assert admin_browser.get(path, {"q": "test"}).status_code == HTTPStatus.OK


def test_scope_is_editable(admin_browser):
    scope = Scope.objects.get(name="admin")
    response = admin_browser.post(f"/admin/oauth_app/scope/{scope.pk}/change/", {
        "name": "admin", "description": "Run the place", "grantable_by": "listed",
    })
    assert response.status_code == HTTPStatus.FOUND
    scope.refresh_from_db()
    assert (scope.description, scope.grantable_by) == ("Run the place", "listed")


def test_revoke_action_on_access_tokens(admin_browser, token_pair, client):
    tokens = token_pair()
    row = AccessToken.objects.get(token_checksum=hashlib.sha256(tokens["access_token"].encode()).hexdigest())
    response = admin_browser.post("/admin/oauth2_provider/accesstoken/", {
        "action": "revoke_tokens", "_selected_action": [row.pk],
    })
    assert response.status_code == HTTPStatus.FOUND
    assert not AccessToken.objects.filter(pk=row.pk).exists()


class TestSigningKeyAdmin:
    def test_no_private_key_material_is_shown(self, admin_browser):
        from oauth_app.models import SigningKey

        key = SigningKey.objects.get(state="active")
        page = admin_browser.get(f"/admin/oauth_app/signingkey/{key.pk}/change/").content.decode()
        assert key.kid in page
        assert "PRIVATE" not in page and "private_key" not in page
        assert admin_browser.get("/admin/oauth_app/signingkey/add/").status_code == HTTPStatus.FORBIDDEN

    def test_rotate_and_retire_actions_follow_the_command_rules(self, admin_browser, token_pair):
        from oauth_app import keys
        from oauth_app.models import SigningKey

        token_pair()
        old = SigningKey.objects.get(state="active")
        nxt = keys.create_key("ES256")
        admin_browser.post("/admin/oauth_app/signingkey/", {"action": "activate_key", "_selected_action": [nxt.pk]})
        assert SigningKey.objects.get(pk=nxt.pk).state == "active"
        refused = admin_browser.post("/admin/oauth_app/signingkey/", {"action": "retire_keys", "_selected_action": [old.pk]},
                                     follow=True)
        assert "unexpired token" in refused.content.decode()
        assert SigningKey.objects.get(pk=old.pk).state == "retiring"
        confirm = admin_browser.post("/admin/oauth_app/signingkey/", {"action": "force_retire_keys", "_selected_action": [old.pk]})
        assert b"Yes, I" in confirm.content
        admin_browser.post("/admin/oauth_app/signingkey/", {"action": "force_retire_keys", "_selected_action": [old.pk],
                                                            "confirmed": "yes"})
        assert SigningKey.objects.get(pk=old.pk).state == "retired"
