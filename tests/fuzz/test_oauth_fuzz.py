"""Property-based fuzzing of ``/token``, ``/revoke``, ``/introspect`` and ``/register`` through the real views.

Bodies mix the parameter names the endpoints read, live credentials (a code with its verifier,
a refresh and an access token, client ids and a secret, swapped in for the placeholders of
:mod:`tests.fuzz.strategies`) and junk, in any content type, with or without an
``Authorization`` header. Properties (issue 8 §4):

* never a 5xx, and nothing logged at ERROR;
* ``/token`` answers JSON, always;
* a refused request (4xx) changes no stored row: clients, grants, tokens, consumed codes, users.

After a request that succeeded the live credentials are minted again, so a refused request
never replays a used one (replays revoke on purpose, and are tested in ``tests/oauth_app``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from hypothesis import event, given
from hypothesis import strategies as st
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from oauth_app.models import Client, ConsumedCode, Scope, TokenKey
from tests.conftest import LOOPBACK_CALLBACK
from tests.fuzz import strategies as s
from tests.fuzz.conftest import FUZZ
from tests.support.live import CLAUDE_REGISTRATION, SDK_REGISTRATION
from tests.support.oauth import Pkce, obtain_code

pytestmark = pytest.mark.django_db

STORED = (Client, Grant, AccessToken, RefreshToken, IDToken, ConsumedCode, TokenKey, Scope)
CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "application/json", "text/plain", "multipart/form-data; boundary=x", "")


def stored_rows() -> dict[str, list[tuple]]:
    rows = {model.__name__: list(model.objects.order_by("pk").values_list()) for model in STORED}
    rows["User"] = list(get_user_model().objects.order_by("pk").values_list())
    return rows


@dataclass
class Live:
    """Credentials that work right now, behind the strategies' placeholders."""

    public: Client
    confidential: Client
    secret: str
    code: str = ""
    verifier: str = ""
    access: str = ""
    refresh: str = ""

    def value(self, raw: str) -> str:
        return {s.LIVE_REFRESH: self.refresh, s.LIVE_ACCESS: self.access, s.LIVE_CODE: self.code,
                s.LIVE_VERIFIER: self.verifier, s.PUBLIC_CLIENT: self.public.client_id,
                s.CONFIDENTIAL_CLIENT: self.confidential.client_id, s.CONFIDENTIAL_SECRET: self.secret,
                s.REDIRECT_URI: LOOPBACK_CALLBACK}.get(raw, raw)

    def text(self, raw: str) -> str:
        for placeholder in s.PLACEHOLDERS:
            raw = raw.replace(placeholder, self.value(placeholder))
        return raw


@pytest.fixture
def live(make_client, browser, token_pair, settings) -> Live:
    settings.REGISTER_RATE_LIMIT = "0"
    public = make_client(name="fuzz public")[0]
    confidential, secret = make_client(public=False, name="fuzz confidential")
    state = Live(public, confidential, secret)

    def mint() -> None:
        pkce = Pkce.new()
        state.code, state.verifier = obtain_code(browser, public.client_id, LOOPBACK_CALLBACK, pkce), pkce.verifier
        pair = token_pair(public)
        state.access, state.refresh = pair["access_token"], pair["refresh_token"]

    state.mint = mint
    mint()
    return state


def send(client, path: str, body: bytes, content_type: str, authorization: str | None, query: str):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.generic("POST", path + (f"?{query}" if query else ""), body, content_type=content_type, **extra)


def check_answer(response, before: dict, caplog) -> None:
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.content[:500]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    if 400 <= response.status_code < 500:
        assert stored_rows() == before, "a refused request changed stored rows"


queries = st.one_of(st.just(""), st.just(""), st.just(""), st.sampled_from(("x=%ZZ", "client_id=%", "a=1&a=2")),
                    st.text(alphabet="abc=&%0123456789", max_size=20))


@st.composite
def form_requests(draw) -> tuple[str, list[tuple[str, str]], str]:
    path = draw(st.sampled_from(("/token", "/revoke", "/introspect")))
    fields = draw(st.one_of(s.nearly_valid_forms(path), s.nearly_valid_forms(path), s.oauth_forms()))
    form = "application/x-www-form-urlencoded"
    return path, fields, draw(st.sampled_from((form,) * 6 + CONTENT_TYPES))


@FUZZ
@given(request=form_requests(), authorization=s.authorization_headers(), query=queries,
       raw=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=200)))
def test_form_endpoints_never_5xx_and_refusals_change_nothing(client, live, caplog, request, authorization, query, raw):
    """OAUTH-12, OAUTH-13, RFC 6749 §5.2: any body at the form endpoints gets an OAuth answer and refusals are inert."""
    path, fields, content_type = request
    caplog.clear()
    body = raw if raw is not None else urlencode([(live.text(k), live.text(v)) for k, v in fields]).encode()
    before = stored_rows()
    response = send(client, path, body, content_type, authorization and live.text(authorization), query)
    check_answer(response, before, caplog)
    if path == "/token":
        assert response["Content-Type"] == "application/json"
    if response.status_code < 400 and path != "/introspect":
        live.mint()


@FUZZ
@given(body=st.one_of(s.registration_bodies(CLAUDE_REGISTRATION), s.registration_bodies(SDK_REGISTRATION)), content_type=st.sampled_from(CONTENT_TYPES[2:3] * 3 + CONTENT_TYPES))
def test_register_never_5xx_and_refusals_change_nothing(client, live, caplog, body, content_type):
    """RFC 7591 §3.2.2: any body at /register gets a registration or an RFC 7591 error, and a refusal stores nothing."""
    caplog.clear()
    before = stored_rows()
    response = client.generic("POST", "/register", body, content_type=content_type)
    check_answer(response, before, caplog)
    if response.status_code >= 400:
        assert response.json()["error"] in {"invalid_client_metadata", "invalid_redirect_uri", "invalid_request"}


@st.composite
def authorize_queries(draw) -> tuple[list[tuple[str, str]], str]:
    """A query for /authorize: the parameters a client sends, some replaced by junk, as text that may not decode."""
    names = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
             "resource", "prompt", "nonce", "request", "request_uri")
    junk = st.lists(st.tuples(st.one_of(st.sampled_from(names), st.text(max_size=8)), s.form_values), max_size=8)
    if draw(st.booleans()):  # a valid request with a field or two replaced, dropped or added
        fields = [("response_type", "code"), ("client_id", s.PUBLIC_CLIENT), ("redirect_uri", s.REDIRECT_URI),
                  ("scope", "mcp"), ("state", "st"), ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                  ("code_challenge_method", "S256")]
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            index = draw(st.integers(min_value=0, max_value=len(fields) - 1))
            action = draw(st.sampled_from(("drop", "replace", "add")))
            if action == "drop":
                fields.pop(index)
            elif action == "replace":
                fields[index] = (fields[index][0], draw(s.form_values))
            else:
                fields.extend(draw(junk)[:1])
    else:
        fields = draw(junk)
    suffix = draw(st.sampled_from(("", "", "", "&x=%ZZ", "%", "&state=%E0%A4%A", "&&&", "=", "&client_id=%00")))
    return fields, suffix


@FUZZ
@given(query=authorize_queries(), signed_in=st.booleans())
def test_authorize_never_5xx(client, live, alice, caplog, query, signed_in):
    """AUTH-13: whatever the query, /authorize answers a page, a redirect or a 400 page; never a 5xx; a GET stores nothing."""
    caplog.clear()
    if signed_in:
        client.force_login(alice)
    else:
        client.logout()
    before = stored_rows()
    fields, suffix = query
    response = client.get("/authorize?" + urlencode([(live.text(k), live.text(v)) for k, v in fields]) + suffix)
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.content[:500]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert {k: v for k, v in stored_rows().items() if k != "User"} == {k: v for k, v in before.items() if k != "User"}


# --- Inputs named in issue 8 ---------------------------------------------------------------------------


def test_register_with_null_client_name_is_invalid_client_metadata(client, settings):
    """Issue 8 "Why": ``"client_name": null`` at /register once gave IntegrityError."""
    client.raise_request_exception = False
    body = {"client_name": None, "redirect_uris": ["http://127.0.0.1:3000/cb"], "token_endpoint_auth_method": "none"}
    response = client.post("/register", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_register_with_json_nested_ten_thousand_deep_is_invalid_client_metadata(client, settings):
    """Issue 8 "Why": JSON nested 10,000 deep at /register once raised RecursionError."""
    client.raise_request_exception = False
    deep = "[" * 10_000 + "0" + "]" * 10_000
    response = client.post("/register", '{"client_name": %s, "redirect_uris": ["http://127.0.0.1:3000/cb"]}' % deep,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
