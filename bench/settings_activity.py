"""Settings for ``bench/bench_activity.py``: ``bench.settings_bench`` with an ``echo`` that records activity.

``bench.settings_activity_plain`` is the same without recording; everything else is identical.
"""

from bench.settings_bench import *  # noqa: F401,F403
from bench.settings_bench import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "bench.benchapp"] + ["bench.activitybench", "bench.benchapp"]
BENCH_ACTIVITY_RECORD = True
