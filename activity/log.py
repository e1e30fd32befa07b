"""Recording activity: a typed, cheap API whose writes happen off the request path.

Every ``record_*`` function builds a small tuple (:class:`PendingEvent`) and appends it to
an in-process buffer (a ``deque.append``: no I/O, safe from sync and async code alike). A daemon
thread writes the buffer every ``ACTIVITY_FLUSH_SECONDS``, or as soon as ``ACTIVITY_BATCH_SIZE``
events are waiting, in one transaction (:func:`_insert`), so neither ``/mcp`` nor ``/token``
waits for the log.
Pages that read the log call :func:`flush` first, so what this process recorded is visible.

With ``ACTIVITY_BACKGROUND = False`` (the unit tests) each event is written at once, in the
caller's thread, which keeps tests deterministic; from an event loop's thread (``/mcp`` under
the ASGI test communicators) it waits for the next :func:`flush`, as the ORM cannot run there.

Nothing secret is ever passed in: callers give the public ``client_id``, the user's primary key,
names and numbers. Tool arguments are never recorded.

Who revoked a token is carried by :func:`acting_as`, a context manager the revocation paths
wrap around DOT's deletes; the ``post_delete`` receiver in :mod:`activity.receivers` reads it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

import orjson

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.db import DatabaseError, connections, router, transaction

from .models import Event

log = logging.getLogger(__name__)

Kind = Event.Kind
Outcome = Event.Outcome

_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("activity_actor", default=None)

#: Events above this many waiting are dropped (and counted) rather than growing without bound
#: when the database is down: the log must never take the server with it.
MAX_PENDING = 100_000


# --- Context: who acted -------------------------------------------------------------------


@contextlib.contextmanager
def acting_as(actor: str, *, default: bool = False) -> Iterator[None]:
    """Attribute the revocations and key changes inside this block to ``actor``.

    Actors: ``admin:<username>``, ``user`` (connected apps), ``client`` (RFC 7009 ``/revoke``),
    ``refresh-reuse``, ``code-replay``, ``key-retirement``, ``client-disabled``, ``api``.
    Nested blocks compose outer first (``admin:alice/key-retirement``), so the log says both
    who acted and why the token went; with ``default=True`` the block only applies when no outer
    one has said who (the revocation funnel's fallback ``api``). Token deletions outside any
    block (expiry clean-up, the access token a refresh replaces) are not revocations and are not
    recorded.
    """
    outer = _actor.get()
    if outer is not None and default:
        yield
        return
    token = _actor.set(actor if outer is None else f"{outer}/{actor}")
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str | None:
    """The actor set by the innermost :func:`acting_as` block, or ``None``."""
    return _actor.get()


def admin_actor(user) -> str:
    """The ``actor`` string for a staff member acting in the admin."""
    return f"admin:{user.get_username()}"


# --- The buffer and its writer --------------------------------------------------------------


PendingEvent = tuple
"""An event waiting to be written: a plain tuple of atomic values, in the table's column order
(:data:`_COLUMNS`): ``at`` (whole microseconds since the epoch, an int), ``kind``, ``client_id``,
``user_id``, ``actor``, ``outcome``, ``tool``, ``duration_ms`` and ``detail`` (already JSON text).

Plain tuples of strings and numbers, not a NamedTuple holding a dict and a datetime: the
collector stops tracking such tuples after its first pass, so the thousands waiting between two
flushes under load do not make every collection of the event loop's thread longer, and the
expensive conversions (the time as text, the JSON) happen in the writer, in the database or come
from a memo."""
_COLUMNS = ("at", "kind", "client_id", "user_id", "actor", "outcome", "tool", "duration_ms", "detail")
_ROW_COLUMNS = (*_COLUMNS, "count")
"""The columns :func:`_insert` writes: a :data:`PendingEvent` and how many events the row stands for."""
FLUSH_LIMIT = 20_000
"""Most events one flush writes (in one transaction, so one commit); the rest wait for the next."""

_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


_detail_json: dict[tuple, str] = {}
"""``detail`` dicts already encoded, by their items: most events of a process repeat a few shapes
(``{}``, one session reference per live session)."""


def _detail_text(detail: dict[str, Any]) -> str:
    try:
        key = tuple(detail.items())
        text = _detail_json.get(key)
    except TypeError:  # an unhashable value: encode it every time
        return json.dumps(detail)
    if text is None:
        if len(_detail_json) >= 10_000:
            _detail_json.clear()
        text = _detail_json[key] = json.dumps(detail)
    return text


_second_text: dict[int, str] = {}


def _sqlite_time(at: int) -> str:
    """``at`` (microseconds) as Django stores a naive UTC datetime in SQLite
    (``YYYY-MM-DD HH:MM:SS.ffffff``).

    The second's text is memoized: the events of one flush share a few seconds, and formatting a
    datetime per row was a fifth of the writer's CPU."""
    second, micro = divmod(at, 1_000_000)
    text = _second_text.get(second)
    if text is None:
        if len(_second_text) >= 4096:
            _second_text.clear()
        text = _second_text[second] = datetime.fromtimestamp(second, dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{micro:06d}"


ROWS_PER_STATEMENT = 500  # 5,000 parameters: below SQLite's limit (32,766)

# PostgreSQL turns the batch, one JSON array of the rows (see _rows), back into rows itself, in
# its own process; `at` arrives as integer microseconds and stays exact.
_PG_SELECT_ROWS = (
    "SELECT TIMESTAMPTZ 'epoch' + (e->>0)::bigint * INTERVAL '1 microsecond', e->>1, e->>2,"
    " (e->>3)::bigint, e->>4, e->>5, e->>6, (e->>7)::bigint, (e->>8)::jsonb, (e->>9)::bigint"
    " FROM json_array_elements(%s::json) AS e"
)


_TOOL_CALL = str(Kind.TOOL_CALL)


def _rows(batch: list[PendingEvent]) -> list[tuple | list]:
    """The rows for ``batch``: one per event, except that tool calls identical in all but their
    time and duration, in the same second, become one row (the latest time, the longest duration,
    their ``count``).

    Why: one row per call is the audit trail people read at human rates, and stays so (calls a
    second or more apart, or different in any recorded fact, are rows of their own). A client
    calling a tool thousands of times a second would otherwise make the database's work per
    call, not the tool, the cost of ``/mcp``: in bench/bench_activity.py (about 4,000 calls a second
    on a 2-core machine) one row per call cost the event loop 2-8% of its requests over 16-round
    runs (the writer's SQLite work slows the loop's core even from another thread or process),
    against the 5% the log may take."""
    rows: list[tuple | list] = []
    repeated: dict[tuple, list] = {}
    for event in batch:
        if event[1] != _TOOL_CALL:
            rows.append((*event, 1))
            continue
        key = (event[0] // 1_000_000, *event[1:7], event[8])
        row = repeated.get(key)
        if row is None:
            row = repeated[key] = [*event, 1]
            rows.append(row)
            continue
        row[0] = max(row[0], event[0])
        if event[7] is not None and (row[7] is None or event[7] > row[7]):
            row[7] = event[7]
        row[9] += 1
    return rows


def _insert(batch: list[PendingEvent]) -> None:
    """Write ``batch`` inside the caller's transaction with as little Python as each database allows.

    Why not ``bulk_create``: in a loaded server the writer thread competes with the event loop
    serving ``/mcp`` for the CPU and the GIL, and the ORM's per-object work cost more CPU than the
    request itself (see bench/bench_activity.py). Both paths use the driver's own cursor, which
    bypasses Django's query rewriting (a regular expression over the whole statement) and its
    query log.

    * SQLite: multi-row VALUES, :data:`ROWS_PER_STATEMENT` rows per statement, with the values
      SQLite would get from Django's adapters (the time as text, the JSON text). Not executemany:
      the driver gives up the GIL around every row's step, and under load each hand-over stalls
      the event loop. Not one JSON parameter unpacked by ``json_each``: SQLite's JSON functions
      cost more CPU than the Python they replace.
    * PostgreSQL: one ``INSERT ... SELECT`` over one JSON parameter (one orjson call here); the
      server parses and converts in its own process.
    """
    connection = connections[router.db_for_write(Event)]
    ops = connection.ops
    table = ops.quote_name(Event._meta.db_table)
    columns = ", ".join(ops.quote_name(Event._meta.get_field(name).column) for name in _ROW_COLUMNS)
    rows = _rows(batch)
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        if connection.vendor == "postgresql":  # the two databases this project supports
            cursor.execute(f"INSERT INTO {table} ({columns}) {_PG_SELECT_ROWS}", [orjson.dumps(rows).decode()])
            return
        placeholders = "(" + ", ".join(["?"] * len(_ROW_COLUMNS)) + ")"
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            params = []
            for event in chunk:
                params.append(_sqlite_time(event[0]))
                params.extend(event[1:])
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(chunk))}", params)
    finally:
        cursor.close()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_settings: tuple[bool, int] | None = None


def _config() -> tuple[bool, int]:
    """``(ACTIVITY_BACKGROUND, ACTIVITY_BATCH_SIZE)``, read once (two lazy-settings lookups per event
    were a third of the cost of queueing one) and again whenever a test overrides either."""
    global _settings
    if _settings is None:
        _settings = (bool(getattr(settings, "ACTIVITY_BACKGROUND", True)), int(settings.ACTIVITY_BATCH_SIZE))
    return _settings


@receiver(setting_changed)
def _setting_changed(setting: str, **kwargs: Any) -> None:
    global _settings
    if setting in {"ACTIVITY_BACKGROUND", "ACTIVITY_BATCH_SIZE"}:
        _settings = None


class _Writer:
    def __init__(self) -> None:
        self._pending: deque[PendingEvent] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one flush at a time (thread vs a page's flush())
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self.dropped = 0

    def add(self, event: PendingEvent) -> None:
        background, batch_size = _config()
        if not background:
            self._pending.append(event)
            if not _in_event_loop():  # the ORM refuses an event loop's thread: written at the next flush()
                self.flush()
            return
        pending = len(self._pending)
        if pending >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(event)
        if self._thread is None:
            self._start()
        if pending + 1 == batch_size:  # wake the writer once per batch, not for every event past it
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="activity-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(settings.ACTIVITY_FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer must survive a database outage; events stay queued
                log.exception("Could not write the activity log; will retry.")
            finally:
                self._release_connections()
        connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is waiting and end the writer thread (a test's own writer; the process's runs until exit)."""
        self._stopping = True
        self._wake.set()
        if isinstance(self._thread, threading.Thread):
            self._thread.join(timeout)

    @staticmethod
    def _release_connections() -> None:
        """Give this thread's connection back (pooled on PostgreSQL). A SQLite connection is kept:
        opening one (Django registers its SQL functions, SQLite reads the schema) cost more than the
        batch it wrote, several times a second under load. Never raises: the thread must live on."""
        for connection in connections.all(initialized_only=True):
            try:
                if connection.vendor != "sqlite":
                    connection.close()
                elif connection.connection is not None:
                    connection.close_at = None  # no maximum age (CONN_MAX_AGE is for requests)
                    connection.close_if_unusable_or_obsolete()
            except Exception:
                log.warning("Could not release the activity writer's database connection", exc_info=True)

    def flush(self) -> int:
        """Write the events waiting when it is called, in the calling thread; returns how many were
        written.

        Events queued while it writes wait for the next flush: draining until the queue is empty
        would, under load, keep the writer committing small batches back to back (a new one every
        few milliseconds), each commit rewriting the table's and indexes' last pages."""
        written = 0
        with self._lock:
            waiting = len(self._pending)
            while written < waiting and self._pending:
                popleft = self._pending.popleft
                batch = [popleft() for _ in range(min(len(self._pending), waiting - written, FLUSH_LIMIT))]
                try:
                    # One transaction (one commit) for the whole batch.
                    with transaction.atomic(using=router.db_for_write(Event), savepoint=False):
                        _insert(batch)
                except Exception:
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def pending(self) -> int:
        return len(self._pending)


_writer = _Writer()
atexit.register(lambda: _writer.pending() and _safe_flush())


def _safe_flush() -> None:
    try:
        _writer.flush()
    except Exception:
        log.exception("Could not write the last activity events at exit.")


def flush() -> int:
    """Write what this process has recorded so far (pages that show the log call it first).

    A database error is logged, not raised: a page that shows the log must still render, and
    the events stay queued for the writer thread's next attempt.
    """
    try:
        return _writer.flush()
    except DatabaseError:
        log.warning("Could not write the activity log now; the writer thread will retry.", exc_info=True)
        return 0


def pending() -> int:
    """How many events are waiting to be written in this process."""
    return _writer.pending()


# --- The API --------------------------------------------------------------------------------


def record(kind: str, *, client_id: str = "", user_id: int | None = None, actor: str = "",
           outcome: str = Outcome.OK, tool: str = "", duration_ms: int | None = None,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Queue one event. Never raises on bad input that is merely long: strings are truncated."""
    _writer.add(pending_event(kind, client_id=client_id, user_id=user_id, actor=actor, outcome=outcome, tool=tool,
                              duration_ms=duration_ms, detail=detail, at=at))


def pending_event(kind: str, *, client_id: str = "", user_id: int | None = None, actor: str = "",
                  outcome: str = Outcome.OK, tool: str = "", duration_ms: int | None = None,
                  detail: dict[str, Any] | None = None, at: datetime | None = None) -> PendingEvent:
    """The :data:`PendingEvent` :func:`record` queues (strings truncated to their columns)."""
    at_us = time.time_ns() // 1000 if at is None else (at - _EPOCH) // _MICROSECOND
    return (at_us, str(kind), (client_id or "")[:255], user_id,
            (actor or "")[:160], str(outcome), (tool or "")[:128],
            None if duration_ms is None else max(0, int(duration_ms)), _detail_text(detail) if detail else "{}")


_session_refs: dict[str, str] = {}


def session_ref(session_id: str) -> str:
    """A short, non-reversible reference to an MCP session id, so a log reader cannot replay it."""
    ref = _session_refs.get(session_id)
    if ref is None:
        if len(_session_refs) >= 10_000:
            _session_refs.clear()
        ref = _session_refs[session_id] = hashlib.sha256(session_id.encode()).hexdigest()[:12]
    return ref


def record_session(*, opened: bool, client_id: str, user_id: int | None, session_id: str,
                   protocol_version: str = "") -> None:
    """An MCP session was opened (``initialize`` answered) or closed (DELETE, expiry).

    Args:
        opened: ``True`` when it was created, ``False`` when it ended.
        client_id: the OAuth ``client_id`` of the token (``Principal.client_id``).
        user_id: the person's primary key (``int(Principal.subject)`` for a user token; ``None``
            for a ``client_credentials`` token, whose subject is the client).
        session_id: the ``Mcp-Session-Id``; only a 12-hex-digit hash of it is stored.
        protocol_version: the negotiated protocol version.
    """
    detail = {"session": session_ref(session_id)}
    if protocol_version:
        detail["protocol_version"] = protocol_version
    record(Kind.SESSION_OPENED if opened else Kind.SESSION_CLOSED, client_id=client_id, user_id=user_id,
           detail=detail)


def record_tool_call(*, tool: str, outcome: str, duration_ms: float, client_id: str, user_id: int | None,
                     session_id: str = "", error_code: int | None = None) -> None:
    """A ``tools/call`` finished. Arguments and results are never recorded.

    Args:
        tool: the tool name as called.
        outcome: ``"ok"``, ``"error"`` (a JSON-RPC error or ``isError`` result) or ``"denied"``
            (insufficient scope).
        duration_ms: wall time of the call in milliseconds.
        client_id / user_id: as for :func:`record_session`.
        session_id: the ``Mcp-Session-Id`` if any (stored hashed), empty for the stateless era.
        error_code: the JSON-RPC error code, if the call failed with one.
    """
    detail: dict[str, Any] = {"session": session_ref(session_id)} if session_id else {}
    if error_code is not None:
        detail["error_code"] = int(error_code)
    record(Kind.TOOL_CALL, client_id=client_id, user_id=user_id, outcome=outcome, tool=tool,
           duration_ms=round(duration_ms), detail=detail)


def user_id_of(subject: str, client_id: str) -> int | None:
    """The user primary key from a token's ``sub`` (``None`` for a client-credentials token)."""
    if subject == client_id:
        return None
    try:
        return int(subject)
    except (TypeError, ValueError):
        return None
