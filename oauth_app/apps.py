"""App configuration: registers the system checks and the caches' invalidation (which also ends
revoked tokens' open streams, see :mod:`oauth_app.revocation`); the admin app config with this product's site."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OAuthAppConfig(AppConfig):
    name = "oauth_app"
    verbose_name = "OAuth authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from . import client_cache, revocation, scopes  # noqa: F401  (client_cache: its signals)

        revocation._register_own_handlers()  # and its model signals, by importing it
        scopes.connect_signals()


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with :class:`oauth_app.admin_site.ConsoleSite` as the default site."""

    default = False  # named explicitly in INSTALLED_APPS; OAuthAppConfig stays this module's default
    default_site = "oauth_app.admin_site.ConsoleSite"
