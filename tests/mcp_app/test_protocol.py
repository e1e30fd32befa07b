"""The Django-free protocol core: versions, JSON-RPC framing, error codes, 2026-07-28 header checks.

No database, no event loop: ``mcp_app.protocol`` takes and returns plain data.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus

import pytest

from mcp_app.protocol import errors, headers, jsonrpc, versions
from mcp_app.protocol.status import http_status
from mcp_app.protocol.errors import HeaderMismatch, InvalidRequest, MCPError, ParseError
from mcp_app.protocol.versions import Era
from tests.support.schema import validate, validate_error


def b64(text: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return "=?base64?" + encode(text.encode("utf-8")).decode("ascii") + "?="


def decode(payload) -> tuple[list[jsonrpc.Message], bool]:
    return jsonrpc.decode_body(payload if isinstance(payload, bytes) else json.dumps(payload).encode())


# --- versions -----------------------------------------------------------------------------------


class TestVersions:
    def test_versions_are_an_enumerated_set_split_by_era(self):
        """TRANS-44: legacy handshake versions and the stateless 2026-07-28 version, each mapped to its era."""
        assert versions.LEGACY_VERSIONS == ("2025-03-26", "2025-06-18", "2025-11-25")
        assert versions.MODERN_VERSIONS == ("2026-07-28",)
        for version in versions.LEGACY_VERSIONS:
            assert versions.era_of(version) is Era.LEGACY
        assert versions.era_of("2026-07-28") is Era.MODERN
        for unknown in ("2024-11-05", "2025-11-25 ", "2026-07-29", ""):
            assert versions.era_of(unknown) is None

    def test_supported_versions_newest_first(self):
        """TRANS-30, TRANS-34: the list named by server/discover and -32022 holds every version, newest first."""
        assert versions.SUPPORTED_VERSIONS == ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26")
        assert versions.LATEST_LEGACY == "2025-11-25"
        assert versions.DEFAULT_LEGACY == "2025-03-26"

    @pytest.mark.parametrize("requested", ["2025-03-26", "2025-06-18", "2025-11-25"])
    def test_negotiate_echoes_a_supported_legacy_version(self, requested):
        """TRANS-23: a supported requested version is echoed."""
        assert versions.negotiate(requested) == requested

    @pytest.mark.parametrize("requested", ["2024-11-05", "2026-07-28", "2099-01-01", "", None, 20251125, ["2025-06-18"]])
    def test_negotiate_answers_the_latest_legacy_version_otherwise(self, requested):
        """TRANS-23: an unsupported (or non-string) version gets the latest legacy version; initialize never yields
        the stateless version (TRANS-44)."""
        assert versions.negotiate(requested) == "2025-11-25"

    def test_batches_only_in_2025_03_26(self):
        """TRANS-11: JSON-RPC batches exist in 2025-03-26 only."""
        assert versions.allows_batches("2025-03-26")
        for version in ("2025-06-18", "2025-11-25", "2026-07-28", "2024-11-05"):
            assert not versions.allows_batches(version)


# --- JSON-RPC framing -----------------------------------------------------------------------------


class TestDecodeBody:
    @pytest.mark.parametrize("body", [b"", b"{", b'{"jsonrpc": "2.0",', b"\xff\xfe\x00", b"nope", b"[1, 2"])
    def test_unparseable_body_is_a_parse_error(self, body):
        """TRANS-06, TRANS-60: bytes that are not JSON (or not UTF-8) -> -32700, HTTP 400."""
        with pytest.raises(ParseError) as caught:
            jsonrpc.decode_body(body)
        assert caught.value.code == -32700
        assert http_status(None, caught.value) == HTTPStatus.BAD_REQUEST
        assert caught.value.to_error() == {"code": -32700, "message": "Parse error"}

    @pytest.mark.parametrize("payload", [5, "ping", None, True, 1.5, {"a": 1}])
    def test_non_object_message_is_invalid(self, payload):
        """TRANS-04, TRANS-06: a body that is valid JSON but no JSON-RPC object -> -32600, HTTP 400."""
        with pytest.raises(InvalidRequest) as caught:
            decode(payload)
        assert caught.value.code == -32600
        assert http_status(None, caught.value) == HTTPStatus.BAD_REQUEST

    @pytest.mark.parametrize("version", [None, "1.0", "2", 2.0, "2.0 "])
    def test_wrong_or_missing_jsonrpc_member_is_invalid(self, version):
        """TRANS-04: ``jsonrpc`` must be exactly "2.0"."""
        message = {"id": 1, "method": "ping"}
        if version is not None:
            message["jsonrpc"] = version
        with pytest.raises(InvalidRequest):
            decode(message)

    @pytest.mark.parametrize("bad_id", [None, True, False, 1.5, 1.0, [1], {"n": 1}])
    def test_request_id_must_be_a_string_or_integer(self, bad_id):
        """TRANS-04: ``id`` is a string or an integer, never null, a boolean, a float or a structure."""
        with pytest.raises(InvalidRequest) as caught:
            decode({"jsonrpc": "2.0", "id": bad_id, "method": "ping"})
        assert caught.value.message == "Invalid request id"

    @pytest.mark.parametrize("bad_id", [None, True, 2.5])
    def test_response_id_is_checked_too(self, bad_id):
        """TRANS-04: the same id rule holds for responses a client POSTs (legacy)."""
        with pytest.raises(InvalidRequest):
            decode({"jsonrpc": "2.0", "id": bad_id, "result": {}})

    @pytest.mark.parametrize("method", [1, None, "", ["ping"], {"m": "ping"}])
    def test_method_must_be_a_non_empty_string(self, method):
        """TRANS-04: a request or notification names its method as a string."""
        with pytest.raises(InvalidRequest):
            decode({"jsonrpc": "2.0", "id": 1, "method": method})
        with pytest.raises(InvalidRequest):
            decode({"jsonrpc": "2.0", "method": method})

    @pytest.mark.parametrize("params", [[1, 2], "x", 3, True])
    def test_params_must_be_an_object(self, params):
        """TRANS-04: MCP params are by-name (an object)."""
        with pytest.raises(InvalidRequest):
            decode({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params})

    @pytest.mark.parametrize("message", [
        {"jsonrpc": "2.0"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "result": {}},
    ])
    def test_neither_request_nor_response_is_invalid(self, message):
        """TRANS-04: a message without ``method`` must be a response: an id and exactly one of result/error."""
        with pytest.raises(InvalidRequest):
            decode(message)

    def test_empty_batch_is_invalid(self):
        """TRANS-11: an empty array is not a batch."""
        with pytest.raises(InvalidRequest) as caught:
            decode([])
        assert caught.value.message == "Empty batch"

    def test_batch_with_one_invalid_member_is_invalid(self):
        """TRANS-11: every member of a batch must itself be a valid message."""
        with pytest.raises(InvalidRequest):
            decode([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": None, "method": "ping"}])

    def test_messages_are_classified(self):
        """TRANS-04, TRANS-07: requests carry an id, notifications none, responses a result or an error."""
        (request,), batch = decode({"jsonrpc": "2.0", "id": "a-1", "method": "tools/list", "params": {"cursor": "x"}})
        assert not batch
        assert (request.kind, request.id, request.method, request.params) == ("request", "a-1", "tools/list", {"cursor": "x"})
        (zero,), _ = decode({"jsonrpc": "2.0", "id": 0, "method": "ping"})
        assert (zero.kind, zero.id, zero.params) == ("request", 0, {})
        (note,), _ = decode({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert (note.kind, note.id) == ("notification", None)
        (null_params,), _ = decode({"jsonrpc": "2.0", "id": 2, "method": "ping", "params": None})
        assert null_params.params == {}
        (answer,), _ = decode({"jsonrpc": "2.0", "id": 7, "result": {}})
        assert (answer.kind, answer.id, answer.method) == ("response", 7, None)
        (failure,), _ = decode({"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "no"}})
        assert failure.kind == "response"

    def test_batch_is_decoded_in_order(self):
        """TRANS-11: a 2025-03-26 batch of requests and notifications keeps its order."""
        messages, batch = decode([
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        ])
        assert batch
        assert [(m.kind, m.id) for m in messages] == [("request", 1), ("notification", None), ("request", 2)]
        single, batch = decode([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
        assert batch and len(single) == 1


class TestBuilders:
    def test_result_response(self):
        """TRANS-04: a result carries the request id; it is a valid JSON-RPC response in every version."""
        message = jsonrpc.result(3, {})
        assert message == {"jsonrpc": "2.0", "id": 3, "result": {}}
        validate(message, "JSONRPCResponse", "2025-06-18")
        validate(message, "JSONRPCResultResponse", "2025-11-25")

    def test_error_response_with_and_without_id(self):
        """TRANS-04, TRANS-07: errors carry the request id, absent only when it could not be read."""
        with_id = jsonrpc.error("r-1", errors.MethodNotFound())
        assert with_id == {"jsonrpc": "2.0", "id": "r-1", "error": {"code": -32601, "message": "Method not found"}}
        validate(with_id, "JSONRPCError", "2025-03-26")
        without_id = jsonrpc.error(None, ParseError())
        assert "id" not in without_id
        assert validate_error(without_id)["code"] == -32700

    def test_notification(self):
        """TRANS-04: notifications have no id."""
        assert jsonrpc.notification("notifications/tools/list_changed") == {
            "jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
        progress = jsonrpc.notification("notifications/progress", {"progressToken": 1, "progress": 1})
        validate(progress, "ProgressNotification", "2025-11-25")


# --- error codes ------------------------------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize(("cls", "code", "legacy", "modern"), [
        (errors.ParseError, -32700, 400, 400),
        (errors.InvalidRequest, -32600, 400, 400),
        (errors.MethodNotFound, -32601, 200, 404),
        (errors.InvalidParams, -32602, 200, 200),
        (errors.MissingMeta, -32602, 400, 400),
        (errors.InternalError, -32603, 200, 200),
        (errors.MCPError, -32603, 200, 200),
        (errors.HeaderMismatch, -32020, 400, 400),
        (errors.MissingClientCapability, -32021, 400, 400),
        (errors.UnsupportedProtocolVersion, -32022, 400, 400),
        (errors.ResourceNotFound, -32002, 200, 200),
        (errors.BodyTooLarge, -32600, 413, 413),
        (errors.UnsupportedMediaType, -32600, 415, 415),
        (errors.NotAcceptable, -32600, 406, 406),
        (errors.ForbiddenOrigin, -32600, 403, 403),
        (errors.ForbiddenHost, -32600, 400, 400),
        (errors.SessionNotFound, -32600, 404, 404),
        (errors.StreamConflict, -32600, 409, 409),
    ])
    def test_codes_and_http_statuses(self, cls, code, legacy, modern):
        """TRANS-60, TRANS-45, TRANS-30: each error class has its spec code, and the one (era, error) table gives
        the HTTP status the transport uses in each era."""
        exc = cls()
        assert exc.code == code
        assert http_status(Era.LEGACY, exc) == legacy
        assert http_status(Era.MODERN, exc) == modern
        assert exc.to_error() == {"code": code, "message": exc.message}
        assert validate_error(jsonrpc.error(1, exc))["code"] == code

    def test_2026_codes_match_the_schema_constants(self):
        """TRANS-60: -32020/-32021/-32022 are the 2026-07-28 HeaderMismatch/MissingRequiredClientCapability/
        UnsupportedProtocolVersion errors."""
        validate(jsonrpc.error(1, errors.HeaderMismatch()), "HeaderMismatchError", "2026-07-28")
        validate(jsonrpc.error(1, errors.MissingClientCapability(data={"requiredCapabilities": {}})),
                 "MissingRequiredClientCapabilityError", "2026-07-28")
        validate(jsonrpc.error(1, errors.UnsupportedProtocolVersion(data={"supported": ["2026-07-28"], "requested": "x"})),
                 "UnsupportedProtocolVersionError", "2026-07-28")

    def test_message_and_data_overrides(self):
        """TRANS-26: an error may carry data and its own message; the status stays the table's."""
        exc = errors.BodyTooLarge("Request body too large", {"limit": 10})
        assert exc.to_error() == {"code": -32600, "message": "Request body too large", "data": {"limit": 10}}
        assert http_status(None, exc) == 413
        assert errors.InvalidRequest.message == "Invalid request"  # the class default is untouched
        assert str(exc) == "Request body too large"

    def test_default_messages_are_fixed_safe_strings(self):
        """TRANS-60: -32603 says nothing about what went wrong inside."""
        assert MCPError().to_error() == {"code": -32603, "message": "Internal server error"}


# --- 2026-07-28 Mcp-Method / Mcp-Name ---------------------------------------------------------------------


class TestModernHeaders:
    def check(self, method: str, params: dict | None = None, **sent: str) -> None:
        headers.check_modern_headers({k.replace("_", "-"): v for k, v in sent.items()}, method, params or {})

    def mismatch(self, method: str, params: dict | None = None, **sent: str) -> HeaderMismatch:
        with pytest.raises(HeaderMismatch) as caught:
            self.check(method, params, **sent)
        assert caught.value.code == -32020 and http_status(Era.MODERN, caught.value) == 400
        return caught.value

    def test_matching_method_passes(self):
        """TRANS-32: Mcp-Method equal to the body's method passes; Mcp-Name is not needed for tools/list."""
        self.check("tools/list", mcp_method="tools/list")
        self.check("server/discover", mcp_method="server/discover")
        self.check("tools/list", mcp_method="tools/list", mcp_name="ignored")

    def test_missing_method_header(self):
        """TRANS-32: Mcp-Method is required on every request."""
        assert self.mismatch("tools/list").message == "Missing Mcp-Method header"

    @pytest.mark.parametrize("sent", ["tools/call", "Tools/List", "tools/list/", " tools/list"])
    def test_method_mismatch(self, sent):
        """TRANS-32: values are compared exactly (case-sensitive)."""
        assert "does not match" in self.mismatch("tools/list", mcp_method=sent).message

    def test_base64_values_are_decoded(self):
        """TRANS-32: ``=?base64?...?=`` values are decoded before comparing (standard and URL-safe alphabets)."""
        self.check("tools/list", mcp_method=b64("tools/list"))
        self.check("tools/call", {"name": "wetter-münchen?"}, mcp_method="tools/call", mcp_name=b64("wetter-münchen?"))
        self.check("tools/call", {"name": "wetter-münchen?"}, mcp_method="tools/call",
                   mcp_name=b64("wetter-münchen?", urlsafe=True))
        self.mismatch("tools/list", mcp_method=b64("tools/call"))

    @pytest.mark.parametrize("value", ["=?base64?not base64?=", "=?base64?abc?=", "=?base64?//79?="])
    def test_invalid_base64(self, value):
        """TRANS-32: a malformed encoded value (bad alphabet, bad padding, not UTF-8) -> -32020."""
        self.mismatch("tools/list", mcp_method=value)

    @pytest.mark.parametrize("value", ["tools/list\x00", "tööls/list", "tools\tlist", "tools/list\x7f"])
    def test_invalid_characters(self, value):
        """TRANS-32: raw values are visible ASCII only; anything else must be base64-encoded."""
        assert self.mismatch("tools/list", mcp_method=value).message == "Invalid characters in header value"

    def test_decoding_is_reported_directly(self):
        """TRANS-32: the decoder is usable on its own."""
        assert headers.decode_header_value("tools/list") == "tools/list"
        assert headers.decode_header_value(b64("ü")) == "ü"
        with pytest.raises(HeaderMismatch):
            headers.decode_header_value("ü")

    @pytest.mark.parametrize(("method", "params"), [
        ("tools/call", {"name": "whoami"}),
        ("prompts/get", {"name": "explain_scope"}),
        ("resources/read", {"uri": "mcp://client/registration"}),
    ])
    def test_name_header_for_named_methods(self, method, params):
        """TRANS-32: Mcp-Name is required for tools/call, prompts/get (params.name) and resources/read (params.uri)."""
        value = params.get("name") or params["uri"]
        self.check(method, params, mcp_method=method, mcp_name=value)
        self.check(method, params, mcp_method=method, mcp_name=b64(value))
        assert self.mismatch(method, params, mcp_method=method).message == "Missing Mcp-Name header"
        assert "does not match" in self.mismatch(method, params, mcp_method=method, mcp_name=value + "x").message
        self.mismatch(method, params, mcp_method=method, mcp_name=value.upper())

    def test_name_field_is_taken_from_the_right_member(self):
        """TRANS-32: resources/read compares the URI, not a ``name`` member."""
        self.mismatch("resources/read", {"uri": "mcp://a", "name": "b"}, mcp_method="resources/read", mcp_name="b")
        self.mismatch("tools/call", {}, mcp_method="tools/call", mcp_name="x")

    def test_header_names_are_the_lowercase_wire_names(self):
        """TRANS-32: header names are case-insensitive on the wire; the transport lowercases them."""
        assert (headers.METHOD, headers.NAME, headers.PROTOCOL_VERSION, headers.SESSION_ID, headers.LAST_EVENT_ID) == (
            "mcp-method", "mcp-name", "mcp-protocol-version", "mcp-session-id", "last-event-id")


# --- era selection and SSE framing ----------------------------------------------------------------------


@pytest.mark.parametrize("body_version, header_version, method, era", [
    ("2026-07-28", "2026-07-28", "tools/list", "modern"),
    ("1999-01-01", None, "tools/list", "modern"),
    (None, "2026-07-28", "tools/list", "modern"),
    (None, None, "server/discover", "modern"),
    (None, "2025-11-25", "tools/list", "legacy"),
    (None, None, "initialize", "legacy"),
])
def test_request_era(body_version, header_version, method, era):
    """TRANS-44: the era is decided per request, from the body's _meta, the header or the method."""
    from mcp_app.protocol.versions import request_era

    assert request_era(body_version, header_version, method).value == era


def test_sse_framing():
    """TRANS-21: a priming event is an id with empty data; messages are JSON on one data line."""
    from mcp_app.protocol import sse

    assert sse.event("s1.5", None) == b"id: s1.5\nevent: message\ndata: \n\n"
    assert sse.event(None, {"a": 1}) == b'event: message\ndata: {"a":1}\n\n'
    assert sse.retry(1000) == b"retry: 1000\n\n"
    assert sse.KEEPALIVE.startswith(b":")


@pytest.mark.parametrize("accept, ok", [
    ("application/json, text/event-stream", True), ("*/*", True), ("text/*, application/*", True),
    ("application/json;q=0.9", False), ("", False)])
def test_accepts(accept, ok):
    """TRANS-05: both media types (or wildcards covering them) must be acceptable."""
    from mcp_app.protocol.headers import accepts

    assert (accepts(accept, "application/json") and accepts(accept, "text/event-stream")) is ok
