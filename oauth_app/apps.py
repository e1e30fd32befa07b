"""App configuration: registers the system checks and the revocation announcements."""

from django.apps import AppConfig


class OAuthAppConfig(AppConfig):
    name = "oauth_app"
    verbose_name = "OAuth authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from . import revocation_events  # noqa: F401  (connects its post_delete receiver)
