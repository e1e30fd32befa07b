"""The sign-in page in front of ``/authorize`` (Django's ``LoginView``, answering 303)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    template_name = "oauth_app/login.html"
    redirect_authenticated_user = False

    def form_valid(self, form):
        response = super().form_valid(form)
        response.status_code = 303  # RFC 9700 §4.12: never 307 after a credential POST.
        return response
