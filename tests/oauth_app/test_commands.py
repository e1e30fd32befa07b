"""``manage.py ensureadmin``: the admin account ``make run`` guarantees."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_creates_admin_with_password_from_environment(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "from-the-env-123")
    out = StringIO()
    call_command("ensureadmin", stdout=out)
    user = authenticate(username="admin", password="from-the-env-123")
    assert user is not None and user.is_superuser and user.is_staff
    assert "from-the-env-123" not in out.getvalue()


def test_generated_password_is_printed_once_and_works(monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensureadmin", username="boss", stdout=out)
    password = out.getvalue().split("password: ")[1].split()[0]
    assert authenticate(username="boss", password=password) is not None
    again = StringIO()
    call_command("ensureadmin", username="boss", stdout=again)
    assert "already exists" in again.getvalue()
    assert password not in again.getvalue()


def test_existing_account_is_left_alone(monkeypatch):
    get_user_model().objects.create_superuser("admin", password="original-pass-1")
    monkeypatch.setenv("ADMIN_PASSWORD", "something-else-2")
    call_command("ensureadmin", stdout=StringIO())
    assert authenticate(username="admin", password="original-pass-1") is not None


def test_empty_username_is_refused():
    with pytest.raises(CommandError, match="ADMIN_USERNAME"):
        call_command("ensureadmin", username="", stdout=StringIO())


def test_banner_shows_where_to_go_and_the_generated_password_once(monkeypatch, settings):
    """``make run`` ends with one block: admin URL, account, password when generated, MCP URL, discovery."""
    settings.ISSUER, settings.MCP_RESOURCE = "http://127.0.0.1:8000", "http://127.0.0.1:8000/mcp"
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    first = StringIO()
    call_command("ensureadmin", banner=True, stdout=first)
    text = first.getvalue()
    password = text.split("admin / ")[1].split()[0]
    assert authenticate(username="admin", password=password) is not None
    for line in ("Admin      http://127.0.0.1:8000/admin/", "MCP URL    http://127.0.0.1:8000/mcp",
                 "Discovery  http://127.0.0.1:8000/.well-known/oauth-authorization-server"):
        assert line in text
    again = StringIO()
    call_command("ensureadmin", banner=True, stdout=again)
    assert password not in again.getvalue()
    assert "Account    admin   (password: ADMIN_PASSWORD" in again.getvalue()
