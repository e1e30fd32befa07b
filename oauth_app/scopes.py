"""DOT scopes backend reading :class:`~oauth_app.models.Scope` rows (``SCOPES_BACKEND_CLASS``), cached.

Scopes live in the database so the admin can add and describe them; DOT asks this backend
what exists (discovery, ``invalid_scope``) and what a given client may request, several times per
``/token`` request. Both answers are cached in each process: the scope table as a whole, and each
client's allowed scopes by client id. A saved or deleted ``Scope`` clears everything; a change to
a client's ``allowed_scopes`` (admin, registration management) drops that client; either way every
other process is told at once over the channel layer (:func:`oauth_app.revocation.invalidate`).
Entries also expire after :data:`MAX_AGE_SECONDS`, in case such a message is lost.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings

from .revocation import invalidate, on_invalidate

KIND = "scopes"
MAX_AGE_SECONDS = 60.0
_ALL = "*"

_all_scopes: tuple[float, dict[str, str]] | None = None
_allowed: dict[str, tuple[float, frozenset[str] | None]] = {}


def _fresh(loaded_at: float) -> bool:
    return time.monotonic() - loaded_at < MAX_AGE_SECONDS


def all_scopes() -> dict[str, str]:
    """Every scope name and its description (cached)."""
    global _all_scopes
    cached = _all_scopes
    if cached is not None and _fresh(cached[0]):
        return cached[1]
    from .models import Scope

    scopes = dict(Scope.objects.values_list("name", "description"))
    _all_scopes = (time.monotonic(), scopes)
    return scopes


def allowed_scope_names(application) -> frozenset[str] | None:
    """The scope names ``application`` may request, or ``None`` when it is unrestricted (cached)."""
    cached = _allowed.get(application.client_id)
    if cached is not None and _fresh(cached[0]):
        return cached[1]
    names = application.allowed_scope_names()
    value = frozenset(names) if names else None
    if len(_allowed) > 10_000:
        _allowed.clear()
    _allowed[application.client_id] = (time.monotonic(), value)
    return value


def _drop(keys: list[str]) -> None:
    global _all_scopes
    if _ALL in keys:
        _all_scopes = None
        _allowed.clear()
        return
    for client_id in keys:
        _allowed.pop(client_id, None)


on_invalidate(KIND, _drop)


def clear_cache() -> None:
    """Forget every cached scope answer in this process (tests roll back rows without signals)."""
    _drop([_ALL])


class DatabaseScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return dict(all_scopes())

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        names = set(all_scopes())
        allowed = allowed_scope_names(application) if application is not None else None
        if allowed is not None:
            names &= allowed
        return sorted(names)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        available = set(self.get_available_scopes(application, request))
        return [name for name in oauth2_settings.DEFAULT_SCOPES if name in available]


def _scope_changed(sender, **kwargs: Any) -> None:
    invalidate(KIND, [_ALL])


def _allowed_scopes_changed(sender, instance, action: str, reverse: bool, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    # From the client side (client.allowed_scopes.add) one client changed; from the scope side
    # (scope.clients.add) possibly many: clear them all.
    invalidate(KIND, [_ALL] if reverse else [instance.client_id])


def connect_signals() -> None:
    from .models import Client, Scope

    post_save.connect(_scope_changed, sender=Scope, dispatch_uid="oauth_app.scopes.saved")
    post_delete.connect(_scope_changed, sender=Scope, dispatch_uid="oauth_app.scopes.deleted")
    m2m_changed.connect(_allowed_scopes_changed, sender=Client.allowed_scopes.through,
                        dispatch_uid="oauth_app.scopes.allowed")
    post_save.connect(lambda sender, instance, **kw: invalidate(KIND, [instance.client_id]), sender=Client,
                      weak=False, dispatch_uid="oauth_app.scopes.client_saved")
