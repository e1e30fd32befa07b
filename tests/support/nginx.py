"""Debian's nginx as a test subprocess, running the committed server block rendered for loopback.

:func:`render_site` takes ``deploy/nginx/mcp.conf`` and replaces only what cannot be the same
on a test machine: the host name, the listen addresses, the certificate paths and the upstream
servers. Every replacement must match, so a change to the committed file that the rendering
no longer understands fails loudly instead of testing something else.

:func:`start_nginx` runs ``nginx -g 'daemon off;'``-style in the foreground with its own
prefix, pid, log and temp paths under the test's folder (no system service, no root paths).
The listening sockets are bound by the test and handed to nginx through its ``NGINX``
inherited-sockets variable (the mechanism of its binary upgrade), so, as with
:mod:`tests.support.daphne`, the URL accepts connections the moment the process is spawned.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "deploy" / "nginx" / "mcp.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COMMITTED_UPSTREAMS = "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n"


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/mcp.conf no longer contains {old!r}: update tests/support/nginx.py"
    return text.replace(old, new)


def render_site(*, tls_port: int, http_port: int, upstreams: list[str], cert: Path, key: Path, webroot: Path,
                site: str | None = None) -> str:
    """The committed server block for ``localhost``, on loopback ports, in front of ``upstreams`` (host:port)."""
    text = site if site is not None else SITE.read_text()
    text = _replace(text, "server_name mcp.example.com;", "server_name localhost;")
    text = _replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;")
    text = _replace(text, "    listen [::]:443 ssl http2;\n", "")
    text = _replace(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace(text, "    listen [::]:80;\n", "")
    text = _replace(text, "/etc/letsencrypt/live/mcp.example.com/fullchain.pem", str(cert))
    text = _replace(text, "/etc/letsencrypt/live/mcp.example.com/privkey.pem", str(key))
    text = _replace(text, "root /var/www/letsencrypt;", f"root {webroot};")
    return _replace(text, COMMITTED_UPSTREAMS, "".join(f"    server {u};\n" for u in upstreams))


@dataclass
class NginxServer:
    directory: Path
    process: subprocess.Popen
    sockets: list[socket.socket] = field(default_factory=list, repr=False)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> str:
        path = self.directory / "access.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        for sock in self.sockets:
            sock.close()


def start_nginx(directory: Path, site: str, sockets: list[socket.socket]) -> NginxServer:
    """Run nginx in the foreground with ``site`` as its only server configuration.

    The main configuration mirrors Debian's ``/etc/nginx/nginx.conf`` where it matters here
    (``gzip on`` at http level, which the ``/mcp`` location must switch off).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / temp).mkdir(exist_ok=True)
    (directory / "site.conf").write_text(site)
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must reach the test's folders
    (directory / "nginx.conf").write_text(
        f"daemon off;\nmaster_process on;\nworker_processes 1;\n{user}"
        f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        "    sendfile on;\n    tcp_nopush on;\n    types_hash_max_size 2048;\n"
        "    default_type application/octet-stream;\n    gzip on;\n"
        f"    access_log {directory}/access.log;\n"
        f"    client_body_temp_path {directory}/client_body;\n    proxy_temp_path {directory}/proxy;\n"
        f"    fastcgi_temp_path {directory}/fastcgi;\n    uwsgi_temp_path {directory}/uwsgi;\n"
        f"    scgi_temp_path {directory}/scgi;\n"
        f"    include {directory}/site.conf;\n"
        "}\n"
    )
    command = [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx -t refused the rendered configuration:\n{check.stderr}"
    fds = [sock.fileno() for sock in sockets]
    process = subprocess.Popen(command, env={**os.environ, "NGINX": "".join(f"{fd};" for fd in fds)},
                               pass_fds=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return NginxServer(directory, process, sockets)
