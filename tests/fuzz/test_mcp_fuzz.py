"""Property-based fuzzing of ``/mcp`` in both eras, through the real ASGI application and consumer.

For every generated POST (valid, mutated, wrong types, batches, huge, nested, not JSON):

* the answer is never a 5xx, the consumer ends without an exception, and nothing is logged at
  ERROR (an unhandled exception caught at the boundary is still a bug);
* no JSON-RPC error is ``-32603`` (internal error);
* a refused request (HTTP 4xx) changes no stored row (sessions, events, tokens, clients);
* every JSON-RPC message in the answer (a JSON body or each SSE event) validates against the
  official schema of its era (``tests/schemas``), and a successful ``result`` against the result
  type of the method asked for.

Deep nesting that exhausts the parser's stack is its own explicit test at the bottom.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from hypothesis import event, given
from hypothesis import strategies as st
from oauth2_provider.models import AccessToken, RefreshToken

from mcp_app.models import Event, Session
from oauth_app.models import Client
from project.asgi import application
from tests.fuzz.conftest import FUZZ
from tests.fuzz.strategies import LEGACY_VERSIONS, MODERN, mcp_bodies
from tests.support import schema

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

T = 20  # seconds: bound on each communicator step
RESULT_TYPES = {"initialize": "InitializeResult", "ping": "EmptyResult", "tools/list": "ListToolsResult",
                "tools/call": "CallToolResult", "resources/list": "ListResourcesResult",
                "prompts/list": "ListPromptsResult", "server/discover": "DiscoverResult"}
INTERNAL_ERROR = -32603
STORED = (Session, Event, AccessToken, RefreshToken, Client)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture
def bearer(token_pair) -> str:
    """A real access token (scope mcp) from authorize + consent + /token."""
    return token_pair()["access_token"]


def headers(token: str, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    # A real client names the host (HTTP/1.1); /mcp checks it against ALLOWED_HOSTS before anything else.
    values = {"host": "testserver", "authorization": f"Bearer {token}", "accept": "application/json, text/event-stream",
              "content-type": "application/json", **{k.lower(): v for k, v in extra.items()}}
    return [(k.encode("latin-1"), v.encode("utf-8")) for k, v in values.items()]


async def post(body: bytes, head: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str], bytes]:
    communicator = HttpCommunicator(application, "POST", "/mcp", body=body, headers=head)
    response = await communicator.get_response(timeout=T)
    await communicator.wait(T)
    assert communicator.future.exception() is None
    return response["status"], {k.decode().lower(): v.decode() for k, v in response["headers"]}, response["body"]


def messages_of(content_type: str, body: bytes) -> list[Any]:
    if content_type.startswith("application/json"):
        return [json.loads(body)]
    if content_type.startswith("text/event-stream"):
        found = []
        for block in body.decode().split("\n\n"):
            data = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
            if data and "".join(data):
                found.append(json.loads("\n".join(data)))
        return found
    return []


def requested_methods(body: bytes) -> dict[Any, str]:
    """id -> method of each well-formed request in the body (to pick the result type to check)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    items = payload if isinstance(payload, list) else [payload]
    return {item["id"]: item["method"] for item in items if isinstance(item, dict) and isinstance(item.get("method"), str)
            and isinstance(item.get("id"), (str, int)) and not isinstance(item.get("id"), bool)}


def check_message(message: Any, version: str, methods: dict[Any, str]) -> None:
    """One answer against its era's official schema (batched answers of 2025-03-26 element by element)."""
    if isinstance(message, list):
        for item in message:
            check_message(item, version, methods)
        return
    assert isinstance(message, dict), message
    if "error" in message:
        assert message["error"].get("code") != INTERNAL_ERROR, message
        schema.validate_error(message, version if message.get("id") is not None else MODERN)
    elif "result" in message:
        schema.validate(message, schema.result_response(version), version)
        result_type = RESULT_TYPES.get(methods.get(message.get("id"), ""))
        if result_type and result_type in schema.definitions(version):
            schema.validate(message["result"], result_type, version)
    else:  # a request or notification the server sent on a stream
        schema.validate(message, "JSONRPCMessage", version)


def stored_rows() -> dict[str, list[tuple]]:
    return {model.__name__: list(model.objects.order_by("pk").values_list()) for model in STORED}


async def assert_well_answered(body: bytes, head: list[tuple[bytes, bytes]], version: str, caplog) -> None:
    caplog.clear()
    before = await sync_to_async(stored_rows)()
    status, response_headers, answer = await post(body, head)
    event(f"HTTP {status}")  # shown by --hypothesis-show-statistics: the mix must reach the dispatcher
    assert status < 500, (status, answer[:500])
    if 400 <= status < 500:
        assert await sync_to_async(stored_rows)() == before, "a refused request changed stored rows"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    methods = requested_methods(body)
    for message in messages_of(response_headers.get("content-type", ""), answer):
        event("result" if isinstance(message, dict) and "result" in message else "error or other")
        check_message(message, version, methods)


def header_safe(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isprintable()


async def open_session(token: str, version: str, caplog) -> str:
    """initialize + notifications/initialized, each checked like any fuzzed answer; return the session id."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}}
    status, response_headers, answer = await post(json.dumps(init).encode(), headers(token, {"MCP-Protocol-Version": version}))
    assert status == 200, answer
    check_message(json.loads(answer), version, {0: "initialize"})
    session_id = response_headers["mcp-session-id"]
    await assert_well_answered(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(),
                               headers(token, {"MCP-Protocol-Version": version, "Mcp-Session-Id": session_id}),
                               version, caplog)
    return session_id


@FUZZ
@given(body=mcp_bodies("legacy"), version=st.sampled_from(LEGACY_VERSIONS), in_session=st.booleans())
async def test_legacy_era_answers_are_never_5xx_and_always_schema_valid(body, version, in_session, bearer, caplog):
    """TRANS-*, issue 8 §4: the initialize/session era, in a session or not, never fails or leaves its schema."""
    extra = {"MCP-Protocol-Version": version}
    if in_session:
        extra["Mcp-Session-Id"] = await open_session(bearer, version, caplog)
    await assert_well_answered(body, headers(bearer, extra), version, caplog)


@FUZZ
@given(body=mcp_bodies("modern"))
async def test_modern_era_answers_are_never_5xx_and_always_schema_valid(body, bearer, caplog):
    """Issue 8 §4: the stateless 2026-07-28 era never fails or leaves its schema."""
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    extra = {"MCP-Protocol-Version": MODERN}
    if isinstance(message, dict):  # the routing headers a real client derives from the body
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if header_safe(message.get("method")):
            extra["Mcp-Method"] = message["method"]
        name = params.get("uri") if message.get("method") == "resources/read" else params.get("name")
        if header_safe(name):
            extra["Mcp-Name"] = name
    await assert_well_answered(body, headers(bearer, extra), MODERN, caplog)


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_json_nested_ten_thousand_deep_is_a_parse_error_not_a_500(era, bearer, caplog):
    """Issue 8 "Why": 10,000 nested arrays at /mcp once raised RecursionError (a 500)."""
    deep = "[" * 10_000 + "0" + "]" * 10_000  # written out: json.dumps itself cannot nest that deep
    body = ('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"deep": %s}}' % deep).encode()
    version = MODERN if era == "modern" else "2025-11-25"
    extra = {"MCP-Protocol-Version": version, **({"Mcp-Method": "ping"} if era == "modern" else {})}
    caplog.clear()
    status, response_headers, answer = await post(body, headers(bearer, extra))
    assert status == 400, (status, answer[:300])
    message = json.loads(answer)
    assert message["error"]["code"] in {-32700, -32600}
