"""Registers the conformance suite's fixture tools, resources and prompts when Django starts."""

from django.apps import AppConfig


class ConformanceAppConfig(AppConfig):
    name = "tests.conformance_app"
    label = "conformance_app"
    verbose_name = "MCP conformance fixtures (tests only)"

    def ready(self) -> None:
        from . import fixtures  # noqa: F401  (registers through mcp_app.tools.registry)
