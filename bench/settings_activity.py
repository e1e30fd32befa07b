"""Settings for ``bench/bench_activity.py``: ``bench.settings_bench`` with an ``echo`` that records activity."""

from bench.settings_bench import *  # noqa: F401,F403
from bench.settings_bench import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "bench.benchapp"] + ["bench.activitybench", "bench.benchapp"]
