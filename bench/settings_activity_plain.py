"""Settings for ``bench/bench_activity.py``'s plain server: the same ``echo`` tool, not recording."""

from bench.settings_activity import *  # noqa: F401,F403

BENCH_ACTIVITY_RECORD = False
