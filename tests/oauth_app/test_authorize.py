"""The authorization endpoint: login, consent, PKCE S256, exact redirect matching, iss, scopes."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client as HttpClient

from oauth_app.models import Scope
from tests.conftest import ISSUER, LOOPBACK_CALLBACK, RESOURCE
from tests.support.oauth import Pkce, authorize_query, consent, query_of

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_login(client, public_client):
    """SEC-15: the user authenticates before anything is redirected to the client."""
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/login?next=")


def test_login_page_then_303_back_to_authorize(alice, public_client):
    """SEC-14: the credential POST answers 303 (never 307) and the login form is CSRF-protected."""
    browser = HttpClient(enforce_csrf_checks=True)
    next_url = "/authorize?" + urlencode(authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new()))
    page = browser.get("/login", {"next": next_url})
    assert page.status_code == HTTPStatus.OK
    token = page.context["csrf_token"]
    without_csrf = browser.post("/login", {"username": "alice", "password": "wonderland-42", "next": next_url})
    assert without_csrf.status_code == HTTPStatus.FORBIDDEN
    response = browser.post("/login", {"username": "alice", "password": "wonderland-42", "next": next_url,
                                       "csrfmiddlewaretoken": str(token)})
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == next_url


def test_wrong_password_stays_on_login(alice, client):
    response = client.post("/login", {"username": "alice", "password": "nope"})
    assert response.status_code == HTTPStatus.OK
    assert b"Please enter a correct username and password" in response.content


def test_consent_page_names_client_hosts_and_scopes(browser, make_client):
    """AUTH-30, SEC-17: the page names the client, the redirect host and each scope in plain words."""
    client, _ = make_client(name="Claude", redirect_uris="https://claude.ai/api/mcp/auth_callback")
    params = authorize_query(client.client_id, "https://claude.ai/api/mcp/auth_callback", Pkce.new(), scope="mcp user")
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Claude" in html
    assert "claude.ai" in html
    for scope in Scope.objects.filter(name__in=["mcp", "user"]):
        assert scope.description in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_consent_page_cannot_be_framed(browser, public_client):
    """SEC-13: X-Frame-Options DENY and CSP frame-ancestors 'none' on the consent page."""
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())
    response = browser.get("/authorize?" + urlencode(params))
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response


def test_consent_post_requires_csrf_token(alice, public_client):
    """SEC-17: a cross-site POST of the consent form is refused."""
    attacker = HttpClient(enforce_csrf_checks=True)
    attacker.force_login(alice)
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())
    response = attacker.post("/authorize?" + urlencode(params), {**params, "allow": "Authorize"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_allow_redirects_303_with_code_state_and_iss(browser, public_client):
    """AUTH-25, CLAUDE-19, SEC-14: 303 to the exact redirect URI with code, state and iss == issuer."""
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), state="xyz-state", resource=RESOURCE)
    response = consent(browser, params)
    assert response.status_code == HTTPStatus.SEE_OTHER
    location = response["Location"]
    assert location.startswith(LOOPBACK_CALLBACK + "?")
    query = query_of(location)
    assert query["state"] == "xyz-state"
    assert query["iss"] == ISSUER
    assert query["code"]


def test_deny_redirects_with_access_denied_state_and_iss(browser, public_client):
    """AUTH-25: Deny gives error=access_denied with the state and iss."""
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), state="deny-me")
    response = consent(browser, params, allow=False)
    assert response.status_code == HTTPStatus.SEE_OTHER
    query = query_of(response["Location"])
    assert query == {"error": "access_denied", "state": "deny-me", "iss": ISSUER}


def test_loopback_redirect_any_port(browser, public_client):
    """SEC-01 / RFC 8252 §7.3: a loopback redirect may use any port at request time."""
    other_port = "http://127.0.0.1:51234/callback"
    response = consent(browser, authorize_query(public_client.client_id, other_port, Pkce.new()))
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"].startswith(other_port + "?")


@pytest.mark.parametrize("redirect_uri", [
    "http://127.0.0.1:33418/callback/extra", "http://127.0.0.1:33418/callback?x=1", "https://evil.example/callback",
])
def test_redirect_uri_must_match_exactly(browser, public_client, redirect_uri):
    """AUTH-39: anything but an exact match is refused on a page, never redirected to."""
    params = authorize_query(public_client.client_id, redirect_uri, Pkce.new())
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Location" not in response


def test_unknown_client_is_an_error_page(browser):
    params = authorize_query("client_doesnotexist0000000", LOOPBACK_CALLBACK, Pkce.new())
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    assert "Location" not in response


def redirect_error(browser, public_client, **overrides):
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code == HTTPStatus.FOUND, response.content[:300]
    assert urlsplit(response["Location"])._replace(query="").geturl() == LOOPBACK_CALLBACK
    return query_of(response["Location"])


def test_pkce_is_required(browser, public_client):
    """AUTH-38: no code_challenge -> invalid_request, with iss."""
    query = redirect_error(browser, public_client, code_challenge=None, code_challenge_method=None)
    assert query["error"] == "invalid_request"
    assert query["iss"] == ISSUER


def test_plain_pkce_is_refused(browser, public_client):
    """AUTH-38, DJ-03: only S256."""
    query = redirect_error(browser, public_client, code_challenge="a" * 43, code_challenge_method="plain")
    assert query["error"] == "invalid_request"


@pytest.mark.parametrize("response_type", ["token", "id_token token", "code token"])
def test_implicit_response_types_are_refused(browser, public_client, response_type):
    """SEC: no implicit grant anywhere (RFC 9700 §2.1.2)."""
    query = redirect_error(browser, public_client, response_type=response_type)
    assert query["error"] in {"unsupported_response_type", "unauthorized_client"}
    assert "code" not in query


def test_unknown_scope_is_invalid_scope(browser, public_client):
    """An unknown scope gets invalid_scope."""
    query = redirect_error(browser, public_client, scope="mcp superpowers")
    assert query["error"] == "invalid_scope"
    assert query["iss"] == ISSUER


def test_fragment_in_resource_is_invalid_target(browser, public_client):
    """AUTH-35: a resource with a fragment is not a valid resource indicator."""
    query = redirect_error(browser, public_client, resource=RESOURCE + "#x")
    assert query["error"] == "invalid_target"


def test_non_staff_cannot_grant_admin(browser, public_client):
    """Scopes: admin is staff-only by default; alice's consent withholds it and the code lacks it."""
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), scope="admin mcp")
    page = browser.get("/authorize?" + urlencode(params))
    assert [s.name for s in page.context["grantable"]] == ["mcp"]
    assert page.context["withheld"] == ["admin"]
    assert page.context["form"]["scope"].value() == "mcp"


def test_tampered_scope_field_cannot_add_admin(browser, public_client, client):
    """The hidden scope field is re-checked on POST: a non-staff user cannot smuggle admin in."""
    pkce = Pkce.new()
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, pkce, scope="admin mcp")
    page = browser.get("/authorize?" + urlencode(params))
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields if name != "allow"}
    data.update(scope="admin mcp", allow="Authorize", csrfmiddlewaretoken=str(page.context["csrf_token"]))
    response = browser.post("/authorize?" + urlencode(params), data)
    code = query_of(response["Location"])["code"]
    token = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                   "client_id": public_client.client_id, "code_verifier": pkce.verifier}).json()
    assert token["scope"] == "mcp"


def test_staff_can_grant_admin(staff, public_client, client):
    http = HttpClient()
    http.force_login(staff)
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), scope="admin user mcp")
    page = http.get("/authorize?" + urlencode(params))
    assert [s.name for s in page.context["grantable"]] == ["admin", "user", "mcp"]


def test_scope_granted_to_a_group(browser, alice, public_client):
    """Scopes are editable: listing alice's group on the admin scope lets her grant it."""
    from django.contrib.auth.models import Group

    operators = Group.objects.create(name="operators")
    alice.groups.add(operators)
    Scope.objects.get(name="admin").groups.add(operators)
    params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), scope="admin")
    page = browser.get("/authorize?" + urlencode(params))
    assert [s.name for s in page.context["grantable"]] == ["admin"]


def test_client_allowed_scopes_limit_requests(browser, make_client):
    """A client restricted to some scopes gets invalid_scope for others."""
    client, _ = make_client()
    client.allowed_scopes.set(Scope.objects.filter(name="mcp"))
    params = authorize_query(client.client_id, LOOPBACK_CALLBACK, Pkce.new(), scope="user")
    response = browser.get("/authorize?" + urlencode(params))
    assert query_of(response["Location"])["error"] == "invalid_scope"


def test_disabled_client_cannot_authorize(browser, make_client):
    client, _ = make_client(is_active=False)
    params = authorize_query(client.client_id, LOOPBACK_CALLBACK, Pkce.new())
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    assert "Location" not in response
