"""Speed advice: ``POST /v1/advisory`` (one vehicle) and ``POST /v1/advisories/batch``.

Both validate the raw body in one pass (:data:`api.schemas.ADVISORY` / ``BATCH``, with the
network as context).  Single advisories are answered through the micro-batcher
(:class:`api.advisor.MicroBatcher`); a batch is one core call in the threadpool.  Responses are
encoded with orjson and returned as bytes, so the response models below document the output
without re-validating it.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ..deps import Service
from ..errors import R413, R422, body_doc, parse, read_body
from ..responses import JSONBytes, dumps
from ..schemas import ADVISORY, BATCH, Advisory, BatchResponse, iso

router = APIRouter(prefix="/v1", tags=["advisory"])

SINGLE_BODY_LIMIT = 16 * 1024


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
    return JSONBytes(await svc.batcher.submit((req, time.time())))


@router.post("/advisories/batch", response_model=BatchResponse, responses={**R413, **R422},
             summary="Speed advice for many vehicles in one core call",
             openapi_extra=body_doc(BATCH, "Up to max_batch vehicles (default 10,000)"))
async def batch(request: Request):
    """The same advisory per vehicle, in request order, computed for all vehicles by one
    vectorised call.  More vehicles than the server's ``max_batch``: 413."""
    svc: Service = request.app.state.service
    body = await read_body(request, svc.settings.body_limit)
    return JSONBytes(await run_in_threadpool(_batch, svc, body))


def _batch(svc: Service, body: bytes) -> bytes:
    req = parse(BATCH, body, svc.context)
    vehicles = req["vehicles"]
    if len(vehicles) > svc.settings.max_batch:
        raise HTTPException(413, f"batch of {len(vehicles)} vehicles exceeds the maximum of "
                                 f"{svc.settings.max_batch}")
    now = time.time()
    recs = svc.advisor.from_requests(vehicles, now)
    svc.metrics.count_statuses("batch", (r["status"] for r in recs))
    return dumps({"count": len(recs), "generated_at": iso(now), "advisories": recs})
