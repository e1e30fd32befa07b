"""Configuration from the environment: bad values fail ``manage.py check`` with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATA_DIR": str(tmp_path), **env}
    return subprocess.run([sys.executable, "manage.py", "check", "--fail-level", "ERROR"], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, message", [
    ({"PUBLIC_URL": "auth.example.com"}, "PUBLIC_URL"),
    ({"PUBLIC_URL": "https://auth.example.com/base"}, "without a path"),
    ({"ACCESS_TOKEN_TTL": "an hour"}, "ACCESS_TOKEN_TTL"),
    ({"REFRESH_TOKEN_TTL": "-5"}, "REFRESH_TOKEN_TTL"),
    ({"DEBUG": "maybe"}, "DEBUG"),
    ({"PORT": "http"}, "PORT"),
    ({"REGISTER_RATE_LIMIT": "lots"}, "REGISTER_RATE_LIMIT"),
    ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
    ({"DATABASE_URL": "nonsense://"}, "DATABASE_URL"),
    ({"CORS_ALLOWED_ORIGINS": "example.com"}, "CORS_ALLOWED_ORIGINS"),
])
def test_bad_environment_fails_check(tmp_path, env, message):
    """A wrong value fails at start-up (system check oauth_app.E001/E002) with the variable's name."""
    result = check(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_good_environment_passes_check(tmp_path):
    result = check(tmp_path, PUBLIC_URL="https://auth.example.com", ACCESS_TOKEN_TTL="7200", REGISTER_RATE_LIMIT="10/h",
                   SECRET_KEY="x" * 50, SIGNING_KEY_ENCRYPTION_KEY="3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                   CORS_ALLOWED_ORIGINS="https://inspector.example.com,http://localhost:6274")
    assert result.returncode == 0, result.stderr


def test_secret_key_is_generated_once_and_kept(tmp_path):
    """SECRET_KEY: a generated development key persists in the data folder across restarts."""
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    run = lambda: subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, capture_output=True,  # noqa: E731
                                 text=True, env={**os.environ, "DATA_DIR": str(tmp_path)}, timeout=60).stdout.strip()
    first, second = run(), run()
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_allowed_hosts_derive_from_public_url(tmp_path):
    code = "from django.conf import settings; print(sorted(settings.ALLOWED_HOSTS))"
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "DATA_DIR": str(tmp_path), "PUBLIC_URL": "https://auth.example.com"},
                         timeout=60).stdout
    assert "auth.example.com" in out


@pytest.mark.parametrize("missing, code", [("SIGNING_KEY_ENCRYPTION_KEY", "oauth_app.E003"), ("SECRET_KEY", "oauth_app.E004")])
def test_production_fails_closed_without_secrets(tmp_path, missing, code):
    """In production (https, no DEBUG) the secrets must come from the environment; no generated fallback."""
    env = {"PUBLIC_URL": "https://auth.example.com", "SECRET_KEY": "x" * 50,
           "SIGNING_KEY_ENCRYPTION_KEY": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
    del env[missing]
    result = check(tmp_path, **env)
    assert result.returncode != 0
    assert code in result.stderr and missing in result.stderr
    assert not (tmp_path / "signing_key_encryption_key").exists()


def test_bad_encryption_key_is_reported(tmp_path):
    result = check(tmp_path, SIGNING_KEY_ENCRYPTION_KEY="not-a-fernet-key")
    assert result.returncode != 0
    assert "SIGNING_KEY_ENCRYPTION_KEY" in result.stderr
