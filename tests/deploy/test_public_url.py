"""Issue 11 §3: a request for another origin than PUBLIC_URL's is logged once, with the fix."""

from __future__ import annotations

import logging

import pytest
from django.test import Client as HttpClient

METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING, logger="oauth_app.middleware")

    def collected() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "oauth_app.middleware"]

    return collected


@pytest.mark.django_db
def test_another_port_is_logged_once_with_the_fix(settings, warnings):
    """`daphne -p 8766` while PUBLIC_URL defaults to HOST:PORT: one line, naming the URL to set."""
    settings.PUBLIC_URL, settings.PUBLIC_URL_FROM_ENVIRONMENT = "http://127.0.0.1:8000", False
    browser = HttpClient()
    for _ in range(3):
        assert browser.get(METADATA, HTTP_HOST="127.0.0.1:8766").status_code == 200
    assert warnings() == [
        "A request arrived for http://127.0.0.1:8766 but PUBLIC_URL is http://127.0.0.1:8000, so clients are sent to "
        "http://127.0.0.1:8000 (issuer, resource metadata, token audience). Fix: PUBLIC_URL is not set and defaults "
        "to HOST:PORT; set PUBLIC_URL=http://127.0.0.1:8766 if that is the URL clients use, and restart."
    ]


@pytest.mark.django_db
def test_requests_for_public_url_are_not_logged(warnings):
    browser = HttpClient()
    assert browser.get(METADATA).status_code == 200  # http://testserver is PUBLIC_URL in the tests
    assert warnings() == []


@pytest.mark.django_db
def test_tls_terminated_without_the_proxy_header(settings, warnings):
    """https PUBLIC_URL, same host, but Django sees http: the fix is SECURE_PROXY_SSL_HEADER."""
    settings.PUBLIC_URL = "https://testserver"
    settings.PUBLIC_URL_FROM_ENVIRONMENT = True
    HttpClient().get(METADATA)
    [line] = warnings()
    assert "A request arrived for http://testserver but PUBLIC_URL is https://testserver" in line
    assert "set SECURE_PROXY_SSL_HEADER=true" in line


@pytest.mark.django_db
def test_default_ports_are_the_same_origin(settings, warnings):
    settings.PUBLIC_URL = "https://testserver"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    HttpClient().get(METADATA, HTTP_HOST="testserver:443", HTTP_X_FORWARDED_PROTO="https")
    assert warnings() == []
