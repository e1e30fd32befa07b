"""The official MCP schemas the tests validate against are part of the checkout, and a missing one fails."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.support import mcp_wire, schema


@pytest.mark.parametrize("version", schema.VERSIONS)
def test_each_version_has_its_unmodified_official_schema(version):
    """Issue 8 §6: tests/schemas/<version>/schema.json is present and is the copy README.md names by hash."""
    readme = (schema.SCHEMA_DIR / "README.md").read_text()
    recorded = re.search(rf"^\| {version} \|[^|]*\| `([0-9a-f]{{64}})` \|$", readme, re.MULTILINE)
    assert recorded, f"tests/schemas/README.md does not record {version}"
    assert hashlib.sha256(schema.schema_path(version).read_bytes()).hexdigest() == recorded.group(1)
    assert schema.schema_path(version).resolve().is_relative_to(schema.SCHEMA_DIR.parents[1].resolve())


def test_a_missing_schema_fails_loudly(monkeypatch, tmp_path):
    """Issue 8 §6: without its schema file, validation raises instead of passing unchecked."""
    monkeypatch.setattr(schema, "SCHEMA_DIR", tmp_path)
    schema.document.cache_clear()
    schema.validator.cache_clear()
    try:
        with pytest.raises(schema.SchemaMissing, match="2025-11-25"):
            schema.validate({}, "InitializeResult", "2025-11-25")
        with pytest.raises(AssertionError, match="missing"):
            mcp_wire.assert_schema("2025-11-25", "InitializeResult", {})
    finally:
        schema.document.cache_clear()
        schema.validator.cache_clear()
