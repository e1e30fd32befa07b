"""JWT access tokens (RFC 9068): what is minted, and every way verification refuses a token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from http import HTTPStatus
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from jwt import PyJWKSet

from oauth_app import keys, revocation, tokens
from oauth_app.exceptions import InsufficientScope, InvalidToken
from oauth_app.models import Client
from oauth_app.tokens import verify_access_token
from tests.conftest import ISSUER, LOOPBACK_CALLBACK, RESOURCE
from tests.support.oauth import Pkce, authorize_query, query_of

pytestmark = pytest.mark.django_db
CLAIMS = {"iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "scope"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks_from(client) -> PyJWKSet:
    return PyJWKSet.from_dict(client.get("/jwks").json())


def forge(claims_override: dict | None = None, header_override: dict | None = None, drop: tuple = ()) -> str:
    """A token signed with the real active key, with chosen claims or header."""
    key, private_key = keys.get_signing_key()
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "1", "aud": RESOURCE, "client_id": "client_x", "iat": now, "nbf": now,
              "exp": now + 600, "jti": uuid.uuid4().hex, "scope": "mcp"}
    claims.update(claims_override or {})
    for name in drop:
        claims.pop(name)
    headers = {"kid": key.kid, "typ": "at+jwt", **(header_override or {})}
    return jwt.encode(claims, private_key, algorithm=key.algorithm, headers=headers)


def reason(raw: str, resource: str = RESOURCE) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify_access_token(raw, resource)
    assert caught.value.status_code == 401 and caught.value.error == "invalid_token"
    return caught.value.description


class TestMinting:
    def test_token_from_a_real_flow_verifies_against_jwks(self, client, token_pair, public_client, alice):
        """DJ-10, AUTH-36: the JWT decodes with pyjwt against /jwks and carries exactly the RFC 9068 claims."""
        body = token_pair(resource=RESOURCE, scope="mcp user")
        raw = body["access_token"]
        header = jwt.get_unverified_header(raw)
        assert header["typ"] == "at+jwt"
        signing_key = jwks_from(client)[header["kid"]]
        claims = jwt.decode(raw, signing_key.key, algorithms=[header["alg"]], audience=RESOURCE, issuer=ISSUER)
        assert set(claims) == CLAIMS
        assert claims["iss"] == ISSUER
        assert claims["aud"] == RESOURCE
        assert claims["sub"] == str(alice.pk)
        assert claims["client_id"] == public_client.client_id
        assert set(claims["scope"].split()) == {"mcp", "user"}
        assert claims["exp"] - claims["iat"] == 3600 == body["expires_in"]
        assert claims["nbf"] == claims["iat"]

    def test_audience_defaults_to_the_mcp_endpoint(self, client, token_pair):
        """AUTH-34: without ``resource`` the token is still audience-restricted, to PUBLIC_URL/mcp."""
        raw = token_pair()["access_token"]
        assert jwt.decode(raw, options={"verify_signature": False})["aud"] == RESOURCE

    def test_resource_is_canonicalised(self, client, token_pair):
        """AUTH-35: an uppercase host or trailing slash names the same resource."""
        raw = token_pair(resource="HTTP://TESTSERVER/mcp/")["access_token"]
        assert verify_access_token(raw, RESOURCE).audience == (RESOURCE,)

    def test_resource_repeated_at_token_in_another_spelling(self, client, public_client, code_for):
        """AUTH-34: clients send ``resource`` at /authorize and again at /token; spelling may differ."""
        code, pkce = code_for(public_client, resource=RESOURCE)
        response = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                          "client_id": public_client.client_id, "code_verifier": pkce.verifier,
                                          "resource": "http://TESTSERVER/mcp/"})
        assert response.status_code == HTTPStatus.OK, response.content
        assert verify_access_token(response.json()["access_token"], RESOURCE).audience == (RESOURCE,)

    def test_token_cannot_widen_the_granted_resource(self, client, public_client, code_for, settings):
        settings.PROTECTED_RESOURCES = [RESOURCE, ISSUER + "/other"]
        code, pkce = code_for(public_client, resource=RESOURCE)
        response = client.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                          "client_id": public_client.client_id, "code_verifier": pkce.verifier,
                                          "resource": ISSUER + "/other"})
        assert response.json()["error"] == "invalid_target"

    def test_foreign_resource_refused_at_authorize(self, browser, public_client):
        """AUTH-36, SEC-18: no token is ever issued for someone else's resource."""
        params = authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new(), resource="https://other.example/mcp")
        response = browser.get("/authorize?" + urlencode(params))
        assert query_of(response["Location"])["error"] == "invalid_target"

    def test_foreign_resource_refused_at_token(self, client, make_client):
        app, secret = make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
        response = client.post("/token", {"grant_type": "client_credentials", "client_id": app.client_id,
                                          "client_secret": secret, "resource": "https://other.example/mcp"})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["error"] == "invalid_target"

    def test_client_credentials_subject_is_the_client(self, client, make_client):
        app, secret = make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
        raw = client.post("/token", {"grant_type": "client_credentials", "client_id": app.client_id,
                                     "client_secret": secret, "scope": "mcp"}).json()["access_token"]
        principal = verify_access_token(raw, RESOURCE)
        assert principal.subject == principal.client_id == app.client_id

    def test_refreshed_token_is_a_jwt_for_the_same_audience(self, client, public_client, token_pair):
        first = token_pair(resource=RESOURCE)
        second = client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                        "client_id": public_client.client_id}).json()
        assert verify_access_token(second["access_token"], RESOURCE).audience == (RESOURCE,)
        assert not second["refresh_token"].count("."), "refresh tokens stay opaque"

    @pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
    def test_every_algorithm_signs_and_verifies(self, client, token_pair, algorithm):
        keys.rotate(algorithm)
        raw = token_pair()["access_token"]
        assert jwt.get_unverified_header(raw)["alg"] == algorithm
        assert verify_access_token(raw, RESOURCE).scopes == {"mcp"}


class TestVerification:
    def test_principal(self, token_pair, alice, public_client):
        raw = token_pair(scope="mcp user")["access_token"]
        principal = verify_access_token(raw, RESOURCE, required_scopes=("mcp",))
        assert principal.subject == str(alice.pk)
        assert principal.client_id == public_client.client_id
        assert principal.scopes == {"mcp", "user"}
        assert principal.issuer == ISSUER
        assert principal.token_id

    def test_insufficient_scope_names_every_required_scope(self, token_pair):
        """AUTH-09, AUTH-10: 403 insufficient_scope lists all scopes the operation needs."""
        raw = token_pair(scope="mcp")["access_token"]
        with pytest.raises(InsufficientScope) as caught:
            verify_access_token(raw, RESOURCE, required_scopes=("mcp", "admin"))
        assert caught.value.status_code == 403
        assert caught.value.required == ("mcp", "admin")

    def test_expired(self):
        assert "expired" in reason(forge({"exp": int(time.time()) - 120, "iat": int(time.time()) - 900}))

    def test_not_yet_valid(self):
        assert "not valid yet" in reason(forge({"nbf": int(time.time()) + 600}))

    def test_wrong_issuer(self):
        assert "issued by this server" in reason(forge({"iss": ISSUER + "/"}))

    def test_foreign_audience(self, token_pair):
        """AUTH-36: a valid token for another resource gets 401 invalid_token."""
        assert "this resource" in reason(token_pair()["access_token"], resource="https://other.example/mcp")

    def test_unknown_kid(self):
        assert "unknown or retired key" in reason(forge(header_override={"kid": "no-such-key"}))

    def test_alg_none(self):
        now = int(time.time())
        header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": keys.get_signing_key()[0].kid}).encode())
        payload = b64(json.dumps({"iss": ISSUER, "sub": "1", "aud": RESOURCE, "client_id": "c", "iat": now,
                                  "nbf": now, "exp": now + 60, "jti": "j"}).encode())
        assert reason(f"{header}.{payload}.") == "The access token is invalid."

    def test_hs256_signed_with_the_public_key(self, client):
        """Algorithm confusion: HMAC keyed with our published public key must not verify."""
        keys.rotate("RS256")
        key, private_key = keys.get_signing_key()
        public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        now = int(time.time())
        header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
        payload = b64(json.dumps({"iss": ISSUER, "sub": "1", "aud": RESOURCE, "client_id": "c", "iat": now,
                                  "nbf": now, "exp": now + 60, "jti": "j"}).encode())
        signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        assert reason(f"{header}.{payload}.{signature}") == "The access token is invalid."

    def test_tampered_payload(self, token_pair):
        header, payload, signature = token_pair(scope="mcp")["access_token"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["scope"] = "mcp admin"
        assert reason(f"{header}.{b64(json.dumps(claims).encode())}.{signature}") == "The access token is invalid."

    @pytest.mark.parametrize("typ", ["JWT", "id_token", None])
    def test_typ_must_be_at_jwt(self, typ):
        assert "not a JWT access token" in reason(forge(header_override={"typ": typ}))

    def test_missing_required_claim(self):
        assert reason(forge(drop=("client_id",))) == "The access token is invalid."

    @pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "é" * 40, "x" * 20000, "..", "eyJ.eyJ.sig"])
    def test_garbage(self, garbage):
        reason(garbage)

    def test_correctly_signed_but_never_issued(self):
        """A token minted with our key but with no row (never issued through /token) is refused."""
        assert "revoked" in reason(forge())


class TestRevocationTakesEffectNow:
    def test_rfc7009_revoke(self, client, token_pair, public_client):
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        client.post("/revoke", {"token": raw, "client_id": public_client.client_id})
        assert "revoked" in reason(raw)

    def test_revoking_the_refresh_token_kills_its_access_token(self, client, token_pair, public_client):
        body = token_pair()
        client.post("/revoke", {"token": body["refresh_token"], "token_type_hint": "refresh_token",
                                "client_id": public_client.client_id})
        assert "revoked" in reason(body["access_token"])

    def test_revoke_all_tokens_of_client(self, token_pair, public_client):
        raws = [token_pair()["access_token"] for _ in range(2)]
        assert revocation.revoke_client_tokens(public_client) == 2
        for raw in raws:
            assert "revoked" in reason(raw)

    def test_revoke_all_tokens_of_user(self, token_pair, alice):
        raw = token_pair()["access_token"]
        assert revocation.revoke_user_tokens(alice) == 1
        assert "revoked" in reason(raw)

    def test_disabled_client(self, token_pair, public_client):
        raw = token_pair()["access_token"]
        Client.objects.filter(pk=public_client.pk).update(is_active=False)
        assert "revoked" in reason(raw)

    def test_disable_client_revokes(self, token_pair, public_client):
        raw = token_pair()["access_token"]
        revocation.disable_client(public_client)
        Client.objects.filter(pk=public_client.pk).update(is_active=True)
        assert "revoked" in reason(raw), "disabling also revoked the tokens, so re-enabling does not revive them"

    def test_refresh_reuse_detection(self, client, token_pair, public_client):
        from datetime import timedelta

        from django.utils import timezone
        from oauth2_provider.models import RefreshToken

        first = token_pair()
        second = client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                        "client_id": public_client.client_id}).json()
        RefreshToken.objects.filter(revoked__isnull=False).update(revoked=timezone.now() - timedelta(minutes=5))
        client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                               "client_id": public_client.client_id})
        assert "revoked" in reason(second["access_token"])

    def test_code_replay(self, client, public_client, code_for):
        code, pkce = code_for(public_client)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                "client_id": public_client.client_id, "code_verifier": pkce.verifier}
        raw = client.post("/token", data).json()["access_token"]
        client.post("/token", data)
        assert "revoked" in reason(raw)

    def test_introspection_of_revoked_jwt(self, client, token_pair, public_client, make_client):
        rs, secret = make_client(public=False, grant=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="", name="RS")
        raw = token_pair()["access_token"]
        revocation.revoke_client_tokens(public_client)
        basic = "Basic " + base64.b64encode(f"{rs.client_id}:{secret}".encode()).decode()
        assert client.post("/introspect", {"token": raw}, HTTP_AUTHORIZATION=basic).json() == {"active": False}

    def test_admin_revoke_all_client_tokens_with_confirmation(self, token_pair, public_client):
        raw = token_pair()["access_token"]
        boss = get_user_model().objects.create_superuser("boss", password="boss-pass-123")
        http = HttpClient()
        http.force_login(boss)
        data = {"action": "revoke_all_tokens", "_selected_action": [public_client.pk]}
        confirm = http.post("/admin/oauth_app/client/", data)
        assert confirm.status_code == HTTPStatus.OK and b"Yes, I" in confirm.content
        verify_access_token(raw, RESOURCE)
        done = http.post("/admin/oauth_app/client/", {**data, "confirmed": "yes"})
        assert done.status_code == HTTPStatus.FOUND
        assert "revoked" in reason(raw)

    def test_admin_revoke_user_tokens(self, token_pair, alice):
        raw = token_pair()["access_token"]
        boss = get_user_model().objects.create_superuser("boss", password="boss-pass-123")
        http = HttpClient()
        http.force_login(boss)
        http.post("/admin/auth/user/", {"action": "revoke_user_tokens", "_selected_action": [alice.pk], "confirmed": "yes"})
        assert "revoked" in reason(raw)

    def test_revocation_check_is_one_query(self, token_pair, django_assert_num_queries):
        """The live check costs one indexed lookup per verification that misses the verified-token cache
        (key cache already warm); a repeat within VERIFIED_TOKEN_CACHE_SECONDS costs none."""
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        tokens.verified.clear()
        with django_assert_num_queries(1):
            verify_access_token(raw, RESOURCE)
        with django_assert_num_queries(0):
            verify_access_token(raw, RESOURCE)

    def test_cache_entry_lives_at_most_the_bound(self, token_pair, settings, monkeypatch, django_assert_num_queries):
        """Issue 9 §1: an entry is valid for at most min(exp, VERIFIED_TOKEN_CACHE_SECONDS)."""
        settings.VERIFIED_TOKEN_CACHE_SECONDS = 0.5
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        later = time.monotonic() + 0.6
        monkeypatch.setattr(tokens.time, "monotonic", lambda: later)
        with django_assert_num_queries(1):
            verify_access_token(raw, RESOURCE)

    def test_cached_token_revoked_by_the_admin_disabling_its_client(self, token_pair, public_client):
        """AUTH-13: switching a client off in the admin (a model save) drops its cached tokens at once."""
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        public_client.is_active = False
        public_client.save()
        assert "revoked" in reason(raw)

    def test_cached_token_revoked_by_disable_client(self, token_pair, public_client):
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        revocation.disable_client(public_client)
        assert "revoked" in reason(raw)

    def test_key_change_drops_cached_tokens(self, token_pair):
        """A signing-key state change (retire, rotate, prune) forgets every cached verification."""
        raw = token_pair()["access_token"]
        verify_access_token(raw, RESOURCE)
        keys.clear_cache()
        assert tokens.verified.get(tokens.token_checksum(raw), RESOURCE) is None


def test_flood_of_unknown_kids_reads_the_database_at_most_once(django_assert_max_num_queries):
    """The key cache refreshes on an unknown kid at most once per second: random kids cannot hammer the DB."""
    tokens = [forge(header_override={"kid": uuid.uuid4().hex}) for _ in range(200)]
    keys.key_cache.get("warm-up")
    with django_assert_max_num_queries(1):
        for raw in tokens:
            reason(raw)
