"""System checks for the deployment configuration (run by ``manage.py check`` and ``make run``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from rest_framework.throttling import SimpleRateThrottle


@register(Tags.compatibility)
def check_environment(app_configs, **kwargs) -> list[Error]:
    """oauth_app.E001: a malformed environment variable (see ``project/settings.py``)."""
    errors = [Error(message, id="oauth_app.E001") for message in getattr(settings, "CONFIG_ERRORS", [])]
    rate = settings.REGISTER_RATE_LIMIT
    if rate not in {"", "0"}:
        try:
            count, _ = SimpleRateThrottle.parse_rate(None, rate)
            if count <= 0:
                raise ValueError
        except (ValueError, KeyError, IndexError):
            errors.append(
                Error(f"REGISTER_RATE_LIMIT={rate!r} must look like 30/m (per s, m, h or d), or 0 to turn it off.",
                      id="oauth_app.E002")
            )
    if getattr(settings, "PRODUCTION", False):
        if not settings.SIGNING_KEY_ENCRYPTION_KEYS:
            errors.append(Error("SIGNING_KEY_ENCRYPTION_KEY must be set when PUBLIC_URL is https and DEBUG is off: "
                                "signing keys are stored encrypted with it.", id="oauth_app.E003"))
        if not settings.SECRET_KEY_FROM_ENVIRONMENT:
            errors.append(Error("SECRET_KEY must be set when PUBLIC_URL is https and DEBUG is off.", id="oauth_app.E004"))
    return errors
