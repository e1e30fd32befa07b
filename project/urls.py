"""Root URLconf: the OAuth endpoints at the root, the sign-in page, the account pages, the admin and the
doctor's SSE probe."""

from django.contrib import admin
from django.urls import include, path

from oauth_app.views import LoginView
from oauth_app.views.probe import sse_probe

urlpatterns = [
    path("", include("oauth_app.urls")),
    path("login", LoginView.as_view(), name="login"),
    path("account/", include("oauth_app.account_urls")),
    path("admin/", admin.site.urls),
    # Beside /mcp (which Channels serves), so that it goes through the proxy's /mcp location.
    path("mcp/sse-probe", sse_probe, name="sse-probe"),
]
