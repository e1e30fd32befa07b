"""Legacy session and event store (database-backed, so every daphne process shares it).

Sessions are bound to the principal that created them: resolving an id with any other
(issuer, client id, subject) finds nothing, exactly like an unknown id (TRANS-16, 404).
Events are what a legacy SSE stream carried, kept for ``Last-Event-ID`` replay.

Resolved sessions are cached per process for ``SESSION_CACHE_SECONDS`` (30 s), while the process
hears the channel layer: a legacy request then costs no database round trip. DELETE and a log-level change drop the entry at once here and,
through :func:`oauth_app.revocation.invalidate`, in every other process; idle expiry is checked
against the cached ``last_seen``, which is written at most every five minutes per session.

Every function here is synchronous database work run on ``/mcp``'s pool (:mod:`mcp_app.db`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from oauth_app.revocation import invalidate, on_invalidate
from oauth_app.tokens import verified

from .conf import mcp_settings
from .db import database_sync_to_async, run_sync
from .models import Event, Session
from .protocol.errors import SessionNotFound

INVALIDATION_KIND = "mcp-sessions"
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    pk: int
    protocol_version: str
    log_level: str | None

    @property
    def standalone_stream(self) -> str:
        """The stream id of the session's GET stream."""
        return f"g{self.pk}"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _binding(principal) -> dict[str, str]:
    return {"issuer": principal.issuer, "client_id": principal.client_id, "subject": principal.subject}


def _info(session: Session) -> SessionInfo:
    return SessionInfo(session.pk, session.protocol_version, session.log_level or None)


@database_sync_to_async
def create_session(principal, protocol_version: str, client_info: dict[str, Any]) -> tuple[str, SessionInfo]:
    session_id = secrets.token_urlsafe(32)
    session = Session.objects.create(id_hash=_hash(session_id), protocol_version=protocol_version,
                                     client_info=client_info if isinstance(client_info, dict) else {},
                                     **_binding(principal))
    return session_id, _info(session)


@dataclass(frozen=True, slots=True)
class _Cached:
    info: SessionInfo
    binding: tuple[str, str, str]
    until: float
    """``time.monotonic()`` after which the database is asked again: the cache bound, or earlier when
    the session would go idle or its ``last_seen`` is due to be written."""


_cache: dict[str, _Cached] = {}


def _forget(id_hashes: list[str]) -> None:
    for id_hash in id_hashes:
        _cache.pop(id_hash, None)


on_invalidate(INVALIDATION_KIND, _forget)


def _load(id_hash: str, binding: dict[str, str]) -> tuple[SessionInfo, float] | None:
    """The session and how many seconds its row may be trusted without asking again."""
    now = timezone.now()
    idle = timedelta(seconds=mcp_settings.SESSION_IDLE_SECONDS)
    session = Session.objects.filter(id_hash=id_hash, last_seen__gt=now - idle, **binding).first()
    if session is None:
        return None
    last_seen = session.last_seen
    if last_seen < now - LAST_SEEN_RESOLUTION:
        last_seen = now
        Session.objects.filter(pk=session.pk).update(last_seen=last_seen)
    fresh_for = min((last_seen + LAST_SEEN_RESOLUTION - now).total_seconds(), (last_seen + idle - now).total_seconds())
    return _info(session), fresh_for


async def resolve_session(session_id: str, principal) -> SessionInfo | None:
    """The session ``session_id`` of ``principal``, or ``None`` (unknown, foreign or idle: all the same 404)."""
    id_hash = _hash(session_id)
    binding = (principal.issuer, principal.client_id, principal.subject)
    cached = _cache.get(id_hash)
    # Only while this process hears other processes' invalidations (a DELETE elsewhere); the
    # verified-token cache follows the same switch.
    if cached is not None and cached.until > time.monotonic() and verified.enabled:
        return cached.info if cached.binding == binding else None
    found = await run_sync(_load, id_hash, _binding(principal))
    if found is None:
        _cache.pop(id_hash, None)
        return None
    info, fresh_for = found
    lifetime = min(float(mcp_settings.SESSION_CACHE_SECONDS), fresh_for)
    if lifetime > 0:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[id_hash] = _Cached(info, binding, time.monotonic() + lifetime)
    return info


@database_sync_to_async
def end_session(session: SessionInfo) -> None:
    id_hash = Session.objects.filter(pk=session.pk).values_list("id_hash", flat=True).first()
    # The ORM deletes the session's events first, then the session. A stream may append an event
    # in between (PostgreSQL checks the deferred foreign key at COMMIT and refuses the delete):
    # collect again and retry. append_event answers SessionNotFound once the session is gone.
    for attempt in range(5):
        try:
            with transaction.atomic():
                Session.objects.filter(pk=session.pk).delete()
            break
        except IntegrityError:
            if attempt == 4:
                raise
    if id_hash:
        invalidate(INVALIDATION_KIND, [id_hash])


@database_sync_to_async
def set_log_level(session: SessionInfo, level: str) -> None:
    id_hash = Session.objects.filter(pk=session.pk).values_list("id_hash", flat=True).first()
    Session.objects.filter(pk=session.pk).update(log_level=level)
    if id_hash:
        invalidate(INVALIDATION_KIND, [id_hash])


@database_sync_to_async
def append_event(session: SessionInfo, stream: str, payload: dict[str, Any], delivered: bool = False) -> str:
    """Store a stream event; an empty ``payload`` is a priming event (an id without data).

    Raises :class:`SessionNotFound` when the session was deleted meanwhile (a DELETE, or
    ``clearmcpsessions``, between resolving it and writing here): the same 404 as an unknown session.
    Retention is ``clearmcpsessions``'s job, never a request's.
    """
    try:
        with transaction.atomic():  # a savepoint: the failed insert must not break an outer transaction
            event = Event.objects.create(session_id=session.pk, stream=stream, payload=payload, delivered=delivered)
    except IntegrityError:
        raise SessionNotFound() from None
    return event.event_id


def parse_event_id(value: str) -> tuple[str, int] | None:
    stream, _, number = value.rpartition(".")
    if not stream or not number.isdigit() or len(stream) > 64:
        return None
    return stream, int(number)


@database_sync_to_async
def events_after(session: SessionInfo, stream: str, after: int) -> list[tuple[str, dict[str, Any]]]:
    """Stored events of ``stream`` in ``session`` after event ``after`` (exclusive), oldest first."""
    events = Event.objects.filter(session_id=session.pk, stream=stream, pk__gt=after).order_by("pk")
    return [(event.event_id, event.payload) for event in events if event.payload]


@database_sync_to_async
def stream_belongs_to(session: SessionInfo, stream: str) -> bool:
    return stream == session.standalone_stream or Event.objects.filter(session_id=session.pk, stream=stream).exists()


@database_sync_to_async
def undelivered_standalone(session: SessionInfo) -> list[tuple[str, dict[str, Any]]]:
    """Events queued for the GET stream while no GET stream was open."""
    with transaction.atomic():
        events = list(Event.objects.select_for_update().filter(session_id=session.pk, stream=session.standalone_stream,
                                                               delivered=False).order_by("pk"))
        Event.objects.filter(pk__in=[e.pk for e in events]).update(delivered=True)
    return [(event.event_id, event.payload) for event in events]


@database_sync_to_async
def mark_delivered(event_id: str) -> None:
    parsed = parse_event_id(event_id)
    if parsed:
        Event.objects.filter(pk=parsed[1]).update(delivered=True)
