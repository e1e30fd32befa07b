"""The ``/mcp`` Channels consumer over ASGI: every HTTP status of the transport, both protocol eras, SSE streams.

Requests go through ``project.asgi.application`` with Channels' testing communicators and real
bearer tokens (authorize + consent + token exchange). Long-lived streams use an
``ApplicationCommunicator`` directly: the test reads ``http.response.start`` and body chunks,
sends ``http.disconnect`` and then checks that the consumer finished, left every channel-layer
group and left no task behind (DJ-09). Every wait is bounded by a communicator timeout; there
are no sleeps. JSON bodies are validated against the official schema of their protocol version.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from channels.testing import HttpCommunicator

from mcp_app.tools.registry import registry
from project.asgi import application
from tests.support.schema import validate, validate_error, validate_result

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

T = 10  # seconds: the bound on every single communicator step
MODERN = "2026-07-28"
LATEST = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
RESOURCE_METADATA = "http://testserver/.well-known/oauth-protected-resource/mcp"
ALLOW_HEADERS = {"authorization", "content-type", "accept", "mcp-protocol-version", "mcp-session-id", "last-event-id",
                 "mcp-method", "mcp-name"}
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


# --- plumbing ------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users are created per test (transactional flush): a fast hasher keeps that cheap."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _layer(layer):
    """Every consumer test gets a fresh in-memory channel layer."""
    return layer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[dict[str, Any]]:
        return parse_sse(self.body.decode())

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(e["data"]) for e in self.events() if e["data"]]

    def challenge(self) -> dict[str, str]:
        return parse_challenge(self.headers["www-authenticate"])


def parse_block(block: str) -> dict[str, Any]:
    event: dict[str, Any] = {"id": None, "event": None, "retry": None, "data": None, "comments": []}
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            event["comments"].append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in {"id", "event", "retry"}:
            event[name] = value
    if data:
        event["data"] = "\n".join(data)
    return event


def parse_sse(text: str) -> list[dict[str, Any]]:
    return [parse_block(block) for block in text.split("\n\n") if block.strip()]


def parse_challenge(value: str) -> dict[str, str]:
    assert value.startswith("Bearer "), value
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', value))


def header_list(token: str | None = None, *, accept: str | None = ACCEPT_BOTH, content_type: str | None = "application/json",
                extra: dict[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if accept is not None:
        headers["Accept"] = accept
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def pending_tasks() -> list[asyncio.Task]:
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


def with_host(headers) -> list[tuple[bytes, bytes]]:
    """Every HTTP/1.1 request names its host (daphne passes it on; /mcp checks it against ALLOWED_HOSTS)."""
    headers = list(headers)
    return headers if any(name == b"host" for name, _ in headers) else [(b"host", b"testserver"), *headers]


async def exchange(method: str, path: str = "/mcp", *, headers: list[tuple[bytes, bytes]] = (), body: bytes = b"") -> Reply:
    """One complete request/response; the consumer must have finished afterwards."""
    communicator = HttpCommunicator(application, method, path, body=body, headers=with_host(headers))
    response = await communicator.get_response(timeout=T)
    await communicator.wait(T)
    return Reply(response["status"], {k.decode().lower(): v.decode() for k, v in response["headers"]}, response["body"])


class Stream:
    """A long-lived response read chunk by chunk (SSE), ended by the server or by ``disconnect()``."""

    def __init__(self, method: str, *, headers: list[tuple[bytes, bytes]], body: bytes = b"", path: str = "/mcp") -> None:
        self.communicator = HttpCommunicator(application, method, path, body=body, headers=with_host(headers))
        self.request_body = body
        self.buffer = ""
        self.ended = False
        self.status = 0
        self.headers: dict[str, str] = {}

    async def open(self) -> Stream:
        await self.communicator.send_input({"type": "http.request", "body": self.request_body})
        start = await self.communicator.receive_output(T)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def _chunk(self) -> None:
        message = await self.communicator.receive_output(T)
        assert message["type"] == "http.response.body", message
        self.buffer += message["body"].decode()
        if not message.get("more_body", False):
            self.ended = True

    async def block(self) -> dict[str, Any] | None:
        """The next SSE block (a message, a ``retry:`` or a comment), or ``None`` once the response ended."""
        while "\n\n" not in self.buffer:
            if self.ended:
                assert not self.buffer.strip(), self.buffer
                return None
            await self._chunk()
        block, self.buffer = self.buffer.split("\n\n", 1)
        return parse_block(block)

    async def event(self) -> dict[str, Any]:
        """The next SSE event that carries ``data`` (possibly empty: a priming event)."""
        while True:
            block = await self.block()
            assert block is not None, "the stream ended"
            if block["data"] is not None:
                return block

    async def message(self) -> tuple[str | None, dict[str, Any]]:
        """The next JSON-RPC message and its event id (skips priming events)."""
        while True:
            event = await self.event()
            if event["data"]:
                return event["id"], json.loads(event["data"])

    async def drain(self) -> Any:
        """The rest of a non-SSE (JSON) response, decoded; the consumer must have finished."""
        while not self.ended:
            await self._chunk()
        text, self.buffer = self.buffer, ""
        await self.finished()
        return json.loads(text)

    async def rest(self) -> list[dict[str, Any]]:
        blocks = []
        while (block := await self.block()) is not None:
            blocks.append(block)
        return blocks

    async def finished(self) -> None:
        """The server ended the response; the consumer task is done."""
        await self.communicator.wait(T)
        assert self.communicator.future.done() and self.communicator.future.exception() is None

    async def disconnect(self) -> None:
        """The client goes away; the consumer must end (bounded by ``T``) without an exception."""
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.finished()


def memberships(layer) -> dict[str, set[str]]:
    """Non-empty groups of the in-memory channel layer."""
    return {group: set(channels) for group, channels in layer.groups.items() if channels}


class MCP:
    """A minimal client for one bearer token."""

    def __init__(self, token: str | None, path: str = "/mcp") -> None:
        self.token = token
        self.path = path
        self.next_id = 0

    def id(self) -> int:
        self.next_id += 1
        return self.next_id

    def headers(self, extra: dict[str, str] | None = None, **kwargs: Any) -> list[tuple[bytes, bytes]]:
        return header_list(self.token, extra=extra, **kwargs)

    async def post(self, payload: Any, extra: dict[str, str] | None = None, *, path: str | None = None, **kwargs: Any) -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await exchange("POST", path or self.path, headers=self.headers(extra, **kwargs), body=body)

    # legacy era

    async def initialize(self, version: str = LATEST) -> str:
        reply = await self.post({"jsonrpc": "2.0", "id": self.id(), "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "consumer-test", "version": "1"}}})
        assert reply.status == 200, reply.body
        session_id = reply.headers["mcp-session-id"]
        initialized = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                      {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": version})
        assert initialized.status == 202 and initialized.body == b""
        return session_id

    def legacy_request(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id if request_id is not None else self.id(), "method": method}
        if params is not None:
            message["params"] = params
        return message

    def legacy_headers(self, session_id: str | None, version: str | None = LATEST, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if session_id is not None:
            headers["Mcp-Session-Id"] = session_id
        if version is not None:
            headers["MCP-Protocol-Version"] = version
        return headers

    async def legacy(self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None,
                     version: str | None = LATEST, request_id: Any = None, **extra: str) -> Reply:
        return await self.post(self.legacy_request(method, params, request_id=request_id),
                               self.legacy_headers(session_id, version, **extra))

    def get_stream(self, session_id: str | None, *, last_event_id: str | None = None, version: str = LATEST,
                   accept: str = "text/event-stream") -> Stream:
        extra = self.legacy_headers(session_id, version)
        if last_event_id is not None:
            extra["Last-Event-ID"] = last_event_id
        return Stream("GET", headers=header_list(self.token, accept=accept, content_type=None, extra=extra), path=self.path)

    # modern era

    def modern_request(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None,
                       meta: dict[str, Any] | None = None) -> dict[str, Any]:
        full_meta = {"io.modelcontextprotocol/protocolVersion": MODERN,
                     "io.modelcontextprotocol/clientCapabilities": {}, **(meta or {})}
        return {"jsonrpc": "2.0", "id": request_id if request_id is not None else self.id(), "method": method,
                "params": {**(params or {}), "_meta": full_meta}}

    @staticmethod
    def modern_headers(method: str, params: dict[str, Any] | None = None, **overrides: str | None) -> dict[str, str]:
        headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
        params = params or {}
        if method in {"tools/call", "prompts/get"}:
            headers["Mcp-Name"] = params.get("name", "")
        elif method == "resources/read":
            headers["Mcp-Name"] = params.get("uri", "")
        for name, value in overrides.items():
            name = name.replace("_", "-")
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            if value is not None:
                headers[name] = value
        return headers

    async def modern(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None,
                     meta: dict[str, Any] | None = None, path: str | None = None, **header_overrides: str | None) -> Reply:
        return await self.post(self.modern_request(method, params, request_id=request_id, meta=meta),
                               self.modern_headers(method, params, **header_overrides), path=path)

    def modern_stream(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = None,
                      meta: dict[str, Any] | None = None) -> Stream:
        body = json.dumps(self.modern_request(method, params, request_id=request_id, meta=meta)).encode()
        return Stream("POST", headers=self.headers(self.modern_headers(method, params)), body=body, path=self.path)

    def legacy_stream(self, method: str, params: dict[str, Any] | None = None, *, session_id: str,
                      version: str = LATEST, request_id: Any = None) -> Stream:
        body = json.dumps(self.legacy_request(method, params, request_id=request_id)).encode()
        return Stream("POST", headers=self.headers(self.legacy_headers(session_id, version)), body=body, path=self.path)


def b64(text: str) -> str:
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


# --- 401 / 403: authentication and scopes ----------------------------------------------------------------


class TestAuthentication:
    @pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
    async def test_no_token(self, tokens, method):
        """AUTH-04, AUTH-05, AUTH-06, AUTH-07, CLAUDE-08: no token -> 401 with an absolute ``resource_metadata`` and the
        scopes needed, and no ``error=`` (nothing was sent); checked before method dispatch."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode() if method == "POST" else b""
        reply = await exchange(method, headers=header_list(None, extra={"Mcp-Session-Id": "x"}), body=body)
        assert reply.status == 401
        assert reply.challenge() == {"resource_metadata": RESOURCE_METADATA, "scope": "mcp"}
        assert "error=" not in reply.headers["www-authenticate"]

    @pytest.mark.parametrize("authorization", ["Basic YWxpY2U6cGFzcw==", "Bearer", "Bearer   ", "bearer"])
    async def test_other_schemes_are_no_token(self, tokens, authorization):
        """AUTH-07, AUTH-14: only ``Authorization: Bearer <token>`` counts; anything else is a missing token."""
        reply = await exchange("POST", headers=header_list(None, extra={"Authorization": authorization}), body=b"{}")
        assert reply.status == 401
        assert "error" not in reply.challenge()

    @pytest.mark.parametrize("which", ["garbage", "expired", "foreign", "wrong_issuer", "tampered"])
    async def test_bad_tokens(self, tokens, which):
        """AUTH-07, AUTH-08, AUTH-36, CLAUDE-11: a malformed, expired, foreign-audience, foreign-issuer or tampered
        token -> 401 ``error="invalid_token"`` (never 403, never a tool error), still naming metadata and scope."""
        raw = {"garbage": "not-a-jwt", "expired": tokens.expired, "foreign": tokens.foreign,
               "wrong_issuer": tokens.wrong_issuer, "tampered": tokens.alice[:-4] + ("AAAA" if not tokens.alice.endswith("AAAA") else "BBBB")}[which]
        reply = await MCP(raw).modern("server/discover")
        assert reply.status == 401, reply.body
        params = reply.challenge()
        assert params["error"] == "invalid_token"
        assert params["resource_metadata"] == RESOURCE_METADATA and params["scope"] == "mcp"
        assert reply.json()["error"] == "invalid_token"

    async def test_token_in_query_string_is_ignored(self, tokens):
        """AUTH-14, CLAUDE-03: ``/mcp?access_token=...`` is treated as unauthenticated (401 without ``error=``)."""
        client = MCP(None, path=f"/mcp?access_token={tokens.alice}")
        reply = await client.modern("server/discover")
        assert reply.status == 401
        assert "error" not in reply.challenge()

    async def test_token_without_the_mcp_scope(self, tokens):
        """AUTH-09, AUTH-13: a valid token lacking the scope every request needs -> 403 ``insufficient_scope``."""
        reply = await MCP(tokens.user_only).modern("server/discover")
        assert reply.status == 403
        params = reply.challenge()
        assert params["error"] == "insufficient_scope" and params["scope"] == "mcp"
        assert params["resource_metadata"] == RESOURCE_METADATA

    async def test_admin_tool_with_a_non_admin_token_modern(self, tokens):
        """AUTH-09, AUTH-10, CLAUDE-10: calling an admin tool without ``admin`` -> HTTP 403 naming ALL scopes needed in
        one challenge, not a 200 tool error; the same call succeeds with an admin token."""
        reply = await MCP(tokens.alice).modern("tools/call", {"name": "list_clients", "arguments": {}})
        assert reply.status == 403
        params = reply.challenge()
        assert params["error"] == "insufficient_scope"
        assert set(params["scope"].split()) == {"admin", "mcp"}
        assert params["resource_metadata"] == RESOURCE_METADATA
        ok = await MCP(tokens.root).modern("tools/call", {"name": "list_clients", "arguments": {}})
        assert ok.status == 200
        result = validate_result(ok.json(), "CallToolResult", MODERN)
        assert "isError" not in result and "client_id" in result["content"][0]["text"]

    async def test_admin_tool_with_a_non_admin_token_legacy(self, tokens):
        """AUTH-09, AUTH-10: the legacy era answers the same 403 (before any stream starts)."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        reply = await client.legacy("tools/call", {"name": "revoke_client_tokens", "arguments": {"client_id": "x"},
                                                   "_meta": {"progressToken": 1}}, session_id=session_id)
        assert reply.status == 403
        assert set(reply.challenge()["scope"].split()) == {"admin", "mcp"}
        listed = await client.legacy("tools/list", session_id=session_id)
        names = [tool["name"] for tool in validate_result(listed.json(), "ListToolsResult", LATEST)["tools"]]
        assert "whoami" in names and "list_clients" not in names and "revoke_client_tokens" not in names

    async def test_every_request_is_authenticated_within_a_session(self, tokens):
        """AUTH-14, TRANS-16: a session id is no credential: a request in a session without a token -> 401."""
        session_id = await MCP(tokens.alice).initialize()
        reply = await MCP(None).legacy("tools/list", session_id=session_id)
        assert reply.status == 401


# --- CORS and Origin --------------------------------------------------------------------------------------


class TestCors:
    async def test_preflight_without_token(self, tokens, settings):
        """CLAUDE-18: OPTIONS is answered without a token, allowing the MCP headers and exposing WWW-Authenticate and
        Mcp-Session-Id."""
        settings.CORS_ORIGINS = ["https://inspector.example"]
        reply = await exchange("OPTIONS", headers=[(b"origin", b"https://inspector.example"),
                                                   (b"access-control-request-method", b"POST"),
                                                   (b"access-control-request-headers", b"authorization, mcp-method")])
        assert reply.status == 204 and reply.body == b""
        assert reply.headers["access-control-allow-origin"] == "https://inspector.example"
        assert {h.strip().lower() for h in reply.headers["access-control-allow-headers"].split(",")} == ALLOW_HEADERS
        assert {m.strip() for m in reply.headers["access-control-allow-methods"].split(",")} >= {"GET", "POST", "DELETE", "OPTIONS"}
        assert {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")} == {
            "www-authenticate", "mcp-session-id"}
        assert "access-control-allow-credentials" not in reply.headers

    async def test_cors_headers_on_a_401(self, tokens, settings):
        """CLAUDE-18: a browser client can read the challenge of a 401 (exposed WWW-Authenticate)."""
        settings.CORS_ORIGINS = ["https://inspector.example"]
        reply = await exchange("POST", headers=header_list(None, extra={"Origin": "https://inspector.example"}), body=b"{}")
        assert reply.status == 401
        assert reply.headers["access-control-allow-origin"] == "https://inspector.example"
        assert "www-authenticate" in reply.headers["access-control-expose-headers"].lower()

    async def test_disallowed_origin(self, tokens, settings):
        """TRANS-02: a present Origin that is not allowed -> 403 with a JSON-RPC error without id (even for a
        preflight, even with a valid token); an allowed or absent Origin passes."""
        settings.CORS_ORIGINS = ["https://good.example"]
        client = MCP(tokens.alice)
        request = client.modern_request("server/discover")
        for method, body in (("POST", json.dumps(request).encode()), ("OPTIONS", b"")):
            reply = await exchange(method, headers=client.headers({**client.modern_headers("server/discover"),
                                                                   "Origin": "https://evil.example"}), body=body)
            assert reply.status == 403
            error = validate_error(reply.json())
            assert error["code"] == -32600 and "id" not in reply.json()
        for origin in ("https://good.example", "http://testserver", None):
            extra = client.modern_headers("server/discover")
            if origin:
                extra["Origin"] = origin
            reply = await client.post(request, extra)
            assert reply.status == 200, (origin, reply.body)


    @pytest.mark.parametrize("origin, status", [
        ("https://evil.example", 403), ("http://localhost:6274", 200), ("http://127.0.0.1:5173", 200),
        ("http://testserver", 200), ("http://localhost.evil.example", 403)])
    async def test_default_origin_policy(self, tokens, settings, origin, status):
        """TRANS-02: with the default CORS_ALLOWED_ORIGINS=* the metadata is open to any origin, but /mcp
        accepts browser origins only from itself and loopback (MCP Inspector), so DNS rebinding gets 403."""
        settings.CORS_ORIGINS = ["*"]
        client = MCP(tokens.alice)
        reply = await client.post(client.modern_request("server/discover"),
                                  {**client.modern_headers("server/discover"), "Origin": origin})
        assert reply.status == status


# --- general HTTP rules ----------------------------------------------------------------------------------------


class TestHttpRules:
    @pytest.mark.parametrize("accept", ["application/json", "text/event-stream", "text/html", ""])
    async def test_post_accept(self, tokens, accept):
        """TRANS-05: a POST whose Accept lacks application/json or text/event-stream -> 406."""
        client = MCP(tokens.alice)
        reply = await client.post(client.modern_request("server/discover"), client.modern_headers("server/discover"),
                                  accept=accept or None)
        assert reply.status == 406
        assert validate_error(reply.json())["code"] == -32600

    @pytest.mark.parametrize("accept", ["*/*", "application/*, text/*", "text/event-stream;q=0.9, application/json"])
    async def test_post_accept_wildcards(self, tokens, accept):
        """TRANS-05: media ranges and parameters are understood."""
        client = MCP(tokens.alice)
        reply = await client.post(client.modern_request("server/discover"), client.modern_headers("server/discover"),
                                  accept=accept)
        assert reply.status == 200

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
    async def test_content_type(self, tokens, content_type):
        """TRANS-05: a non-JSON Content-Type -> 415."""
        client = MCP(tokens.alice)
        reply = await client.post(client.modern_request("server/discover"), client.modern_headers("server/discover"),
                                  content_type=content_type)
        assert reply.status == 415
        assert validate_error(reply.json())["code"] == -32600
        ok = await client.post(client.modern_request("server/discover"), client.modern_headers("server/discover"),
                               content_type="application/json; charset=utf-8")
        assert ok.status == 200

    async def test_body_limit(self, tokens, settings):
        """Issue 4 §5: a body over ``MCP_APP["MAX_BODY_BYTES"]`` -> 413, also when it arrives in chunks."""
        settings.MCP_APP = {**settings.MCP_APP, "MAX_BODY_BYTES": 300}
        client = MCP(tokens.alice)
        big = client.modern_request("tools/call", {"name": "whoami", "arguments": {"pad": "x" * 400}})
        reply = await client.post(big, client.modern_headers("tools/call", {"name": "whoami"}))
        assert reply.status == 413
        assert validate_error(reply.json())["code"] == -32600
        # Chunked: the consumer answers as soon as the limit is passed.
        communicator = HttpCommunicator(application, "POST", "/mcp", headers=with_host(client.headers()))
        await communicator.send_input({"type": "http.request", "body": b"[" + b" " * 200, "more_body": True})
        await communicator.send_input({"type": "http.request", "body": b" " * 200, "more_body": True})
        start = await communicator.receive_output(T)
        assert start["status"] == 413
        await communicator.receive_output(T)
        await communicator.wait(T)
        small = await client.modern("server/discover")
        assert small.status == 200

    @pytest.mark.parametrize("body", [b"{", b"", b"\xff\xfe", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"'])
    async def test_parse_error(self, tokens, body):
        """TRANS-06: an unparseable body -> HTTP 400 with -32700 and no id."""
        reply = await MCP(tokens.alice).post(body)
        assert reply.status == 400
        assert reply.json() == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}}
        validate_error(reply.json())

    @pytest.mark.parametrize("payload", [
        [], 5, "x", {"jsonrpc": "1.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"}, {"jsonrpc": "2.0", "id": 1, "method": 7},
    ])
    async def test_invalid_request(self, tokens, payload):
        """TRANS-04, TRANS-06: valid JSON that is no valid JSON-RPC message -> HTTP 400 with -32600."""
        reply = await MCP(tokens.alice).post(payload)
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600

    @pytest.mark.parametrize("era", ["legacy", "modern"])
    async def test_json_nested_ten_thousand_deep(self, tokens, era):
        """Issue 9 (hardening): a body nested 10,000 deep is a parse error in both eras (HTTP 400, -32700, no id),
        never a RecursionError or a 500; within the parser's depth, deep params are refused without a 5xx."""
        client = MCP(tokens.alice)
        if era == "legacy":
            session = await client.initialize(LATEST)
            extra = client.legacy_headers(session, LATEST)
            wrap = lambda inner: b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {"a": ' + inner + b"}}}"  # noqa: E731
        else:
            extra = client.modern_headers("tools/call", {"name": "whoami"})
            meta = json.dumps(client.modern_request("ping")["params"]["_meta"]).encode()
            wrap = lambda inner: (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", '  # noqa: E731
                                  b'"_meta": ' + meta + b', "arguments": {"a": ' + inner + b"}}}")
        deep = b"[" * 10_000 + b"]" * 10_000
        for body in (deep, wrap(deep)):
            reply = await client.post(body, extra)
            assert reply.status == 400, reply.body
            assert reply.json() == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}}
        shallow_enough = wrap(b"[" * 900 + b"]" * 900)  # parses; the tool refuses unknown arguments
        reply = await client.post(shallow_enough, extra)
        assert reply.status == 200
        result = validate_result(reply.json(), "CallToolResult", LATEST if era == "legacy" else MODERN)
        assert result["isError"] is True

    async def test_foreign_host_is_refused_before_authentication(self, tokens):
        """Issue 9 (hardening), TRANS-02: a Host outside ALLOWED_HOSTS (DNS rebinding) -> 400 before the bearer
        is even looked at (no 401 challenge, no token verification), as Django answers for its own views."""
        client = MCP(tokens.alice)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "rebind", "version": "1"}}}).encode()
        for token in (tokens.alice, None):
            reply = await exchange("POST", headers=[(b"host", b"evil.example"), *header_list(token)], body=body)
            assert reply.status == 400
            assert "www-authenticate" not in reply.headers and "mcp-session-id" not in reply.headers
            assert validate_error(reply.json())["code"] == -32600
        for host in (b"testserver", b"testserver:8000", b"127.0.0.1:9"):
            reply = await exchange("POST", headers=[(b"host", host), *header_list(tokens.alice)], body=body)
            assert reply.status == 200, host

    async def test_other_methods(self, tokens):
        """TRANS-01: only GET, POST, DELETE (and OPTIONS) exist on /mcp."""
        reply = await exchange("PUT", headers=header_list(tokens.alice), body=b"{}")
        assert reply.status == 405
        assert set(reply.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST", "DELETE", "OPTIONS"}

    async def test_trailing_slash_is_served_without_redirect(self, tokens):
        """CLAUDE-12, DJ-08: ``/mcp/`` is served exactly like ``/mcp`` (no 3xx), including the 401."""
        client = MCP(tokens.alice)
        plain = await client.modern("server/discover", request_id=5)
        slash = await client.modern("server/discover", request_id=5, path="/mcp/")
        assert plain.status == slash.status == 200
        assert plain.json() == slash.json()
        assert plain.headers["content-type"] == slash.headers["content-type"] == "application/json"
        anonymous = await exchange("POST", "/mcp/", headers=header_list(None), body=b"{}")
        assert anonymous.status == 401 and anonymous.challenge()["resource_metadata"] == RESOURCE_METADATA
        session_id = await MCP(tokens.alice, path="/mcp/").initialize()
        listed = await MCP(tokens.alice, path="/mcp/").legacy("tools/list", session_id=session_id)
        assert listed.status == 200


# --- legacy era: sessions ---------------------------------------------------------------------------------------


class TestLegacySessions:
    @pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
    async def test_initialize(self, tokens, version):
        """TRANS-12, TRANS-23, TRANS-24: initialize negotiates the version and returns a random visible-ASCII
        Mcp-Session-Id; notifications/initialized -> 202 without body; the result matches the version's schema."""
        client = MCP(tokens.alice)
        reply = await client.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        result = validate_result(reply.json(), "InitializeResult", version)
        assert result["protocolVersion"] == version
        assert "resultType" not in result
        session_id = reply.headers["mcp-session-id"]
        assert re.fullmatch(r"[\x21-\x7e]{32,}", session_id)
        other = (await client.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})).headers["mcp-session-id"]
        assert other != session_id
        note = await client.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                 {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": version})
        assert note.status == 202 and note.body == b"" and "content-type" not in note.headers
        ping = await client.legacy("ping", session_id=session_id, version=version)
        assert validate_result(ping.json(), "EmptyResult", version) == {}

    async def test_initialize_with_an_unknown_version(self, tokens):
        """TRANS-23: an unsupported requested version is answered with the latest legacy one."""
        reply = await MCP(tokens.alice).post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2024-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert validate_result(reply.json(), "InitializeResult", LATEST)["protocolVersion"] == LATEST

    async def test_missing_session_id(self, tokens):
        """TRANS-13: a non-initialize request without Mcp-Session-Id -> 400."""
        reply = await MCP(tokens.alice).legacy("tools/list", session_id=None)
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600

    async def test_unknown_and_foreign_sessions_are_the_same_404(self, tokens):
        """TRANS-14, TRANS-16: an unknown session id -> 404; another principal's session id (another user, or the same
        user through another client) -> the identical 404, for POST, GET and DELETE."""
        alice = MCP(tokens.alice)
        session_id = await alice.initialize()
        unknown = await alice.legacy("tools/list", session_id="no-such-session", request_id=9)
        assert unknown.status == 404
        assert validate_error(unknown.json())["code"] == -32600
        for token in (tokens.bob, tokens.alice_other_client):
            foreign = await MCP(token).legacy("tools/list", session_id=session_id, request_id=9)
            assert (foreign.status, foreign.body) == (unknown.status, unknown.body)
            stream = await MCP(token).get_stream(session_id).open()
            assert stream.status == 404
            assert await stream.drain() == unknown.json()
            deleted = await exchange("DELETE", headers=header_list(token, extra={"Mcp-Session-Id": session_id}))
            assert (deleted.status, deleted.body) == (unknown.status, unknown.body)
        still = await alice.legacy("tools/list", session_id=session_id)
        assert still.status == 200

    async def test_delete_ends_the_session(self, tokens):
        """TRANS-15, TRANS-14: DELETE -> 204; every later use of the session -> 404."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        deleted = await exchange("DELETE", headers=header_list(tokens.alice, extra={"Mcp-Session-Id": session_id}))
        assert deleted.status == 204 and deleted.body == b""
        assert (await client.legacy("tools/list", session_id=session_id)).status == 404
        again = await exchange("DELETE", headers=header_list(tokens.alice, extra={"Mcp-Session-Id": session_id}))
        assert again.status == 404
        stream = await client.get_stream(session_id).open()
        assert stream.status == 404
        assert validate_error(await stream.drain())["code"] == -32600

    @pytest.mark.parametrize("header", ["2026-07-28x", "1999-01-01", "2024-11-05", "latest"])
    async def test_unsupported_protocol_version_header(self, tokens, header):
        """TRANS-22: an unsupported MCP-Protocol-Version header -> 400; an absent one means the negotiated version."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        reply = await client.legacy("tools/list", session_id=session_id, version=header)
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600
        absent = await client.legacy("tools/list", session_id=session_id, version=None)
        assert absent.status == 200
        validate_result(absent.json(), "ListToolsResult", LATEST)

    async def test_notifications_and_responses_only(self, tokens):
        """TRANS-07: a POST carrying only notifications or responses -> 202 with no body."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        for payload in ({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
                        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
                        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}):
            reply = await client.post(payload, client.legacy_headers(session_id))
            assert reply.status == 202 and reply.body == b""

    async def test_batch_in_2025_03_26(self, tokens):
        """TRANS-11: a 2025-03-26 session accepts a batch and answers every request in it (notifications get nothing)."""
        client = MCP(tokens.alice)
        session_id = await client.initialize("2025-03-26")
        batch = [client.legacy_request("ping", request_id=1),
                 {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
                 client.legacy_request("tools/list", request_id=2),
                 client.legacy_request("no/such", request_id=3)]
        reply = await client.post(batch, client.legacy_headers(session_id, "2025-03-26"))
        assert reply.status == 200
        responses = reply.json()
        validate(responses, "JSONRPCBatchResponse", "2025-03-26")
        by_id = {r["id"]: r for r in responses}
        assert set(by_id) == {1, 2, 3}
        assert by_id[1]["result"] == {}
        validate(by_id[2]["result"], "ListToolsResult", "2025-03-26")
        assert by_id[3]["error"]["code"] == -32601
        only_notes = await client.post([{"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}],
                                       client.legacy_headers(session_id, "2025-03-26"))
        assert only_notes.status == 202 and only_notes.body == b""

    @pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
    async def test_batch_refused_after_2025_03_26(self, tokens, version):
        """TRANS-11: from 2025-06-18 a JSON array body -> 400 with -32600."""
        client = MCP(tokens.alice)
        session_id = await client.initialize(version)
        reply = await client.post([client.legacy_request("ping")], client.legacy_headers(session_id, version))
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600

    async def test_initialize_is_not_batchable(self, tokens):
        """TRANS-11: initialize must be sent alone."""
        client = MCP(tokens.alice)
        reply = await client.post([{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}])
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600

    async def test_json_answers_and_errors(self, tokens):
        """TRANS-08, TRANS-60, TRANS-50: a request is answered with ``application/json``; JSON-RPC errors keep HTTP 200 in
        the legacy era (unknown method -32601, bad params -32602, unknown resource -32002)."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        whoami = await client.legacy("tools/call", {"name": "whoami", "arguments": {}}, session_id=session_id)
        assert whoami.status == 200 and whoami.headers["content-type"] == "application/json"
        result = validate_result(whoami.json(), "CallToolResult", LATEST)
        assert result["structuredContent"]["username"] == "alice"
        assert result["structuredContent"]["scopes"] == ["mcp"]
        for method, params, code in (("no/such", {}, -32601), ("tools/call", {"name": "nope"}, -32602),
                                     ("resources/read", {"uri": "mcp://nope"}, -32002), ("tools/list", {"cursor": "!"}, -32602)):
            reply = await client.legacy(method, params, session_id=session_id, request_id=77)
            assert reply.status == 200
            assert reply.json()["id"] == 77
            assert validate_error(reply.json(), LATEST)["code"] == code
        bad_args = await client.legacy("tools/call", {"name": "start-notification-stream", "arguments": {"count": "many"}},
                                       session_id=session_id)
        assert validate_result(bad_args.json(), "CallToolResult", LATEST)["isError"] is True

    async def test_resources_and_prompts(self, tokens):
        """TRANS-50, TRANS-51, TRANS-53: the built-in resource, prompt and completion over the legacy transport."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        resources = validate_result((await client.legacy("resources/list", session_id=session_id)).json(),
                                    "ListResourcesResult", LATEST)
        assert "mcp://client/registration" in [r["uri"] for r in resources["resources"]]
        read = validate_result((await client.legacy("resources/read", {"uri": "mcp://client/registration"},
                                                    session_id=session_id)).json(), "ReadResourceResult", LATEST)
        assert json.loads(read["contents"][0]["text"])["client_id"]
        prompt = await client.legacy("prompts/get", {"name": "explain_scope", "arguments": {"scope": "mcp"}},
                                     session_id=session_id)
        validate_result(prompt.json(), "GetPromptResult", LATEST)
        missing = await client.legacy("prompts/get", {"name": "explain_scope", "arguments": {}}, session_id=session_id)
        assert validate_error(missing.json(), LATEST)["code"] == -32602
        completion = await client.legacy("completion/complete", {"ref": {"type": "ref/prompt", "name": "explain_scope"},
                                                                 "argument": {"name": "scope", "value": "m"}},
                                         session_id=session_id)
        assert "mcp" in validate_result(completion.json(), "CompleteResult", LATEST)["completion"]["values"]
        level = await client.legacy("logging/setLevel", {"level": "info"}, session_id=session_id)
        assert validate_result(level.json(), "EmptyResult", LATEST) == {}


# --- legacy era: streams -----------------------------------------------------------------------------------------


def progress_call(count: int = 3, token: Any = "tok", **arguments: Any) -> dict[str, Any]:
    return {"name": "start-notification-stream", "arguments": {"count": count, "interval": 0, **arguments},
            "_meta": {"progressToken": token}}


class TestLegacyStreams:
    @pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
    async def test_streamed_tools_call(self, tokens, version):
        """TRANS-08, TRANS-09, TRANS-10, TRANS-19, TRANS-21, TRANS-56: a tools/call with a progress token is answered
        as ``text/event-stream`` with ``X-Accel-Buffering: no``: ``retry:`` first, a priming event (id, empty data) in
        2025-11-25, increasing progress notifications, then the response that ends the stream; ids are unique."""
        client = MCP(tokens.alice)
        session_id = await client.initialize(version)
        reply = await client.legacy("tools/call", progress_call(3), session_id=session_id, version=version, request_id=42)
        assert reply.status == 200
        assert reply.headers["content-type"] == "text/event-stream"
        assert reply.headers["x-accel-buffering"] == "no"
        assert reply.headers["cache-control"] == "no-store"
        events = reply.events()
        assert events[0]["retry"] == "1000" and events[0]["data"] is None
        data_events = [e for e in events if e["data"] is not None]
        if version == "2025-11-25":
            priming = data_events.pop(0)
            assert priming["id"] and priming["data"] == ""
        messages = [json.loads(e["data"]) for e in data_events]
        assert [m.get("method") for m in messages] == ["notifications/progress"] * 3 + [None]
        assert [m["params"]["progress"] for m in messages[:3]] == [1, 2, 3]
        for note in messages[:3]:
            validate(note, "ProgressNotification", version)
            assert note["params"]["progressToken"] == "tok"
        assert messages[-1]["id"] == 42
        validate_result(messages[-1], "CallToolResult", version)
        ids = [e["id"] for e in events if e["data"] is not None]
        assert all(ids) and len(set(ids)) == len(ids)
        assert len({event_id.rpartition(".")[0] for event_id in ids}) == 1  # one stream, encoded in the id

    async def test_log_level_makes_calls_stream(self, tokens):
        """TRANS-52: after logging/setLevel, tool log messages arrive on the request's stream at or above the level."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        await client.legacy("logging/setLevel", {"level": "info"}, session_id=session_id)
        reply = await client.legacy("tools/call", {"name": "start-notification-stream", "arguments": {"count": 2, "interval": 0}},
                                    session_id=session_id)
        assert reply.headers["content-type"] == "text/event-stream"
        messages = reply.messages()
        logs = [m for m in messages if m.get("method") == "notifications/message"]
        assert [m["params"]["data"] for m in logs] == ["[1/2] Event from client", "[2/2] Event from client"]
        for note in logs:
            validate(note, "LoggingMessageNotification", LATEST)
        assert not [m for m in messages if m.get("method") == "notifications/progress"]

    async def test_get_stream(self, tokens, layer):
        """TRANS-17, TRANS-10, TRANS-19, DJ-09: GET opens the session's SSE stream (priming event, ``retry:``,
        ``X-Accel-Buffering: no``); it receives the session's notifications while the dispatch loop keeps listening;
        a second concurrent GET -> 409; after a disconnect the consumer ends, leaves its groups, releases the stream
        (a new GET is accepted) and leaves no task behind."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id).open()
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream" and stream.headers["x-accel-buffering"] == "no"
        first = await stream.block()
        assert first["retry"] == "1000"
        priming = await stream.event()
        assert priming["id"] and priming["data"] == ""
        assert len(memberships(layer)) == 2  # its stream group and its session group

        second = await client.get_stream(session_id).open()
        assert second.status == 409
        assert validate_error(await second.drain())["code"] == -32600

        sent = await client.legacy("tools/call", {"name": "start-notification-stream",
                                                  "arguments": {"count": 2, "interval": 0, "target": "session"}},
                                   session_id=session_id)
        assert validate_result(sent.json(), "CallToolResult", LATEST)["content"][0]["text"] == "Sent 2 notifications to client."
        received = [await stream.message(), await stream.message()]
        assert [m["params"]["data"] for _, m in received] == ["[1/2] Event from client", "[2/2] Event from client"]
        for event_id, message in received:
            validate(message, "LoggingMessageNotification", LATEST)
            assert event_id and event_id != priming["id"]
            assert "id" not in message  # never a JSON-RPC response on the GET stream

        await stream.disconnect()
        assert memberships(layer) == {}
        assert pending_tasks() == []
        again = await client.get_stream(session_id).open()
        assert again.status == 200
        await again.disconnect()
        assert memberships(layer) == {}

    async def test_get_requires_accept_and_session(self, tokens):
        """TRANS-17, TRANS-05, TRANS-39: GET without Accept text/event-stream -> 406; without a session -> 405."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        wrong = await client.get_stream(session_id, accept="application/json").open()
        assert wrong.status == 406
        assert validate_error(await wrong.drain())["code"] == -32600
        for method in ("GET", "DELETE"):
            reply = await exchange(method, headers=header_list(tokens.alice, content_type=None))
            assert reply.status == 405
            assert "POST" in reply.headers["allow"]

    async def test_keepalive_comments(self, tokens, settings):
        """TRANS-10: an idle long-lived stream writes ``:`` comment keep-alives."""
        settings.MCP_APP = {**settings.MCP_APP, "SSE_KEEPALIVE_SECONDS": 0.01}
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id).open()
        await stream.event()  # priming
        block = await stream.block()
        assert block["comments"] == ["keepalive"] and block["data"] is None
        await stream.disconnect()

    async def test_delete_ends_open_streams(self, tokens, layer):
        """TRANS-15: DELETE ends the session's open GET stream too."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id).open()
        await stream.event()
        deleted = await exchange("DELETE", headers=header_list(tokens.alice, extra={"Mcp-Session-Id": session_id}))
        assert deleted.status == 204
        assert [b for b in await stream.rest() if b["data"] is not None] == []
        await stream.finished()
        assert memberships(layer) == {}

    async def test_replay_of_a_post_stream(self, tokens):
        """TRANS-19, TRANS-20: GET with the Last-Event-ID of a POST stream replays what followed on that stream only,
        ending with the response."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        other = await client.legacy("tools/call", progress_call(1, token="other"), session_id=session_id)
        reply = await client.legacy("tools/call", progress_call(3), session_id=session_id, request_id=7)
        events = [e for e in reply.events() if e["data"]]
        first_id = events[0]["id"]
        replay = await client.get_stream(session_id, last_event_id=first_id).open()
        assert replay.status == 200
        replayed = [(b["id"], json.loads(b["data"])) for b in await replay.rest() if b["data"]]
        await replay.finished()
        assert [event_id for event_id, _ in replayed] == [e["id"] for e in events[1:]]
        assert [m["params"]["progress"] for _, m in replayed[:-1]] == [2, 3]
        assert replayed[-1][1]["id"] == 7 and "result" in replayed[-1][1]
        other_ids = {e["id"] for e in other.events() if e["data"]}
        assert not other_ids & {event_id for event_id, _ in replayed}

    @pytest.mark.parametrize("last_event_id", ["garbage", "s0123.999999", "g0.1", ".5"])
    async def test_unknown_last_event_id(self, tokens, last_event_id):
        """TRANS-20: a Last-Event-ID that names no stream of this session -> 400."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id, last_event_id=last_event_id).open()
        assert stream.status == 400
        assert validate_error(await stream.drain())["code"] == -32600

    async def test_another_sessions_event_id_is_not_replayed(self, tokens):
        """TRANS-20, TRANS-16: event ids of another session are unknown here."""
        client = MCP(tokens.alice)
        first = await client.initialize()
        second = await client.initialize()
        reply = await client.legacy("tools/call", progress_call(2), session_id=first)
        event_id = next(e for e in reply.events() if e["data"])["id"]
        stream = await client.get_stream(second, last_event_id=event_id).open()
        assert stream.status == 400
        assert validate_error(await stream.drain())["code"] == -32600

    async def test_get_stream_resumes_from_a_delivered_event(self, tokens):
        """TRANS-19, TRANS-20: a dropped GET stream resumed with the id of the last event it delivered replays the
        notifications sent while no stream was open, without loss."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id).open()
        await stream.event()
        await client.legacy("tools/call", {"name": "start-notification-stream",
                                           "arguments": {"count": 1, "interval": 0, "target": "session", "caller": "a"}},
                            session_id=session_id)
        last_id, _ = await stream.message()
        await stream.disconnect()
        await client.legacy("tools/call", {"name": "start-notification-stream",
                                           "arguments": {"count": 2, "interval": 0, "target": "session", "caller": "b"}},
                            session_id=session_id)
        resumed = await client.get_stream(session_id, last_event_id=last_id).open()
        assert resumed.status == 200
        got = [await resumed.message(), await resumed.message()]
        assert [m["params"]["data"] for _, m in got] == ["[1/2] Event from b", "[2/2] Event from b"]
        await resumed.disconnect()

    async def test_get_stream_resumes_from_its_priming_event(self, tokens):
        """TRANS-20, TRANS-21: a GET stream dropped right after its priming event, resumed with that event's id, gets
        the notifications sent meanwhile (the id names the session's GET stream, not a dead one)."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.get_stream(session_id).open()
        priming = await stream.event()
        await stream.disconnect()
        await client.legacy("tools/call", {"name": "start-notification-stream",
                                           "arguments": {"count": 1, "interval": 0, "target": "session"}},
                            session_id=session_id)
        resumed = await client.get_stream(session_id, last_event_id=priming["id"]).open()
        assert resumed.status == 200
        _, message = await resumed.message()
        assert message["params"]["data"] == "[1/1] Event from client"
        await resumed.disconnect()

    async def test_cancelled_notification_stops_the_tool(self, tokens, probe, layer):
        """TRANS-55: ``notifications/cancelled`` from the client (on another POST) cancels the running request: the tool
        is cancelled and its stream ends without a response."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.legacy_stream("tools/call", {"name": "test-blocker", "_meta": {"progressToken": 1}},
                                            session_id=session_id, request_id="call-1").open()
        assert stream.status == 200
        _, progress = await stream.message()
        assert progress["method"] == "notifications/progress"
        cancel = await client.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                    "params": {"requestId": "call-1", "reason": "user"}}, client.legacy_headers(session_id))
        assert cancel.status == 202
        rest = [b for b in await stream.rest() if b["data"]]
        assert rest == []  # no response after a cancellation
        await stream.finished()
        await asyncio.wait_for(probe.cancelled.wait(), T)
        assert memberships(layer) == {}
        assert pending_tasks() == []

    async def test_disconnect_is_not_cancellation_in_the_legacy_era(self, tokens, probe):
        """TRANS-21, TRANS-55: in the legacy era a dropped POST stream does not cancel the request; what the request sends
        afterwards is stored, and Last-Event-ID resumes the stream up to its response."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        stream = await client.legacy_stream("tools/call", {"name": "test-gate", "_meta": {"progressToken": "g"}},
                                            session_id=session_id, request_id=11).open()
        last_id, progress = await stream.message()
        assert progress["params"]["progress"] == 1
        await asyncio.wait_for(probe.started.wait(), T)
        await stream.communicator.send_input({"type": "http.disconnect"})
        probe.release.set()
        await asyncio.wait_for(probe.finished.wait(), T)
        await stream.finished()
        assert not probe.cancelled.is_set()
        resumed = await client.get_stream(session_id, last_event_id=last_id).open()
        replayed = [json.loads(b["data"]) for b in await resumed.rest() if b["data"]]
        await resumed.finished()
        assert replayed[0]["params"]["progress"] == 2
        assert replayed[-1]["id"] == 11
        assert validate_result(replayed[-1], "CallToolResult", LATEST)["content"][0]["text"] == "through the gate"


    async def test_revoking_the_bearer_ends_its_open_streams(self, tokens, layer):
        """Issue 12 §4, AUTH-14: revoking a token (here through oauth_app.revocation, as the admin and the tools do)
        ends every stream it opened at once, each with a terminated body: the GET stream, a legacy POST SSE stream
        (its tool call stops, no response is sent) and a 2026-07-28 ``subscriptions/listen``. Another token's stream
        stays open."""
        from channels.db import database_sync_to_async
        from oauth2_provider.models import AccessToken
        from oauth_app.revocation import revoke_access_tokens
        from oauth_app.tokens import token_checksum

        client, other = MCP(tokens.alice), MCP(tokens.bob)
        session_id, other_session = await client.initialize(), await other.initialize()
        get = await client.get_stream(session_id).open()
        await get.event()
        call = await client.legacy_stream("tools/call", progress_call(3, interval=30), session_id=session_id).open()
        await call.message()  # the first progress notification: the call runs
        listen = await client.modern_stream("subscriptions/listen", {"notifications": {"toolsListChanged": True}}).open()
        await listen.message()  # acknowledged
        bystander = await other.get_stream(other_session).open()
        await bystander.event()

        revoked = await database_sync_to_async(revoke_access_tokens)(
            AccessToken.objects.filter(token_checksum=token_checksum(tokens.alice)))
        assert revoked == 1
        assert [b for b in await get.rest() if b["data"] is not None] == []
        assert [json.loads(b["data"]) for b in await call.rest() if b["data"]] == []  # no response after revocation
        assert [json.loads(b["data"])["result"]["resultType"] for b in await listen.rest() if b["data"]] == ["complete"]
        for stream in (get, call, listen):
            await stream.finished()
        assert (await client.legacy("ping", session_id=session_id)).status == 401
        await bystander.disconnect()
        assert memberships(layer) == {}

    async def test_resuming_the_get_stream_takes_it_over(self, tokens, layer):
        """Issue 12 §5: a GET with the standalone stream's Last-Event-ID replaces the open GET stream (its client is gone,
        or the process holding it died) instead of being refused; the old one ends cleanly. Without Last-Event-ID a
        second GET is still 409 (TRANS-17)."""
        client = MCP(tokens.alice)
        session_id = await client.initialize()
        old = await client.get_stream(session_id).open()
        priming = await old.event()
        refused = await client.get_stream(session_id).open()
        assert refused.status == 409
        await refused.drain()
        resumed = await client.get_stream(session_id, last_event_id=priming["id"]).open()
        assert resumed.status == 200
        assert [b for b in await old.rest() if b["data"] is not None] == []
        await old.finished()
        sent = await client.legacy("tools/call", {"name": "start-notification-stream",
                                                  "arguments": {"count": 1, "interval": 0, "target": "session"}},
                                   session_id=session_id)
        assert sent.status == 200
        _, message = await resumed.message()
        assert message["params"]["data"] == "[1/1] Event from client"
        await resumed.disconnect()
        again = await client.get_stream(session_id).open()  # the lock went with the stream that held it
        assert again.status == 200
        await again.disconnect()

    async def test_get_on_a_session_deleted_meanwhile_is_404(self, tokens):
        """Bug D (issue 8 §5): a GET whose session row disappears between resolving it and writing its priming event
        (another request's DELETE, clearmcpsessions) is the era's 404 "Session not found", never a 500."""
        from channels.db import database_sync_to_async
        from mcp_app.models import Session

        client = MCP(tokens.alice)
        session_id = await client.initialize()
        assert (await client.legacy("ping", session_id=session_id)).status == 200  # resolved: cached for a second
        await database_sync_to_async(lambda: Session.objects.all().delete())()  # behind the cache's back
        stream = await client.get_stream(session_id).open()
        assert stream.status == 404
        assert validate_error(await stream.drain())["message"] == "Session not found"


# --- modern era (2026-07-28) ------------------------------------------------------------------------------------


class TestModern:
    async def test_discover(self, tokens):
        """TRANS-34, TRANS-35, TRANS-36, TRANS-44: server/discover -> 200 DiscoverResult with every supported version,
        capabilities, server info, instructions, ttlMs and cacheScope; no session is minted."""
        reply = await MCP(tokens.alice).modern("server/discover", request_id="d-1")
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        assert "mcp-session-id" not in reply.headers
        assert reply.json()["id"] == "d-1"
        result = validate_result(reply.json(), "DiscoverResult", MODERN)
        assert result["supportedVersions"] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
        assert result["resultType"] == "complete"
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]
        assert result["ttlMs"] > 0 and result["cacheScope"] == "public"

    async def test_tools_resources_prompts(self, tokens):
        """TRANS-35, TRANS-36, TRANS-37, TRANS-48, TRANS-50: list, call, read and get, each a valid 2026-07-28 result with
        ``resultType``; lists private to the token; unknown resource -> -32602 (never -32002)."""
        client = MCP(tokens.alice)
        listed = validate_result((await client.modern("tools/list")).json(), "ListToolsResult", MODERN)
        assert listed["cacheScope"] == "private" and listed["resultType"] == "complete"
        names = [tool["name"] for tool in listed["tools"]]
        assert names == [name for name, tool in registry.tools.items() if set(tool.scopes) <= {"mcp"}]
        assert "whoami" in names and "list_clients" not in names
        admin_names = [t["name"] for t in (await MCP(tokens.root).modern("tools/list")).json()["result"]["tools"]]
        assert {"list_clients", "revoke_client_tokens"} <= set(admin_names)
        whoami = validate_result((await client.modern("tools/call", {"name": "whoami", "arguments": {}})).json(),
                                 "CallToolResult", MODERN)
        assert whoami["resultType"] == "complete" and whoami["structuredContent"]["username"] == "alice"
        read = await client.modern("resources/read", {"uri": "mcp://client/registration"})
        assert validate_result(read.json(), "ReadResourceResult", MODERN)["cacheScope"] == "private"
        unknown = await client.modern("resources/read", {"uri": "mcp://nope"})
        assert unknown.status == 200
        assert validate_error(unknown.json())["code"] == -32602
        prompt = await client.modern("prompts/get", {"name": "explain_scope", "arguments": {"scope": "mcp"}})
        validate_result(prompt.json(), "GetPromptResult", MODERN)

    async def test_missing_meta(self, tokens):
        """TRANS-28, TRANS-60: a 2026-07-28 request without ``_meta`` protocol version -> HTTP 400 with -32602."""
        client = MCP(tokens.alice)
        body = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
        reply = await client.post(body, client.modern_headers("server/discover"))
        assert reply.status == 400
        error = validate_error(reply.json())
        assert error["code"] == -32602 and reply.json()["id"] == 1
        no_params = await client.post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, client.modern_headers("tools/list"))
        assert no_params.status == 400 and no_params.json()["error"]["code"] == -32602

    async def test_missing_client_capabilities(self, tokens):
        """TRANS-28, TRANS-60: ``_meta`` without ``io.modelcontextprotocol/clientCapabilities`` -> HTTP 400 with -32602."""
        client = MCP(tokens.alice)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}}
        reply = await client.post(body, client.modern_headers("tools/list"))
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32602

    @pytest.mark.parametrize(("method", "params", "overrides"), [
        ("tools/list", None, {"Mcp-Method": "tools/call"}),
        ("tools/list", None, {"Mcp-Method": None}),
        ("tools/list", None, {"Mcp-Method": b64("tools/call")}),
        ("tools/list", None, {"Mcp-Method": "=?base64?%%%?="}),
        ("tools/list", None, {"Mcp-Method": "tools/lïst"}),
        ("tools/call", {"name": "whoami"}, {"Mcp-Name": "list_clients"}),
        ("tools/call", {"name": "whoami"}, {"Mcp-Name": None}),
        ("resources/read", {"uri": "mcp://client/registration"}, {"Mcp-Name": "mcp://other"}),
        ("prompts/get", {"name": "explain_scope", "arguments": {"scope": "mcp"}}, {"Mcp-Name": b64("other")}),
        ("tools/list", None, {"MCP-Protocol-Version": None}),
        ("tools/list", None, {"MCP-Protocol-Version": "2099-01-01"}),
    ])
    async def test_header_mismatch(self, tokens, method, params, overrides):
        """TRANS-29, TRANS-32: Mcp-Method / Mcp-Name / MCP-Protocol-Version missing, different from the body, badly
        encoded or with invalid characters -> HTTP 400 with -32020 (HeaderMismatchError)."""
        reply = await MCP(tokens.alice).modern(method, params, request_id=3, **overrides)
        assert reply.status == 400
        validate(reply.json(), "HeaderMismatchError", MODERN)
        assert reply.json()["id"] == 3

    async def test_base64_headers_are_accepted(self, tokens):
        """TRANS-32: ``=?base64?...?=`` header values are decoded before comparison."""
        client = MCP(tokens.alice)
        reply = await client.modern("tools/call", {"name": "whoami"}, Mcp_Method=b64("tools/call"), Mcp_Name=b64("whoami"))
        assert reply.status == 200
        validate_result(reply.json(), "CallToolResult", MODERN)

    async def test_unsupported_version(self, tokens):
        """TRANS-30: an unsupported ``_meta`` protocol version -> HTTP 400 -32022 with the supported list."""
        client = MCP(tokens.alice)
        body = client.modern_request("server/discover", request_id=4,
                                     meta={"io.modelcontextprotocol/protocolVersion": "2099-01-01"})
        reply = await client.post(body, client.modern_headers("server/discover", MCP_Protocol_Version="2099-01-01"))
        assert reply.status == 400
        validate(reply.json(), "UnsupportedProtocolVersionError", MODERN)
        error = reply.json()["error"]
        assert error["code"] == -32022
        assert error["data"] == {"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "2099-01-01"}

    @pytest.mark.parametrize("method", ["no/such", "ping", "initialize", "logging/setLevel", "resources/subscribe"])
    async def test_unknown_method_is_404(self, tokens, method):
        """TRANS-31, TRANS-27, TRANS-42: an unknown method (including the legacy-only ones) -> HTTP 404 with -32601."""
        reply = await MCP(tokens.alice).modern(method, {"level": "info", "uri": "x", "protocolVersion": MODERN,
                                                        "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}},
                                               request_id=5, Mcp_Name=None)
        assert reply.status == 404
        validate(reply.json(), "JSONRPCErrorResponse", MODERN)
        assert reply.json()["error"]["code"] == -32601 and reply.json()["id"] == 5

    async def test_batch_refused(self, tokens):
        """TRANS-11: no batches in 2026-07-28."""
        client = MCP(tokens.alice)
        reply = await client.post([client.modern_request("server/discover")], client.modern_headers("server/discover"))
        assert reply.status == 400
        assert validate_error(reply.json())["code"] == -32600

    async def test_notification_is_accepted(self, tokens):
        """TRANS-07: a 2026-07-28 notification -> 202 without body."""
        client = MCP(tokens.alice)
        body = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 1, "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                                      "io.modelcontextprotocol/clientCapabilities": {}}}}
        reply = await client.post(body, client.modern_headers("notifications/cancelled"))
        assert reply.status == 202 and reply.body == b""

    async def test_legacy_header_with_modern_body(self, tokens, settings, caplog):
        """CLAUDE-14, TRANS-29: ``MCP-Protocol-Version: 2025-11-25`` with a 2026-07-28 body is accepted (and logged) by
        default; with ``ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY`` off it is a -32020 header mismatch."""
        client = MCP(tokens.alice)
        with caplog.at_level(logging.INFO, logger="mcp_app.transport.modern"):
            reply = await client.modern("server/discover", MCP_Protocol_Version="2025-11-25")
        assert reply.status == 200
        validate_result(reply.json(), "DiscoverResult", MODERN)
        assert any("known client bug" in r.getMessage() for r in caplog.records if r.name == "mcp_app.transport.modern")
        settings.MCP_APP = {**settings.MCP_APP, "ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY": False}
        refused = await client.modern("server/discover", MCP_Protocol_Version="2025-11-25")
        assert refused.status == 400
        validate(refused.json(), "HeaderMismatchError", MODERN)

    async def test_session_headers_are_ignored(self, tokens):
        """TRANS-39: a modern request ignores Mcp-Session-Id (no session minted or needed)."""
        client = MCP(tokens.alice)
        reply = await client.modern("server/discover", Mcp_Session_Id="whatever")
        assert reply.status == 200 and "mcp-session-id" not in reply.headers

    async def test_streamed_tools_call(self, tokens):
        """TRANS-09, TRANS-10, TRANS-35: a 2026-07-28 tools/call with a progress token streams notifications related to
        the request (no event ids: nothing is resumable) and ends with the decorated result."""
        client = MCP(tokens.alice)
        reply = await client.modern("tools/call", {"name": "start-notification-stream", "arguments": {"count": 2, "interval": 0}},
                                    request_id=8, meta={"progressToken": 5})
        assert reply.status == 200
        assert reply.headers["content-type"] == "text/event-stream" and reply.headers["x-accel-buffering"] == "no"
        events = [e for e in reply.events() if e["data"] is not None]
        assert all(e["id"] is None for e in events)
        messages = [json.loads(e["data"]) for e in events]
        for note in messages[:-1]:
            validate(note, "ProgressNotification", MODERN)
        assert messages[-1]["id"] == 8
        assert validate_result(messages[-1], "CallToolResult", MODERN)["resultType"] == "complete"

    async def test_subscriptions_listen(self, tokens, layer):
        """TRANS-41, TRANS-57, DJ-09: subscriptions/listen answers an SSE stream whose first message acknowledges the
        subscription (its id, the honoured filters); a tools list change made through the registry arrives with the
        subscription id; a change the client did not ask for does not; on disconnect the consumer ends, leaves the
        listeners' group and no task is left."""
        client = MCP(tokens.alice)
        stream = await client.modern_stream("subscriptions/listen", {"notifications": {"toolsListChanged": True,
                                                                                       "promptsListChanged": False}},
                                            request_id="sub-1").open()
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream" and stream.headers["x-accel-buffering"] == "no"
        _, acknowledged = await stream.message()
        validate(acknowledged, "SubscriptionsAcknowledgedNotification", MODERN)
        assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        assert acknowledged["params"]["_meta"][SUBSCRIPTION_ID] == "sub-1"
        assert acknowledged["params"]["notifications"] == {"toolsListChanged": True}
        assert "mcp-listeners" in memberships(layer)

        await registry.list_changed("prompts")  # not subscribed: dropped
        await registry.list_changed("tools")
        _, changed = await stream.message()
        validate(changed, "ToolListChangedNotification", MODERN)
        assert changed["method"] == "notifications/tools/list_changed"
        assert changed["params"]["_meta"][SUBSCRIPTION_ID] == "sub-1"

        await stream.disconnect()
        assert memberships(layer) == {}
        assert pending_tasks() == []

    async def test_subscriptions_listen_needs_valid_params(self, tokens):
        """TRANS-41, TRANS-60: a listen request with malformed params -> -32602, not a stream."""
        client = MCP(tokens.alice)
        reply = await client.modern("subscriptions/listen", {"notifications": "all"})
        assert reply.headers["content-type"] == "application/json"
        assert validate_error(reply.json())["code"] == -32602

    async def test_disconnect_cancels_a_streamed_tool(self, tokens, probe, layer):
        """TRANS-40, DJ-09 (the design proof): while a streamed 2026-07-28 tools/call runs, ``http.disconnect`` is
        processed (the response runs in its own task), cancels the tool, and the consumer ends with no group
        membership and no task left behind."""
        client = MCP(tokens.alice)
        stream = await client.modern_stream("tools/call", {"name": "test-blocker"}, meta={"progressToken": "b"}).open()
        assert stream.status == 200
        _, progress = await stream.message()
        assert progress["method"] == "notifications/progress"
        await asyncio.wait_for(probe.started.wait(), T)
        assert not probe.cancelled.is_set()
        await stream.disconnect()
        assert probe.cancelled.is_set()
        assert memberships(layer) == {}
        assert pending_tasks() == []
        assert stream.communicator.output_queue.empty()  # nothing was sent after the disconnect

    @pytest.mark.parametrize("era", ["legacy", "modern"])
    async def test_disconnect_cancels_a_tool_answered_with_json(self, tokens, probe, layer, era):
        """TRANS-40, issue 9 §2: a tools/call answered with one JSON body (the lean path: no layer channel, no group)
        is still cancelled when the client goes away; nothing is sent and no task is left behind."""
        client = MCP(tokens.alice)
        if era == "legacy":
            session = await client.initialize(LATEST)
            body = client.legacy_request("tools/call", {"name": "test-blocker"})
            headers = client.headers(client.legacy_headers(session, LATEST))
        else:
            body = client.modern_request("tools/call", {"name": "test-blocker"})
            headers = client.headers(client.modern_headers("tools/call", {"name": "test-blocker"}))
        communicator = HttpCommunicator(application, "POST", "/mcp", body=json.dumps(body).encode(),
                                        headers=with_host(headers))
        await communicator.send_input({"type": "http.request", "body": json.dumps(body).encode()})
        await asyncio.wait_for(probe.started.wait(), T)
        assert memberships(layer) == {}
        await communicator.send_input({"type": "http.disconnect"})
        await asyncio.wait_for(probe.cancelled.wait(), T)
        await communicator.wait(T)
        assert communicator.future.exception() is None
        assert communicator.output_queue.empty()
        assert pending_tasks() == []


class TestDatabaseThreads:
    async def test_a_slow_synchronous_tool_does_not_stall_other_requests(self, tokens):
        """Issue 9 §3: while a synchronous tool holds a database thread, another client's requests (bearer check
        from the verified-token cache, a JSON answer) are served; they no longer queue behind it on asgiref's
        single sync thread."""
        import threading

        from mcp_app.tools.registry import registry

        entered, release = threading.Event(), threading.Event()

        def slow() -> str:
            """Blocks its thread until the test releases it."""
            entered.set()
            release.wait(T)
            return "done"

        registry.tool("test-slow-sync")(slow)
        try:
            alice, bob = MCP(tokens.alice), MCP(tokens.bob)
            assert (await bob.modern("tools/list")).status == 200  # bob's token is now verified and cached
            body = json.dumps(alice.modern_request("tools/call", {"name": "test-slow-sync"})).encode()
            communicator = HttpCommunicator(application, "POST", "/mcp", body=body, headers=with_host(
                alice.headers(alice.modern_headers("tools/call", {"name": "test-slow-sync"}))))
            await communicator.send_input({"type": "http.request", "body": body})
            assert await asyncio.get_running_loop().run_in_executor(None, entered.wait, T)
            reply = await bob.modern("tools/list")  # served while the slow tool still runs
            assert reply.status == 200 and "tools" in reply.json()["result"]
            assert not release.is_set()
            release.set()
            response = await communicator.get_response(timeout=T)
            assert response["status"] == 200
            assert json.loads(response["body"])["result"]["content"][0]["text"] == "done"
        finally:
            release.set()
            registry.tools.pop("test-slow-sync", None)
