"""Races on the read-then-write paths of ``/token``: a refresh token or a code used twice at once.

oauthlib validates before DOT's save transaction starts, so the deterministic tests here put the
competing request exactly in that gap (through the validator's own hook, the ``validate_*``
method returning) and check that the transaction decides again. The same races on real daphne
with real threads are in ``tests/concurrency/``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from oauth_app import validators
from oauth_app.tokens import verify_access_token
from tests.conftest import LOOPBACK_CALLBACK, RESOURCE

pytestmark = pytest.mark.django_db


def refresh(http, client, refresh_token: str):
    return http.post("/token", {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                "client_id": client.client_id})


def exchange(http, client, code: str, verifier: str):
    return http.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK_CALLBACK,
                                "client_id": client.client_id, "code_verifier": verifier})


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def assert_works(http, client, tokens: dict) -> None:
    """The pair is alive: the access token verifies and the refresh token refreshes."""
    assert verify_access_token(tokens["access_token"], RESOURCE, ["mcp"]).client_id == client.client_id
    assert refresh(http, client, tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_rotated_refresh_token_inside_the_window_gets_invalid_grant_and_spares_the_winner(
        client, public_client, token_pair):
    """CLAUDE-16, DJ-05: the loser of a concurrent refresh gets invalid_grant; the winner's tokens survive."""
    first = token_pair()
    winner = refresh(client, public_client, first["refresh_token"])
    loser = refresh(client, public_client, first["refresh_token"])
    assert winner.status_code == HTTPStatus.OK
    assert loser.status_code == HTTPStatus.BAD_REQUEST
    assert loser.json()["error"] == "invalid_grant"
    assert "access_token" not in loser.json()
    assert_works(client, public_client, winner.json())


def test_rotated_refresh_token_after_the_window_revokes_the_family(client, public_client, token_pair):
    """DJ-05, RFC 9700 §4.14.2: past the race window a replay is reuse, and the family dies."""
    first = token_pair()
    winner = refresh(client, public_client, first["refresh_token"]).json()
    RefreshToken.objects.filter(token_checksum=checksum(first["refresh_token"])).update(
        revoked=timezone.now() - validators.ROTATION_RACE_WINDOW - timedelta(seconds=1))
    assert refresh(client, public_client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, public_client, winner["refresh_token"]).json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(token_checksum=checksum(winner["access_token"])).exists()


def test_replay_two_generations_back_inside_the_window_revokes_the_family(client, public_client, token_pair):
    """RFC 9700 §4.14.2: only the token rotated last is a race; an older one is reuse even seconds later."""
    first = token_pair()
    second = refresh(client, public_client, first["refresh_token"]).json()
    third = refresh(client, public_client, second["refresh_token"]).json()
    assert refresh(client, public_client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, public_client, third["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoked_refresh_token_is_never_a_race(client, public_client, token_pair):
    """RFC 7009 §2.1: a refresh token revoked at /revoke is refused at once, whatever the window."""
    tokens = token_pair()
    client.post("/revoke", {"token": tokens["refresh_token"], "token_type_hint": "refresh_token",
                            "client_id": public_client.client_id})
    response = refresh(client, public_client, tokens["refresh_token"])
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"


def test_refresh_that_loses_between_validation_and_save_stores_nothing(client, public_client, token_pair, monkeypatch):
    """CLAUDE-16: the rotation decided under the lock; the request validated before the winner committed loses."""
    first = token_pair()
    other = HttpClient()
    outcome = {}
    real = validators.OAuth2Validator.validate_refresh_token

    def validate_then_let_the_other_request_win(self, refresh_token, *args, **kwargs):
        valid = real(self, refresh_token, *args, **kwargs)
        if valid and not outcome:  # only the first request's validation, not the winner's own
            outcome["winner"] = "running"
            outcome["winner"] = refresh(other, public_client, refresh_token)
        return valid

    monkeypatch.setattr(validators.OAuth2Validator, "validate_refresh_token", validate_then_let_the_other_request_win)
    tokens_before = AccessToken.objects.count()
    loser = refresh(client, public_client, first["refresh_token"])
    monkeypatch.undo()
    winner = outcome["winner"]
    assert winner.status_code == HTTPStatus.OK
    assert loser.status_code == HTTPStatus.BAD_REQUEST
    assert loser.json()["error"] == "invalid_grant"
    # The winner replaced the first access token by its own; the loser stored nothing.
    assert AccessToken.objects.count() == tokens_before
    assert_works(client, public_client, winner.json())


def test_code_exchanged_twice_at_once_is_a_replay(client, public_client, code_for, monkeypatch):
    """AUTH-20, OAuth 2.1 §4.1.3: of two exchanges of one code, one gets tokens, the other invalid_grant,
    and (as for any replay) the tokens the code produced are revoked."""
    code, pkce = code_for(public_client)
    other = HttpClient()
    outcome = {}
    real = validators.OAuth2Validator.validate_code

    def validate_then_let_the_other_request_win(self, client_id, code, *args, **kwargs):
        valid = real(self, client_id, code, *args, **kwargs)
        if valid and not outcome:
            outcome["winner"] = "running"
            outcome["winner"] = exchange(other, public_client, code, pkce.verifier)
        return valid

    monkeypatch.setattr(validators.OAuth2Validator, "validate_code", validate_then_let_the_other_request_win)
    loser = exchange(client, public_client, code, pkce.verifier)
    monkeypatch.undo()
    winner = outcome["winner"]
    assert winner.status_code == HTTPStatus.OK
    assert loser.status_code == HTTPStatus.BAD_REQUEST
    assert loser.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 0
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


@override_settings(DEBUG=False)
def test_deploy_check_has_no_grace_period_error():
    """Issue 11 / DJ-05: hashed storage without DOT's grace period, so oauth2_provider.E001 is not raised."""
    from django.core.checks import run_checks

    assert "oauth2_provider.E001" not in {message.id for message in run_checks(include_deployment_checks=True)}
    call_command("check")  # and the ordinary checks pass
