"""``database_sync_to_async`` for ``/mcp``: channels' helper, except that it keeps an SQLite connection open.

channels' helper runs ``close_old_connections()`` before and after every call. With SQLite the
project sets ``CONN_MAX_AGE = 0`` (as Django advises under ASGI, where each Django view runs in a
thread of its own), so every call opened a new connection: connect, register Django's SQL
functions, parse the schema again on the first query. Per ``/mcp`` request that cost more than the
queries themselves (``bench/bench_mcp.py``).

Consumers do not run inside a ``ThreadSensitiveContext``, so these calls all run in asgiref's
single, process-wide sync thread: the connection kept there is reused by every request and there
is only ever one of it (a pool of one). It is still closed when Django would close it for any other
reason (an error it did not survive, autocommit left changed). Other backends keep their
``CONN_MAX_AGE``.
"""

from __future__ import annotations

from asgiref.sync import SyncToAsync
from django.db import connections


def close_old_connections() -> None:
    """Django's ``close_old_connections``, without the maximum age for SQLite connections."""
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "sqlite":
            conn.close_at = None
        conn.close_if_unusable_or_obsolete()


class DatabaseSyncToAsync(SyncToAsync):
    def thread_handler(self, loop, *args, **kwargs):
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


database_sync_to_async = DatabaseSyncToAsync
