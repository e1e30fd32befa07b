"""Root URLconf: the OAuth endpoints at the root, the sign-in page, the account pages and the admin."""

from django.contrib import admin
from django.urls import include, path

from oauth_app.views import LoginView

urlpatterns = [
    path("", include("oauth_app.urls")),
    path("login", LoginView.as_view(), name="login"),
    path("account/", include("oauth_app.account_urls")),
    path("admin/", admin.site.urls),
]
