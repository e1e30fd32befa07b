"""Settings for the ``/token`` peer of ``bench/bench_tokens.py``: django-oauth-toolkit 3.4.1 as it comes.

The project's settings with every ``/token`` customisation undone: DOT's own validator, oauthlib
server, opaque random access tokens, settings-based scopes, DOT's ``TokenView``, and DOT's default
client-secret hashing (Django's first password hasher: PBKDF2-SHA256). Same database and its
settings (``bench.settings_bench``), same daphne, same models (the swappable client model is ours; DOT's models are DOT's).
"""

from bench.settings_bench import *  # noqa: F401,F403  (the same database settings as ours)
from bench.settings_bench import DATABASES, OAUTH2_PROVIDER as _PROJECT_OAUTH2_PROVIDER

OAUTH2_PROVIDER = {key: value for key, value in _PROJECT_OAUTH2_PROVIDER.items() if key not in {
    "CLIENT_SECRET_HASHER", "ACCESS_TOKEN_GENERATOR", "REFRESH_TOKEN_GENERATOR", "OAUTH2_VALIDATOR_CLASS",
    "OAUTH2_SERVER_CLASS", "SCOPES_BACKEND_CLASS", "CLIENT_ID_GENERATOR_CLASS"}}
ROOT_URLCONF = "bench.dot_peer_urls"

# Served by Django's stock ASGI handler (bench/dot_peer_asgi.py), with Django's default connection
# lifetime (a connection per request, as a thread per request requires) and Django's own SQLite
# backend (the product's project.sqlite queues a process's writers in Python); the SQLite options
# (WAL, IMMEDIATE, busy timeout) stay the product's.
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "project.sqlite":
    DATABASES["default"]["ENGINE"] = "django.db.backends.sqlite3"
