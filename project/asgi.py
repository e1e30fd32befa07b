"""ASGI entry point: ``daphne project.asgi:application``.

Django is set up first (the app registry), then its ASGI handler is created: Django's own, with
each request's synchronous work on a pool of reused threads (``project/http.py``). HTTP requests
for ``/mcp`` go straight to ``mcp_app``'s endpoint (a path comparison, not a URL resolution per
request); everything else is Django.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application does first

from django.conf import settings  # noqa: E402

from project import daphne_tuning  # noqa: E402
from project.http import PooledASGIHandler  # noqa: E402

daphne_tuning.apply()

django_asgi_app = PooledASGIHandler(threads=settings.HTTP_THREADS)

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

GC_YOUNGEST_THRESHOLD = 10_000
"""Container allocations (net) between two collections of the youngest generation; CPython's default
is 700. Every request in flight holds a few hundred young objects (scope, headers, task, pydantic
models), so at 700 the collector ran about once per 20 ``/mcp`` requests and spent 3.8% of the
process's CPU (gc.callbacks timings under bench/bench_mcp.py's load: 2.2% at 2,000, 0.8% at
5,000, 0.5% at 20,000). Almost nothing it finds is garbage: requests free their objects by
reference counting. One young collection now takes about 1-2 ms, less than a full one did at 700
(about 6 ms), so the tail latency does not grow; the older generations keep CPython's ratios."""
gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
