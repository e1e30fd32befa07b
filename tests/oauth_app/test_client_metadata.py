"""The client-metadata policy (:mod:`oauth_app.client_metadata`): pure data in, data out, no database.

The corpus entries (``tests/client_corpus``) are the clients' real documents (CLAUDE-04, CLAUDE-05,
CLIENT-01..05); the policy must accept each as-is and narrow it to what this server supports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oauth_app.client_metadata import InvalidClientMetadata, ServerCapabilities, narrow, parse

CORPUS = sorted((Path(__file__).parents[1] / "client_corpus").glob("*.json"))
SERVER = ServerCapabilities(
    grant_types=frozenset({"authorization_code", "refresh_token", "client_credentials"}),
    auth_methods=("none", "client_secret_post", "client_secret_basic", "private_key_jwt"),
)
NO_PKJ = ServerCapabilities(grant_types=SERVER.grant_types, auth_methods=("none", "client_secret_post", "client_secret_basic"))
JWKS = {"keys": [{"kty": "RSA", "n": "xyz", "e": "AQAB", "kid": "k1"}]}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_real_registration_is_accepted_and_narrowed(path):
    """CLAUDE-04, CLAUDE-05, CLIENT-01..05: each client's real document passes; the effective
    grants and auth method are what the server will honour."""
    entry = json.loads(path.read_text())
    metadata = narrow(entry["document"], source=entry["kind"], server=SERVER)
    assert list(metadata.grant_types) == entry["expect"]["grant_types"]
    assert metadata.token_endpoint_auth_method == entry["expect"]["token_endpoint_auth_method"]
    assert metadata.redirect_uris == tuple(entry["document"]["redirect_uris"])


def test_claude_jwt_bearer_grant_is_dropped_not_refused():
    """CLAUDE-04 (DOT#1855): the unsupported jwt-bearer grant is ignored and reported as dropped."""
    entry = json.loads((CORPUS[0].parent / "claude_ai_cimd.json").read_text())
    metadata = narrow(entry["document"], source="cimd", server=SERVER)
    assert metadata.dropped_grant_types == ("urn:ietf:params:oauth:grant-type:jwt-bearer",)
    assert metadata.for_dot()["grant_types"] == ["authorization_code", "refresh_token"]


def test_chatgpt_negotiates_down_to_none_without_private_key_jwt():
    """CLIENT-01: with private_key_jwt off, ChatGPT's plural list still leaves none (gamedevpl#641)."""
    entry = json.loads((CORPUS[0].parent / "chatgpt_cimd.json").read_text())
    metadata = narrow(entry["document"], source="cimd", server=NO_PKJ)
    assert metadata.token_endpoint_auth_method == "none"
    assert metadata.jwks_uri == ""


def test_private_key_jwt_only_document_needs_private_key_jwt():
    entry = json.loads((CORPUS[0].parent / "chatgpt_like_private_key_jwt_only.json").read_text())
    with pytest.raises(InvalidClientMetadata) as refused:
        narrow(entry["document"], source="cimd", server=NO_PKJ)
    assert refused.value.error == "invalid_client_metadata"
    assert "token_endpoint_auth_method" in refused.value.description


@pytest.mark.parametrize("document", [
    {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_post"},
    {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_methods_supported": ["client_secret_basic"]},
    {"redirect_uris": ["https://a.example/cb"], "client_secret": "s"},
])
def test_shared_secrets_are_never_valid_for_cimd(document):
    """AUTH-29: a public document cannot carry or use a shared secret."""
    with pytest.raises(InvalidClientMetadata):
        narrow(document, source="cimd", server=SERVER)


def test_strongest_common_method_wins_for_cimd():
    """SEP-3149: the strongest method both sides support, whatever the singular field says."""
    document = {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"], "jwks": JWKS}
    assert narrow(document, source="cimd", server=SERVER).token_endpoint_auth_method == "private_key_jwt"
    without_keys = {key: value for key, value in document.items() if key != "jwks"}
    assert narrow(without_keys, source="cimd", server=SERVER).token_endpoint_auth_method == "none"


@pytest.mark.parametrize("grants", [["urn:ietf:params:oauth:grant-type:jwt-bearer"], ["refresh_token"], ["implicit", "password"], []])
def test_nothing_usable_left_is_refused(grants):
    with pytest.raises(InvalidClientMetadata) as refused:
        narrow({"redirect_uris": ["https://a.example/cb"], "grant_types": grants}, source="dcr", server=SERVER)
    assert "grant_types" in refused.value.description


def test_two_primary_grants_narrow_to_the_redirect_grant():
    metadata = narrow({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials", "authorization_code"]},
                      source="dcr", server=SERVER)
    assert metadata.grant_types == ("authorization_code", "refresh_token")
    assert metadata.dropped_grant_types == ("client_credentials",)


def test_client_credentials_has_no_response_types_and_no_refresh_token():
    metadata = narrow({"grant_types": ["client_credentials", "refresh_token"], "response_types": []}, source="dcr", server=SERVER)
    assert metadata.grant_types == ("client_credentials",) and metadata.response_types == ()
    with pytest.raises(InvalidClientMetadata, match="response_types"):
        narrow({"grant_types": ["client_credentials"], "response_types": ["code"]}, source="dcr", server=SERVER)


def test_response_types_must_fit_the_grant():
    with pytest.raises(InvalidClientMetadata, match="response_types"):
        narrow({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}, source="dcr", server=SERVER)


@pytest.mark.parametrize("field, value", [
    ("client_name", None), ("client_name", 7), ("redirect_uris", "https://a.example/cb"), ("redirect_uris", [1]),
    ("grant_types", None), ("token_endpoint_auth_method", None), ("scope", ["mcp"]), ("jwks", "keys"),
    ("contacts", [None]), ("jwks_uri", 3), ("application_type", None),
])
def test_type_wrong_fields_name_the_field(field, value):
    """RFC 7591 §2: each field has a type; the refusal names the field."""
    document = {"redirect_uris": ["https://a.example/cb"], field: value}
    with pytest.raises(InvalidClientMetadata) as refused:
        narrow(document, source="dcr", server=SERVER)
    assert refused.value.error == "invalid_client_metadata"
    assert refused.value.description.startswith(field)


def test_deeply_nested_json_is_invalid_metadata():
    with pytest.raises(InvalidClientMetadata, match="nested"):
        parse(b"[" * 10_000 + b"]" * 10_000, max_bytes=64 * 1024)


@pytest.mark.parametrize("document, message", [
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": JWKS, "jwks_uri": "https://a.example/jwks"}, "both"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://a.example/jwks"}, "https"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{**JWKS["keys"][0], "d": "secret"}]}}, "private"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "RSA"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": JWKS, "token_endpoint_auth_signing_alg": "HS256"}, "HS256"),
])
def test_private_key_jwt_registrations_need_public_keys(document, message):
    with pytest.raises(InvalidClientMetadata, match=message):
        narrow({"redirect_uris": ["https://a.example/cb"], **document}, source="dcr", server=SERVER)
