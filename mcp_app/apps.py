"""App configuration: loads the built-in tools into the registry."""

from django.apps import AppConfig


class MCPAppConfig(AppConfig):
    name = "mcp_app"
    verbose_name = "MCP endpoint"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .subscriptions import announce_list_changed
        from .tools import builtin  # noqa: F401  (registers the built-in tools, resources and prompts)
        from .tools.registry import registry

        registry.on_list_changed(announce_list_changed)
