"""Hypothesis strategies: JSON-RPC messages for both MCP eras, and OAuth form and JSON bodies.

Messages start valid and are then mutated: a member dropped, replaced by a value of the wrong
type, or joined by an unknown one; some are huge, some nested, some not JSON at all. The OAuth
bodies mix the parameter names the endpoints read with real values (placeholders such as
:data:`LIVE_REFRESH` that the test replaces with a live credential) and junk.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

LEGACY_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
MODERN = "2026-07-28"
METHODS = ("initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read", "prompts/list",
           "prompts/get", "logging/setLevel", "completion/complete", "server/discover", "notifications/initialized",
           "notifications/cancelled", "subscriptions/listen", "no/such/method", "")
# Tools that answer at once (start-notification-stream streams on purpose and is tested elsewhere).
TOOL_NAMES = ("whoami", "list_clients", "revoke_client_tokens", "no-such-tool")

# --- JSON ----------------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)
request_ids = st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=20), st.none(),
                        st.booleans(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))


def nested(depth: int) -> Any:
    """``depth`` levels of arrays: the shape that once raised RecursionError while decoding."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# --- JSON-RPC ------------------------------------------------------------------------------------


@st.composite
def params_for(draw, method: str, era: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if method == "initialize":
        params = {"protocolVersion": draw(st.sampled_from((*LEGACY_VERSIONS, "2024-01-01", MODERN))),
                  "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}
    elif method == "tools/call":
        params = {"name": draw(st.sampled_from(TOOL_NAMES)), "arguments": draw(st.dictionaries(st.text(max_size=8),
                                                                                               json_values, max_size=3))}
    elif method in {"resources/read", "prompts/get"}:
        params = {"uri": draw(st.text(max_size=30))} if method == "resources/read" else {"name": draw(st.text(max_size=20))}
    elif method == "logging/setLevel":
        params = {"level": draw(st.sampled_from(("debug", "info", "error", "emergency", "loud")))}
    if era == "modern":
        meta = {"io.modelcontextprotocol/protocolVersion": draw(st.sampled_from((MODERN,) * 6 + ("2025-11-25", "1999"))),
                "io.modelcontextprotocol/clientCapabilities": {}}
        if draw(st.booleans()):
            meta["io.modelcontextprotocol/clientInfo"] = {"name": "fuzz", "version": "1"}
        params["_meta"] = meta
    return params


@st.composite
def valid_messages(draw, era: str) -> dict[str, Any]:
    method = draw(st.sampled_from(METHODS))
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": draw(params_for(method, era))}
    if not method.startswith("notifications/"):
        message["id"] = draw(st.one_of(st.integers(min_value=0, max_value=2**31), st.text(min_size=1, max_size=10)))
    return message


@st.composite
def mutated(draw, message: dict[str, Any]) -> Any:
    """The message with one or more of: a member dropped, a member of the wrong type, an unknown member."""
    message = json.loads(json.dumps(message))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(("drop", "retype", "add", "retype-param", "retype-meta")))
        keys = sorted(message)
        if action == "drop" and keys:
            message.pop(draw(st.sampled_from(keys)))
        elif action == "retype" and keys:
            key = draw(st.sampled_from(keys))
            message[key] = draw(json_values if key != "id" else request_ids)
        elif action == "add":
            message[draw(st.text(max_size=10))] = draw(json_values)
        elif action == "retype-param" and isinstance(message.get("params"), dict) and message["params"]:
            key = draw(st.sampled_from(sorted(message["params"])))
            message["params"][key] = draw(json_values)
        elif action == "retype-meta" and isinstance(message.get("params"), dict) \
                and isinstance(message["params"].get("_meta"), dict):
            key = draw(st.sampled_from(sorted(message["params"]["_meta"])))
            message["params"]["_meta"][key] = draw(json_values)
    return message


@st.composite
def mcp_bodies(draw, era: str) -> bytes:
    """A POST body for ``/mcp``: valid, mutated, a batch, huge, nested, or not JSON at all."""
    kind = draw(st.sampled_from(("valid",) * 4 + ("mutated",) * 3 + ("batch", "huge", "nested", "json", "bytes")))
    if kind == "valid":
        payload: Any = draw(valid_messages(era))
    elif kind == "mutated":
        payload = draw(mutated(draw(valid_messages(era))))
    elif kind == "batch":
        payload = draw(st.lists(st.one_of(valid_messages(era), json_values), max_size=3))
    elif kind == "huge":
        message = draw(valid_messages(era))
        message["params"] = {**message["params"], "padding": "x" * draw(st.integers(min_value=10_000, max_value=300_000))}
        payload = message
    elif kind == "nested":
        message = draw(valid_messages(era))
        # Deep enough to matter, below the depths that exhaust the stack (those are their own test).
        message["params"] = {**message["params"], "deep": nested(draw(st.integers(min_value=10, max_value=200)))}
        payload = message
    elif kind == "json":
        payload = draw(json_values)
    else:
        return draw(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8"))))
    return json.dumps(payload).encode("utf-8")


# --- OAuth bodies ----------------------------------------------------------------------------------

LIVE_REFRESH = "<live refresh token>"
LIVE_ACCESS = "<live access token>"
LIVE_CODE = "<live code>"
LIVE_VERIFIER = "<live verifier>"
PUBLIC_CLIENT = "<public client id>"
CONFIDENTIAL_CLIENT = "<confidential client id>"
CONFIDENTIAL_SECRET = "<confidential client secret>"
REDIRECT_URI = "<redirect uri>"
PLACEHOLDERS = (LIVE_REFRESH, LIVE_ACCESS, LIVE_CODE, LIVE_VERIFIER, PUBLIC_CLIENT, CONFIDENTIAL_CLIENT,
                CONFIDENTIAL_SECRET, REDIRECT_URI)

FORM_NAMES = ("grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token",
              "scope", "resource", "token", "token_type_hint", "state", "assertion", "device_code")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", "password", "implicit",
               "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer", "")
weird_text = st.one_of(st.text(max_size=60), st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
                       st.sampled_from(("%ZZ", "%", "\x00", "a" * 5000, "http://testserver/mcp", "https://evil.example/",
                                        "mcp", "mcp admin user", "access_token", "refresh_token", " ", "💥")))
form_values = st.one_of(st.sampled_from(PLACEHOLDERS + GRANT_TYPES), weird_text)


@st.composite
def oauth_forms(draw) -> list[tuple[str, str]]:
    """Form fields (a list: names may repeat), mostly the ones the endpoints read."""
    names = st.one_of(st.sampled_from(FORM_NAMES), st.text(max_size=15))
    return draw(st.lists(st.tuples(names, form_values), max_size=8))


@st.composite
def authorization_headers(draw) -> str | None:
    import base64

    kind = draw(st.sampled_from(("none", "none", "basic", "bearer", "junk")))
    if kind == "none":
        return None
    if kind == "basic":
        user = draw(st.one_of(st.sampled_from((CONFIDENTIAL_CLIENT, PUBLIC_CLIENT)), st.text(max_size=20)))
        secret = draw(st.one_of(st.just(CONFIDENTIAL_SECRET), st.text(max_size=20)))
        raw = f"{user}:{secret}".encode("utf-8") if draw(st.booleans()) else draw(st.binary(max_size=30))
        return "Basic " + base64.b64encode(raw).decode("ascii")
    if kind == "bearer":
        return "Bearer " + draw(st.one_of(st.just(LIVE_ACCESS), st.text(alphabet="abc.-_", max_size=40)))
    return draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))


# RFC 7591 metadata: the names /register reads, with values of the right and of the wrong type.
REGISTRATION_NAMES = ("client_name", "redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method",
                      "scope", "client_uri", "logo_uri", "contacts", "software_id", "software_version",
                      "application_type", "jwks_uri", "tos_uri", "policy_uri")


@st.composite
def registration_bodies(draw, claude: dict[str, Any]) -> bytes:
    """Claude's real registration body, mutated; or other JSON; or not JSON."""
    kind = draw(st.sampled_from(("claude", "mutated", "mutated", "random", "bytes")))
    if kind == "claude":
        return json.dumps(claude).encode()
    if kind == "mutated":
        body = dict(claude)
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            action = draw(st.sampled_from(("drop", "set", "set")))
            if action == "drop" and body:
                body.pop(draw(st.sampled_from(sorted(body))))
            else:
                name = draw(st.sampled_from(REGISTRATION_NAMES))
                body[name] = draw(st.one_of(
                    st.none(), st.integers(), st.booleans(), st.dictionaries(st.text(max_size=5), scalars, max_size=2),
                    st.lists(scalars, max_size=2),
                    st.lists(st.sampled_from(("http://127.0.0.1:3000/cb", "https://app.example/cb", "javascript:x",
                                              "authorization_code", "refresh_token", "code", "none")), max_size=3),
                    st.sampled_from(("none", "client_secret_post", "client_secret_basic", "private_key_jwt", "mcp")),
                    st.text(max_size=30)))
        return json.dumps(body).encode()
    if kind == "random":
        return json.dumps(draw(st.dictionaries(st.sampled_from(REGISTRATION_NAMES), scalars, max_size=5))).encode()
    return draw(st.binary(max_size=100))


# Requests that would succeed, before mutation (placeholders stand for live credentials).
VALID_FORMS = {
    "/token": (
        [("grant_type", "authorization_code"), ("code", LIVE_CODE), ("redirect_uri", REDIRECT_URI),
         ("client_id", PUBLIC_CLIENT), ("code_verifier", LIVE_VERIFIER)],
        [("grant_type", "refresh_token"), ("refresh_token", LIVE_REFRESH), ("client_id", PUBLIC_CLIENT)],
        [("grant_type", "client_credentials"), ("client_id", CONFIDENTIAL_CLIENT), ("client_secret", CONFIDENTIAL_SECRET)],
    ),
    "/revoke": (
        [("token", LIVE_ACCESS), ("client_id", PUBLIC_CLIENT)],
        [("token", LIVE_REFRESH), ("token_type_hint", "refresh_token"), ("client_id", PUBLIC_CLIENT)],
    ),
    "/introspect": (
        [("token", LIVE_ACCESS), ("client_id", CONFIDENTIAL_CLIENT), ("client_secret", CONFIDENTIAL_SECRET)],
    ),
}


@st.composite
def nearly_valid_forms(draw, path: str) -> list[tuple[str, str]]:
    """A request that would succeed, with up to two fields dropped, replaced, repeated or added."""
    fields = list(draw(st.sampled_from(VALID_FORMS[path])))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        action = draw(st.sampled_from(("drop", "replace", "repeat", "add")))
        if action == "add" or not fields:
            fields.append((draw(st.sampled_from(FORM_NAMES)), draw(form_values)))
            continue
        index = draw(st.integers(min_value=0, max_value=len(fields) - 1))
        if action == "drop":
            fields.pop(index)
        elif action == "replace":
            fields[index] = (fields[index][0], draw(form_values))
        else:
            fields.append((fields[index][0], draw(form_values)))
    return fields
