"""Fixtures for end-to-end tests against a real daphne process."""

from __future__ import annotations

import pytest

from tests.support.daphne import DaphneServer, start_daphne


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory) -> DaphneServer:
    """One daphne process for the session (with the demo streaming tool), with a person ``alice`` / ``wonderland-42``."""
    server = start_daphne(tmp_path_factory.mktemp("daphne"), {"DJANGO_SETTINGS_MODULE": "tests.settings_e2e"})
    server.create_user("alice", "wonderland-42")
    server.create_user("root", "staff-password-42", staff=True)
    yield server
    server.stop()

