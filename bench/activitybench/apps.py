"""Benchmark-only app for ``bench/bench_activity.py``: an ``echo`` tool that (optionally) records each call.

It registers ``echo`` before ``bench.benchapp`` does (it comes first in INSTALLED_APPS), so the
same tool name, schema and client requests measure the activity log's cost and nothing else.
"""

from django.apps import AppConfig


class ActivityBenchConfig(AppConfig):
    name = "bench.activitybench"
    label = "activity_bench"

    def ready(self) -> None:
        from . import tools  # noqa: F401
