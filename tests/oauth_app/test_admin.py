"""The operator's console: client presets and form rules, the client page, read-only tokens and
grants, signing-key buttons, LogEntry for every action, and the admin index."""

from __future__ import annotations

import hashlib
import uuid
from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken, RefreshToken

from activity.models import Event
from oauth_app.models import Client, Scope, SigningKey
from oauth_app.presets import BY_KEY, PRESETS

pytestmark = pytest.mark.django_db

ADD = "/admin/oauth_app/client/add/"


@pytest.fixture
def boss(db):
    return get_user_model().objects.create_superuser("boss", password="boss-pass-123")


@pytest.fixture
def admin_browser(boss):
    http = HttpClient()
    http.force_login(boss)
    return http


def client_form(**fields) -> dict:
    data = {"name": "A client", "client_id": f"client_{uuid.uuid4().hex[:22]}", "client_type": "public", "authorization_grant_type": "authorization-code",
            "token_endpoint_auth_method": "none", "redirect_uris": "https://claude.ai/api/mcp/auth_callback",
            "is_active": "on", "allowed_origins": ""}
    data.update(fields)
    return data


def checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class TestAddClient:
    def test_confidential_client_secret_is_shown_once_on_the_client_page(self, admin_browser, client):
        """DJ-07: the secret is generated server-side, shown once on the client page the add view
        lands on, works at /token, and is never shown again (only its hash is stored)."""
        response = admin_browser.post(ADD, client_form(
            name="Back office", client_id="client_manual_backoffice_0001", client_type="confidential",
            authorization_grant_type="client-credentials", redirect_uris="",
            token_endpoint_auth_method="client_secret_basic", allowed_scopes=[Scope.objects.get(name="mcp").pk],
        ))
        stored = Client.objects.get(client_id="client_manual_backoffice_0001")
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == f"/admin/oauth_app/client/{stored.pk}/change/"
        page = admin_browser.get(response["Location"])
        secret = page.context["new_secret"]["secret"]
        html = page.content.decode()
        assert f'<code id="client-secret">{secret}</code>' in html
        assert html.index('id="client-id"') < html.index('id="client-secret"') < html.index("<fieldset")
        assert stored.client_secret.startswith("client_secret_sha256$")
        assert stored.allowed_scope_names() == {"mcp"}
        token = client.post("/token", {"grant_type": "client_credentials", "client_id": stored.client_id,
                                       "client_secret": secret, "scope": "mcp"})
        assert token.status_code == HTTPStatus.OK
        assert secret not in admin_browser.get(response["Location"]).content.decode()

    @pytest.mark.parametrize("grant", ["implicit", "password", "openid-hybrid",
                                       "urn:ietf:params:oauth:grant-type:device_code"])
    def test_unsupported_grants_are_neither_offered_nor_accepted(self, admin_browser, grant):
        """SEC-01, OAUTH-03, issue 8 item 8: what /register refuses, the admin refuses."""
        page = admin_browser.get(ADD).content.decode()
        assert f'value="{grant}"' not in page
        response = admin_browser.post(ADD, client_form(name="Sneaky", authorization_grant_type=grant))
        assert response.status_code == HTTPStatus.OK
        assert "Select a valid choice" in response.content.decode()
        assert not Client.objects.filter(name="Sneaky").exists()

    def test_auth_method_follows_the_client_type(self, admin_browser):
        """OAUTH-03: a public client authenticates with none, whatever was posted; a confidential
        client cannot pick none."""
        admin_browser.post(ADD, client_form(name="Public", token_endpoint_auth_method="client_secret_basic"))
        assert Client.objects.get(name="Public").token_endpoint_auth_method == "none"
        refused = admin_browser.post(ADD, client_form(name="Conf", client_type="confidential",
                                                      token_endpoint_auth_method="none"))
        assert "A confidential client authenticates with client_secret_basic or client_secret_post." in refused.content.decode()
        assert not Client.objects.filter(name="Conf").exists()

    def test_client_credentials_needs_a_confidential_client(self, admin_browser):
        response = admin_browser.post(ADD, client_form(name="M2M", authorization_grant_type="client-credentials",
                                                       redirect_uris=""))
        assert "Client credentials need a confidential client" in response.content.decode()

    def test_dangerous_redirect_is_refused(self, admin_browser):
        """SEC-02: http redirect URIs only on loopback hosts."""
        response = admin_browser.post(ADD, client_form(name="Bad", redirect_uris="http://evil.example/cb"))
        assert "only allowed for loopback hosts" in response.content.decode()
        assert not Client.objects.filter(name="Bad").exists()

    def test_every_preset_is_offered_and_fills_the_form(self, admin_browser):
        """CLAUDE-02, CLIENT-01..03: each preset fills redirect URIs, client type, grant and auth method."""
        page = admin_browser.get(ADD).content.decode()
        for preset in PRESETS:
            assert f'href="?preset={preset.key}"' in page
            form = admin_browser.get(ADD, {"preset": preset.key}).context["adminform"].form
            assert form.initial["redirect_uris"] == "\n".join(preset.redirect_uris)
            assert (form.initial["client_type"], form.initial["authorization_grant_type"],
                    form.initial["token_endpoint_auth_method"]) == (preset.client_type, preset.grant_type,
                                                                    preset.auth_method)
        assert {"claude", "chatgpt", "cursor", "vscode", "claude-code", "inspector", "web", "m2m"} == set(BY_KEY)

    @pytest.mark.parametrize("key", ["claude", "chatgpt", "vscode", "claude-code", "inspector"])
    def test_preset_values_save_as_a_working_client(self, admin_browser, key):
        """CLAUDE-02: the Claude.ai preset's values are accepted as they are (public, none, PKCE)."""
        preset = BY_KEY[key]
        response = admin_browser.post(ADD, client_form(**preset.initial()))
        assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
        saved = Client.objects.get(name=preset.name)
        assert saved.redirect_uris.split() == list(preset.redirect_uris)
        assert saved.token_endpoint_auth_method == "none"

    def test_adding_is_in_logentry_and_activity(self, admin_browser, boss):
        admin_browser.post(ADD, client_form(name="Logged"))
        saved = Client.objects.get(name="Logged")
        assert LogEntry.objects.filter(user=boss, object_id=str(saved.pk), action_flag=1).exists()
        event = Event.objects.get(kind="client.registered", client_id=saved.client_id)
        assert event.detail["source"] == "admin" and event.actor == "admin:boss"


class TestClientPage:
    def test_view_on_site_does_not_500(self, admin_browser, public_client):
        """Issue 8 item 8: DOT's get_absolute_url reverses an unmounted view; the link is gone."""
        page = admin_browser.get(f"/admin/oauth_app/client/{public_client.pk}/change/")
        assert page.status_code == HTTPStatus.OK
        assert "View on site" not in page.content.decode()
        shortcut = admin_browser.get(f"/admin/r/{page.context['content_type_id']}/{public_client.pk}/")
        assert shortcut.status_code == HTTPStatus.FOUND
        assert shortcut["Location"].endswith(f"/admin/oauth_app/client/{public_client.pk}/change/")

    def test_connection_details_and_recent_activity(self, admin_browser, public_client, token_pair):
        token_pair()
        page = admin_browser.get(f"/admin/oauth_app/client/{public_client.pk}/change/")
        html = page.content.decode()
        assert "Connection details" in html
        for value in ("http://testserver/mcp", "http://testserver/.well-known/oauth-authorization-server",
                      "http://testserver/.well-known/oauth-protected-resource/mcp"):
            assert f"<code>{value}</code>" in html
        assert page.context["summary"].last_token is not None
        kinds = [event.kind for event in page.context["events"]]
        assert kinds[:2] == ["token.issued", "consent.allowed"]

    def test_disabling_in_the_form_revokes_and_is_recorded(self, admin_browser, public_client, token_pair):
        raw = token_pair()["access_token"]
        data = client_form(name=public_client.name, redirect_uris=public_client.redirect_uris)
        del data["is_active"]
        response = admin_browser.post(f"/admin/oauth_app/client/{public_client.pk}/change/", data)
        assert response.status_code == HTTPStatus.FOUND
        assert not AccessToken.objects.filter(token_checksum=checksum(raw)).exists()
        assert Event.objects.filter(kind="client.disabled", client_id=public_client.client_id, actor="admin:boss").exists()
        assert Event.objects.get(kind="token.revoked").actor == "admin:boss"
        assert Event.objects.get(kind="client.changed").detail == {"fields": ["is_active"]}


class TestTokens:
    @pytest.mark.parametrize("model", ["accesstoken", "refreshtoken", "grant"])
    def test_read_only_no_save_no_add(self, admin_browser, token_pair, model):
        """Tokens are read only: no SAVE, no add, no edit by POST; people are shown by name."""
        token_pair()
        listing = admin_browser.get(f"/admin/oauth2_provider/{model}/")
        assert listing.status_code == HTTPStatus.OK
        assert admin_browser.get(f"/admin/oauth2_provider/{model}/add/").status_code == HTTPStatus.FORBIDDEN
        if model == "grant":
            return
        row = (AccessToken if model == "accesstoken" else RefreshToken).objects.get()
        page = admin_browser.get(f"/admin/oauth2_provider/{model}/{row.pk}/change/")
        html = page.content.decode()
        assert 'name="_save"' not in html and "<input type=\"text\"" not in html
        assert "alice" in html and "Test client" in html
        before = AccessToken.objects.values_list("expires", flat=True).get()
        posted = admin_browser.post(f"/admin/oauth2_provider/{model}/{row.pk}/change/", {"expires": "2099-01-01 00:00"})
        assert posted.status_code == HTTPStatus.FORBIDDEN
        assert AccessToken.objects.values_list("expires", flat=True).get() == before

    def test_list_shows_person_client_scope_state_and_filters(self, admin_browser, token_pair):
        token_pair()
        page = admin_browser.get("/admin/oauth2_provider/accesstoken/", {"state": "active"})
        html = page.content.decode()
        assert "alice" in html and "Test client" in html and "active" in html
        assert page.context["cl"].result_count == 1
        assert admin_browser.get("/admin/oauth2_provider/accesstoken/", {"state": "expired"}).context["cl"].result_count == 0

    def test_revoke_action_is_attributed_and_logged(self, admin_browser, token_pair, boss):
        tokens = token_pair()
        row = AccessToken.objects.get(token_checksum=checksum(tokens["access_token"]))
        response = admin_browser.post("/admin/oauth2_provider/accesstoken/", {
            "action": "revoke_selected", "_selected_action": [row.pk]})
        assert response.status_code == HTTPStatus.FOUND
        assert not AccessToken.objects.filter(pk=row.pk).exists()
        assert LogEntry.objects.filter(user=boss, object_id=str(row.pk), change_message="Revoked.").exists()
        event = Event.objects.get(kind="token.revoked")
        assert (event.actor, event.user.username) == ("admin:boss", "alice")
        # The revoked refresh token stays listed, as revoked by the admin.
        refresh = admin_browser.get("/admin/oauth2_provider/refreshtoken/", {"state": "revoked"})
        assert refresh.context["cl"].result_count == 1
        assert "revoked by admin:boss" in refresh.content.decode()


class TestSigningKeys:
    def test_no_private_key_material_and_no_save(self, admin_browser):
        key = SigningKey.objects.get(state="active")
        page = admin_browser.get(f"/admin/oauth_app/signingkey/{key.pk}/change/").content.decode()
        assert key.kid in page
        assert "PRIVATE" not in page and "private_key" not in page
        assert 'name="_save"' not in page
        assert "State timeline" in page
        assert admin_browser.get("/admin/oauth_app/signingkey/add/").status_code == HTTPStatus.FORBIDDEN

    def test_create_next_and_rotate_buttons_confirm_then_act(self, admin_browser, boss):
        listing = admin_browser.get("/admin/oauth_app/signingkey/").content.decode()
        assert "Create next key" in listing and ">Rotate<" in listing
        confirm = admin_browser.get("/admin/oauth_app/signingkey/create/")
        assert b"does not sign yet" in confirm.content
        assert SigningKey.objects.filter(state="next").count() == 0
        admin_browser.post("/admin/oauth_app/signingkey/create/", {"confirmed": "yes", "algorithm": "ES256"})
        nxt = SigningKey.objects.get(state="next")
        again = admin_browser.post("/admin/oauth_app/signingkey/create/", {"confirmed": "yes", "algorithm": "ES256"},
                                   follow=True)
        assert "already waiting as &#x27;next&#x27;" in again.content.decode()  # same rule as the command
        old = SigningKey.objects.get(state="active")
        assert b"becomes active" in admin_browser.get("/admin/oauth_app/signingkey/rotate/").content
        admin_browser.post("/admin/oauth_app/signingkey/rotate/", {"confirmed": "yes"})
        assert SigningKey.objects.get(pk=nxt.pk).state == "active"
        assert SigningKey.objects.get(pk=old.pk).state == "retiring"
        assert LogEntry.objects.filter(user=boss, object_id=str(nxt.pk)).count() == 2  # created, rotated
        kinds = list(Event.objects.filter(kind__startswith="key.", actor="admin:boss").values_list("kind", flat=True))
        assert sorted(kinds) == ["key.activated", "key.created", "key.retiring"]

    def test_retire_actions_follow_the_command_rules(self, admin_browser, token_pair, boss):
        from oauth_app import keys

        token_pair()
        old = SigningKey.objects.get(state="active")
        keys.rotate("ES256")
        refused = admin_browser.post("/admin/oauth_app/signingkey/", {"action": "retire_keys", "_selected_action": [old.pk]},
                                     follow=True)
        assert "unexpired token" in refused.content.decode()
        assert SigningKey.objects.get(pk=old.pk).state == "retiring"
        confirm = admin_browser.post("/admin/oauth_app/signingkey/", {"action": "force_retire_keys", "_selected_action": [old.pk]})
        assert b"Yes, I" in confirm.content
        admin_browser.post("/admin/oauth_app/signingkey/", {"action": "force_retire_keys", "_selected_action": [old.pk],
                                                            "confirmed": "yes"})
        assert SigningKey.objects.get(pk=old.pk).state == "retired"
        assert LogEntry.objects.filter(user=boss, object_id=str(old.pk)).exists()
        assert Event.objects.get(kind="token.revoked").actor == "admin:boss/key-retirement"


class TestIndexAndPeople:
    def test_index_groups_and_hides_id_tokens(self, admin_browser, settings):
        settings.RESOURCE_NAME = "Acme tools"
        page = admin_browser.get("/admin/")
        names = [app["name"] for app in page.context["app_list"]]
        assert names == ["Clients", "Tokens", "Signing keys", "Activity", "People"]
        html = page.content.decode()
        assert "Acme tools · admin" in html
        assert "idtoken" not in html
        assert admin_browser.get("/admin/oauth2_provider/idtoken/").status_code == HTTPStatus.NOT_FOUND

    def test_bulk_revoke_user_tokens_confirms_logs_and_shows_timeline(self, admin_browser, token_pair, alice, boss):
        raw = token_pair()["access_token"]
        confirm = admin_browser.post("/admin/auth/user/", {"action": "revoke_user_tokens", "_selected_action": [alice.pk]})
        assert b"Yes, I" in confirm.content
        assert AccessToken.objects.filter(token_checksum=checksum(raw)).exists()
        admin_browser.post("/admin/auth/user/", {"action": "revoke_user_tokens", "_selected_action": [alice.pk],
                                                 "confirmed": "yes"})
        assert not AccessToken.objects.filter(token_checksum=checksum(raw)).exists()
        assert LogEntry.objects.filter(user=boss, object_id=str(alice.pk), change_message="Revoked all tokens.").exists()
        page = admin_browser.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
        assert "Token revoked by admin:boss" in page and "Consent allowed: mcp" in page

    @pytest.mark.parametrize("path", [
        "/admin/", "/admin/oauth_app/client/", "/admin/oauth_app/scope/", "/admin/oauth2_provider/accesstoken/",
        "/admin/oauth2_provider/refreshtoken/", "/admin/oauth2_provider/grant/", "/admin/activity/event/",
        "/admin/oauth_app/signingkey/",
    ])
    def test_pages_render_with_search(self, admin_browser, path, token_pair):
        token_pair()
        assert admin_browser.get(path, {"q": "test"}).status_code == HTTPStatus.OK

    def test_scope_is_editable(self, admin_browser):
        scope = Scope.objects.get(name="admin")
        response = admin_browser.post(f"/admin/oauth_app/scope/{scope.pk}/change/", {
            "name": "admin", "description": "Run the place", "grantable_by": "listed",
        })
        assert response.status_code == HTTPStatus.FOUND
        scope.refresh_from_db()
        assert (scope.description, scope.grantable_by) == ("Run the place", "listed")
