"""The housekeeping commands docs/deploy.md schedules, and the key-encryption-key rotation command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from oauth2_provider.models import AccessToken

from mcp_app.models import Event, Session
from oauth_app import keys
from oauth_app.models import ConsumedCode, SigningKey, TokenKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_reencrypt_moves_every_key_to_the_first_key_encryption_key(settings):
    """docs/deploy.md rotation: NEW,OLD → reencryptsigningkeys → NEW alone still signs; OLD alone no longer can."""
    old = settings.SIGNING_KEY_ENCRYPTION_KEYS[0]
    keys.create_key("ES256")  # a 'next' key as well as the active one
    new = Fernet.generate_key().decode()
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [new, old]
    assert run("reencryptsigningkeys").strip() == "Re-encrypted 2 signing key(s) under the first SIGNING_KEY_ENCRYPTION_KEY."
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [new]
    for key in SigningKey.objects.all():
        assert Fernet(new).decrypt(bytes(key.private_key))
    key, private = keys.get_signing_key()
    assert private is not None
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [old]
    keys._load_private_key.cache_clear()
    keys.clear_cache()  # the active key is kept decrypted per rotation: forget it, as a restart would
    with pytest.raises(ImproperlyConfigured):
        keys.get_signing_key()


def test_reencrypt_changes_nothing_when_a_key_cannot_be_decrypted(settings):
    """Without the key a signing key was encrypted with, the command refuses and leaves every row as it was."""
    before = {k.kid: bytes(k.private_key) for k in SigningKey.objects.all()}
    settings.SIGNING_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted with any SIGNING_KEY_ENCRYPTION_KEY"):
        run("reencryptsigningkeys")
    assert {k.kid: bytes(k.private_key) for k in SigningKey.objects.all()} == before


def test_clearconsumedcodes_keeps_a_day(make_client):
    client, _ = make_client()
    old = ConsumedCode.objects.create(code_checksum="a" * 64, application=client)
    recent = ConsumedCode.objects.create(code_checksum="b" * 64, application=client)
    ConsumedCode.objects.filter(pk=old.pk).update(consumed_at=timezone.now() - timedelta(days=1, minutes=1))
    assert run("clearconsumedcodes").strip() == "Deleted 1 consumed-code record(s)."
    assert list(ConsumedCode.objects.values_list("pk", flat=True)) == [recent.pk]


def test_clearmcpsessions_removes_idle_sessions_and_old_events():
    idle = Session.objects.create(id_hash="1" * 64, issuer="i", client_id="c", subject="s", protocol_version="2025-11-25")
    live = Session.objects.create(id_hash="2" * 64, issuer="i", client_id="c", subject="s", protocol_version="2025-11-25")
    Session.objects.filter(pk=idle.pk).update(last_seen=timezone.now() - timedelta(days=8))
    old_event = Event.objects.create(session=live, stream="g", payload={})
    new_event = Event.objects.create(session=live, stream="g", payload={})
    Event.objects.filter(pk=old_event.pk).update(created=timezone.now() - timedelta(hours=2))
    assert run("clearmcpsessions").strip() == "Deleted 1 idle session row(s) and 1 expired event row(s)."
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk]
    assert list(Event.objects.values_list("pk", flat=True)) == [new_event.pk]


def test_cleartokens_then_prunesigningkeys_remove_expired_tokens_and_their_key_links(alice, make_client):
    """DOT's cleartokens and prunesigningkeys, as the timers run them, on this schema: an expired access
    token goes; the row linking it to its signing key (no constraint: see TokenKey) is never counted
    for its key and is removed by prunesigningkeys; an unexpired token and its link stay."""
    client, _ = make_client()
    kid = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
    expired = AccessToken.objects.create(user=alice, application=client, token="expired", scope="mcp",
                                         expires=timezone.now() - timedelta(minutes=1))
    live = AccessToken.objects.create(user=alice, application=client, token="live", scope="mcp",
                                      expires=timezone.now() + timedelta(hours=1))
    TokenKey.objects.create(access_token=expired, kid=kid)
    TokenKey.objects.create(access_token=live, kid=kid)
    call_command("cleartokens", stdout=StringIO(), stderr=StringIO())
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert keys.unexpired_token_count(kid) == 1
    out = StringIO()
    call_command("prunesigningkeys", stdout=out)
    assert "Forgot 1 key link(s) of deleted tokens." in out.getvalue()
    assert list(TokenKey.objects.values_list("pk", flat=True)) == [live.pk]
