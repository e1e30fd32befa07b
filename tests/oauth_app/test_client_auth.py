"""``private_key_jwt`` client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2; CLIENT-01).

A client registered with ``private_key_jwt`` authenticates at ``/token``, ``/revoke`` and ``/introspect``
with a client assertion signed by a key it registered inline (``jwks``) or publishes at ``jwks_uri``
(served here by the local HTTPS document server, trusted through ``SSL_CERT_FILE``; its host is named in
``CIMD_ALLOWED_PRIVATE_HOSTS``, the deployment's own allowance, not a patched check). Every refusal is
``401 invalid_client``, never a 5xx.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from oauth_app.models import Client
from tests.conftest import ISSUER
from tests.support.client_keys import ClientKey, assertion_params, forged_hs256, jwks, unsigned
from tests.support.https_server import DocumentServer

pytestmark = pytest.mark.django_db
TOKEN_URL = ISSUER + "/token"


@pytest.fixture(scope="module")
def rsa_key() -> ClientKey:
    return ClientKey.generate("RS256")


@pytest.fixture
def documents(tmp_path, monkeypatch, settings):
    server = DocumentServer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_path))
    settings.CIMD_ALLOWED_PRIVATE_HOSTS = ["localhost"]
    yield server
    server.close()


def make_pkj_client(*, jwks_value=None, jwks_uri: str = "", alg: str = "") -> Client:
    client = Client(name="Signed client", client_type=Client.CLIENT_CONFIDENTIAL,
                    authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
                    token_endpoint_auth_method=Client.AuthMethod.PRIVATE_KEY_JWT, jwks=jwks_value, jwks_uri=jwks_uri,
                    token_endpoint_auth_signing_alg=alg)
    client.full_clean()
    client.save()
    return client


def token(http, assertion: str, client_id: str | None = None, **extra):
    return http.post("/token", {"grant_type": "client_credentials", "scope": "mcp",
                                **assertion_params(assertion, client_id), **extra})


def assert_invalid_client(response) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA"])
def test_each_allowed_algorithm_authenticates(client, algorithm):
    """CLIENT-01: RS256, PS256, ES256 and EdDSA assertions verify against an inline JWKS."""
    key = ClientKey.generate(algorithm)
    registered = make_pkj_client(jwks_value=jwks(key))
    response = token(client, key.assertion(registered.client_id, TOKEN_URL), registered.client_id)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["token_type"] == "Bearer"


def test_issuer_is_an_accepted_audience_and_client_id_is_optional(client, rsa_key):
    """RFC 7523 §3: aud may be the issuer; RFC 7521 §4.2: client_id may be left out (sub names the client)."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    response = token(client, rsa_key.assertion(registered.client_id, ISSUER))
    assert response.status_code == HTTPStatus.OK, response.content


def test_jwks_uri_keys_are_fetched_and_cached(client, documents, rsa_key):
    """CLIENT-01: keys at jwks_uri come through the CIMD fetcher and are cached per Cache-Control."""
    documents.documents["/jwks.json"] = jwks(rsa_key)
    registered = make_pkj_client(jwks_uri=documents.url("/jwks.json"))
    for _ in range(2):
        response = token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id)
        assert response.status_code == HTTPStatus.OK, response.content
    assert documents.hits["/jwks.json"] == 1


def test_unknown_kid_refetches_once_then_is_refused(client, documents, rsa_key):
    """A rotated-in key is found by one re-fetch; an unknown kid is refused and re-fetches at most once."""
    documents.documents["/jwks.json"] = jwks(rsa_key)
    registered = make_pkj_client(jwks_uri=documents.url("/jwks.json"))
    assert token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id).status_code == 200
    rotated = ClientKey.generate("RS256")
    documents.documents["/jwks.json"] = jwks(rsa_key, rotated)
    response = token(client, rotated.assertion(registered.client_id, TOKEN_URL), registered.client_id)
    assert response.status_code == HTTPStatus.OK, response.content
    assert documents.hits["/jwks.json"] == 2
    for _ in range(3):
        assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL, kid="nope"),
                                    registered.client_id))
    assert documents.hits["/jwks.json"] == 2, "unknown kids re-fetch at most once per interval"


def test_wrong_key_is_refused(client, rsa_key):
    """A key the client never registered does not authenticate it, even with the registered kid."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    impostor = ClientKey.generate("RS256", kid=rsa_key.kid)
    assert_invalid_client(token(client, impostor.assertion(registered.client_id, TOKEN_URL), registered.client_id))


def test_replayed_jti_is_refused(client, rsa_key):
    """RFC 7523 §3 (7): a jti is single-use."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assertion = rsa_key.assertion(registered.client_id, TOKEN_URL)
    assert token(client, assertion, registered.client_id).status_code == HTTPStatus.OK
    assert_invalid_client(token(client, assertion, registered.client_id))


def test_expired_assertion_is_refused(client, rsa_key):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL, lifetime=-120),
                                registered.client_id))


def test_assertion_living_too_long_is_refused(client, rsa_key):
    """exp at most a few minutes ahead: an hour-long assertion is a replayable credential."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL, lifetime=3600),
                                registered.client_id))


def test_missing_exp_is_refused(client, rsa_key):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL, exp=None),
                                registered.client_id))


@pytest.mark.parametrize("audience", ["https://other.example/token", ISSUER + "/authorize"])
def test_wrong_audience_is_refused(client, rsa_key, audience):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, audience), registered.client_id))


def test_iss_other_than_client_is_refused(client, rsa_key):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assertion = rsa_key.assertion(registered.client_id, TOKEN_URL, iss="someone-else")
    assert_invalid_client(token(client, assertion, registered.client_id))


def test_alg_none_is_refused(client, rsa_key):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, unsigned(registered.client_id, TOKEN_URL, rsa_key.kid), registered.client_id))


def test_hs256_with_the_public_key_bytes_is_refused(client, rsa_key):
    """Algorithm confusion: an HMAC keyed with the published public key must not verify."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, forged_hs256(rsa_key, registered.client_id, TOKEN_URL), registered.client_id))


def test_algorithm_is_pinned_to_the_key_type(client):
    """An EC key verifies ES256 only; a registered signing alg is enforced."""
    ec_key = ClientKey.generate("ES256")
    registered = make_pkj_client(jwks_value=jwks(ec_key))
    rsa_key = ClientKey.generate("RS256", kid=ec_key.kid)
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id))
    ps_key = ClientKey.generate("PS256")
    pinned = make_pkj_client(jwks_value=jwks(ps_key), alg="RS256")
    assert_invalid_client(token(client, ps_key.assertion(pinned.client_id, TOKEN_URL), pinned.client_id))


def test_kid_not_in_inline_jwks_is_refused(client, rsa_key):
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL, kid="not-there"),
                                registered.client_id))


def test_jwks_uri_on_loopback_without_the_allowance_is_refused(client, tmp_path, monkeypatch, rsa_key):
    """SEC-19: without CIMD_ALLOWED_PRIVATE_HOSTS a JWKS URL resolving to loopback is never fetched."""
    server = DocumentServer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_path))
    try:
        server.documents["/jwks.json"] = jwks(rsa_key)
        registered = make_pkj_client(jwks_uri=server.url("/jwks.json"))
        assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id))
        assert server.hits == {}
    finally:
        server.close()


def test_secret_never_authenticates_a_private_key_jwt_client(client, rsa_key):
    """A private_key_jwt client has no second way in through the secret DOT generated for its row."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    registered.client_secret = "known-secret-" + "x" * 30
    registered.save()
    response = client.post("/token", {"grant_type": "client_credentials", "client_id": registered.client_id,
                                      "client_secret": "known-secret-" + "x" * 30})
    assert_invalid_client(response)


def test_assertion_together_with_a_secret_is_refused(client, rsa_key):
    """RFC 7521 §4.2: one client authentication method per request."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id,
                                client_secret="anything"))


def test_assertion_for_a_secret_client_is_refused(client, make_client, rsa_key):
    """Assertions are opt-in: a client_secret_post client cannot switch to them."""
    secret_client, _ = make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
    assert_invalid_client(token(client, rsa_key.assertion(secret_client.client_id, TOKEN_URL), secret_client.client_id))


@pytest.mark.parametrize("params", [
    {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": "not.a.jwt"},
    {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion": "x"},
    {"client_assertion": ""},
])
def test_malformed_assertions_are_invalid_client_not_5xx(client, params):
    response = client.post("/token", {"grant_type": "client_credentials", **params})
    assert_invalid_client(response)


def test_revoke_and_introspect_accept_the_assertion(client, rsa_key):
    """/revoke and /introspect authenticate private_key_jwt clients the same way as /token."""
    registered = make_pkj_client(jwks_value=jwks(rsa_key))
    issued = token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id).json()
    introspected = client.post("/introspect", {"token": issued["access_token"],
                                               **assertion_params(rsa_key.assertion(registered.client_id, TOKEN_URL))})
    assert introspected.status_code == HTTPStatus.OK, introspected.content
    assert introspected.json()["active"] is True
    revoked = client.post("/revoke", {"token": issued["access_token"],
                                      **assertion_params(rsa_key.assertion(registered.client_id, TOKEN_URL),
                                                         registered.client_id)})
    assert revoked.status_code == HTTPStatus.OK, revoked.content
    replay = client.post("/revoke", {"token": issued["access_token"],
                                     **assertion_params(rsa_key.assertion(registered.client_id, "https://x.example"),
                                                        registered.client_id)})
    assert_invalid_client(replay)


@pytest.mark.parametrize("fields", [{}, {"jwks": {"keys": []}}, {"jwks_uri": "http://keys.example/jwks"},
                                    {"jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "private"}]}}])
def test_a_private_key_jwt_client_needs_public_keys(fields):
    """The model refuses what DCR refuses, so an admin-made private_key_jwt client has usable keys too."""
    from django.core.exceptions import ValidationError

    client = Client(name="x", client_type=Client.CLIENT_CONFIDENTIAL, authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
                    token_endpoint_auth_method=Client.AuthMethod.PRIVATE_KEY_JWT, **fields)
    with pytest.raises(ValidationError) as refused:
        client.full_clean()
    assert {"jwks", "jwks_uri"} & refused.value.message_dict.keys()


def test_a_failing_jwks_uri_is_not_fetched_on_every_request(client, documents, rsa_key):
    """A JWKS URL that fails (here: 404) is backed off, so refusals do not hammer it."""
    registered = make_pkj_client(jwks_uri=documents.url("/missing.json"))
    for _ in range(3):
        assert_invalid_client(token(client, rsa_key.assertion(registered.client_id, TOKEN_URL), registered.client_id))
    assert documents.hits["/missing.json"] == 1
