"""``/mcp``'s database threads: a bounded pool, so one slow query does not stall every client.

Channels' ``database_sync_to_async`` runs everything on asgiref's single, process-wide sync
thread: a slow tool query would queue every bearer check and session lookup of the process
behind it. ``/mcp``'s synchronous work (revocation lookups on a cache miss, session reads and
writes, synchronous tools) runs here instead, on ``MCP_APP["DATABASE_THREADS"]`` threads (from
``DATABASE_POOL_SIZE``, the size of the PostgreSQL connection pool each of them draws from).

SQLite allows one writer at a time, so there the pool has one thread, and its connection is kept
open across calls: with ``CONN_MAX_AGE = 0`` every call would otherwise connect again, register
Django's SQL functions and parse the schema on its first query, which cost more than the queries
(``bench/bench_mcp.py``). A connection is still closed when Django would close it for any other
reason (an error it did not survive, autocommit left changed).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import connections

from .conf import mcp_settings

T = TypeVar("T")


def close_old_connections() -> None:
    """Django's ``close_old_connections``, without the maximum age for SQLite connections."""
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "sqlite":
            conn.close_at = None
        conn.close_if_unusable_or_obsolete()


def _in_thread(function: Callable[..., T], args: tuple, kwargs: dict) -> T:
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


class DatabasePool:
    """A fixed number of threads for database work, created on first use."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def wanted_size() -> int:
        if connections["default"].vendor == "sqlite":
            return 1
        return max(1, int(mcp_settings.DATABASE_THREADS))

    def executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._size = self.wanted_size()
                    self._executor = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix="mcp-db")
                executor = self._executor
        return executor

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on a pool thread, with the caller's context variables."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, _in_thread, function, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor(), call)

    def shutdown(self) -> None:
        """Close every pool thread's connections and stop the threads (tests; the next call starts anew)."""
        with self._lock:
            executor, size, self._executor = self._executor, self._size, None
        if executor is None:
            return
        barrier = threading.Barrier(size)

        def close() -> None:
            from django.db.backends.base.base import BaseDatabaseWrapper

            for connection in connections.all(initialized_only=True):
                if connection.connection is not None:
                    BaseDatabaseWrapper.close(connection)  # also in-memory SQLite, which close() keeps open
            try:
                barrier.wait(timeout=5)  # one job per thread: each waits until all threads hold one
            except threading.BrokenBarrierError:
                pass

        for future in [executor.submit(close) for _ in range(size)]:
            future.result(timeout=10)
        executor.shutdown(wait=True)


pool = DatabasePool()


async def run_sync(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Await a synchronous (database) function on ``/mcp``'s pool."""
    return await pool.run(function, *args, **kwargs)


def database_sync_to_async(function: Callable[..., T]) -> Callable[..., Any]:
    """Decorator: the synchronous ``function`` becomes awaitable, running on :data:`pool`."""

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        return await pool.run(function, *args, **kwargs)

    return wrapper
