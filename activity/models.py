"""The activity log: one row per thing that happened to a client, a person's authorization or a key.

Rows are written by :mod:`activity.log` (batched, off the request path) and pruned by
``manage.py pruneactivity`` after ``ACTIVITY_RETENTION_DAYS``. No token, code or secret is ever
stored: a row names the client by its public ``client_id``, the person by a foreign key, and keeps
a small ``detail`` dict of non-secret facts (scopes, grant type, tool name, kid).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """One activity-log entry.

    Fields:

    * ``at``: when it happened (taken when it was recorded, not when the batch was written).
    * ``kind``: what happened (:class:`Event.Kind`).
    * ``client_id``: the OAuth client's public ``client_id`` (kept when the client is deleted).
    * ``user``: the person concerned (the resource owner), if any.
    * ``actor``: who caused it when that is not the person: ``admin:<username>``, ``client``,
      ``user``, ``refresh-reuse``, ``code-replay``, ``key-retirement``, ``client-disabled``.
    * ``outcome``: ``ok``, ``error`` or ``denied`` (tool calls, consent).
    * ``tool`` / ``duration_ms``: for tool calls. Arguments are never stored.
    * ``count``: how many events the row stands for. Tool calls that are identical in everything
      but their duration (client, person, tool, outcome, session, error code) and fall in the
      same second are written as one row, as syslog writes "last message repeated N times": then
      ``at`` is the latest of them and ``duration_ms`` the longest. Every other event is one row.
    * ``detail``: small non-secret facts (scope, grant type, registration source, kid, session hash).
    """

    class Kind(models.TextChoices):
        CLIENT_REGISTERED = "client.registered", _("client registered")
        CLIENT_CHANGED = "client.changed", _("client changed")
        CLIENT_DISABLED = "client.disabled", _("client disabled")
        CONSENT_ALLOWED = "consent.allowed", _("consent allowed")
        CONSENT_DENIED = "consent.denied", _("consent denied")
        TOKEN_ISSUED = "token.issued", _("token issued")
        TOKEN_REFRESHED = "token.refreshed", _("token refreshed")
        TOKEN_REVOKED = "token.revoked", _("token revoked")
        KEY_CREATED = "key.created", _("signing key created")
        KEY_ACTIVATED = "key.activated", _("signing key activated")
        KEY_RETIRING = "key.retiring", _("signing key retiring")
        KEY_RETIRED = "key.retired", _("signing key retired")
        KEY_PRUNED = "key.pruned", _("signing key pruned")
        SESSION_OPENED = "mcp.session_opened", _("MCP session opened")
        SESSION_CLOSED = "mcp.session_closed", _("MCP session closed")
        TOOL_CALL = "mcp.tool_call", _("tool call")

    class Outcome(models.TextChoices):
        OK = "ok", _("ok")
        ERROR = "error", _("error")
        DENIED = "denied", _("denied")

    at = models.DateTimeField(_("when"), default=timezone.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    client_id = models.CharField(max_length=255, blank=True, default="")
    # No database constraint: rows are written in batches after the fact, and a person deleted in
    # between must not make the whole batch fail (Django still nulls the column on delete).
    # No index of its own either: the (user, -at) index below serves every lookup by user, and each
    # index is written for every row (one row per tools/call).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="activity_events", db_constraint=False, db_index=False)
    actor = models.CharField(max_length=160, blank=True, default="")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OK)
    tool = models.CharField(max_length=128, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    count = models.PositiveIntegerField(_("count"), default=1)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("activity event")
        verbose_name_plural = _("activity events")
        indexes = [
            # The client and user timelines (newest first: each index is read backwards) and
            # pruning and the admin list (by time; its filter by kind reads the time index too).
            # Each index is written for every row, one row per tools/call: ascending keys are
            # appended at the end of their range, which costs SQLite less than descending ones,
            # and a kind index cost more per row than it saved on the admin's kind filter.
            models.Index(fields=["client_id", "at"], name="activity_client_time"),
            models.Index(fields=["user", "at"], name="activity_user_time"),
            models.Index(fields=["at"], name="activity_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"
