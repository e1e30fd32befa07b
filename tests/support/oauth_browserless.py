"""Drive the official MCP SDK's OAuth client against a real server, with no browser.

Reusable by every end-to-end test that needs a real access token from the official SDK
(``mcp`` 2.3.0, ``mcp.client.auth.OAuthClientProvider``):

* :func:`headless_consent` signs a person in and approves the consent page the way a browser
  would (its own cookie jar, no automatic redirects), and returns what the authorization
  server sent to the client's ``redirect_uri`` (``code``, ``state``, ``iss``).
* :class:`HeadlessUserAgent` packages that as the provider's ``redirect_handler`` /
  ``callback_handler`` pair, handing the result over through an :class:`asyncio.Future`.
* :class:`InMemoryTokenStorage` is the provider's ``TokenStorage``.
* :func:`recording_client` is the ``httpx2.AsyncClient`` to hand the SDK (with
  ``auth=provider``): every request it makes, the provider's included, is recorded as an
  :class:`~tests.support.mcp_wire.Exchange`.

The provider starts by itself: ``streamable_http_client(url, http_client=recording_client(log,
auth=provider))`` sends the first MCP request, ``/mcp`` answers ``401`` with
``WWW-Authenticate: Bearer resource_metadata=…``, and the provider discovers, registers, sends
the person through :class:`HeadlessUserAgent`, exchanges the code and retries the request.

HTML is read with :mod:`html.parser`, never with regular expressions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.support.mcp_wire import Exchange, RecordingTransport

__all__ = [
    "LOOPBACK_REDIRECT_URI", "AuthorizationRedirect", "Exchange", "HeadlessUserAgent", "InMemoryTokenStorage",
    "headless_consent", "make_provider", "recording_client",
]

LOOPBACK_REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never fetched: the redirect is parsed

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


def _form_headers(page_url: str) -> dict[str, str]:
    """What a browser sends with a same-origin form POST (``Referrer-Policy: same-origin``): Django's
    CSRF check on https requires the ``Referer``, and checks ``Origin`` when present."""
    parts = urlsplit(page_url)
    return {"Origin": f"{parts.scheme}://{parts.netloc}", "Referer": page_url}


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
        response = await browser.post(urljoin(login_url, login_form.attrs.get("action") or login_url), data=fields,
                                      headers=_form_headers(login_url))
        _expect(response, 303, "POST /login")
        consent_url = urljoin(login_url, response.headers["location"])

        response = await browser.get(consent_url)
        _expect(response, 200, "GET /authorize (consent page)")
        consent_form = find_form(response.text, form_id="authorizationForm")
        fields = consent_form.hidden_fields()
        fields["allow"] = "Authorize" if approve else ""
        action = urljoin(consent_url, consent_form.attrs.get("action") or consent_url)
        response = await browser.post(action, data=fields, headers=_form_headers(consent_url))
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


def recording_client(
    log: list[Exchange], *, transport: RecordingTransport | None = None, **kwargs: Any
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (the SDK's HTTP library) that appends every exchange to ``log``.

    Pass ``transport`` (a :class:`~tests.support.mcp_wire.RecordingTransport` on the same ``log``)
    to keep a handle on it, e.g. to cut a stream.
    """
    return httpx2.AsyncClient(transport=transport or RecordingTransport(log), **kwargs)


def make_provider(
    url: str, agent: HeadlessUserAgent, storage: InMemoryTokenStorage, *, client_name: str = "MCP SDK e2e"
) -> OAuthClientProvider:
    """The SDK's provider as an MCP client configures it: a public client on a loopback redirect,
    for the MCP endpoint ``{url}/mcp``."""
    return OAuthClientProvider(
        server_url=f"{url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[LOOPBACK_REDIRECT_URI],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=agent.redirect_handler,
        callback_handler=agent.callback_handler,
    )
