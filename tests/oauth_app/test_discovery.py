"""Discovery documents: RFC 8414 / OIDC metadata and RFC 9728 protected-resource metadata."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from tests.conftest import ISSUER, RESOURCE

pytestmark = pytest.mark.django_db

AS_PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
PRM_PATHS = ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]


@pytest.mark.parametrize("path", AS_PATHS)
def test_authorization_server_metadata_fields(client, path):
    """AUTH-20, AUTH-22, AUTH-23, AUTH-25, AUTH-26, CLAUDE-04: every field MCP clients check, exactly."""
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/authorize"
    assert doc["token_endpoint"] == ISSUER + "/token"
    assert doc["registration_endpoint"] == ISSUER + "/register"
    assert doc["revocation_endpoint"] == ISSUER + "/revoke"
    assert doc["introspection_endpoint"] == ISSUER + "/introspect"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"implicit", "password"}.isdisjoint(doc["grant_types_supported"])
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])
    assert {"none", "client_secret_post", "client_secret_basic"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert "none" not in doc["introspection_endpoint_auth_methods_supported"]
    assert {"admin", "user", "mcp"} <= set(doc["scopes_supported"])
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["authorization_response_iss_parameter_supported"] is True


def test_openid_configuration_matches_rfc8414_document(client):
    """AUTH-20: both discovery documents say the same thing, so either probe order works."""
    assert client.get(AS_PATHS[0]).json() == client.get(AS_PATHS[1]).json()


def test_issuer_has_no_trailing_slash_even_if_configured_with_one(client, settings):
    """DJ-02: ``PUBLIC_URL`` with a trailing slash still yields the slash-less issuer."""
    import importlib
    import os

    import project.settings as project_settings

    os.environ["PUBLIC_URL"] = "https://auth.example.com/"
    try:
        reloaded = importlib.reload(project_settings)
        assert reloaded.ISSUER == "https://auth.example.com"
        assert reloaded.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] == "https://auth.example.com"
        assert reloaded.MCP_RESOURCE == "https://auth.example.com/mcp"
    finally:
        del os.environ["PUBLIC_URL"]
        importlib.reload(project_settings)


@pytest.mark.parametrize("path", PRM_PATHS)
def test_protected_resource_metadata(client, path):
    """AUTH-15, AUTH-16, AUTH-17, AUTH-18: root and path forms name the /mcp resource and this issuer."""
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK
    doc = response.json()
    assert doc["resource"] == RESOURCE
    assert doc["authorization_servers"] == [ISSUER]
    assert doc["bearer_methods_supported"] == ["header"]
    assert {"mcp"} <= set(doc["scopes_supported"])
    assert "offline_access" not in doc["scopes_supported"]
    assert doc["resource_name"]


@pytest.mark.parametrize("path", [
    "/.well-known/oauth-authorization-server/mcp",
    "/.well-known/oauth-protected-resource/other",
])
def test_metadata_for_paths_we_do_not_serve_is_404(client, path):
    """AUTH-21: there is no issuer (or resource) with that path, so the path form is 404."""
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("path", AS_PATHS + PRM_PATHS + ["/token", "/register", "/revoke"])
def test_cors_preflight_on_machine_endpoints(client, path):
    """SEC-12, CLAUDE-18: browser clients (MCP Inspector) may call metadata, token and register."""
    response = client.options(path, HTTP_ORIGIN="http://localhost:6274", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, authorization")
    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] in {"*", "http://localhost:6274"}
    assert "authorization" in response["Access-Control-Allow-Headers"].lower()


@pytest.mark.parametrize("path", ["/authorize", "/login"])
def test_no_cors_on_authorize_or_login(client, path):
    """SEC-12: CORS MUST NOT be enabled on the authorization endpoint."""
    response = client.get(path, HTTP_ORIGIN="http://localhost:6274")
    assert "Access-Control-Allow-Origin" not in response


def test_cors_allow_list_restricts_origins(client, settings):
    """The CORS allow-list (CORS_ALLOWED_ORIGINS) is honoured when it is not ``*``."""
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ["https://inspector.example.com"]
    allowed = client.get(AS_PATHS[0], HTTP_ORIGIN="https://inspector.example.com")
    refused = client.get(AS_PATHS[0], HTTP_ORIGIN="https://evil.example")
    assert allowed["Access-Control-Allow-Origin"] == "https://inspector.example.com"
    # DOT's view adds a wildcard on its own; the allow-list is what corsheaders enforces for
    # credentialed browser use, so a refused origin must at least not be echoed back.
    assert refused.get("Access-Control-Allow-Origin") != "https://evil.example"
