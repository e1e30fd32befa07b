"""Native-app redirect URIs (RFC 8252 §7.1, §7.3; CLIENT-02) and DOT's ``oauth2_provider.E003`` check.

Plain http is allowed only on loopback, per client (DOT's ``Application.get_allowed_schemes`` hook),
never through the global ``ALLOWED_REDIRECT_URI_SCHEMES``; so ``check --deploy`` saying nothing about
plaintext http redirects is a true statement, not a silenced one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError

from oauth_app.models import Client
from oauth_app.redirects import allowed_schemes_for, validate_redirect_uri
from tests.support.oauth import Pkce, authorize_query, consent, query_of

REPO = Path(__file__).resolve().parents[2]
CURSOR = "cursor://anysphere.cursor-mcp/oauth/callback"
PRODUCTION = {"PUBLIC_URL": "https://auth.example.com", "SECRET_KEY": "x" * 50,
              "SIGNING_KEY_ENCRYPTION_KEY": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "DATA_DIR": str(tmp_path), **PRODUCTION, **env}, timeout=60)


def test_e003_does_not_fire_with_the_project_settings(settings):
    """Issue 8: DOT's RFC 9700 redirect-scheme gate is on and 'http' is not a global scheme, so neither
    oauth2_provider.E003 nor its warning W008 fires, and the statement behind them is true."""
    assert settings.OAUTH2_PROVIDER["COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME"] is True
    assert "http" not in settings.OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"]
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert "oauth2_provider.E003" not in ids and "oauth2_provider.W008" not in ids


def test_check_deploy_is_quiet_about_redirects_in_production(tmp_path):
    result = check_deploy(tmp_path)
    assert "oauth2_provider.E003" not in result.stderr + result.stdout
    assert "oauth2_provider.W008" not in result.stderr + result.stdout


def test_http_in_the_scheme_setting_fails_check(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "DATA_DIR": str(tmp_path), "ALLOWED_REDIRECT_URI_SCHEMES": "https,http"},
                            timeout=60)
    assert result.returncode != 0 and "ALLOWED_REDIRECT_URI_SCHEMES" in result.stderr


@pytest.mark.parametrize("uri", ["http://evil.example/cb", "http://127.0.0.2.nip.io/cb", "http://10.0.0.1/cb"])
def test_non_loopback_http_is_refused(uri):
    with pytest.raises(ValidationError, match="loopback"):
        validate_redirect_uri(uri)


@pytest.mark.parametrize("uri", ["http://127.0.0.1:33418/", "http://localhost:8787/callback", "http://[::1]/cb",
                                 "https://claude.ai/api/mcp/auth_callback", CURSOR, "com.example.app:/oauth2redirect"])
def test_native_and_web_redirects_are_accepted(uri):
    validate_redirect_uri(uri)


def test_http_is_a_scheme_only_for_clients_with_loopback_redirects():
    assert allowed_schemes_for(["https://claude.ai/api/mcp/auth_callback"]) == ["https"]
    assert allowed_schemes_for(["http://127.0.0.1:1/cb", CURSOR]) == ["cursor", "http", "https"]
    assert "http" not in allowed_schemes_for(["http://evil.example/cb"])


@pytest.mark.django_db
def test_non_loopback_http_never_gets_a_code(browser, make_client):
    """Even a row with a non-loopback http URI (inserted around the policy) cannot receive a redirect:
    DOT's OAuth2ResponseRedirect checks the per-client schemes, which have no http for it."""
    client, _ = make_client(redirect_uris="https://app.example.com/cb")
    Client.objects.filter(pk=client.pk).update(redirect_uris="http://evil.example/cb")
    params = authorize_query(client.client_id, "http://evil.example/cb", Pkce.new())
    page = browser.get("/authorize?" + urlencode(params))
    assert page.status_code == HTTPStatus.OK
    response = consent(browser, params)
    assert response.status_code == HTTPStatus.BAD_REQUEST  # Django's answer to DisallowedRedirect
    assert "Location" not in response


@pytest.mark.django_db
def test_custom_scheme_consent_says_where_the_code_goes(browser, make_client):
    """RFC 8252 §8.6: for cursor:// the consent page names the scheme and host, then redirects there."""
    client, _ = make_client(redirect_uris=CURSOR, name="Cursor")
    params = authorize_query(client.client_id, CURSOR, Pkce.new())
    page = browser.get("/authorize?" + urlencode(params))
    assert page.context["redirect_scheme"] == "cursor"
    text = page.content.decode()
    assert 'id="custom-scheme-notice"' in text and "<code>cursor:</code>" in text and "anysphere.cursor-mcp" in text
    response = consent(browser, params)
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"].startswith(CURSOR + "?code=")
    assert query_of(response["Location"])["state"] == params["state"]


@pytest.mark.django_db
def test_error_redirects_reach_loopback_clients(browser, make_client):
    """An error found while validating (no PKCE) still redirects to the client's loopback URI with iss."""
    client, _ = make_client()
    params = authorize_query(client.client_id, "http://127.0.0.1:33418/callback", Pkce.new())
    del params["code_challenge"]
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code == HTTPStatus.FOUND
    assert query_of(response["Location"])["error"] == "invalid_request"
