"""A real ``daphne project.asgi:application`` process for end-to-end tests.

The test binds and listens on a loopback socket itself and hands the descriptor to daphne
(``--fd``): the URL is usable the moment the process is spawned, because connections wait in
the listen backlog until daphne accepts them, so there is no readiness polling or sleeping.
Each server gets its own data folder (SQLite database, secret key) and environment; when the
suite runs on PostgreSQL, its own PostgreSQL database instead (:mod:`tests.support.postgres`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import postgres

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


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

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.sock is not None:
            self.sock.close()
        if self.own_database is not None:
            postgres.drop_database(self.own_database)
            self.own_database = None


def start_daphne(tmp: Path, extra_env: dict[str, str] | None = None) -> DaphneServer:
    """Migrate a fresh database in ``tmp`` and start daphne on a free loopback port."""
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
    server.manage("migrate", "--noinput")
    server.manage("createsigningkey", "--activate", "--if-missing")
    server.own_database = own_database
    log = open(server.log_path, "w")
    server.process = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "--fd", str(sock.fileno()), "project.asgi:application"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),),
    )
    log.close()
    return server
