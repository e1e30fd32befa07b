from django.apps import AppConfig


class BenchAppConfig(AppConfig):
    name = "bench.benchapp"
    label = "mcp_bench"
    verbose_name = "MCP benchmark tools"

    def ready(self) -> None:
        from . import tools  # noqa: F401  (registers the echo tool)
