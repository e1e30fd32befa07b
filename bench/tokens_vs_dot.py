"""``/token`` over HTTP: the project against django-oauth-toolkit 3.4.1 as it comes, both on daphne (used by bench_tokens.py).

Two daphne processes on throw-away SQLite databases: **ours** (``bench.settings_bench``) and the
**DOT peer** (``bench.settings_dot_peer``: DOT's validator, server, opaque tokens, ``TokenView`` and
default PBKDF2 client-secret hashing). Each gets the same clients: a confidential
client-credentials client with a secret (hashed by each server's own hasher) and a public PKCE
client. Three grants are measured in alternating rounds (A B A B), ``--http-connections``
connections each:

* ``client_credentials``: ``client_secret_post``, on two connections (see :data:`CC_CONNECTIONS`);
  the goal is ours >= 50x DOT's default (PBKDF2);
* ``authorization_code``: the exchange alone; the grants (with PKCE S256) are written straight
  into each database before the round, untimed, since the authorize step is not being measured;
* ``refresh_token``: each connection rotates its own refresh token chain.

Code exchange and refresh involve no secret (public client): the goal there is >= 1.5x DOT.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench_mcp import Connection, port_of, proc_cpu_seconds  # bench/ is on sys.path
from tests.support.daphne import DaphneServer, start_daphne

CALLBACK = "http://127.0.0.1:33418/callback"
SECRET = "bench-token-secret-" + "y" * 40
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
GRANTS = ("client_credentials", "authorization_code", "refresh_token")
SETUP = """
import json
from django.contrib.auth import get_user_model
from oauth_app.models import Client
user = get_user_model().objects.create_user("bench-user")
confidential = Client(name="bench cc", client_type=Client.CLIENT_CONFIDENTIAL, redirect_uris="",
    authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, token_endpoint_auth_method="client_secret_post",
    client_secret={secret!r})
confidential.full_clean(); confidential.save()
public = Client(name="bench public", client_type=Client.CLIENT_PUBLIC, redirect_uris={callback!r},
    authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE, token_endpoint_auth_method="none")
public.full_clean(); public.save()
print(json.dumps({{"confidential": confidential.client_id, "public": public.client_id,
                   "hash": confidential.client_secret.split("$")[0]}}))
"""
GRANT_ROWS = """
import json, secrets
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import Grant
from oauth_app.models import Client
user = get_user_model().objects.get(username="bench-user")
client = Client.objects.get(client_id={client_id!r})
codes = [secrets.token_urlsafe(30) for _ in range({count})]
Grant.objects.bulk_create([Grant(user=user, application=client, code=code, redirect_uri={callback!r}, scope="mcp",
    expires=timezone.now() + timedelta(seconds=55), code_challenge={challenge!r}, code_challenge_method="S256")
    for code in codes])
print(json.dumps(codes))
"""


@dataclass
class Server:
    name: str
    daphne: DaphneServer
    clients: dict

    @property
    def port(self) -> int:
        return port_of(self.daphne.url)

    def grants(self, count: int) -> list[str]:
        code = GRANT_ROWS.format(client_id=self.clients["public"], count=count, callback=CALLBACK, challenge=CHALLENGE)
        return json.loads(self.daphne.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    window: float = 0.0
    cpu: float | None = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies_ns) / self.window if self.window else 0.0

    def percentile_ms(self, p: float) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] / 1e6

    def as_dict(self) -> dict:
        r = lambda v, n=3: None if v is None else round(v, n)  # noqa: E731
        total = len(self.latencies_ns) + sum(self.errors.values())
        return {"ok": len(self.latencies_ns), "errors": self.errors, "error_samples": self.samples[:3],
                "window_seconds": r(self.window), "rps": r(self.rps, 2), "p50_ms": r(self.percentile_ms(50)),
                "p99_ms": r(self.percentile_ms(99)),
                "server_cpu_ms_per_request": r(1000 * self.cpu / total if self.cpu and total else None)}


def form_request(port: int, fields: dict[str, str]) -> bytes:
    body = urlencode(fields).encode()
    return (f"POST /token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def start(tmp: Path, name: str, settings: str, application: str) -> Server:
    env = {"DJANGO_SETTINGS_MODULE": settings, "DEBUG": "false", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                       os.environ.get("PYTHONPATH")]))}
    for variable in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY", "SECRET_KEY"):
        os.environ.pop(variable, None)
    daphne = start_daphne(tmp / name, env, application=application)
    clients = json.loads(daphne.manage("shell", "-c", SETUP.format(secret=SECRET, callback=CALLBACK))
                         .stdout.strip().splitlines()[-1])
    return Server(name, daphne, clients)


async def one(connection: Connection, request: bytes) -> tuple[int, dict]:
    status, _, body = await connection.exchange(request)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body[:200].decode(errors="replace")}


async def run_grant(server: Server, grant: str, connections: int, seconds: float, warmup: float) -> Tally:
    tally = Tally()
    port = server.port
    conns = [await Connection(port).open() for _ in range(connections)]
    codes: list[str] = []
    chains: list[str] = []
    try:
        if grant == "authorization_code":
            codes = server.grants(int(os.environ.get("BENCH_TOKEN_CODES", "3000")))
        if grant == "refresh_token":
            for code in server.grants(connections):
                status, body = await one(conns[0], form_request(port, {
                    "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                    "client_id": server.clients["public"], "code_verifier": VERIFIER}))
                if status != 200:
                    raise SystemExit(f"{server.name}: code exchange for the refresh chains failed: {status} {body}")
                chains.append(body["refresh_token"])
        begin = time.perf_counter()
        measure_from, deadline = begin + warmup, begin + warmup + seconds

        def next_request(worker: int) -> bytes | None:
            if grant == "client_credentials":
                return form_request(port, {"grant_type": "client_credentials", "client_id": server.clients["confidential"],
                                           "client_secret": SECRET, "scope": "mcp"})
            if grant == "authorization_code":
                if not codes:
                    return None
                return form_request(port, {"grant_type": "authorization_code", "code": codes.pop(),
                                           "redirect_uri": CALLBACK, "client_id": server.clients["public"],
                                           "code_verifier": VERIFIER})
            return form_request(port, {"grant_type": "refresh_token", "refresh_token": chains[worker],
                                       "client_id": server.clients["public"]})

        async def worker(index: int) -> None:
            while True:
                request = next_request(index)
                t0 = time.perf_counter()
                if request is None or t0 >= deadline:
                    return
                status, body = await one(conns[index], request)
                t1 = time.perf_counter()
                if status == 200 and grant == "refresh_token":
                    chains[index] = body["refresh_token"]
                # Completions inside the window count, whenever the request started: a peer that
                # takes seconds per request (PBKDF2) is measured by what it finishes in the window.
                if not measure_from <= t1 <= deadline:
                    continue
                if status == 200 and "access_token" in body:
                    tally.latencies_ns.append(int((t1 - t0) * 1e9))
                else:
                    kind = f"HTTP {status} {body.get('error', '')}".strip()
                    tally.errors[kind] = tally.errors.get(kind, 0) + 1
                    tally.samples.append(f"{kind}: {str(body)[:150]}")

        pid = server.daphne.process.pid
        tasks = [asyncio.ensure_future(worker(i)) for i in range(connections)]
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu0 = proc_cpu_seconds(pid)
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        cpu1 = proc_cpu_seconds(pid)  # CPU over the window, like the completions
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=warmup + 300)
        tally.window = deadline - measure_from
        tally.cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    finally:
        for connection in conns:
            await connection.close()
    return tally


CC_CONNECTIONS = 2
"""client_credentials runs on two connections: with PBKDF2 each of the peer's requests costs about a
second of CPU, so more connections only queue them (and nothing would finish inside a short window)."""


async def compare(tmp: Path, seconds: float, warmup: float, rounds: int, connections: int,
                  grants: tuple[str, ...] = GRANTS) -> dict:
    servers = [start(tmp, "ours", "bench.settings_bench", "project.asgi:application"),
               start(tmp, "dot", "bench.settings_dot_peer", "bench.dot_peer_asgi:application")]
    try:
        results: dict = {"hashers": {s.name: s.clients["hash"] for s in servers}, "grants": {},
                         "connections": {g: CC_CONNECTIONS if g == "client_credentials" else connections for g in grants}}
        for grant in grants:
            totals = {s.name: Tally() for s in servers}
            for round_number in range(rounds):
                for server in servers:
                    print(f"  /token {grant}: {server.name}, round {round_number + 1}…", file=sys.stderr, flush=True)
                    tally = await run_grant(server, grant, results["connections"][grant], seconds, warmup)
                    total = totals[server.name]
                    total.latencies_ns += tally.latencies_ns
                    for kind, n in tally.errors.items():
                        total.errors[kind] = total.errors.get(kind, 0) + n
                    total.samples += tally.samples
                    total.window += tally.window
                    total.cpu = None if total.cpu is None or tally.cpu is None else total.cpu + tally.cpu
            ours, dot = totals["ours"], totals["dot"]
            results["grants"][grant] = {"ours": ours.as_dict(), "dot": dot.as_dict(),
                                        "ratio_rps": round(ours.rps / dot.rps, 2) if dot.rps else None}
        return results
    finally:
        for server in servers:
            server.daphne.stop()


def table(results: dict) -> str:
    lines = [f"{'grant':20} {'conns':>5} {'server':6} {'ok':>6} {'errors':>6} {'rps':>9} {'p50 ms':>9} {'p99 ms':>9} "
             f"{'CPU ms/req':>10} {'ours/DOT':>9}"]
    for grant, row in results["grants"].items():
        for name in ("ours", "dot"):
            r = row[name]
            ratio = f"{row['ratio_rps']:.1f}x" if name == "ours" and row["ratio_rps"] else ""
            lines.append(f"{grant:20} {results['connections'][grant]:>5} {name:6} {r['ok']:>6} {sum(r['errors'].values()):>6} {r['rps']:>9,.1f} "
                         f"{r['p50_ms'] or 0:>9.2f} {r['p99_ms'] or 0:>9.2f} {r['server_cpu_ms_per_request'] or 0:>10.2f} "
                         f"{ratio:>9}")
    return "\n".join(lines)
