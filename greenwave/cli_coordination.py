"""``optimize`` subcommand: retime a corridor's offsets for the largest green band.

The computation lives in :mod:`greenwave.coordination`; this module parses flags, prints the
before/after table and writes the new scenario.
"""

from __future__ import annotations

import sys

from .cli import CliError, finite_float, json_arg, out_file_arg, print_json, scenario_arg
from .coordination import DEFAULT_STEP_S, Band, CoordinationError, OptimizeResult, optimize_offsets
from .scenario import dumps_scenario, load_scenario
from .units import kmh_to_ms, ms_to_kmh

SPEED_RANGE_KMH = (10.0, 100.0)
"""Accepted progression speeds: urban arterial progression is 30–60 km/h."""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="signal offsets that maximise the green bandwidth along a corridor",
        description="Computes offsets that maximise the green bandwidth at progression speed V "
        "along a corridor (one direction, or two-way weighted as in MAXBAND), prints bandwidth "
        "and efficiency (bandwidth / cycle) before and after, and writes a scenario with only "
        "the offsets changed.",
    )
    scenario_arg(p)
    lo, hi = SPEED_RANGE_KMH
    p.add_argument(
        "--speed-kmh",
        type=finite_float(lo, hi),
        required=True,
        metavar="V",
        help=f"progression speed, {lo:g}–{hi:g} km/h",
    )
    p.add_argument(
        "--direction",
        choices=("one", "both"),
        default="both",
        help="'one': forward band only; 'both': forward + W·backward (default both)",
    )
    p.add_argument("--corridor", metavar="ID", help="corridor id (default: the first one)")
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
        "--step-s",
        type=finite_float(0.1, 10.0),
        default=DEFAULT_STEP_S,
        metavar="S",
        help=f"offset grid in seconds; must divide the cycle (default {DEFAULT_STEP_S:g})",
    )
    p.add_argument(
        "--out",
        type=out_file_arg,
        required=True,
        metavar="NEW_SCENARIO",
        help="where to write the retimed scenario (TOML; its directory is created)",
    )
    json_arg(p)
    p.set_defaults(func=cmd_optimize)


def cmd_optimize(args) -> int:
    if args.direction == "one":
        for flag, value in (
            ("--weight-backward", args.weight_backward),
            ("--target-ratio", args.target_ratio),
        ):
            if value is not None:
                raise CliError(f"{flag} applies to --direction both only")
    if args.out.resolve() == args.scenario.resolve():
        raise CliError(
            f"--out {args.out} would overwrite the source scenario (and lose its "
            "comments); write to a new file"
        )
    weight = args.weight_backward
    if weight is None:
        weight = args.target_ratio if args.target_ratio is not None else 1.0
    sc = load_scenario(args.scenario)
    try:
        res = optimize_offsets(
            sc,
            args.corridor,
            speed_ms=kmh_to_ms(args.speed_kmh),
            direction=args.direction,
            weight_backward=weight,
            target_ratio=args.target_ratio,
            step_s=args.step_s,
        )
    except CoordinationError as exc:
        raise CliError(f"{args.scenario}: {exc}") from None
    limit = _speed_limit_kmh(sc, res.corridor.id)
    if limit is not None and args.speed_kmh > limit:
        print(
            f"greenwave: warning: progression speed {args.speed_kmh:g} km/h is above the "
            f"corridor's speed limit {limit:g} km/h",
            file=sys.stderr,
        )
    text = header(res, args) + dumps_scenario(res.scenario)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    if args.json:
        print_json(_json(res, args))
    else:
        _print_table(res, args, sc.name)
    return 0


def _speed_limit_kmh(sc, corridor_id: str) -> float | None:
    for c in sc.corridors:
        if c.id == corridor_id:
            return c.speed_limit_kmh
    return None


def objective_text(res: OptimizeResult) -> str:
    if res.direction == "one":
        return "forward bandwidth (one-way: shifted green starts aligned)"
    w = f"{res.weight_backward:g}"
    text = f"forward + {w}·backward bandwidth (MAXBAND objective, Little, Kelson & Gartner 1981)"
    if res.target_ratio is not None:
        text += f", target ratio backward/forward {res.target_ratio:g}"
    return text


def _ends(band: Band) -> str:
    ids = band.intersection_ids
    return f"{ids[0]} → {ids[-1]}" if ids else ""


def header(res: OptimizeResult, args) -> str:
    """Comment lines prepended to the written scenario."""
    lines = [
        f"greenwave scenario written by `greenwave optimize` from {args.scenario.name}:",
        f"offsets of corridor '{res.corridor.id}' retimed (--direction {res.direction}) for a "
        f"green wave at {args.speed_kmh:g} km/h,",
        f"maximising {objective_text(res)};",
        f"exact search on a {res.step_s:g} s offset grid (greenwave/coordination.py).",
    ]
    for name, before in res.before.items():
        after = res.after[name]
        lines.append(
            f"{name} ({_ends(before)}): bandwidth {before.bandwidth_s:.1f} → "
            f"{after.bandwidth_s:.1f} s of the {res.corridor.cycle_s:g} s cycle."
        )
    lines += [
        "Only intersections.plan.offset_s changed. The comments of the source file (where each",
        f"value comes from) are not copied: see {args.scenario.name}.",
    ]
    return "".join(f"# {ln}\n" for ln in lines) + "\n"


def _print_table(res: OptimizeResult, args, scenario_name: str) -> None:
    ct = res.corridor
    label = f" ({ct.name})" if ct.name else ""
    print(
        f"{scenario_name}: corridor '{ct.id}'{label}, {len(ct.intersection_ids)} signals, "
        f"cycle {ct.cycle_s:g} s, progression {args.speed_kmh:g} km/h"
    )
    print(f"maximising {objective_text(res)}")
    print()
    print(f"{'direction':<36} {'before':>15}   {'after':>15}")
    print(f"{'':<36} {'band s':>7} {'eff %':>7}   {'band s':>7} {'eff %':>7}")
    for name, before in res.before.items():
        after = res.after[name]
        print(
            f"{name + ' ' + _ends(before):<36} {before.bandwidth_s:>7.1f} "
            f"{100 * before.efficiency:>7.1f}   {after.bandwidth_s:>7.1f} "
            f"{100 * after.efficiency:>7.1f}"
        )
    print(
        f"{'objective (s)':<36} {res.objective_before_s:>7.1f} {'':>7}   "
        f"{res.objective_after_s:>7.1f}"
    )
    if res.direction == "both" and res.target_ratio is None:
        empty = [n for n, b in res.after.items() if b.bandwidth_s == 0.0]
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
        b, a = float(res.offsets_before_s[i]), float(res.offsets_after_s[i])
        change = (a - b + ct.cycle_s / 2) % ct.cycle_s - ct.cycle_s / 2
        print(f"{i:>2}  {iid:<16} {x[i]:>7.0f} {b:>16.1f} {a:>15.1f} {change:>+9.1f}")
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


def _json(res: OptimizeResult, args) -> dict:
    ct = res.corridor
    return {
        "scenario": str(args.scenario),
        "out": str(args.out),
        "corridor": ct.id,
        "cycle_s": ct.cycle_s,
        "speed_kmh": float(ms_to_kmh(res.speed_ms)),
        "direction": res.direction,
        "weight_backward": res.weight_backward,
        "target_ratio": res.target_ratio,
        "step_s": res.step_s,
        "objective_before_s": res.objective_before_s,
        "objective_after_s": res.objective_after_s,
        "bands": {
            name: {"before": _band_json(res.before[name]), "after": _band_json(res.after[name])}
            for name in res.before
        },
        "offsets": [
            {"intersection": iid, "before_s": float(b), "after_s": float(a)}
            for iid, b, a in zip(
                ct.intersection_ids, res.offsets_before_s, res.offsets_after_s, strict=True
            )
        ],
    }
