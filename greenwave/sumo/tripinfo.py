"""SUMO's tripinfo output: per-trip columns and the measures the benchmarks compare."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .xmlio import attr_float, attr_int, attr_str, parse_xml

HALTING_SPEED_MS = 0.1  # SUMO_const_haltingSpeed: tripinfo waitingCount counts drops to <= this

EMISSION_CLASS = "HBEFA3/PC_G_EU4"
"""Emission class the benchmarks give SUMO's vehicles (petrol Euro 4 car, HBEFA 3.1)."""

PETROL_DENSITY_G_PER_L = 742.0
"""SUMO's petrol density for HBEFA3 fuel mass → volume (src/utils/emissions/HelpersHBEFA3)."""


def read_tripinfo(path: Path) -> dict[str, np.ndarray]:
    """Columns of a SUMO tripinfo file, one row per finished trip.

    ``id, entry`` (first edge), ``depart, duration, route_length_m, waiting_count,
    waiting_time_s, time_loss_s, depart_delay_s, speed_factor, arrival`` and, with the
    emissions device, ``fuel_mg, co2_mg`` (NaN otherwise); (T,) arrays (``id``/``entry``
    object, ``waiting_count`` int64, the rest float64).  A malformed file is a SumoError.
    """
    rows = []
    for el in parse_xml(Path(path)).iter("tripinfo"):
        em = el.find("emissions")
        lane = el.get("departLane", "")
        rows.append(
            (
                attr_str(el, "id"),
                lane.rsplit("_", 1)[0] if "_" in lane else lane,
                attr_float(el, "depart"),
                attr_float(el, "duration"),
                attr_float(el, "routeLength"),
                attr_int(el, "waitingCount"),
                attr_float(el, "waitingTime"),
                attr_float(el, "timeLoss"),
                attr_float(el, "departDelay", "nan"),
                attr_float(el, "speedFactor", "nan"),
                attr_float(el, "arrival", "nan"),
                attr_float(em, "fuel_abs") if em is not None else math.nan,
                attr_float(em, "CO2_abs") if em is not None else math.nan,
            )
        )
    names = (
        "id",
        "entry",
        "depart",
        "duration",
        "route_length_m",
        "waiting_count",
        "waiting_time_s",
        "time_loss_s",
        "depart_delay_s",
        "speed_factor",
        "arrival",
        "fuel_mg",
        "co2_mg",
    )
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    out = {}
    for name, col in zip(names, cols, strict=True):
        if name in ("id", "entry"):
            out[name] = np.array(col, dtype=object)
        elif name == "waiting_count":
            out[name] = np.array(col, dtype=np.int64)
        else:
            out[name] = np.array(col, dtype=float)
    return out


def trip_summary(
    trips: dict[str, np.ndarray],
    warmup_s: float,
    mask=None,
    density_g_per_l: float = PETROL_DENSITY_G_PER_L,
    limit_ms: float | None = None,
) -> dict:
    """Measures over completed trips that departed at or after ``warmup_s`` (and ``mask``).

    ``mean_speed_kmh`` is the space-mean speed Σ routeLength / Σ duration (the definition of
    :func:`sim.measures.summarize`); ``mean_trip_speed_kmh`` SUMO's arithmetic mean of per-trip
    speeds; ``stops_per_veh`` the mean ``waitingCount``; fuel from ``fuel_abs`` (mg) over the
    fuel density.  With ``limit_ms`` (the road's speed limit), ``delay_s`` is the travel time
    minus the time at the driver's own desired speed (tripinfo ``speedFactor`` × the limit):
    unlike SUMO's ``timeLoss``, which is accumulated against the speed factor of the moment,
    it does not grow when an advisory raises the speed factor (device.glosa to its
    ``max-speedfactor``, this controller while it steers a target; both restore it before the
    trip ends, so tripinfo's factor is the driver's own).
    """
    sel = trips["depart"] >= warmup_s
    if mask is not None:
        sel &= mask
    n = int(sel.sum())
    out: dict[str, Any] = {"vehicles": n}
    keys = (
        "travel_time_s",
        "mean_speed_kmh",
        "mean_trip_speed_kmh",
        "stops_per_veh",
        "waiting_time_s",
        "time_loss_s",
        "depart_delay_s",
        "fuel_l_per_100km",
        "co2_g_per_km",
        "delay_s",
    )
    if n == 0:
        out.update({k: math.nan for k in keys})
        return out
    dur = trips["duration"][sel]
    dist = trips["route_length_m"][sel]
    out.update(
        {
            "travel_time_s": float(dur.mean()),
            "mean_speed_kmh": float(dist.sum() / dur.sum() * 3.6),
            "mean_trip_speed_kmh": float(np.mean(dist / dur) * 3.6),
            "stops_per_veh": float(trips["waiting_count"][sel].mean()),
            "waiting_time_s": float(trips["waiting_time_s"][sel].mean()),
            "time_loss_s": float(trips["time_loss_s"][sel].mean()),
            "depart_delay_s": float(np.nanmean(trips["depart_delay_s"][sel])),
            "fuel_l_per_100km": float(
                trips["fuel_mg"][sel].sum() / 1000.0 / density_g_per_l / dist.sum() * 1e5
            ),
            "co2_g_per_km": float(trips["co2_mg"][sel].sum() / 1000.0 / dist.sum() * 1e3),
            "delay_s": math.nan
            if limit_ms is None
            else float(np.mean(dur - dist / (trips["speed_factor"][sel] * float(limit_ms)))),
        }
    )
    return out
