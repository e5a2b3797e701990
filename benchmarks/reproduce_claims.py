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


def run_seed(before_text: str, after_text: str, seed: int, duration_s: float) -> dict:
    """The four cases of one seed on the same arrivals: summaries overall and per direction."""
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
            after, seed, advisory=adv, duration_s=duration_s, arrivals=arr, timing=timing
        ).run()
        out[case] = {"all": summarize(res)}
        for cid, mask in _direction_masks(res, after).items():
            out[case][cid] = summarize(res, mask)
    return out


def paired(runs: list[dict], comparison: str, part: str = "all") -> dict:
    """Per-seed % change of each figure, mean and 95 % CI."""
    base, other = COMPARISONS[comparison]
    out = {}
    for name, key in FIGURES.items():
        vals = [change_pct(r[base][part][key], r[other][part][key]) for r in runs]
        m, lo, hi = mean_ci(vals)
        out[f"{name}_change_pct"] = {"reported": REPORTED[name], "mean": m, "ci95": [lo, hi]}
    for key in ("stops_per_veh", "delay_s"):
        m, lo, hi = mean_ci([change_pct(r[base][part][key], r[other][part][key]) for r in runs])
        out[f"{key}_change_pct"] = {"mean": m, "ci95": [lo, hi]}
    return out


def run_seeds(executor, before_text, after_text, seeds, duration_s, *, desc, quiet) -> list[dict]:
    """:func:`run_seed` of every seed on ``executor``, in seed order, with a progress bar."""
    futs = {executor.submit(run_seed, before_text, after_text, s, duration_s): s for s in seeds}
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        default=[DEFAULT],
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
        "--duration",
        type=finite_float(0.0, 86400.0, lo_open=True),
        default=3600.0,
        metavar="S",
        help="simulated seconds per run, more than the warm-up (default 3600)",
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
        help="keep the sensitivity sweeps in DIR (default: a temporary directory)",
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
    t_start = time.perf_counter()
    results = {}
    executor = local_executor(a.workers)
    try:
        for path in a.scenarios:
            before_text, after_text, how = before_after(path)
            seeds = list(range(1, a.seeds + 1))
            name = load_scenario(path).name
            runs = run_seeds(
                executor, before_text, after_text, seeds, a.duration, desc=name, quiet=a.json
            )
            directions = [k for k in runs[0]["before"] if k != "all"]
            res = {"description": how, "seeds": seeds, "duration_s": a.duration}
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
                    list(range(1, a.sensitivity_seeds + 1)),
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
            f"{len(res['seeds'])} seeds × {res['duration_s']:g} s, 4 cases per seed on the "
            "same arrivals; 95 % CI of the paired per-seed change (Student t)"
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
