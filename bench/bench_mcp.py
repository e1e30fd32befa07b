#!/usr/bin/env python
"""MCP benchmark: ``/mcp`` (one daphne process) against the official SDK's server, as ratios from one run.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_mcp.py                      # 5 s per round, about 5 minutes in all
    .venv/bin/python bench/bench_mcp.py --seconds 2          # a quick look (numbers noisier)
    .venv/bin/python bench/bench_mcp.py --no-curves          # only the 64-connection comparison
    make bench                                               # runs every benchmark script

Servers, each one process on a loopback socket the script binds itself:

* **ours**: ``daphne project.asgi:application`` with ``DJANGO_SETTINGS_MODULE=bench.settings_bench``
  (the project's settings plus ``bench.benchapp``: the ``echo`` and ``blob`` tools, and
  ``BENCH_EXTRA_TOOLS`` more) on a throw-away SQLite database; every request carries a real JWT
  from ``/token`` (client_credentials, scope ``mcp``), which ``/mcp`` verifies;
* **sdk**: ``bench/sdk_echo_server.py``, the ``mcp`` SDK's ``MCPServer`` with the same tools under
  uvicorn, stateful, JSON responses, **no authentication**.

Both write their servers' default access log, one line per request (daphne's at its default
verbosity, uvicorn's at its default log level), each to its log file; ``--no-access-log`` runs
both without (daphne ``-v 0``, uvicorn ``access_log=False``).

The comparison (``--concurrency``, 64 connections): for each era (legacy 2025-11-25 with a session
per connection; modern 2026-07-28 stateless) and each method (``tools/call`` of ``echo``,
``tools/list``), the two servers are measured in alternating rounds, A B, B A, ... (``--rounds``), so
both see the same machine conditions; the report gives per server requests per second, p50/p99
latency and server CPU per request (from ``/proc``), and the **ratio ours / SDK**.

The growth curves (skip with ``--no-curves``), modern era: ``tools/call`` at 1/16/64/256
connections (a PNG of requests per second against connections for both servers goes to
``bench/results/``); ``tools/list`` with 1/50/500 tools (servers restarted with more tools; ours
pages at 50 per answer, the SDK lists all at once, so the 500-tool row compares one page with the
whole list); ``tools/call`` of ``blob`` returning 1 KB / 100 KB / 1 MB.

Load generator: this process, asyncio with a minimal HTTP/1.1 client on raw sockets (one keep-alive
connection per worker; pre-built requests; the answer parsed with orjson and checked). httpx needed
about 1 ms of CPU per request here, which capped every server near 1,000 requests per second; this
one needs a small fraction of that, so the servers are what is measured. The generator still shares
the machine's CPUs with the server under test: the CPU columns say how busy each was.
Results go to ``bench/results/mcp-<UTC timestamp>.json`` (and ``.png``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import socket
import subprocess
import statistics
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

import orjson  # noqa: E402

from tests.support.daphne import DaphneServer, start_daphne  # noqa: E402
from tests.support.processes import stop_process  # noqa: E402

RESULTS_DIR = BASE_DIR / "bench" / "results"
SDK_SERVER = BASE_DIR / "bench" / "sdk_echo_server.py"
LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN_VERSION, "io.modelcontextprotocol/clientCapabilities": {}}
CLIENT_SECRET = "bench-mcp-secret-" + "x" * 40
SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY", "SECRET_KEY",
                "ACCESS_TOKEN_TTL", "MCP_MAX_BODY_BYTES", "MCP_ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY",
                "CORS_ALLOWED_ORIGINS", "SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXIES", "BENCH_EXTRA_TOOLS")
NOTES = [
    "ours verifies the bearer JWT on every request (cached verification, revocation broadcast); the SDK server "
    "runs without authentication",
    "legacy era: both keep one session per connection (ours in SQLite with a per-process cache, the SDK in memory)",
    "the load generator (this process) shares the machine's CPUs with the server under test; other work on the "
    "machine moves the numbers: read the ratios, measured in alternating rounds",
]
PACKAGES = ("Django", "channels", "daphne", "Twisted", "asgiref", "django-oauth-toolkit", "PyJWT", "cryptography",
            "pydantic", "orjson", "mcp", "mcp-types", "uvicorn", "starlette", "anyio", "h11")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per round (default: 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed load before each round (default: 1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per comparison (default: 2: A B, B A)")
    parser.add_argument("--concurrency", type=int, default=64, help="connections for the comparison (default: 64)")
    parser.add_argument("--connections", default="1,16,64,256", help="the connection curve (default: 1,16,64,256)")
    parser.add_argument("--tool-counts", default="1,50,500", help="the tools/list curve (default: 1,50,500)")
    parser.add_argument("--result-sizes", default="1024,102400,1048576", help="the result-size curve, bytes")
    parser.add_argument("--curve-seconds", type=float, default=None, help="measured time per curve point "
                        "(default: --seconds)")
    parser.add_argument("--no-curves", action="store_true", help="only the comparison at --concurrency")
    parser.add_argument("--settings", default="bench.settings_bench", help="DJANGO_SETTINGS_MODULE for daphne")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/mcp-*")
    parser.add_argument("--no-access-log", action="store_true", help="neither server writes an access log "
                        "(default: both do, as daphne and uvicorn do by default)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1 or args.concurrency < 1:
        parser.error("--seconds, --rounds and --concurrency must be positive, --warmup >= 0")
    args.connections = [int(n) for n in args.connections.split(",") if n]
    args.tool_counts = [int(n) for n in args.tool_counts.split(",") if n]
    args.result_sizes = [int(n) for n in args.result_sizes.split(",") if n]
    args.curve_seconds = args.curve_seconds or args.seconds
    return args


# --- Servers -------------------------------------------------------------------------------------


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    no_delay(sock)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def no_delay(sock: socket.socket) -> None:
    """TCP_NODELAY, on both servers' listening sockets (accepted sockets inherit it on Linux) and the client's.

    Without it a server that writes its head and its body separately waits for the client's
    delayed ACK (about 40 ms) at low concurrency: uvicorn does not set it on an inherited socket.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class UvicornServer:
    """``bench/sdk_echo_server.py`` under uvicorn, on an inherited listening socket (as daphne gets ``--fd``)."""

    def __init__(self, tmp: Path, name: str, *options: str) -> None:
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        argv = [sys.executable, str(SDK_SERVER), *options, "--fd", str(self.sock.fileno())]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(argv, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                                            pass_fds=(self.sock.fileno(),), env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        self.sock.close()


def start_ours(tmp: Path, settings: str, extra_tools: int = 0, access_log: bool = True) -> tuple[DaphneServer, str]:
    """daphne with the benchmark settings and a confidential client; returns ``(server, client_id)``.

    ``access_log=False`` starts daphne at verbosity 0, which writes no access log.
    """
    for name in SCRUBBED_ENV:
        os.environ.pop(name, None)
    extra_env = {"DJANGO_SETTINGS_MODULE": settings, "DEBUG": "false", "LOG_LEVEL": "WARNING",
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])),
                 "BENCH_EXTRA_TOOLS": str(extra_tools)}
    try:
        server = start_daphne(tmp, extra_env, daphne_args=() if access_log else ("-v", "0"))
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"setting up daphne failed: {' '.join(exc.cmd[1:])}\n{exc.stderr[-3000:]}") from None
    no_delay(server.sock)
    code = ("from oauth_app.models import Client\n"
            "c = Client(name='bench-mcp', client_type=Client.CLIENT_CONFIDENTIAL,"
            " authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris='',"
            f" token_endpoint_auth_method=Client.AuthMethod.CLIENT_SECRET_POST, client_secret={CLIENT_SECRET!r})\n"
            "c.full_clean(); c.save(); print(c.client_id)\n")
    return server, server.manage("shell", "-c", code).stdout.strip().splitlines()[-1]


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- A minimal HTTP/1.1 client -------------------------------------------------------------------


class Connection:
    """One keep-alive connection; requests are pre-built bytes, answers parsed just enough to check them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=16 * 1024 * 1024)
        no_delay(self.writer.get_extra_info("socket"))
        return self

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass

    async def exchange(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        else:
            body = b""
        return status, headers, body


def http_request(port: int, headers: dict[str, str], payload: dict) -> bytes:
    body = orjson.dumps(payload)
    lines = [f"POST /mcp HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def base_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def obtain_token(port: int, client_id: str) -> str:
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret={CLIENT_SECRET}&scope=mcp".encode()
    request = (f"POST /token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(form)}\r\n\r\n").encode() + form
    connection = await Connection(port).open()
    try:
        status, _, body = await connection.exchange(request)
    finally:
        await connection.close()
    if status != 200:
        raise SystemExit(f"/token answered {status}: {body[:500]!r}")
    return orjson.loads(body)["access_token"]


@dataclass(frozen=True)
class Workload:
    """What every request of a measurement is."""

    era: str  # legacy | modern
    method: str  # tools/call | tools/list
    tool: str = "echo"
    size: int = 0  # blob size

    @property
    def label(self) -> str:
        what = f"tools/call {self.tool}" if self.method == "tools/call" else "tools/list"
        return what + (f" {self.size // 1024} KB" if self.tool == "blob" else "")


class Caller:
    """One worker: its connection, its session (legacy) and its requests."""

    def __init__(self, workload: Workload, port: int, token: str | None, worker: int) -> None:
        self.workload = workload
        self.port = port
        self.token = token
        self.worker = worker
        self.seq = 0
        self.connection = Connection(port)
        self.headers = base_headers(token)

    async def open(self) -> None:
        await self.connection.open()
        if self.workload.era == "legacy":
            status, headers, body = await self.connection.exchange(http_request(self.port, self.headers, {
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": LEGACY_VERSION, "capabilities": {},
                           "clientInfo": {"name": "bench-mcp", "version": "1.0"}}}))
            session = headers.get(b"mcp-session-id")
            if status != 200 or not session:
                raise RuntimeError(f"initialize answered {status}: {body[:300]!r}")
            self.headers.update({"Mcp-Session-Id": session.decode(), "MCP-Protocol-Version": LEGACY_VERSION})
            status, _, body = await self.connection.exchange(http_request(
                self.port, self.headers, {"jsonrpc": "2.0", "method": "notifications/initialized"}))
            if status != 202:
                raise RuntimeError(f"notifications/initialized answered {status}: {body[:300]!r}")
        else:
            self.headers.update({"MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": self.workload.method})
            if self.workload.method == "tools/call":
                self.headers["Mcp-Name"] = self.workload.tool

    def next(self) -> tuple[bytes, str | None]:
        self.seq += 1
        w = self.workload
        expected = None
        if w.method == "tools/call":
            if w.tool == "echo":
                expected = f"w{self.worker}-{self.seq}"
                params: dict = {"name": "echo", "arguments": {"text": expected}}
            else:
                params = {"name": "blob", "arguments": {"size": w.size}}
        else:
            params = {}
        if w.era == "modern":
            params["_meta"] = META
        return http_request(self.port, self.headers, {"jsonrpc": "2.0", "id": self.seq, "method": w.method,
                                                      "params": params}), expected

    def judge(self, status: int, body: bytes, expected: str | None) -> str | None:
        if status != 200:
            return f"HTTP {status}"
        try:
            payload = orjson.loads(body)
        except ValueError:
            return "not JSON"
        if "error" in payload:
            return f"JSON-RPC error {payload['error'].get('code')}"
        result = payload.get("result") or {}
        if self.workload.method == "tools/list":
            return None if result.get("tools") else "no tools"
        if result.get("isError"):
            return "isError result"
        text = (result.get("content") or [{}])[0].get("text")
        if expected is not None and text != expected:
            return "wrong echo"
        if self.workload.tool == "blob" and len(text or "") != self.workload.size:
            return "wrong size"
        return None


# --- Measurement ---------------------------------------------------------------------------------


@dataclass
class Sample:
    """One server's measurements for one workload (possibly summed over rounds)."""

    server: str
    workload: Workload
    connections: int
    latencies_ns: list[int] = field(default_factory=list, repr=False)
    errors: collections.Counter = field(default_factory=collections.Counter)
    error_samples: list[str] = field(default_factory=list)
    window: float = 0.0
    server_cpu: float | None = 0.0
    generator_cpu: float = 0.0
    rounds: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, other: Sample) -> None:
        self.latencies_ns += other.latencies_ns
        self.errors.update(other.errors)
        self.error_samples = (self.error_samples + other.error_samples)[:5]
        self.window += other.window
        self.server_cpu = None if self.server_cpu is None or other.server_cpu is None else self.server_cpu + other.server_cpu
        self.generator_cpu += other.generator_cpu
        self.rounds += 1

    @property
    def requests(self) -> int:
        return len(self.latencies_ns) + sum(self.errors.values())

    @property
    def rps(self) -> float:
        return len(self.latencies_ns) / self.window if self.window else 0.0

    def percentile_ms(self, p: float) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] / 1e6

    @property
    def cpu_ms_per_request(self) -> float | None:
        return 1000 * self.server_cpu / self.requests if self.server_cpu and self.requests else None

    @property
    def server_cpu_percent(self) -> float | None:
        return 100 * self.server_cpu / self.window if self.server_cpu is not None and self.window else None

    @property
    def generator_cpu_percent(self) -> float | None:
        return 100 * self.generator_cpu / self.window if self.window else None

    def as_dict(self) -> dict:
        r = lambda v, n=3: None if v is None else round(v, n)  # noqa: E731
        return {"server": self.server, "era": self.workload.era, "workload": self.workload.label,
                "connections": self.connections, "rounds": self.rounds, "requests": self.requests,
                "ok": len(self.latencies_ns), "errors": dict(self.errors), "error_samples": self.error_samples,
                "window_seconds": r(self.window), "rps": r(self.rps, 1), "p50_ms": r(self.percentile_ms(50)),
                "p99_ms": r(self.percentile_ms(99)), "server_cpu_ms_per_request": r(self.cpu_ms_per_request),
                "server_cpu_percent": r(self.server_cpu_percent, 1),
                "generator_cpu_percent": r(self.generator_cpu_percent, 1), **self.extra}


async def measure(server: str, workload: Workload, port: int, token: str | None, pid: int, connections: int,
                  seconds: float, warmup: float) -> Sample:
    """``connections`` workers, each on its own connection, for ``warmup`` (discarded) then ``seconds``."""
    sample = Sample(server, workload, connections)
    callers = [Caller(workload, port, token, i) for i in range(connections)]
    try:
        await asyncio.gather(*(caller.open() for caller in callers))
        start = time.perf_counter()
        measure_from = start + warmup
        deadline = measure_from + seconds
        last_end = [measure_from]

        async def worker(caller: Caller) -> None:
            while True:
                request, expected = caller.next()
                t0 = time.perf_counter()
                if t0 >= deadline:
                    return
                try:
                    status, _, body = await caller.connection.exchange(request)
                    error = caller.judge(status, body, expected)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    error, body = type(exc).__name__, b""
                    await caller.connection.close()
                    await caller.connection.open()
                t1 = time.perf_counter()
                if t0 < measure_from:
                    continue
                last_end[0] = max(last_end[0], t1)
                if error is None:
                    sample.latencies_ns.append(int((t1 - t0) * 1e9))
                else:
                    sample.errors[error] += 1
                    if len(sample.error_samples) < 5:
                        sample.error_samples.append(f"{error}: {body[:200]!r}")

        tasks = [asyncio.ensure_future(worker(caller)) for caller in callers]
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu0, gen0 = proc_cpu_seconds(pid), time.process_time()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 120)
        cpu1, gen1 = proc_cpu_seconds(pid), time.process_time()
        sample.window = last_end[0] - measure_from
        sample.server_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        sample.generator_cpu = gen1 - gen0
        sample.rounds = 1
    finally:
        await asyncio.gather(*(caller.connection.close() for caller in callers), return_exceptions=True)
    return sample


@dataclass
class Pair:
    """A server under test: where it listens, its pid, the bearer to send."""

    name: str
    port: int
    pid: int
    token: str | None


async def compare(pairs: list[Pair], workload: Workload, connections: int, seconds: float, warmup: float,
                  rounds: int) -> dict[str, Sample]:
    """Alternate the servers round by round and sum each server's rounds.

    The order flips every round (A B, B A, A B, ...), so a server that always ran first or second
    gains nothing from a trend in the machine's speed; each round's rps is kept in
    ``extra["round_rps"]`` for :func:`paired_ratio`."""
    totals: dict[str, Sample] = {}
    for round_number in range(rounds):
        for pair in (pairs if round_number % 2 == 0 else pairs[::-1]):
            print(f"  {workload.era} {workload.label} @{connections}: {pair.name}, round {round_number + 1}…",
                  file=sys.stderr, flush=True)
            sample = await measure(pair.name, workload, pair.port, pair.token, pair.pid, connections, seconds, warmup)
            total = totals.setdefault(pair.name, Sample(pair.name, workload, connections, server_cpu=0.0))
            total.add(sample)
            total.extra.setdefault("round_rps", []).append(round(sample.rps, 1))
    return totals


def round_ratios(a: Sample, b: Sample) -> list[float]:
    """a's rps / b's rps in each round: each round's two servers ran back to back, so a slow spell of
    the shared machine moves both sides of its ratio."""
    return [x / y for x, y in zip(a.extra.get("round_rps", []), b.extra.get("round_rps", [])) if y]


def paired_ratio(a: Sample, b: Sample) -> float | None:
    """The median over rounds of :func:`round_ratios`."""
    pairs = round_ratios(a, b)
    return round(statistics.median(pairs), 3) if pairs else None


def paired_quartiles(a: Sample, b: Sample) -> list[float] | None:
    """The lower and upper quartiles of :func:`round_ratios`: how far the rounds disagreed."""
    pairs = round_ratios(a, b)
    if len(pairs) < 2:
        return None
    quartiles = statistics.quantiles(pairs, n=4)
    return [round(quartiles[0], 3), round(quartiles[2], 3)]


def ratio(ours: Sample, sdk: Sample) -> dict:
    def div(a, b):
        return round(a / b, 3) if a is not None and b else None

    return {"rps": div(ours.rps, sdk.rps), "rps_median_of_rounds": paired_ratio(ours, sdk),
            "rps_rounds_quartiles": paired_quartiles(ours, sdk),
            "p50": div(ours.percentile_ms(50), sdk.percentile_ms(50)),
            "p99": div(ours.percentile_ms(99), sdk.percentile_ms(99)),
            "server_cpu_per_request": div(ours.cpu_ms_per_request, sdk.cpu_ms_per_request)}


# --- Output --------------------------------------------------------------------------------------


def fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def table(rows: list[tuple[Sample, dict | None]]) -> str:
    headers = ("era", "workload", "conns", "server", "requests", "errors", "rps", "p50 ms", "p99 ms",
               "CPU ms/req", "srv CPU %", "gen CPU %", "ours/SDK rps", "p99", "CPU/req")
    cells = []
    for sample, r in rows:
        cells.append((sample.workload.era, sample.workload.label + (f" ({sample.extra['tools']} tools)"
                      if "tools" in sample.extra else ""), str(sample.connections), sample.server,
                      str(sample.requests), str(sum(sample.errors.values())), f"{sample.rps:,.0f}",
                      fmt(sample.percentile_ms(50), ".2f"), fmt(sample.percentile_ms(99), ".2f"),
                      fmt(sample.cpu_ms_per_request, ".3f"), fmt(sample.server_cpu_percent, ".0f"),
                      fmt(sample.generator_cpu_percent, ".0f"),
                      fmt(r and r["rps"], ".2f") + ("x" if r and r["rps"] else ""),
                      fmt(r and r["p99"], ".2f") + ("x" if r and r["p99"] else ""),
                      fmt(r and r["server_cpu_per_request"], ".2f") + ("x" if r and r["server_cpu_per_request"] else "")))
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    line = lambda row: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def plot(curve: list[dict], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (requirements-test.txt)"
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for server, style in (("ours", "o-"), ("sdk", "s--")):
        points = sorted((row["connections"], row["rps"]) for row in curve if row["server"] == server)
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], style,
                      label="ours (daphne, JWT auth)" if server == "ours" else "SDK MCPServer (uvicorn, no auth)")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("concurrent connections")
    axes.set_ylabel("requests per second")
    axes.set_title("tools/call echo, 2026-07-28, one server process each")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return None


# --- The run -------------------------------------------------------------------------------------


async def sanity(pair: Pair, workload: Workload) -> None:
    caller = Caller(workload, pair.port, pair.token, 0)
    try:
        await caller.open()
        request, expected = caller.next()
        status, _, body = await caller.connection.exchange(request)
        error = caller.judge(status, body, expected)
        if error:
            raise SystemExit(f"{pair.name} {workload.era} {workload.label}: sanity call failed ({error}): {body[:500]!r}")
    finally:
        await caller.connection.close()


async def start_pair(tmp: Path, args: argparse.Namespace, extra_tools: int = 0) -> tuple[list[Pair], list]:
    print(f"  starting daphne and the SDK server ({extra_tools} extra tools)…", file=sys.stderr, flush=True)
    sdk = UvicornServer(tmp, f"sdk-{extra_tools}", "--extra-tools", str(extra_tools),
                        *(() if args.no_access_log else ("--access-log",)))
    ours, client_id = start_ours(tmp / f"ours-{extra_tools}", args.settings, extra_tools, not args.no_access_log)
    token = await obtain_token(port_of(ours.url), client_id)
    pairs = [Pair("ours", port_of(ours.url), ours.process.pid, token), Pair("sdk", sdk.port, sdk.process.pid, None)]
    for pair in pairs:
        for era in ("legacy", "modern"):
            await asyncio.wait_for(sanity(pair, Workload(era, "tools/call")), timeout=90)
    return pairs, [ours, sdk]


async def bench(args: argparse.Namespace, tmp: Path, started: datetime) -> dict:
    running: list = []
    report: dict = {"benchmark": "mcp", "started_at": started.isoformat(timespec="seconds"),
                    "options": {k: v for k, v in vars(args).items()}, "notes": NOTES,
                    "machine": shared_machine_info(PACKAGES)}
    rows: list[tuple[Sample, dict | None]] = []
    try:
        pairs, running = await start_pair(tmp, args)
        print(f"MCP benchmark, {started:%Y-%m-%d %H:%M} UTC: ours = daphne {metadata.version('daphne')} + channels "
              f"{metadata.version('channels')} ({args.settings}, SQLite, JWT auth); SDK = mcp {metadata.version('mcp')} "
              f"MCPServer under uvicorn {metadata.version('uvicorn')} (stateful, JSON responses, no auth). "
              f"Access logs: {'none' if args.no_access_log else 'both servers (their defaults)'}. "
              f"{os.cpu_count()} CPUs shared with the load generator (raw-socket HTTP/1.1, this process).")
        print(f"Comparison: {args.rounds} alternating rounds per server (A B, B A, ...), {args.seconds:g} s measured after "
              f"{args.warmup:g} s warm-up each, {args.concurrency} connections.\n")
        comparison = []
        for workload in (Workload("legacy", "tools/call"), Workload("modern", "tools/call"),
                         Workload("legacy", "tools/list"), Workload("modern", "tools/list")):
            found = await compare(pairs, workload, args.concurrency, args.seconds, args.warmup, args.rounds)
            r = ratio(found["ours"], found["sdk"])
            rows += [(found["ours"], r), (found["sdk"], None)]
            comparison.append({"era": workload.era, "workload": workload.label, "ratio_ours_over_sdk": r,
                               "ours": found["ours"].as_dict(), "sdk": found["sdk"].as_dict()})
        report["comparison"] = comparison
        print(table(rows))
        for entry in comparison:
            r = entry["ratio_ours_over_sdk"]
            spread = r["rps_rounds_quartiles"]
            print(f"  {entry['era']} {entry['workload']}: ours / SDK per round, median {fmt(r['rps_median_of_rounds'], '.2f')}x"
                  + (f", quartiles {spread[0]:.2f}x-{spread[1]:.2f}x" if spread else ""))
        curves: dict = {}
        if not args.no_curves:
            curve_rows: list[tuple[Sample, dict | None]] = []
            workload = Workload("modern", "tools/call")
            curves["connections"] = []
            for connections in args.connections:
                found = await compare(pairs, workload, connections, args.curve_seconds, args.warmup, 1)
                curve_rows += [(found["ours"], ratio(found["ours"], found["sdk"])), (found["sdk"], None)]
                curves["connections"] += [found["ours"].as_dict(), found["sdk"].as_dict()]
            curves["result_size"] = []
            for size in args.result_sizes:
                found = await compare(pairs, Workload("modern", "tools/call", "blob", size), min(args.concurrency, 16),
                                      args.curve_seconds, args.warmup, 1)
                curve_rows += [(found["ours"], ratio(found["ours"], found["sdk"])), (found["sdk"], None)]
                curves["result_size"] += [found["ours"].as_dict(), found["sdk"].as_dict()]
            curves["tool_count"] = []
            for count in args.tool_counts:
                for server in running:
                    server.stop()
                running = []
                pairs, running = await start_pair(tmp, args, extra_tools=max(0, count - 2))
                found = await compare(pairs, Workload("modern", "tools/list"), args.concurrency, args.curve_seconds,
                                      args.warmup, 1)
                for sample in found.values():
                    sample.extra["tools"] = max(count, 2)
                curve_rows += [(found["ours"], ratio(found["ours"], found["sdk"])), (found["sdk"], None)]
                curves["tool_count"] += [found["ours"].as_dict(), found["sdk"].as_dict()]
            print("\nGrowth (2026-07-28; result sizes at up to 16 connections; ours lists 50 tools per page):")
            print(table(curve_rows))
            report["curves"] = curves
        print("\nNotes:")
        for note in NOTES:
            print(f"  - {note}")
        return report
    finally:
        for server in running:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-mcp-", ignore_cleanup_errors=True) as tmp:
        report = asyncio.run(bench(args, Path(tmp), started))
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stem = RESULTS_DIR / f"mcp-{started.strftime('%Y%m%dT%H%M%SZ')}"
        if report.get("curves", {}).get("connections"):
            problem = plot(report["curves"]["connections"], stem.with_suffix(".png"))
            print(f"Plot: {problem or stem.with_suffix('.png').relative_to(BASE_DIR)}")
        stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"Results written to {stem.with_suffix('.json').relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
