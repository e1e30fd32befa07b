#!/usr/bin/env python
"""Token benchmark: JWT access-token verification and /token issuance rates, on one process.

Run on demand (never by the test suite)::

    .venv/bin/python bench/bench_tokens.py                 # RS256, 5 s per case
    .venv/bin/python bench/bench_tokens.py --seconds 2 --algorithm ES256
    make bench                                             # same as the first line

It builds a throw-away SQLite database in a temporary folder (``DATA_DIR``; ``DATABASE_URL`` and
``REDIS_URL`` from the environment are ignored so a real database is never touched), migrates it,
creates a user, an active signing key, a public authorization-code client and a confidential
client-credentials client, then measures:

* ``verify_access_token`` on a valid token (pyjwt signature/claims + the indexed revocation
  lookup), on a token with a bad signature, and the signature/claims step alone (no DB);
* ``POST /token`` through Django's in-process test client (``django.test.Client``: the full
  middleware stack and view, but no ASGI server, socket or HTTP parsing) for the
  authorization-code exchange (codes prepared beforehand, untimed, by walking authorize +
  consent), rotating refresh, and client_credentials with ``client_secret_post``.

Every case is bounded by ``--seconds`` of measured time and ``--max-iterations``; the table
is printed and the results are written as JSON to ``bench/results/tokens-<UTC timestamp>.json``.
"""

from __future__ import annotations


import argparse
import base64
import cProfile
import io
import json
import math
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from machine import machine_info as shared_machine_info  # bench/ is sys.path[0] when run as a script
from typing import Callable

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
PUBLIC_URL = "http://127.0.0.1:8000"
RESOURCE = PUBLIC_URL + "/mcp"
CALLBACK = "http://127.0.0.1:33418/callback"
ALGORITHMS = ("RS256", "ES256", "EdDSA")
TRANSPORT = "in-process django.test.Client (no ASGI server, no socket, no HTTP parsing)"

# Case ids, in the order they run. Issuance runs first so the verification lookups hit an
# access-token table that holds the few thousand rows the issuance cases wrote.
CASES = {
    "authorization_code": "POST /token authorization_code (public client, PKCE)",
    "refresh_token": "POST /token refresh_token (rotating)",
    "client_credentials": "POST /token client_credentials (client_secret_post)",
    "verify": "verify_access_token, valid token",
    "verify_rejected": "verify_access_token, bad signature (rejected)",
    "verify_no_db": "signature + claims only (no revocation lookup)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measured time per case, in seconds (default: 5)")
    parser.add_argument("--max-iterations", type=int, default=100_000,
                        help="hard cap on iterations per case (default: 100000)")
    parser.add_argument("--max-codes", type=int, default=2_000,
                        help="at most this many authorization codes are prepared (default: 2000)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations before each case (default: 20)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="RS256",
                        help="signing key algorithm (default: RS256)")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of: {', '.join(CASES)} (default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="after measuring, profile each case briefly (cProfile) and print where the time goes")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/tokens-*.json")
    parser.add_argument("--no-dot", action="store_true", help="skip the HTTP comparison with DOT's defaults")
    parser.add_argument("--dot-only", action="store_true", help="only the HTTP comparison with DOT's defaults")
    parser.add_argument("--http-seconds", type=float, default=None, help="measured time per HTTP round "
                        "(default: --seconds)")
    parser.add_argument("--http-rounds", type=int, default=2, help="alternating rounds per grant (default: 2)")
    parser.add_argument("--http-connections", type=int, default=8,
                        help="connections per HTTP round, code exchange and refresh (default: 8)")
    parser.add_argument("--http-grants", default="client_credentials,authorization_code,refresh_token",
                        help="comma-separated subset of the HTTP grants (default: all three)")
    args = parser.parse_args(argv)
    args.cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if args.seconds <= 0 or args.max_iterations < 1 or args.max_codes < 1 or args.warmup < 0:
        parser.error("--seconds, --max-iterations and --max-codes must be positive, --warmup >= 0")
    return args


def configure_django(data_dir: str) -> None:
    """Point the settings at a throw-away SQLite database, then ``django.setup()``.

    ``project.settings`` reads the environment at import time, so this must run first.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["DATA_DIR"] = data_dir
    os.environ["PUBLIC_URL"] = PUBLIC_URL
    os.environ["DEBUG"] = "false"  # DEBUG would record every SQL query and skew the numbers
    for name in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY"):
        os.environ.pop(name, None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(BASE_DIR))

    import django

    django.setup()
    # Instruments template rendering so tests.support.oauth can read the consent form from
    # response.context (the /token path renders no template, so the timed cases are unaffected).
    from django.test.utils import setup_test_environment

    setup_test_environment()


# --- Measurement ---------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    name: str
    iterations: int
    seconds: float  # sum of the measured per-iteration times
    wall_seconds: float  # including untimed preparation (authorization codes) and loop overhead
    latencies_ns: list[int] = field(repr=False)
    note: str = ""
    queries: int | None = None  # SQL statements in one (extra, untimed) iteration

    @property
    def per_second(self) -> float:
        return self.iterations / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies_ns)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] / 1e6

    def as_dict(self) -> dict:
        lat = self.latencies_ns
        return {
            "case": self.case,
            "name": self.name,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 4),
            "wall_seconds": round(self.wall_seconds, 4),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile_ms(50), 4),
            "p99_ms": round(self.percentile_ms(99), 4),
            "mean_ms": round(sum(lat) / len(lat) / 1e6, 4),
            "min_ms": round(min(lat) / 1e6, 4),
            "max_ms": round(max(lat) / 1e6, 4),
            "queries_per_iteration": self.queries,
            "note": self.note,
        }


def measure(case: str, step: Callable[[], int], args: argparse.Namespace, note: str = "") -> Result:
    """Call ``step`` (which returns the nanoseconds it measured) until the time or count budget is spent.

    A wall-clock guard (3x the budget + 10 s) also stops a case whose untimed preparation
    dominates, and the authorization-code case stops when ``--max-codes`` codes are used up.
    """
    budget_ns = int(args.seconds * 1e9)
    wall_limit = args.seconds * 3 + 10
    latencies: list[int] = []
    measured = 0
    notes = [note] if note else []
    started = time.perf_counter()
    try:
        for _ in range(args.warmup):
            step()
        started = time.perf_counter()
        while measured < budget_ns and len(latencies) < args.max_iterations:
            ns = step()
            latencies.append(ns)
            measured += ns
            if time.perf_counter() - started > wall_limit:
                notes.append("stopped by the wall-clock guard")
                break
    except CodesExhausted:
        notes.append(f"stopped: --max-codes={args.max_codes} codes used up")
    if not latencies:
        raise SystemExit(f"{case}: nothing measured (raise --max-codes?)")
    wall = time.perf_counter() - started
    return Result(case, CASES[case], len(latencies), measured / 1e9, wall, latencies, "; ".join(notes))


class CodesExhausted(Exception):
    """``--max-codes`` authorization codes have been prepared and used."""


def timed(fn: Callable[[], object]) -> tuple[int, object]:
    t0 = time.perf_counter_ns()
    value = fn()
    return time.perf_counter_ns() - t0, value


# --- Fixtures ------------------------------------------------------------------------------------


class Fixtures:
    """The user, signing key, clients and HTTP clients the cases use."""

    def __init__(self, algorithm: str) -> None:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client as HttpClient

        from oauth_app import keys
        from oauth_app.models import Client

        call_command("migrate", interactive=False, verbosity=0)
        # No password: force_login needs none, and PBKDF2 would only slow the setup down.
        self.user = get_user_model().objects.create_user("bench-user")
        self.key, _ = keys.activate(keys.create_key(algorithm).kid)

        self.public_client = Client(
            name="Bench public client",
            client_type=Client.CLIENT_PUBLIC,
            authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
            redirect_uris=CALLBACK,
            token_endpoint_auth_method=Client.AuthMethod.NONE,
        )
        self.public_client.full_clean()
        self.public_client.save()

        self.client_secret = "bench-secret-" + "x" * 40
        self.confidential_client = Client(
            name="Bench client-credentials client",
            client_type=Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
            redirect_uris="",
            token_endpoint_auth_method=Client.AuthMethod.CLIENT_SECRET_POST,
            client_secret=self.client_secret,
        )
        self.confidential_client.full_clean()
        self.confidential_client.save()
        # DOT hashes the secret on save with OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"].
        self.secret_hasher = self.confidential_client.client_secret.split("$", 1)[0]

        server = {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000"}
        self.browser = HttpClient(enforce_csrf_checks=True, **server)  # the signed-in person
        self.browser.force_login(self.user)
        self.http = HttpClient(**server)  # the OAuth client talking to /token (no session)

    def code(self):
        """Walk authorize + consent (untimed); return ``(code, pkce)``."""
        from tests.support.oauth import Pkce, obtain_code

        pkce = Pkce.new()
        return obtain_code(self.browser, self.public_client.client_id, CALLBACK, pkce), pkce

    def exchange(self, code: str, pkce) -> dict:
        response = self.http.post("/token", {
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": self.public_client.client_id, "code_verifier": pkce.verifier,
        })
        return _ok(response)


def _ok(response) -> dict:
    if response.status_code != 200:
        raise SystemExit(f"/token answered {response.status_code}: {response.content[:500]!r}")
    return response.json()


def count_queries(fn: Callable[[], object]) -> int:
    """How many SQL statements (BEGIN/COMMIT included) one call of ``fn`` runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def sqlite_pragmas() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        return {name: cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")}


def tamper_signature(token: str) -> str:
    """The same token with one byte of its signature flipped (a well-formed but invalid JWT)."""
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")])


# --- Cases ---------------------------------------------------------------------------------------


def make_steps(fx: Fixtures, args: argparse.Namespace) -> tuple[dict[str, tuple[Callable[[], int], str]], dict]:
    """``(case -> (step, note), code-pool counters)``; a step does one iteration and returns its measured ns."""
    from oauth_app import tokens
    from oauth_app.exceptions import InvalidToken

    steps: dict[str, tuple[Callable[[], int], str]] = {}

    # Authorization code: a pool of prepared codes, refilled (untimed) in batches sized to what the
    # remaining budget needs. Codes live 60 s, so they are never prepared far ahead.
    pool: list = []
    state = {"prepared": 0, "exchanged_ns": 0, "exchanged": 0, "prepare_ns": 0}

    def authorization_code() -> int:
        if not pool:
            if state["prepared"] >= args.max_codes:
                raise CodesExhausted
            mean = state["exchanged_ns"] / state["exchanged"] if state["exchanged"] else 10e6
            wanted = (args.seconds * 1e9 - state["exchanged_ns"]) / mean + 1
            batch = int(min(max(wanted, 1), 100, args.max_codes - state["prepared"]))
            t0 = time.perf_counter_ns()
            pool.extend(fx.code() for _ in range(batch))
            state["prepare_ns"] += time.perf_counter_ns() - t0
            state["prepared"] += batch
        code, pkce = pool.pop()
        ns, _ = timed(lambda: fx.exchange(code, pkce))
        state["exchanged_ns"] += ns
        state["exchanged"] += 1
        return ns

    steps["authorization_code"] = (authorization_code, "codes prepared untimed via GET+POST /authorize")

    # Rotating refresh: each request presents the refresh token the previous one returned.
    refresh = {"token": fx.exchange(*fx.code())["refresh_token"]}

    def refresh_token() -> int:
        data = {"grant_type": "refresh_token", "refresh_token": refresh["token"],
                "client_id": fx.public_client.client_id}
        ns, response = timed(lambda: fx.http.post("/token", data))
        refresh["token"] = _ok(response)["refresh_token"]
        return ns

    steps["refresh_token"] = (refresh_token, "")

    cc = {"grant_type": "client_credentials", "client_id": fx.confidential_client.client_id,
          "client_secret": fx.client_secret, "scope": "mcp"}

    def client_credentials() -> int:
        ns, response = timed(lambda: fx.http.post("/token", cc))
        _ok(response)
        return ns

    steps["client_credentials"] = (client_credentials, f"secret hashed with {fx.secret_hasher}")

    # Verification. The token comes from a real exchange, so its row exists for the revocation lookup.
    valid = fx.exchange(*fx.code())["access_token"]
    bad = tamper_signature(valid)
    tokens.verify_access_token(valid, RESOURCE)  # sanity: valid verifies...
    try:
        tokens.verify_access_token(bad, RESOURCE)
    except InvalidToken:
        pass
    else:  # pragma: no cover - would mean the benchmark measures the wrong thing
        raise SystemExit("the tampered token verified")

    def verify() -> int:
        t0 = time.perf_counter_ns()
        tokens.verify_access_token(valid, RESOURCE)
        return time.perf_counter_ns() - t0

    def verify_rejected() -> int:
        t0 = time.perf_counter_ns()
        try:
            tokens.verify_access_token(bad, RESOURCE)
        except InvalidToken:
            return time.perf_counter_ns() - t0
        raise SystemExit("the tampered token verified")

    def verify_no_db() -> int:
        t0 = time.perf_counter_ns()
        tokens._decode(valid, RESOURCE)  # what verify_access_token does before its DB lookup
        return time.perf_counter_ns() - t0

    steps["verify"] = (verify, "includes the revocation lookup (1 indexed query)")
    steps["verify_rejected"] = (verify_rejected, "fails in pyjwt before any query")
    steps["verify_no_db"] = (verify_no_db, "oauth_app.tokens._decode: the part before the query")
    return steps, state


def profile(case: str, step: Callable[[], int], args: argparse.Namespace, top: int = 18) -> str:
    """cProfile one second (or 300 iterations) of ``case``; the top functions by internal time."""
    profiler = cProfile.Profile()
    deadline = time.perf_counter() + min(1.0, args.seconds)
    count = 0
    profiler.enable()
    try:
        while time.perf_counter() < deadline and count < 300:
            step()
            count += 1
    except CodesExhausted:
        pass
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return f"--- profile: {case} ({count} iterations, profiled so slower) ---\n{out.getvalue()}"


# --- Output --------------------------------------------------------------------------------------


PACKAGES = ("Django", "django-oauth-toolkit", "oauthlib", "PyJWT", "cryptography")


def machine_info() -> dict:
    return shared_machine_info(PACKAGES)


def table(results: list[Result]) -> str:
    headers = ("case", "iterations", "seconds", "per second", "p50 ms", "p99 ms", "queries/op")
    rows = [(r.name, f"{r.iterations}", f"{r.seconds:.2f}", f"{r.per_second:,.0f}",
             f"{r.percentile_ms(50):.3f}", f"{r.percentile_ms(99):.3f}", "?" if r.queries is None else f"{r.queries}")
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def versus_dot(args: argparse.Namespace, started: datetime) -> dict:
    """The HTTP comparison (``bench/tokens_vs_dot.py``), in its own temporary folder."""
    import asyncio

    sys.path.insert(0, str(BASE_DIR))
    import tokens_vs_dot

    seconds = args.http_seconds or args.seconds
    print(f"/token over HTTP, {started:%Y-%m-%d %H:%M} UTC: ours (bench.settings_bench) vs django-oauth-toolkit 3.4.1 "
          f"defaults (bench.settings_dot_peer), both one daphne process on SQLite; {args.http_rounds} alternating "
          f"rounds of {seconds:g} s per grant")
    with tempfile.TemporaryDirectory(prefix="bench-tokens-http-", ignore_cleanup_errors=True) as tmp:
        grants = tuple(g.strip() for g in args.http_grants.split(",") if g.strip())
        results = asyncio.run(tokens_vs_dot.compare(Path(tmp), seconds, 1.0, args.http_rounds, args.http_connections,
                                                    grants))
    print(tokens_vs_dot.table(results))
    print(f"  client secrets hashed with: ours {results['hashers']['ours']}, DOT {results['hashers']['dot']}")
    print("  goals: client_credentials >= 50x; authorization_code and refresh_token (public client) >= 1.5x\n")
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    http = None if args.no_dot else versus_dot(args, started)
    if args.dot_only:
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = RESULTS_DIR / f"tokens-http-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
            path.write_text(json.dumps({"benchmark": "tokens-http", "started_at": started.isoformat(timespec="seconds"),
                                        "machine": machine_info(), "versus_dot": http}, indent=2) + "\n")
            print(f"Results written to {path.relative_to(BASE_DIR)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-tokens-", ignore_cleanup_errors=True) as data_dir:
        configure_django(data_dir)
        t0 = time.perf_counter()
        fx = Fixtures(args.algorithm)
        steps, code_state = make_steps(fx, args)
        setup_seconds = time.perf_counter() - t0

        print(f"Token benchmark: {args.algorithm} signing key (kid {fx.key.kid[:12]}…), one process, "
              f"throw-away SQLite in {data_dir}")
        print(f"/token requests: {TRANSPORT}")
        print(f"Budget per case: {args.seconds:g} s measured or {args.max_iterations} iterations; "
              f"warm-up {args.warmup}; setup took {setup_seconds:.1f} s\n")

        results: list[Result] = []
        for case in args.cases:
            step, note = steps[case]
            print(f"  measuring {case}…", file=sys.stderr, flush=True)
            result = measure(case, step, args, note)
            if case == "authorization_code":
                result.note += (f"; {code_state['prepared']} codes prepared (warm-up included) in "
                                f"{code_state['prepare_ns'] / 1e9:.1f} s (untimed)")
                code = fx.code()  # so the counted iteration is the exchange alone
                result.queries = count_queries(lambda: fx.exchange(*code))
            else:
                result.queries = count_queries(step)
            results.append(result)

        from oauth2_provider.models import AccessToken, RefreshToken

        rows = {"access_tokens": AccessToken.objects.count(), "refresh_tokens": RefreshToken.objects.count()}
        print()
        print(table(results))
        for r in results:
            if r.note:
                print(f"  {r.case}: {r.note}")
        print(f"  database after the run: {rows['access_tokens']} access tokens, "
              f"{rows['refresh_tokens']} refresh tokens")

        if args.profile:
            for case in args.cases:
                print()
                print(profile(case, steps[case][0], args))

        report = {
            "benchmark": "tokens",
            "started_at": started.isoformat(timespec="seconds"),
            "algorithm": args.algorithm,
            "transport": TRANSPORT,
            "database": {"engine": f"SQLite {sqlite3.sqlite_version}", "folder": data_dir, **sqlite_pragmas()},
            "options": {"seconds": args.seconds, "max_iterations": args.max_iterations,
                        "max_codes": args.max_codes, "warmup": args.warmup, "cases": args.cases},
            "client_secret_hasher": fx.secret_hasher,
            "setup_seconds": round(setup_seconds, 3),
            "rows_after_run": rows,
            "machine": machine_info(),
            "results": [r.as_dict() for r in results],
            "versus_dot": http,
        }
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = RESULTS_DIR / f"tokens-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
            path.write_text(json.dumps(report, indent=2) + "\n")
            print(f"\nResults written to {path.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
