#!/usr/bin/env python
"""cProfile of the ``/mcp`` request path, in process: where one ``tools/call`` spends its CPU.

Run on demand (``make bench`` runs it after the throughput benchmarks)::

    .venv/bin/python bench/profile_mcp.py                  # 2,000 requests per era
    .venv/bin/python bench/profile_mcp.py --requests 500 --top 25

It builds a throw-away SQLite database (as ``bench_tokens.py`` does: ``DATA_DIR`` in a temporary
folder, environment scrubbed), a confidential client and a real JWT from ``/token``, then sends
``tools/call`` (the ``echo`` tool of ``bench.benchapp``) to ``project.asgi.application`` directly
over ASGI, sequentially, in both eras (legacy with a session, 2026-07-28 stateless). No socket and
no daphne: what remains is the application's own cost per request. Each era is profiled with
cProfile after a warm-up; the top functions (by own and cumulative time) and the mean wall time per
request are printed and written to ``bench/results/profile-mcp-<UTC timestamp>.txt``.

The same script runs unchanged against an older checkout (it only uses ``project.asgi``), which is
how the before/after profiles in the issue note were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
PUBLIC_URL = "http://127.0.0.1:8000"
LEGACY, MODERN = "2025-11-25", "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


def setup_django(data_dir: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_bench"
    os.environ["DATA_DIR"] = data_dir
    os.environ["PUBLIC_URL"] = PUBLIC_URL
    os.environ["DEBUG"] = "false"
    for name in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SIGNING_KEY_ENCRYPTION_KEY", "SECRET_KEY"):
        os.environ.pop(name, None)
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createsigningkey", "--activate", "--if-missing", verbosity=0)


def token() -> str:
    from django.test import Client as HttpClient

    from oauth_app.models import Client

    secret = "profile-secret-" + "x" * 40
    client = Client(name="profile", client_type=Client.CLIENT_CONFIDENTIAL, redirect_uris="",
                    authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
                    token_endpoint_auth_method="client_secret_post", client_secret=secret)
    client.full_clean()
    client.save()
    response = HttpClient().post("/token", {"grant_type": "client_credentials", "client_id": client.client_id,
                                            "client_secret": secret, "scope": "mcp"}, HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


async def call(app, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()

    async def receive():
        if messages:
            return messages.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/mcp", "raw_path": b"/mcp", "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def base_headers(raw_token: str) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {raw_token}".encode()),
            (b"accept", b"application/json, text/event-stream"), (b"content-type", b"application/json")]


async def prepare(app, raw_token: str, era: str) -> tuple[list[tuple[bytes, bytes]], dict]:
    headers = base_headers(raw_token)
    if era == "legacy":
        init = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "profile", "version": "1"}}}).encode()
        status, response_headers, body = await call(app, headers, init)
        assert status == 200, body
        headers += [(b"mcp-session-id", response_headers[b"mcp-session-id"]), (b"mcp-protocol-version", LEGACY.encode())]
        params = {"name": "echo", "arguments": {"text": "hi"}}
    else:
        headers += [(b"mcp-protocol-version", MODERN.encode()), (b"mcp-method", b"tools/call"), (b"mcp-name", b"echo")]
        params = {"name": "echo", "arguments": {"text": "hi"}, "_meta": META}
    return headers, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


async def run(app, headers, request: dict, n: int) -> float:
    body = json.dumps(request).encode()
    started = time.perf_counter()
    for _ in range(n):
        status, _, answer = await call(app, headers, body)
        if status != 200 or b'"hi"' not in answer:
            raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")
    return (time.perf_counter() - started) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="profiled requests per era (default: 2000)")
    parser.add_argument("--top", type=int, default=20, help="functions listed per table (default: 20)")
    parser.add_argument("--label", default="", help="a word for the output file name, e.g. before/after")
    args = parser.parse_args(argv)
    started = datetime.now(timezone.utc)
    out = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="profile-mcp-") as tmp:
        setup_django(tmp)
        raw = token()
        from project.asgi import application

        async def both() -> None:
            for era in ("legacy", "modern"):
                headers, request = await prepare(application, raw, era)
                await run(application, headers, request, max(50, args.requests // 10))  # warm-up
                plain = await run(application, headers, request, args.requests)
                profiler = cProfile.Profile()
                profiler.enable()
                profiled = await run(application, headers, request, args.requests)
                profiler.disable()
                print(f"=== {era}: tools/call echo, {args.requests} sequential requests over ASGI (no socket) ===",
                      file=out)
                print(f"mean wall time per request: {plain * 1e6:.0f} µs unprofiled, {profiled * 1e6:.0f} µs "
                      f"under cProfile", file=out)
                for key in ("tottime", "cumulative"):
                    stream = io.StringIO()
                    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(key).print_stats(args.top)
                    text = stream.getvalue()
                    print(f"--- top {args.top} by {key} ---", file=out)
                    print(text[text.find("   ncalls"):].rstrip(), file=out)
                print(file=out)

        asyncio.run(both())
    report = out.getvalue()
    print(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    path = RESULTS_DIR / f"profile-mcp{label}-{started.strftime('%Y%m%dT%H%M%SZ')}.txt"
    path.write_text(report)
    print(f"Profile written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
