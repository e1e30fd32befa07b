"""The ``/token`` peer's ASGI app: Django's stock handler, as a django-oauth-toolkit deployment runs it.

``daphne bench.dot_peer_asgi:application`` with ``DJANGO_SETTINGS_MODULE=bench.settings_dot_peer``.
Unlike ``project.asgi`` (the product), no pooled threads (``project/http.py``): Django starts a
thread per request, and with Django's default ``CONN_MAX_AGE = 0`` that thread opens and closes
its database connection.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_dot_peer")
application = get_asgi_application()
