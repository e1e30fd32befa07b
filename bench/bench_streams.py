#!/usr/bin/env python
"""Streams benchmark: N concurrent GET SSE streams on one daphne process, and cross-process notification latency.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_streams.py                    # 1,000 streams, 200 latency samples
    .venv/bin/python bench/bench_streams.py --streams 10000 --max-seconds 900

It creates a throw-away PostgreSQL database (``--postgres``, dropped at the end) and uses one Redis
database (``--redis-db``, **flushed** before and after), then starts two ``daphne
project.asgi:application`` processes on them (``tests/support/daphne.py``): **A** holds the streams,
**B** serves everything else. Both have A's ``PUBLIC_URL``, as behind one reverse proxy.

1. ``--streams`` sessions are created with ``initialize`` on B (legacy era, 2025-11-25).
2. For each, a GET ``/mcp`` SSE stream is opened on A and held open; a stream counts once its
   priming event has arrived (its consumer has joined its groups on Redis). A's resident set size
   (``VmRSS`` from ``/proc``) is read before the first stream and after the last: the difference over
   the number of streams is the **RSS per stream** (with Python's allocator, an upper bound on what
   one stream costs, lower bound on nothing).
3. With every stream still open, ``--samples`` times, a ``tools/call`` of the built-in
   ``start-notification-stream`` tool (one notification, ``target: session``) is posted to **B** for a
   session picked round-robin; the time from sending that request to the notification arriving on the
   session's stream held by **A** (B stores the event in PostgreSQL, publishes it on Redis, A writes
   it) is one latency sample. ``--probe-concurrency`` samples run at once.

The held streams are raw asyncio connections (HTTP/1.1, chunked body decoded here), not httpx: 10,000
httpx connections cost more CPU in this process than the server under test. The script raises its own
and its children's open-file limit to the hard limit (``resource.setrlimit``) and refuses a
``--streams`` the limit cannot hold. Every phase is bounded by ``--max-seconds`` overall: when time
runs out the script measures what it has (and says so). Results go to
``bench/results/streams-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from machine import machine_info  # bench/ is sys.path[0] when run as a script

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402

from tests.support.daphne import DaphneServer, start_daphne  # noqa: E402

RESULTS_DIR = BASE_DIR / "bench" / "results"
LEGACY = "2025-11-25"
CLIENT_ID = "client_bench_streams"
PACKAGES = ("Django", "channels", "channels-redis", "daphne", "Twisted", "psycopg", "redis", "httpx")
# Settings a developer's shell may hold that must not reach the throw-away servers.
SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY", "SECRET_KEY",
                "ACCESS_TOKEN_TTL", "CORS_ALLOWED_ORIGINS", "SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXIES", "PUBLIC_URL")
FDS_PER_STREAM = 1  # this process: one socket per stream; A: one accepted socket per stream
FD_HEADROOM = 512
PROBE_TIMEOUT_SECONDS = 10  # a notification later than this counts as an error, not a sample


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="GET SSE streams held on A (1..10000, default 1000)")
    parser.add_argument("--samples", type=int, default=200, help="notification latency samples (default 200)")
    parser.add_argument("--probe-concurrency", type=int, default=4, help="latency samples in flight at once (default 4)")
    parser.add_argument("--open-concurrency", type=int, default=64, help="sessions/streams being opened at once (default 64)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="bound on the whole run (default 600)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/",
                        help="PostgreSQL server URL ending in '/', a role that may create databases")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server URL without database")
    parser.add_argument("--redis-db", type=int, default=7, help="Redis database to use; it is FLUSHED (default 7)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/streams-<timestamp>.json")
    args = parser.parse_args(argv)
    if not 1 <= args.streams <= 10_000:
        parser.error("--streams must be between 1 and 10000")
    if args.samples < 1 or args.probe_concurrency < 1 or args.open_concurrency < 1:
        parser.error("--samples, --probe-concurrency and --open-concurrency must be positive")
    return args


def raise_fd_limit(streams: int) -> int:
    """Raise the soft open-file limit to the hard one (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, streams * FDS_PER_STREAM + FD_HEADROOM)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    needed = streams * FDS_PER_STREAM + FD_HEADROOM
    if target < needed:
        raise SystemExit(f"--streams {streams} needs about {needed} open files; the hard limit is {hard} "
                         "(raise it with ulimit -Hn as root, or ask for fewer streams)")
    return target


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


# --- A held SSE stream over a raw connection ----------------------------------------------------------


@dataclass
class HeldStream:
    session: str
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    waiting: dict[str, asyncio.Future] = field(default_factory=dict)
    given_up: set[str] = field(default_factory=set)  # probe texts that timed out; arriving later is "late"
    late: int = 0
    task: asyncio.Task | None = None
    ended: bool = False
    opened_at: float = 0.0
    rank: int = -1  # the order in which the streams finished opening

    async def open(self, host: str, port: int, bearer: str, timeout: float) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=1 << 20)
        request = (f"GET /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {bearer}\r\n"
                   f"Accept: text/event-stream\r\nMCP-Protocol-Version: {LEGACY}\r\nMcp-Session-Id: {self.session}\r\n\r\n")
        self.writer.write(request.encode())
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            if status != b"200":
                raise RuntimeError(f"GET /mcp answered {head[:200]!r}")
            if b"transfer-encoding: chunked" not in head.lower():
                raise RuntimeError("expected a chunked SSE body")
            primed = asyncio.get_running_loop().create_future()
            self.task = asyncio.ensure_future(self._read(primed))
            await primed

    async def _read(self, primed: asyncio.Future) -> None:
        """Decode the chunked body into SSE events; resolve whoever waits for an event's text."""
        buffer = b""
        try:
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                buffer += (await self.reader.readexactly(size + 2))[:-2]  # the chunk and its CRLF
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    self._event(raw.decode(), primed)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self.ended = True
            if not primed.done():
                primed.set_exception(RuntimeError("stream ended before its priming event"))

    def _event(self, raw: str, primed: asyncio.Future) -> None:
        data = [line[5:].lstrip() for line in raw.split("\n") if line.startswith("data:")]
        has_id = any(line.startswith("id:") for line in raw.split("\n"))
        if has_id and not primed.done() and data in ([], [""]):
            primed.set_result(None)
            return
        if data and data[0]:
            text = json.loads("\n".join(data)).get("params", {}).get("data")
            waiter = self.waiting.pop(text, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
            elif text in self.given_up:
                self.late += 1

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


# --- The cluster -------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    a: DaphneServer | None
    b: DaphneServer | None
    database: str
    bearer: str


def start_cluster(args: argparse.Namespace, tmp: Path) -> Cluster:
    for name in SCRUBBED_ENV:
        os.environ.pop(name, None)
    database = "bench_streams_" + uuid.uuid4().hex[:12]
    with psycopg.connect(args.postgres + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    redis.Redis.from_url(f"{args.redis}/{args.redis_db}").flushdb()
    # Like any deployment of several processes: one database, one Redis, and the same secrets.
    env = {"DATABASE_URL": args.postgres + database, "REDIS_URL": f"{args.redis}/{args.redis_db}",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "DEBUG": "false", "LOG_LEVEL": "WARNING",
           "SECRET_KEY": secrets.token_urlsafe(50), "SIGNING_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           # The product settings plus the demo tool start-notification-stream (it lives in the tests).
           "DJANGO_SETTINGS_MODULE": "tests.settings_e2e"}
    cluster = Cluster(None, None, database, "")
    try:
        cluster.a = start_daphne(tmp / "a", env)
        cluster.b = start_daphne(tmp / "b", {**env, "PUBLIC_URL": cluster.a.url})
        secret = "bench-streams-" + uuid.uuid4().hex
        cluster.a.manage("shell", "-c", (
            "from oauth_app.models import Client;"
            f"Client(name='bench-streams', client_id={CLIENT_ID!r}, client_type='confidential', client_secret={secret!r},"
            "authorization_grant_type='client-credentials', token_endpoint_auth_method='client_secret_post').save()"))
        response = httpx.post(cluster.b.url + "/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                              "client_secret": secret, "scope": "mcp"}, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"POST /token on B answered {response.status_code}:\n{cluster.b.log()[-3000:]}")
        cluster.bearer = response.json()["access_token"]
    except BaseException as exc:
        stop_cluster(args, cluster)
        if isinstance(exc, subprocess.CalledProcessError):
            raise SystemExit(f"setting up daphne failed: {' '.join(exc.cmd[1:])}\n{exc.stderr[-3000:]}") from None
        raise
    return cluster


def stop_cluster(args: argparse.Namespace, cluster: Cluster) -> None:
    """Stop both servers (SIGTERM, then SIGKILL after 10 s), drop the database, flush the Redis database."""
    for server in (cluster.a, cluster.b):
        if server is not None:
            server.stop()
    drop_database(args, cluster.database)
    redis.Redis.from_url(f"{args.redis}/{args.redis_db}").flushdb()


def undelivered_probes(args: argparse.Namespace, cluster: Cluster) -> int:
    """Probe notifications stored by B that A never wrote to their stream (A marks each one it writes)."""
    with psycopg.connect(args.postgres + cluster.database) as db:
        row = db.execute("SELECT count(*) FROM mcp_app_event WHERE NOT delivered AND payload::text LIKE %s",
                         ("%Event from probe-%",)).fetchone()
    return int(row[0])


def drop_database(args: argparse.Namespace, database: str) -> None:
    with psycopg.connect(args.postgres + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def headers(bearer: str, session: str | None = None) -> dict[str, str]:
    result = {"Authorization": f"Bearer {bearer}", "Accept": "application/json, text/event-stream",
              "Content-Type": "application/json", "MCP-Protocol-Version": LEGACY}
    if session:
        result["Mcp-Session-Id"] = session
    return result


async def create_sessions(http: httpx.AsyncClient, cluster: Cluster, count: int, concurrency: int,
                          deadline: float) -> list[str]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench-streams", "version": "1"}}}
    sessions: list[str] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                return
            response = await http.post(cluster.b.url + "/mcp", headers=headers(cluster.bearer), json=body)
            response.raise_for_status()
            sessions.append(response.headers["mcp-session-id"])

    await asyncio.gather(*(one() for _ in range(count)))
    return sessions


async def open_streams(cluster: Cluster, sessions: list[str], concurrency: int, deadline: float) -> tuple[list[HeldStream], list[str]]:
    url = urlsplit(cluster.a.url)
    gate = asyncio.Semaphore(concurrency)
    held: list[HeldStream] = []
    errors: list[str] = []

    async def one(session: str) -> None:
        async with gate:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            stream = HeldStream(session)
            try:
                await stream.open(url.hostname, url.port, cluster.bearer, timeout=min(remaining, 120))
            except (OSError, RuntimeError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                await stream.close()
                return
            stream.opened_at, stream.rank = time.monotonic(), len(held)
            held.append(stream)

    await asyncio.gather(*(one(session) for session in sessions))
    return held, errors


async def measure_latency(http: httpx.AsyncClient, cluster: Cluster, streams: list[HeldStream], samples: int,
                          concurrency: int, deadline: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(samples))
    # Streams in a seeded random order: a problem tied to a stream's age shows apart from one tied to
    # the order of the samples.
    order = random.Random(12).sample(range(len(streams)), len(streams))

    async def worker() -> None:
        for index in counter:
            if time.monotonic() > deadline:
                return
            stream = streams[order[index % len(streams)]]
            caller = f"probe-{index}"
            text = f"[1/1] Event from {caller}"
            arrived = asyncio.get_running_loop().create_future()
            stream.waiting[text] = arrived
            body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "start-notification-stream",
                               "arguments": {"interval": 0, "count": 1, "caller": caller, "target": "session"}}}
            sent = time.perf_counter()
            try:
                response = await http.post(cluster.b.url + "/mcp", headers=headers(cluster.bearer, stream.session), json=body)
                answer = response.json() if response.status_code == 200 else {}
                if "result" not in answer or answer["result"].get("isError"):
                    raise RuntimeError(f"tools/call on B answered {response.status_code}: {response.text[:150]}")
                async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                    received = await arrived
            except TimeoutError:
                stream.waiting.pop(text, None)
                stream.given_up.add(text)
                errors.append(f"the notification of {caller} did not arrive within {PROBE_TIMEOUT_SECONDS} s although "
                              f"tools/call succeeded (stream opened #{stream.rank}, "
                              f"{sent - stream.opened_at:.0f} s before the call)")
                continue
            except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                stream.waiting.pop(text, None)
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append((received - sent) * 1000)

    try:
        async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        errors.append("--max-seconds ran out during the latency samples")
    return latencies, errors


async def run(args: argparse.Namespace, cluster: Cluster, started: float) -> dict:
    deadline = started + args.max_seconds
    a_pid = cluster.a.process.pid
    limits = httpx.Limits(max_connections=args.open_concurrency + args.probe_concurrency,
                          max_keepalive_connections=args.open_concurrency + args.probe_concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        # Warm A up (imports, pool, Redis connections) so its baseline RSS is that of a serving process.
        warm = await create_sessions(http, cluster, 1, 1, deadline)
        warm_streams, _ = await open_streams(cluster, warm, 1, deadline)
        await measure_latency(http, cluster, warm_streams, 3, 1, deadline)
        for stream in warm_streams:
            await stream.close()

        progress(f"creating {args.streams} sessions on B")
        phase = time.monotonic()
        sessions = await create_sessions(http, cluster, args.streams, args.open_concurrency, deadline)
        sessions_seconds = time.monotonic() - phase
        rss_before = rss_kib(a_pid)
        cpu_before = cpu_seconds(a_pid)
        progress(f"opening {len(sessions)} GET streams on A")
        phase = time.monotonic()
        streams, open_errors = await open_streams(cluster, sessions, args.open_concurrency, deadline)
        open_seconds = time.monotonic() - phase
        rss_after = rss_kib(a_pid)
        cpu_open = cpu_seconds(a_pid) - cpu_before
        progress(f"{len(streams)} streams open; {args.samples} latency samples")
        phase = time.monotonic()
        latencies, probe_errors = await measure_latency(http, cluster, streams, args.samples, args.probe_concurrency,
                                                        deadline) if streams else ([], [])
        probe_seconds = time.monotonic() - phase
        still_open = sum(1 for stream in streams if not stream.ended)
        undelivered = undelivered_probes(args, cluster)
        rss_end = rss_kib(a_pid)
        await asyncio.gather(*(stream.close() for stream in streams))
    held = len(streams)
    return {
        "streams_requested": args.streams,
        "sessions_created": len(sessions),
        "streams_held": held,
        "streams_still_open_after_probes": still_open,
        "open_errors": len(open_errors),
        "open_error_samples": open_errors[:5],
        "seconds": {"sessions": round(sessions_seconds, 2), "open_streams": round(open_seconds, 2),
                    "latency": round(probe_seconds, 2)},
        "a_rss_kib": {"before_streams": rss_before, "after_streams": rss_after, "after_latency": rss_end},
        "rss_per_stream_kib": round((rss_after - rss_before) / held, 2) if held else None,
        "a_cpu_ms_per_stream_opened": round(cpu_open * 1000 / held, 2) if held else None,
        "latency_ms": {
            "samples": len(latencies), "errors": len(probe_errors), "error_samples": probe_errors[:100],
            "p50": round(percentile(latencies, 50), 2), "p90": round(percentile(latencies, 90), 2),
            "p99": round(percentile(latencies, 99), 2),
            "mean": round(statistics.fmean(latencies), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
            "arrived_late": sum(stream.late for stream in streams),
            "stored_but_never_written_by_a": undelivered,
        },
        "out_of_time": time.monotonic() > deadline,
    }


def report(result: dict, args: argparse.Namespace, setup_seconds: float) -> None:
    held, lat = result["streams_held"], result["latency_ms"]
    print(f"Streams benchmark: GET SSE streams held on daphne A, notifications from tool calls on daphne B "
          f"(PostgreSQL + Redis db {args.redis_db}); setup {setup_seconds:.1f} s")
    print(f"  sessions created (initialize on B): {result['sessions_created']} in {result['seconds']['sessions']} s")
    print(f"  streams held on A:                  {held} of {args.streams} in {result['seconds']['open_streams']} s "
          f"({result['open_errors']} failed to open); {result['streams_still_open_after_probes']} still open at the end")
    rss = result["a_rss_kib"]
    print(f"  A's RSS:                            {rss['before_streams'] / 1024:.1f} MiB before, "
          f"{rss['after_streams'] / 1024:.1f} MiB with {held} streams, {rss['after_latency'] / 1024:.1f} MiB after the probes")
    if held:
        print(f"  RSS per stream:                     {result['rss_per_stream_kib']} KiB "
              f"(A's CPU per stream opened: {result['a_cpu_ms_per_stream_opened']} ms)")
    print(f"  notification latency B -> A:        p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, "
          f"max {lat['max']} ms ({lat['samples']} samples, {lat['errors']} errors, "
          f"{args.probe_concurrency} in flight, every stream open)")
    if lat["errors"]:
        print(f"  of the notifications not seen in time: {lat['arrived_late']} arrived later; "
              f"{lat['stored_but_never_written_by_a']} are stored in PostgreSQL but A never wrote them to their stream")
    if result["out_of_time"]:
        print(f"  NOTE: --max-seconds {args.max_seconds:g} ran out; the figures cover what was done by then")
    for sample in result["open_error_samples"] + lat["error_samples"][:10]:
        print(f"  error: {sample}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    fd_limit = raise_fd_limit(args.streams)
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        cluster = start_cluster(args, Path(tmp))
        setup_seconds = time.monotonic() - started
        try:
            result = asyncio.run(run(args, cluster, started))
        finally:
            stop_cluster(args, cluster)
    report(result, args, setup_seconds)
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"streams-{stamp}.json"
        path.write_text(json.dumps({
            "benchmark": "streams", "started": stamp, "options": vars(args), "fd_limit": fd_limit,
            "setup_seconds": round(setup_seconds, 2), "result": result,
            "machine": machine_info(PACKAGES), "load_average": os.getloadavg(),
        }, indent=2))
        print(f"\nResults written to {path.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
