"""Template context for the end-user pages: the product's name (``RESOURCE_NAME``) for their header."""

from __future__ import annotations

from django.conf import settings


def product(request) -> dict[str, str]:
    return {"resource_name": settings.RESOURCE_NAME}
