"""App configuration: connects the receivers that record OAuth activity."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save, pre_delete


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Activity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauth2_provider.models import AccessToken

        from oauth_app.models import Client, SigningKey

        from . import receivers

        post_save.connect(receivers.client_saved, sender=Client, dispatch_uid="activity.client_saved")
        pre_delete.connect(receivers.token_deleted, sender=AccessToken, dispatch_uid="activity.token_deleted")
        post_save.connect(receivers.key_saved, sender=SigningKey, dispatch_uid="activity.key_saved")
        post_delete.connect(receivers.key_deleted, sender=SigningKey, dispatch_uid="activity.key_deleted")
