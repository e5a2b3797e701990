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
import importlib.util
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from greenwave.cli import (
    CliError,
    check_distinct_outputs,
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
    warn_unencodable,
)
from greenwave.network import World
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario

from .compare import check_same_network, run_pair, vehicles_table
from .demand import draw_arrivals
from .engine import SimResult, Simulation
from .measures import CHANGE_MEASURES, aggregate, paired_changes, summarize

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
    p.add_argument(
        "--duration",
        type=finite_float(1.0, 86400.0),
        metavar="S",
        help="simulated seconds per run, more than the warm-up (default: the scenario's)",
    )
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
    )


def _common(p):
    p.add_argument(
        "--seeds",
        type=int_range(1, 1000),
        default=5,
        metavar="N",
        help="number of seeds (default 5)",
    )
    p.add_argument(
        "--first-seed",
        type=int_range(0, 2**31),
        default=1,
        metavar="S",
        help="first seed; the runs use seeds S, S+1, ..., S+N-1 (default 1)",
    )
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
        help="simulated seconds per run, more than the warm-up (default: the scenario's)",
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
    if args.report is not None and importlib.util.find_spec("greenwave.sim.report") is None:
        raise CliError("--report needs greenwave.sim.report, which this installation lacks")
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
    "vehicle_steps_per_s",
)
"""Keys of ``compare --json`` (without --before, which prints the whole object)."""


# --- runs ---------------------------------------------------------------------------------------

Tables = list[tuple[int, str, dict[str, np.ndarray]]]
"""Per-vehicle tables for ``--out``: (seed, run label, columns)."""


def run_compare(
    world: World, seeds: list[int], settings: dict, *, record_first: bool, keep: bool, quiet: bool
) -> tuple[dict, tuple[SimResult, SimResult] | None, Tables]:
    """:func:`greenwave.sim.compare.compare` seed by seed, with a progress bar.

    Returns the same object as ``compare`` (without ``_runs``), the first seed's (baseline,
    advisory) runs with trajectories when ``record_first``, and with ``keep`` the per-vehicle
    tables of every run.
    """
    base_runs, adv_runs, tables = [], [], []
    first = None
    steps, wall = 0, 0.0
    with progress_bar(2 * len(seeds), desc="compare", unit="run", quiet=quiet) as bar:
        for i, seed in enumerate(seeds):
            b, a = run_pair(world, seed, **settings, record=record_first and i == 0)
            bar.update(2)
            base_runs.append(summarize(b))
            adv_runs.append(summarize(a))
            steps += b.vehicle_steps + a.vehicle_steps
            wall += b.wall_s + a.wall_s
            if i == 0 and record_first:
                first = (b, a)
            if keep:
                tables += [(seed, "baseline", vehicles_table(b, world))]
                tables += [(seed, "advisory", vehicles_table(a, world))]
    change, change_ci = paired_changes(base_runs, adv_runs)
    res = {
        "scenario": world.scenario.name,
        "seeds": list(seeds),
        "penetration": settings["penetration"],
        "duration_s": settings["duration_s"],
        "baseline": aggregate(base_runs),
        "advisory": aggregate(adv_runs),
        "change_pct": change,
        "change_ci95": change_ci,
        "per_seed": {"baseline": base_runs, "advisory": adv_runs},
        "vehicle_steps_per_s": steps / wall if wall > 0 else math.nan,
    }
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
    """:func:`greenwave.sim.compare.compare_before_after` seed by seed, with a progress bar.

    Returns the same object, the first seed's ``before`` and ``after`` runs with trajectories
    when ``record_first``, and with ``keep`` the per-vehicle tables of every run.
    """
    timings = {
        "before": (before.timing, False),
        "retiming_only": (after.timing, False),
        "advice_only": (before.timing, True),
        "after": (after.timing, True),
    }
    runs: dict[str, list[dict]] = {k: [] for k in timings}
    tables: Tables = []
    recorded: dict[str, SimResult] = {}
    dur = settings["duration_s"]
    with progress_bar(len(timings) * len(seeds), desc="compare", unit="run", quiet=quiet) as bar:
        for i, seed in enumerate(seeds):
            arr = draw_arrivals(after.scenario, after.network, seed, dur)
            for case, (timing, adv) in timings.items():
                record = record_first and i == 0 and case in ("before", "after")
                res = Simulation(
                    after,
                    seed,
                    advisory=adv,
                    penetration=settings["penetration"],
                    compliance=settings["compliance"],
                    duration_s=dur,
                    arrivals=arr,
                    timing=timing,
                    record=record,
                ).run()
                bar.update(1)
                runs[case].append(summarize(res))
                if record:
                    recorded[case] = res
                if keep:
                    tables.append((seed, case, vehicles_table(res, after)))
    out: dict = {
        "scenario": after.scenario.name,
        "before_scenario": before.scenario.name,
        "seeds": list(seeds),
        "penetration": settings["penetration"],
        "duration_s": dur,
    }
    for case in timings:
        out[case] = aggregate(runs[case])
    for case in ("retiming_only", "advice_only", "after"):
        mean, ci = paired_changes(runs["before"], runs[case])
        out[f"change_pct_{case}"] = mean
        out[f"change_ci95_{case}"] = ci
    out["per_seed"] = runs
    first = (recorded["before"], recorded["after"]) if recorded else None
    return out, first, tables


# --- files --------------------------------------------------------------------------------------


def _write_plots(world: World, before: World | None, first, out_dir: Path, seed: int):
    """Plots of the first seed: baseline vs advisory, or before vs after (``--before``)."""
    if first is None:
        return []
    base, adv = first
    if before is None:
        from .plots import write_plots

        return write_plots(world, base, adv, out_dir, seed=seed)
    return _write_before_after_plots(world, before, base, adv, out_dir, seed)


def _write_before_after_plots(
    after: World,
    before: World,
    base: SimResult,
    adv: SimResult,
    out_dir: Path,
    seed: int,
    window_s: float = 900.0,
) -> list[Path]:
    """Before/after time–space diagrams and speed profiles, as :func:`plots.write_plots` draws
    baseline/advisory, except that each panel shows the signals (and the design band) of the
    timing its run drove on: the before run used the after scenario's network and demand with
    the before scenario's timing."""
    import matplotlib.pyplot as plt

    from . import plotstyle as ps
    from .plots import RouteView, design_bands, sample_vehicles, speed_profiles, time_space

    out_dir.mkdir(parents=True, exist_ok=True)
    if base.trajectories is None:
        return []
    before_world = dataclasses.replace(after, timing=before.timing)
    panels = (
        (before_world, base, False, f"before: {before.scenario.name} timing, no advice"),
        (after, adv, True, f"after: {after.scenario.name} timing with advice"),
    )
    t0 = float(base.warmup_s)
    t1 = float(min(base.duration_s, t0 + window_s))
    entry_links = base.extra["entry_links"]
    routes = [int(r) for r in np.unique(base.trajectories["route"])]
    stems = ps.route_file_names(after, [int(entry_links[r]) for r in routes])
    name = after.scenario.name
    written = []
    with ps.style():
        for r in routes:
            view = RouteView.build(after, entry_links, r)
            fig, axes = plt.subplots(1, 2, figsize=(15, 7.6), sharey=True, layout="constrained")
            handles: dict = {}
            for ax, (w, res, advised, title) in zip(axes, panels, strict=True):
                band = design_bands(w, view, t0, t1)
                drawn = time_space(ax, w, res, view, t0, t1, advisory=advised, band=band)
                # The timings differ in their design bands: say whose band a legend entry is.
                which = "after" if advised else "before"
                handles.update(
                    {f"{k}, {which}" if "design" in k else k: h for k, h in drawn.items()}
                )
                ax.set_title(title)
                ax.grid(axis="x")
            axes[0].set_yticks(view.stop_m, view.stop_names)
            axes[0].set_ylabel("stop line (intersection)")
            axes[1].secondary_yaxis("right").set_ylabel("distance along the route (m)")
            _legend(fig, handles)
            what = "time–space diagram, before → after"
            fig.suptitle(ps.figure_title(name, what, route=view.label, seed=seed, window=(t0, t1)))
            written.append(_save(fig, out_dir / f"time_space_{stems[view.entry_link]}.png"))

            vids, _, _ = sample_vehicles(base, adv, r, t0, t1)
            fig, axes = plt.subplots(1, 2, figsize=(15, 6.2), sharey=True, layout="constrained")
            handles = {}
            for ax, (w, res, advised, title) in zip(axes, panels, strict=True):
                handles.update(speed_profiles(ax, w, res, view, vids, advisory=advised))
                ax.set_title(f"{title} — {len(vids)} sampled vehicles")
            axes[0].set_ylabel("speed (km/h)")
            _legend(fig, handles)
            what = "speed profiles, before → after"
            fig.suptitle(ps.figure_title(name, what, route=view.label, seed=seed, window=(t0, t1)))
            written.append(_save(fig, out_dir / f"speed_profiles_{stems[view.entry_link]}.png"))
    return written


def _legend(fig, handles: dict) -> None:
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=min(len(handles), 7),
        handlelength=2.2,
    )


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from . import plotstyle as ps

    fig.savefig(path, dpi=ps.DPI)
    plt.close(fig)
    return path


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
    print(tr["throughput"].format(v=res["vehicle_steps_per_s"] / 1e6))


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
