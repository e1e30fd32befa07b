"""Settings for ``bench/bench_mcp.py``: the project's settings plus the benchmark-only app.

Used only by the benchmark (``DJANGO_SETTINGS_MODULE=bench.settings_bench``, repository root on
``PYTHONPATH``); it adds ``bench.benchapp``, which registers a trivial ``echo`` tool on ``/mcp``.
Everything else (database, channel layer, middleware, ``MCP_APP``) is ``project.settings`` as is.
"""

from project.settings import *  # noqa: F401,F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
