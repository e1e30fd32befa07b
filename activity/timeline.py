"""Reading the activity log: the client, person and connected-app timelines shown on pages.

Each reader calls :func:`activity.log.flush` first, so a page shows everything this process has
recorded (the admin and ``/account/apps`` are not hot paths; ``/mcp`` and ``/token`` never read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from .log import Kind, flush
from .models import Event

#: Events that mean the client used a token at the resource (``/mcp``).
MCP_KINDS = (Kind.SESSION_OPENED, Kind.SESSION_CLOSED, Kind.TOOL_CALL)
#: Events that count as "used" for a person's connected app.
USE_KINDS = (*MCP_KINDS, Kind.TOKEN_REFRESHED, Kind.TOKEN_ISSUED)


def describe(event: Event) -> str:
    """One human sentence for an event (never a token or secret: there are none to show)."""
    detail = event.detail or {}
    kind = event.kind
    if kind == Kind.CLIENT_REGISTERED:
        return f"Registered ({detail.get('source', 'admin')})"
    if kind == Kind.CLIENT_DISABLED:
        return "Disabled"
    if kind == Kind.CLIENT_CHANGED:
        return "Changed: " + ", ".join(detail.get("fields", []))
    if kind in (Kind.CONSENT_ALLOWED, Kind.CONSENT_DENIED):
        verb = "allowed" if kind == Kind.CONSENT_ALLOWED else "denied"
        scope = detail.get("scope")
        return f"Consent {verb}" + (f": {scope}" if scope else "")
    if kind == Kind.TOKEN_ISSUED:
        return f"Token issued ({detail.get('grant_type', '')}): {detail.get('scope', '')}".rstrip(": ")
    if kind == Kind.TOKEN_REFRESHED:
        return f"Token refreshed: {detail.get('scope', '')}".rstrip(": ")
    if kind == Kind.TOKEN_REVOKED:
        return f"Token revoked by {event.actor or 'unknown'}"
    if kind == Kind.TOOL_CALL:
        if event.count > 1:
            longest = f", the longest in {event.duration_ms} ms" if event.duration_ms is not None else ""
            return f"Tool {event.tool}: {event.outcome} ×{event.count:,} within a second{longest}"
        duration = f" in {event.duration_ms} ms" if event.duration_ms is not None else ""
        return f"Tool {event.tool}: {event.outcome}{duration}"
    if kind in (Kind.SESSION_OPENED, Kind.SESSION_CLOSED):
        verb = "opened" if kind == Kind.SESSION_OPENED else "closed"
        return f"MCP session {detail.get('session', '')} {verb}".replace("  ", " ")
    if kind.startswith("key."):
        return f"{event.get_kind_display().capitalize()}: {detail.get('kid', '')[:16]}…"
    return event.get_kind_display()


def _timeline(queryset: QuerySet, limit: int) -> list[Event]:
    flush()
    events = list(queryset.select_related("user")[:limit])
    for event in events:
        event.description = describe(event)
    return events


def for_client(client_id: str, limit: int = 25) -> list[Event]:
    return _timeline(Event.objects.filter(client_id=client_id), limit)


def for_user(user_id: int, limit: int = 25) -> list[Event]:
    return _timeline(Event.objects.filter(user_id=user_id), limit)


@dataclass(frozen=True, slots=True)
class ClientSummary:
    last_token: datetime | None
    last_mcp_request: datetime | None
    last_tool_call: Event | None
    live_sessions: int


def _latest(queryset: QuerySet) -> datetime | None:
    return queryset.order_by("-at").values_list("at", flat=True).first()


def client_summary(client_id: str) -> ClientSummary:
    """Last token, last ``/mcp`` activity, last tool call and sessions opened but not closed."""
    flush()
    events = Event.objects.filter(client_id=client_id)
    last_tool = events.filter(kind=Kind.TOOL_CALL).order_by("-at").first()
    opened = set(events.filter(kind=Kind.SESSION_OPENED).values_list("detail__session", flat=True)[:1000])
    closed = set(events.filter(kind=Kind.SESSION_CLOSED).values_list("detail__session", flat=True)[:1000])
    return ClientSummary(
        last_token=_latest(events.filter(kind__in=(Kind.TOKEN_ISSUED, Kind.TOKEN_REFRESHED))),
        last_mcp_request=_latest(events.filter(kind__in=MCP_KINDS)),
        last_tool_call=last_tool,
        live_sessions=len(opened - closed),
    )


def last_used(client_id: str, user_id: int) -> datetime | None:
    """When ``user``'s tokens for this client were last used (``/mcp`` or a refresh)."""
    return _latest(Event.objects.filter(client_id=client_id, user_id=user_id, kind__in=USE_KINDS))
