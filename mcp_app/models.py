"""Legacy-era session and event storage, in the database so any daphne process can serve any session.

* :class:`Session`: an ``Mcp-Session-Id`` bound to the (issuer, client id, subject) that created it
  (TRANS-16). Only the SHA-256 of the id is stored: a database read does not hand out sessions.
* :class:`Event`: a server message sent on an SSE stream, kept for ``Last-Event-ID`` replay
  (TRANS-19/20) for ``EVENT_RETENTION_SECONDS``. The event id is ``<stream>.<pk>``: unique across
  the session and naming its stream.
"""

from __future__ import annotations

from django.db import models


class Session(models.Model):
    id_hash = models.CharField(max_length=64, unique=True)
    issuer = models.CharField(max_length=255)
    client_id = models.CharField(max_length=255, db_index=True)
    subject = models.CharField(max_length=255)
    protocol_version = models.CharField(max_length=16)
    log_level = models.CharField(max_length=16, blank=True, default="")
    client_info = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "MCP session"

    def __str__(self) -> str:
        return f"session of {self.subject} via {self.client_id}"


class Event(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    stream = models.CharField(max_length=64)
    payload = models.JSONField()
    delivered = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["session", "stream", "id"])]

    @property
    def event_id(self) -> str:
        return f"{self.stream}.{self.pk}"
