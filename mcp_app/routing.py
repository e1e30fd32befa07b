"""HTTP routes handled by Channels rather than Django: ``/mcp`` and ``/mcp/`` (no redirect, CLAUDE-12)."""

from django.urls import re_path

from .consumers import MCPConsumer

http_urlpatterns = [re_path(r"^mcp/?$", MCPConsumer.as_asgi())]
