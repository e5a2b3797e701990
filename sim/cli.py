"""``greenwave compare`` and ``greenwave demo``: paired baseline/advisory runs from the shell."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from greenwave.cli import CliError, finite_float, int_range, print_json, scenario_arg
from greenwave.network import World
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario

from .compare import compare, compare_before_after, vehicles_table
from .measures import CHANGE_MEASURES

ROWS = [  # (key, label, format)
    ("vehicles", "vehicles counted", "{:.0f}"),
    ("incomplete", "en route at the end", "{:.0f}"),
    ("mean_speed_kmh", "mean speed (km/h)", "{:.2f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("stops_per_veh", "stops per vehicle", "{:.3f}"),
    ("stopped_time_s", "stopped time (s)", "{:.1f}"),
    ("delay_s", "delay (s)", "{:.1f}"),
    ("fuel_l_per_100km", "fuel (L/100 km)", "{:.3f}"),
    ("co2_g_per_km", "CO2 (g/km)", "{:.1f}"),
]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="run baseline and advisory on the same traffic and compare",
        description="Runs, for each seed, a no-advisory baseline and an advisory run on the same "
        "arrivals and drivers, and prints baseline, advisory and change % (95 % CI over seeds).",
    )
    scenario_arg(p)
    _common(p)
    p.add_argument(
        "--before",
        type=Path,
        metavar="BEFORE",
        help="also compare against this scenario's timing without advice "
        "(retiming only, advice only, both)",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("demo", help="compare on the bundled Zibo arterial, with plots")
    p.add_argument(
        "--plots",
        type=Path,
        default=Path("greenwave-demo"),
        metavar="DIR",
        help="where to write the plots (default ./greenwave-demo)",
    )
    p.add_argument("--seeds", type=int_range(1, 100), default=3)
    p.add_argument(
        "--duration",
        type=finite_float(1.0, 86400.0),
        metavar="S",
        help="simulated seconds, more than the warm-up (default: the scenario's)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(
        func=cmd_compare,
        scenario=DEFAULT_SCENARIO,
        penetration=None,
        compliance=None,
        out=None,
        before=None,
        first_seed=1,
    )


def _common(p):
    p.add_argument(
        "--seeds",
        type=int_range(1, 1000),
        default=5,
        metavar="N",
        help="number of seeds (default 5)",
    )
    p.add_argument("--first-seed", type=int_range(0, 2**31), default=1, metavar="S")
    p.add_argument(
        "--penetration",
        type=finite_float(0.0, 1.0),
        metavar="P",
        help="share of equipped vehicles (default: the scenario's)",
    )
    p.add_argument(
        "--compliance",
        type=finite_float(0.0, 1.0),
        metavar="C",
        help="share of equipped drivers who follow the advice (default: scenario's)",
    )
    p.add_argument(
        "--duration",
        type=finite_float(1.0, 86400.0),
        metavar="S",
        help="simulated seconds (default: the scenario's)",
    )
    p.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots of the first seed")
    p.add_argument("--out", type=Path, metavar="CSV", help="write per-vehicle results (CSV)")
    p.add_argument("--json", action="store_true", help="print one JSON object only")


def cmd_compare(args) -> int:
    sc = load_scenario(args.scenario)
    world = World.build(sc)
    if args.duration is not None and args.duration <= sc.simulation.warmup_s:
        raise CliError(
            f"--duration {args.duration:g} must exceed the warm-up ({sc.simulation.warmup_s:g} s)"
        )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.before is not None:
        before = World.build(load_scenario(args.before))
        try:
            res = compare_before_after(
                world,
                before,
                seeds,
                duration_s=args.duration,
                penetration=args.penetration,
                compliance=args.compliance,
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if args.json:
            print_json(res)
        else:
            _print_before_after(res)
        return 0
    keep = args.plots is not None or args.out is not None
    res = compare(
        world,
        seeds,
        duration_s=args.duration,
        penetration=args.penetration,
        compliance=args.compliance,
        keep=keep,
    )
    runs = res.pop("_runs", None)
    if args.plots is not None:
        from .plots import write_plots

        _, b, a = runs[0]
        files = write_plots(world, b, a, args.plots)
    if args.out is not None:
        _write_csv(args.out, world, runs)
    if args.json:
        print_json(
            {
                k: res[k]
                for k in (
                    "scenario",
                    "seeds",
                    "penetration",
                    "baseline",
                    "advisory",
                    "change_pct",
                    "change_ci95",
                    "duration_s",
                    "vehicle_steps_per_s",
                )
            }
        )
        return 0
    _print_table(res)
    if args.plots is not None:
        print(f"plots: {', '.join(str(f) for f in files)}")
    if args.out is not None:
        print(f"per-vehicle results: {args.out}")
    return 0


def _fmt(fmt, v):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _ci(ci):
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{lo:+.1f}, {hi:+.1f}]"


def _print_table(res):
    print(
        f"{res['scenario']}: {len(res['seeds'])} seed(s) {res['seeds'][0]}..{res['seeds'][-1]}, "
        f"penetration {res['penetration']:.0%}, {res['duration_s']:g} s each "
        f"(same arrivals and drivers in both runs)"
    )
    print(f"{'measure':<22}{'baseline':>12}{'advisory':>12}{'change %':>10}  95% CI of change")
    for key, label, fmt in ROWS:
        b, a = res["baseline"][key], res["advisory"][key]
        ch = res["change_pct"].get(key)
        ci = _ci(res["change_ci95"][key]) if key in res["change_ci95"] else ""
        print(
            f"{label:<22}{_fmt(fmt, b):>12}{_fmt(fmt, a):>12}"
            f"{_fmt('{:+.2f}', ch) if key in CHANGE_MEASURES else '':>10}  {ci}"
        )
    print(f"simulator throughput: {res['vehicle_steps_per_s'] / 1e6:.2f} M vehicle-steps/s")


def _print_before_after(res):
    print(
        f"{res['before_scenario']} (before, no advice) → {res['scenario']} (after, advice "
        f"{res['penetration']:.0%}); {len(res['seeds'])} seed(s), {res['duration_s']:g} s"
    )
    cols = ("before", "retiming_only", "advice_only", "after")
    print(f"{'measure':<22}" + "".join(f"{c:>15}" for c in cols))
    for key, label, fmt in ROWS:
        print(f"{label:<22}" + "".join(f"{_fmt(fmt, res[c][key]):>15}" for c in cols))
    print("change % against before:")
    for key in CHANGE_MEASURES:
        label = next(lb for k, lb, _ in ROWS if k == key)
        print(
            f"  {label:<20}"
            + f"{'':>15}"
            + "".join(f"{_fmt('{:+.2f}', res[f'change_pct_{c}'][key]):>15}" for c in cols[1:])
        )


def _write_csv(path: Path, world, runs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = None
        for seed, b, a in runs:
            for label, res in (("baseline", b), ("advisory", a)):
                cols = vehicles_table(res, world)
                keys = list(cols)
                if w is None:
                    w = csv.writer(f)
                    w.writerow(["seed", "run", *keys])
                for row in zip(*(cols[k].tolist() for k in keys), strict=True):
                    w.writerow(
                        [seed, label]
                        + [
                            ("" if isinstance(x, float) and not math.isfinite(x) else x)
                            for x in row
                        ]
                    )
