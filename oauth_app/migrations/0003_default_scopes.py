"""Data migration: the scopes every deployment starts with (admin, user, mcp)."""

from django.db import migrations

DEFAULT_SCOPES = [
    ("admin", "Administer this server: list clients and revoke their tokens.", "staff"),
    ("user", "Know who you are: your username and account details.", "everyone"),
    ("mcp", "Use the tools, resources and prompts this server offers.", "everyone"),
]


def create_scopes(apps, schema_editor):
    Scope = apps.get_model("oauth_app", "Scope")
    for name, description, grantable_by in DEFAULT_SCOPES:
        Scope.objects.get_or_create(name=name, defaults={"description": description, "grantable_by": grantable_by})


def remove_scopes(apps, schema_editor):
    apps.get_model("oauth_app", "Scope").objects.filter(name__in=[name for name, _, _ in DEFAULT_SCOPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("oauth_app", "0002_consumedcode")]

    operations = [migrations.RunPython(create_scopes, remove_scopes)]
