"""Hostile input at the OAuth endpoints gets the protocol's own error, never a 500 or Django's HTML 400.

Each case is one the issue reproduced as a new user or an attacker would (issue 8, "Why"):
invalid percent-encoding at ``/authorize``, too many form fields at ``/token`` (and the other form
endpoints), and a ``code_verifier`` outside RFC 7636's alphabet or length whose S256 still matches.
"""

from __future__ import annotations

import base64
import hashlib
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from oauth2_provider.models import AccessToken, Grant

from tests.conftest import LOOPBACK_CALLBACK
from tests.support.oauth import Pkce, authorize_query, obtain_code

pytestmark = pytest.mark.django_db

FORM_ENDPOINTS = ["/token", "/revoke", "/introspect"]


def assert_invalid_request(response) -> None:
    """RFC 6749 §5.2: 400, JSON, ``invalid_request``, not cached."""
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


# --- /authorize ------------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("bad", ["%ZZ", "%4", "%G1", "%%"])
def test_authorize_with_invalid_percent_encoding_is_a_400_page(browser, public_client, signed_in, bad):
    """AUTH-13: a malformed authorization request is a 400 page (the client is not known: no redirect)."""
    http = browser if signed_in else HttpClient()
    query = urlencode(authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())) + "&state=" + bad
    response = http.get("/authorize?" + query)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"].startswith("text/html")
    assert b"invalid_request" in response.content
    assert b"percent-encoding" in response.content
    assert "Location" not in response


def test_authorize_post_with_invalid_percent_encoding_is_a_400_page(client, alice, public_client):
    """AUTH-13: the consent POST carries the same query; it is refused the same way, before any code exists."""
    client.force_login(alice)  # CSRF checks off: past the middleware, into the view
    response = client.post("/authorize?client_id=%ZZ", {"allow": "Authorize"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Grant.objects.exists()


# --- form endpoints --------------------------------------------------------------------------


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_too_many_form_fields_is_invalid_request_json(client, path, settings):
    """RFC 6749 §5.2: Django's TooManyFieldsSent becomes invalid_request JSON, not an HTML 400."""
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    assert_invalid_request(client.post(path, body, content_type="application/x-www-form-urlencoded"))


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_oversized_form_body_is_invalid_request_json(client, path, settings):
    """RFC 6749 §5.2: Django's RequestDataTooBig becomes invalid_request JSON."""
    body = "token=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert_invalid_request(client.post(path, body, content_type="application/x-www-form-urlencoded"))


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_form_body_in_another_charset_is_invalid_request_json(client, path):
    """RFC 6749 §5.2: Django refuses a non-UTF-8 form body with BadRequest (found by tests/fuzz); it is invalid_request JSON."""
    response = client.generic("POST", path, b"grant_type=client_credentials",
                              content_type="application/x-www-form-urlencoded; charset=latin-1")
    assert_invalid_request(response)


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_invalid_percent_encoding_in_the_query_is_invalid_request_json(client, path):
    """RFC 6749 §5.2: oauthlib decodes every query string; an undecodable one is invalid_request, not a 500."""
    assert_invalid_request(client.post(path + "?x=%ZZ", {"grant_type": "client_credentials"}))


# --- code_verifier (RFC 7636 §4.1) -------------------------------------------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def exchange_with(client, browser, public_client, verifier: str):
    """A code whose challenge is the S256 of ``verifier`` (as a broken client would compute it), exchanged."""
    code = obtain_code(browser, public_client.client_id, LOOPBACK_CALLBACK, Pkce(verifier, s256(verifier)))
    return client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                  "client_id": public_client.client_id, "code_verifier": verifier})


@pytest.mark.parametrize("verifier", [
    "a" * 42, "a" * 129, "a" * 5000, "short",
    "é" * 50, "a b" * 20, "%" * 50, "+" * 50, "💥" * 50, "\x00" * 50, "a/" * 30, "=" * 50,
], ids=["42", "129", "5000", "5", "non-ascii", "space", "percent", "plus", "emoji", "nul", "slash", "equals"])
def test_code_verifier_outside_rfc7636_gets_invalid_request_and_no_tokens(client, browser, public_client, verifier):
    """OAUTH-19, AUTH-38: a verifier outside 43-128 unreserved characters is refused even when its S256 matches."""
    response = exchange_with(client, browser, public_client, verifier)
    assert_invalid_request(response)
    assert "code_verifier" in response.json()["error_description"]
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("verifier", ["a" * 43, "Az09-._~" * 16], ids=["43", "128"])
def test_code_verifier_at_the_rfc7636_bounds_is_accepted(client, browser, public_client, verifier):
    """OAUTH-19: 43 and 128 characters of the unreserved set are valid verifiers."""
    assert len(verifier) in {43, 128}
    response = exchange_with(client, browser, public_client, verifier)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["access_token"]
