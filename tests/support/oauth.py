"""Small OAuth client helpers for tests: PKCE pairs and the authorize/consent/token walk.

They drive the server through the Django test client exactly as a browser and an MCP client
would (GET /authorize, POST the consent form, POST /token); nothing here touches the database.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client as HttpClient


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> "Pkce":
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def authorize_query(client_id: str, redirect_uri: str, pkce: Pkce, *, scope: str = "mcp", state: str = "st-123",
                    resource: str | None = None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if resource is not None:
        params["resource"] = resource
    params.update(extra)
    return params


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def consent(browser: HttpClient, params: dict[str, str], *, allow: bool = True):
    """GET /authorize, then POST the consent form as rendered; return the final response."""
    page = browser.get("/authorize?" + urlencode(params))
    assert page.status_code == 200, (page.status_code, page.get("Location"), page.content[:500])
    form = page.context["form"]
    data = {name: field.value() or "" for name, field in ((n, form[n]) for n in form.fields) if name != "allow"}
    data["csrfmiddlewaretoken"] = str(page.context["csrf_token"])
    if allow:
        data["allow"] = "Authorize"
    return browser.post("/authorize?" + urlencode(params), data)


def obtain_code(browser: HttpClient, client_id: str, redirect_uri: str, pkce: Pkce, **kwargs) -> str:
    response = consent(browser, authorize_query(client_id, redirect_uri, pkce, **kwargs))
    assert response.status_code == 303, response.content[:500]
    return query_of(response["Location"])["code"]
