"""Which requested scopes a user may grant to a client (the consent policy).

Kept apart from the view so the rule is stated once: a scope is grantable when it exists,
the client is allowed to request it, and the user is entitled to grant it
(:meth:`Scope.is_grantable_by`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Client, Scope


def grantable_scopes(user, client: Client, requested: Iterable[str]) -> list[Scope]:
    """The requested scopes ``user`` may grant to ``client``, in request order."""
    wanted = list(dict.fromkeys(requested))
    by_name = {scope.name: scope for scope in Scope.objects.filter(name__in=wanted)}
    allowed = client.allowed_scope_names()
    return [
        by_name[name]
        for name in wanted
        if name in by_name and (allowed is None or name in allowed) and by_name[name].is_grantable_by(user)
    ]
