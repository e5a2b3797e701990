"""``greenwave compare`` and ``greenwave demo``: paired baseline/advisory runs from the shell.

The runs are those of :func:`greenwave.sim.compare.compare` (baseline and advisory of each seed
on the same arrivals, :func:`~greenwave.sim.compare.run_pair`) and
:func:`~greenwave.sim.compare.compare_before_after` (four cases per seed); this module drives
them seed by seed so that it can show progress, record only the first seed's trajectories for
the plots and keep the per-vehicle tables for ``--out``, and builds the same result object.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from greenwave.cli import (
    CliError,
    check_distinct_outputs,
    duration_arg,
    finite_float,
    int_range,
    json_arg,
    lang_arg,
    out_dir_arg,
    out_file_arg,
    pad,
    print_json,
    progress_bar,
    scenario_arg,
    seeds_args,
    warn_unencodable,
)
from greenwave.network import World
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario

from .compare import check_same_network, compare, compare_before_after, vehicles_table
from .engine import SimResult
from .groups import group_rows
from .measures import CHANGE_MEASURES

ROWS = [  # (key, format)
    ("vehicles", "{:.0f}"),
    ("incomplete", "{:.0f}"),
    ("mean_speed_kmh", "{:.2f}"),
    ("travel_time_s", "{:.1f}"),
    ("stops_per_veh", "{:.3f}"),
    ("stopped_time_s", "{:.1f}"),
    ("delay_s", "{:.1f}"),
    ("fuel_l_per_100km", "{:.3f}"),
    ("co2_g_per_km", "{:.1f}"),
]

BEFORE_AFTER_CASES = ("before", "retiming_only", "advice_only", "after")
"""compare --before: (before timing, no advice), (after timing, no advice), (before timing,
advice), (after timing, advice), as in :func:`greenwave.sim.compare.compare_before_after`."""

GROUP_MEASURES = ("mean_speed_kmh", "travel_time_s", "stops_per_veh", "fuel_l_per_100km")
"""The changes shown per vehicle group in the text table (the JSON has them all)."""

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "labels": {
            "vehicles": "vehicles counted",
            "incomplete": "en route at the end",
            "mean_speed_kmh": "mean speed (km/h)",
            "travel_time_s": "travel time (s)",
            "stops_per_veh": "stops per vehicle",
            "stopped_time_s": "stopped time (s)",
            "delay_s": "delay (s)",
            "fuel_l_per_100km": "fuel (L/100 km)",
            "co2_g_per_km": "CO2 (g/km)",
        },
        "title": "{scenario}: {n} seed(s) {first}..{last}, penetration {pen:.0%}, {dur:g} s each "
        "(same arrivals and drivers in both runs)",
        "header": ("measure", "baseline", "advisory", "change %", "95% CI of change"),
        "throughput": "simulator throughput: {v:.2f} M vehicle-steps/s",
        "ba_title": "{before} (before, no advice) → {after} (after, advice {pen:.0%}); "
        "{n} seed(s), {dur:g} s",
        "cases": BEFORE_AFTER_CASES,
        "ba_change": "change % against before:",
        "plots": "plots",
        "csv": "per-vehicle results",
        "report": "report",
        "by_group": "by group: change % (95% CI)",
        "by_group_ba": "by group: after against before, change % (95% CI)",
        "group_header": ("group", "vehicles", "speed", "travel time", "stops", "fuel"),
        "groups": {
            "arterial": "arterial",
            "side_street": "side street",
            "turning": "turning",
            "arterial_forward": "  forward",
            "arterial_backward": "  backward",
        },
        "one_group": "(every counted vehicle drives on a declared corridor: one group)",
    },
    "zh": {
        "labels": {
            "vehicles": "统计车辆数",
            "incomplete": "结束时仍在途",
            "mean_speed_kmh": "平均车速 (km/h)",
            "travel_time_s": "行程时间 (s)",
            "stops_per_veh": "每车停车次数",
            "stopped_time_s": "停车时间 (s)",
            "delay_s": "延误 (s)",
            "fuel_l_per_100km": "油耗 (L/100 km)",
            "co2_g_per_km": "CO2 (g/km)",
        },
        "title": "{scenario}:{n} 个随机种子 {first}..{last},渗透率 {pen:.0%},每次 {dur:g} 秒"
        "(两次运行的到达车辆与驾驶员相同)",
        "header": ("指标", "无引导", "车速引导", "变化 %", "变化的 95% 置信区间"),
        "throughput": "仿真速度:{v:.2f} M 车辆步/秒",
        "ba_title": "{before}(改造前,无引导)→ {after}(改造后,引导渗透率 {pen:.0%});"
        "{n} 个随机种子,{dur:g} 秒",
        "cases": ("改造前", "仅配时优化", "仅车速引导", "改造后"),
        "ba_change": "相对改造前的变化 %:",
        "plots": "图",
        "csv": "逐车结果",
        "report": "报告",
        "by_group": "分组:变化 %(95% 置信区间)",
        "by_group_ba": "分组:改造后相对改造前的变化 %(95% 置信区间)",
        "group_header": ("车辆组", "车辆数", "车速", "行程时间", "停车次数", "油耗"),
        "groups": {
            "arterial": "干道",
            "side_street": "支路",
            "turning": "转弯车辆",
            "arterial_forward": "  正向",
            "arterial_backward": "  反向",
        },
        "one_group": "(所有统计车辆都行驶在已声明的干道上:只有一个组)",
    },
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="run baseline and advisory on the same traffic and compare",
        description="Runs, for each seed, a no-advisory baseline and an advisory run on the same "
        "arrivals and drivers, and prints baseline, advisory and change % (95 % CI over "
        "seeds).  Progress goes to stderr when it is a terminal.",
    )
    scenario_arg(p)
    _common(p)
    p.add_argument(
        "--before",
        type=Path,
        metavar="BEFORE",
        help="also compare against this scenario's timing without advice "
        "(retiming only, advice only, both); --plots show its first seed's before and after "
        "runs, --out has the four runs of every seed",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "demo",
        help="compare on the bundled Zibo arterial, with plots",
        description="greenwave compare on the bundled Zibo arterial with plots of the first seed.",
    )
    p.add_argument(
        "--plots",
        type=out_dir_arg,
        default="greenwave-demo",
        metavar="DIR",
        help="where to write the PNG plots (default ./greenwave-demo)",
    )
    p.add_argument(
        "--seeds",
        type=int_range(1, 100),
        default=3,
        metavar="N",
        help="number of seeds, 1, 2, ... (default 3)",
    )
    duration_arg(p)
    _report_arg(p)
    lang_arg(p, "table")
    json_arg(p)
    p.set_defaults(
        func=cmd_compare,
        scenario=DEFAULT_SCENARIO,
        penetration=None,
        compliance=None,
        out=None,
        before=None,
        first_seed=1,
        drain=None,
    )


def _common(p):
    seeds_args(p, default=5)
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
    duration_arg(p)
    p.add_argument(
        "--drain",
        type=finite_float(0.0, 86400.0),
        nargs="?",
        const=DRAIN_MAX_S,
        metavar="MAX_S",
        help="after the horizon, keep simulating (no new arrivals) until every vehicle that "
        f"arrived has left, at most MAX_S seconds (default {DRAIN_MAX_S:g}), so that every "
        "trip is counted, as SUMO's tripinfo counts them",
    )
    p.add_argument(
        "--plots",
        type=out_dir_arg,
        metavar="DIR",
        help="write PNG plots of the first seed into DIR (created)",
    )
    p.add_argument(
        "--out",
        type=out_file_arg,
        metavar="CSV",
        help="write per-vehicle results of every run (CSV, one row per vehicle with its "
        "seed and run)",
    )
    _report_arg(p)
    lang_arg(p, "table")
    json_arg(p)


def _report_arg(p):
    p.add_argument(
        "--report",
        type=out_file_arg,
        metavar="HTML",
        help="write a self-contained HTML report (results, settings, plots of the first "
        "seed embedded)",
    )


def cmd_compare(args) -> int:
    check_distinct_outputs(
        {"--out": args.out, "--report": args.report},
        {"SCENARIO": args.scenario, "--before": args.before},
    )
    sc = load_scenario(args.scenario)
    world = World.build(sc)
    if args.duration is not None and args.duration <= sc.simulation.warmup_s:
        raise CliError(
            f"--duration {args.duration:g} must exceed the warm-up ({sc.simulation.warmup_s:g} s)"
        )
    before = None
    if args.before is not None:
        before = World.build(load_scenario(args.before))
        try:
            check_same_network(world, before)
        except ValueError as exc:
            raise CliError(f"--before {args.before}: {exc}") from None
    if not args.json:
        warn_unencodable(TEXT[args.lang]["title"])
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    settings = {
        "duration_s": float(
            args.duration if args.duration is not None else sc.simulation.duration_s
        ),
        "penetration": float(
            args.penetration if args.penetration is not None else sc.advisory.penetration
        ),
        "compliance": args.compliance,
        "drain_s": args.drain,
    }
    want_plots = args.plots is not None or args.report is not None
    keep = args.out is not None
    if before is None:
        res, first, tables = run_compare(
            world, seeds, settings, record_first=want_plots, keep=keep, quiet=args.json
        )
    else:
        res, first, tables = run_before_after(
            world, before, seeds, settings, record_first=want_plots, keep=keep, quiet=args.json
        )

    files: list[Path] = []
    # Without --plots, the report's figures are drawn into a temporary directory.
    with tempfile.TemporaryDirectory(prefix="greenwave-plots-") as tmp:
        if want_plots:
            plot_dir = args.plots if args.plots is not None else Path(tmp)
            with _writing("--plots", plot_dir):
                files = _write_plots(world, before, first, plot_dir, seeds[0])
                files += _write_group_plot(res, plot_dir)
        if args.out is not None:
            with _writing("--out", args.out):
                _write_csv(args.out, tables)
        if args.report is not None:
            from .report import write_report

            with _writing("--report", args.report):
                write_report(
                    args.report,
                    world=world,
                    result=res,
                    figures=files,
                    argv=getattr(args, "argv", None),
                )

    _warn_uncounted(res, args.drain)
    if args.json:
        if before is None:
            res = {k: res[k] for k in JSON_KEYS}
        print_json(res)
        return 0
    tr = TEXT[args.lang]
    if before is None:
        _print_table(res, tr)
    else:
        _print_before_after(res, tr)
    if args.plots is not None:
        print(f"{tr['plots']}: {', '.join(str(f) for f in files)}")
    if args.out is not None:
        print(f"{tr['csv']}: {args.out}")
    if args.report is not None:
        print(f"{tr['report']}: {args.report}")
    return 0


JSON_KEYS = (
    "scenario",
    "seeds",
    "penetration",
    "baseline",
    "advisory",
    "change_pct",
    "change_ci95",
    "duration_s",
    "drain_s",
    "vehicle_steps_per_s",
    "groups",
    "subgroups",
)
"""Keys of ``compare --json`` (without --before, which prints the whole object)."""


DRAIN_MAX_S = 3600.0
"""Default bound of ``--drain`` (s)."""


def _warn_uncounted(res: dict, drain_s: float | None) -> None:
    """Warn on stderr when runs counted fewer than half of the trips that entered after the
    warm-up (the rest were still en route at the end): the measures then describe the early,
    short trips only."""
    worst = 1.0
    for runs in res["per_seed"].values():
        for r in runs:
            entered = r["vehicles"] + r["incomplete"]
            if entered:
                worst = min(worst, r["vehicles"] / entered)
    if worst < 0.5:
        hint = "a longer --duration or --drain" if drain_s is None else "a larger --drain bound"
        print(
            f"greenwave: warning: a run counted only {worst:.0%} of the trips that entered after "
            f"the warm-up (the others were still en route at the end); use {hint}",
            file=sys.stderr,
        )
    elif drain_s is not None and worst < 1.0:
        print(
            f"greenwave: warning: the network did not empty within --drain {drain_s:g} s; "
            f"{1 - worst:.0%} of the trips in the worst run are not counted",
            file=sys.stderr,
        )


# --- runs ---------------------------------------------------------------------------------------

Tables = list[tuple[int, str, dict[str, np.ndarray]]]
"""Per-vehicle tables for ``--out``: (seed, run label, columns)."""


def run_compare(
    world: World, seeds: list[int], settings: dict, *, record_first: bool, keep: bool, quiet: bool
) -> tuple[dict, tuple[SimResult, SimResult] | None, Tables]:
    """:func:`greenwave.sim.compare.compare` with a progress bar.

    Returns its object (without ``_runs``), the first seed's (baseline, advisory) runs with
    trajectories when ``record_first``, and with ``keep`` the per-vehicle tables of every run.
    """
    with progress_bar(2 * len(seeds), desc="compare", unit="run", quiet=quiet) as bar:
        res = compare(
            world, seeds, **settings, keep=keep, record_first=record_first, progress=bar.update
        )
    runs = res.pop("_runs", [])
    first = (runs[0][1], runs[0][2]) if record_first and runs else None
    tables: Tables = []
    if keep:
        for seed, b, a in runs:
            tables += [(seed, "baseline", vehicles_table(b, world))]
            tables += [(seed, "advisory", vehicles_table(a, world))]
    return res, first, tables


def run_before_after(
    after: World,
    before: World,
    seeds: list[int],
    settings: dict,
    *,
    record_first: bool,
    keep: bool,
    quiet: bool,
) -> tuple[dict, tuple[SimResult, SimResult] | None, Tables]:
    """:func:`greenwave.sim.compare.compare_before_after` with a progress bar.

    Returns its object (without ``_runs``), the first seed's ``before`` and ``after`` runs with
    trajectories when ``record_first``, and with ``keep`` the per-vehicle tables of every run.
    """
    with progress_bar(4 * len(seeds), desc="compare", unit="run", quiet=quiet) as bar:
        res = compare_before_after(
            after,
            before,
            seeds,
            **settings,
            keep=keep,
            record_first=record_first,
            progress=bar.update,
        )
    runs = res.pop("_runs", [])
    first = (runs[0][1]["before"], runs[0][1]["after"]) if record_first and runs else None
    tables: Tables = []
    if keep:
        for seed, cases in runs:
            tables += [(seed, case, vehicles_table(r, after)) for case, r in cases.items()]
    return res, first, tables


# --- files --------------------------------------------------------------------------------------


def _write_plots(world: World, before: World | None, first, out_dir: Path, seed: int):
    """Plots of the first seed: baseline vs advisory, or before vs after (``--before``: the
    before run drove on the before scenario's signals, drawn as such)."""
    if first is None:
        return []
    from .plots import write_plots

    base, adv = first
    if before is None:
        return write_plots(world, base, adv, out_dir, seed=seed)
    return write_plots(
        world,
        base,
        adv,
        out_dir,
        seed=seed,
        base_world=dataclasses.replace(world, timing=before.timing),
        titles=(
            f"before: {before.scenario.name} timing, no advice",
            f"after: {world.scenario.name} timing with advice",
        ),
    )


def _write_group_plot(res: dict, out_dir: Path) -> list[Path]:
    """The paired change per vehicle group (all seeds), when the result has groups."""
    from .plots import write_group_plot

    return write_group_plot(res, out_dir)


@contextlib.contextmanager
def _writing(flag: str, path: Path):
    """An OSError while writing ``path`` becomes a :class:`CliError` naming ``flag``."""
    try:
        yield
    except OSError as exc:
        raise CliError(f"{flag} {path}: cannot write: {exc.strerror or exc}") from None


def _write_csv(path: Path, tables: Tables) -> None:
    """Per-vehicle rows of every kept run, with its seed and run label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = None
        for seed, label, cols in tables:
            keys = list(cols)
            if w is None:
                w = csv.writer(f)
                w.writerow(["seed", "run", *keys])
            for row in zip(*(cols[k].tolist() for k in keys), strict=True):
                w.writerow(
                    [seed, label]
                    + [("" if isinstance(x, float) and not math.isfinite(x) else x) for x in row]
                )


# --- tables -------------------------------------------------------------------------------------


def _fmt(fmt, v):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _ci(ci):
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{lo:+.1f}, {hi:+.1f}]"


def _print_table(res, tr):
    print(
        tr["title"].format(
            scenario=res["scenario"],
            n=len(res["seeds"]),
            first=res["seeds"][0],
            last=res["seeds"][-1],
            pen=res["penetration"],
            dur=res["duration_s"],
        )
    )
    h = tr["header"]
    print(
        pad(h[0], 22) + pad(h[1], 12, ">") + pad(h[2], 12, ">") + pad(h[3], 10, ">") + "  " + h[4]
    )
    for key, fmt in ROWS:
        b, a = res["baseline"][key], res["advisory"][key]
        ch = res["change_pct"].get(key)
        ci = _ci(res["change_ci95"][key]) if key in res["change_ci95"] else ""
        print(
            f"{pad(tr['labels'][key], 22)}{_fmt(fmt, b):>12}{_fmt(fmt, a):>12}"
            f"{_fmt('{:+.2f}', ch) if key in CHANGE_MEASURES else '':>10}  {ci}"
        )
    _print_groups(res, tr, ba=False)
    print(tr["throughput"].format(v=res["vehicle_steps_per_s"] / 1e6))


def _print_groups(res, tr, *, ba: bool) -> None:
    """The per-group block: counted vehicles of the reference run and the change of
    :data:`GROUP_MEASURES` with its interval, for each group and, indented, each subgroup
    (``ba``: the after-against-before change of ``compare --before``)."""
    rows = group_rows(res)
    if not rows:
        return
    ref, suffix = ("before", "_after") if ba else ("baseline", "")
    print(tr["by_group_ba" if ba else "by_group"])
    h = tr["group_header"]
    print("  " + pad(h[0], 14) + pad(h[1], 9, ">") + "".join("  " + pad(x, 22, ">") for x in h[2:]))
    for name, g in rows:
        cells = []
        for key in GROUP_MEASURES:
            ch, ci = g[f"change_pct{suffix}"].get(key), g[f"change_ci95{suffix}"].get(key)
            cells.append(f"{_fmt('{:+.2f}', ch)} {_ci(ci) if ci else ''}".rstrip())
        print(
            "  "
            + pad(tr["groups"][name], 14)
            + f"{_fmt('{:.0f}', g[ref]['vehicles']):>9}"
            + "".join("  " + pad(c, 22, ">") for c in cells)
        )
    if len(res["groups"]) == 1:
        print("  " + tr["one_group"])


def _print_before_after(res, tr):
    print(
        tr["ba_title"].format(
            before=res["before_scenario"],
            after=res["scenario"],
            pen=res["penetration"],
            n=len(res["seeds"]),
            dur=res["duration_s"],
        )
    )
    print(pad(tr["header"][0], 22) + "".join(pad(c, 15, ">") for c in tr["cases"]))
    for key, fmt in ROWS:
        print(
            pad(tr["labels"][key], 22)
            + "".join(f"{_fmt(fmt, res[c][key]):>15}" for c in BEFORE_AFTER_CASES)
        )
    print(tr["ba_change"])
    for key in CHANGE_MEASURES:
        print(
            "  "
            + pad(tr["labels"][key], 20)
            + f"{'':>15}"
            + "".join(
                f"{_fmt('{:+.2f}', res[f'change_pct_{c}'][key]):>15}"
                for c in BEFORE_AFTER_CASES[1:]
            )
        )
    _print_groups(res, tr, ba=True)
