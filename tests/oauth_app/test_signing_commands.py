"""The signing-key ``manage.py`` commands, through ``call_command``: every action and every refusal."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from oauth_app.models import SigningKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def as_json(*args: str) -> list[dict]:
    return json.loads(run(*args, "--json"))


@pytest.fixture
def active():
    return SigningKey.objects.get(state=SigningKey.State.ACTIVE)


class TestCreate:
    def test_creates_a_next_key(self, active):
        [row] = as_json("createsigningkey")
        assert row["state"] == "next" and row["alg"] == "RS256"
        assert SigningKey.objects.get(state=SigningKey.State.ACTIVE).pk == active.pk

    @pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
    def test_algorithm(self, algorithm):
        assert as_json("createsigningkey", "--algorithm", algorithm)[0]["alg"] == algorithm

    def test_activate_switches_at_once(self, active):
        [row] = as_json("createsigningkey", "--activate")
        assert row["state"] == "active"
        assert SigningKey.objects.get(pk=active.pk).state == SigningKey.State.RETIRING

    def test_if_missing_does_nothing_when_a_key_is_active(self):
        assert "nothing to do" in run("createsigningkey", "--activate", "--if-missing")
        assert SigningKey.objects.count() == 1

    def test_if_missing_creates_the_first_key(self):
        SigningKey.objects.all().delete()
        run("createsigningkey", "--activate", "--if-missing")
        assert SigningKey.objects.filter(state=SigningKey.State.ACTIVE).count() == 1

    def test_refused_while_a_next_key_waits(self):
        run("createsigningkey")
        with pytest.raises(CommandError, match="already waiting"):
            run("createsigningkey")

    def test_bad_algorithm(self):
        with pytest.raises(CommandError):
            run("createsigningkey", "--algorithm", "HS256")


class TestRotate:
    def test_promotes_the_next_key(self, active):
        nxt = as_json("createsigningkey")[0]["kid"]
        rows = as_json("rotatesigningkey")
        assert {(r["kid"], r["state"]) for r in rows} == {(nxt, "active"), (active.kid, "retiring")}

    def test_creates_a_key_when_none_waits(self, active):
        output = run("rotatesigningkey", "--algorithm", "ES256")
        assert f"Key {active.kid} is retiring." in output
        assert SigningKey.objects.get(state=SigningKey.State.ACTIVE).algorithm == "ES256"


class TestList:
    def test_table_and_token_counts(self, active, token_pair):
        token_pair()
        output = run("listsigningkeys")
        header, row = output.splitlines()[:2]
        assert header.split() == ["KID", "ALG", "STATE", "CREATED", "ACTIVATED", "TOKENS"]
        assert row.split()[0] == active.kid and row.split()[-1] == "1"

    def test_json(self, active):
        [row] = as_json("listsigningkeys")
        assert row["kid"] == active.kid and row["tokens"] == 0 and row["activated"]

    def test_empty(self):
        SigningKey.objects.all().delete()
        assert "No signing keys." in run("listsigningkeys")


class TestRetire:
    def test_refuses_the_active_key(self, active):
        with pytest.raises(CommandError, match="active key"):
            run("retiresigningkey", f"--kid={active.kid}")

    def test_refuses_unknown_kid(self):
        with pytest.raises(CommandError, match="No signing key"):
            run("retiresigningkey", "--kid=nope")

    def test_refuses_while_tokens_depend_on_it(self, active, token_pair):
        token_pair()
        run("rotatesigningkey")
        with pytest.raises(CommandError, match="1 unexpired token"):
            run("retiresigningkey", f"--kid={active.kid}")
        assert SigningKey.objects.get(pk=active.pk).state == SigningKey.State.RETIRING

    def test_force_revokes_them(self, active, token_pair):
        from oauth2_provider.models import AccessToken

        token_pair()
        run("rotatesigningkey")
        output = run("retiresigningkey", f"--kid={active.kid}", "--force")
        assert "Revoked 1 token" in output
        assert SigningKey.objects.get(pk=active.pk).state == SigningKey.State.RETIRED
        assert not AccessToken.objects.exists()

    def test_retires_a_key_without_live_tokens(self, active):
        run("rotatesigningkey")
        [row] = as_json("retiresigningkey", f"--kid={active.kid}")
        assert row["state"] == "retired"

    def test_refuses_twice(self, active):
        run("rotatesigningkey")
        run("retiresigningkey", f"--kid={active.kid}")
        with pytest.raises(CommandError, match="already retired"):
            run("retiresigningkey", f"--kid={active.kid}")


    def test_a_kid_starting_with_a_dash(self, active):
        """Issue 8 §7: one thumbprint in 64 starts with '-'; --kid=KID still names it (deterministic: the kid is set)."""
        run("rotatesigningkey")
        dashed = "-3VNJ" + active.kid[5:]
        SigningKey.objects.filter(pk=active.pk).update(kid=dashed)
        [row] = as_json("retiresigningkey", f"--kid={dashed}")
        assert row == {**row, "kid": dashed, "state": "retired"}

    def test_the_positional_form_still_works_for_other_kids(self, active):
        run("rotatesigningkey")
        plain = "A3VNJ" + active.kid[5:]
        SigningKey.objects.filter(pk=active.pk).update(kid=plain)
        assert f"Key {plain} is retired." in run("retiresigningkey", plain)

    def test_needs_a_kid(self):
        with pytest.raises(CommandError, match="--kid=KID"):
            run("retiresigningkey")


class TestPrune:
    def test_drops_retiring_keys_without_live_tokens_and_retired_keys(self, active):
        run("rotatesigningkey")
        second = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
        run("rotatesigningkey")
        run("retiresigningkey", f"--kid={second.kid}")
        pruned = {row["kid"] for row in as_json("prunesigningkeys")}
        assert pruned == {active.kid, second.kid}
        assert list(SigningKey.objects.values_list("state", flat=True)) == ["active"]

    def test_keeps_retiring_keys_whose_tokens_are_live(self, active, token_pair):
        token_pair()
        run("rotatesigningkey")
        assert "Nothing to prune." in run("prunesigningkeys")
        assert SigningKey.objects.filter(pk=active.pk).exists()

    def test_drops_once_the_tokens_expired(self, active, token_pair):
        from datetime import timedelta

        from django.utils import timezone
        from oauth2_provider.models import AccessToken

        token_pair()
        run("rotatesigningkey")
        AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
        assert [row["kid"] for row in as_json("prunesigningkeys")] == [active.kid]
