"""ASGI entry point: ``daphne project.asgi:application``.

Django's ASGI app is created first (it sets up the app registry), then Channels' protocol router.
HTTP requests for ``/mcp`` go straight to ``mcp_app``'s endpoint (a path comparison, not a URL
resolution per request); everything else is Django.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from mcp_app.routing import MCP_PATHS, mcp_application  # noqa: E402


async def http_router(scope, receive, send):
    """``/mcp`` and ``/mcp/`` to the MCP endpoint, the rest to Django."""
    if scope["path"] in MCP_PATHS:
        return await mcp_application(scope, receive, send)
    return await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter({"http": http_router})

# Everything loaded so far (Django, the apps, the registry, pydantic models) lives as long as the
# process: move it out of the collector's reach, so the periodic full collections that scan it do not
# stall requests (tail latency).
import gc  # noqa: E402

gc.freeze()
