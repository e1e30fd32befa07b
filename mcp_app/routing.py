"""HTTP routes handled outside Django's request/response cycle: ``/mcp`` and ``/mcp/`` (no redirect, CLAUDE-12)."""

from django.urls import re_path

from .transport.asgi import application as mcp_application

MCP_PATHS = frozenset({"/mcp", "/mcp/"})
http_urlpatterns = [re_path(r"^mcp/?$", mcp_application)]
