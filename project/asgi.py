"""ASGI entry point: ``daphne project.asgi:application``.

Django's ASGI app is created first (it sets up the app registry), then the protocol router.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from mcp_app.routing import http_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
})
