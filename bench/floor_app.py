"""daphne's ceiling: the least an ASGI app can do to answer ``bench_mcp.py``'s modern ``tools/call`` echo.

It reads the body, decodes it with orjson, and answers the echo result: no authentication, no
protocol checks, no dispatch. Served by ``daphne bench.floor_app:application`` in
``bench/daphne_floor.py``, it shows how many requests per second daphne itself can serve on this
machine, the bound for anything served by daphne, ``/mcp`` included. Daphne gets the project's
own tuning (``project/daphne_tuning.py``, as ``project.asgi`` applies it), so the floor is the
daphne that ``/mcp`` runs on, not a slower one.
"""

import orjson

from project import daphne_tuning

daphne_tuning.apply()


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = orjson.loads(body)
    text = request["params"]["arguments"]["text"]
    answer = orjson.dumps({"jsonrpc": "2.0", "id": request["id"],
                           "result": {"content": [{"type": "text", "text": text}], "isError": False}})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})
