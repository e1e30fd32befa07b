"""Scale-out tests start real daphne processes: their logs must stay clean (tests.support.daphne)."""

from __future__ import annotations

from tests.support.daphne import pytest_configure, pytest_runtest_call  # noqa: F401
