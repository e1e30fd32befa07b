"""The activity log: what each OAuth event records, who revoked, the MCP recording API, the
background writer, pruning, and that no token or secret ever lands in a row."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import RefreshToken

from activity import log
from activity.models import Event
from oauth_app import keys, revocation
from tests.oauth_app.test_token import checksum, exchange, refresh

pytestmark = pytest.mark.django_db


def kinds(**filters) -> list[str]:
    log.flush()
    return list(Event.objects.filter(**filters).order_by("at", "pk").values_list("kind", flat=True))


def all_rows_text() -> str:
    return json.dumps(list(Event.objects.values()), default=str)


class TestOAuthEvents:
    def test_flow_records_consent_issue_refresh_and_no_secret(self, client, public_client, token_pair, alice):
        """DJ-07 audit: consent allowed, token issued, refreshed; user and client on each row;
        neither the access token, the refresh token nor the code appears anywhere."""
        first = token_pair()
        second = refresh(client, public_client, first["refresh_token"]).json()
        assert kinds(client_id=public_client.client_id) == [
            "client.registered", "consent.allowed", "token.issued", "token.refreshed"]
        issued = Event.objects.get(kind="token.issued")
        assert (issued.user, issued.detail["grant_type"], issued.detail["scope"]) == (alice, "authorization_code", "mcp")
        text = all_rows_text()
        for secret in (first["access_token"], first["refresh_token"], second["access_token"], second["refresh_token"]):
            assert secret not in text
            assert checksum(secret) not in text

    def test_consent_denied(self, browser, public_client):
        from tests.support.oauth import Pkce, authorize_query, consent
        from tests.conftest import LOOPBACK_CALLBACK

        response = consent(browser, authorize_query(public_client.client_id, LOOPBACK_CALLBACK, Pkce.new()), allow=False)
        assert response.status_code == 303
        event = Event.objects.get(kind="consent.denied")
        assert (event.client_id, event.outcome, event.user.username) == (public_client.client_id, "denied", "alice")

    def test_registration_by_dcr_is_recorded_with_its_source(self, client):
        response = client.post("/register", {"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                                             "token_endpoint_auth_method": "none"}, content_type="application/json")
        assert response.status_code == HTTPStatus.CREATED
        event = Event.objects.get(kind="client.registered", client_id=response.json()["client_id"])
        assert event.detail["source"] == "dcr"

    def test_rfc7009_revoke_is_by_the_client(self, client, public_client, token_pair):
        tokens = token_pair()
        assert client.post("/revoke", {"token": tokens["access_token"], "client_id": public_client.client_id}).status_code == 200
        assert Event.objects.get(kind="token.revoked").actor == "client"

    def test_refresh_reuse_detection_is_named(self, client, public_client, token_pair):
        """DJ-05: a replayed rotated refresh token revokes the family; the log says why."""
        first = token_pair()
        refresh(client, public_client, first["refresh_token"])
        RefreshToken.objects.filter(token_checksum=checksum(first["refresh_token"])).update(
            revoked=timezone.now() - timedelta(minutes=5))
        assert refresh(client, public_client, first["refresh_token"]).status_code == HTTPStatus.BAD_REQUEST
        assert list(Event.objects.filter(kind="token.revoked").values_list("actor", flat=True)) == ["refresh-reuse"]

    def test_code_replay_is_named(self, client, public_client, code_for):
        code, pkce = code_for(public_client)
        assert exchange(client, public_client, code, pkce.verifier).status_code == HTTPStatus.OK
        assert exchange(client, public_client, code, pkce.verifier).status_code == HTTPStatus.BAD_REQUEST
        assert list(Event.objects.filter(kind="token.revoked").values_list("actor", flat=True)) == ["code-replay"]

    def test_rotation_itself_is_not_a_revocation(self, client, public_client, token_pair):
        first = token_pair()
        refresh(client, public_client, first["refresh_token"])
        assert not Event.objects.filter(kind="token.revoked").exists()

    def test_key_retirement_and_client_disable(self, public_client, token_pair):
        token_pair()
        old = keys.get_signing_key()[0]
        keys.rotate("ES256")
        keys.retire(old.kid, force=True)
        assert list(Event.objects.filter(kind="token.revoked").values_list("actor", flat=True)) == ["key-retirement"]
        assert kinds(kind__startswith="key.")[-3:] == ["key.retiring", "key.activated", "key.retired"]
        token_pair()
        revocation.disable_client(public_client)
        assert Event.objects.filter(kind="client.disabled", client_id=public_client.client_id).exists()
        assert Event.objects.filter(kind="token.revoked", actor="client-disabled").count() == 1


class TestMcpApi:
    def test_record_tool_call_and_session(self, alice):
        """The API the MCP endpoint calls: tool, outcome, duration, client, user; a hashed session."""
        log.record_session(opened=True, client_id="client_x", user_id=alice.pk, session_id="sess-secret-1",
                           protocol_version="2025-11-25")
        log.record_tool_call(tool="whoami", outcome="ok", duration_ms=12.6, client_id="client_x", user_id=alice.pk,
                             session_id="sess-secret-1")
        log.record_tool_call(tool="admin_thing", outcome="denied", duration_ms=0.2, client_id="client_x",
                             user_id=alice.pk, error_code=-32003)
        log.record_session(opened=False, client_id="client_x", user_id=alice.pk, session_id="sess-secret-1")
        rows = list(Event.objects.filter(kind__startswith="mcp.").order_by("at", "pk"))
        assert [r.kind for r in rows] == ["mcp.session_opened", "mcp.tool_call", "mcp.tool_call", "mcp.session_closed"]
        assert (rows[1].tool, rows[1].outcome, rows[1].duration_ms, rows[1].user) == ("whoami", "ok", 13, alice)
        assert rows[2].detail == {"error_code": -32003}
        assert rows[0].detail["session"] == rows[3].detail["session"] == log.session_ref("sess-secret-1")
        assert "sess-secret-1" not in all_rows_text()

    def test_user_id_of(self):
        assert log.user_id_of("42", "client_a") == 42
        assert log.user_id_of("client_a", "client_a") is None  # client_credentials: the client itself

    def test_client_summary_counts_live_sessions(self, public_client, alice):
        from activity.timeline import client_summary

        for sid in ("a", "b"):
            log.record_session(opened=True, client_id=public_client.client_id, user_id=alice.pk, session_id=sid)
        log.record_session(opened=False, client_id=public_client.client_id, user_id=alice.pk, session_id="a")
        log.record_tool_call(tool="whoami", outcome="ok", duration_ms=3, client_id=public_client.client_id,
                             user_id=alice.pk)
        summary = client_summary(public_client.client_id)
        assert summary.live_sessions == 1
        assert summary.last_tool_call.tool == "whoami"
        assert summary.last_mcp_request is not None


def pending(tool: str, user_id: int) -> log.PendingEvent:
    return log.pending_event(log.Kind.TOOL_CALL, client_id="c", user_id=user_id, tool=tool, duration_ms=1,
                             detail={"n": tool}, at=timezone.now())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # like tests/mcp_app (keeps the seeded rows)
def test_background_writer_batches_off_the_calling_thread(settings, alice):
    """Off the hot path: ``record_*`` only queues; the writer thread inserts the batch."""
    settings.ACTIVITY_BACKGROUND = True
    settings.ACTIVITY_FLUSH_SECONDS = 60  # only the batch-size wake-up can write within the test
    settings.ACTIVITY_BATCH_SIZE = 5
    writer = log._Writer()
    flushed_by: list[str] = []
    flushed = threading.Event()
    real_flush = writer.flush

    def flush() -> int:
        written = real_flush()
        if written:
            flushed_by.append(threading.current_thread().name)
            flushed.set()
        return written

    writer.flush = flush
    tool_calls = Event.objects.filter(kind=log.Kind.TOOL_CALL)
    queued_at = timezone.now()
    for n in range(4):
        writer.add(pending(f"t{n}", alice.pk))
    assert tool_calls.count() == 0 and writer.pending() == 4  # the caller wrote nothing
    writer.add(pending("t4", alice.pk))
    queued_by = timezone.now()
    try:
        assert flushed.wait(10)  # the fifth event wakes the writer thread
    finally:
        writer.stop()
    assert flushed_by == ["activity-writer"]
    assert sorted(tool_calls.values_list("tool", flat=True)) == ["t0", "t1", "t2", "t3", "t4"]
    row = tool_calls.get(tool="t2")
    assert (row.detail, row.user, row.duration_ms) == ({"n": "t2"}, alice, 1)
    # The time it was queued (not written), as an aware UTC datetime, to the microsecond.
    assert queued_at - timedelta(microseconds=1) <= row.at <= queued_by + timedelta(microseconds=1)


def test_prune_command_keeps_the_retention(settings):
    settings.ACTIVITY_RETENTION_DAYS = 30
    log.record(log.Kind.TOOL_CALL, tool="old", at=timezone.now() - timedelta(days=31))
    log.record(log.Kind.TOOL_CALL, tool="new", at=timezone.now() - timedelta(days=29))
    out = StringIO()
    call_command("pruneactivity", stdout=out)
    assert list(Event.objects.filter(kind="mcp.tool_call").values_list("tool", flat=True)) == ["new"]
    assert "Deleted 1 activity event(s) older than 30 day(s)." in out.getvalue()


def test_rows_keep_every_value_exactly(alice):
    """What a batch writes reads back unchanged through the ORM, on SQLite and on PostgreSQL alike
    (each database has its own insert path): the time to the microsecond, including a second's
    first and last microsecond, text outside ASCII and with quotes, nulls, and the detail dict."""
    times = [timezone.now().replace(microsecond=0) - timedelta(days=3),
             timezone.now().replace(microsecond=999_999) - timedelta(days=2),
             timezone.now().replace(microsecond=123_456)]
    for n, at in enumerate(times):
        log.record(log.Kind.TOOL_CALL, client_id=f"cl'ient-{n}", user_id=alice.pk if n else None,
                   actor='admin:"ève"', outcome=log.Outcome.ERROR, tool=f"outil-été-{n}",
                   duration_ms=None if n == 1 else n * 7, detail={"quote": "it's \"x\"", "n": n, "emoji": "🔧"}, at=at)
    log.flush()
    rows = list(Event.objects.filter(kind=log.Kind.TOOL_CALL).order_by("at"))
    assert [row.at for row in rows] == times
    assert [row.client_id for row in rows] == ["cl'ient-0", "cl'ient-1", "cl'ient-2"]
    assert [row.user_id for row in rows] == [None, alice.pk, alice.pk]
    assert [row.duration_ms for row in rows] == [0, None, 14]
    assert {(row.actor, row.outcome) for row in rows} == {('admin:"ève"', "error")}
    assert [row.tool for row in rows] == ["outil-été-0", "outil-été-1", "outil-été-2"]
    assert rows[2].detail == {"quote": "it's \"x\"", "n": 2, "emoji": "🔧"}


def test_a_flush_writes_what_was_waiting_and_leaves_later_events_to_the_next(monkeypatch, alice):
    """Under load, events keep arriving while the writer writes. A flush takes what was queued
    when it started (one transaction) and leaves the rest for the next flush: draining until
    the queue was empty kept the writer committing tiny batches back to back, which cost /mcp a
    tenth of its requests in bench/bench_activity.py."""
    writer = log._Writer()
    batches: list[int] = []
    real_insert = log._insert

    def insert(batch):
        batches.append(len(batch))
        if len(batches) == 1:  # events queued while this batch is written
            for n in range(3):
                writer._pending.append(pending(f"late{n}", alice.pk))
        real_insert(batch)

    monkeypatch.setattr(log, "_insert", insert)
    for n in range(5):
        writer._pending.append(pending(f"early{n}", alice.pk))
    assert writer.flush() == 5 and batches == [5] and writer.pending() == 3
    assert writer.flush() == 3 and batches == [5, 3] and writer.pending() == 0
    assert Event.objects.filter(kind=log.Kind.TOOL_CALL, tool__startswith="early").count() == 5
    assert Event.objects.filter(kind=log.Kind.TOOL_CALL, tool__startswith="late").count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_identical_tool_calls_in_one_second_are_one_row(settings, alice):
    """A burst of identical tool calls is one row with its count (syslog's "repeated N times"),
    the latest time and the longest duration; calls that differ in any recorded fact, fall in
    another second, or are not tool calls keep rows of their own."""
    settings.ACTIVITY_BACKGROUND = True
    settings.ACTIVITY_FLUSH_SECONDS = 60
    settings.ACTIVITY_BATCH_SIZE = 10**6  # only the explicit flush below writes
    writer = log._Writer()
    second = timezone.now().replace(microsecond=0) - timedelta(minutes=5)

    def call(tool: str = "echo", at_us: int = 0, duration: int = 1, **facts) -> log.PendingEvent:
        return log.pending_event(log.Kind.TOOL_CALL, client_id=facts.get("client_id", "c1"), user_id=alice.pk,
                                 outcome=facts.get("outcome", "ok"), tool=tool, duration_ms=duration,
                                 detail=facts.get("detail"), at=second + timedelta(microseconds=at_us))

    events = [call(at_us=10, duration=3), call(at_us=999_999, duration=9), call(at_us=500, duration=2),
              call(outcome="error"), call(detail={"session": "s2"}), call(client_id="c2"), call(tool="other"),
              call(at_us=1_000_000),  # the next second
              log.pending_event(log.Kind.SESSION_OPENED, client_id="c1", user_id=alice.pk, at=second),
              log.pending_event(log.Kind.SESSION_OPENED, client_id="c1", user_id=alice.pk, at=second)]
    try:
        for event in events:
            writer.add(event)
        assert writer.flush() == len(events)
    finally:
        writer.stop()
    rows = list(Event.objects.filter(client_id__in=["c1", "c2"]).order_by("pk"))
    burst = rows[0]
    assert (burst.count, burst.duration_ms, burst.at) == (3, 9, second + timedelta(microseconds=999_999))
    assert [(row.kind, row.client_id, row.tool, row.outcome, row.detail, row.count) for row in rows[1:]] == [
        ("mcp.tool_call", "c1", "echo", "error", {}, 1),
        ("mcp.tool_call", "c1", "echo", "ok", {"session": "s2"}, 1),
        ("mcp.tool_call", "c2", "echo", "ok", {}, 1),
        ("mcp.tool_call", "c1", "other", "ok", {}, 1),
        ("mcp.tool_call", "c1", "echo", "ok", {}, 1),
        ("mcp.session_opened", "c1", "", "ok", {}, 1),
        ("mcp.session_opened", "c1", "", "ok", {}, 1),
    ]
    assert rows[5].at == second + timedelta(seconds=1)
    from activity.timeline import describe
    assert describe(burst) == "Tool echo: ok ×3 within a second, the longest in 9 ms"
    assert describe(rows[1]) == "Tool echo: error in 1 ms"
