"""Two-way MAXBAND plans against a TRANSYT-style simulated-delay search on the Zibo arterial.

Every plan starts from the uncoordinated arterial (``zibo_arterial_uncoordinated.toml``, the
"before" of ``reproduce_claims.py``) at a 45 km/h target progression:

* ``today`` — the bundled coordinated arterial (``zibo_arterial.toml``: a one-way eastbound
  wave, 55 s band at 120 s), the plan behind the issue's +9.2 % / −7.0 %;
* ``maxband_120`` — MAXBAND at the 120 s cycle, equal bands both ways (``--target-ratio 1``),
  the plan at the same cycle as ``transyt``;
* ``maxband`` — ``greenwave optimize --cycle-range 60:150 --target-ratio 1``: MAXBAND
  (Little, Kelson & Gartner 1981) with the cycle chosen, equal bands both ways;
* ``maxband_tol`` — the same with progression speeds within ±5 km/h per link;
* ``cycle_only`` — a control: the ``maxband`` plan's cycle and green shares with the
  uncoordinated offsets (seconds, modulo the new cycle), i.e. what the shorter cycle gives
  without any coordination;
* ``transyt`` — offsets at the 120 s cycle by coordinate descent on the simulated performance
  index ``delay + K · stops`` (TRANSYT's objective, K = ``--stop-penalty-s``; vehicles without
  advice, as TRANSYT optimises timings for ordinary traffic), steps of ``--steps`` seconds,
  each offset tried ± the step, a step repeated while it improves (at most ``--passes``).

The search **chooses on seeds 1–3** (``--choose-seeds``, ``--choose-duration`` s each, every
trip followed to its end) and every plan is **reported on fresh seeds 11–20**
(``--report-seeds``, ``--duration`` s) with :func:`greenwave.sim.compare.compare`: the plan
without advice ("retiming only") and with advice ("system"), each against the uncoordinated
timing without advice on the same arrivals, over both directions and per direction.  Changes
are per-seed paired means with 95 % CIs.  Also printed: each plan's design bands at 45 km/h,
its cycle and how long its optimisation took.

    python benchmarks/bench_optimize.py [--plans today,maxband_120,maxband,maxband_tol,...]
        [--choose-seeds 1-3] [--report-seeds 11-20] [--duration 3600]
        [--choose-duration 1800] [--steps 24,8] [--passes 2] [--stop-penalty-s 20] [--json]

The whole default run takes about half an hour on two shared cores (each advised 3600 s run is
about 20 s, the search about 7 minutes); ``--plans`` runs a part of it.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from greenwave.cli import finite_float, parse_list, print_json, progress_bar
from greenwave.coordination import corridor_bands, corridor_timing, with_offsets
from greenwave.maxband import optimize_corridor, rescale_plan, with_plans
from greenwave.network import World
from greenwave.scenario import Scenario, load_scenario
from greenwave.sim.compare import compare
from greenwave.sim.demand import draw_arrivals
from greenwave.sim.engine import Simulation
from greenwave.sim.measures import change_pct, mean_ci, summarize

BEFORE = ROOT / "scenarios" / "zibo_arterial_uncoordinated.toml"
TODAY = ROOT / "scenarios" / "zibo_arterial.toml"
SPEED_KMH = 45.0
PLANS = ("today", "maxband_120", "maxband", "maxband_tol", "cycle_only", "transyt")
FIGURES = {
    "speed": "mean_speed_kmh",
    "fuel": "fuel_l_per_100km",
    "co2": "co2_g_per_km",
    "stops": "stops_per_veh",
    "delay": "delay_s",
}
GOAL = {"speed": 18.0, "fuel": -14.0}  # twice today's both-direction gains (issue 14)


def _seeds(text: str) -> list[int]:
    try:
        seeds = parse_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"'{text}': seeds are integers >= 0")
    return seeds


def _parts(world: World, res) -> dict[str, np.ndarray | None]:
    """Vehicle masks: all, and each corridor direction by its entry link (named by bearing)."""
    out: dict[str, np.ndarray | None] = {"both": None}
    for cid, _, links in world.network.corridors:
        name = "eastbound" if cid.endswith("_f") else "westbound"
        out[name] = res.vehicles["entry_link"] == int(links[0])
    return out


def _summaries(world: World, res) -> dict[str, dict]:
    return {part: summarize(res, mask) for part, mask in _parts(world, res).items()}


# --------------------------------------------------------------------------- TRANSYT search
def performance_index(sc: Scenario, seeds, duration_s: float, stop_penalty_s: float) -> float:
    """Mean over seeds of ``delay + K · stops`` per vehicle (s), no advice, every trip drained."""
    world = World.build(sc)
    vals = []
    for seed in seeds:
        arr = draw_arrivals(sc, world.network, seed, duration_s)
        res = Simulation(
            world, seed, advisory=False, duration_s=duration_s, arrivals=arr, drain_s=1800.0
        ).run()
        s = summarize(res)
        vals.append(s["delay_s"] + stop_penalty_s * s["stops_per_veh"])
    return float(np.mean(vals))


def transyt_search(before: Scenario, args, quiet: bool) -> tuple[Scenario, dict]:
    """Coordinate descent over the offsets (the first signal's fixed) on the simulated index."""
    ct = corridor_timing(World.build(before))
    ids, cycle = ct.intersection_ids, ct.cycle_s
    off = np.asarray(ct.offset_s, dtype=float).copy()

    def index(o) -> float:
        sc = with_offsets(before, dict(zip(ids, map(float, o % cycle), strict=True)))
        return performance_index(sc, args.choose_seeds, args.choose_duration, args.stop_penalty_s)

    best = index(off)
    start, evals, trace = best, 1, [best]
    total = sum(2 * (len(ids) - 1) * args.passes for _ in args.steps)
    with progress_bar(total, desc="transyt search", unit="plan", quiet=quiet) as bar:
        for step in args.steps:
            for _ in range(args.passes):
                improved = False
                for i in range(1, len(ids)):
                    for d in (step, -step):
                        cand = off.copy()
                        cand[i] = (cand[i] + d) % cycle
                        val = index(cand)
                        evals += 1
                        bar.update(1)
                        if val < best - 1e-9:
                            best, off, improved = val, cand, True
                            trace.append(best)
                if not improved:
                    bar.update(2 * (len(ids) - 1) * (args.passes - 1 - _))
                    break
    sc = with_offsets(before, dict(zip(ids, map(float, off % cycle), strict=True)))
    return sc, {"index_start_s": start, "index_end_s": best, "evaluations": evals}


# --------------------------------------------------------------------------- plans
def build_plans(args, quiet: bool) -> dict[str, dict]:
    before = load_scenario(BEFORE)
    v = SPEED_KMH / 3.6
    out = {}
    for name in args.plans:
        t0 = time.process_time()
        info: dict = {}
        if name == "today":
            sc = load_scenario(TODAY)
            how = "bundled coordinated arterial (one-way eastbound wave)"
        elif name in ("maxband_120", "maxband", "maxband_tol"):
            tol = 5 / 3.6 if name == "maxband_tol" else 0.0
            cycles = (120.0, 120.0) if name == "maxband_120" else (60.0, 150.0)
            res = optimize_corridor(
                before,
                speed_ms=v,
                speed_tolerance_ms=tol,
                target_ratio=1.0,
                cycle_range_s=cycles,
            )
            sc = res.scenario
            how = f"MAXBAND, cycle {cycles[0]:g}–{cycles[1]:g} s, equal bands" + (
                ", ±5 km/h" if tol else ""
            )
            info = {
                "program_bands_s": {k: d.program_band_s for k, d in res.directions.items()},
                "speeds_kmh": {k: (d.speed_ms * 3.6).tolist() for k, d in res.directions.items()},
            }
        elif name == "cycle_only":
            cyc = optimize_corridor(
                before, speed_ms=v, target_ratio=1.0, cycle_range_s=(60.0, 150.0)
            ).cycle_s
            sc = with_plans(
                before, {it.id: rescale_plan(it.plan, cyc) for it in before.intersections}
            )
            how = f"control: maxband's cycle {cyc:g} s, uncoordinated offsets"
        else:
            sc, info = transyt_search(before, args, quiet)
            how = (
                f"TRANSYT-style search: delay + {args.stop_penalty_s:g}·stops, seeds "
                f"{args.choose_seeds}, steps {args.steps} s"
            )
        ct = corridor_timing(World.build(sc))
        bands = corridor_bands(ct, v)
        out[name] = {
            "scenario": sc,
            "how": how,
            "cycle_s": ct.cycle_s,
            "design_band_s": {k: b.bandwidth_s for k, b in bands.items()},
            "optimise_cpu_s": time.process_time() - t0,
            **info,
        }
    return out


# --------------------------------------------------------------------------- report
def report(plans: dict[str, dict], args, quiet: bool) -> dict:
    before = World.build(load_scenario(BEFORE))
    base = []
    with progress_bar(len(args.report_seeds), desc="before", unit="seed", quiet=quiet) as bar:
        for seed in args.report_seeds:
            arr = draw_arrivals(before.scenario, before.network, seed, args.duration)
            res = Simulation(
                before, seed, advisory=False, duration_s=args.duration, arrivals=arr
            ).run()
            base.append(_summaries(before, res))
            bar.update(1)
    results = {}
    for name, plan in plans.items():
        world = World.build(plan["scenario"])
        runs = compare(world, args.report_seeds, duration_s=args.duration, keep=True)["_runs"]
        cases = {
            "retiming_only": [_summaries(world, b) for _, b, _ in runs],
            "system": [_summaries(world, a) for _, _, a in runs],
        }
        out = {}
        for case, per_seed in cases.items():
            out[case] = {}
            for part in base[0]:
                figs = {}
                for fig, key in FIGURES.items():
                    vals = [
                        change_pct(b[part][key], s[part][key])
                        for b, s in zip(base, per_seed, strict=True)
                    ]
                    m, lo, hi = mean_ci(vals)
                    figs[fig] = {"mean": m, "ci95": [lo, hi]}
                out[case][part] = figs
        results[name] = out
    return results


def _f(x: float, fmt: str = "{:+.1f}") -> str:
    return "-" if x is None or not math.isfinite(x) else fmt.format(x)


def print_report(plans, results, args) -> None:
    print(
        f"Zibo arterial from the uncoordinated timing, target {SPEED_KMH:g} km/h; chosen on "
        f"seeds {args.choose_seeds}, reported on seeds {args.report_seeds} "
        f"({args.duration:g} s each)"
    )
    print()
    print(f"{'plan':<12} {'cycle s':>7} {'band E s':>8} {'band W s':>8} {'opt cpu s':>9}  how")
    for name, p in plans.items():
        b = p["design_band_s"]
        print(
            f"{name:<12} {p['cycle_s']:>7g} {b['forward']:>8.1f} {b.get('backward', 0):>8.1f} "
            f"{p['optimise_cpu_s']:>9.1f}  {p['how']}"
        )
    for case, title in (
        ("system", "system: uncoordinated, no advice → plan + advice (change %, 95 % CI)"),
        ("retiming_only", "retiming only: uncoordinated → plan, nobody advised (change %)"),
    ):
        print()
        print(title)
        print(f"{'plan':<12} {'part':<10} " + " ".join(f"{f:>18}" for f in FIGURES))
        for name, res in results.items():
            for part, figs in res[case].items():
                cells = []
                for f in FIGURES:
                    d = figs[f]
                    cells.append(
                        f"{_f(d['mean']):>6} [{_f(d['ci95'][0])}, {_f(d['ci95'][1])}]".rjust(18)
                    )
                print(f"{name:<12} {part:<10} " + " ".join(cells))
    print()
    for name, res in results.items():
        both = res["system"]["both"]
        dirs = [res["system"][p] for p in res["system"] if p != "both"]
        ok_both = both["speed"]["mean"] >= GOAL["speed"] and both["fuel"]["mean"] <= GOAL["fuel"]
        ok_each = all(
            d["speed"]["mean"] >= GOAL["speed"] and d["fuel"]["mean"] <= GOAL["fuel"] for d in dirs
        )
        print(
            f"goal speed >= +{GOAL['speed']:g} %, fuel <= {GOAL['fuel']:g} % — {name}: both "
            f"directions together {'met' if ok_both else 'not met'}, each direction "
            f"{'met' if ok_each else 'not met'}"
        )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--plans",
        type=lambda t: [p for p in t.split(",") if p],
        default=list(PLANS),
        metavar="LIST",
        help=f"plans to build and report, comma-separated from {', '.join(PLANS)} (default all)",
    )
    ap.add_argument(
        "--choose-seeds",
        type=_seeds,
        default=[1, 2, 3],
        metavar="SEEDS",
        help="seeds the TRANSYT search evaluates its plans on (default 1-3)",
    )
    ap.add_argument(
        "--report-seeds",
        type=_seeds,
        default=list(range(11, 21)),
        metavar="SEEDS",
        help="fresh seeds every plan is reported on (default 11-20)",
    )
    ap.add_argument(
        "--duration",
        type=finite_float(600.0, 86400.0, lo_open=True),
        default=3600.0,
        metavar="S",
        help="simulated seconds of each reported run (default 3600; warm-up 600)",
    )
    ap.add_argument(
        "--choose-duration",
        type=finite_float(600.0, 86400.0, lo_open=True),
        default=1800.0,
        metavar="S",
        help="simulated seconds of each run of the search, trips drained (default 1800)",
    )
    ap.add_argument(
        "--steps",
        type=lambda t: [float(x) for x in t.split(",")],
        default=[24.0, 8.0],
        metavar="S,S",
        help="offset steps of the search, coarse to fine (default 24,8)",
    )
    ap.add_argument(
        "--passes",
        type=int,
        default=2,
        metavar="N",
        help="sweeps over the offsets per step while they improve (default 2)",
    )
    ap.add_argument(
        "--stop-penalty-s",
        type=finite_float(0.0, 600.0),
        default=20.0,
        metavar="K",
        help="seconds of delay one stop counts for in the search's index (default 20)",
    )
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    bad = [p for p in args.plans if p not in PLANS]
    if bad or not args.plans:
        print(
            f"bench_optimize.py: error: --plans: unknown {bad}; choose from {PLANS}",
            file=sys.stderr,
        )
        return 2
    if any(not (math.isfinite(s) and s > 0) for s in args.steps) or args.passes < 1:
        print("bench_optimize.py: error: --steps > 0 and --passes >= 1", file=sys.stderr)
        return 2
    quiet = args.json
    t0 = time.perf_counter()
    plans = build_plans(args, quiet)
    results = report(plans, args, quiet)
    wall = time.perf_counter() - t0
    if not args.json:
        print_report(plans, results, args)
        print(f"\n{wall:.0f} s on {platform.machine()} ({platform.python_version()})")
        return 0
    print_json(
        {
            "choose_seeds": args.choose_seeds,
            "report_seeds": args.report_seeds,
            "duration_s": args.duration,
            "plans": {
                k: {kk: vv for kk, vv in p.items() if kk != "scenario"} for k, p in plans.items()
            },
            "changes_pct": results,
            "wall_s": wall,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
