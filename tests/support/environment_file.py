"""``deploy/mcp.env``, the documented production environment, read the way systemd reads it.

``EnvironmentFile=`` semantics for the subset the file uses: ``KEY=value`` lines, ``#``
comments, blank lines, and double quotes around a value with spaces. The secrets the file
leaves empty (for the operator to generate) are filled with fresh ones.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT_FILE = REPO / "deploy" / "mcp.env"
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
_COMMENTED = re.compile(r"^#\s*([A-Z][A-Z0-9_]*)=")


def read_environment_file(path: Path = ENVIRONMENT_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            key, value = match.groups()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values[key] = value
    return values


def listed_variables(path: Path = ENVIRONMENT_FILE) -> set[str]:
    """Every variable the file names, set or shown commented out with its default."""
    names = set(read_environment_file(path))
    for line in path.read_text().splitlines():
        match = _COMMENTED.match(line.strip())
        if match:
            names.add(match.group(1))
    return names


def production_environment(**overrides: str) -> dict[str, str]:
    """The documented environment with generated secrets, then ``overrides``."""
    values = read_environment_file()
    assert values.get("SECRET_KEY") == "" and values.get("SIGNING_KEY_ENCRYPTION_KEY") == "", (
        "deploy/mcp.env must leave the secrets for the operator to generate")
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    values["SIGNING_KEY_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    values.update(overrides)
    return values
