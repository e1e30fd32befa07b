"""DOT scopes backend reading :class:`~oauth_app.models.Scope` rows (``SCOPES_BACKEND_CLASS``).

Scopes live in the database so the admin can add and describe them; DOT asks this backend
what exists (discovery, ``invalid_scope``) and what a given client may request.
"""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings


class DatabaseScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        from .models import Scope

        return dict(Scope.objects.values_list("name", "description"))

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        names = set(self.get_all_scopes())
        allowed = application.allowed_scope_names() if application is not None else None
        if allowed is not None:
            names &= allowed
        return sorted(names)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        available = set(self.get_available_scopes(application, request))
        return [name for name in oauth2_settings.DEFAULT_SCOPES if name in available]
