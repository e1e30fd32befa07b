"""How Django's pages are served: reused threads (project/http.py), SQLite writers queued (project/sqlite)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.signals import request_started
from django.db import connection, transaction

from project.http import PooledASGIHandler
from project.sqlite.base import writer_lock


def get_scope(path: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1), "server": ("testserver", 80)}


async def get(app, path: str) -> int:
    scope = get_scope(path)
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict] = []
    done = asyncio.Event()

    async def receive():
        if messages:
            return messages.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent[0]["status"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_pages_run_on_a_bounded_pool_of_reused_threads():
    """Twelve requests at once on a pool of two: all answered, by two threads that outlive them."""
    app = PooledASGIHandler(threads=2)
    threads: list[str] = []

    def seen(**kwargs):
        threads.append(threading.current_thread().name)

    request_started.connect(seen)
    try:
        statuses = await asyncio.gather(*(get(app, "/.well-known/oauth-authorization-server") for _ in range(12)))
        statuses += [await get(app, "/.well-known/oauth-authorization-server")]
    finally:
        request_started.disconnect(seen)
    assert statuses == [200] * 13
    assert len(threads) == 13
    assert set(threads) <= {"django-http-1_0", "django-http-2_0"}, set(threads)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sqlite_writers_of_one_process_take_turns():
    """Two threads write at once: the second waits for the first to commit, then commits too (never
    'database is locked'); the lock is free again after a commit and after a rollback."""
    if connection.vendor != "sqlite":
        pytest.skip("the in-process writer queue is SQLite's")
    from oauth_app.models import Scope

    lock = writer_lock(connection.settings_dict["NAME"])
    first_inside, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                Scope.objects.create(name="first", description="")
                first_inside.set()
                release_first.wait(10)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_inside.wait(10)
            with transaction.atomic():
                Scope.objects.create(name="second", description="")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    assert first_inside.wait(10)
    b.start()
    b.join(0.2)
    assert b.is_alive()  # waiting for the first writer, not failing
    release_first.set()
    a.join(10)
    b.join(10)
    assert errors == []
    assert set(Scope.objects.filter(name__in=["first", "second"]).values_list("name", flat=True)) == {"first", "second"}
    assert not lock.locked()
    with pytest.raises(RuntimeError), transaction.atomic():
        Scope.objects.create(name="rolled-back", description="")
        raise RuntimeError
    assert not lock.locked()
    assert not Scope.objects.filter(name="rolled-back").exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_an_open_stream_does_not_hold_a_thread():
    """An unauthenticated client holding /mcp/sse-probe streams open must not starve the pages: with a
    pool of one thread, a page is answered while a stream is still open."""
    app = PooledASGIHandler(threads=1)
    first_event, hang_up = asyncio.Event(), asyncio.Event()
    scope = get_scope("/mcp/sse-probe")
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and b"probe" in message.get("body", b""):
            first_event.set()

    stream = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(first_event.wait(), 5)
    assert await asyncio.wait_for(get(app, "/.well-known/oauth-authorization-server"), 2) == 200
    assert not stream.done()  # the stream is still open (it holds for 3 s)
    hang_up.set()
    await asyncio.wait_for(stream, 5)
