"""The admin site of this product: Django's ``AdminSite`` with a header and an index made for it.

The header and title come from ``RESOURCE_NAME``. The index groups the models by what an operator
does (clients, tokens, signing keys, activity, people) instead of by Django app, and leaves out
DOT models this server does not use (ID tokens: there is no OpenID Connect here).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

#: Index sections: (title, [(app_label, object_name), ...]) in display order.
SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Clients", [("oauth_app", "Client"), ("oauth_app", "Scope")]),
    ("Tokens", [("oauth2_provider", "AccessToken"), ("oauth2_provider", "RefreshToken"), ("oauth2_provider", "Grant")]),
    ("Signing keys", [("oauth_app", "SigningKey")]),
    ("Activity", [("activity", "Event")]),
    ("People", [("auth", "User"), ("auth", "Group")]),
]


class ConsoleSite(admin.AdminSite):
    index_title = "Operator's console"
    site_url = None  # there is no public site to "view": the product is its endpoints
    enable_nav_sidebar = False  # the lists need the full 1280 px

    @property
    def site_header(self) -> str:  # read live, so RESOURCE_NAME applies without a restart of tests
        return f"{settings.RESOURCE_NAME} · admin"

    @property
    def site_title(self) -> str:
        return settings.RESOURCE_NAME

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        models = {(app["app_label"], model["object_name"]): (app, model) for app in apps for model in app["models"]}
        grouped = []
        for title, members in SECTIONS:
            entries = [models.pop(member) for member in members if member in models]
            if entries:
                first_app = entries[0][0]
                grouped.append({**first_app, "name": title, "models": [model for _, model in entries],
                                "app_url": first_app["app_url"]})
        # Anything another app registers still shows, after the product's sections.
        leftovers: dict[str, dict] = {}
        for app, model in models.values():
            leftovers.setdefault(app["app_label"], {**app, "models": []})["models"].append(model)
        return grouped + list(leftovers.values())
