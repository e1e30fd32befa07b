"""Test-only Django app: the fixtures the official MCP conformance suite calls (``tests/settings_conformance``)."""
