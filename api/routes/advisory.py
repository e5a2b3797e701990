"""Speed advice: ``POST /v1/advisory`` (one vehicle) and ``POST /v1/advisories/batch``.

A single advisory's body is validated in one pass by :data:`api.schemas.ADVISORY` (with the
network as context) and answered through the micro-batcher (:class:`api.advisor.MicroBatcher`).
A batch body is checked column-wise (:class:`api.columns.BatchParser`, falling back to
:data:`api.schemas.BATCH` for the error report) and answered by one core call in the worker's
batch thread (one batch at a time).
Responses are encoded from columns (:class:`api.encode.Encoder`) and returned as bytes, so the
response models below document the output without re-validating it.

A valid single advisory does not even go through FastAPI's routing: :class:`AdvisoryFastPath`, a
pure ASGI middleware, answers ``POST /v1/advisory`` itself when the body is valid (routing,
dependency solving and the exception wrappers cost about as much CPU per request as the whole
advisory).  Anything else — an invalid or oversize body, another method — goes on to the route
below with the body replayed, which gives the documented error.  The route stays the reference
(``Settings.fast_path=False`` uses it for every request) and documents the endpoint.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from ..advisor import Refusal
from ..deps import Service
from ..errors import R413, R415, R422, body_doc, is_json_media_type, parse, read_body
from ..schemas import ADVISORY, BATCH, Advisory, BatchColumns, BatchResponse

router = APIRouter(prefix="/v1", tags=["advisory"])

SINGLE_BODY_LIMIT = 16 * 1024
_JSON = "application/json"


ADVISORY_PATH = "/v1/advisory"


@router.post(
    "/advisory",
    response_model=Advisory,
    responses={**R413, **R415, **R422},
    summary="Speed advice for one vehicle",
    openapi_extra=body_doc(
        ADVISORY, "A GPS fix with heading, or a link and offset; plus the speed"
    ),
)
async def advisory(request: Request):
    """Map-match the position (respecting the heading), then the band of speeds that reaches
    the next stop line on green, the signal state, multi-intersection options and the spoken
    message.  ``status`` is ``off_network`` (with a ``reason``) when no road of the right
    direction is within the matching radius.  With ``turn``, the advice is for that movement
    at the next signal; a turn the approach at the matched position does not have is a 422
    (``turn_not_available``)."""
    svc: Service = request.app.state.service
    body = await read_body(request, SINGLE_BODY_LIMIT)
    req = parse(ADVISORY, body, svc.context)
    out = await svc.batcher.submit((req, svc.clock.now()))
    if isinstance(out, Refusal):
        raise RequestValidationError(out.errors("body"))
    return Response(out, media_type=_JSON)


@router.post(
    "/advisories/batch",
    response_model=BatchResponse | BatchColumns,
    responses={**R413, **R415, **R422},
    summary="Speed advice for many vehicles in one core call",
    openapi_extra=body_doc(BATCH, "Up to max_batch vehicles (default 10,000)"),
)
async def batch(
    request: Request,
    format: Annotated[
        Literal["items", "columns"],
        Query(
            description="`items` (default): one object per vehicle (BatchResponse); `columns`: one "
            "array per field, for fleet clients (BatchColumns)"
        ),
    ] = "items",
):
    """The same advisory per vehicle, in request order, computed for all vehicles by one
    vectorised call.  More vehicles than the server's ``max_batch``: 413.  A ``turn`` that the
    approach at a vehicle's matched position does not have makes the batch a 422 naming every
    such vehicle (``["body", "vehicles", i, "turn"]``, type ``turn_not_available``)."""
    svc: Service = request.app.state.service
    body = await read_body(request, svc.settings.body_limit)
    out = await asyncio.get_running_loop().run_in_executor(
        svc.batch_executor, _batch, svc, body, format
    )
    return Response(out, media_type=_JSON)


def _batch(svc: Service, body: bytes, format: str) -> bytes:
    now = svc.clock.now()
    adv = svc.advisor
    result = adv.compute(adv.parse_batch(body, now, svc.clock), now)
    if result.refused:
        raise RequestValidationError(
            [
                e
                for i, why in sorted(result.refused.items())
                for e in Refusal(why).errors("body", "vehicles", i)
            ]
        )
    svc.metrics.count_statuses("batch", result.status_counts())
    if format == "columns":
        return adv.encoder.columns(result)
    return adv.encoder.batch(result)


class AdvisoryFastPath:
    """ASGI middleware answering valid ``POST /v1/advisory`` requests without the router.

    Same validation (:data:`api.schemas.ADVISORY`), same micro-batcher and the same response
    bytes as :func:`advisory`; a request it does not answer goes on to the app unchanged (the
    body it read is replayed): an invalid body, and a :class:`~api.advisor.Refusal` (a turn
    the matched approach does not have, rare enough to be computed again by the route, which
    answers the 422).  ``scope["route"]`` is set to the route, for the metrics.
    """

    def __init__(self, app):
        self.app = app
        self.route = next(r for r in router.routes if getattr(r, "endpoint", None) is advisory)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != ADVISORY_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        svc: Service | None = getattr(scope["app"].state, "service", None)
        if svc is None or not svc.settings.fast_path or not _json_or_none(scope):
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > SINGLE_BODY_LIMIT or not message.get("more_body", False):
                break
        req = None
        if messages[-1]["type"] == "http.request" and not messages[-1].get("more_body", False):
            try:
                req = ADVISORY.validate_json(body, context=svc.context)
            except Exception:
                req = None
        if req is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = self.route
        out = await svc.batcher.submit((req, svc.clock.now()))
        if isinstance(out, Refusal):
            await self.app(scope, _replay(messages, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(out)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})


def _json_or_none(scope) -> bool:
    """The request declares a JSON body or no type at all (then the body must parse as JSON,
    which validation checks); another type goes to the route, which answers 415."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return is_json_media_type(value.decode("latin-1"))
    return True


def _replay(messages: list, receive):
    """``receive`` that first gives back the messages already read."""
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
