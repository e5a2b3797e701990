"""``HEAD`` answered like ``GET`` without a body, wherever ``GET`` is allowed (RFC 9110, 9.3.2).

FastAPI's routes declared with ``@router.get`` answer only ``GET`` (Starlette's own routes add
``HEAD``, FastAPI's do not), so a monitoring probe or a link checker sending ``HEAD /healthz``
got 405.  Declaring ``HEAD`` on every route would put a second operation per path into the
OpenAPI document; this middleware instead runs a ``HEAD`` request as a ``GET`` and drops the
body, keeping every header of the ``GET`` answer (``Content-Length``, ``ETag``,
``Content-Type``).  Where ``GET`` is not allowed either, the ``GET`` gives the 405, whose
``Allow`` (:func:`api.errors.allowed_methods`) lists the path's methods; ``HEAD`` is among them
exactly when ``GET`` is.

The request runs on a copy of the ASGI scope: the server's scope keeps ``HEAD``, so the server
itself (uvicorn) also knows to send no body, and the metrics count the request as a ``HEAD``
(the route the router found is copied back for their label).
"""

from __future__ import annotations


class HeadAsGet:
    """ASGI middleware: ``HEAD`` → the ``GET`` answer's status and headers, no body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET"}

        async def send_no_body(message):
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the rest of the GET body: nothing of it is sent
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        try:
            await self.app(inner, receive, send_no_body)
        finally:
            if "route" in inner:
                scope["route"] = inner["route"]
