"""Drive the official MCP SDK's OAuth client against a real server, with no browser.

Reusable by every end-to-end test that needs a real access token from the official SDK
(``mcp`` 2.3.0, ``mcp.client.auth.OAuthClientProvider``):

* :func:`headless_consent` signs a person in and approves the consent page the way a browser
  would (its own cookie jar, no automatic redirects), and returns what the authorization
  server sent to the client's ``redirect_uri`` (``code``, ``state``, ``iss``).
* :class:`HeadlessUserAgent` packages that as the provider's ``redirect_handler`` /
  ``callback_handler`` pair, handing the result over through an :class:`asyncio.Future`.
* :class:`InMemoryTokenStorage` is the provider's ``TokenStorage``.
* :func:`authorize_like_provider` runs the provider's authorization (steps 1-5 of
  ``OAuthClientProvider._auth_flow``) without the ``401`` from ``/mcp`` that normally
  starts it. It goes away once ``/mcp`` exists: then ``httpx2.AsyncClient(auth=provider)``
  under ``streamable_http_client`` does the same thing by itself.

HTML is read with :mod:`html.parser`, never with regular expressions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.auth.oauth2 import check_registration_usable
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    create_client_registration_request,
    create_oauth_metadata_request,
    get_client_metadata_scopes,
    handle_auth_metadata_response,
    handle_protected_resource_response,
    handle_registration_response,
    validate_metadata_issuer,
)
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

# --- HTML ---------------------------------------------------------------------------------


@dataclass
class HtmlForm:
    """One ``<form>``: its attributes and the attributes of every ``<input>`` inside it."""

    attrs: dict[str, str]
    inputs: list[dict[str, str]] = field(default_factory=list)

    def hidden_fields(self) -> dict[str, str]:
        """Name → value of every ``<input type="hidden">`` (what a browser would submit)."""
        return {
            i["name"]: i.get("value", "")
            for i in self.inputs
            if i.get("type", "").lower() == "hidden" and i.get("name")
        }


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._open: HtmlForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = HtmlForm(values)
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None:
            self._open.inputs.append(values)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def parse_forms(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def find_form(html: str, *, form_id: str | None = None, with_input: str | None = None) -> HtmlForm:
    """The form with ``id=form_id``, or the first one containing an input named ``with_input``."""
    for form in parse_forms(html):
        if form_id is not None and form.attrs.get("id") == form_id:
            return form
        if with_input is not None and any(i.get("name") == with_input for i in form.inputs):
            return form
    raise AssertionError(f"no form (id={form_id!r}, input={with_input!r}) in page:\n{html[:2000]}")


# --- The person at the browser --------------------------------------------------------------


@dataclass
class AuthorizationRedirect:
    """Where the authorization server sent the browser after consent (the client's redirect_uri)."""

    location: str
    code: str | None
    state: str | None
    iss: str | None
    error: str | None

    def as_sdk_result(self) -> AuthorizationCodeResult:
        if self.code is None:
            raise OAuthFlowError(f"authorization failed: {self.error!r} ({self.location})")
        return AuthorizationCodeResult(code=self.code, state=self.state, iss=self.iss)


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise AssertionError(
            f"{what}: expected {status}, got {response.status_code} "
            f"(Location: {response.headers.get('location')!r})\n{response.text[:2000]}"
        )


async def headless_consent(
    authorization_url: str,
    *,
    username: str,
    password: str,
    approve: bool = True,
    timeout: float = 30.0,
) -> AuthorizationRedirect:
    """Sign in as ``username`` and answer the consent page for ``authorization_url``.

    The sequence a browser goes through, with every redirect checked rather than followed:
    ``GET /authorize`` → 302 ``/login?next=…`` → ``GET /login`` → ``POST /login`` (CSRF token,
    username, password) → 303 back to ``/authorize`` → ``GET /authorize`` (the consent page)
    → ``POST`` the hidden inputs of ``form#authorizationForm`` with ``allow=Authorize``
    (or ``allow=""`` to deny) → 303 to the client's ``redirect_uri``, which is parsed, not
    fetched. Every request is bounded by ``timeout`` seconds.
    """
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout) as browser:
        response = await browser.get(authorization_url)
        _expect(response, 302, "GET /authorize without a session")
        login_url = urljoin(authorization_url, response.headers["location"])
        if urlsplit(login_url).path != "/login":
            raise AssertionError(f"/authorize sent an anonymous person to {login_url}, not /login")

        response = await browser.get(login_url)
        _expect(response, 200, "GET /login")
        login_form = find_form(response.text, with_input="csrfmiddlewaretoken")
        fields = login_form.hidden_fields()  # csrfmiddlewaretoken and next
        fields.update(username=username, password=password)
        response = await browser.post(urljoin(login_url, login_form.attrs.get("action") or login_url), data=fields)
        _expect(response, 303, "POST /login")
        consent_url = urljoin(login_url, response.headers["location"])

        response = await browser.get(consent_url)
        _expect(response, 200, "GET /authorize (consent page)")
        consent_form = find_form(response.text, form_id="authorizationForm")
        fields = consent_form.hidden_fields()
        fields["allow"] = "Authorize" if approve else ""
        action = urljoin(consent_url, consent_form.attrs.get("action") or consent_url)
        response = await browser.post(action, data=fields)
        _expect(response, 303, "POST /authorize (consent)")

    location = response.headers["location"]
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    return AuthorizationRedirect(
        location=location,
        code=query.get("code"),
        state=query.get("state"),
        iss=query.get("iss"),
        error=query.get("error"),
    )


class HeadlessUserAgent:
    """The SDK's ``redirect_handler`` and ``callback_handler``, backed by :func:`headless_consent`.

    ``OAuthClientProvider`` awaits ``redirect_handler(authorization_url)`` and then
    ``callback_handler()``; the first drives the login and consent pages and resolves a
    future with the redirect, the second hands it to the SDK (which checks ``state`` and the
    RFC 9207 ``iss`` itself). Every authorization URL and redirect is recorded for assertions.
    """

    def __init__(self, *, username: str, password: str, approve: bool = True, timeout: float = 30.0) -> None:
        self.username = username
        self.password = password
        self.approve = approve
        self.timeout = timeout
        self.authorization_urls: list[str] = []
        self.redirects: list[AuthorizationRedirect] = []
        self._pending: asyncio.Future[AuthorizationRedirect] | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        self._pending = asyncio.get_running_loop().create_future()
        try:
            redirect = await headless_consent(
                authorization_url,
                username=self.username,
                password=self.password,
                approve=self.approve,
                timeout=self.timeout,
            )
        except BaseException:
            self._pending.cancel()  # the SDK sees this exception from redirect_handler itself
            raise
        self.redirects.append(redirect)
        self._pending.set_result(redirect)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._pending is None:
            raise OAuthFlowError("callback_handler called before redirect_handler")
        pending, self._pending = self._pending, None
        async with asyncio.timeout(self.timeout):
            redirect = await pending
        return redirect.as_sdk_result()


# --- SDK plumbing -------------------------------------------------------------------------------


class InMemoryTokenStorage:
    """``mcp.client.auth.TokenStorage`` kept in memory; tests read ``tokens``/``client_info``."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Exchange:
    """One HTTP request the SDK made, its form fields (if form-encoded) and the status it got."""

    method: str
    url: str
    status: int
    form: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def line(self) -> tuple[str, str, int]:
        return (self.method, self.url, self.status)


def recording_client(log: list[Exchange], **kwargs) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (the SDK's HTTP library) that appends every exchange to ``log``."""

    async def record(response: httpx2.Response) -> None:
        request = response.request
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {name: values[0] for name, values in parse_qs(request.content.decode()).items()}
        log.append(Exchange(request.method, str(request.url), response.status_code, form))

    return httpx2.AsyncClient(event_hooks={"response": [record]}, **kwargs)


async def authorize_like_provider(
    provider: OAuthClientProvider,
    http: httpx2.AsyncClient,
    *,
    www_authenticate_resource_metadata: str | None = None,
    www_authenticate_scope: str | None = None,
) -> None:
    """Run steps 1-5 of ``OAuthClientProvider._auth_flow`` (mcp 2.3.0) as its 401 branch does.

    In 2.3.0 the provider starts discovery only when the request it authenticates is answered
    ``401`` (or ``403 insufficient_scope``); nothing else (no proactive method) performs it.
    Until ``/mcp`` exists this function replays that branch with the SDK's own building blocks,
    in the provider's order, and leaves ``provider.context`` and its storage exactly as the
    provider would: it uses the SDK's parsers and validators for every response and the
    provider's own methods for the resource check, PKCE, the browser hand-off, the ``state``
    and RFC 9207 ``iss`` checks, the token request and storing the tokens. The two
    ``www_authenticate_*`` arguments stand for the parameters of the 401 challenge.

    The provider would fall back to legacy (no-PRM) discovery when the PRM is missing; our
    server must never need that, so this raises instead.
    """
    ctx = provider.context
    if not provider._initialized:
        await provider._initialize()

    # Step 1: protected resource metadata (RFC 9728; header URL, then path-inserted, then root).
    for url in build_protected_resource_metadata_discovery_urls(www_authenticate_resource_metadata, ctx.server_url):
        prm = await handle_protected_resource_response(await http.send(create_oauth_metadata_request(url)))
        if prm is not None:
            await provider._validate_resource_match(prm)
            ctx.protected_resource_metadata = prm
            ctx.auth_server_url = provider._select_authorization_server([str(s) for s in prm.authorization_servers])
            break
    else:
        raise OAuthFlowError("no protected resource metadata: the SDK would fall back to legacy discovery")
    expected_issuer = provider._expected_issuer()

    # Step 2: authorization server metadata (RFC 8414, then OIDC), issuer checked (SEP-2468).
    for url in build_oauth_authorization_server_metadata_discovery_urls(ctx.auth_server_url, ctx.server_url):
        ok, asm = await handle_auth_metadata_response(await http.send(create_oauth_metadata_request(url)))
        if not ok:
            break
        if asm is not None:
            validate_metadata_issuer(asm, expected_issuer)
            ctx.oauth_metadata = asm
            break
    if ctx.oauth_metadata is None:
        raise OAuthFlowError(f"no authorization server metadata for {expected_issuer}")

    # Step 3: scope selection (challenge scope, else PRM scopes_supported, else AS scopes_supported).
    ctx.client_metadata.scope = get_client_metadata_scopes(
        www_authenticate_scope, ctx.protected_resource_metadata, ctx.oauth_metadata, ctx.client_metadata.grant_types
    )

    # Step 4: dynamic client registration (RFC 7591) at the advertised registration_endpoint.
    if ctx.client_info is None:
        request = create_client_registration_request(
            ctx.oauth_metadata, ctx.client_metadata, ctx.get_authorization_base_url(ctx.server_url)
        )
        client_info = await handle_registration_response(await http.send(request))
        check_registration_usable(client_info)
        if ctx.oauth_metadata.registration_endpoint is not None:
            client_info.issuer = expected_issuer  # SEP-2352 binding, as the provider records it
        ctx.client_info = client_info
        await ctx.storage.set_client_info(client_info)

    # Step 5: authorization (PKCE S256, state, resource) through the handlers, then the token request.
    token_request = await provider._perform_authorization()
    await provider._handle_token_response(await http.send(token_request))
