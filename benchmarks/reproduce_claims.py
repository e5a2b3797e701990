"""Reproduce Zibo's reported gains, separating signal coordination from speed advice.

Zibo reports, after the roll-out of its green-wave speed advisory: average speed +28 %, fuel
-24.02 %, CO2 -23 %.  A green-wave speed band exists only where signals are coordinated, so the
reported figures plausibly combine two changes against a before-state that had neither:

* **system** — uncoordinated timing without advice → optimised green wave with advice;
* **coordination only** — the same retiming, nobody advised;
* **advice only** — advice on the uncoordinated (before) timing;
* **advice on the green wave** — advice added to the already coordinated corridor.

For each scenario the "before" timing is the scenario's uncoordinated variant (bundled for the
Zibo arterial: ``scenarios/zibo_arterial_uncoordinated.toml``; for any other scenario its
offsets are drawn at random, seeded) and the "after" timing is the green wave that
``greenwave optimize`` computes from it (one-way, at the corridor's ``progression_kmh``).  All
four cases of a seed run on the same arrivals and drivers.  Then a sensitivity table from the
sweep machinery (``greenwave sweep --before``) shows the system figures against penetration,
demand, the advisory band's lower limit and the drivers' desired speed.

    python benchmarks/reproduce_claims.py [SCENARIO ...] [--seeds 10] [--duration 3600]
        [--sensitivity-seeds 3] [--no-sensitivity] [--workers N] [--out DIR] [--json]

``--city`` runs the same four cases on the bundled grid city ``zibo_city`` instead (see
:func:`city_before_after`): before = the city's streets with seeded random offsets (no
coordination), after = two-way green waves on every arterial at once
(:func:`greenwave.netband.optimize_network`, the cycle chosen in 60–150 s, progression
45 ± 5 km/h), advice at the scenario's penetration; every trip that enters after the warm-up is
driven to its end (``--drain``).  It reports the changes city-wide, per axis (east–west /
north–south streets), per compass direction and per arterial, then a sweep of penetration and
demand (the system comparison only).  A full-city run does not fit 2 cores in minutes, so the
default is a 12 × 12 sub-grid of the same streets (``--grid RxC``; ``--grid full`` for all
1,190 signals).  The simulator has no turning traffic yet: every vehicle drives one street end
to end.

    python benchmarks/reproduce_claims.py --city [--grid 12x12|full] [--seeds 10]
        [--first-seed 1] [--duration S] [--drain S] [--sensitivity-seeds 3] [--no-sensitivity]
        [--workers N] [--out DIR] [--json]

Progress (seeds, then sensitivity cases) goes to stderr when it is a terminal, never with --json.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import as_completed
from datetime import date
from pathlib import Path

import numpy as np

from greenwave.cli import (
    ensure_encodable_stdio,
    finite_float,
    int_range,
    out_dir_arg,
    print_json,
    progress_bar,
)
from greenwave.coordination import corridor_timing, optimize_offsets, with_offsets
from greenwave.network import World
from greenwave.scenario import dumps_scenario, load_scenario, parse_scenario
from greenwave.sim.compare import check_same_network
from greenwave.sim.demand import draw_arrivals
from greenwave.sim.engine import Simulation
from greenwave.sim.measures import change_pct, mean_ci, summarize
from greenwave.sim.sweep import build_spec, local_executor, run_sweep

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "zibo_arterial.toml"
BEFORE_OF = {DEFAULT.resolve(): ROOT / "scenarios" / "zibo_arterial_uncoordinated.toml"}
REPORTED = {"speed": 28.0, "fuel": -24.02, "co2": -23.0}
FIGURES = {"speed": "mean_speed_kmh", "fuel": "fuel_l_per_100km", "co2": "co2_g_per_km"}
CASES = ("before", "coordination_only", "advice_only", "after")
COMPARISONS = {  # name: (base case, other case)
    "system": ("before", "after"),
    "coordination_only": ("before", "coordination_only"),
    "advice_only": ("before", "advice_only"),
    "advice_on_green_wave": ("coordination_only", "after"),
}
CITY_CASES = (*CASES, "cycle_only")
CITY_COMPARISONS = {
    # The network plan also shortens the cycle (120 → about 80 s), which alone shortens every
    # red wait: the before timing at the plan's cycle (offsets kept, so still uncoordinated)
    # separates the cycle from the offsets.
    "cycle_only": ("before", "cycle_only"),
    "offsets_at_new_cycle": ("cycle_only", "coordination_only"),
}
SENSITIVITY = {
    "advisory.penetration": [0.0, 0.25, 0.5, 0.75, 1.0],
    "demand.scale": [0.5, 0.75, 1.0, 1.25, 1.5],
    "advisory.band_min_kmh": [20.0, 25.0, 30.0, 35.0],
    "drivers.desired_speed_factor_mean": [0.8, 0.9, 1.0, 1.1],
}


def before_after(path: Path, seed: int = 1):
    """(before text, after text, description) for a scenario file."""
    sc = load_scenario(path)
    before_path = BEFORE_OF.get(path.resolve())
    if before_path is not None:
        before = load_scenario(before_path)
        how = f"before = {before_path.name}"
    else:
        world = World.build(sc)
        ct = corridor_timing(world)
        rng = np.random.default_rng(seed)
        offs = {
            iid: float(np.round(rng.uniform(0, ct.cycle_s), 0) % ct.cycle_s)
            for iid in ct.intersection_ids
        }
        before = with_offsets(sc, offs)
        how = f"before = {path.name} with seeded random offsets (seed {seed})"
    corridor = sc.corridors[0]
    speed_kmh = corridor.progression_kmh or 45.0
    opt = optimize_offsets(before, corridor.id, speed_ms=speed_kmh / 3.6, direction="one")
    how += (
        f"; after = green wave optimised from it at {speed_kmh:g} km/h "
        f"(forward band {opt.after['forward'].bandwidth_s:.1f} s, "
        f"{opt.after['forward'].efficiency:.0%} of the cycle)"
    )
    return dumps_scenario(before), dumps_scenario(opt.scenario), how


def _direction_masks(res, world):
    """Counted vehicles of each corridor direction (by entry link)."""
    out = {}
    for cid, _, links in world.network.corridors:
        out[cid] = res.vehicles["entry_link"] == int(links[0])
    return out


def run_seed(
    before_text: str, after_text: str, seed: int, duration_s: float, drain_s: float = 0.0
) -> dict:
    """The four cases of one seed on the same arrivals: summaries overall and per direction;
    after the horizon every trip still en route is driven to its end (at most ``drain_s``)."""
    import tomllib

    after = World.build(parse_scenario(tomllib.loads(after_text), "<after>"))
    before = World.build(parse_scenario(tomllib.loads(before_text), "<before>"))
    check_same_network(after, before)
    arr = draw_arrivals(after.scenario, after.network, seed, duration_s)
    setups = {
        "before": (before.timing, False),
        "coordination_only": (after.timing, False),
        "advice_only": (before.timing, True),
        "after": (after.timing, True),
    }
    out = {}
    for case, (timing, adv) in setups.items():
        res = Simulation(
            after,
            seed,
            advisory=adv,
            duration_s=duration_s,
            arrivals=arr,
            timing=timing,
            drain_s=drain_s,
        ).run()
        out[case] = {"all": summarize(res)}
        for cid, mask in _direction_masks(res, after).items():
            out[case][cid] = summarize(res, mask)
    return out


def paired(runs: list[dict], comparison: str, part: str = "all") -> dict:
    """Per-seed % change of each figure, mean and 95 % CI."""
    base, other = {**COMPARISONS, **CITY_COMPARISONS}[comparison]
    out = {}
    for name, key in FIGURES.items():
        vals = [change_pct(r[base][part][key], r[other][part][key]) for r in runs]
        m, lo, hi = mean_ci(vals)
        out[f"{name}_change_pct"] = {"reported": REPORTED[name], "mean": m, "ci95": [lo, hi]}
    for key in ("stops_per_veh", "delay_s"):
        m, lo, hi = mean_ci([change_pct(r[base][part][key], r[other][part][key]) for r in runs])
        out[f"{key}_change_pct"] = {"mean": m, "ci95": [lo, hi]}
    return out


def run_seeds(
    executor, before_text, after_text, seeds, duration_s, *, desc, quiet, drain_s=0.0
) -> list[dict]:
    """:func:`run_seed` of every seed on ``executor``, in seed order, with a progress bar."""
    futs = {
        executor.submit(run_seed, before_text, after_text, s, duration_s, drain_s): s for s in seeds
    }
    done = {}
    with progress_bar(len(seeds), desc=desc, unit="seed", quiet=quiet) as bar:
        for f in as_completed(futs):
            done[futs[f]] = f.result()
            bar.update(1)
    return [done[s] for s in seeds]


def sweep_progress(desc: str, quiet: bool):
    """The sweep's progress bar, titled ``desc``, on a terminal (not with --json), else None."""
    if quiet or not sys.stderr.isatty():
        return None
    from greenwave.sim.cli_sweep import BarProgress

    class Titled(BarProgress):
        def start(self, total: int, done: int) -> None:
            super().start(total, done)
            self.bar.set_description(desc)

    return Titled(sys.stderr)


def sensitivity(
    before_text, after_text, seeds, duration_s, executor, out_dir, quiet=False
) -> list[dict]:
    """One-key sweeps (others at the scenario's values) of the system comparison."""
    rows = []
    for key, values in SENSITIVITY.items():
        spec = build_spec(
            after_text,
            {key: values},
            seeds=seeds,
            duration_s=duration_s,
            before_text=before_text,
            source="<after>",
        )
        run_sweep(
            spec,
            executor,
            out_dir / key.replace(".", "_"),
            plots=False,
            progress=sweep_progress(key, quiet),
        )
        with open(out_dir / key.replace(".", "_") / "summary.csv", newline="") as f:
            for r in csv.DictReader(f):
                row = {"key": key, "value": float(r[key])}
                for name, col in FIGURES.items():
                    row[name] = float(r[f"change_pct_{col}_mean"] or "nan")
                    row[f"{name}_ci95"] = [
                        float(r[f"change_pct_{col}_ci_lo"] or "nan"),
                        float(r[f"change_pct_{col}_ci_hi"] or "nan"),
                    ]
                row["stops"] = float(r["change_pct_stops_per_veh_mean"] or "nan")
                rows.append(row)
    return rows


def _f(x, fmt="{:+.1f}"):
    return "-" if x is None or not math.isfinite(x) else fmt.format(x)


def _ci(ci):
    return f"[{_f(ci[0])}, {_f(ci[1])}]"


def print_table(title: str, figs: dict):
    print(f"\n{title}")
    print(f"  {'measure':<20}{'reported':>10}{'reproduced':>12}  {'95% CI':<18}{'difference':>11}")
    for name in FIGURES:
        d = figs[f"{name}_change_pct"]
        print(
            f"  {name + ' change %':<20}{d['reported']:>+10.2f}{_f(d['mean'], '{:+.2f}'):>12}  "
            f"{_ci(d['ci95']):<18}{_f(d['mean'] - d['reported'], '{:+.2f}'):>11}"
        )
    for key in ("stops_per_veh", "delay_s"):
        d = figs[f"{key}_change_pct"]
        print(f"  {key + ' change %':<20}{'':>10}{_f(d['mean'], '{:+.2f}'):>12}  {_ci(d['ci95'])}")


# ------------------------------------------------------------------------------------ the city
CITY = ROOT / "scenarios" / "zibo_city.toml"
CITY_GRID = (12, 12)
"""Default sub-grid (rows, cols) of ``--city``: a full-city run of the four cases takes about
10 minutes per seed on one core (measured, docs in the README), so the default keeps the city's
streets, blocks, signals and demand but 12 × 12 of them (144 signals, 24 arterials)."""
CITY_SPEED_KMH = 45.0
CITY_SPEED_TOLERANCE_KMH = 5.0
CITY_CYCLE_RANGE_S = (60.0, 150.0)
"""The network plan's settings: the scenario's design progression speed, the same ±5 km/h and
cycle range as the two-way arterial plan (README, Signal coordination)."""
CITY_DRAIN_S = 3600.0
"""Every trip that entered after the warm-up is driven to its end (no survivor bias: slow trips
near the horizon count as much as fast ones); at most this long after the horizon."""
CITY_SWEEP = {
    "advisory.penetration": [0.1, 0.25, 0.5, 1.0],
    "demand.scale": [0.5, 1.0, 1.5],
}
"""Plausible city conditions swept for the system comparison (before → after, other settings
as in the scenario): the share of drivers using the app, and demand from half to 1.5× the
design level (the after plan stays the one optimised at the design demand, as a city's would)."""
CITY_DEV_SEEDS = "901–905"
"""Seeds used while developing ``--city``; the reported runs use seeds from ``--first-seed``
(default 1) and were not looked at before the benchmark was finished."""


def grid_arg(text: str):
    """argparse type: ``RxC`` (a sub-grid of the city's first R rows and C columns) or ``full``."""
    if text == "full":
        return None
    try:
        r, c = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected RxC (e.g. 12x12) or full") from None
    if not (2 <= r <= 200 and 2 <= c <= 200):
        raise argparse.ArgumentTypeError(f"'{text}': rows and columns must be in 2..200")
    return r, c


def _toml_set(data: dict, key: str, value) -> None:
    """Set a dotted scenario key (``demand.scale``) in a scenario's data."""
    head, _, tail = key.rpartition(".")
    node = data
    for part in head.split(".") if head else []:
        node = node.setdefault(part, {})
    node[tail] = value


def city_before_after(grid=CITY_GRID, before_timing: str = "random", time_limit_s=60.0):
    """(scenario texts, description, plan summary) of the city's cases.

    ``grid`` (rows, cols) keeps the first rows and columns of ``zibo_city`` (None: all of it).
    Before: ``before_timing`` 'random' (the grid's offsets drawn uniformly, seeded by the
    scenario's grid seed: no coordination) or 'scenario' (its own diagonal one-way wave).  After:
    :func:`greenwave.netband.optimize_network` from the before timing (two-way, demand weights,
    cycle in :data:`CITY_CYCLE_RANGE_S`, :data:`CITY_SPEED_KMH` ± :data:`CITY_SPEED_TOLERANCE_KMH`).
    Texts: ``before``, ``after``, ``cycle_only`` (the before offsets at the after plan's
    cycle, green shares kept) and, with random before offsets, ``own_wave`` (the scenario's own
    timing).  All written out intersection by intersection (same links, same groups).
    """
    import tomllib

    from greenwave.netband import expand_grid, optimize_network

    data = tomllib.loads(CITY.read_text(encoding="utf-8"))
    g = data["grid"]
    full = (g["rows"], g["cols"])
    rows, cols = grid or full
    if rows > full[0] or cols > full[1]:
        raise ValueError(f"--grid {rows}x{cols}: the city has {full[0]}x{full[1]} streets")
    g.update(rows=rows, cols=cols)
    own_offsets = g.get("offsets", "green_wave")
    if before_timing == "random":
        g["offsets"] = "random"
    before = expand_grid(parse_scenario(data, f"{CITY.name} {rows}x{cols}"))
    t0 = time.perf_counter()
    res = optimize_network(
        before,
        speed_ms=CITY_SPEED_KMH / 3.6,
        speed_tolerance_ms=CITY_SPEED_TOLERANCE_KMH / 3.6,
        direction="both",
        weights="demand",
        cycle_range_s=CITY_CYCLE_RANGE_S,
        time_limit_s=time_limit_s,
    )
    solve_s = time.perf_counter() - t0
    bands = {
        k: [a.band[k].bandwidth_s for a in res.arterials if k in a.band]
        for k in ("forward", "backward")
    }
    before_bands = {
        k: [a.before[k].bandwidth_s for a in res.arterials if k in a.before]
        for k in ("forward", "backward")
    }
    plan = {
        "grid": [rows, cols],
        "duration_s": float(data["simulation"]["duration_s"]),
        "warmup_s": float(data["simulation"]["warmup_s"]),
        "signals": len(res.node_ids),
        "arterials": len(res.arterials),
        "cycle_before_s": res.cycle_before_s,
        "cycle_s": res.cycle_s,
        "gap": res.gap,
        "solve_s": solve_s,
        "band_s": {k: [float(min(v)), float(np.mean(v)), float(max(v))] for k, v in bands.items()},
        "band_before_s": {
            k: [float(min(v)), float(np.mean(v)), float(max(v))] for k, v in before_bands.items()
        },
    }
    what = "seeded random offsets" if before_timing == "random" else "its own one-way diagonal wave"
    how = (
        f"{rows} × {cols} streets of zibo_city ({plan['signals']} signals, {plan['arterials']} "
        f"arterials, {g['spacing_m']:g} m blocks); before = {what} at {res.cycle_before_s:g} s; "
        f"after = two-way network green waves (netband, loop constraints, demand weights), cycle "
        f"{res.cycle_s:g} s, {CITY_SPEED_KMH:g} ± {CITY_SPEED_TOLERANCE_KMH:g} km/h, bands "
        f"forward {plan['band_s']['forward'][1]:.1f} s / backward "
        f"{plan['band_s']['backward'][1]:.1f} s on average (before "
        f"{plan['band_before_s']['forward'][1]:.1f} / {plan['band_before_s']['backward'][1]:.1f})"
    )
    texts = {
        "before": dumps_scenario(before),
        "after": dumps_scenario(res.scenario),
        "cycle_only": dumps_scenario(_at_cycle(before, res.cycle_s)),
    }
    if before_timing == "random":  # the scenario's own timing, for the sweep
        g["offsets"] = own_offsets
        texts["own_wave"] = dumps_scenario(expand_grid(parse_scenario(data, "own wave")))
    return texts, how, plan


def _at_cycle(scenario, cycle_s: float):
    """``scenario`` with every plan at ``cycle_s`` (green shares kept, offsets modulo it)."""
    from greenwave.maxband import rescale_plan, with_plans

    plans = {it.id: rescale_plan(it.plan, cycle_s) for it in scenario.intersections}
    return with_plans(scenario, plans)


def city_parts(world) -> dict[str, np.ndarray]:
    """Entry links of every reported part of the city: axis, compass direction, arterial.

    Keys: ``E–W`` / ``N–S`` (all directions of the east–west / north–south streets), the four
    compass directions, ``forward`` / ``backward`` (the corridors' own directions), each
    arterial id (both directions) and ``<arterial> <direction>``.
    """
    from greenwave.sim.plotstyle import direction_name

    parts: dict[str, list[int]] = {}
    for cid, _, links in world.network.corridors:
        entry = int(links[0])
        art, tag = cid[:-2], cid[-1]
        compass_dir = direction_name(world, entry)
        axis = "E–W" if compass_dir in ("eastbound", "westbound") else "N–S"
        for key in (
            axis,
            compass_dir,
            "forward" if tag == "f" else "backward",
            art,
            f"{art} {compass_dir}",
        ):
            parts.setdefault(key, []).append(entry)
    return {k: np.asarray(v, dtype=np.int64) for k, v in parts.items()}


def run_city_seed(
    texts: dict[str, str],
    seed: int,
    duration_s: float | None,
    drain_s: float,
    cases=CITY_CASES,
    setting: tuple[str, object] | None = None,
    before: str = "before",
) -> dict:
    """``cases`` of one seed on the same arrivals; summaries city-wide and per part.

    ``texts`` from :func:`city_before_after`; ``before`` names the text of the before timing;
    ``setting`` (dotted key, value) is applied to every scenario first (a sweep point).
    """
    import tomllib

    worlds = {}
    for name in ("after", before, "cycle_only"):
        data = tomllib.loads(texts[name])
        if setting is not None:
            _toml_set(data, *setting)
        worlds[name] = World.build(parse_scenario(data, f"<{name}>"))
    after = worlds["after"]
    for w in worlds.values():
        check_same_network(after, w)
    dur = float(duration_s if duration_s is not None else after.scenario.simulation.duration_s)
    arr = draw_arrivals(after.scenario, after.network, seed, dur)
    setups = {
        "before": (worlds[before].timing, False),
        "coordination_only": (after.timing, False),
        "advice_only": (worlds[before].timing, True),
        "after": (after.timing, True),
        "cycle_only": (worlds["cycle_only"].timing, False),
    }
    parts = city_parts(after)
    out: dict = {}
    for case in cases:
        timing, adv = setups[case]
        res = Simulation(
            after, seed, advisory=adv, duration_s=dur, arrivals=arr, timing=timing, drain_s=drain_s
        ).run()
        out[case] = {"all": summarize(res), "_wall_s": res.wall_s}
        entry = res.vehicles["entry_link"]
        for key, links in parts.items():
            out[case][key] = summarize(res, np.isin(entry, links))
    return out


def city_sweep_points(texts: dict[str, str]) -> list[tuple[str, object, tuple | None, str]]:
    """``(key, value, setting, before text name)`` of every sweep point: :data:`CITY_SWEEP`,
    then the scenario's own one-way diagonal wave as the before timing (when the main before
    is random offsets)."""
    pts: list[tuple[str, object, tuple | None, str]] = [
        (key, v, (key, v), "before") for key, values in CITY_SWEEP.items() for v in values
    ]
    if "own_wave" in texts:
        pts.append(("before timing", "one-way wave", None, "own_wave"))
    return pts


def city_sweep(texts, seeds, duration_s, drain_s, executor, quiet) -> list[dict]:
    """The system comparison (before → after) at each of :func:`city_sweep_points`."""
    jobs = {}
    points = city_sweep_points(texts)
    for key, v, setting, before in points:
        for s in seeds:
            fut = executor.submit(
                run_city_seed, texts, s, duration_s, drain_s, ("before", "after"), setting, before
            )
            jobs[fut] = (key, v, s)
    done: dict = {}
    with progress_bar(len(jobs), desc="city sweep", unit="run", quiet=quiet) as bar:
        for f in as_completed(jobs):
            done[jobs[f]] = f.result()
            bar.update(1)
    rows = []
    for key, v, _, _ in points:
        runs = [done[(key, v, s)] for s in seeds]
        row: dict = {"key": key, "value": v, "seeds": list(seeds)}
        figs = paired(runs, "system", "all")
        for name in FIGURES:
            row[name] = figs[f"{name}_change_pct"]["mean"]
            row[f"{name}_ci95"] = figs[f"{name}_change_pct"]["ci95"]
        row["stops"] = figs["stops_per_veh_change_pct"]["mean"]
        row["stops_ci95"] = figs["stops_per_veh_change_pct"]["ci95"]
        row["levels"] = {
            case: {
                k: mean_ci([r[case]["all"][k] for r in runs])[0]
                for k in ("mean_speed_kmh", "fuel_l_per_100km", "stops_per_veh")
            }
            for case in ("before", "after")
        }
        rows.append(row)
    return rows


def reaches(row_or_figs: dict) -> list[str]:
    """Which reported figures a result's means reach (speed at least, fuel/CO2 at most)."""
    out = []
    for n in FIGURES:
        v = row_or_figs[n]
        if math.isfinite(v) and (v >= REPORTED[n] if n == "speed" else v <= REPORTED[n]):
            out.append(n)
    return out


def run_city(a) -> dict:
    """The ``--city`` benchmark: the cases per seed, parts, sweep; the result dict."""
    t0 = time.perf_counter()
    texts, how, plan = city_before_after(a.grid, a.before_timing)
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    res: dict = {
        "description": how,
        "plan": plan,
        "seeds": seeds,
        "development_seeds": CITY_DEV_SEEDS,
        "duration_s": a.duration,
        "drain_s": a.drain,
        "turning_traffic": False,
    }
    executor = local_executor(a.workers)
    try:
        if not a.sensitivity_only:
            futs = {executor.submit(run_city_seed, texts, s, a.duration, a.drain): s for s in seeds}
            done = {}
            with progress_bar(len(seeds), desc="zibo_city", unit="seed", quiet=a.json) as bar:
                for f in as_completed(futs):
                    done[futs[f]] = f.result()
                    bar.update(1)
            runs = [done[s] for s in seeds]
            res["main_wall_s"] = time.perf_counter() - t0
            parts = [k for k in runs[0]["before"] if k not in ("all", "_wall_s")]
            for comp in (*COMPARISONS, *CITY_COMPARISONS):
                res[comp] = paired(runs, comp)
                res[comp]["by_part"] = {p: paired(runs, comp, p) for p in parts}
            res["levels"] = {
                case: {
                    k: mean_ci([r[case]["all"][k] for r in runs])[0] for k in ("vehicles", *LEVELS)
                }
                for case in CITY_CASES
            }
            res["run_wall_s"] = {
                case: mean_ci([r[case]["_wall_s"] for r in runs])[0] for case in CITY_CASES
            }
        if not a.no_sensitivity:
            res["sweep"] = city_sweep(
                texts, seeds[: a.sensitivity_seeds], a.duration, a.drain, executor, a.json
            )
    finally:
        executor.shutdown(cancel_futures=True)
    res["wall_s"] = time.perf_counter() - t0
    return res


LEVELS = ("mean_speed_kmh", "fuel_l_per_100km", "co2_g_per_km", "stops_per_veh", "travel_time_s")
PART_ORDER = ("E–W", "N–S", "eastbound", "westbound", "northbound", "southbound", "forward",
              "backward")  # fmt: skip


def _cell(d: dict) -> str:
    return f"{_f(d['mean']):>6} {_ci(d['ci95']):<16}"


def _part_table(title: str, by_part: dict, keys) -> None:
    print(f"\n{title}")
    print(
        f"  {'part':<22}" + "".join(f"{h:<24}" for h in ("speed %", "fuel %", "CO2 %", "stops %"))
    )
    for k in keys:
        d = by_part[k]
        cells = [d[f"{n}_change_pct"] for n in ("speed", "fuel", "co2", "stops_per_veh")]
        print(f"  {k:<22}" + "".join(f"{_cell(c):<24}" for c in cells))


def print_city(res: dict) -> None:
    seeds = res["seeds"]
    print(f"=== zibo_city: {res['description']}")
    print(
        f"plan: {res['plan']['solve_s']:.0f} s to solve, {100 * res['plan']['gap']:.2g} % from "
        "its upper bound"
    )
    print(
        f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]}; seeds {res['development_seeds']} were used "
        f"while developing) × {res['duration_s'] or res['plan']['duration_s']:g} s of arrivals "
        f"(warm-up {res['plan']['warmup_s']:g} s) + drain (every trip that entered after the "
        f"warm-up counted, at most {res['drain_s']:g} s more), {len(CITY_CASES)} cases per seed "
        "on the same arrivals and drivers; 95 % CI of the paired per-seed change (Student t)"
    )
    print(
        "NOTE: the simulator has no turning or side-street traffic yet (issue 15): every vehicle "
        "drives one street from end to end, so the cost of coordination to turning movements "
        "is not measured."
    )
    if "levels" in res:
        _print_city_main(res)
    if "sweep" in res:
        _print_city_sweep(res)


def _print_city_main(res: dict) -> None:
    lv = res["levels"]
    print(f"  levels (mean of seeds):{'':>2}" + "".join(f"{c:>19}" for c in CITY_CASES))
    for k in ("vehicles", *LEVELS):
        print(f"  {k:<24}" + "".join(f"{lv[c][k]:>19.2f}" for c in CITY_CASES))
    titles = {
        "system": "SYSTEM, city-wide: uncoordinated, no advice → two-way green waves + advice",
        "coordination_only": "COORDINATION ONLY: uncoordinated → two-way green waves, no advice",
        "advice_only": "ADVICE ONLY: advice on the uncoordinated timing",
        "advice_on_green_wave": "ADVICE ON THE GREEN WAVES: green waves → green waves + advice",
        "cycle_only": "CYCLE ONLY (control): the before offsets at the plan's cycle, no advice",
        "offsets_at_new_cycle": "OFFSETS AT THE NEW CYCLE: cycle only → coordination only",
    }
    for comp, title in titles.items():
        print_table(title, res[comp])
    for comp in ("system", "coordination_only", "advice_only", "cycle_only"):
        by = res[comp]["by_part"]
        _part_table(
            f"{comp.upper().replace('_', ' ')} by axis and direction (change %, 95 % CI)",
            by,
            [k for k in PART_ORDER if k in by],
        )
    by = res["system"]["by_part"]
    arts = [k for k in by if k not in PART_ORDER and " " not in k]
    _part_table("SYSTEM by arterial (both directions; change %, 95 % CI)", by, arts)


def _print_city_sweep(res: dict) -> None:
    print(
        f"\nSWEEP of the system comparison (seeds {res['sweep'][0]['seeds']}; other settings "
        "as in the scenario; the after plan as optimised at the design demand): change % "
        "city-wide, and which reported figures it reaches"
    )
    print(
        f"  {'setting':<24}{'value':>12}{'speed':>22}{'fuel':>22}{'CO2':>22}{'stops':>9}  reaches"
    )
    for r in res["sweep"]:
        cells = "".join(
            f"{_f(r[n]):>7} {_ci(r[f'{n}_ci95']):<14}" for n in ("speed", "fuel", "co2")
        )
        print(
            f"  {r['key']:<24}{r['value']!s:>12} {cells}{_f(r['stops']):>9}  "
            f"{', '.join(reaches(r)) or '-'}"
        )


PLOT_NAMES = {"speed": "speed", "fuel": "fuel", "co2": "CO2", "stops_per_veh": "stops"}
PLOT_COMPARISONS = {
    "system": ("system (before → after)", "#1f6fb4"),
    "coordination_only": ("coordination only", "#2ca02c"),
    "advice_only": ("advice only", "#7b3fa0"),
    "advice_on_green_wave": ("advice on the green waves", "#ff7f0e"),
    "cycle_only": ("cycle only (control)", "#a0a0a0"),
}


def plot_city(res: dict, out_dir: Path) -> list[Path]:
    """``city_by_part.png`` (every comparison per axis/direction, CIs), ``city_by_arterial.png``
    (the system per arterial) and ``city_sweep.png`` (the sweep); the reported figures as
    dashed lines."""
    from greenwave.sim import plotstyle as ps

    out_dir.mkdir(parents=True, exist_ok=True)
    rows, cols = res["plan"]["grid"]
    title = f"{rows} × {cols} streets"
    written = []
    with ps.style():
        if "system" in res:
            written += [_plot_by_part(res, out_dir, title), _plot_by_arterial(res, out_dir, title)]
        if "sweep" in res:
            written.append(_plot_sweep(res, out_dir, title))
    return written


def _bars(ax, labels, getter, width, offset, colour, label):
    """Bars of the mean change with the 95 % CI as error bars, one per label."""
    x = np.arange(len(labels)) + offset
    m = np.array([getter(k)["mean"] for k in labels])
    ci = np.array([getter(k)["ci95"] for k in labels], dtype=float)
    err = np.abs(np.vstack([m - ci[:, 0], ci[:, 1] - m]))
    ax.bar(x, m, width, color=colour, label=label)
    ax.errorbar(x, m, yerr=np.nan_to_num(err), fmt="none", ecolor="black", lw=0.8, capsize=2)


def _plot_by_part(res: dict, out_dir: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    from greenwave.sim import plotstyle as ps

    parts = ["all", *[k for k in PART_ORDER if k in res["system"]["by_part"]]]
    comps = {k: v for k, v in PLOT_COMPARISONS.items() if k in res}
    fig, axes = plt.subplots(2, 2, figsize=(14, 8.5), layout="constrained")
    w = 0.8 / len(comps)
    for ax, fig_name in zip(axes.ravel(), PLOT_NAMES, strict=True):
        for j, (comp, (label, colour)) in enumerate(comps.items()):

            def get(k, comp=comp, fig_name=fig_name):
                src = res[comp] if k == "all" else res[comp]["by_part"][k]
                return src[f"{fig_name}_change_pct"]

            _bars(ax, parts, get, w, (j - (len(comps) - 1) / 2) * w, colour, label)
        if fig_name in REPORTED:
            ax.axhline(
                REPORTED[fig_name],
                color=ps.SPEED_LIMIT,
                ls="--",
                lw=1,
                label="reported by Zibo (+28 / −24.02 / −23 %)",
            )
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(np.arange(len(parts)), ["city-wide", *parts[1:]], rotation=30)
        ax.set_ylabel(f"{PLOT_NAMES[fig_name]} change (%)")
        ax.grid(axis="y")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    fig.suptitle(f"zibo_city, {title}: changes by axis and direction (95 % CI over seeds)")
    path = out_dir / "city_by_part.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_by_arterial(res: dict, out_dir: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    from greenwave.sim import plotstyle as ps

    by = res["system"]["by_part"]
    arts = [k for k in by if k not in PART_ORDER and " " not in k]
    fig, axes = plt.subplots(
        2, 1, figsize=(max(8, 0.35 * len(arts) + 3), 7.5), layout="constrained", sharex=True
    )
    for ax, (fig_name, colour) in zip(
        axes, (("speed", "#1f6fb4"), ("fuel", "#2ca02c")), strict=True
    ):
        _bars(ax, arts, lambda k, n=fig_name: by[k][f"{n}_change_pct"], 0.7, 0.0, colour,
              f"system change, {PLOT_NAMES[fig_name]}")  # fmt: skip
        ax.axhline(
            REPORTED[fig_name],
            color=ps.SPEED_LIMIT,
            ls="--",
            lw=1,
            label=f"reported {PLOT_NAMES[fig_name]} ({REPORTED[fig_name]:+g} %)",
        )
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_ylabel(f"{PLOT_NAMES[fig_name]} change (%)")
        ax.grid(axis="y")
    handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
    labels = [t for ax in axes for t in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    axes[-1].set_xticks(np.arange(len(arts)), arts, rotation=90)
    axes[-1].set_xlabel("arterial (row: east–west street, col: north–south street)")
    fig.suptitle(f"zibo_city, {title}: system change per arterial (95 % CI over seeds)")
    path = out_dir / "city_by_arterial.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_sweep(res: dict, out_dir: Path, title: str) -> Path:
    """Speed (top) and fuel/CO2 (bottom, their own scale: the reported lines are close) against
    each numeric sweep key, with the 95 % CI shaded."""
    import matplotlib.pyplot as plt

    numeric = [r for r in res["sweep"] if not isinstance(r["value"], str)]
    keys = list(dict.fromkeys(r["key"] for r in numeric))
    fig, axes = plt.subplots(
        2, len(keys), figsize=(6 * len(keys), 7.5), layout="constrained", squeeze=False
    )
    colours = {"speed": "#1f6fb4", "fuel": "#2ca02c", "co2": "#7b3fa0"}
    # Fuel and CO2 changes nearly coincide: different markers and lines.
    fmts = {"speed": "o-", "fuel": "s-", "co2": "^:"}
    for col, key in enumerate(keys):
        pts = [r for r in numeric if r["key"] == key]
        x = np.array([r["value"] for r in pts], dtype=float)
        for n, colour in colours.items():
            ax = axes[0][col] if n == "speed" else axes[1][col]
            m = np.array([r[n] for r in pts])
            ci = np.array([r[f"{n}_ci95"] for r in pts], dtype=float)
            ax.plot(x, m, fmts[n], color=colour, label=f"{PLOT_NAMES[n]} (simulated)")
            ax.fill_between(x, ci[:, 0], ci[:, 1], color=colour, alpha=0.2, lw=0)
            ax.axhline(REPORTED[n], color=colour, ls="--", lw=1,
                       label=f"{PLOT_NAMES[n]} reported ({REPORTED[n]:+g} %)")  # fmt: skip
        axes[0][col].set_ylabel("speed change, city-wide (%)")
        axes[1][col].set_ylabel("fuel / CO2 change, city-wide (%)")
        axes[1][col].set_xlabel(key)
        for ax in axes[:, col]:
            ax.grid()
    handles = [h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]]
    labels = [t for ax in axes[:, 0] for t in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    fig.suptitle(
        f"zibo_city, {title}: system change against penetration and demand "
        f"(seeds {res['sweep'][0]['seeds'][0]}–{res['sweep'][0]['seeds'][-1]}, 95 % CI)"
    )
    path = out_dir / "city_sweep.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        default=None,
        metavar="SCENARIO",
        help=f"scenario TOML files (default: {DEFAULT.name}; its before state is "
        "zibo_arterial_uncoordinated.toml, other scenarios get seeded random offsets)",
    )
    ap.add_argument(
        "--seeds",
        type=int_range(1, 1000),
        default=10,
        metavar="N",
        help="seeds 1..N of the four cases (default 10; at least 2 for confidence intervals)",
    )
    ap.add_argument(
        "--first-seed",
        type=int_range(0, 2**31),
        default=1,
        metavar="S",
        help="the runs use seeds S..S+N-1 (default 1)",
    )
    ap.add_argument(
        "--duration",
        type=finite_float(0.0, 86400.0, lo_open=True),
        default=None,
        metavar="S",
        help="simulated seconds per run (arrivals), more than the warm-up (default 3600; "
        "with --city the scenario's 1800)",
    )
    city = ap.add_argument_group("the grid city (--city)")
    city.add_argument(
        "--city",
        action="store_true",
        help="run zibo_city (before: random offsets; after: two-way network green waves) "
        "instead of the arterial; reports city-wide, per direction and per arterial",
    )
    city.add_argument(
        "--grid",
        type=grid_arg,
        default=CITY_GRID,
        metavar="RxC|full",
        help=f"the city's first R east–west and C north–south streets (default "
        f"{CITY_GRID[0]}x{CITY_GRID[1]}; full = all 35x34, about 10 min per seed and core)",
    )
    city.add_argument(
        "--before-timing",
        choices=("random", "scenario"),
        default="random",
        help="the city's before timing: seeded random offsets (default, uncoordinated) or "
        "the scenario's own one-way diagonal wave",
    )
    city.add_argument(
        "--drain",
        type=finite_float(0.0, 86400.0),
        default=CITY_DRAIN_S,
        metavar="S",
        help=f"after the horizon, drive every counted trip to its end, at most S s "
        f"(default {CITY_DRAIN_S:g}; the arterial mode too)",
    )
    ap.add_argument(
        "--sensitivity-seeds",
        type=int_range(1, 1000),
        default=3,
        metavar="N",
        help="seeds per value of the sensitivity sweeps (default 3)",
    )
    ap.add_argument(
        "--no-sensitivity", action="store_true", help="skip the sensitivity sweeps (faster)"
    )
    ap.add_argument(
        "--sensitivity-only",
        action="store_true",
        help="with --city: run only the sweep (the main cases in a separate run keep each "
        "run within minutes)",
    )
    ap.add_argument(
        "--workers",
        type=int_range(1, 1024),
        default=os.cpu_count(),
        metavar="N",
        help=f"worker processes (default: all cores, {os.cpu_count()})",
    )
    ap.add_argument(
        "--out",
        type=out_dir_arg,
        metavar="DIR",
        help="keep the sensitivity sweeps in DIR (default: a temporary directory); with "
        "--city write the plots there",
    )
    ap.add_argument(
        "--json",
        action="store_true",
        help="also print one JSON object on the last line of stdout (no progress bar)",
    )
    return ap


def main(argv=None):
    ensure_encodable_stdio()
    ap = build_parser()
    a = ap.parse_args(argv)
    if a.seeds < 2:
        ap.error("--seeds must be at least 2 (confidence intervals)")
    if a.city:
        if a.scenarios:
            ap.error("--city runs the bundled zibo_city; give no SCENARIO with it")
        if a.grid is not None and not (a.grid[0] <= 35 and a.grid[1] <= 34):
            ap.error(f"--grid {a.grid[0]}x{a.grid[1]}: zibo_city has 35x34 streets")
        if a.sensitivity_only and a.no_sensitivity:
            ap.error("--sensitivity-only and --no-sensitivity exclude each other")
        res = run_city(a)
        print_city(res)
        if a.out is not None:
            for path in plot_city(res, a.out):
                print(f"wrote {path}")
        print(
            f"\n{platform.machine()}, {os.cpu_count()} cpus, {date.today().isoformat()}, "
            f"{res['wall_s']:.0f} s wall"
        )
        if a.json:
            print_json(
                {
                    **{k: v for k, v in res.get("system", {}).items() if k.endswith("_change_pct")},
                    "city": res,
                }
            )
        return 0
    for flag, given in (
        ("--grid", a.grid != CITY_GRID),
        ("--before-timing", a.before_timing != "random"),
        ("--sensitivity-only", a.sensitivity_only),
    ):
        if given:
            ap.error(f"{flag} applies to --city only")
    a.scenarios = a.scenarios or [DEFAULT]
    a.duration = 3600.0 if a.duration is None else a.duration
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    t_start = time.perf_counter()
    results = {}
    executor = local_executor(a.workers)
    try:
        for path in a.scenarios:
            before_text, after_text, how = before_after(path)
            name = load_scenario(path).name
            runs = run_seeds(
                executor,
                before_text,
                after_text,
                seeds,
                a.duration,
                desc=name,
                quiet=a.json,
                drain_s=a.drain,
            )
            directions = [k for k in runs[0]["before"] if k != "all"]
            res = {
                "description": how,
                "seeds": seeds,
                "duration_s": a.duration,
                "drain_s": a.drain,
            }
            for comp in COMPARISONS:
                res[comp] = paired(runs, comp)
                res[comp]["by_direction"] = {d: paired(runs, comp, d) for d in directions}
            res["levels"] = {
                case: {
                    k: mean_ci([r[case]["all"][k] for r in runs])[0]
                    for k in (
                        "mean_speed_kmh",
                        "fuel_l_per_100km",
                        "co2_g_per_km",
                        "stops_per_veh",
                        "travel_time_s",
                    )
                }
                for case in CASES
            }
            if not a.no_sensitivity:
                out = a.out or Path(tempfile.mkdtemp(prefix="gw-reproduce-"))
                res["sensitivity"] = sensitivity(
                    before_text,
                    after_text,
                    seeds[: a.sensitivity_seeds],
                    a.duration,
                    executor,
                    out / name,
                    quiet=a.json,
                )
            results[name] = res
    finally:
        executor.shutdown(cancel_futures=True)
    wall = time.perf_counter() - t_start

    for name, res in results.items():
        print(f"=== {name}: {res['description']}")
        print(
            f"{len(res['seeds'])} seeds × {res['duration_s']:g} s (+ drain: every trip entering "
            f"after the warm-up driven to its end, at most {res['drain_s']:g} s), 4 cases per "
            "seed on the same arrivals; 95 % CI of the paired per-seed change (Student t)"
        )
        lv = res["levels"]
        print(f"  levels (mean of seeds):{'':>2}" + "".join(f"{c:>19}" for c in CASES))
        for k in (
            "mean_speed_kmh",
            "fuel_l_per_100km",
            "co2_g_per_km",
            "stops_per_veh",
            "travel_time_s",
        ):
            print(f"  {k:<24}" + "".join(f"{lv[c][k]:>19.2f}" for c in CASES))
        titles = {
            "system": "SYSTEM: uncoordinated, no advice → green wave + advice (Zibo's claim)",
            "coordination_only": "COORDINATION ONLY: uncoordinated → green wave, no advice",
            "advice_only": "ADVICE ONLY: advice on the uncoordinated timing",
            "advice_on_green_wave": "ADVICE ON THE GREEN WAVE: green wave → green wave + advice",
        }
        for comp, title in titles.items():
            print_table(title, res[comp])
        print(
            "\n  by direction (system): "
            + "; ".join(
                f"{d}: speed {_f(v['speed_change_pct']['mean'])} %, fuel "
                f"{_f(v['fuel_change_pct']['mean'])} %, CO2 {_f(v['co2_change_pct']['mean'])} %, "
                f"stops {_f(v['stops_per_veh_change_pct']['mean'])} %"
                for d, v in res["system"]["by_direction"].items()
            )
        )
        if "sensitivity" in res:
            print(
                "\nSENSITIVITY of the system comparison (sweep --before; other settings as "
                f"in the scenario; {a.sensitivity_seeds} seeds): change % and whether it "
                "reaches the reported figure"
            )
            print(
                f"  {'setting':<36}{'value':>7}{'speed':>9}{'fuel':>9}{'CO2':>9}{'stops':>9}"
                "  reaches"
            )
            for r in res["sensitivity"]:
                hits = [
                    n
                    for n in FIGURES
                    if math.isfinite(r[n])
                    and (r[n] >= REPORTED[n] if n == "speed" else r[n] <= REPORTED[n])
                ]
                print(
                    f"  {r['key']:<36}{r['value']:>7g}{_f(r['speed']):>9}{_f(r['fuel']):>9}"
                    f"{_f(r['co2']):>9}{_f(r['stops']):>9}  {', '.join(hits) or '-'}"
                )
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cpus, {date.today().isoformat()}, "
        f"{wall:.0f} s wall"
    )
    if a.json:
        first = next(iter(results.values()))
        obj = {
            **{k: v for k, v in first["system"].items() if k.endswith("_change_pct")},
            "coordination_only": {
                k: v for k, v in first["coordination_only"].items() if k.endswith("_change_pct")
            },
            "advice_only": {
                k: v for k, v in first["advice_only"].items() if k.endswith("_change_pct")
            },
            "advice_on_green_wave": {
                k: v for k, v in first["advice_on_green_wave"].items() if k.endswith("_change_pct")
            },
            "scenarios": results,
        }
        print_json(obj)


if __name__ == "__main__":
    sys.exit(main())
