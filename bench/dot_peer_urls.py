"""URLs of the ``/token`` peer (``bench/settings_dot_peer.py``): DOT's ``TokenView`` at ``/token``, nothing else."""

from django.urls import path
from oauth2_provider import views as dot_views

urlpatterns = [path("token", dot_views.TokenView.as_view(), name="token")]
