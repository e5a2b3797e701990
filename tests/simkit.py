"""Small scenarios and hand-made arrivals for simulator verification tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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


_TWO_SIGNALS = """\
# Two signals 350 m apart, 60 s cycle: a paired run of 300 s takes about a second.
name = "{name}"

[[corridors]]
id = "c"
intersections = ["a", "b"]
forward_group = "EW"
backward_group = "EW"
speed_limit_kmh = 50.0
{progression}lanes = 1
entry_length_m = 250.0
exit_length_m = 100.0

[demand]
flow_veh_h_per_lane = 500.0

[simulation]
duration_s = {duration_s}
warmup_s = {warmup_s}
{signals}"""

_SIGNAL = """
[[intersections]]
id = "{id}"
lon = {lon}
lat = 36.8
  [intersections.plan]
  cycle_s = 60.0
  offset_s = {offset_s}
  [[intersections.plan.groups]]
  id = "EW"
  greens_s = [[0.0, 30.0]]
  amber_s = 3.0
  all_red_s = 2.0
  conflicts = ["NS"]
  [[intersections.plan.groups]]
  id = "NS"
  greens_s = [[35.0, 55.0]]
"""


def two_signal_toml(
    name: str,
    *,
    offset_b_s: float | str,
    duration_s: float,
    warmup_s: float,
    progression_kmh: float | None = None,
) -> str:
    """Scenario file text of a small two-signal corridor (signals a and b, 350 m apart, 60 s
    cycle, 500 veh/h per lane), for tests that run the CLI or sweeps on a scenario file."""
    signals = _SIGNAL.format(id="a", lon="118.0", offset_s="0.0") + _SIGNAL.format(
        id="b", lon="118.004", offset_s=offset_b_s
    )
    progression = "" if progression_kmh is None else f"progression_kmh = {progression_kmh}\n"
    return _TWO_SIGNALS.format(
        name=name,
        progression=progression,
        duration_s=duration_s,
        warmup_s=warmup_s,
        signals=signals,
    )


def run_recorded(world: World, times, duration_s: float, **kw):
    """One baseline run of hand-made arrivals at the first entry, trajectories recorded."""
    from greenwave.sim.engine import Simulation

    return Simulation(
        world,
        seed=0,
        advisory=False,
        arrivals=arrivals(world, times, **kw),
        duration_s=duration_s,
        warmup_s=0.0,
        record=True,
        record_routes=[0],
    ).run()


def crossing_times(trajectories: dict, line_m: float) -> np.ndarray:
    """Sorted times (s) at which recorded vehicles pass ``line_m``, interpolated between ticks."""
    tr = trajectories
    cross = []
    for vid in np.unique(tr["vid"]):
        k = tr["vid"] == vid
        t, x = tr["t"][k], tr["pos"][k]
        i = np.flatnonzero(x > line_m)
        if i.size and i[0] > 0:
            a, b = i[0] - 1, i[0]
            cross.append(t[a] + (line_m - x[a]) / (x[b] - x[a]) * (t[b] - t[a]))
    return np.sort(cross)


# --------------------------------------------------------------------------- turning (issue 15)
def grid(
    rows=2,
    cols=2,
    *,
    spacing=300.0,
    entry=200.0,
    lanes=2,
    cycle=90.0,
    left_turn_phase=False,
    flow=300.0,
    turning=(0.2, 0.5, 0.3),
    duration=600.0,
    **sections,
):
    """A small grid city (:mod:`greenwave.grid`) with turning shares ``(left, through, right)``
    at every approach; ``sections`` are merged into the scenario's top-level tables."""
    left, through, right = turning
    data = {
        "name": "test_grid",
        "grid": {
            "rows": rows,
            "cols": cols,
            "spacing_m": spacing,
            "entry_length_m": entry,
            "lanes": lanes,
            "cycle_s": cycle,
            "left_turn_phase": left_turn_phase,
        },
        "demand": {
            "flow_veh_h_per_lane": flow,
            "turning": {"left": left, "through": through, "right": right},
        },
        "simulation": {"duration_s": duration, "warmup_s": 0.0},
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return World.build(parse_scenario(data))


def rebuilt(world: World, corridor: dict | None = None, **sections) -> World:
    """The scenario of ``world`` with fields of its first corridor replaced (e.g.
    ``{"cross_streets": True}``) and ``sections`` merged into its top-level tables, built
    again."""
    data = world.scenario.model_dump(mode="json", exclude_none=True)
    if corridor:
        data["corridors"][0].update(corridor)
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return World.build(parse_scenario(data))


def routed_arrivals(world: World, trips, factor=1.0) -> Arrivals:
    """Hand-made arrivals with given routes: ``trips`` is a list of ``(time_s, [link ids from
    the entry link to the last link], entry lane)``; every driver has desired speed
    ``factor`` × the limit and no advisory equipment."""
    net = world.network
    entries = np.sort(net.entry_links)
    paths = [tuple(int(net.link_index[lid]) for lid in links) for _, links, _ in trips]
    entry = np.searchsorted(entries, [p[0] for p in paths])
    if not np.array_equal(entries[np.minimum(entry, entries.size - 1)], [p[0] for p in paths]):
        raise ValueError("every route must start on an entry link")
    order = np.lexsort(([t for t, _, _ in trips], entry))  # by entry, then time
    unique = sorted(set(paths))
    route_links = np.full((len(unique), max(len(p) for p in paths)), -1, dtype=np.int64)
    for i, p in enumerate(unique):
        route_links[i, : len(p)] = p
    n = len(trips)
    return Arrivals(
        np.array([t for t, _, _ in trips], dtype=float)[order],
        entry[order].astype(np.int64),
        np.array([lane for _, _, lane in trips], dtype=np.int64)[order],
        np.full(n, factor),
        np.zeros(n),
        np.zeros(n),
        entries,
        np.array([unique.index(p) for p in paths], dtype=np.int64)[order],
        route_links,
    )


def watch_steps(sim, after) -> None:
    """Call ``after(sim, before)`` after every physics step of ``sim``, with ``before`` the
    per-slot state as the step began (copies of ``alive, vid, route, link_k, stop_k, lane,
    pos, v``), so that tests can check what a step did without touching the engine."""
    step = sim._step

    def wrapped(t):
        n = sim.hw
        before = {
            k: getattr(sim, k)[:n].copy()
            for k in ("alive", "vid", "route", "link_k", "stop_k", "lane", "pos", "v")
        }
        before["t"] = t
        step(t)
        after(sim, before)

    sim._step = wrapped


def heading_change_deg(net, from_link: int, to_link: int) -> float:
    """Heading change (deg, clockwise positive: right turns > 0) from the end of one link to
    the start of the next, from the link geometry."""
    _, _, b_in = net.point_at(from_link, float(net.link_length_m[from_link]))
    _, _, b_out = net.point_at(to_link, 0.0)
    return (b_out - b_in + 180.0) % 360.0 - 180.0


def through_only(scenario):
    """``scenario`` (a validated Scenario) without its cross streets and turning demand: the
    bundled arterials as they were before turning traffic (one two-way corridor, everybody
    straight on), for tests about the corridor itself."""
    from greenwave.expand import expand_links
    from greenwave.scenario import parse_scenario

    data = scenario.model_dump(mode="json", exclude_none=True)
    for c in data.get("corridors", []):
        for k in ("cross_streets", "cross_group", "cross_length_m", "cross_lanes"):
            c.pop(k, None)
        c.pop("cross_speed_limit_kmh", None)
    dem = data.get("demand", {})
    dem.pop("turning", None)
    dem.pop("turns", None)
    entries = dem.pop("entries", [])
    links = {ln.id for ln in expand_links(parse_scenario(data)).links}
    dem["entries"] = [e for e in entries if e["link"] in links]  # the cross streets' go
    return parse_scenario(data, f"{scenario.name} (through only)")


def load_script(name: str):
    """A script of ``benchmarks/`` (``name`` without ``.py``) as a module, for its functions."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
