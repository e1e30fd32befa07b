"""The SQLite backend: Django's, with writers of one process queued in Python instead of polling SQLite.

SQLite has one write lock per database. Django's backend (with ``transaction_mode = IMMEDIATE``)
takes it at ``BEGIN``; a second writer then waits in SQLite's busy handler, which sleeps and
retries (1, 2, 5, 10, ... up to 100 ms between attempts) rather than waking when the lock is free.
Under a few concurrent ``/token`` requests most of the wall time went to those sleeps: the lock sat
free while waiters slept, and the 99th percentile passed a second (``bench/bench_tokens.py``).

Here the threads of one process take a process-wide lock per database file before ``BEGIN`` and
drop it when the transaction ends (commit, rollback or close), so writers of the same process hand
the database over at once, in turn. SQLite's busy timeout still arbitrates between processes
(``manage.py`` commands, several daphne processes on one file). Waiting for the Python lock is
bounded by the same ``timeout`` option; past it the transaction fails as SQLite's would
(``OperationalError: database is locked``), never hangs.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def writer_lock(name: str) -> threading.Lock:
    """The process-wide writer lock of the database file ``name``."""
    with _locks_guard:
        return _locks.setdefault(str(name), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer_lock = False

    def _writer_lock(self) -> threading.Lock:
        return writer_lock(self.settings_dict["NAME"])

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not self._writer_lock().acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_writer_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self) -> None:
        if self._holds_writer_lock:
            self._holds_writer_lock = False
            self._writer_lock().release()

    def _transaction_over(self) -> None:
        if self.connection is None or not self.connection.in_transaction:
            self._release_writer_lock()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._transaction_over()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._transaction_over()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()
