"""What a benchmark result was measured on: Python, platform, CPUs, SQLite and package versions."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata


def machine_info(packages: tuple[str, ...]) -> dict:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {dist: version(dist) for dist in packages},
    }
