"""A PostgreSQL database of its own for every end-to-end server, when the suite runs on PostgreSQL.

``make test-postgres`` sets ``DATABASE_URL`` for the test process (pytest-django creates and drops
``test_<name>`` from it). A daphne process started by :func:`tests.support.daphne.start_daphne`
without a ``DATABASE_URL`` of its own then gets a fresh database on the same server,
``<name>_<random>``, created here and dropped when it stops: end-to-end tests run on PostgreSQL
too, without sharing rows with the test process or with each other. On SQLite (no
``DATABASE_URL``, or a ``sqlite:`` one) this does nothing and each server keeps its own file.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg

SCHEMES = {"postgres", "postgresql", "pgsql"}


def suite_database_url() -> str | None:
    """The PostgreSQL URL the suite runs on, or None when it runs on SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if urlsplit(url).scheme in SCHEMES else None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, "/" + name, parts.query, ""))


def create_database(url: str) -> str:
    """Create ``<name of url>_<random>`` on url's server; returns its URL."""
    name = f"{urlsplit(url).path.lstrip('/') or 'mcp'}_{uuid.uuid4().hex[:8]}"[:63]
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return _with_database(url, name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
