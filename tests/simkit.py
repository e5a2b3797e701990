"""Small scenarios and hand-made arrivals for simulator verification tests."""

from __future__ import annotations

import numpy as np

from greenwave.geo import LocalProjection
from greenwave.network import World
from greenwave.scenario import parse_scenario
from greenwave.sim.demand import Arrivals


def corridor(
    n=3,
    spacing=400.0,
    cycle=90.0,
    green=(0.0, 45.0),
    offsets=None,
    limit_kmh=50.0,
    lanes=1,
    entry=300.0,
    exit_=200.0,
    flow=0.0,
    **sections,
):
    """A straight east–west corridor of ``n`` two-phase signals (group EW serves it)."""
    proj = LocalProjection(118.0, 36.8)
    inters = []
    for k in range(n):
        lon, lat = proj.to_lonlat(k * spacing, 0.0)
        off = 0.0 if offsets is None else float(offsets[k]) % cycle
        g0, g1 = green
        inters.append(
            {
                "id": f"i{k}",
                "lon": float(lon),
                "lat": float(lat),
                "plan": {
                    "cycle_s": cycle,
                    "offset_s": off,
                    "groups": [
                        {
                            "id": "EW",
                            "greens_s": [[g0, g1]],
                            "amber_s": 3.0,
                            "all_red_s": 2.0,
                            "conflicts": ["NS"],
                        },
                        {
                            "id": "NS",
                            "greens_s": [[(g1 + 5.0) % cycle, (g0 - 5.0) % cycle or cycle]],
                        },
                    ],
                },
            }
        )
    data = {
        "name": "test_corridor",
        "intersections": inters,
        "corridors": [
            {
                "id": "c",
                "intersections": [f"i{k}" for k in range(n)],
                "forward_group": "EW",
                "speed_limit_kmh": limit_kmh,
                "lanes": lanes,
                "entry_length_m": entry,
                "exit_length_m": exit_,
            }
        ],
        "demand": {"flow_veh_h_per_lane": flow},
        "simulation": {
            "start_time": "2026-11-23T07:30:00+08:00",
            "warmup_s": 0.0,
            "duration_s": 600.0,
        },
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return World.build(parse_scenario(data))


def arrivals(world: World, times, entry=0, lane=0, factor=1.0, u_equip=0.0) -> Arrivals:
    """Hand-made arrivals at one entry (index into the sorted entry links)."""
    times = np.asarray(times, dtype=float)
    n = times.size
    entries = np.sort(world.network.entry_links)
    return Arrivals(
        times,
        np.full(n, entry),
        np.full(n, lane),
        np.full(n, factor),
        np.full(n, u_equip),
        np.zeros(n),
        entries,
    )
