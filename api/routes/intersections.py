"""Intersections: list, plan and state, green windows; plan and SPaT writes (token required)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from greenwave.timing import STATE_NAMES, SignalPlan

from ..deps import Service, ServiceDep, WriteAuth
from ..errors import (
    R401,
    R403,
    R404,
    R413,
    R415,
    R422,
    body_doc,
    clean_errors,
    parse,
    read_body,
    validation_error,
)
from ..schemas import (
    TIME_DOC,
    IntersectionDetail,
    IntersectionList,
    SpatIn,
    Windows,
    WriteResult,
    iso,
    parse_iso,
)
from ..state import PersistError

router = APIRouter(prefix="/v1/intersections", tags=["intersections"])

WRITE_BODY_LIMIT = 256 * 1024
MAX_WINDOWS = 2000
R503: dict[int | str, dict[str, Any]] = {
    503: {"description": "The change could not be persisted and was not applied"}
}

IntersectionId = Annotated[str, Path(description="Intersection id", max_length=128)]


def _intersection(svc: Service, iid: str) -> int:
    k = svc.world.network.intersection_index.get(iid)
    if k is None:
        raise HTTPException(404, f"unknown intersection '{iid[:128]}'")
    return k


def _time_param(svc: Service, value: str | None, name: str) -> float:
    if value is None:
        return svc.clock.now()
    try:
        return parse_iso(value, svc.clock).timestamp()
    except ValueError as exc:
        raise validation_error(["query", name], str(exc)) from None


def _time_query(what: str):
    return Query(
        description=f"{what} (default: now). {TIME_DOC}",
        max_length=64,
        json_schema_extra={"format": "date-time"},
    )


@router.get("", response_model=IntersectionList, summary="All intersections")
def list_intersections(svc: ServiceDep):
    net = svc.world.network
    snap = svc.store.snapshot
    plans = snap.timing.plans.plans
    out = []
    for k, iid in enumerate(net.intersection_ids):
        plan = plans[iid]
        lon, lat = net.intersection_lonlat[k].tolist()
        out.append(
            {
                "id": iid,
                "name": net.intersection_names[k],
                "lat": lat,
                "lon": lon,
                "cycle_s": plan.cycle_s,
                "offset_s": plan.offset_s,
                "signal_groups": [g.id for g in plan.groups],
                "approaches": svc.approaches.get(iid, []),
                "plan_source": "api" if iid in snap.plans else "scenario",
            }
        )
    return {"count": len(out), "intersections": out}


@router.get(
    "/{intersection_id}",
    response_model=IntersectionDetail,
    responses=R404 | R422,
    summary="Plan in force and the current state of each signal group",
)
def get_intersection(
    svc: ServiceDep,
    intersection_id: IntersectionId,
    at: Annotated[str | None, _time_query("Time of the states")] = None,
):
    k = _intersection(svc, intersection_id)
    t = _time_param(svc, at, "at")
    snap = svc.store.snapshot
    timing = snap.timing
    plan = timing.plans.plans[intersection_id]
    gids = [g.id for g in plan.groups]
    g = np.array([timing.plans.group_index(intersection_id, x) for x in gids])
    state, ttc, tmin, tmax = timing.state(g, np.full(len(g), t))
    live = (
        timing.spat.active(g, np.full(len(g), t))
        if timing.spat is not None
        else np.zeros(len(g), bool)
    )
    net = svc.world.network
    lon, lat = net.intersection_lonlat[k].tolist()
    by_group: dict[str, list[str]] = {}
    for lid in svc.approaches.get(intersection_id, []):
        grp = int(net.link_group[net.link_index[lid]])
        if grp >= 0:
            by_group.setdefault(timing.plans.group_keys[grp][1], []).append(lid)
    entry = snap.plans.get(intersection_id)
    return {
        "id": intersection_id,
        "name": net.intersection_names[k],
        "lat": lat,
        "lon": lon,
        "plan": plan.model_dump(mode="json"),
        "plan_source": "api" if entry else "scenario",
        "plan_updated_at": iso(entry[1]) if entry else None,
        "at": iso(t),
        "groups": [
            {
                "signal_group": gid,
                "state": STATE_NAMES[int(state[j])],
                "time_to_change_s": float(ttc[j]),
                "time_to_change_min_s": float(tmin[j]),
                "time_to_change_max_s": float(tmax[j]),
                "source": "spat" if live[j] else "plan",
                "approaches": by_group.get(gid, []),
            }
            for j, gid in enumerate(gids)
        ],
    }


@router.get(
    "/{intersection_id}/windows",
    response_model=Windows,
    responses=R404 | R422,
    summary="Green windows of every signal group over a horizon",
)
def windows(
    svc: ServiceDep,
    intersection_id: IntersectionId,
    start: Annotated[str | None, _time_query("Start of the horizon")] = None,
    horizon_s: Annotated[
        float,
        Query(gt=0.0, le=3600.0, allow_inf_nan=False, description="Length of the horizon (s)"),
    ] = 300.0,
):
    """Conservative green windows ``[start, end)`` as the advice sees them (live SPaT where
    announced, then the plan) that overlap ``[start, start + horizon_s)``."""
    _intersection(svc, intersection_id)
    t0 = _time_param(svc, start, "start")
    timing = svc.store.timing
    plan = timing.plans.plans[intersection_id]
    gids = [g.id for g in plan.groups]
    g = np.array([timing.plans.group_index(intersection_id, x) for x in gids])
    greens = max(len(x.greens_s) for x in plan.groups)
    k = min(int(math.ceil(horizon_s / plan.cycle_s) + 2) * greens + 1, MAX_WINDOWS)
    ws, we = timing.green_windows(g, np.full(len(g), t0), k)
    end = t0 + horizon_s
    out = []
    for j, gid in enumerate(gids):
        keep = ~np.isnan(ws[j]) & (ws[j] < end) & (we[j] > t0)
        out.append(
            {
                "signal_group": gid,
                "green": [
                    {"start": iso(a), "end": iso(b)}
                    for a, b in zip(ws[j][keep].tolist(), we[j][keep].tolist(), strict=True)
                ],
            }
        )
    return {
        "intersection_id": intersection_id,
        "start": iso(t0),
        "horizon_s": horizon_s,
        "signal_groups": out,
    }


@router.put(
    "/{intersection_id}/plan",
    response_model=WriteResult,
    dependencies=[WriteAuth],
    responses=R401 | R403 | R404 | R413 | R415 | R422 | R503,
    summary="Replace the fixed-time plan (bearer token)",
    openapi_extra=body_doc(
        SignalPlan,
        "A fixed-time plan, validated like the scenario's plans: the intersection's signal "
        "groups in the same order; each green `[start, end)` with start < end inside "
        "`[0, cycle_s]`, a group's greens sorted and not overlapping, no group green for the "
        "whole cycle, conflicting groups never green or clearing at the same time, "
        "offset_s < cycle_s (422 naming the field otherwise)",
        {
            "two_phases": {
                "summary": "Two phases, 120 s cycle (an intersection with groups EW and NS)",
                "value": {
                    "cycle_s": 120.0,
                    "offset_s": 83.0,
                    "groups": [
                        {
                            "id": "EW",
                            "greens_s": [[0.0, 60.0]],
                            "amber_s": 3.0,
                            "all_red_s": 2.0,
                            "conflicts": ["NS"],
                        },
                        {"id": "NS", "greens_s": [[65.0, 115.0]], "amber_s": 3.0, "all_red_s": 2.0},
                    ],
                },
            }
        },
    ),
)
async def put_plan(request: Request, intersection_id: IntersectionId):
    """Validated like the scenario's plans, applied atomically (advisories see the old plan or
    the new one), persisted before it is applied; drops the intersection's live SPaT."""
    svc: Service = request.app.state.service
    _intersection(svc, intersection_id)
    plan = parse(SignalPlan, await read_body(request, WRITE_BODY_LIMIT))
    return await run_in_threadpool(
        _write, svc, intersection_id, "plan", lambda: svc.store.set_plan(intersection_id, plan)
    )


@router.delete(
    "/{intersection_id}/plan",
    response_model=WriteResult,
    dependencies=[WriteAuth],
    responses=R401 | R403 | R404 | R503,
    summary="Go back to the scenario's plan (bearer token)",
)
async def reset_plan(request: Request, intersection_id: IntersectionId):
    svc: Service = request.app.state.service
    _intersection(svc, intersection_id)
    return await run_in_threadpool(
        _write, svc, intersection_id, "reset", lambda: svc.store.reset_plan(intersection_id)
    )


@router.post(
    "/{intersection_id}/spat",
    response_model=WriteResult,
    dependencies=[WriteAuth],
    responses=R401 | R403 | R404 | R413 | R415 | R422 | R503,
    summary="Push live signal timing (bearer token)",
    openapi_extra=body_doc(
        SpatIn,
        "Current and following states per signal group with min/likely/max end times: the "
        "intersection's signal groups, each at most once; per event min <= likely <= max end; "
        "per group the events in time order (no state twice in a row, min and max end never "
        "before the previous event's), the "
        "first ending after the message's timestamp (422 naming the field otherwise)",
    ),
)
async def post_spat(request: Request, intersection_id: IntersectionId):
    """Overrides the plan of the given groups until the last announced ``max_end``; the advice
    uses the conservative window [latest possible start, earliest possible end)."""
    svc: Service = request.app.state.service
    _intersection(svc, intersection_id)
    body = parse(SpatIn, await read_body(request, WRITE_BODY_LIMIT), svc.context)
    now = svc.clock.now()
    known = {g.id for g in svc.store.timing.plans.plans[intersection_id].groups}
    messages = {}
    for i, grp in enumerate(body.groups):
        if grp.signal_group not in known:
            raise validation_error(
                ["body", "groups", i, "signal_group"],
                f"no signal group '{grp.signal_group}' at intersection "
                f"'{intersection_id}' (it has {sorted(known)})",
            )
        try:
            messages[grp.signal_group] = grp.to_core(now)
        except ValidationError as exc:  # the core's SpatMessage rules (event order, ...)
            raise RequestValidationError(
                clean_errors(
                    exc.errors(include_url=False, include_input=False), ("body", "groups", i)
                )
            ) from None
    return await run_in_threadpool(
        _write, svc, intersection_id, "spat", lambda: svc.store.push_spat(intersection_id, messages)
    )


def _write(svc: Service, iid: str, kind: str, change) -> dict:
    try:
        t = change()
    except PersistError as exc:
        raise HTTPException(503, f"{exc}; nothing was changed") from None
    except ValueError as exc:  # the new plan does not fit the intersection's signal groups
        raise validation_error(["body", "groups"], str(exc)) from None
    svc.metrics.writes.labels(kind).inc()
    return {
        "intersection_id": iid,
        "updated_at": iso(t),
        "persisted": True,
        "detail": {
            "plan": "plan replaced",
            "reset": "scenario plan restored",
            "spat": "live timing applied",
        }[kind],
    }
