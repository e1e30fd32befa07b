"""A real ``daphne project.asgi:application`` process for end-to-end tests.

The test binds and listens on a loopback socket itself and hands the descriptor to daphne
(``--fd``): the URL is usable the moment the process is spawned, because connections wait in
the listen backlog until daphne accepts them, so there is no readiness polling or sleeping.
Each server gets its own data folder (SQLite database, secret key) and environment; when the
suite runs on PostgreSQL, its own PostgreSQL database instead (:mod:`tests.support.postgres`).

A clean server log is part of every end-to-end test (issue 8 §5): :func:`pytest_runtest_call`,
installed by ``tests/conftest.py``, fails a test when a server
log gained a traceback or a 5xx answer while it ran, unless the test declares it with
``@pytest.mark.server_log_allows(r"regex", ...)`` (each problem is checked against the
patterns). Before reading the logs it makes one request to each server and waits for the
answer: daphne writes each access-log line on its event loop right after the response, so once
that answer is back every earlier request of the test is in the log (no sleeping, no polling).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import postgres
from tests.support.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

STARTED: list["DaphneServer"] = []
"""Every server this test process started, for the log check."""


@dataclass
class DaphneServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    sock: socket.socket | None = field(default=None, repr=False)
    own_database: str | None = None  # created for this server (tests/support/postgres.py), dropped by stop()

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run ``manage.py`` against this server's database and settings."""
        env = {**self.env, **(extra_env or {})}
        return subprocess.run(
            [sys.executable, str(REPO / "manage.py"), *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
        )

    def create_user(self, username: str, password: str, *, staff: bool = False) -> None:
        code = (
            "from django.contrib.auth import get_user_model;"
            f"get_user_model().objects.create_user({username!r}, password={password!r}, is_staff={staff!r})"
        )
        self.manage("shell", "-c", code)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path and self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def sync_log(self) -> None:
        """Return once every request answered so far is in the log (see the module docstring)."""
        if self.is_running():
            try:
                # With a Host the server accepts (behind a proxy ALLOWED_HOSTS may omit 127.0.0.1),
                # so that the marker request itself logs nothing but its access line.
                hosts = [h.strip() for h in self.env.get("ALLOWED_HOSTS", "").split(",") if h.strip() and h.strip() != "*"]
                headers = {"Host": hosts[0].lstrip(".")} if hosts and "127.0.0.1" not in hosts else {}
                httpx.get(f"{self.url}/.well-known/log-sync-{uuid.uuid4().hex}", headers=headers, timeout=10)
            except httpx.HTTPError:
                pass  # a server that cannot answer has nothing more to log about earlier requests

    def stop(self) -> None:
        stop_process(self.process)
        if self.sock is not None:
            self.sock.close()
        if self.own_database is not None:
            postgres.drop_database(self.own_database)
            self.own_database = None


def start_daphne(tmp: Path, extra_env: dict[str, str] | None = None,
                 application: str = "project.asgi:application", daphne_args: tuple[str, ...] = ()) -> DaphneServer:
    """Migrate a fresh database in ``tmp`` and start daphne (serving ``application``) on a free loopback port.

    ``daphne_args`` go on daphne's command line before the application (the benchmarks' ``-v 0``).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATA_DIR": str(data_dir),
        "PUBLIC_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    own_database = None
    if "DATABASE_URL" not in (extra_env or {}):
        suite_database = postgres.suite_database_url()  # make test-postgres: a fresh database of its own
        own_database = postgres.create_database(suite_database) if suite_database else None
        if own_database:
            env["DATABASE_URL"] = own_database
        else:
            env.pop("DATABASE_URL", None)
    server = DaphneServer(url=url, data_dir=data_dir, env=env, sock=sock, log_path=tmp / "daphne.log")
    STARTED.append(server)
    server.manage("migrate", "--noinput")
    server.manage("createsigningkey", "--activate", "--if-missing")
    server.own_database = own_database
    log = open(server.log_path, "w")
    server.process = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "--fd", str(sock.fileno()), *daphne_args, application],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),),
    )
    log.close()
    return server


# --- The clean-log check ------------------------------------------------------------------------

# daphne's access log: 127.0.0.1:40312 - - [03/Dec/2026:13:22:34] "POST /token" 500 145
_SERVER_ERROR_LINE = re.compile(r'"[A-Z]+ [^"]*" 5\d\d \d')
_TRACEBACK = "Traceback (most recent call last):"
# Where a new log record starts: the project's and daphne's formats begin with the time, access lines with the peer.
_RECORD_START = re.compile(r"\d{4}-\d\d-\d\d[ T]\d|\S+:\d+ - - \[")


def log_problems(text: str) -> list[str]:
    """Each 5xx access line, and each traceback with the log record it belongs to (up to the next record)."""
    lines = text.splitlines()
    problems: list[str] = []
    i = 0
    while i < len(lines):
        if _SERVER_ERROR_LINE.search(lines[i]):
            problems.append(lines[i])
        elif lines[i].startswith(_TRACEBACK):
            start = i - 1 if i > 0 and _RECORD_START.match(lines[i - 1]) else i
            end = i + 1
            while end < len(lines) and not _RECORD_START.match(lines[end]):
                end += 1  # frames, the exception, chained exceptions: everything up to the next record
            problems.append("\n".join(lines[start:end]))
            i = end
            continue
        i += 1
    return problems


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "server_log_allows(*patterns): tracebacks or 5xx lines (regexes) this test "
                                       "expects in a daphne server log")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item) -> Iterator[None]:
    """Fail the test if a daphne log gained a traceback or a 5xx it did not declare (module docstring)."""
    offsets = {id(server): server.log_size() for server in STARTED}
    result = yield
    allowed = [re.compile(p) for mark in item.iter_markers("server_log_allows") for p in mark.args]
    found = []
    for server in STARTED:
        server.sync_log()
        for problem in log_problems(server.log_since(offsets.get(id(server), 0))):
            if not any(pattern.search(problem) for pattern in allowed):
                found.append(f"{server.url}:\n{problem}")
    if found:
        pytest.fail("The server log shows what the test did not ask for:\n\n" + "\n\n".join(found[:10]), pytrace=False)
    return result
