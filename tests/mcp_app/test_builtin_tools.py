"""The built-in tools, resource and prompt, called through the dispatcher with real principals.

They are what an operator uses through Claude (issue 4 §6), so what they return and do matters:
``whoami`` describes the caller, the admin tools act through the same code the admin uses.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from django.contrib.auth import get_user_model

import tests.conformance_app.streaming  # noqa: F401  (the demo tool, tests only)
from mcp_app.context import ToolContext
from mcp_app.dispatcher import Dispatcher
from mcp_app.protocol.jsonrpc import Message
from mcp_app.protocol.versions import Era
from oauth_app.exceptions import InsufficientScope, InvalidToken
from oauth_app.tokens import verify_access_token
from tests.conftest import RESOURCE

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def call(principal, method: str, params: dict, *, notifications: list | None = None) -> dict:
    async def send(method: str, params: dict) -> None:
        notifications.append((method, params))

    context = ToolContext(principal=principal, version="2025-11-25", era=Era.LEGACY,
                          send_notification=send if notifications is not None else None).with_meta(params.get("_meta"))
    return asyncio.run(Dispatcher().answer(Message("request", method, 1, params), context)).payload


@pytest.fixture
def staff_principal(issue_token):
    root = get_user_model().objects.create_user("root", password="staff-password-42", is_staff=True)
    return verify_access_token(issue_token(root, "mcp admin"), RESOURCE)


@pytest.fixture
def alice_principal(token_pair):
    return verify_access_token(token_pair(scope="mcp")["access_token"], RESOURCE)


def text_of(response: dict) -> str:
    return response["result"]["content"][0]["text"]


def test_whoami_describes_the_caller(alice_principal, alice):
    """whoami: subject, username, client, scopes and expiry, as structured content."""
    result = call(alice_principal, "tools/call", {"name": "whoami", "arguments": {}})["result"]
    assert result["structuredContent"] == {
        "subject": str(alice.pk), "username": "alice", "client_id": alice_principal.client_id,
        "scopes": ["mcp"], "expires_at": alice_principal.expires_at.isoformat()}
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


def test_admin_tools_need_the_admin_scope(alice_principal):
    """AUTH-09: a non-admin caller is refused (HTTP 403 insufficient_scope) naming every scope the tool needs."""
    context = ToolContext(principal=alice_principal, version="2025-11-25", era=Era.LEGACY)
    message = Message("request", "tools/call", 1, {"name": "list_clients", "arguments": {}})
    with pytest.raises(InsufficientScope) as caught:
        Dispatcher().prepare(message, context)
    assert set(caught.value.required) == {"mcp", "admin"}
    reply = asyncio.run(Dispatcher().answer(message, context))
    assert reply.status == 403 and reply.payload["error"] == "insufficient_scope"


def test_list_clients(staff_principal, make_client):
    make_client(name="Claude Desktop")
    make_client(name="Inspector")
    everything = json.loads(text_of(call(staff_principal, "tools/call", {"name": "list_clients", "arguments": {}})))
    assert {"Claude Desktop", "Inspector"} <= {c["name"] for c in everything}
    found = json.loads(text_of(call(staff_principal, "tools/call",
                                    {"name": "list_clients", "arguments": {"search": "claude"}})))
    assert [c["name"] for c in found] == ["Claude Desktop"]


def test_revoke_client_tokens_takes_effect_now(staff_principal, token_pair, public_client):
    """The tool uses oauth_app.revocation: the client's tokens fail verification at once."""
    victim = token_pair(scope="mcp")["access_token"]
    verify_access_token(victim, RESOURCE)
    response = call(staff_principal, "tools/call",
                    {"name": "revoke_client_tokens", "arguments": {"client_id": public_client.client_id}})
    assert "Revoked 1 access token" in text_of(response)
    with pytest.raises(InvalidToken):
        verify_access_token(victim, RESOURCE)


def test_revoke_unknown_client_is_a_tool_error(staff_principal):
    response = call(staff_principal, "tools/call", {"name": "revoke_client_tokens", "arguments": {"client_id": "nope"}})
    assert response["result"]["isError"] is True
    assert text_of(response) == "No client with id nope."


def test_notification_stream_sends_progress(alice_principal):
    """The demo tool: one progress notification per step, then the answer."""
    sent: list = []
    response = call(alice_principal, "tools/call", {"name": "start-notification-stream",
                                                     "arguments": {"interval": 0, "count": 3, "caller": "t"},
                                                     "_meta": {"progressToken": "tok"}}, notifications=sent)
    assert text_of(response) == "Sent 3 notifications to t."
    assert [p["progress"] for m, p in sent if m == "notifications/progress"] == [1, 2, 3]
    assert {p["progressToken"] for _, p in sent} == {"tok"}


def test_registration_resource_is_the_callers_client(alice_principal):
    response = call(alice_principal, "resources/read", {"uri": "mcp://client/registration"})
    content = response["result"]["contents"][0]
    assert json.loads(content["text"])["client_id"] == alice_principal.client_id
    assert content["mimeType"] == "application/json"


def test_explain_scope_prompt_and_completion(alice_principal):
    prompt = call(alice_principal, "prompts/get", {"name": "explain_scope", "arguments": {"scope": "mcp"}})["result"]
    assert "'mcp'" in prompt["messages"][0]["content"]["text"]
    completion = call(alice_principal, "completion/complete", {"ref": {"type": "ref/prompt", "name": "explain_scope"},
                                                               "argument": {"name": "scope", "value": "a"}})
    assert completion["result"]["completion"]["values"] == ["admin"]
