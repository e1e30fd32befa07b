"""End-user pages never leak template source (a multi-line ``{# #}`` is printed by Django)."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.template.loader import render_to_string
from django.test import Client as HttpClient

from tests.conftest import LOOPBACK_CALLBACK
from tests.support.oauth import Pkce, authorize_query

pytestmark = pytest.mark.django_db


def assert_clean(html: str) -> None:
    for marker in ("{#", "#}", "{%", "%}", "{{", "}}"):
        assert marker not in html, f"{marker!r} leaked into the page"


def test_login_page(public_client):
    query = urlencode(authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new()))
    page = HttpClient().get("/authorize?" + query, follow=True)
    assert page.templates[0].name == "oauth_app/login.html"
    assert_clean(page.content.decode())


def test_consent_page(browser, public_client):
    page = browser.get("/authorize?" + urlencode(authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new())))
    assert page.status_code == HTTPStatus.OK and "Allow" in page.content.decode()
    assert_clean(page.content.decode())


def test_authorization_error_page(browser):
    page = browser.get("/authorize?" + urlencode(authorize_query("client_unknown", LOOPBACK_CALLBACK, Pkce.new())))
    assert "cannot be completed" in page.content.decode()
    assert_clean(page.content.decode())


def test_connected_apps_page(browser, token_pair):
    token_pair()
    page = browser.get("/account/apps")
    assert "Connected apps" in page.content.decode()
    assert_clean(page.content.decode())


@pytest.mark.parametrize("name", ["400.html", "403.html", "403_csrf.html", "404.html", "500.html"])
def test_error_pages(name):
    """500.html is rendered without a request context, so it must stand alone too."""
    assert_clean(render_to_string(name))


def test_csrf_failure_uses_the_product_page(alice):
    http = HttpClient(enforce_csrf_checks=True)
    response = http.post("/login", {"username": "alice", "password": "wonderland-42"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "This form has expired" in response.content.decode()
    assert_clean(response.content.decode())
