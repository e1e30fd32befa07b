"""Registers the conformance suite's fixture tools, resources and prompts when Django starts."""

from django.apps import AppConfig


class ConformanceAppConfig(AppConfig):
    default = True  # the app's config when installed by name (apps.py also holds StreamingDemoConfig)
    name = "tests.conformance_app"
    label = "conformance_app"
    verbose_name = "MCP conformance fixtures (tests only)"

    def ready(self) -> None:
        from . import fixtures  # noqa: F401  (registers through mcp_app.tools.registry)


class StreamingDemoConfig(AppConfig):
    """Only the demo streaming tool (``tests.settings_e2e``)."""

    name = "tests.conformance_app"
    label = "conformance_streaming_demo"
    verbose_name = "MCP streaming demo tool (tests only)"

    def ready(self) -> None:
        from . import streaming  # noqa: F401
