"""App configuration: registers the system checks."""

from django.apps import AppConfig


class OAuthAppConfig(AppConfig):
    name = "oauth_app"
    verbose_name = "OAuth authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from . import revocation, scopes

        revocation._register_own_handlers()  # and its model signals, by importing it
        scopes.connect_signals()
