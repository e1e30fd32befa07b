#!/usr/bin/env python
"""MCP benchmark: ``tools/call`` throughput and latency of ``/mcp`` (one daphne process) against the official SDK.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_mcp.py                      # 10 s per case, about 1 minute in all
    .venv/bin/python bench/bench_mcp.py --seconds 5 --whoami
    make bench                                               # runs every benchmark script

It starts, on loopback sockets it binds itself:

* **ours**: ``daphne project.asgi:application``, one process (``tests/support/daphne.py``), with
  ``DJANGO_SETTINGS_MODULE=bench.settings_bench`` (the project's settings plus ``bench.benchapp``,
  which registers a trivial async ``echo(text: str) -> str`` tool) on a throw-away SQLite database
  in a temporary folder; a confidential client is created and a real JWT is obtained from ``/token``
  (client_credentials, scope ``mcp``);
* **sdk**: ``bench/sdk_echo_server.py``, the ``mcp`` SDK's ``MCPServer`` with the same ``echo``
  tool, Streamable HTTP under uvicorn, one process, stateful, JSON responses, **no authentication**;
* **raw** (baseline, skip with ``--no-baseline``): a bare ASGI app under uvicorn that answers
  every POST with the JSON-RPC result of an echo (no MCP): the most this load generator gets out of
  one uvicorn process here;
* with ``--ours-uvicorn``, also ours (same application, database and token) under uvicorn.

Each case drives one server with ``--concurrency`` (64) workers, each with its own
``httpx.AsyncClient`` (one keep-alive connection), for ``--warmup`` seconds (discarded), then
``--seconds`` seconds (or ``--max-requests``) measured. Legacy era (2025-11-25): every worker first
does ``initialize`` + ``notifications/initialized`` (its own session, untimed), then posts
``tools/call`` with ``Mcp-Session-Id``. Modern era (2026-07-28): stateless posts with
``params._meta`` and the ``Mcp-Method`` / ``Mcp-Name`` headers. A request counts as an error when the
answer is not HTTP 200, is a JSON-RPC error, has ``isError`` or does not echo the text; errors are
counted apart and are not in the latency percentiles.

The load generator is this process and the machine may have few CPUs: it competes with the server
for them. The table therefore also shows the CPU time each server process used per request, read
from ``/proc`` (the fairest number when the generator is the one saturating). The table and the
ratios ours / SDK per era are printed; the results go to ``bench/results/mcp-<UTC timestamp>.json``.
``--profile`` additionally samples the servers with py-spy (``pip install py-spy`` into the venv;
not a requirement) and prints where their time goes.
"""

from __future__ import annotations


import argparse
import asyncio
import collections
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from machine import machine_info as shared_machine_info  # bench/ is sys.path[0] when run as a script

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import httpx  # noqa: E402

from tests.support.daphne import DaphneServer, start_daphne  # noqa: E402

RESULTS_DIR = BASE_DIR / "bench" / "results"
SDK_SERVER = BASE_DIR / "bench" / "sdk_echo_server.py"
LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN_VERSION, "io.modelcontextprotocol/clientCapabilities": {}}
CLIENT_SECRET = "bench-mcp-secret-" + "x" * 40
# Settings a developer's shell may hold that must not reach the throw-away server.
SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY", "SECRET_KEY",
                "ACCESS_TOKEN_TTL", "MCP_MAX_BODY_BYTES", "MCP_ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY",
                "CORS_ALLOWED_ORIGINS", "SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXIES")
NOTES = [
    "ours verifies the bearer JWT on every request (pyjwt + one SQLite query in a worker thread); "
    "the SDK server runs without authentication",
    "legacy era: ours also resolves the session in SQLite on every request; the SDK keeps sessions in memory",
    "the load generator (this process) shares the machine's CPUs with the server under test",
]

WHOAMI_NOTE = ("whoami (built-in): with a client_credentials token the subject is the client, so it reads no user, "
               "but it still hops to the database thread once more, and has an output schema")


@dataclass(frozen=True)
class Case:
    id: str
    server: str  # "ours", "sdk" or "raw"
    era: str  # "legacy" or "modern"
    tool: str


CASES = {c.id: c for c in [
    Case("raw", "raw", "modern", "-"),
    Case("ours-legacy", "ours", "legacy", "echo"),
    Case("sdk-legacy", "sdk", "legacy", "echo"),
    Case("ours-modern", "ours", "modern", "echo"),
    Case("sdk-modern", "sdk", "modern", "echo"),
    Case("ours-legacy-whoami", "ours", "legacy", "whoami"),
    Case("ours-modern-whoami", "ours", "modern", "whoami"),
    Case("ours-uvicorn-legacy", "ours-uvicorn", "legacy", "echo"),
    Case("ours-uvicorn-modern", "ours-uvicorn", "modern", "echo"),
]}
SERVER_LABELS = {"ours": "ours (daphne)", "sdk": "SDK (uvicorn)", "raw": "raw ASGI (uvicorn)",
                 "ours-uvicorn": "ours (uvicorn)"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per case (default: 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed load before each case, seconds (default: 1)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent workers = connections (default: 64)")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="hard cap on measured requests per case (default: 200000)")
    parser.add_argument("--cases", default=None,
                        help=f"comma-separated subset of: {', '.join(CASES)} "
                             "(default: the echo cases and the raw baseline)")
    parser.add_argument("--whoami", action="store_true", help="also measure ours' built-in whoami tool in both eras")
    parser.add_argument("--ours-uvicorn", action="store_true",
                        help="also serve ours (project.asgi, same database and token) under uvicorn instead of daphne")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw ASGI baseline")
    parser.add_argument("--sdk-stateless", action="store_true",
                        help="run the SDK server with stateless_http=True (legacy era without sessions)")
    parser.add_argument("--settings", default="bench.settings_bench",
                        help="DJANGO_SETTINGS_MODULE for daphne (default: bench.settings_bench); another module, "
                             "on PYTHONPATH and installing bench.benchapp, lets you try a settings change")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, sample each server with py-spy during one more run of its cases")
    parser.add_argument("--profile-seconds", type=float, default=4.0, help="py-spy sampling time per case (default: 4)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/mcp-*.json")
    args = parser.parse_args(argv)
    if args.cases is None:
        chosen = [c for c in CASES if c != "raw" and not c.endswith("-whoami") and not c.startswith("ours-uvicorn")]
        if args.whoami:
            chosen += [c for c in CASES if c.endswith("-whoami")]
        if args.ours_uvicorn:
            chosen += [c for c in CASES if c.startswith("ours-uvicorn")]
        if not args.no_baseline:
            chosen.insert(0, "raw")
    else:
        chosen = [name.strip() for name in args.cases.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in CASES]
        if unknown:
            parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    args.cases = chosen
    if args.seconds <= 0 or args.warmup < 0 or args.concurrency < 1 or args.max_requests < 1:
        parser.error("--seconds, --concurrency and --max-requests must be positive, --warmup >= 0")
    return args


# --- Servers -------------------------------------------------------------------------------------


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


class UvicornServer:
    """A uvicorn process on an inherited listening socket (as daphne gets ``--fd``).

    By default ``bench/sdk_echo_server.py`` with ``options``; with ``command``, that command (the
    socket's descriptor is appended as ``--fd N``).
    """

    def __init__(self, tmp: Path, name: str, *options: str, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.sock = listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.log_path = tmp / f"{name}.log"
        argv = (command or [sys.executable, str(SDK_SERVER), *options]) + ["--fd", str(self.sock.fileno())]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                argv, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, pass_fds=(self.sock.fileno(),),
                env={**(env or os.environ), "PYTHONUNBUFFERED": "1"},
            )

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sock.close()


def start_ours(tmp: Path, settings: str) -> tuple[DaphneServer, str]:
    """daphne with the benchmark settings; a confidential client; returns ``(server, client_id)``."""
    for name in SCRUBBED_ENV:
        os.environ.pop(name, None)
    extra_env = {
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    try:
        server = start_daphne(tmp, extra_env)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"setting up daphne failed: {' '.join(exc.cmd[1:])}\n{exc.stderr[-3000:]}") from None
    code = (
        "from oauth_app.models import Client\n"
        "c = Client(name='bench-mcp', client_type=Client.CLIENT_CONFIDENTIAL,"
        " authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris='',"
        f" token_endpoint_auth_method=Client.AuthMethod.CLIENT_SECRET_POST, client_secret={CLIENT_SECRET!r})\n"
        "c.full_clean(); c.save(); print(c.client_id)\n"
    )
    client_id = server.manage("shell", "-c", code).stdout.strip().splitlines()[-1]
    return server, client_id


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Protocol ------------------------------------------------------------------------------------


def base_headers(token: str) -> dict[str, str]:
    return {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
            "Authorization": f"Bearer {token}"}


async def obtain_token(client: httpx.AsyncClient, url: str, client_id: str) -> str:
    response = await client.post(url + "/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": CLIENT_SECRET, "scope": "mcp"})
    if response.status_code != 200:
        raise SystemExit(f"/token answered {response.status_code}: {response.text[:500]}")
    return response.json()["access_token"]


async def open_session(client: httpx.AsyncClient, endpoint: str, token: str) -> str:
    """``initialize`` + ``notifications/initialized``; the session id."""
    headers = base_headers(token)
    response = await client.post(endpoint, headers=headers, json={
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": LEGACY_VERSION, "capabilities": {},
                   "clientInfo": {"name": "bench-mcp", "version": "1.0"}}})
    session_id = response.headers.get("mcp-session-id")
    if response.status_code != 200 or not session_id:
        raise RuntimeError(f"initialize answered {response.status_code}: {response.text[:300]}")
    headers.update({"Mcp-Session-Id": session_id, "MCP-Protocol-Version": LEGACY_VERSION})
    response = await client.post(endpoint, headers=headers,
                                 json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    if response.status_code != 202:
        raise RuntimeError(f"notifications/initialized answered {response.status_code}: {response.text[:300]}")
    return session_id


class Caller:
    """Builds one worker's requests and judges the answers."""

    def __init__(self, case: Case, endpoint: str, token: str, session_id: str | None, worker: int) -> None:
        self.case = case
        self.endpoint = endpoint
        self.worker = worker
        self.seq = 0
        self.headers = base_headers(token)
        if case.era == "legacy":
            self.headers.update({"Mcp-Session-Id": session_id or "", "MCP-Protocol-Version": LEGACY_VERSION})
        else:
            self.headers.update({"MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": "tools/call",
                                 "Mcp-Name": case.tool if case.tool != "-" else "echo"})

    def next(self) -> tuple[bytes, str | None]:
        self.seq += 1
        text = f"w{self.worker}-{self.seq}"
        params: dict = {"name": "echo", "arguments": {"text": text}} if self.case.tool in ("echo", "-") \
            else {"name": self.case.tool, "arguments": {}}
        if self.case.era == "modern":
            params["_meta"] = META
        body = {"jsonrpc": "2.0", "id": self.seq, "method": "tools/call", "params": params}
        return json.dumps(body).encode(), text if self.case.tool == "echo" else None

    @staticmethod
    def judge(response: httpx.Response, text: str | None) -> str | None:
        """``None`` if the call succeeded, else a short error kind."""
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            payload = response.json()
        except ValueError:
            return "not JSON"
        if "error" in payload:
            return f"JSON-RPC error {payload['error'].get('code')}"
        result = payload.get("result") or {}
        if result.get("isError"):
            return "isError result"
        if text is not None:
            content = result.get("content") or [{}]
            if content[0].get("text") != text:
                return "wrong echo"
        elif not result.get("content"):
            return "empty result"
        return None


# --- Load ----------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: Case
    url: str
    latencies_ns: list[int] = field(default_factory=list, repr=False)
    errors: collections.Counter = field(default_factory=collections.Counter)
    error_samples: list[str] = field(default_factory=list)
    window: float = 0.0  # seconds from the end of warm-up to the last measured completion
    server_cpu: float | None = None  # server CPU seconds during the window
    generator_cpu: float = 0.0  # this process's CPU seconds during the window
    warmup_requests: int = 0
    capped: bool = False

    @property
    def requests(self) -> int:
        return len(self.latencies_ns) + sum(self.errors.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return len(self.latencies_ns) / self.window if self.window else 0.0

    def percentile_ms(self, p: float) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] / 1e6

    @property
    def server_cpu_percent(self) -> float | None:
        return 100 * self.server_cpu / self.window if self.server_cpu is not None and self.window else None

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        return 1000 * self.server_cpu / self.requests if self.server_cpu is not None and self.requests else None

    @property
    def generator_cpu_percent(self) -> float | None:
        return 100 * self.generator_cpu / self.window if self.window else None

    def as_dict(self) -> dict:
        lat = self.latencies_ns
        rounded = lambda v, n=3: None if v is None else round(v, n)  # noqa: E731
        return {
            "case": self.case.id, "server": self.case.server, "era": self.case.era, "tool": self.case.tool,
            "requests": self.requests, "ok": len(lat), "errors": self.error_count, "error_kinds": dict(self.errors),
            "error_samples": self.error_samples, "window_seconds": round(self.window, 3),
            "rps": round(self.rps, 1), "p50_ms": rounded(self.percentile_ms(50)),
            "p90_ms": rounded(self.percentile_ms(90)),
            "p99_ms": rounded(self.percentile_ms(99)), "max_ms": rounded(max(lat) / 1e6 if lat else None),
            "mean_ms": rounded(sum(lat) / len(lat) / 1e6 if lat else None),
            "server_cpu_seconds": rounded(self.server_cpu), "server_cpu_percent": rounded(self.server_cpu_percent, 1),
            "server_cpu_ms_per_request": rounded(self.server_cpu_ms_per_request),
            "generator_cpu_percent": rounded(self.generator_cpu_percent, 1),
            "warmup_requests": self.warmup_requests, "stopped_by_max_requests": self.capped,
        }


async def run_case(case: Case, url: str, token: str, server_pid: int, args: argparse.Namespace,
                   seconds: float | None = None) -> CaseResult:
    """Drive one server with ``args.concurrency`` workers; warm-up, then the measured window."""
    seconds = args.seconds if seconds is None else seconds
    endpoint = url + "/mcp"
    result = CaseResult(case, url)
    # One client (one keep-alive connection) per worker: a shared AsyncClient with 64 connections
    # costs the generator about 5x more CPU per request (httpcore's pool bookkeeping grows with it).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) for _ in range(args.concurrency)]
    try:
        sessions: list[str | None] = [None] * args.concurrency
        if case.era == "legacy":
            sessions = list(await asyncio.gather(*(open_session(client, endpoint, token) for client in clients)))
        callers = [Caller(case, endpoint, token, sessions[i], i) for i in range(args.concurrency)]
        loop_start = time.perf_counter()
        measure_start = loop_start + args.warmup
        deadline = measure_start + seconds
        state = {"stop": False, "last_end": measure_start, "measured": 0}

        async def worker(caller: Caller, client: httpx.AsyncClient) -> None:
            while not state["stop"]:
                body, text = caller.next()
                t0 = time.perf_counter()
                if t0 >= deadline:
                    return
                try:
                    response = await client.post(endpoint, content=body, headers=caller.headers)
                    error = caller.judge(response, text)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}"
                    response = None
                t1 = time.perf_counter()
                if t0 < measure_start:
                    result.warmup_requests += 1
                    continue
                state["last_end"] = max(state["last_end"], t1)
                if error is None:
                    result.latencies_ns.append(int((t1 - t0) * 1e9))
                else:
                    result.errors[error] += 1
                    if len(result.error_samples) < 5:
                        detail = response.text[:200] if response is not None else ""
                        result.error_samples.append(f"{error}: {detail}")
                state["measured"] += 1
                if state["measured"] >= args.max_requests:
                    result.capped = state["stop"] = True

        tasks = [asyncio.ensure_future(worker(caller, client)) for caller, client in zip(callers, clients)]
        await asyncio.sleep(max(0.0, measure_start - time.perf_counter()))
        cpu0, gen0 = proc_cpu_seconds(server_pid), time.process_time()
        done, pending = await asyncio.wait(tasks, timeout=seconds + 60)
        cpu1, gen1 = proc_cpu_seconds(server_pid), time.process_time()
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        result.window = state["last_end"] - measure_start
        result.server_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        result.generator_cpu = gen1 - gen0
    finally:
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)
    return result


async def while_alive(server, coroutine, what: str, timeout: float = 90.0):
    """Await ``coroutine`` (a first request), giving up if ``server``'s process exits or ``timeout`` passes.

    The listening socket exists before the server process does, so a first request simply waits
    in the backlog until the server accepts it: no retries needed, only a watch on the process.
    """
    task = asyncio.ensure_future(coroutine)
    deadline = time.monotonic() + timeout
    while not task.done():
        await asyncio.wait([task], timeout=0.2)
        if not task.done() and (server.process.poll() is not None or time.monotonic() > deadline):
            task.cancel()
            state = f"exited with {server.process.returncode}" if server.process.poll() is not None else "timed out"
            raise SystemExit(f"{what}: the server {state}; its log ends with:\n{server.log()[-3000:]}")
    return task.result()


async def check_server(case: Case, url: str, token: str) -> None:
    """One successful ``tools/call`` (after ``initialize`` in the legacy era), or exit with the reason."""
    endpoint = url + "/mcp"
    async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
        try:
            session_id = await open_session(client, endpoint, token) if case.era == "legacy" else None
        except RuntimeError as exc:
            raise SystemExit(f"{case.id}: {exc}") from None
        caller = Caller(case, endpoint, token, session_id, 0)
        body, text = caller.next()
        response = await client.post(endpoint, content=body, headers=caller.headers)
        error = caller.judge(response, text)
        if error:
            raise SystemExit(f"{case.id}: sanity call failed ({error}): {response.text[:500]}")


# --- Profiling -----------------------------------------------------------------------------------


def py_spy_binary() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def summarize_collapsed(path: Path, top: int = 30) -> str:
    """Top functions by own and by inclusive samples, from py-spy's ``--format raw`` (collapsed stacks)."""
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        frames = [f.split(" (", 1)[0] + " (" + f.split(" (", 1)[1].rsplit(":", 1)[0].split("site-packages/")[-1] + ")"
                  if " (" in f else f for f in frames]
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; own time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive time:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


async def profile_case(case: Case, url: str, token: str, pid: int, args: argparse.Namespace,
                       started: datetime) -> dict:
    binary = py_spy_binary()
    out = RESULTS_DIR / f"mcp-{started.strftime('%Y%m%dT%H%M%SZ')}-profile-{case.id}.txt"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    # py-spy starts sampling after the warm-up; the load runs a little longer than the sampling.
    duration = max(1, int(round(args.profile_seconds)))
    spy = None

    async def start_spy_after_warmup() -> None:
        nonlocal spy
        await asyncio.sleep(args.warmup + 0.2)
        spy = await asyncio.create_subprocess_exec(
            binary, "record", "--pid", str(pid), "--duration", str(duration), "--rate", "200", "--format", "raw",
            "--output", str(out), "--nonblocking", "--gil",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    starter = asyncio.ensure_future(start_spy_after_warmup())
    load = await run_case(case, url, token, pid, args, seconds=duration + 1.5)
    await starter
    _, stderr = await spy.communicate()
    if spy.returncode != 0 or not out.exists():
        return {"case": case.id, "error": stderr.decode(errors="replace")[-500:]}
    return {"case": case.id, "file": str(out.relative_to(BASE_DIR)), "rps_while_profiled": round(load.rps, 1),
            "summary": summarize_collapsed(out)}


# --- Output --------------------------------------------------------------------------------------


PACKAGES = ("Django", "channels", "daphne", "Twisted", "asgiref", "django-oauth-toolkit", "PyJWT", "cryptography",
    "pydantic", "mcp", "mcp-types", "uvicorn", "starlette", "anyio", "h11", "httptools", "uvloop", "httpx")


def machine_info() -> dict:
    return shared_machine_info(PACKAGES)


def fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def table(results: list[CaseResult]) -> str:
    headers = ("server", "era", "tool", "requests", "errors", "rps", "p50 ms", "p99 ms",
               "srv CPU %", "srv CPU ms/req", "gen CPU %")
    rows = [(SERVER_LABELS[r.case.server], r.case.era if r.case.server != "raw" else "-", r.case.tool,
             f"{r.requests}", f"{r.error_count}", f"{r.rps:,.0f}", fmt(r.percentile_ms(50), ".2f"),
             fmt(r.percentile_ms(99), ".2f"), fmt(r.server_cpu_percent, ".0f"), fmt(r.server_cpu_ms_per_request, ".3f"),
             fmt(r.generator_cpu_percent, ".0f")) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def ratios(results: list[CaseResult]) -> dict[str, dict]:
    by = {(r.case.server, r.case.era, r.case.tool): r for r in results}
    out = {}
    for era in ("legacy", "modern"):
        ours, sdk = by.get(("ours", era, "echo")), by.get(("sdk", era, "echo"))
        if not ours or not sdk or not sdk.rps or not ours.latencies_ns or not sdk.latencies_ns:
            continue
        cpu = (ours.server_cpu_ms_per_request / sdk.server_cpu_ms_per_request
               if ours.server_cpu_ms_per_request and sdk.server_cpu_ms_per_request else None)
        out[era] = {"rps": round(ours.rps / sdk.rps, 3),
                    "p50": round(ours.percentile_ms(50) / sdk.percentile_ms(50), 3),
                    "p99": round(ours.percentile_ms(99) / sdk.percentile_ms(99), 3),
                    "server_cpu_per_request": None if cpu is None else round(cpu, 3)}
    return out


async def bench(args: argparse.Namespace, tmp: Path, started: datetime) -> dict:
    cases = [CASES[c] for c in args.cases]
    servers: dict[str, object] = {}
    t0 = time.perf_counter()
    token = "none"
    try:
        if any(c.server in ("ours", "ours-uvicorn") for c in cases):
            print("  starting daphne (migrate, signing key, client)…", file=sys.stderr, flush=True)
            ours, client_id = start_ours(tmp / "ours", args.settings)
            servers["ours"] = ours
            async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
                token = await while_alive(ours, obtain_token(client, ours.url, client_id), "daphne, POST /token")
        if any(c.server == "ours-uvicorn" for c in cases):
            # The same application, database and token (PUBLIC_URL stays daphne's: the token's audience).
            servers["ours-uvicorn"] = UvicornServer(
                tmp, "ours-uvicorn", env=servers["ours"].env,
                command=[str(Path(sys.executable).parent / "uvicorn"), "project.asgi:application", "--log-level",
                         "warning", "--no-access-log", "--lifespan", "off"])
        if any(c.server == "sdk" for c in cases):
            servers["sdk"] = UvicornServer(tmp, "sdk", *(["--stateless"] if args.sdk_stateless else []))
        if any(c.server == "raw" for c in cases):
            servers["raw"] = UvicornServer(tmp, "raw", "--raw")
        for case in cases:
            await while_alive(servers[case.server], check_server(case, servers[case.server].url, token),
                              f"{case.id}, first tools/call")
        setup_seconds = time.perf_counter() - t0

        print(f"MCP benchmark: tools/call at {args.concurrency} concurrent connections, one server process each; "
              f"{args.seconds:g} s measured after {args.warmup:g} s warm-up per case "
              f"(cap {args.max_requests} requests)")
        print(f"Load generator: this process, asyncio + httpx {metadata.version('httpx')} "
              f"({args.concurrency} workers, one AsyncClient and connection each); "
              f"{os.cpu_count()} CPUs shared with the server")
        print(f"ours: daphne {metadata.version('daphne')} (Twisted {metadata.version('Twisted')}), channels "
              f"{metadata.version('channels')}, {args.settings}, SQLite; JWT from /token (client_credentials)")
        print(f"SDK: mcp {metadata.version('mcp')} MCPServer, streamable HTTP "
              f"({'stateless' if args.sdk_stateless else 'stateful'}, json_response), uvicorn "
              f"{metadata.version('uvicorn')}, no auth; setup took {setup_seconds:.1f} s\n")

        results: list[CaseResult] = []
        for case in cases:
            server = servers[case.server]
            print(f"  measuring {case.id}…", file=sys.stderr, flush=True)
            result = await run_case(case, server.url, token, server.process.pid, args)
            if server.process.poll() is not None:
                raise SystemExit(f"{case.server} server exited during {case.id}:\n{server.log()[-2000:]}")
            results.append(result)

        print(table(results))
        for r in results:
            if r.errors:
                kinds = ", ".join(f"{kind} ×{n}" for kind, n in r.errors.most_common())
                print(f"  {r.case.id}: {r.error_count} errors ({kinds}); first: {r.error_samples[0]!r}")
            if r.capped:
                print(f"  {r.case.id}: stopped by --max-requests")
            if (r.generator_cpu_percent or 0) >= 85:
                print(f"  {r.case.id}: the load generator was busy {r.generator_cpu_percent:.0f}% of the time: its rps "
                      f"is (close to) the generator's limit; compare server CPU per request instead")
        found = ratios(results)
        if found:
            print("\nours / SDK (echo tool):")
            for era, ratio in found.items():
                cpu = f"{ratio['server_cpu_per_request']:.2f}x" if ratio["server_cpu_per_request"] else "-"
                print(f"  {era:6}  rps {ratio['rps']:.2f}x   p50 {ratio['p50']:.2f}x   p99 {ratio['p99']:.2f}x   "
                      f"server CPU per request {cpu}")
        notes = NOTES + ([WHOAMI_NOTE] if any(c.tool == "whoami" for c in cases) else [])
        print("Notes:")
        for note in notes:
            print(f"  - {note}")

        profiles = []
        if args.profile:
            if py_spy_binary() is None:
                print("\n--profile: py-spy not found (.venv/bin/python -m pip install py-spy)", file=sys.stderr)
            else:
                for case in cases:
                    server = servers[case.server]
                    print(f"  profiling {case.id}…", file=sys.stderr, flush=True)
                    profile = await profile_case(case, server.url, token, server.process.pid, args, started)
                    profiles.append(profile)
                    print(f"\n--- py-spy: {case.id} (server pid {server.process.pid}) ---")
                    print(profile.get("summary") or profile.get("error"))

        return {
            "benchmark": "mcp",
            "started_at": started.isoformat(timespec="seconds"),
            "options": {"seconds": args.seconds, "warmup": args.warmup, "concurrency": args.concurrency,
                        "max_requests": args.max_requests, "cases": args.cases, "sdk_stateless": args.sdk_stateless,
                        "settings": args.settings},
            "setup_seconds": round(setup_seconds, 3),
            "load_generator": f"asyncio + httpx, {args.concurrency} workers with one AsyncClient (one connection) "
                              "each, in the bench process",
            "servers": {name: {"url": s.url, "pid": s.process.pid} for name, s in servers.items()},
            "notes": notes,
            "machine": machine_info(),
            "results": [r.as_dict() for r in results],
            "ratios_ours_over_sdk": found,
            "profiles": [{k: v for k, v in p.items() if k != "summary"} for p in profiles],
        }
    finally:
        for server in servers.values():
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress goes to stderr; keep the two in order
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-mcp-", ignore_cleanup_errors=True) as tmp:
        report = asyncio.run(bench(args, Path(tmp), started))
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"mcp-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nResults written to {path.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
