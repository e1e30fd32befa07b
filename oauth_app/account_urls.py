"""The signed-in person's own pages, under ``/account/``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "account"

urlpatterns = [
    path("apps", views.ConnectedAppsView.as_view(), name="apps"),
    path("apps/<int:pk>/revoke", views.RevokeAppView.as_view(), name="revoke-app"),
]
