"""Django's HTTP requests (everything but ``/mcp``) on a fixed pool of long-lived threads.

Django's own ``ASGIHandler`` enters a fresh ``ThreadSensitiveContext`` per request, so asgiref
starts a new thread for every request's synchronous part (middleware, view, signals) and joins it
at the end; with ``CONN_MAX_AGE = 0`` that thread also opens a database connection and closes it
again. On SQLite the close of the last connection checkpoints the WAL and deletes it, and the next
request's open creates it again, registers Django's SQL functions and re-reads the schema: together
more CPU than the ``/token`` queries themselves (``bench/bench_tokens.py``).

:class:`PooledASGIHandler` is Django's handler with three changes. Each request borrows one of
``threads`` single-thread executors for its ``ThreadSensitiveContext`` (asgiref's public
``executor=`` argument) and gives it back when the response is sent. And the middleware chain is
loaded in Django's synchronous mode and entered once per request: every middleware here is
synchronous, and Django's asynchronous mode would hop thread -> event loop -> thread around the
view (the chain's innermost handler is async), three handoffs where one does. And a request's
synchronous steps go to its thread in one call, not three: Django sends ``request_started``, runs
the view and closes the response (``request_finished``, which returns the database connection) in
separate handoffs, each a future, a thread wake-up and a loop wake-up (a sixth of the CPU of a
``/token`` request). :meth:`PooledASGIHandler.handle` is Django 5.2's ``ASGIHandler.handle`` with
those three steps in one call; a response that is not streamed is complete when the view returns,
so it is closed right there, before it is sent. A streaming response is closed after it was sent,
as Django does. Everything thread-sensitive in
a request still runs on one thread, as Django requires; the thread and its SQLite connection are
simply reused (``CONN_MAX_AGE = None`` for SQLite in ``project/settings.py``; PostgreSQL connections
come from psycopg's pool either way). The pool is also a bound: at most ``threads`` requests run
Django code at once, and the rest wait their turn on the event loop instead of each starting a
thread.

A streaming response (an event stream such as ``/mcp/sse-probe``, a large download) gives its
thread back as soon as the view has returned it: the stream is sent from the event loop and may
last, and it must not keep other pages waiting (eight open streams would otherwise hold every
thread). Its last synchronous step (closing the response: ``request_finished``) still runs on the
same executor, queued between whole calls of whichever request borrowed it next; no call of one
request ever runs inside a call of another.

A request whose client went away while its view was running cannot stop that view (a thread cannot
be cancelled); the executor is returned anyway, and the next request it serves simply queues behind
the view's last steps on the same thread.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix


class ExecutorPool:
    """``size`` single-thread executors, lent to one request at a time (most recently used first)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("An executor pool needs at least one thread.")
        self.size = size
        self._idle: list[ThreadPoolExecutor] = []
        self._created = 0
        self._waiters: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        # Created on first use, inside the server's event loop.
        if self._waiters is None:
            self._waiters = asyncio.Semaphore(self.size)
        return self._waiters

    async def acquire(self) -> ThreadPoolExecutor:
        await self._semaphore().acquire()
        if self._idle:
            return self._idle.pop()
        self._created += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-http-{self._created}")

    def release(self, executor: ThreadPoolExecutor) -> None:
        self._idle.append(executor)
        self._semaphore().release()


class _Loan:
    """One request's use of one executor, given back once (early for a streaming response)."""

    __slots__ = ("executor", "pool")

    def __init__(self, pool: ExecutorPool, executor: ThreadPoolExecutor) -> None:
        self.pool: ExecutorPool | None = pool
        self.executor = executor

    def give_back(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.release(self.executor)


_loan: contextvars.ContextVar[_Loan | None] = contextvars.ContextVar("django_http_loan", default=None)


class PooledASGIHandler(ASGIHandler):
    """Django's ``ASGIHandler``, its requests' synchronous work on a pool of reused threads."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.threads = ExecutorPool(threads)

    def load_middleware(self, is_async: bool = False) -> None:
        # ASGIHandler asks for the asynchronous chain; the synchronous one runs in a single hop
        # (an async view, such as the SSE probe, is still awaited: Django wraps it in async_to_sync).
        super().load_middleware(is_async=False)

    def _serve(self, request: HttpRequest) -> HttpResponseBase:
        """The request's synchronous steps, on its thread: started, the view, and (unless streamed) closed."""
        signals.request_started.send(sender=self.__class__, scope=request.scope)
        response = self.get_response(request)
        if not response.streaming:
            response.close()  # its content is complete; request_finished gives the connection back
        return response

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # Thread-sensitive: on the executor this request borrowed.
        response = await sync_to_async(self._serve)(request)
        if response.streaming and (loan := _loan.get()) is not None:
            loan.give_back()  # the stream is sent from the event loop, for as long as it lasts
        return response

    async def handle(self, scope, receive, send) -> None:
        """Django 5.2's ``ASGIHandler.handle``; ``request_started`` and the response's close move into
        :meth:`_serve` (one handoff to the request's thread instead of three)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was being sent
            return response

        # Watch for a disconnect while the response is produced (Django's order: the watcher first).
        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)),
                 asyncio.create_task(process_request(request, send))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if response.streaming:  # any other response was closed in _serve
                await sync_to_async(response.close)()
        body_file.close()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        loan = _Loan(self.threads, await self.threads.acquire())
        token = _loan.set(loan)
        try:
            async with ThreadSensitiveContext(executor=loan.executor):
                await self.handle(scope, receive, send)
        finally:
            _loan.reset(token)
            loan.give_back()
