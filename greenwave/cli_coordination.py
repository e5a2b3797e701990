"""``optimize`` subcommand: retime a corridor (or a whole network) for the widest green bands.

The computation lives in :mod:`greenwave.maxband` (MAXBAND: a corridor's cycle, offsets and
progression speeds) and :mod:`greenwave.netband` (all arterials at once under the loop
constraints); this module parses flags, prints the before/after tables and writes the new
scenario.  ``--plots DIR`` draws each arterial's time–space diagram with both bands through the
``greenwave.plots`` entry point (the simulator's :mod:`sim.tsdiagram`; the core does not import
the simulator).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np

from .cli import (
    CliError,
    check_distinct_outputs,
    finite_float,
    json_arg,
    out_dir_arg,
    out_file_arg,
    print_json,
    scenario_arg,
)
from .coordination import (
    DEFAULT_STEP_S,
    Band,
    CoordinationError,
)
from .maxband import (
    DEFAULT_TIME_LIMIT_S,
    MAX_CYCLE_S,
    MIN_GREEN_S,
    DirectionResult,
    MaxbandResult,
    optimize_corridor,
)
from .netband import NetworkResult, optimize_network
from .scenario import dumps_scenario, load_scenario
from .units import kmh_to_ms, ms_to_kmh

SPEED_RANGE_KMH = (10.0, 100.0)
"""Accepted progression speeds: urban arterial progression is 30–60 km/h."""

FLAGS = {
    "cycle_range": "--cycle-range",
    "cycle_step": "--cycle-step-s",
    "speed": "--speed-kmh",
    "speed_tolerance": "--speed-tolerance-kmh",
    "weight_backward": "--weight-backward",
    "target_ratio": "--target-ratio",
    "queue_clearance": "--queue-clearance-s",
    "step": "--step-s",
}
"""Library parameter (CoordinationError.param) → the flag to name in the message."""

PLOTS_GROUP = "greenwave.plots"
"""Entry-point group of plot writers; ``bands`` draws a plan's time–space diagrams."""


def cycle_range_arg(text: str) -> tuple[float, float]:
    """argparse type: ``LO:HI`` (s) or one cycle ``C``; finite, ``0 < LO <= HI <= 600``."""
    parts = text.split(":")
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"'{text}': expected LO:HI in seconds, e.g. 60:150")
    try:
        lo, hi = (float(parts[0]), float(parts[-1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected LO:HI in seconds") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"'{text}': cycles must be finite")
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"'{text}': need 0 < LO <= HI")
    if hi > MAX_CYCLE_S:
        raise argparse.ArgumentTypeError(f"'{text}': cycles above {MAX_CYCLE_S:g} s")
    return lo, hi


def add_parser(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="signal timings that maximise the green bands along a corridor or a network",
        description="MAXBAND (Little, Kelson & Gartner 1981) solved exactly as a mixed-integer "
        "program (HiGHS): offsets, optionally the common cycle (green shares kept) and "
        "progression speeds within a tolerance, maximising forward + W·backward bandwidth "
        "along a corridor, or with --network the demand-weighted bands of every arterial at "
        "once under the loop constraints.  Prints bandwidth, efficiency (band / cycle) and "
        "attainability (band / shortest green) per direction before and after, and writes "
        "the retimed scenario.",
    )
    scenario_arg(p)
    lo, hi = SPEED_RANGE_KMH
    p.add_argument(
        "--speed-kmh",
        type=finite_float(lo, hi),
        required=True,
        metavar="V",
        help=f"target progression speed, {lo:g}–{hi:g} km/h",
    )
    p.add_argument(
        "--direction",
        choices=("one", "both"),
        default="both",
        help="'one': forward band only; 'both': forward + W·backward (default both)",
    )
    p.add_argument("--corridor", metavar="ID", help="corridor id (default: the first one)")
    p.add_argument(
        "--network",
        action="store_true",
        help="coordinate every corridor of the scenario at once (a grid: all its streets); "
        "bands weighted by demand",
    )
    p.add_argument(
        "--weight-backward",
        type=finite_float(0.0, 100.0),
        metavar="W",
        help="weight W of the backward band with --direction both (default 1, or the "
        "target ratio when given)",
    )
    p.add_argument(
        "--target-ratio",
        type=finite_float(0.05, 20.0),
        metavar="K",
        help="MAXBAND target ratio backward/forward band: backward >= K·forward "
        "(K < 1), <= K·forward (K > 1), equal bands (K = 1)",
    )
    p.add_argument(
        "--cycle-range",
        type=cycle_range_arg,
        metavar="LO:HI",
        help="choose the common cycle in LO..HI s (e.g. 60:150); green shares are kept, "
        "amber and all-red stay in seconds (default: keep the current cycle)",
    )
    p.add_argument(
        "--cycle-step-s",
        type=finite_float(0.1, 60.0),
        default=1.0,
        metavar="S",
        help="candidate cycles LO, LO+S, ... (default 1: whole seconds)",
    )
    p.add_argument(
        "--speed-tolerance-kmh",
        type=finite_float(0.0, 50.0, lo_open=True),
        metavar="T",
        help="each link's progression speed may lie in V ± T km/h, T > 0 "
        "(MAXBAND's speed limits; default: exactly V)",
    )
    p.add_argument(
        "--queue-clearance-s",
        type=finite_float(0.0, 60.0),
        default=0.0,
        metavar="S",
        help="start each band S seconds after the green, for the queue to clear "
        "(MAXBAND's τ; default 0)",
    )
    p.add_argument(
        "--min-green-s",
        type=finite_float(1.0, 60.0),
        default=MIN_GREEN_S,
        metavar="S",
        help=f"a cycle change may not shorten a green below S s (default {MIN_GREEN_S:g})",
    )
    p.add_argument(
        "--weights",
        choices=("demand", "equal"),
        default="demand",
        help="with --network: weigh each arterial direction by its demand (MULTIBAND V/S "
        "per link, default) or equally",
    )
    p.add_argument(
        "--step-s",
        type=finite_float(0.1, 10.0),
        default=DEFAULT_STEP_S,
        metavar="S",
        help=f"offsets on a grid of S seconds from the first signal (default {DEFAULT_STEP_S:g})",
    )
    p.add_argument(
        "--time-limit-s",
        type=finite_float(1.0, 3600.0),
        default=DEFAULT_TIME_LIMIT_S,
        metavar="S",
        help=f"solver time limit per program (default {DEFAULT_TIME_LIMIT_S:g}); a plan "
        "stopped by it is reported with its optimality gap",
    )
    p.add_argument(
        "--out",
        type=out_file_arg,
        required=True,
        metavar="NEW_SCENARIO",
        help="where to write the retimed scenario (TOML; its directory is created)",
    )
    p.add_argument(
        "--plots",
        type=out_dir_arg,
        metavar="DIR",
        help="write a time–space diagram of every retimed arterial to DIR (created): signal "
        "states and both green bands of the plan, bands_<arterial>.png",
    )
    json_arg(p)
    p.set_defaults(func=cmd_optimize)


def band_plot_writer() -> Callable[[object, Path], list[Path]]:
    """The registered ``greenwave.plots`` writer ``bands``: ``(result, out_dir) → paths``."""
    eps = [ep for ep in entry_points(group=PLOTS_GROUP) if ep.name == "bands"]
    if not eps:
        raise CliError(
            f"--plots: no plot writer is registered (entry point '{PLOTS_GROUP}': bands); "
            "reinstall greenwave (pip install -e .)"
        )
    try:
        return eps[0].load()
    except Exception as exc:
        raise CliError(f"--plots: the plot writer cannot be loaded: {exc}") from None


def _check_flags(args) -> None:
    if args.direction == "one":
        for flag, value in (
            ("--weight-backward", args.weight_backward),
            ("--target-ratio", args.target_ratio),
        ):
            if value is not None:
                raise CliError(f"{flag} applies to --direction both only")
    if args.network:
        for flag, value in (
            ("--corridor", args.corridor),
            ("--weight-backward", args.weight_backward),
            ("--target-ratio", args.target_ratio),
        ):
            if value is not None:
                raise CliError(
                    f"{flag} applies to one corridor; --network weighs every arterial "
                    "direction by --weights"
                )
        if args.queue_clearance_s:
            raise CliError("--queue-clearance-s applies to one corridor (not with --network)")
    tol = args.speed_tolerance_kmh
    if tol is not None and tol >= args.speed_kmh - SPEED_RANGE_KMH[0] / 2:
        raise CliError(
            f"--speed-tolerance-kmh {tol:g}: V − T = {args.speed_kmh - tol:g} km/h is too low "
            f"a progression speed (keep it >= {SPEED_RANGE_KMH[0] / 2:g} km/h)"
        )
    if args.out.resolve() == args.scenario.resolve():
        raise CliError(
            f"--out {args.out} would overwrite the source scenario (and lose its "
            "comments); write to a new file"
        )
    check_distinct_outputs({"--out": args.out, "--plots": args.plots}, {})


def cmd_optimize(args) -> int:
    _check_flags(args)
    plot = band_plot_writer() if args.plots is not None else None
    sc = load_scenario(args.scenario)
    tol_ms = kmh_to_ms(args.speed_tolerance_kmh) if args.speed_tolerance_kmh else 0.0
    res: MaxbandResult | NetworkResult
    try:
        if args.network:
            res = optimize_network(
                sc,
                speed_ms=kmh_to_ms(args.speed_kmh),
                speed_tolerance_ms=tol_ms,
                direction=args.direction,
                weights=args.weights,
                cycle_range_s=args.cycle_range,
                cycle_step_s=args.cycle_step_s,
                step_s=args.step_s,
                min_green_s=args.min_green_s,
                time_limit_s=args.time_limit_s,
            )
        else:
            weight = args.weight_backward
            if weight is None:
                weight = args.target_ratio if args.target_ratio is not None else 1.0
            res = optimize_corridor(
                sc,
                args.corridor,
                speed_ms=kmh_to_ms(args.speed_kmh),
                speed_tolerance_ms=tol_ms,
                direction=args.direction,
                weight_backward=weight,
                target_ratio=args.target_ratio,
                cycle_range_s=args.cycle_range,
                cycle_step_s=args.cycle_step_s,
                step_s=args.step_s,
                queue_clearance_s=args.queue_clearance_s,
                min_green_s=args.min_green_s,
                time_limit_s=args.time_limit_s,
            )
    except CoordinationError as exc:
        flag = FLAGS.get(exc.param or "")
        where = f"{flag}: " if flag else ""
        raise CliError(f"{args.scenario}: {where}{exc}") from None
    if not args.network:
        assert isinstance(res, MaxbandResult)
        limit = _speed_limit_kmh(sc, res.corridor.id)
        top = ms_to_kmh(res.speed_range_ms[1])
        if limit is not None and top > limit + 1e-9:
            print(
                f"greenwave: warning: progression speeds up to {top:g} km/h are above the "
                f"corridor's speed limit {limit:g} km/h",
                file=sys.stderr,
            )
    text = header(res, args, sc.grid is not None) + dumps_scenario(res.scenario)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    plots: list[Path] = []
    if plot is not None:
        try:
            plots = plot(res, args.plots)
        except OSError as exc:
            raise CliError(f"--plots {args.plots}: cannot write: {exc.strerror or exc}") from None
    if isinstance(res, NetworkResult):
        if args.json:
            print_json({**_network_json(res, args), "plots": [str(p) for p in plots]})
        else:
            _print_network(res, args, sc.name)
    elif args.json:
        print_json({**_json(res, args), "plots": [str(p) for p in plots]})
    else:
        _print_table(res, args, sc.name)
    if plots and not args.json:
        names = [Path(p).name for p in plots]
        shown = names if len(names) <= 6 else [*names[:3], "...", names[-1]]
        print(f"wrote {len(plots)} time–space diagram(s) to {args.plots}: {', '.join(shown)}")
    return 0


def _speed_limit_kmh(sc, corridor_id: str) -> float | None:
    """The corridor's speed limit: its own, or the lowest of the links it is declared over."""
    for c in sc.corridors:
        if c.id == corridor_id:
            if c.speed_limit_kmh is not None:
                return c.speed_limit_kmh
            ids = set(c.links_forward or []) | set(c.links_backward or [])
            limits = [ln.speed_limit_kmh for ln in sc.links if ln.id in ids]
            return min(limits) if limits else None
    return None


def objective_text(res: MaxbandResult) -> str:
    if res.direction == "one":
        return "forward bandwidth (MAXBAND, Little, Kelson & Gartner 1981)"
    w = f"{res.weight_backward:g}"
    text = f"forward + {w}·backward bandwidth (MAXBAND, Little, Kelson & Gartner 1981)"
    if res.target_ratio is not None:
        text += f", target ratio backward/forward {res.target_ratio:g}"
    return text


def _ends(band: Band) -> str:
    ids = band.intersection_ids
    return f"{ids[0]} → {ids[-1]}" if ids else ""


def _speeds_text(speeds_ms: np.ndarray) -> str:
    kmh = ms_to_kmh(np.asarray(speeds_ms, dtype=float))
    if not np.all(np.isfinite(kmh)):
        return "—"
    lo, hi = float(np.min(kmh)), float(np.max(kmh))
    return f"{lo:.1f}" if hi - lo < 0.05 else f"{lo:.1f}–{hi:.1f}"


def _cycle_text(res) -> str:
    if math.isclose(res.cycle_s, res.cycle_before_s):
        return f"cycle {res.cycle_s:g} s (kept)"
    return f"cycle {res.cycle_before_s:g} → {res.cycle_s:g} s"


def header(res: MaxbandResult | NetworkResult, args, had_grid: bool = False) -> str:
    """Comment lines prepended to the written scenario."""
    lines = [f"greenwave scenario written by `greenwave optimize` from {args.scenario.name}:"]
    if isinstance(res, NetworkResult):
        lines += [
            f"every arterial retimed at once (--network, {res.method} program, loop "
            f"constraints by node offsets), {_cycle_text(res)},",
            f"target progression {args.speed_kmh:g} km/h; weighted bands "
            f"{res.objective:.3f} of an upper bound {res.upper_bound:.3f} (cycles).",
        ]
        if res.kept_current:
            lines.append("Nothing better than the current offsets was found: they are kept.")
        if had_grid:
            lines.append("The [grid] section is written out intersection by intersection.")
    else:
        lines += [
            f"corridor '{res.corridor.id}' retimed (--direction {res.direction}) by MAXBAND "
            f"(greenwave/maxband.py), {_cycle_text(res)},",
            f"maximising {objective_text(res)}",
            f"at {args.speed_kmh:g} km/h"
            + (f" ± {args.speed_tolerance_kmh:g} km/h." if args.speed_tolerance_kmh else "."),
        ]
        for name, d in res.directions.items():
            lines.append(
                f"{name} ({_ends(d.before)}): bandwidth {d.before.bandwidth_s:.1f} → "
                f"{d.band.bandwidth_s:.1f} s of the {res.cycle_s:g} s cycle."
            )
        lines.append(
            "Only the corridor's plans changed (offset_s; cycle and greens with a new cycle)."
        )
    lines.append(
        f"The comments of the source file (where each value comes from) are not copied: see "
        f"{args.scenario.name}."
    )
    return "".join(f"# {ln}\n" for ln in lines) + "\n"


def _row(d: DirectionResult) -> str:
    b, a = d.before, d.band
    return (
        f"{b.bandwidth_s:>7.1f} {100 * b.efficiency:>6.1f} {100 * d.attainability_before:>6.0f}"
        f"   {a.bandwidth_s:>7.1f} {100 * a.efficiency:>6.1f} {100 * d.attainability:>6.0f}"
        f" {_speeds_text(d.speed_ms):>11}   {d.band_at_target.bandwidth_s:>7.1f}"
    )


def _print_table(res: MaxbandResult, args, scenario_name: str) -> None:
    ct = res.corridor
    label = f" ({ct.name})" if ct.name else ""
    print(
        f"{scenario_name}: corridor '{ct.id}'{label}, {len(ct.intersection_ids)} signals, "
        f"{_cycle_text(res)}, progression {args.speed_kmh:g} km/h"
        + (f" ± {args.speed_tolerance_kmh:g}" if args.speed_tolerance_kmh else "")
    )
    print(f"maximising {objective_text(res)}")
    sol = res.solution
    status = "optimal" if sol.optimal else f"stopped by the time limit, gap {100 * sol.gap:.2f} %"
    print(
        f"mixed-integer program: {sol.n_vars} variables ({sol.n_int} integer), {status}, "
        f"{sol.solve_s:.1f} s (HiGHS)"
    )
    if res.cycle_range_s[0] < res.cycle_range_s[1]:
        print(
            f"cycle chosen in {res.cycle_range_s[0]:g}–{res.cycle_range_s[1]:g} s "
            f"(step {args.cycle_step_s:g} s); green shares kept"
        )
    print()
    print(f"{'direction':<32} {'before':>21}   {'after':>33}")
    print(
        f"{'':<32} {'band s':>7} {'eff %':>6} {'att %':>6}   {'band s':>7} {'eff %':>6} "
        f"{'att %':>6} {'speed km/h':>11}   {'at V s':>7}"
    )
    for name, d in res.directions.items():
        print(f"{name + ' ' + _ends(d.before):<32} {_row(d)}")
    print(
        "eff = band / cycle; att = band / shortest green along the direction (MAXBAND's "
        "attainability); at V = the after band at exactly V"
    )
    if res.direction == "both" and res.target_ratio is None:
        empty = [n for n, d in res.directions.items() if d.band.bandwidth_s == 0.0]
        if empty:
            print(
                f"note: the best sum leaves the {empty[0]} direction no band on this corridor; "
                "--target-ratio 1 asks for equal bands"
            )
    print()
    print(
        f"{'#':>2}  {'intersection':<16} {'x m':>7} {'offset before s':>16} "
        f"{'offset after s':>15} {'change s':>9}"
    )
    x = dict(zip(ct.forward.stops.tolist(), ct.forward.distance_m.tolist(), strict=True))
    for i, iid in enumerate(ct.intersection_ids):
        b, a = float(res.offsets_before_s[i]), float(res.offsets_s[i])
        change = (a - b + res.cycle_s / 2) % res.cycle_s - res.cycle_s / 2
        print(f"{i:>2}  {iid:<16} {x[i]:>7.0f} {b:>16.1f} {a:>15.1f} {change:>+9.1f}")
    print()
    print(f"wrote {args.out}")


def _print_network(res: NetworkResult, args, scenario_name: str) -> None:
    print(
        f"{scenario_name}: {len(res.node_ids)} signals, {len(res.arterials)} arterials, "
        f"{_cycle_text(res)}, progression {args.speed_kmh:g} km/h"
        + (f" ± {args.speed_tolerance_kmh:g}" if args.speed_tolerance_kmh else "")
    )
    proof = "optimal" if res.optimal else f"within {100 * res.gap:.2g} % of the upper bound"
    print(
        f"{res.method} program ({res.programs} sub-programs, {res.solve_s:.1f} s): weighted "
        f"bands {res.objective:.3f} cycles, upper bound {res.upper_bound:.3f} ({proof})"
    )
    if res.kept_current:
        print("nothing better than the current offsets was found: they are kept")
    print()
    print(
        f"{'arterial':<10} {'weight':>9}  {'forward band s':>16}  {'backward band s':>16}  "
        f"{'speed km/h f/b':>15}"
    )
    print(f"{'':<10} {'f/b':>9}  {'before':>7} {'after':>8}  {'before':>7} {'after':>8}")
    for a in res.arterials:
        w = "/".join(f"{a.weight.get(k, 0):.2f}" for k in ("forward", "backward"))
        cols = []
        for k in ("forward", "backward"):
            if k in a.band:
                cols.append(f"{a.before[k].bandwidth_s:>7.1f} {a.band[k].bandwidth_s:>8.1f}")
            else:
                cols.append(f"{'—':>7} {'—':>8}")
        speeds = "/".join(_speeds_text(a.speed_ms.get(k, np.array([np.nan]))) for k in a.band)
        print(f"{a.id:<10} {w:>9}  {cols[0]}  {cols[1]}  {speeds:>15}")
    print()
    print(f"wrote {args.out}")


def _band_json(b: Band) -> dict:
    return {
        "bandwidth_s": b.bandwidth_s,
        "efficiency": b.efficiency,
        "entry_s": b.entry_s,
        "start_s": b.start_s.tolist(),
        "intersections": list(b.intersection_ids),
    }


def _json(res: MaxbandResult, args) -> dict:
    ct = res.corridor
    sol = res.solution
    return {
        "scenario": str(args.scenario),
        "out": str(args.out),
        "corridor": ct.id,
        "cycle_before_s": res.cycle_before_s,
        "cycle_s": res.cycle_s,
        "cycle_range_s": list(res.cycle_range_s),
        "speed_kmh": float(ms_to_kmh(res.speed_ms)),
        "speed_range_kmh": [float(ms_to_kmh(v)) for v in res.speed_range_ms],
        "direction": res.direction,
        "weight_backward": res.weight_backward,
        "target_ratio": res.target_ratio,
        "step_s": args.step_s,
        "objective_cycles": res.objective,
        "program": {
            "optimal": sol.optimal,
            "gap": sol.gap,
            "variables": sol.n_vars,
            "integer_variables": sol.n_int,
            "constraints": sol.n_rows,
            "solve_s": sol.solve_s,
        },
        "bands": {
            name: {
                "before": _band_json(d.before),
                "after": _band_json(d.band),
                "after_at_target_speed": _band_json(d.band_at_target),
                "program_bandwidth_s": d.program_band_s,
                "attainability_before": d.attainability_before,
                "attainability": d.attainability,
                "speed_kmh": ms_to_kmh(d.speed_ms).tolist(),
            }
            for name, d in res.directions.items()
        },
        "offsets": [
            {"intersection": iid, "before_s": float(b), "after_s": float(a)}
            for iid, b, a in zip(
                ct.intersection_ids, res.offsets_before_s, res.offsets_s, strict=True
            )
        ],
    }


def _network_json(res: NetworkResult, args) -> dict:
    return {
        "scenario": str(args.scenario),
        "out": str(args.out),
        "method": res.method,
        "cycle_before_s": res.cycle_before_s,
        "cycle_s": res.cycle_s,
        "speed_kmh": float(ms_to_kmh(res.speed_ms)),
        "speed_range_kmh": [float(ms_to_kmh(v)) for v in res.speed_range_ms],
        "direction": res.direction,
        "objective_cycles": res.objective,
        "upper_bound_cycles": res.upper_bound,
        "gap": res.gap,
        "optimal": res.optimal,
        "kept_current": res.kept_current,
        "programs": res.programs,
        "solve_s": res.solve_s,
        "arterials": [
            {
                "id": a.id,
                "weight": a.weight,
                "flow_veh_h": a.flow_veh_h,
                "bands": {
                    k: {
                        "before_s": a.before[k].bandwidth_s,
                        "after_s": a.band[k].bandwidth_s,
                        "after_at_target_speed_s": a.band_at_target[k].bandwidth_s,
                        "program_s": a.program_band_s[k],
                        "speed_kmh": ms_to_kmh(a.speed_ms[k]).tolist(),
                    }
                    for k in a.band
                },
            }
            for a in res.arterials
        ],
        "offsets": {i: float(o) for i, o in zip(res.node_ids, res.offsets_s, strict=True)},
    }
