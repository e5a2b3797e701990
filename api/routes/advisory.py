"""Speed advice: ``POST /v1/advisory`` (one vehicle) and ``POST /v1/advisories/batch``.

A single advisory's body is validated in one pass by :data:`api.schemas.ADVISORY` (with the
network as context) and answered through the micro-batcher (:class:`api.advisor.MicroBatcher`).
A batch body is checked column-wise (:class:`api.columns.BatchParser`, falling back to
:data:`api.schemas.BATCH` for the error report) and answered by one core call in the threadpool.
Responses are encoded from columns (:class:`api.encode.Encoder`) and returned as bytes, so the
response models below document the output without re-validating it.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..deps import Service
from ..errors import R413, R422, body_doc, parse, read_body
from ..schemas import ADVISORY, BATCH, Advisory, BatchColumns, BatchResponse

router = APIRouter(prefix="/v1", tags=["advisory"])

SINGLE_BODY_LIMIT = 16 * 1024
_JSON = "application/json"


@router.post("/advisory", response_model=Advisory, responses={**R413, **R422},
             summary="Speed advice for one vehicle",
             openapi_extra=body_doc(ADVISORY, "A GPS fix with heading, or a link and offset; "
                                              "plus the speed"))
async def advisory(request: Request):
    """Map-match the position (respecting the heading), then the band of speeds that reaches
    the next stop line on green, the signal state, multi-intersection options and the spoken
    message.  ``status`` is ``off_network`` (with a ``reason``) when no road of the right
    direction is within the matching radius."""
    svc: Service = request.app.state.service
    body = await read_body(request, SINGLE_BODY_LIMIT)
    req = parse(ADVISORY, body, svc.context)
    return Response(await svc.batcher.submit((req, time.time())), media_type=_JSON)


@router.post("/advisories/batch", response_model=BatchResponse | BatchColumns,
             responses={**R413, **R422},
             summary="Speed advice for many vehicles in one core call",
             openapi_extra=body_doc(BATCH, "Up to max_batch vehicles (default 10,000)"))
async def batch(request: Request, format: Annotated[Literal["items", "columns"], Query(
        description="`items` (default): one object per vehicle (BatchResponse); `columns`: one "
                    "array per field, for fleet clients (BatchColumns)")] = "items"):
    """The same advisory per vehicle, in request order, computed for all vehicles by one
    vectorised call.  More vehicles than the server's ``max_batch``: 413."""
    svc: Service = request.app.state.service
    body = await read_body(request, svc.settings.body_limit)
    return Response(await run_in_threadpool(_batch, svc, body, format), media_type=_JSON)


def _batch(svc: Service, body: bytes, format: str) -> bytes:
    now = time.time()
    adv = svc.advisor
    result = adv.compute(adv.parse_batch(body, now), now)
    svc.metrics.count_statuses("batch", result.status_counts())
    if format == "columns":
        return adv.encoder.columns(result)
    return adv.encoder.batch(result)
