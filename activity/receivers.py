"""Signal receivers that turn OAuth events into activity: DOT's and Django's signals, no view edits.

* ``post_save(Client, created)``: client registered, by DCR, CIMD or the admin
  (``registration_source``).
* :func:`token_issued`, called by the validator once ``/token`` stored an access token: issued
  (code exchange, client credentials) or refreshed.
* ``pre_delete(AccessToken)`` inside an :func:`activity.log.acting_as` block: revoked, with who.
  DOT revokes by deleting the row (verification checks the row, so this is what makes revocation
  immediate); the row is gone, the event stays.
* ``post_save``/``post_delete(SigningKey)``: key created, activated, retiring, retired, pruned.
"""

from __future__ import annotations

from oauth2_provider.models import AccessToken, RefreshToken

from .log import Kind, current_actor, record

_KEY_STATE_KINDS = {
    "active": Kind.KEY_ACTIVATED, "retiring": Kind.KEY_RETIRING, "retired": Kind.KEY_RETIRED,
}


def client_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    source = {"manual": "admin"}.get(instance.registration_source, instance.registration_source)
    record(Kind.CLIENT_REGISTERED, client_id=instance.client_id, actor=current_actor() or "",
           detail={"source": source, "name": instance.name[:120], "client_type": instance.client_type})


def token_issued(request) -> None:
    """Called by :meth:`oauth_app.validators.OAuth2Validator.save_bearer_token` once ``/token`` has
    stored a new access token (its transaction committed): issued (code exchange, client
    credentials) or refreshed. Not DOT's ``app_authorized`` signal: DOT reads the new token back
    from the database only to send it, two queries per ``/token`` that the request already has."""
    token = getattr(request, "issued_access_token", None)
    if token is None:
        return
    grant_type = request.grant_type or ""
    kind = Kind.TOKEN_REFRESHED if grant_type == "refresh_token" else Kind.TOKEN_ISSUED
    record(kind, client_id=request.client.client_id, user_id=token.user_id,
           detail={"grant_type": grant_type[:40], "scope": (token.scope or "")[:500], "token": token.pk})


def token_deleted(sender, instance: AccessToken, **kwargs) -> None:
    actor = current_actor()
    if actor is None:
        return
    # pre_delete: the refresh token still points at this row, so the admin can later say who
    # revoked that refresh token too.
    client_id = (type(instance).application.field.related_model.objects.filter(pk=instance.application_id)
                 .values_list("client_id", flat=True).first() or "")
    detail = {"token": instance.pk, "scope": instance.scope[:500]}
    refresh = RefreshToken.objects.filter(access_token_id=instance.pk).values_list("pk", flat=True).first()
    if refresh is not None:
        detail["refresh"] = refresh
    record(Kind.TOKEN_REVOKED, client_id=client_id, user_id=instance.user_id, actor=actor, detail=detail)


def key_saved(sender, instance, created: bool, raw: bool = False, update_fields=None, **kwargs) -> None:
    if raw:
        return
    detail = {"kid": instance.kid, "algorithm": instance.algorithm}
    if created:
        record(Kind.KEY_CREATED, actor=current_actor() or "", detail=detail)
    elif update_fields is None or "state" in update_fields:
        kind = _KEY_STATE_KINDS.get(instance.state)
        if kind is not None:
            record(kind, actor=current_actor() or "", detail=detail)


def key_deleted(sender, instance, **kwargs) -> None:
    record(Kind.KEY_PRUNED, actor=current_actor() or "", detail={"kid": instance.kid, "algorithm": instance.algorithm})
