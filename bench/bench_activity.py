#!/usr/bin/env python
"""Activity-log benchmark: what recording every ``tools/call`` costs ``/mcp``.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_activity.py                 # 4 rounds of 5 s per server, about 1 minute
    .venv/bin/python bench/bench_activity.py --seconds 10 --rounds 3

Two daphne processes from ``bench/bench_mcp.py``'s harness, same machine, same SQLite setup:

* **plain**: ``bench.settings_activity_plain``, ``/mcp`` with the activity log switched off
  (``MCP_APP["ACTIVITY_LOG"] = False``, a switch only this benchmark uses);
* **logged**: ``bench.settings_activity``, the same code as in production: the dispatcher's
  ``tool_finished`` hook calls :func:`activity.log.record_tool_call` once per ``tools/call``, and
  the background writer batches one row per call into the database of that server.

Both call ``bench.benchapp``'s ``echo``. They are measured in alternating rounds (plain, logged, plain, logged, ...) with the modern-era
(2026-07-28, stateless) ``tools/call`` load of ``bench_mcp.py``, so drift on a shared machine hits
both. The summary is the ratio logged / plain of the summed requests per second and of the server
CPU per request; the goal is at most 5 % lost. On a shared machine the rps ratio drifts with
the neighbours' load, so the script also measures, on the logged server's own database once the
rounds are over, the CPU one event costs to queue (the request's share) and to write (the writer
thread's), as a fraction of the plain server's CPU per request: the figure least moved by noise.
Results go to ``bench/results/activity-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.bench_mcp import (  # noqa: E402
    BASE_DIR, RESULTS_DIR, Case, check_server, machine_info, obtain_token, parse_args as mcp_args, run_case,
    start_ours, table, while_alive,
)

CASES = {"plain": Case("plain-modern", "ours", "modern", "echo"),
         "logged": Case("logged-modern", "ours", "modern", "echo")}
SETTINGS = {"plain": "bench.settings_activity_plain", "logged": "bench.settings_activity"}
MICRO = """
import json, time
from django.conf import settings
from activity import log
settings.ACTIVITY_BACKGROUND, settings.ACTIVITY_BATCH_SIZE, settings.ACTIVITY_FLUSH_SECONDS = True, 10**9, 3600
n = 20000
t = time.process_time()
for i in range(n):
    log.record_tool_call(tool="echo", outcome="ok", duration_ms=0.01, client_id="client_bench", user_id=None)
queue = (time.process_time() - t) / n
t = time.process_time()
written = log._writer.flush()
print(json.dumps({"queue_us": queue * 1e6, "write_us": (time.process_time() - t) / written * 1e6}))
"""


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round and server (default 5)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent workers (default 32)")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    load = mcp_args(["--seconds", str(args.seconds), "--concurrency", str(args.concurrency), "--warmup", "1"])
    return args, load


async def bench(args, load, tmp: Path) -> dict:
    servers, tokens = {}, {}
    try:
        for name, settings in SETTINGS.items():
            print(f"  starting {name} daphne…", file=sys.stderr, flush=True)
            server, client_id = start_ours(tmp / name, settings)
            servers[name] = server
            async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
                tokens[name] = await while_alive(server, obtain_token(client, server.url, client_id), "POST /token")
            await while_alive(server, check_server(CASES[name], server.url, tokens[name]), "first tools/call")
        results = {name: [] for name in SETTINGS}
        for round_ in range(args.rounds):
            for name in SETTINGS:
                print(f"  round {round_ + 1}: {name}…", file=sys.stderr, flush=True)
                server = servers[name]
                results[name].append(await run_case(CASES[name], server.url, tokens[name], server.process.pid, load))
        rows = [r for pair in zip(*results.values()) for r in pair]
        print(table(rows))
        summary = {}
        for name, runs in results.items():
            requests = sum(r.requests for r in runs)
            window = sum(r.window for r in runs)
            cpu = sum(r.server_cpu or 0 for r in runs)
            errors = sum(r.error_count for r in runs)
            summary[name] = {"requests": requests, "rps": requests / window, "server_cpu_ms_per_request":
                             1000 * cpu / requests if requests else None, "errors": errors}
        rps_ratio = summary["logged"]["rps"] / summary["plain"]["rps"]
        cpu_ratio = summary["logged"]["server_cpu_ms_per_request"] / summary["plain"]["server_cpu_ms_per_request"]
        # In-process cost per event, on the logged server's own database while it is idle: CPU
        # time to queue (the part on the request's path) and to write (the writer thread).
        micro = json.loads(servers["logged"].manage("shell", "-c", MICRO).stdout.strip().splitlines()[-1])
        share = (micro["queue_us"] + micro["write_us"]) / 1000 / summary["plain"]["server_cpu_ms_per_request"]
        print(f"per event: queue {micro['queue_us']:.1f} µs + write {micro['write_us']:.1f} µs of CPU "
              f"= {share * 100:.1f}% of plain's server CPU per request")
        logged_rows = servers["logged"].manage("shell", "-c", "from activity.models import Event;"
                                               "print(Event.objects.filter(kind='mcp.tool_call').count())")
        written = int(logged_rows.stdout.strip().splitlines()[-1])
        print(f"\nlogged / plain: rps {rps_ratio:.3f}x ({(1 - rps_ratio) * 100:+.1f}% lost), "
              f"server CPU per request {cpu_ratio:.3f}x; errors plain {summary['plain']['errors']}, "
              f"logged {summary['logged']['errors']}; tool-call rows written by the logged server: {written}")
        return {"benchmark": "activity", "options": vars(args), "summary": summary, "rps_ratio": rps_ratio,
                "per_event_cpu_us": micro, "per_event_share_of_request_cpu": share,
                "cpu_ratio": cpu_ratio, "rows_written": written, "machine": machine_info(),
                "results": {name: [r.as_dict() for r in runs] for name, runs in results.items()}}
    finally:
        for server in servers.values():
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args, load = parse_args(argv)
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-activity-", ignore_cleanup_errors=True) as tmp:
        report = asyncio.run(bench(args, load, Path(tmp)))
    report["started_at"] = started.isoformat(timespec="seconds")
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"activity-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"Results written to {path.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
