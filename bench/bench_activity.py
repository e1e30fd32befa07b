#!/usr/bin/env python
"""Activity-log benchmark: what recording every ``tools/call`` costs ``/mcp``.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_activity.py                 # 16 rounds of 3 s per server and era, about 5 minutes
    .venv/bin/python bench/bench_activity.py --seconds 10 --rounds 3

Two daphne processes from ``bench/bench_mcp.py``'s harness, same machine, same SQLite setup:

* **plain**: ``bench.settings_activity_plain``, ``/mcp`` with the activity log switched off
  (``MCP_APP["ACTIVITY_LOG"] = False``, a switch only this benchmark uses);
* **logged**: ``bench.settings_activity``, the same code as in production: the dispatcher's
  ``tool_finished`` hook calls :func:`activity.log.record_tool_call` once per ``tools/call``, and
  the background writer batches one row per call into the database of that server.

Both call ``bench.benchapp``'s ``echo``. They are measured in alternating rounds (plain, logged,
then logged, plain, ...) with the ``tools/call`` load of ``bench_mcp.py`` in each era, so drift on a
shared machine hits both. The summary is the ratio logged / plain of the summed requests per
second and of the server CPU per request, and the median of the rounds' own ratios (each round's
two servers ran back to back); the goal is at most 5 % lost. The load repeats one call, so the
writer writes each second's identical calls as one row with their count (see
``activity.log._rows``): this load is that design's best case, so the script also measures, on
the logged server's own database once the rounds are over, the CPU one event costs to queue (the
request's share) and to write (the writer thread's), both for such a burst and for calls that
differ (a row each), as a fraction of the plain server's CPU per request. Run idle, that figure
understates a row's cost under load: the writer's SQLite work slows the event loop's core. With a
row per call, 16 rounds lost 2-8% here (after the writer stopped draining its queue until empty,
which had committed a small batch every few milliseconds and lost 10-15%).
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

from bench.bench_mcp import (  # noqa: E402
    BASE_DIR, PACKAGES, RESULTS_DIR, Pair, Workload, compare, obtain_token, paired_quartiles, paired_ratio, port_of,
    sanity, start_ours, table,
)
from machine import machine_info  # noqa: E402  (bench/ is sys.path[0] when run as a script)

SETTINGS = {"plain": "bench.settings_activity_plain", "logged": "bench.settings_activity"}
MICRO = """
import json, time
from django.conf import settings
from activity import log
settings.ACTIVITY_BACKGROUND, settings.ACTIVITY_BATCH_SIZE, settings.ACTIVITY_FLUSH_SECONDS = True, 10**9, 3600
n = 20000
found = {}
# Identical calls, as the load above makes (a burst: a few rows), and calls to n different tools
# (a row each: what one row costs). A first, unmeasured round of each: the server above is warm too.
for case, tool in (("burst", lambda i: "echo"), ("distinct", lambda i: f"tool-{i}")):
    for measured in (False, True):
        t = time.process_time()
        for i in range(n):
            log.record_tool_call(tool=tool(i), outcome="ok", duration_ms=0.01, client_id="client_bench", user_id=None)
        queue = (time.process_time() - t) / n
        t = time.process_time()
        written = log._writer.flush()
    found[case] = {"queue_us": queue * 1e6, "write_us": (time.process_time() - t) / written * 1e6}
print(json.dumps(found))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round and server (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed load before each round (default 1)")
    parser.add_argument("--rounds", type=int, default=16, help="alternating rounds (default 16)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--eras", default="modern,legacy", help="which eras' tools/call to load (default both)")
    parser.add_argument("--no-json", action="store_true")
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace, tmp: Path) -> dict:
    servers, pairs = {}, []
    try:
        for name, settings in SETTINGS.items():
            print(f"  starting {name} daphne…", file=sys.stderr, flush=True)
            server, client_id = start_ours(tmp / name, settings)
            servers[name] = server
            pairs.append(Pair(name, port_of(server.url), server.process.pid, await obtain_token(port_of(server.url),
                                                                                                 client_id)))
        summary: dict = {}
        rows = []
        for era in [e for e in args.eras.split(",") if e]:
            workload = Workload(era, "tools/call")
            for pair in pairs:
                await asyncio.wait_for(sanity(pair, workload), timeout=90)
            found = await compare(pairs, workload, args.concurrency, args.seconds, args.warmup, args.rounds)
            plain, logged = found["plain"], found["logged"]
            rows += [(plain, None), (logged, None)]
            summary[era] = {
                "plain": plain.as_dict(), "logged": logged.as_dict(),
                "rps_ratio": logged.rps / plain.rps if plain.rps else None,
                "rps_ratio_median_of_rounds": paired_ratio(logged, plain),
                "rps_ratio_rounds_quartiles": paired_quartiles(logged, plain),
                "cpu_ratio": (logged.cpu_ms_per_request / plain.cpu_ms_per_request
                              if logged.cpu_ms_per_request and plain.cpu_ms_per_request else None),
            }
        print(table(rows))
        # In-process cost per event, on the logged server's own database while it is idle: CPU
        # time to queue (the part on the request's path) and to write (the writer thread).
        written = json.loads(servers["logged"].manage(
            "shell", "-c", "import json; from django.db.models import Count, Sum; from activity.models import Event;"
            "print(json.dumps(Event.objects.filter(kind='mcp.tool_call').aggregate(rows=Count('pk'), calls=Sum('count'))))"
        ).stdout.strip().splitlines()[-1])
        micro = json.loads(servers["logged"].manage("shell", "-c", MICRO).stdout.strip().splitlines()[-1])
        burst, distinct = micro["burst"], micro["distinct"]
        for era, found in summary.items():
            cpu = found["plain"]["server_cpu_ms_per_request"]
            found["per_event_share_of_request_cpu"] = (burst["queue_us"] + burst["write_us"]) / 1000 / cpu if cpu else None
            found["per_row_share_of_request_cpu"] = ((distinct["queue_us"] + distinct["write_us"]) / 1000 / cpu
                                                     if cpu else None)
            median = found["rps_ratio_median_of_rounds"]
            low, high = found["rps_ratio_rounds_quartiles"] or (median, median)
            print(f"{era}: logged / plain rps {found['rps_ratio']:.3f}x ({(1 - found['rps_ratio']) * 100:+.1f}% lost; "
                  f"median of the rounds' ratios {median:.3f}x, {(1 - median) * 100:+.1f}% lost, quartiles "
                  f"{low:.3f}x-{high:.3f}x), "
                  f"server CPU per request {found['cpu_ratio']:.3f}x; a call with a row of its own costs "
                  f"{found['per_row_share_of_request_cpu'] * 100:.1f}% of plain's CPU per request when idle")
        print(f"CPU per event in the logged server's process, idle: a burst of identical calls queue "
              f"{burst['queue_us']:.1f} µs + write {burst['write_us']:.1f} µs; distinct calls (a row each) queue "
              f"{distinct['queue_us']:.1f} µs + write {distinct['write_us']:.1f} µs")
        print(f"tool calls recorded by the logged server: {written['calls']}, in {written['rows']} rows")
        return {"benchmark": "activity", "options": vars(args), "summary": summary, "per_event_cpu_us": micro,
                "rows_written": written, "machine": machine_info(PACKAGES)}
    finally:
        for server in servers.values():
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-activity-", ignore_cleanup_errors=True) as tmp:
        report = asyncio.run(bench(args, Path(tmp)))
    report["started_at"] = started.isoformat(timespec="seconds")
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"activity-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"Results written to {path.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
