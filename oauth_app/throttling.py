"""Rate limit for anonymous client registration, on DRF's ``SimpleRateThrottle``.

``REGISTER_RATE_LIMIT`` uses DRF's rate syntax (``30/m``, ``100/h``); ``0`` switches it off.
Requests are counted per client address in the default cache (Redis when ``REDIS_URL`` is
set, so every worker shares one count).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class RegistrationThrottle(SimpleRateThrottle):
    scope = "register"

    def get_rate(self) -> str | None:
        value = settings.REGISTER_RATE_LIMIT
        return None if value in {"", "0"} else value

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
