"""Generated grid city: ``rows`` east–west streets crossing ``cols`` north–south streets.

Every crossing is a two-phase signal: group ``EW`` serves both directions of the east–west street,
group ``NS`` those of the north–south street, and the two conflict.  The EW phase takes
``ew_green_share`` of the cycle including its amber and all-red.

Offsets
-------
``green_wave`` sets ``offset = ((x + y) / v_prog) mod C`` with ``x, y`` the crossing's distance
east and north of the south-west corner: along every east–west street the green moves east at
``v_prog`` and along every north–south street it moves north at ``v_prog`` (a diagonal wave), so
eastbound and northbound traffic progresses; the opposite directions get what they get, as in a
real one-way-priority grid.  ``random`` draws offsets uniformly (seeded); ``zero`` aligns them.
"""

from __future__ import annotations

import numpy as np

from .elements import CorridorModel, GridModel, IntersectionModel
from .geo import LocalProjection
from .timing import SignalPlan
from .units import kmh_to_ms


def grid_city(grid: GridModel) -> tuple[list[IntersectionModel], list[CorridorModel]]:
    """Intersections (with plans) and the row/column corridors of a grid city."""
    if grid.rows < 2 or grid.cols < 2:
        raise ValueError("grid: rows and cols must both be >= 2")
    rng = np.random.default_rng(grid.seed)
    jitter = grid.spacing_jitter_m
    xs = np.arange(grid.cols) * grid.spacing_m + rng.uniform(-jitter, jitter, grid.cols)
    ys = np.arange(grid.rows) * grid.spacing_m + rng.uniform(-jitter, jitter, grid.rows)
    xs -= xs[0]
    ys -= ys[0]
    proj = LocalProjection(grid.origin_lon, grid.origin_lat)
    c = grid.cycle_s
    clearance = grid.amber_s + grid.all_red_s
    ew_end = round(grid.ew_green_share * c, 3)
    ew_green = [0.0, ew_end - clearance]
    ns_green = [ew_end, c - clearance]
    if ew_green[1] <= 0 or ns_green[1] <= ns_green[0]:
        raise ValueError("grid: cycle too short for the green shares and clearance times")
    v = kmh_to_ms(grid.progression_kmh)
    if grid.offsets == "green_wave":
        offsets = np.mod(xs[None, :] + ys[:, None], v * c) / v
    elif grid.offsets == "random":
        offsets = rng.uniform(0.0, c, (grid.rows, grid.cols))
    else:
        offsets = np.zeros((grid.rows, grid.cols))
    offsets = np.round(offsets, 1) % c
    groups = [
        {
            "id": "EW",
            "greens_s": [ew_green],
            "amber_s": grid.amber_s,
            "all_red_s": grid.all_red_s,
            "conflicts": ["NS"],
        },
        {"id": "NS", "greens_s": [ns_green], "amber_s": grid.amber_s, "all_red_s": grid.all_red_s},
    ]
    # One validated plan per distinct offset: the grid shares a handful of timings.
    plan_cache: dict[float, SignalPlan] = {}
    inters = []
    for r in range(grid.rows):
        lon, lat = proj.to_lonlat(xs, np.full(grid.cols, ys[r]))
        for col in range(grid.cols):
            off = float(offsets[r, col])
            plan = plan_cache.get(off)
            if plan is None:
                plan = plan_cache[off] = SignalPlan(cycle_s=c, offset_s=off, groups=groups)
            inters.append(
                IntersectionModel.model_construct(
                    id=f"g{r}_{col}",
                    name=f"纬{r + 1}路/经{col + 1}路",
                    lon=float(lon[col]),
                    lat=float(lat[col]),
                    plan=plan,
                )
            )
    corridors = []
    common = dict(
        speed_limit_kmh=grid.speed_limit_kmh,
        lanes=grid.lanes,
        entry_length_m=grid.entry_length_m,
        exit_length_m=grid.entry_length_m,
    )
    for r in range(grid.rows):
        corridors.append(
            CorridorModel(
                id=f"row{r}",
                name=f"纬{r + 1}路",
                forward_group="EW",
                intersections=[f"g{r}_{col}" for col in range(grid.cols)],
                **common,
            )
        )
    for col in range(grid.cols):
        corridors.append(
            CorridorModel(
                id=f"col{col}",
                name=f"经{col + 1}路",
                forward_group="NS",
                intersections=[f"g{r}_{col}" for r in range(grid.rows)],
                **common,
            )
        )
    return inters, corridors
