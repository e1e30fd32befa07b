"""The dispatcher: method table, per-version params validation, scopes, handlers, and every error path.

No database and no running event loop in the tests themselves: each call is one ``asyncio.run``
around ``Dispatcher.dispatch`` on a fresh :class:`Registry`, with a fake principal. Results are
validated against the official schema of the request's protocol version.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from mcp_app.context import ToolContext as CallContext
from mcp_app.dispatcher import Dispatcher, capabilities
from mcp_app.handlers import common as handlers_common
from mcp_app.protocol import jsonrpc
from mcp_app.protocol.errors import InvalidParams
from mcp_app.protocol.versions import era_of
from mcp_app.tools.registry import PromptArgument, Registry, ToolContext
from oauth_app.exceptions import InsufficientScope
from tests.support.schema import validate, validate_error, validate_result

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
LEGACY_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
SERVER_INFO = "io.modelcontextprotocol/serverInfo"
SECRET = "hunter2-database-password"


@pytest.fixture(autouse=True)
def _no_activity_log(settings):
    """These tests run without a database; what /mcp records is tested in test_activity_wiring.py."""
    settings.MCP_APP = {**getattr(settings, "MCP_APP", {}), "ACTIVITY_LOG": False}


@dataclass(frozen=True)
class FakePrincipal:
    """What the dispatcher needs of an ``oauth_app.tokens.Principal``."""

    scopes: frozenset[str] = frozenset({"mcp"})
    subject: str = "42"
    client_id: str = "client-1"
    issuer: str = "http://testserver"
    expires_at: datetime = datetime(2030, 1, 1, tzinfo=UTC)


ADMIN = FakePrincipal(scopes=frozenset({"mcp", "admin"}))


def modern_params(params: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    """2026-07-28 params: every request carries its version and client capabilities in ``_meta`` (TRANS-28)."""
    return {**(params or {}), "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                        "io.modelcontextprotocol/clientCapabilities": {}, **meta}}


@dataclass
class Recorder:
    """Collects notifications a handler sends."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, method: str, params: dict[str, Any]) -> None:
        self.sent.append((method, params))


def run(dispatcher: Dispatcher, method: str, params: dict[str, Any] | None = None, *, version: str = LEGACY,
        principal: FakePrincipal | None = None, request_id: Any = 1, **context: Any) -> dict[str, Any]:
    """Decode a request exactly as the transport does and dispatch it in a fresh event loop."""
    raw: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        raw["params"] = params
    (message,), _ = jsonrpc.decode_body(json.dumps(raw).encode())
    call = CallContext(principal=principal or FakePrincipal(), version=version, era=era_of(version), **context)
    response = asyncio.run(dispatcher.answer(message, call.with_meta(message.params.get("_meta")))).payload
    assert response["id"] == request_id
    json.dumps(response)  # always serializable
    return response


def run_modern(dispatcher: Dispatcher, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return run(dispatcher, method, modern_params(params), version=MODERN, **kwargs)


def error_of(response: dict[str, Any], code: int, version: str = MODERN) -> dict[str, Any]:
    assert "result" not in response, response
    error = validate_error(response, version)
    assert error["code"] == code, error
    return error


class ToolState:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []


@pytest.fixture
def state() -> ToolState:
    return ToolState()


@pytest.fixture
def registry(state) -> Registry:
    """A fresh registry with one of everything (never the global one)."""
    tools = Registry()

    @tools.tool(annotations={"readOnlyHint": True})
    async def echo(text: str) -> str:
        """Say it back."""
        state.calls.append(("echo", text))
        return text

    @tools.tool()
    def add(a: int, b: int = 2) -> int:
        """Add two integers (synchronous, runs off the loop)."""
        return a + b

    @tools.tool(input_schema={"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
                              "required": ["n"], "additionalProperties": False})
    async def explicit(n: int) -> str:
        """A tool with an explicit JSON Schema."""
        return "n" * n

    @tools.tool(output_schema={"type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"]})
    async def structured() -> dict:
        """Structured output."""
        return {"total": 3}

    @tools.tool()
    async def boom() -> str:
        """Always fails."""
        raise RuntimeError(SECRET)

    @tools.tool()
    async def refuses() -> str:
        """Raises a protocol error on purpose."""
        raise InvalidParams("This tool refuses")

    @tools.tool()
    async def blocks() -> list:
        """Returns content blocks itself."""
        return [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]

    @tools.tool()
    async def progress(context: ToolContext, steps: int = 2) -> str:
        """Reports progress and logs."""
        for step in range(1, steps + 1):
            await context.report_progress(step, steps, f"step {step}")
            await context.log("info", f"step {step}")
            await context.log("debug", "noise")
        return "done"

    @tools.tool(scopes=("mcp", "admin"))
    async def admin_only() -> str:
        """Needs the admin scope."""
        return "secret admin things"

    @tools.resource("test://static", name="static", mime_type="text/plain", description="A constant.")
    def static(context: ToolContext) -> str:
        return "static text"

    @tools.resource("test://binary", name="binary", mime_type="application/octet-stream")
    async def binary(context: ToolContext) -> bytes:
        return b"\x00\x01\x02"

    @tools.resource("test://items/{item_id}", name="item")
    async def item(context: ToolContext, item_id: str) -> dict:
        return {"item": item_id, "for": context.principal.subject}

    @tools.resource("test://broken", name="broken")
    async def broken(context: ToolContext) -> str:
        raise RuntimeError(SECRET)

    @tools.resource("test://admin", name="admin-resource", scopes=("mcp", "admin"))
    async def admin_resource(context: ToolContext) -> str:
        return "admin"

    @tools.prompt("greet", description="Greet someone.", arguments=[PromptArgument("name", "Who", required=True),
                                                                     PromptArgument("tone")],
                  completions={"name": lambda context, value: [n for n in ("alice", "alan", "bob") if n.startswith(value)]})
    async def greet(context: ToolContext, name: str, tone: str = "warm") -> str:
        return f"Greet {name} in a {tone} tone."

    @tools.prompt("many", description="Completes to a lot.", arguments=[PromptArgument("n")],
                  completions={"n": lambda context, value: [str(i) for i in range(150)]})
    async def many(context: ToolContext, n: str = "") -> dict:
        return {"messages": [{"role": "user", "content": {"type": "text", "text": n}}]}

    @tools.prompt("broken_prompt", description="Fails.")
    async def broken_prompt(context: ToolContext) -> str:
        raise RuntimeError(SECRET)

    @tools.prompt("admin_prompt", description="Needs admin.", scopes=("mcp", "admin"))
    async def admin_prompt(context: ToolContext) -> str:
        return "admin"

    return tools


@pytest.fixture
def dispatcher(registry) -> Dispatcher:
    return Dispatcher(registry)


# --- method table and version gates ----------------------------------------------------------------


class TestMethodNotFound:
    @pytest.mark.parametrize("version", [*LEGACY_VERSIONS, MODERN])
    @pytest.mark.parametrize("method", ["nope", "tools/delete", "resources/subscribe", "tasks/list", "sampling/createMessage"])
    def test_unknown_methods(self, dispatcher, version, method):
        """TRANS-60: a method the server does not implement -> -32601 (before any params check)."""
        params = modern_params() if version == MODERN else {}
        error = error_of(run(dispatcher, method, params, version=version), -32601)
        assert error["message"] == "Method not found"

    @pytest.mark.parametrize("method", ["ping", "initialize", "logging/setLevel"])
    def test_legacy_methods_do_not_exist_in_2026(self, dispatcher, method):
        """TRANS-27, TRANS-42, TRANS-44: ping, initialize and logging/setLevel were removed in 2026-07-28."""
        error_of(run_modern(dispatcher, method, {"level": "info"} if method == "logging/setLevel" else {}), -32601)

    @pytest.mark.parametrize("version", LEGACY_VERSIONS)
    def test_discover_does_not_exist_before_2026(self, dispatcher, version):
        """TRANS-34, TRANS-44: server/discover is a 2026-07-28 method only."""
        error_of(run(dispatcher, "server/discover", {}, version=version), -32601, version)

    def test_subscriptions_listen_is_not_a_dispatcher_method(self, dispatcher):
        """TRANS-41: subscriptions/listen is a stream the transport owns, never a plain JSON answer."""
        error_of(run_modern(dispatcher, "subscriptions/listen", {"notifications": {}}), -32601)

    def test_prepare_raises_before_the_handler_runs(self, dispatcher, state):
        """TRANS-60: ``prepare`` decides method and params before any handler code (the transport picks the status)."""
        (message,), _ = jsonrpc.decode_body(json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo"}}).encode())
        context = CallContext(principal=FakePrincipal(), version=LEGACY, era=era_of(LEGACY))
        dispatcher.prepare(message, context)  # arguments are the tool's business, not prepare()'s
        assert state.calls == []


# --- params validation --------------------------------------------------------------------------------


class TestInvalidParams:
    @pytest.mark.parametrize(("method", "params"), [
        ("tools/call", {}),
        ("tools/call", {"name": 5}),
        ("tools/call", {"name": "echo", "arguments": ["x"]}),
        ("tools/list", {"cursor": 5}),
        ("initialize", {"protocolVersion": "2025-11-25"}),
        ("resources/read", {}),
        ("prompts/get", {"name": "greet", "arguments": {"name": 5}}),
        ("logging/setLevel", {"level": "loud"}),
        ("completion/complete", {"ref": {"type": "ref/zzz"}, "argument": {"name": "a", "value": "b"}}),
    ])
    def test_schema_violations(self, dispatcher, method, params):
        """TRANS-60, TRANS-52: params that fail the version's wire type -> -32602 with a fixed message:
        nothing of the validator's internal text (field paths, pydantic wording) reaches the client."""
        response = run(dispatcher, method, params)
        error = error_of(response, -32602, LEGACY)
        assert error == {"code": -32602, "message": "Invalid params"}
        text = json.dumps(response)
        for internal in ("Field required", "pydantic", "Input should", "validation error", "loc"):
            assert internal not in text

    def test_modern_request_without_meta(self, dispatcher):
        """TRANS-28: 2026-07-28 requests without the ``_meta`` protocol version / client capabilities -> -32602."""
        error_of(run(dispatcher, "tools/list", {}, version=MODERN), -32602)
        partial = {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}
        assert error_of(run(dispatcher, "tools/list", partial, version=MODERN), -32602)["message"] == "Invalid params"

    def test_unknown_tool(self, dispatcher):
        """TRANS-48: an unknown tool is a protocol error -32602, not a tool result."""
        for version in (LEGACY, MODERN):
            params = {"name": "does-not-exist", "arguments": {}}
            response = run(dispatcher, "tools/call", modern_params(params) if version == MODERN else params, version=version)
            error = error_of(response, -32602)
            assert "does-not-exist" in error["message"]

    def test_unknown_prompt(self, dispatcher):
        """TRANS-51: an invalid prompt name -> -32602."""
        error_of(run(dispatcher, "prompts/get", {"name": "nope"}), -32602, LEGACY)

    def test_prompt_missing_required_argument(self, dispatcher):
        """TRANS-51: a missing required prompt argument -> -32602 naming it."""
        error = error_of(run(dispatcher, "prompts/get", {"name": "greet", "arguments": {"tone": "dry"}}), -32602, LEGACY)
        assert error["message"] == "Missing required arguments: name"
        error_of(run(dispatcher, "prompts/get", {"name": "greet"}), -32602, LEGACY)

    def test_tool_raising_a_protocol_error_keeps_its_code(self, dispatcher):
        """TRANS-60: an MCPError raised by a handler is answered with its own code."""
        error = error_of(run(dispatcher, "tools/call", {"name": "refuses"}), -32602, LEGACY)
        assert error["message"] == "This tool refuses"


# --- unexpected errors ---------------------------------------------------------------------------------


class TestInternalError:
    @pytest.mark.parametrize(("method", "params"), [
        ("resources/read", {"uri": "test://broken"}),
        ("prompts/get", {"name": "broken_prompt"}),
    ])
    def test_unexpected_exception_is_logged_with_stack_and_never_sent(self, dispatcher, caplog, method, params):
        """TRANS-60, TRANS-51: an unexpected exception -> -32603 with a generic message; the stack is logged."""
        with caplog.at_level(logging.ERROR, logger="mcp_app.wire"):
            response = run(dispatcher, method, params)
        assert error_of(response, -32603, LEGACY) == {"code": -32603, "message": "Internal server error"}
        assert SECRET not in json.dumps(response)
        records = [r for r in caplog.records if r.name == "mcp_app.wire"]
        assert len(records) == 1
        assert records[0].levelno == logging.ERROR and records[0].exc_info is not None
        assert records[0].exc_info[0] is RuntimeError
        assert SECRET in caplog.text and "Traceback" in caplog.text

    def test_handler_bug_in_the_table(self, dispatcher, caplog, monkeypatch):
        """TRANS-60: even a failing built-in handler becomes -32603 (logged), never a transport crash."""
        async def broken(params, context):
            raise KeyError(SECRET)

        monkeypatch.setitem(dispatcher.table, "tools/list", broken)
        with caplog.at_level(logging.ERROR, logger="mcp_app.wire"):
            response = run(dispatcher, "tools/list", {})
        error_of(response, -32603, LEGACY)
        assert SECRET not in json.dumps(response) and SECRET in caplog.text


# --- tools ------------------------------------------------------------------------------------------


class TestToolsCall:
    def test_text_result(self, dispatcher, state):
        """TRANS-48: a tool's string becomes one text block; the result is a valid CallToolResult."""
        for version in LEGACY_VERSIONS:
            response = run(dispatcher, "tools/call", {"name": "echo", "arguments": {"text": "hi"}}, version=version)
            result = validate_result(response, "CallToolResult", version)
            assert result == {"content": [{"type": "text", "text": "hi"}]}
        assert state.calls == [("echo", "hi")] * 3

    def test_sync_tool_and_defaults(self, dispatcher):
        """TRANS-48: synchronous tools run too; defaults from the signature apply."""
        result = run(dispatcher, "tools/call", {"name": "add", "arguments": {"a": 40}})["result"]
        assert result["content"] == [{"type": "text", "text": "42"}]

    def test_structured_output(self, dispatcher):
        """TRANS-48: with an outputSchema, structuredContent conforms and is also serialized as text."""
        result = validate_result(run(dispatcher, "tools/call", {"name": "structured"}), "CallToolResult", LEGACY)
        assert result["structuredContent"] == {"total": 3}
        assert json.loads(result["content"][0]["text"]) == {"total": 3}

    def test_content_blocks_pass_through(self, dispatcher):
        """TRANS-48: a tool may return content blocks itself."""
        result = run(dispatcher, "tools/call", {"name": "blocks"})["result"]
        assert [block["text"] for block in result["content"]] == ["a", "b"]

    @pytest.mark.parametrize(("name", "arguments", "fragment"), [
        ("echo", {}, "text"),
        ("echo", {"text": ["not", "a", "string"]}, "text"),
        ("echo", {"text": "x", "extra": 1}, "extra"),
        ("add", {"a": "forty"}, "a"),
        ("explicit", {"n": 0}, "minimum"),
        ("explicit", {}, "'n' is a required property"),
        ("explicit", {"n": 1, "m": 2}, "Additional properties"),
    ])
    def test_invalid_arguments_are_a_tool_error(self, dispatcher, state, name, arguments, fragment):
        """TRANS-48, TRANS-49: arguments are validated against the input schema; a violation is a result
        with ``isError: true`` (the model can correct itself), and the tool never runs."""
        for version in (LEGACY, MODERN):
            params = {"name": name, "arguments": arguments}
            response = run(dispatcher, "tools/call", modern_params(params) if version == MODERN else params, version=version)
            result = validate_result(response, "CallToolResult", version)
            assert result["isError"] is True
            assert result["content"][0]["text"].startswith("Invalid arguments")
            assert fragment in result["content"][0]["text"]
        assert state.calls == []

    def test_tool_exception_is_a_tool_error_and_logged(self, dispatcher, caplog):
        """TRANS-48, TRANS-60: an exception inside a tool -> ``isError`` result with a generic text; logged with stack."""
        with caplog.at_level(logging.ERROR, logger="mcp_app.handlers.tools"):
            response = run(dispatcher, "tools/call", {"name": "boom"})
        result = validate_result(response, "CallToolResult", LEGACY)
        assert result == {"content": [{"type": "text", "text": "The tool boom failed unexpectedly."}], "isError": True}
        assert SECRET not in json.dumps(response)
        (record,) = [r for r in caplog.records if r.name == "mcp_app.handlers.tools"]
        assert record.exc_info is not None and SECRET in caplog.text

    def test_insufficient_scope_is_an_http_403(self, dispatcher, state):
        """AUTH-09, AUTH-10: a tool needing a scope the token lacks is not a JSON-RPC error: ``prepare`` raises
        InsufficientScope, naming every scope the operation needs, and the answer is HTTP 403 with the RFC 6750
        challenge; inside a batch (no HTTP status per message) it is -32602 naming the scopes."""
        for version, params in ((LEGACY, {"name": "admin_only"}), (MODERN, modern_params({"name": "admin_only"}))):
            (message,), _ = jsonrpc.decode_body(json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode())
            context = CallContext(principal=FakePrincipal(), version=version, era=era_of(version))
            with pytest.raises(InsufficientScope) as caught:
                dispatcher.prepare(message, context)
            assert caught.value.required == ("admin", "mcp")
            assert caught.value.status_code == 403 and caught.value.error == "insufficient_scope"
            reply = asyncio.run(dispatcher.answer(message, context))
            assert reply.status == 403 and reply.payload["error"] == "insufficient_scope"
            assert 'scope="admin mcp"' in dict(reply.headers)[b"www-authenticate"].decode()
            embedded = asyncio.run(dispatcher.dispatch(message, context))
            assert error_of(embedded, -32602, version)["message"] == "Needs scopes: admin mcp"
        assert state.calls == []
        assert run(dispatcher, "tools/call", {"name": "admin_only"}, principal=ADMIN)["result"]["content"][0]["text"] == \
            "secret admin things"

    def test_progress_and_log_notifications(self, dispatcher):
        """TRANS-56, TRANS-52: progress only when the request carried a progress token; log messages only at or
        above the client's level."""
        recorder = Recorder()
        params = {"name": "progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "tok"}}
        run(dispatcher, "tools/call", params, send_notification=recorder, log_level="info")
        assert recorder.sent == [
            ("notifications/progress", {"progressToken": "tok", "progress": 1, "total": 2, "message": "step 1"}),
            ("notifications/message", {"level": "info", "data": "step 1"}),
            ("notifications/progress", {"progressToken": "tok", "progress": 2, "total": 2, "message": "step 2"}),
            ("notifications/message", {"level": "info", "data": "step 2"}),
        ]
        for method, notification in recorder.sent:
            name = "ProgressNotification" if method == "notifications/progress" else "LoggingMessageNotification"
            validate(jsonrpc.notification(method, notification), name, LEGACY)
        silent = Recorder()
        assert run(dispatcher, "tools/call", {"name": "progress"}, send_notification=silent)["result"]["content"][0]["text"] == "done"
        assert silent.sent == []

    def test_modern_log_level_comes_from_the_request(self, dispatcher):
        """TRANS-42: in 2026-07-28 log messages only if the request's ``_meta`` asked for a log level."""
        recorder = Recorder()
        run(dispatcher, "tools/call", modern_params({"name": "progress", "arguments": {"steps": 1}},
                                                    **{"io.modelcontextprotocol/logLevel": "info"}),
            version=MODERN, send_notification=recorder, log_level="debug")
        assert recorder.sent == [("notifications/message", {"level": "info", "data": "step 1"})]


class TestToolsList:
    def test_list_is_filtered_by_scope(self, dispatcher):
        """TRANS-37, AUTH-09: tools/list shows only the tools the token's scopes allow."""
        names = [t["name"] for t in run(dispatcher, "tools/list", {})["result"]["tools"]]
        assert "admin_only" not in names and "echo" in names
        admin_names = [t["name"] for t in run(dispatcher, "tools/list", {}, principal=ADMIN)["result"]["tools"]]
        assert [name for name in admin_names if name != "admin_only"] == names
        assert "admin_only" in admin_names

    def test_order_is_registration_order_and_deterministic(self, dispatcher, registry):
        """TRANS-37: deterministic order (registration order), identical on every call."""
        first = run(dispatcher, "tools/list", {}, principal=ADMIN)["result"]
        assert [t["name"] for t in first["tools"]] == list(registry.tools)
        assert run(dispatcher, "tools/list", {}, principal=ADMIN)["result"] == first

    def test_descriptions_are_valid_tools(self, dispatcher):
        """TRANS-47: every tool has a valid name, an object inputSchema (from type hints or explicit), and the
        result is a valid ListToolsResult in every version."""
        for version in LEGACY_VERSIONS:
            validate_result(run(dispatcher, "tools/list", {}, version=version), "ListToolsResult", version)
        tools = {t["name"]: t for t in run(dispatcher, "tools/list", {})["result"]["tools"]}
        assert tools["echo"]["inputSchema"] == {"type": "object", "properties": {"text": {"type": "string", "title": "Text"}},
                                                "required": ["text"], "additionalProperties": False}
        assert tools["echo"]["description"] == "Say it back."
        assert tools["echo"]["annotations"] == {"readOnlyHint": True}
        assert tools["progress"]["inputSchema"]["properties"].keys() == {"steps"}  # context is not an argument
        assert tools["structured"]["outputSchema"]["required"] == ["total"]
        assert tools["explicit"]["inputSchema"]["additionalProperties"] is False

    def test_pagination(self, state):
        """TRANS-47, TRANS-54: pages of 50 with an opaque ``nextCursor``; following it yields every tool once, in order."""
        tools = Registry()
        for number in range(123):
            tools.tool(f"tool-{number:03d}")(lambda: "x")
        dispatcher = Dispatcher(tools)
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {} if cursor is None else {"cursor": cursor}
            result = validate_result(run(dispatcher, "tools/list", params), "ListToolsResult", LEGACY)
            pages += 1
            seen += [t["name"] for t in result["tools"]]
            assert len(result["tools"]) == (50 if "nextCursor" in result else 23)
            cursor = result.get("nextCursor")
            if cursor is None:
                break
        assert pages == 3
        assert seen == [f"tool-{n:03d}" for n in range(123)]
        # Same pages in the modern era, with the same cache scope on every page (TRANS-36).
        page = run_modern(dispatcher, "tools/list")["result"]
        second = run_modern(dispatcher, "tools/list", {"cursor": page["nextCursor"]})["result"]
        assert [t["name"] for t in second["tools"]] == seen[50:100]
        assert page["cacheScope"] == second["cacheScope"] == "private"

    def test_empty_cursor_is_the_first_page_in_2026(self, dispatcher):
        """TRANS-54: in 2026-07-28 an empty-string cursor is valid (the first page)."""
        first = run_modern(dispatcher, "tools/list")["result"]
        assert run_modern(dispatcher, "tools/list", {"cursor": ""})["result"] == first

    @pytest.mark.parametrize("cursor", ["!!!", "bm90LWEtbnVtYmVy", base64.urlsafe_b64encode(b"-1").decode(),
                                        base64.urlsafe_b64encode(b"100000").decode(), "\u00e9"])
    def test_bad_cursor(self, dispatcher, cursor):
        """TRANS-54: an invalid cursor -> -32602 in every list method."""
        for method in ("tools/list", "resources/list", "resources/templates/list", "prompts/list"):
            error = error_of(run(dispatcher, method, {"cursor": cursor}), -32602, LEGACY)
            assert error["message"] == "Invalid cursor"
            error_of(run_modern(dispatcher, method, {"cursor": cursor}), -32602)


# --- lifecycle ------------------------------------------------------------------------------------


class TestLifecycle:
    @pytest.mark.parametrize("requested", [*LEGACY_VERSIONS, "2024-11-05", "2026-07-28", "1999-01-01"])
    def test_initialize_negotiates(self, dispatcher, requested):
        """TRANS-23, TRANS-46: initialize echoes a supported version (else the latest legacy one) and declares
        exactly the implemented capabilities; the result is a valid InitializeResult of that version."""
        params = {"protocolVersion": requested, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}
        response = run(dispatcher, "initialize", params, version=LEGACY)
        expected = requested if requested in LEGACY_VERSIONS else "2025-11-25"
        result = validate_result(response, "InitializeResult", expected)
        assert result["protocolVersion"] == expected
        assert result["capabilities"] == {"tools": {"listChanged": True}, "resources": {"listChanged": True},
                                          "prompts": {"listChanged": True}, "completions": {}, "logging": {}}
        assert result["serverInfo"] == {"name": "django-mcp-server", "version": "1.0.0"}
        assert result["instructions"]
        assert "resultType" not in result  # legacy results have no resultType

    def test_capabilities_declare_no_subscribe(self):
        """TRANS-46: resources/subscribe is not implemented, so it is not declared."""
        assert "subscribe" not in capabilities()["resources"]

    @pytest.mark.parametrize("version", LEGACY_VERSIONS)
    def test_ping(self, dispatcher, version):
        """TRANS-27: ping -> empty result."""
        response = run(dispatcher, "ping", None, version=version)
        assert validate_result(response, "EmptyResult", version) == {}

    def test_discover(self, dispatcher):
        """TRANS-34, TRANS-35, TRANS-36: server/discover lists every supported version, the capabilities, server info
        in ``_meta``, instructions, and public cache hints; it is a valid DiscoverResult."""
        result = validate_result(run_modern(dispatcher, "server/discover"), "DiscoverResult", MODERN)
        assert result["supportedVersions"] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
        assert result["resultType"] == "complete"
        assert result["_meta"][SERVER_INFO] == {"name": "django-mcp-server", "version": "1.0.0"}
        assert result["capabilities"] == capabilities()
        assert result["cacheScope"] == "public" and result["ttlMs"] == 3_600_000
        assert result["instructions"]

    def test_set_level(self, dispatcher):
        """TRANS-52: logging/setLevel stores the level through the transport's callback."""
        levels: list[str] = []

        async def store(level: str) -> None:
            levels.append(level)

        assert run(dispatcher, "logging/setLevel", {"level": "warning"}, set_log_level=store)["result"] == {}
        assert levels == ["warning"]


# --- 2026-07-28 result decoration ----------------------------------------------------------------------


class TestModernResults:
    @pytest.mark.parametrize(("method", "params", "schema", "cacheable"), [
        ("server/discover", {}, "DiscoverResult", True),
        ("tools/list", {}, "ListToolsResult", True),
        ("tools/call", {"name": "echo", "arguments": {"text": "x"}}, "CallToolResult", False),
        ("resources/list", {}, "ListResourcesResult", True),
        ("resources/templates/list", {}, "ListResourceTemplatesResult", True),
        ("resources/read", {"uri": "test://static"}, "ReadResourceResult", True),
        ("prompts/list", {}, "ListPromptsResult", True),
        ("prompts/get", {"name": "greet", "arguments": {"name": "bob"}}, "GetPromptResult", False),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": "al"}},
         "CompleteResult", False),
    ])
    def test_every_result_is_decorated(self, dispatcher, method, params, schema, cacheable):
        """TRANS-35, TRANS-36: every 2026-07-28 result has ``resultType`` and ``_meta`` server info; list, discover and
        read results carry ``ttlMs``/``cacheScope`` (private when they depend on the token)."""
        result = validate_result(run_modern(dispatcher, method, params), schema, MODERN)
        assert result["resultType"] == "complete"
        assert result["_meta"][SERVER_INFO] == {"name": "django-mcp-server", "version": "1.0.0"}
        if cacheable:
            assert result["ttlMs"] >= 0
            assert result["cacheScope"] == ("public" if method == "server/discover" else "private")
        else:
            assert "ttlMs" not in result and "cacheScope" not in result

    def test_legacy_results_are_not_decorated(self, dispatcher):
        """TRANS-35: resultType/ttlMs are 2026-07-28 fields; legacy results stay as their schema defines them."""
        result = run(dispatcher, "tools/list", {})["result"]
        assert not {"resultType", "ttlMs", "cacheScope", "_meta"} & set(result)

    def test_ttl_setting(self, dispatcher, settings):
        """TRANS-36: the list TTL is configurable."""
        settings.MCP_APP = {**settings.MCP_APP, "LIST_TTL_MS": 0}
        assert run_modern(dispatcher, "tools/list")["result"]["ttlMs"] == 0


# --- resources -----------------------------------------------------------------------------------------


class TestResources:
    def test_list_and_templates(self, dispatcher):
        """TRANS-50: resources/list and resources/templates/list, filtered by scope, valid for every version."""
        for version in LEGACY_VERSIONS:
            resources = validate_result(run(dispatcher, "resources/list", {}, version=version), "ListResourcesResult", version)
            assert [r["uri"] for r in resources["resources"]] == ["test://static", "test://binary", "test://broken"]
            templates = validate_result(run(dispatcher, "resources/templates/list", {}, version=version),
                                        "ListResourceTemplatesResult", version)
            assert templates["resourceTemplates"] == [{"uriTemplate": "test://items/{item_id}", "name": "item",
                                                       "mimeType": "application/json"}]
        admin = run(dispatcher, "resources/list", {}, principal=ADMIN)["result"]["resources"]
        assert "test://admin" in [r["uri"] for r in admin]

    def test_read_text_blob_and_template(self, dispatcher):
        """TRANS-50: text and binary contents, and a template URI with its variables."""
        text = validate_result(run(dispatcher, "resources/read", {"uri": "test://static"}), "ReadResourceResult", LEGACY)
        assert text["contents"] == [{"uri": "test://static", "mimeType": "text/plain", "text": "static text"}]
        blob = run(dispatcher, "resources/read", {"uri": "test://binary"})["result"]["contents"][0]
        assert base64.b64decode(blob["blob"]) == b"\x00\x01\x02"
        item = run(dispatcher, "resources/read", {"uri": "test://items/7"})["result"]["contents"][0]
        assert json.loads(item["text"]) == {"item": "7", "for": "42"}

    @pytest.mark.parametrize("uri", ["test://nope", "test://items/a/b", "test://admin"])
    def test_read_unknown_resource(self, dispatcher, uri):
        """TRANS-50, TRANS-45: an unknown (or not visible) resource -> -32002 in the legacy era, -32602 in 2026-07-28
        (which must not emit -32002), with the URI as data."""
        for version in LEGACY_VERSIONS:
            error = error_of(run(dispatcher, "resources/read", {"uri": uri}, version=version), -32002, "2025-11-25")
            assert error["data"] == {"uri": uri}
        error = error_of(run_modern(dispatcher, "resources/read", {"uri": uri}), -32602)
        assert error == {"code": -32602, "message": "Resource not found", "data": {"uri": uri}}


# --- prompts and completion -------------------------------------------------------------------------------


class TestPrompts:
    def test_list_and_get(self, dispatcher):
        """TRANS-51: prompts/list (scope-filtered) and prompts/get with arguments, valid for every version."""
        for version in LEGACY_VERSIONS:
            listed = validate_result(run(dispatcher, "prompts/list", {}, version=version), "ListPromptsResult", version)
            assert [p["name"] for p in listed["prompts"]] == ["greet", "many", "broken_prompt"]
            got = validate_result(run(dispatcher, "prompts/get", {"name": "greet", "arguments": {"name": "bob"}},
                                      version=version), "GetPromptResult", version)
            assert got["messages"] == [{"role": "user", "content": {"type": "text", "text": "Greet bob in a warm tone."}}]
        greet = run(dispatcher, "prompts/list", {})["result"]["prompts"][0]
        assert greet["arguments"] == [{"name": "name", "description": "Who", "required": True},
                                      {"name": "tone", "required": False}]

    def test_prompt_scope(self, dispatcher):
        """AUTH-09: a prompt needing more scopes -> InsufficientScope, answered with HTTP 403."""
        (message,), _ = jsonrpc.decode_body(json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {"name": "admin_prompt"}}).encode())
        context = CallContext(principal=FakePrincipal(), version=LEGACY, era=era_of(LEGACY))
        with pytest.raises(InsufficientScope) as caught:
            dispatcher.prepare(message, context)
        assert caught.value.required == ("admin", "mcp")
        assert asyncio.run(dispatcher.answer(message, context)).status == 403
        assert run(dispatcher, "prompts/get", {"name": "admin_prompt"}, principal=ADMIN)["result"]["messages"]

    def test_completion(self, dispatcher):
        """TRANS-53: completion/complete for prompt arguments; a valid CompleteResult."""
        params = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": "al"}}
        result = validate_result(run(dispatcher, "completion/complete", params), "CompleteResult", LEGACY)
        assert result == {"completion": {"values": ["alice", "alan"], "total": 2, "hasMore": False}}
        no_completer = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "tone", "value": ""}}
        assert run(dispatcher, "completion/complete", no_completer)["result"]["completion"]["values"] == []
        resource = {"ref": {"type": "ref/resource", "uri": "test://items/{item_id}"}, "argument": {"name": "item_id", "value": ""}}
        assert run(dispatcher, "completion/complete", resource)["result"]["completion"]["values"] == []

    def test_completion_is_capped_at_100(self, dispatcher):
        """TRANS-53: at most 100 values, with ``total`` and ``hasMore``."""
        params = {"ref": {"type": "ref/prompt", "name": "many"}, "argument": {"name": "n", "value": ""}}
        completion = validate_result(run(dispatcher, "completion/complete", params), "CompleteResult", LEGACY)["completion"]
        assert len(completion["values"]) == 100 and completion["total"] == 150 and completion["hasMore"] is True

    def test_completion_errors(self, dispatcher):
        """TRANS-53: an unknown prompt reference -> -32602; a prompt the caller cannot see completes to nothing."""
        params = {"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "x", "value": ""}}
        error_of(run(dispatcher, "completion/complete", params), -32602, LEGACY)
        hidden = {"ref": {"type": "ref/prompt", "name": "admin_prompt"}, "argument": {"name": "x", "value": ""}}
        assert run(dispatcher, "completion/complete", hidden)["result"]["completion"]["values"] == []


# --- registry rules the dispatcher relies on --------------------------------------------------------------


class TestRegistry:
    @pytest.mark.parametrize("name", ["", "has space", "x" * 129, "slash/name", "ünï"])
    def test_invalid_tool_names(self, name):
        """TRANS-47: tool names are 1-128 characters of A-Za-z0-9_-."""
        with pytest.raises(ValueError):
            Registry().tool(name)(lambda: None)

    def test_duplicate_tool_names(self):
        """TRANS-47: names are unique."""
        tools = Registry()
        tools.tool("same")(lambda: None)
        with pytest.raises(ValueError):
            tools.tool("same")(lambda: None)

    def test_no_argument_tool_schema(self):
        """TRANS-47: a tool without arguments still has an object inputSchema (never null)."""
        tools = Registry()
        tools.tool("noargs")(lambda: None)
        assert tools.tools["noargs"].input_schema == {"type": "object", "properties": {}, "additionalProperties": False}

    def test_list_changed_listeners(self):
        """TRANS-57: registry changes are announced to listeners (the transport wires subscriptions/listen to it)."""
        tools = Registry()
        heard: list[str] = []

        async def listener(kind: str) -> None:
            heard.append(kind)

        tools.on_list_changed(listener)
        tools.on_list_changed(heard.append)
        asyncio.run(tools.list_changed("tools"))
        assert heard == ["tools", "tools"]


def test_module_page_size():
    """TRANS-54: the page size is the server's choice (50)."""
    assert handlers_common.PAGE_SIZE == 50
