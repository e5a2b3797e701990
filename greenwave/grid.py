"""Generated grid city: ``rows`` east–west streets crossing ``cols`` north–south streets.

Every crossing is a two-phase signal: group ``EW`` serves both directions of the east–west street,
group ``NS`` those of the north–south street, and the two conflict.  The EW phase takes
``ew_green_share`` of the cycle including its amber and all-red.  Left turns are permitted in
their street's phase, yielding to the opposing traffic.

With ``left_turn_phase`` the plan has four phases in the order EW, EW_L, NS, NS_L: after each
street's through phase its left turns (both directions) get a protected phase, ``left_share`` of
that street's phase time (each phase with its own amber and all-red); the left turns of the
east–west street run on group ``EW_L``, those of the north–south street on ``NS_L``, and every
two groups conflict (one phase at a time): lagging protected lefts, as in a four-phase plan.
The through phases start at the same cycle seconds as in the two-phase plan, so the offsets
below keep their meaning.

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
    ew_end = round(grid.ew_green_share * c, 3)
    groups = _phase_groups(grid, ew_end)
    v = kmh_to_ms(grid.progression_kmh)
    if grid.offsets == "green_wave":
        offsets = np.mod(xs[None, :] + ys[:, None], v * c) / v
    elif grid.offsets == "random":
        offsets = rng.uniform(0.0, c, (grid.rows, grid.cols))
    else:
        offsets = np.zeros((grid.rows, grid.cols))
    offsets = np.round(offsets, 1) % c
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
    left = grid.left_turn_phase
    for r in range(grid.rows):
        corridors.append(
            CorridorModel(
                id=f"row{r}",
                name=f"纬{r + 1}路",
                forward_group="EW",
                **({"left_group": "EW_L"} if left else {}),
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
                **({"left_group": "NS_L"} if left else {}),
                intersections=[f"g{r}_{col}" for r in range(grid.rows)],
                **common,
            )
        )
    return inters, corridors


def _phase_groups(grid: GridModel, ew_end: float) -> list[dict]:
    """Signal groups of every crossing's plan; ``ew_end`` = cycle second the EW street's phase
    time ends (its clearance included).  Raises ValueError when a green would be empty."""
    c = grid.cycle_s
    clearance = grid.amber_s + grid.all_red_s
    # Phase boundaries (cycle seconds, each phase's clearance inside it).
    if grid.left_turn_phase:
        keep = 1.0 - grid.left_share
        bounds = [0.0, round(ew_end * keep, 3), ew_end, round(ew_end + (c - ew_end) * keep, 3), c]
        names = ["EW", "EW_L", "NS", "NS_L"]
    else:
        bounds = [0.0, ew_end, c]
        names = ["EW", "NS"]
    groups = []
    for k, name in enumerate(names):
        start, end = bounds[k], bounds[k + 1] - clearance
        if end <= start:
            what = ", left_share" if grid.left_turn_phase else ""
            raise ValueError(
                f"grid: cycle too short for the green shares{what} and clearance times (phase "
                f"{name} would have no green)"
            )
        groups.append(
            {
                "id": name,
                "greens_s": [[start, end]],
                "amber_s": grid.amber_s,
                "all_red_s": grid.all_red_s,
                # One phase at a time: each group conflicts with every later one.
                **({"conflicts": names[k + 1 :]} if k + 1 < len(names) else {}),
            }
        )
    return groups
