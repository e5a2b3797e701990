"""Liveness and metrics: ``/healthz``, ``/v1/ping``, ``/metrics``."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.responses import Response

from ..deps import ServiceDep
from ..schemas import Health, Ping, iso
from ..settings import VERSION

router = APIRouter(tags=["health"])

_PONG = b'{"ok":true}'


@router.get("/healthz", response_model=Health, summary="Liveness, scenario and plan state")
def healthz(svc: ServiceDep):
    """Always 200 while the process serves; ``status`` is ``degraded`` when the state file could
    not be read or written (the scenario's plans are then in force)."""
    store = svc.store
    snap = store.snapshot
    now = time.time()
    since = snap.updated_at_s if snap.updated_at_s is not None else svc.started_at
    return {
        "status": "ok" if store.error is None else "degraded",
        "scenario": svc.world.scenario.name,
        "scenario_sha256": svc.world.scenario.content_hash(),
        "intersections": len(svc.world.network.intersection_ids),
        "links": svc.world.network.n_links,
        "plans_updated_at": None if snap.updated_at_s is None else iso(snap.updated_at_s),
        "plans_age_s": max(now - since, 0.0),
        "writes_enabled": svc.token is not None,
        "state": {
            "file": str(store.path),
            "ok": store.error is None,
            "error": store.error,
            "plans_from_api": len(snap.plans),
            "spat_groups": len(snap.spat),
        },
        "uptime_s": now - svc.started_at,
        "version": VERSION,
        "clock": clock_info(svc),
    }


def clock_info(svc) -> dict:
    """The service's clock: kind, now, the window of accepted request times and the scenario's
    UTC offset (s)."""
    clock = svc.clock
    now = clock.now()
    lo, hi = clock.window(now)
    # A scenario states its start_time with a UTC offset (required: an aware datetime), not a
    # named time zone: the offset is all there is to give, and no daylight saving is modelled.
    offset = svc.world.scenario.simulation.start_time.utcoffset()
    return {
        "kind": clock.kind,
        "now": iso(now),
        "accepts_from": iso(lo),
        "accepts_until": iso(hi),
        "utc_offset_s": int(offset.total_seconds()) if offset is not None else 0,
    }


@router.get("/v1/ping", response_model=Ping, summary="Trivial endpoint (the framework's ceiling)")
async def ping():
    return Response(_PONG, media_type="application/json")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        }
    },
)
def metrics(svc: ServiceDep):
    snap = svc.store.snapshot
    since = snap.updated_at_s if snap.updated_at_s is not None else svc.started_at
    extra = (
        "# HELP greenwave_plans_age_seconds Seconds since the plans in force were set\n"
        "# TYPE greenwave_plans_age_seconds gauge\n"
        f"greenwave_plans_age_seconds {max(time.time() - since, 0.0):.3f}\n"
        "# HELP greenwave_state_ok 1 when the state file is readable and writable\n"
        "# TYPE greenwave_state_ok gauge\n"
        f"greenwave_state_ok {int(svc.store.error is None)}\n"
    )
    body, ctype = svc.metrics.render(extra)
    return Response(body, media_type=ctype)
