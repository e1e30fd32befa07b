"""Legacy session and event store (database-backed, so every daphne process shares it).

Sessions are bound to the principal that created them: resolving an id with any other
(issuer, client id, subject) finds nothing, exactly like an unknown id (TRANS-16, 404).
Events are what a legacy SSE stream carried, kept for ``Last-Event-ID`` replay.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .conf import mcp_settings
from .db import database_sync_to_async
from .models import Event, Session


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


@database_sync_to_async
def resolve_session(session_id: str, principal) -> SessionInfo | None:
    idle_limit = timezone.now() - timedelta(seconds=mcp_settings.SESSION_IDLE_SECONDS)
    session = Session.objects.filter(id_hash=_hash(session_id), last_seen__gt=idle_limit, **_binding(principal)).first()
    if session is None:
        return None
    if session.last_seen < timezone.now() - timedelta(minutes=5):
        Session.objects.filter(pk=session.pk).update(last_seen=timezone.now())
    return _info(session)


@database_sync_to_async
def end_session(session: SessionInfo) -> None:
    Session.objects.filter(pk=session.pk).delete()


@database_sync_to_async
def set_log_level(session: SessionInfo, level: str) -> None:
    Session.objects.filter(pk=session.pk).update(log_level=level)


@database_sync_to_async
def append_event(session: SessionInfo, stream: str, payload: dict[str, Any], delivered: bool = False) -> str:
    """Store a stream event; an empty ``payload`` is a priming event (an id without data)."""
    event = Event.objects.create(session_id=session.pk, stream=stream, payload=payload, delivered=delivered)
    if event.pk % 500 == 0:  # cheap, occasional retention sweep of old events and idle sessions
        now = timezone.now()
        Event.objects.filter(created__lt=now - timedelta(seconds=mcp_settings.EVENT_RETENTION_SECONDS)).delete()
        Session.objects.filter(last_seen__lt=now - timedelta(seconds=mcp_settings.SESSION_IDLE_SECONDS)).delete()
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
