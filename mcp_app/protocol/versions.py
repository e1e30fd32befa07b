"""Protocol versions as an enumerated set, and the rules that differ between them (never compared as strings).

Two eras share the endpoint (TRANS-44): the legacy handshake era (``initialize`` and sessions)
and the modern stateless era (2026-07-28: ``server/discover``, per-request ``_meta``).
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class Era(Enum):
    LEGACY = "legacy"
    MODERN = "modern"


LEGACY_VERSIONS: Final[tuple[str, ...]] = ("2025-03-26", "2025-06-18", "2025-11-25")
"""Versions negotiated with ``initialize``, oldest first."""

MODERN_VERSIONS: Final[tuple[str, ...]] = ("2026-07-28",)
"""Stateless versions carried in every request's ``_meta``."""

LATEST_LEGACY: Final[str] = LEGACY_VERSIONS[-1]
LATEST_MODERN: Final[str] = MODERN_VERSIONS[-1]
DEFAULT_LEGACY: Final[str] = "2025-03-26"
"""Assumed when a legacy request carries no version at all (TRANS-22)."""

SUPPORTED_VERSIONS: Final[tuple[str, ...]] = (*reversed(MODERN_VERSIONS), *reversed(LEGACY_VERSIONS))
"""Every version we speak, newest first, as listed in ``server/discover`` and -32022 errors."""

BATCH_VERSIONS: Final[frozenset[str]] = frozenset({"2025-03-26"})
"""JSON-RPC batches exist only in 2025-03-26 (TRANS-11)."""


def era_of(version: str) -> Era | None:
    if version in MODERN_VERSIONS:
        return Era.MODERN
    if version in LEGACY_VERSIONS:
        return Era.LEGACY
    return None


def request_era(body_version: object, header_version: str | None, method: str | None) -> Era:
    """TRANS-44: which era a POST belongs to, decided per request.

    A body carrying ``_meta`` protocol version, a modern ``MCP-Protocol-Version`` header, or
    ``server/discover`` is the stateless era; everything else (``initialize``, session traffic)
    is the legacy era. An unsupported modern version is then refused by the modern path (-32022).
    """
    if body_version is not None or header_version in MODERN_VERSIONS or method == "server/discover":
        return Era.MODERN
    return Era.LEGACY


def negotiate(requested: object) -> str:
    """TRANS-23: echo a supported legacy version, otherwise answer with the latest legacy one."""
    return requested if isinstance(requested, str) and requested in LEGACY_VERSIONS else LATEST_LEGACY


def allows_batches(version: str) -> bool:
    return version in BATCH_VERSIONS
