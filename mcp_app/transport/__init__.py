"""The Streamable HTTP transport of ``/mcp``: HTTP in, HTTP out.

* :mod:`.asgi`: the ASGI application (reads the request, runs the checks in order, hands over to an
  era, writes whatever escaped as its wire error);
* :mod:`.http`: the request and response objects;
* :mod:`.security`: Host, Origin and CORS, Content-Type and Accept rules;
* :mod:`.modern`: the 2026-07-28 era (one stateless exchange; ``subscriptions/listen``);
* :mod:`.legacy`: the ``initialize`` era (sessions, batches, cancellation, the GET stream, DELETE);
* :mod:`.streams`: SSE responses, the channel-layer inbox of a stream, the event store, replay and keep-alive.

A POST answered with one JSON body touches none of the stream machinery: no layer channel, no
group, no helper task beyond, for ``tools/call``, one that notices the client going away.
"""
