"""The doctor's URL rules (pure): what it probes for a pasted URL, per RFC 9728 §3.1 and RFC 8414 §3.1."""

from __future__ import annotations

import pytest

from oauth_app.doctor import Target, as_metadata_url, resource_metadata_of
from oauth_app.middleware import origin_of


@pytest.mark.parametrize("pasted", ["https://mcp.example.com", "https://mcp.example.com/", "https://mcp.example.com/mcp",
                                    "https://mcp.example.com/mcp/"])
def test_the_origin_or_the_mcp_url_may_be_pasted(pasted):
    target = Target.parse(pasted)
    assert target.mcp_url == "https://mcp.example.com/mcp"
    assert target.prm_path_form() == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    assert target.prm_root_form() == "https://mcp.example.com/.well-known/oauth-protected-resource"


def test_not_a_url():
    with pytest.raises(ValueError, match="is not an http"):
        Target.parse("mcp.example.com/mcp")


@pytest.mark.parametrize("issuer, url", [
    ("https://mcp.example.com", "https://mcp.example.com/.well-known/oauth-authorization-server"),
    ("https://idp.example.com/tenant/1", "https://idp.example.com/.well-known/oauth-authorization-server/tenant/1"),
])
def test_authorization_server_metadata_url_inserts_the_well_known_suffix(issuer, url):
    assert as_metadata_url(issuer) == url


@pytest.mark.parametrize("header, expected", [
    ('Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp"',
     "https://h/.well-known/oauth-protected-resource/mcp"),
    ('Bearer error="invalid_token", resource_metadata=https://h/prm', "https://h/prm"),
    ('Bearer realm="mcp"', None),
])
def test_resource_metadata_parameter(header, expected):
    assert resource_metadata_of(header) == expected


@pytest.mark.parametrize("scheme, netloc, origin", [
    ("https", "MCP.example.com:443", "https://mcp.example.com"),
    ("http", "127.0.0.1:80", "http://127.0.0.1"),
    ("http", "127.0.0.1:8766", "http://127.0.0.1:8766"),
])
def test_origins_compare_without_default_ports(scheme, netloc, origin):
    assert origin_of(scheme, netloc) == origin
