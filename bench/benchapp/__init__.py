"""Benchmark-only Django app: registers the ``echo`` tool used by ``bench/bench_mcp.py``.

Installed only by ``bench.settings_bench``; never part of the product.
"""
