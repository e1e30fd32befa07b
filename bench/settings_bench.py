"""Settings for the benchmarks: the project's settings plus the benchmark-only app.

Used only by ``bench/`` (``DJANGO_SETTINGS_MODULE=bench.settings_bench``, repository root on
``PYTHONPATH``); it adds ``bench.benchapp``, which registers the ``echo`` and ``blob`` tools on
``/mcp``. Everything else is ``project.settings`` as is, except one thing while the product's SQLite
settings do not yet handle concurrent writers (the hardening issue): if ``DATABASES`` leaves SQLite
with its defaults (deferred transactions, rollback journal), the benchmark databases use immediate
transactions, WAL and a busy timeout, so concurrent ``/token`` writes wait for the lock instead of
failing with "database is locked". ``bench.settings_dot_peer`` inherits the same, so both servers
of a comparison run on identical database settings.
"""

from project.settings import *  # noqa: F401,F403
from project.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]

_default = DATABASES["default"]
if _default["ENGINE"] == "django.db.backends.sqlite3" and "transaction_mode" not in _default.get("OPTIONS", {}):
    _default.setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE", "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
