#!/usr/bin/env python
"""How close ``/mcp`` comes to daphne's own ceiling, beside the SDK: three servers, one run.

    .venv/bin/python bench/daphne_floor.py                 # 3 alternating rounds of 4 s, 64 connections
    .venv/bin/python bench/daphne_floor.py --seconds 6 --rounds 2

Servers, each one process, measured in alternating rounds with ``bench_mcp.py``'s load generator
and workload (modern 2026-07-28 ``tools/call`` of ``echo``): **floor**, ``bench/floor_app.py`` on
daphne (an ASGI app that only decodes the body and answers; daphne writes its access log as for
ours); **ours**, ``daphne project.asgi:application`` with the real JWT check; **sdk**, the official
SDK's server under uvicorn, as in ``bench_mcp.py``. It prints requests per second, server CPU per
request and the ratios, and writes ``bench/results/floor-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import bench_mcp as b  # bench/ is sys.path[0] when run as a script
from machine import machine_info
from tests.support.processes import stop_process

VENV_BIN = Path(sys.executable).parent


class FloorServer:
    def __init__(self, tmp: Path) -> None:
        self.sock = b.listening_socket()
        self.port = self.sock.getsockname()[1]
        with open(tmp / "floor.log", "w") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "daphne"), "--fd", str(self.sock.fileno()), "bench.floor_app:application"],
                cwd=b.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, pass_fds=(self.sock.fileno(),),
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(b.BASE_DIR)})

    def stop(self) -> None:
        stop_process(self.process)
        self.sock.close()


async def run(args: argparse.Namespace, tmp: Path) -> dict:
    floor = FloorServer(tmp)
    sdk = b.UvicornServer(tmp, "sdk", "--access-log")  # all three write their default access log
    ours, client_id = b.start_ours(tmp / "ours", "bench.settings_bench")
    try:
        token = await b.obtain_token(b.port_of(ours.url), client_id)
        workload = b.Workload("modern", "tools/call")
        servers = {"floor": (floor.port, floor.process.pid, None), "ours": (b.port_of(ours.url), ours.process.pid, token),
                   "sdk": (sdk.port, sdk.process.pid, None)}
        for name, (port, _, tok) in servers.items():
            await asyncio.wait_for(b.sanity(b.Pair(name, port, 0, tok), workload), timeout=90)
        totals = {name: {"requests": 0, "window": 0.0, "cpu": 0.0, "errors": 0} for name in servers}
        for round_number in range(args.rounds):
            for name, (port, pid, tok) in servers.items():
                print(f"  {name}, round {round_number + 1}…", file=sys.stderr, flush=True)
                sample = await b.measure(name, workload, port, tok, pid, args.concurrency, args.seconds, args.warmup)
                total = totals[name]
                total["requests"] += len(sample.latencies_ns)
                total["window"] += sample.window
                total["cpu"] += sample.server_cpu or 0.0
                total["errors"] += sum(sample.errors.values())
        rows = {}
        for name, total in totals.items():
            rows[name] = {"rps": round(total["requests"] / total["window"], 1) if total["window"] else 0.0,
                          "cpu_us_per_request": round(total["cpu"] / total["requests"] * 1e6, 1) if total["requests"] else None,
                          "errors": total["errors"], "requests": total["requests"]}
        return {"workload": workload.label, "era": workload.era, "connections": args.concurrency, "servers": rows,
                "ours_over_floor": round(rows["ours"]["rps"] / rows["floor"]["rps"], 3),
                "floor_over_sdk": round(rows["floor"]["rps"] / rows["sdk"]["rps"], 3),
                "ours_over_sdk": round(rows["ours"]["rps"] / rows["sdk"]["rps"], 3)}
    finally:
        for server in (floor, sdk, ours):
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(f"{'server':6} {'rps':>8} {'CPU µs/req':>11} {'errors':>6}")
    for name, row in result["servers"].items():
        print(f"{name:6} {row['rps']:>8,.0f} {row['cpu_us_per_request'] or 0:>11.0f} {row['errors']:>6}")
    print(f"ours / floor {result['ours_over_floor']:.2f}x, floor / sdk {result['floor_over_sdk']:.2f}x, "
          f"ours / sdk {result['ours_over_sdk']:.2f}x ({result['era']} {result['workload']}, {result['connections']} connections)")
    if not args.no_json:
        b.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = b.RESULTS_DIR / f"floor-{started:%Y%m%dT%H%M%SZ}.json"
        path.write_text(json.dumps({"benchmark": "daphne-floor", "started": started.isoformat(), "options": vars(args),
                                    "machine": machine_info(b.PACKAGES), **result}, indent=2))
        print(f"Results written to {path.relative_to(b.BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
