"""``/account/apps``: a person sees what they authorized and revokes it (CSRF POST, 303)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken

from activity.models import Event
from oauth_app.tokens import token_checksum
from tests.conftest import RESOURCE

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_sign_in():
    response = HttpClient().get("/account/apps")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/login?next=/account/apps")


def test_lists_each_authorized_client_with_scopes_and_times(browser, public_client, token_pair, make_client):
    token_pair(scope="mcp user")
    other, _ = make_client(name="Other app")
    page = browser.get("/account/apps")
    assert page.status_code == HTTPStatus.OK
    [app] = page.context["apps"]
    assert (app.client, app.scopes) == (public_client, ["mcp", "user"])
    assert app.authorized_at is not None and app.last_used is not None
    html = page.content.decode()
    assert "Test client" in html and "Other app" not in html


def test_revoke_is_csrf_protected_post_303_and_ends_only_this_clients_tokens(
        browser, public_client, token_pair, make_client, alice):
    """DJ-07: revoking ends that client's tokens for this person at once (the verifier checks the row)."""
    from oauth_app.tokens import verify_access_token
    from oauth_app.exceptions import InvalidToken

    mine = token_pair()["access_token"]
    other, _ = make_client(name="Other app")
    keep = token_pair(target=other)["access_token"]
    url = f"/account/apps/{public_client.pk}/revoke"
    assert browser.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert browser.post(url).status_code == HTTPStatus.FORBIDDEN  # no CSRF token
    assert AccessToken.objects.filter(token_checksum=token_checksum(mine)).exists()
    page = browser.get("/account/apps")
    response = browser.post(url, {"csrfmiddlewaretoken": str(page.context["csrf_token"])})
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/account/apps"
    with pytest.raises(InvalidToken):
        verify_access_token(mine, RESOURCE)
    assert verify_access_token(keep, RESOURCE).client_id == other.client_id
    event = Event.objects.get(kind="token.revoked")
    assert (event.actor, event.user, event.client_id) == ("user", alice, public_client.client_id)
    after = browser.get("/account/apps")
    assert [app.client for app in after.context["apps"]] == [other]
    assert "can no longer access your account" in after.content.decode()


def test_cannot_revoke_for_someone_else(browser, public_client, token_pair, make_client):
    """Revoking only ever touches the signed-in person's own tokens."""
    from django.contrib.auth import get_user_model

    token_pair()  # alice's token
    bob = get_user_model().objects.create_user("bob", password="bob-pass-123")
    http = HttpClient()
    http.force_login(bob)
    assert http.post(f"/account/apps/{public_client.pk}/revoke").status_code == HTTPStatus.SEE_OTHER
    assert AccessToken.objects.filter(user__username="alice").count() == 1
    assert http.post("/account/apps/999999/revoke").status_code == HTTPStatus.NOT_FOUND
