"""Cross-check greenwave's simulator against Eclipse SUMO: baselines (no advice), same scenario.

The scenario (default ``scenarios/zibo_arterial.toml``) is exported with
:func:`greenwave.sumo.export.export_sumo`: same links and lengths, same signal programs (checked
step by step in ``tests/test_sumo_io.py``), same demand as Poisson flows (with turning demand:
greenwave's own vehicles and routes, one route file per seed, so both run the same trips), same
driver parameters (length, minGap, accel, decel, tau, speedFactor distribution).  Then, for
every seed, SUMO and greenwave run without advice and the trips that departed after the warm-up
and completed are measured the same way on both sides:

* travel time — SUMO ``duration`` / greenwave ``t_exit - t_enter`` (both from insertion);
* mean speed — space-mean Σ distance / Σ travel time (SUMO ``routeLength``); the arithmetic mean
  of per-trip speeds (SUMO's ``Statistics: Speed``) is shown as well;
* stops per vehicle — SUMO ``waitingCount`` counts every drop of the speed to ≤ 0.1 m/s; the same
  count is taken from greenwave's speeds every tick ("waitingCount def."), next to greenwave's
  own measure (a stop ends only above 1 m/s: hysteresis against creeping in queues);
* time loss — SUMO ``timeLoss`` is Σ dt (1 - v / v_max) with v_max the vehicle's own maximum
  speed on the lane (speedFactor × limit); greenwave's is computed the same way from its ticks,
  next to greenwave's own ``delay`` (travel time minus the route at the speed limit);
* throughput — vehicle-steps per wall second: SUMO's own ``UPS`` (``--duration-log.statistics``)
  and greenwave's ``vehicle_steps / wall_s`` of the same run (one process each).

SUMO variants: IDM without lane changing (the row the goals are checked on; greenwave's
drivers are the scenario's), the same with SUMO's ballistic position update
(greenwave integrates ballistically; SUMO's default is Euler), Krauss (sigma 0) without lane
changing, and IDM with SUMO's lane changing, Euler or ballistic (the latter like for like with
greenwave's defaults).  Goals: travel time and mean speed within 10 %,
stops within 20 % of SUMO IDM; greenwave at least as many vehicle-steps per second as SUMO.

    python benchmarks/vs_sumo.py [SCENARIO] [--seeds 1-5] [--duration S] [--warmup S]
                                 [--variants idm,idm_ballistic,krauss,idm_lc,idm_lc_ballistic]
                                 [--keep DIR] [--json]

**Any SUMO files** (``--net``; issue 11): greenwave's imported baseline against SUMO on the
same files, both counting every trip::

    python benchmarks/vs_sumo.py --net NET.net.xml --routes R.rou.xml [--additional A.add.xml]
        [--seeds 1,2,3] [--drain S] [--keep DIR] [--json]

SUMO runs the files as given (its own car following, σ, lane changing and vTypes; emissions
device on every vehicle) until every vehicle has arrived (at most ``--drain`` seconds after the
last departure); every trip of its tripinfo is measured.  Greenwave imports the same files with
:func:`greenwave.sumo.importer.read_sumo` (signal programs as SUMO chooses them, demand, drivers
from the vTypes; the import notes are printed) and simulates the scenario without advice and
without warm-up, with the simulator's drain (``Simulation(drain_s=...)``, as ``greenwave compare
--drain``), so that every trip counts too.  ``<vehicle>``s and ``<trip>``s arrive as given
(``demand.vehicles``: the same vehicles in both simulators); ``<flow>``s are greenwave's own
Poisson draws of the imported rates (the same vehicles only in distribution).  Measures:
``travel_time_s``, ``mean_speed_kmh`` (space-mean), ``stops_per_veh``
(SUMO's waitingCount definition on both sides), ``fuel_l_per_100km`` (SUMO: its emission
class, e.g. HBEFA3; greenwave: ``simulation.fuel_model`` of the import).  The JSON on the last
line is ``{"sumo": {...}, "greenwave": {...}, "ratio": {...}, ...}`` (``ratio`` = greenwave /
SUMO of the means; goals ±10 % travel time and speed, ±20 % stops).  Bad input (missing files,
a route over an unknown edge, ...) exits with code 2 and a message.

**A grid with turning demand** (``--grid N``; issue 15): an ``N`` x ``N`` grid city
(greenwave's grid defaults: 500 m blocks, 2 lanes, 50 km/h, 120 s cycle, diagonal green wave),
``--flow-per-lane`` veh/h per lane at every entry (default 150), turning 15 / 70 / 15 %
(left / through / right) at every approach, two cases (``--grid-cases``): two-phase plans with
permitted lefts and four-phase plans with protected left phases (``left_turn_phase``)::

    python benchmarks/vs_sumo.py --grid 4 [--seeds 1-3] [--duration 1800] [--drain 3600]
        [--variants idm,idm_ballistic,krauss,idm_lc,idm_lc_ballistic]
        [--grid-cases two_phase,left_phase] [--keep DIR] [--json]

Per variant greenwave's drivers match SUMO's (``drivers.car_following`` idm or krauss,
``drivers.lane_changing`` as the variant's lane changing; without it SUMO still changes lanes
where a route needs to, :data:`greenwave.sumo.export.STRATEGIC_ONLY`).  Per seed the export
writes greenwave's own arrivals as SUMO vehicles (departure, lane, route, speed factor), so both
run the same trips; departures over ``--duration`` (default 1800 s), both drained until every
trip has ended (at most ``--drain`` s), every trip counted.  Measures: travel time, space-mean
speed, stops (waitingCount definition on both sides), travel time of vehicles that never turn
and of those that turn, and the simulated vehicle-seconds per second of each simulator's own
wall time (SUMO: UPS x its 0.5 s step; greenwave: a plain run's vehicle-steps x dt / wall).
Goals: ±10 % travel time and speed, ±20 % stops, greenwave's vehicle-seconds per second at
least SUMO's.  The JSON's ``results[case][variant]`` holds both sides' means, CIs and per-seed
values, ``diff_pct`` and ``goals``.

Needs the ``[sumo]`` extra (``pip install 'greenwave[sumo]'``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenwave.cli import parse_list, print_json
from greenwave.network import World
from greenwave.scenario import Scenario, load_scenario, parse_scenario
from greenwave.sim.demand import turns_any
from greenwave.sim.engine import STOP_SPEED_MS, Simulation
from greenwave.sim.measures import mean_ci, summarize
from greenwave.sumo.export import STEP_LENGTH_S, export_sumo, write_routes
from greenwave.sumo.importer import read_sumo
from greenwave.sumo.tools import find_sumo_tool, parse_sumo_duration_s, parse_ups, tool_env
from greenwave.sumo.tripinfo import read_tripinfo, trip_summary
from greenwave.sumo.xmlio import SumoError

VARIANTS = {  # name: (car following, lane changing, more SUMO options, column, legend)
    "idm": (
        "idm",
        False,
        (),
        "SUMO IDM",
        "SUMO IDM, no lane changes, SUMO's default (Euler) update: the like-for-like row",
    ),
    "idm_ballistic": (
        "idm",
        False,
        ("--step-method.ballistic", "true"),
        "IDM ballistic",
        "the same with --step-method.ballistic (greenwave's integration scheme)",
    ),
    "krauss": ("krauss", False, (), "Krauss", "SUMO Krauss (sigma 0), no lane changes"),
    "idm_lc": ("idm", True, (), "IDM + LC", "SUMO IDM with SUMO's lane changing (LC2013)"),
    "idm_lc_ballistic": (
        "idm",
        True,
        ("--step-method.ballistic", "true"),
        "IDM + LC ball.",
        "SUMO IDM with LC2013 and --step-method.ballistic: like for like with greenwave's "
        "defaults (IDM, ballistic update, lane changes)",
    ),
}
GOALS = {"travel_time_s": 10.0, "mean_speed_kmh": 10.0, "stops_per_veh": 20.0}
NET_DRAIN_S = 3600.0
NET_MEASURES = [  # key, label, format
    ("vehicles", "trips counted (per seed)", "{:.0f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("mean_speed_kmh", "mean speed, space-mean (km/h)", "{:.2f}"),
    ("stops_per_veh", "stops/veh, waitingCount def.", "{:.3f}"),
    ("fuel_l_per_100km", "fuel (L/100 km)", "{:.2f}"),
]

ROWS = [  # key, label, format
    ("vehicles", "trips counted (per seed)", "{:.0f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("mean_speed_kmh", "mean speed, space-mean (km/h)", "{:.2f}"),
    ("mean_trip_speed_kmh", "mean of trip speeds (km/h)", "{:.2f}"),
    ("stops_per_veh", "stops/veh, waitingCount def.", "{:.3f}"),
    ("stops_hysteresis", "stops/veh, greenwave def.", "{:.3f}"),
    ("waiting_time_s", "time at <= 0.1 m/s (s)", "{:.1f}"),
    ("time_loss_s", "time loss, SUMO def. (s)", "{:.1f}"),
    ("delay_s", "delay vs speed limit (s)", "{:.1f}"),
    ("depart_delay_s", "insertion delay (s)", "{:.2f}"),
    ("steps_per_s", "vehicle-steps / s (UPS)", "{:,.0f}"),
]


# ----------------------------------------------------------------------------- greenwave


class _SumoMeasures(Simulation):
    """The engine plus SUMO's per-step measures: waitingCount (drops to <= 0.1 m/s, no
    hysteresis) and timeLoss (Σ dt - Δx / v_max, v_max = desired factor × limit)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        n = self.arr.count
        self.m_wait = np.zeros(n, dtype=bool)
        self.m_count = np.zeros(n, dtype=np.int64)
        self.m_loss = np.zeros(n)

    def _step(self, t):
        idx = np.flatnonzero(self.alive[: self.hw])
        pos0 = self.pos[idx].copy()
        r = self.routes
        vmax = (
            self.desired[idx]
            * self.net.link_speed_limit_ms[r.links[self.route[idx], self.link_k[idx]]]
        )
        vid = self.vid[idx].copy()
        super()._step(t)
        self.m_loss[vid] += self.dt - (self.pos[idx] - pos0) / vmax
        stopped = self.v[idx] <= STOP_SPEED_MS
        self.m_count[vid] += stopped & ~self.m_wait[vid]
        self.m_wait[vid] = stopped


def run_greenwave(world: World, seed: int, duration: float, warmup: float) -> dict:
    """One seed: a plain run (measures, throughput) and an instrumented one (SUMO measures).
    The instrumented one first: it loads (or compiles) the compiled tick's kernels, which the
    plain run's wall time, the throughput, should not count (SUMO's UPS leaves its loading
    out too)."""
    probe = _SumoMeasures(world, seed, advisory=False, duration_s=duration, warmup_s=warmup)
    res2 = probe.run()
    res = Simulation(world, seed, advisory=False, duration_s=duration, warmup_s=warmup).run()
    s = summarize(res)
    v, v2 = res.vehicles, res2.vehicles
    c = v["counted"]
    assert np.array_equal(c, v2["counted"]) and np.allclose(
        v["travel_time_s"][c], v2["travel_time_s"][c]
    )  # deterministic: the same run
    tt = v["travel_time_s"][c]
    if not c.any():
        raise SystemExit(
            f"seed {seed}: no greenwave trip departed after the warm-up and "
            "completed: lengthen --duration"
        )
    return {
        "vehicles": int(c.sum()),
        "travel_time_s": s["travel_time_s"],
        "mean_speed_kmh": s["mean_speed_kmh"],
        "mean_trip_speed_kmh": float(np.mean(v["distance_m"][c] / tt) * 3.6),
        "stops_per_veh": float(probe.m_count[c].mean()),
        "stops_hysteresis": s["stops_per_veh"],
        "waiting_time_s": s["stopped_time_s"],
        "time_loss_s": float(probe.m_loss[c].mean()),
        "delay_s": s["delay_s"],
        "depart_delay_s": float(np.mean(v["entry_wait_s"][c])),
        "steps_per_s": res.vehicle_steps / res.wall_s,
        "vehicle_steps": res.vehicle_steps,
        "wall_s": res.wall_s,
        "red_violations": res.red_violations,
    }


# ----------------------------------------------------------------------------- SUMO


def _sumo(outdir: Path, seed: int, extra=()) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``scenario.sumocfg`` in ``outdir`` with the ``sumo`` binary and one seed (plus
    ``extra`` options), tripinfo to ``tripinfo_<seed>.xml``; the finished process and that
    file.  Raises RuntimeError with SUMO's stderr when it fails."""
    exe = find_sumo_tool("sumo")
    trip = outdir / f"tripinfo_{seed}.xml"
    proc = subprocess.run(
        [
            exe,
            "-c",
            "scenario.sumocfg",
            "--seed",
            str(seed),
            "--tripinfo-output",
            trip.name,
            "--duration-log.statistics",
            "true",
            "--no-step-log",
            "true",
            *extra,
        ],
        cwd=outdir,
        capture_output=True,
        text=True,
        timeout=1800,
        env=tool_env(exe),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sumo failed (seed {seed}): {proc.stderr[-2000:]}")
    return proc, trip


def run_sumo_cli(outdir: Path, seed: int, warmup: float, extra=()) -> dict:
    """One seed of the exported scenario with the ``sumo`` binary; tripinfo measures and UPS."""
    proc, trip = _sumo(outdir, seed, extra)
    s = trip_summary(read_tripinfo(trip), warmup)
    s["steps_per_s"] = parse_ups(proc.stdout)
    s["wall_s"] = parse_sumo_duration_s(proc.stdout)
    return s


# ----------------------------------------------------------------------------- report


def _agg(runs: list[dict]) -> dict:
    out = {}
    for k, _, _ in ROWS:
        vals = [r.get(k, math.nan) for r in runs]
        m, lo, hi = mean_ci(vals)
        out[k] = {"mean": m, "ci95": [lo, hi]}
    return out


def _diff_pct(a: float, b: float) -> float:
    return (a - b) / b * 100.0 if b and math.isfinite(a) and math.isfinite(b) else math.nan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "scenario", nargs="?", type=Path, default=ROOT / "scenarios" / "zibo_arterial.toml"
    )
    ap.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 1,2,7 (default 1-5)")
    ap.add_argument("--duration", type=float, help="simulated seconds (default: scenario's)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds (default: scenario's)")
    ap.add_argument(
        "--variants",
        default="idm,idm_ballistic,krauss,idm_lc,idm_lc_ballistic",
        help="SUMO variants: idm (like for like without lane changes), idm_ballistic, krauss, "
        "idm_lc, idm_lc_ballistic (like for like with greenwave's defaults)",
    )
    ap.add_argument("--keep", type=Path, help="keep the SUMO files in this directory")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    net = ap.add_argument_group("any SUMO files (--net)")
    net.add_argument("--net", type=Path, help="SUMO network (.net.xml) to compare on")
    net.add_argument(
        "--routes", type=Path, action="append", default=[], help="SUMO route file (repeatable)"
    )
    net.add_argument(
        "--additional",
        type=Path,
        action="append",
        default=[],
        help="SUMO additional file with signal programs (repeatable)",
    )
    net.add_argument(
        "--drain",
        type=float,
        default=NET_DRAIN_S,
        help=f"seconds both may run after the last departure (default {NET_DRAIN_S:g})",
    )
    grid = ap.add_argument_group("a grid with turning demand (--grid)")
    grid.add_argument(
        "--grid",
        type=int,
        metavar="N",
        help="compare on an exported N x N grid with turning demand (issue 15)",
    )
    grid.add_argument(
        "--flow-per-lane",
        type=float,
        default=150.0,
        help="veh/h per lane at every grid entry (default 150)",
    )
    grid.add_argument(
        "--grid-cases",
        default=",".join(GRID_CASES),
        help=f"grid cases (default {','.join(GRID_CASES)})",
    )
    a = ap.parse_args(argv)
    if a.net is not None:
        return main_net(a)
    if a.grid is not None:
        return main_grid(a)
    if a.routes or a.additional:
        ap.error("--routes and --additional go with --net")
    if find_sumo_tool("sumo") is None or find_sumo_tool("netconvert") is None:
        print("SUMO not found: pip install 'greenwave[sumo]'", file=sys.stderr)
        return 2
    try:
        seeds = parse_list(a.seeds, int)
    except ValueError as e:
        ap.error(f"--seeds: {e}")
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    if "idm" not in variants:
        variants.insert(0, "idm")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)}")
    sc = load_scenario(a.scenario)
    duration = float(a.duration or sc.simulation.duration_s)
    warmup = float(sc.simulation.warmup_s if a.warmup is None else a.warmup)
    if not 0 <= warmup < duration:
        ap.error("need 0 <= warm-up < duration")
    world = World.build(sc)
    t_start = time.perf_counter()
    tmp = None
    base = a.keep
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="gw_vs_sumo_")
        base = Path(tmp.name)
    runs: dict[str, list[dict]] = {"greenwave": []}
    timing = {}
    t0 = time.perf_counter()
    for seed in seeds:
        runs["greenwave"].append(run_greenwave(world, seed, duration, warmup))
    timing["greenwave"] = time.perf_counter() - t0
    for var in variants:
        cf, lc, extra, _, _ = VARIANTS[var]
        out = base / var
        res = export_sumo(
            sc, out, duration_s=duration, arrivals="poisson", car_following=cf, lane_change=lc
        )
        if not res.net_built:
            raise RuntimeError(f"netconvert did not build the net: {res.notes}")
        runs[var] = []
        sumo_s = 0.0
        for seed in seeds:
            if turns_any(world.network.movements):
                # Turning demand is written as greenwave's own vehicles, which depend on the
                # seed: one route file per seed, so both run the same trips.
                write_routes(
                    sc,
                    out / f"routes_{seed}.rou.xml",
                    duration_s=duration,
                    seed=seed,
                    car_following=cf,
                    lane_change=lc,
                    network=world.network,
                )
                more = ("-r", f"routes_{seed}.rou.xml", *extra)
            else:
                more = tuple(extra)
            t0 = time.perf_counter()
            runs[var].append(run_sumo_cli(out, seed, warmup, more))
            sumo_s += time.perf_counter() - t0
        timing[var] = sumo_s
    if tmp is not None:
        tmp.cleanup()

    agg = {k: _agg(v) for k, v in runs.items()}
    gw, ref = agg["greenwave"], agg["idm"]
    diffs = {k: _diff_pct(gw[k]["mean"], ref[k]["mean"]) for k, _, _ in ROWS}
    ratio = gw["steps_per_s"]["mean"] / ref["steps_per_s"]["mean"]
    goals = {
        k: {"diff_pct": diffs[k], "limit_pct": lim, "met": abs(diffs[k]) <= lim}
        for k, lim in GOALS.items()
    }
    goals["throughput"] = {"ratio": ratio, "limit": 1.0, "met": ratio >= 1.0}
    total = time.perf_counter() - t_start

    host = (
        f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    print(
        f"greenwave vs SUMO, baselines without advice: {sc.name} ({a.scenario.name}), "
        f"seeds {a.seeds}, {duration:g} s, warm-up {warmup:g} s, Poisson arrivals"
    )
    print(f"{host}; {_dt.datetime.now().isoformat(timespec='minutes')}; SUMO {_sumo_version()}")
    others = [v for v in variants if v != "idm"]
    all_diffs = {
        v: {k: _diff_pct(gw[k]["mean"], agg[v][k]["mean"]) for k, _, _ in ROWS} for v in variants
    }
    w0, w1 = 31, 14
    print(
        f"{'measure (mean ± 95 % CI)':<{w0}}{'greenwave':>{w1}}{'SUMO IDM':>{w1}}"
        f"{'diff':>9}{'goal':>12}" + "".join(f"{VARIANTS[v][3]:>{w1 + 10}}" for v in others)
    )
    for k, label, fmt in ROWS:
        line = f"{label:<{w0}}{_fmt(fmt, gw[k], k):>{w1}}{_fmt(fmt, ref[k], k):>{w1}}"
        line += f"{_pct(diffs[k]):>9}"
        if k in GOALS:
            goal = f"±{GOALS[k]:g} % {'ok' if goals[k]['met'] else 'MISS'}"
        elif k == "steps_per_s":
            goal = f"x{ratio:.2f} {'ok' if ratio >= 1 else 'MISS'}"
        else:
            goal = ""
        line += f"{goal:>12}"
        for v in others:
            cell = _fmt(fmt, agg[v][k], k)
            d = all_diffs[v][k]
            line += f"{cell:>{w1}}" + (
                f"{'(' + _pct(d) + ')':>10}" if math.isfinite(d) else " " * 10
            )
        print(line)
    print("diff: greenwave against the SUMO column, (in brackets) against each other variant.")
    for v in variants:
        print(f"  {VARIANTS[v][3]}: {VARIANTS[v][4]}")
    print(
        "  stops: SUMO waitingCount = drops of the speed to <= 0.1 m/s; 'greenwave def.' ends a "
        "stop only above 1 m/s.  time loss: against the vehicle's own v_max (speedFactor x "
        "limit); delay: against the limit."
    )
    print(
        "run time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items())
        + f", total {total:.0f} s"
    )
    if a.json:
        print_json(
            {
                "scenario": sc.name,
                "seeds": seeds,
                "duration_s": duration,
                "warmup_s": warmup,
                "host": host,
                "sumo_version": _sumo_version(),
                "variants": {v: VARIANTS[v][4] for v in variants},
                "results": agg,
                "diff_pct_vs_sumo_idm": diffs,
                "diff_pct": all_diffs,
                "goals": goals,
                "throughput_ratio": ratio,
                "per_seed": runs,
                "run_time_s": timing,
            }
        )
    return 0


# ----------------------------------------------------------------------------- --net


def _net_sumo(a, seed: int, end_s: float, out: Path) -> dict:
    """One SUMO run of the user's files; every trip of its tripinfo."""
    exe = find_sumo_tool("sumo")
    trip = out / f"tripinfo_{seed}.xml"
    cmd = [
        exe,
        "-n",
        str(a.net.resolve()),
        "-r",
        ",".join(str(p.resolve()) for p in a.routes),
        "--seed",
        str(seed),
        "--end",
        f"{end_s:g}",
        "--tripinfo-output",
        str(trip),
        "--device.emissions.probability",
        "1",
        "--duration-log.statistics",
        "true",
        "--no-step-log",
        "true",
    ]
    if a.additional:
        cmd += ["-a", ",".join(str(p.resolve()) for p in a.additional)]
    proc = subprocess.run(
        cmd, cwd=out, capture_output=True, text=True, timeout=1800, env=tool_env(exe), check=False
    )
    if proc.returncode != 0:
        raise SumoError(f"sumo failed (seed {seed}): {proc.stderr.strip()[-1500:]}")
    trips = read_tripinfo(trip)
    s = trip_summary(trips, 0.0)
    running = re.findall(r"Running: (\d+)", proc.stdout)
    waiting = re.findall(r"Waiting: (\d+)", proc.stdout)
    s["unfinished"] = int(running[-1] if running else 0) + int(waiting[-1] if waiting else 0)
    s["last_arrival_s"] = float(np.max(trips["arrival"])) if len(trips["arrival"]) else math.nan
    return s


def _net_greenwave(world: World, seed: int, duration: float, drain: float) -> dict:
    """One seed of the imported scenario, no advice, no warm-up, drained: every trip."""
    probe = _SumoMeasures(
        world, seed, advisory=False, duration_s=duration, warmup_s=0.0, drain_s=drain
    )
    res = probe.run()
    s = summarize(res)
    c = res.vehicles["counted"]
    return {
        "vehicles": int(c.sum()),
        "travel_time_s": s["travel_time_s"],
        "mean_speed_kmh": s["mean_speed_kmh"],
        "stops_per_veh": float(probe.m_count[c].mean()) if c.any() else math.nan,
        "fuel_l_per_100km": s["fuel_l_per_100km"],
        "unfinished": int(s.get("incomplete", 0)),
        "drained_s": float(getattr(res, "drained_s", math.nan)),
        "wall_s": res.wall_s,
    }


def main_net(a) -> int:
    """``--net``: greenwave's imported baseline against SUMO on the same files."""
    try:
        if not a.routes:
            raise SumoError("--routes R.rou.xml is required with --net")
        for opt, path in (
            [("--net", a.net)]
            + [("--routes", p) for p in a.routes]
            + [("--additional", p) for p in a.additional]
        ):
            if not path.is_file():
                raise SumoError(f"{opt} {path}: no such file")
        try:
            seeds = parse_list(a.seeds, int)
        except ValueError:
            raise SumoError(f"--seeds: {a.seeds!r} is not a list of integers") from None
        if not (math.isfinite(a.drain) and a.drain >= 0):
            raise SumoError(f"--drain: {a.drain:g} must be a finite number of seconds >= 0")
        if find_sumo_tool("sumo") is None:
            raise SumoError("SUMO not found: pip install 'greenwave[sumo]'")
        imp = read_sumo(a.net, additional=a.additional, routes=a.routes)
    except SumoError as e:
        print(f"vs_sumo: error: {e}", file=sys.stderr)
        return 2
    sc = imp.scenario
    duration = float(sc.simulation.duration_s)  # the last departure
    world = World.build(sc)
    tmp = None
    base = a.keep
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="gw_vs_sumo_net_")
        base = Path(tmp.name)
    base.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"sumo": [], "greenwave": []}
    timing = {}
    try:
        t0 = time.perf_counter()
        for seed in seeds:
            runs["sumo"].append(_net_sumo(a, seed, duration + a.drain, base))
        timing["sumo"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for seed in seeds:
            runs["greenwave"].append(_net_greenwave(world, seed, duration, a.drain))
        timing["greenwave"] = time.perf_counter() - t0
    except SumoError as e:
        print(f"vs_sumo: error: {e}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None:
            tmp.cleanup()
    keys = [k for k, _, _ in NET_MEASURES]
    agg = {}
    for side, rs in runs.items():
        agg[side] = {}
        for k in keys:
            vals = [r[k] for r in rs]
            m, lo, hi = mean_ci(vals)
            agg[side][k] = {"mean": m, "ci95": [lo, hi], "per_seed": vals}
        agg[side]["unfinished"] = sum(r["unfinished"] for r in rs)
    ratio = {
        k: agg["greenwave"][k]["mean"] / agg["sumo"][k]["mean"]
        if agg["sumo"][k]["mean"]
        else math.nan
        for k in keys
    }
    goals = {
        k: {
            "diff_pct": (ratio[k] - 1) * 100,
            "limit_pct": lim,
            "met": abs(ratio[k] - 1) * 100 <= lim,
        }
        for k, lim in GOALS.items()
    }
    print(
        f"greenwave (imported) vs SUMO, baselines without advice, every trip: {a.net.name}, "
        f"routes {', '.join(p.name for p in a.routes)}"
        + (f", additional {', '.join(p.name for p in a.additional)}" if a.additional else "")
        + f"; seeds {a.seeds}; departures until {duration:g} s, drain up to {a.drain:g} s"
    )
    print("import:")
    for w in imp.warnings:
        print(f"  warning: {w}")
    for n in imp.notes:
        print(f"  note: {n}")
    w0, w1 = 31, 16
    head = f"{'measure (mean ± 95 % CI)':<{w0}}{'greenwave':>{w1}}{'SUMO':>{w1}}"
    print(f"{head}{'ratio':>8}{'goal':>12}")
    for k, label, fmt in NET_MEASURES:
        line = f"{label:<{w0}}{_fmt(fmt, agg['greenwave'][k], k):>{w1}}"
        line += f"{_fmt(fmt, agg['sumo'][k], k):>{w1}}{ratio[k]:>8.3f}"
        if k in goals:
            line += (
                f"{'±' + format(GOALS[k], 'g') + ' % ' + ('ok' if goals[k]['met'] else 'MISS'):>12}"
            )
        print(line)
    print(
        f"unfinished at the end: greenwave {agg['greenwave']['unfinished']}, "
        f"SUMO {agg['sumo']['unfinished']} (over all seeds); run time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items())
    )
    if a.json:
        print_json(
            {
                "net": str(a.net),
                "routes": [str(p) for p in a.routes],
                "additional": [str(p) for p in a.additional],
                "seeds": seeds,
                "departures_until_s": duration,
                "drain_s": a.drain,
                "sumo_version": _sumo_version(),
                "import_warnings": imp.warnings,
                "import_notes": imp.notes,
                "sumo": agg["sumo"],
                "greenwave": agg["greenwave"],
                "ratio": ratio,
                "goals": goals,
                "run_time_s": timing,
            }
        )
    return 0


# ----------------------------------------------------------------------------- --grid


GRID_TURNING = {"left": 0.15, "through": 0.7, "right": 0.15}
"""Turning shares at every approach of the ``--grid`` case (a typical urban split)."""
GRID_CASES = {  # name: (left_turn_phase, legend)
    "two_phase": (False, "two-phase plans, permitted lefts yielding to the opposing approach"),
    "left_phase": (True, "four-phase plans, protected left phases (left_turn_phase)"),
}
GRID_MEASURES = [  # key, label, format
    ("vehicles", "trips counted (per seed)", "{:.0f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("mean_speed_kmh", "mean speed, space-mean (km/h)", "{:.2f}"),
    ("stops_per_veh", "stops/veh, waitingCount def.", "{:.3f}"),
    ("travel_time_straight_s", "  travel time, no turn (s)", "{:.1f}"),
    ("travel_time_turning_s", "  travel time, turning (s)", "{:.1f}"),
    ("veh_s_per_s", "simulated veh-s per wall s", "{:,.0f}"),
    ("steps_per_s", "vehicle-steps per wall s", "{:,.0f}"),
]


def grid_scenario(
    size: int,
    flow_per_lane: float,
    left_turn_phase: bool,
    car_following: str,
    lane_changing: bool,
    duration: float,
) -> Scenario:
    """The ``--grid`` scenario: a ``size`` × ``size`` grid city (greenwave's defaults: 500 m
    blocks, 2 lanes, 50 km/h, 120 s cycle, diagonal green wave), ``flow_per_lane`` veh/h per
    lane at every entry, :data:`GRID_TURNING` at every approach, the variant's drivers."""
    return parse_scenario(
        {
            "name": f"grid {size}x{size}, turning",
            "grid": {"rows": size, "cols": size, "left_turn_phase": left_turn_phase},
            "demand": {"flow_veh_h_per_lane": flow_per_lane, "turning": GRID_TURNING},
            "drivers": {"car_following": car_following, "lane_changing": lane_changing},
            "simulation": {"duration_s": duration, "warmup_s": 0.0},
        }
    )


def _grid_greenwave(world: World, seed: int, duration: float, drain: float) -> dict:
    """One seed without advice, every trip drained: measures, and throughput from a plain run
    (the instrumented run costs more per step), run after the instrumented one so that its
    wall time does not count loading the compiled kernels (:func:`run_greenwave`)."""
    probe = _SumoMeasures(
        world, seed, advisory=False, duration_s=duration, warmup_s=0.0, drain_s=drain
    )
    res2 = probe.run()
    res = Simulation(
        world, seed, advisory=False, duration_s=duration, warmup_s=0.0, drain_s=drain
    ).run()
    v = res.vehicles
    c = v["counted"]
    assert np.array_equal(c, res2.vehicles["counted"])  # deterministic: the same run
    s = summarize(res)
    turned = v["turns"] > 0
    return {
        "vehicles": int(c.sum()),
        "travel_time_s": s["travel_time_s"],
        "mean_speed_kmh": s["mean_speed_kmh"],
        "stops_per_veh": float(probe.m_count[c].mean()) if c.any() else math.nan,
        "travel_time_straight_s": _mean(v["travel_time_s"][c & ~turned]),
        "travel_time_turning_s": _mean(v["travel_time_s"][c & turned]),
        "veh_s_per_s": res.vehicle_steps * world_dt(world) / res.wall_s,
        "steps_per_s": res.vehicle_steps / res.wall_s,
        "wall_s": res.wall_s,
        "unfinished": int(s.get("incomplete", 0)),
        "turns": v["turns"],
    }


def world_dt(world: World) -> float:
    """The physics step (s) of a world's scenario."""
    return float(world.scenario.simulation.dt_s)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def _grid_sumo(out: Path, routes: Path, seed: int, end_s: float, extra, turns) -> dict:
    """One SUMO run of the exported grid with one seed's vehicles; every trip of its tripinfo.
    ``turns``: greenwave's turns per vehicle (SUMO's ids are ``a<k>``, greenwave's index)."""
    proc, trip = _sumo(out, seed, ("-r", routes.name, "--end", f"{end_s:g}", *extra))
    trips = read_tripinfo(trip)
    s = trip_summary(trips, 0.0)
    idx = np.array([int(str(i)[1:]) for i in trips["id"]], dtype=np.int64)
    turned = turns[idx] > 0 if idx.size else np.zeros(0, dtype=bool)
    running = re.findall(r"Running: (\d+)", proc.stdout)
    waiting = re.findall(r"Waiting: (\d+)", proc.stdout)
    ups = parse_ups(proc.stdout)
    return {
        "vehicles": s["vehicles"],
        "travel_time_s": s["travel_time_s"],
        "mean_speed_kmh": s["mean_speed_kmh"],
        "stops_per_veh": s["stops_per_veh"],
        "travel_time_straight_s": _mean(trips["duration"][~turned]),
        "travel_time_turning_s": _mean(trips["duration"][turned]),
        "veh_s_per_s": ups * STEP_LENGTH_S,
        "steps_per_s": ups,
        "wall_s": parse_sumo_duration_s(proc.stdout),
        "unfinished": int(running[-1] if running else 0) + int(waiting[-1] if waiting else 0),
        "collisions": len(re.findall(r"collision", proc.stderr)),
    }


def main_grid(a) -> int:
    """``--grid``: greenwave's baseline against SUMO on an exported grid with turning."""
    if find_sumo_tool("sumo") is None or find_sumo_tool("netconvert") is None:
        print("SUMO not found: pip install 'greenwave[sumo]'", file=sys.stderr)
        return 2
    try:
        seeds = parse_list(a.seeds, int)
    except ValueError as e:
        print(f"vs_sumo: error: --seeds: {e}", file=sys.stderr)
        return 2
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    cases = [c.strip() for c in a.grid_cases.split(",") if c.strip()]
    bad_cases = sorted(set(cases) - set(GRID_CASES))
    problems = []
    if unknown:
        problems.append(f"--variants: unknown {unknown} (known: {', '.join(VARIANTS)})")
    if bad_cases:
        problems.append(f"--grid-cases: unknown {bad_cases} (known: {', '.join(GRID_CASES)})")
    if not (2 <= a.grid <= 20):
        problems.append(f"--grid: {a.grid} must be 2..20 streets each way")
    if not (math.isfinite(a.flow_per_lane) and 0 < a.flow_per_lane <= 2000):
        problems.append(f"--flow-per-lane: {a.flow_per_lane:g} must be in (0, 2000] veh/h")
    duration = float(a.duration or 1800.0)
    if not (math.isfinite(duration) and duration > 0):
        problems.append(f"--duration: {duration:g} must be > 0 s")
    if not (math.isfinite(a.drain) and a.drain >= 0):
        problems.append(f"--drain: {a.drain:g} must be a finite number of seconds >= 0")
    if problems:
        for p in problems:
            print(f"vs_sumo: error: {p}", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    tmp = None
    base = a.keep
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="gw_vs_sumo_grid_")
        base = Path(tmp.name)
    results: dict[str, dict] = {}
    timing: dict[str, float] = {}
    try:
        for case in cases:
            left_phase = GRID_CASES[case][0]
            results[case] = {}
            for var in variants:
                cf, lc, extra, _, _ = VARIANTS[var]
                sc = grid_scenario(a.grid, a.flow_per_lane, left_phase, cf, lc, duration)
                world = World.build(sc)
                out = base / case / var
                res = export_sumo(
                    sc,
                    out,
                    duration_s=duration,
                    seed=seeds[0],
                    car_following=cf,
                    lane_change=lc,
                )
                if not res.net_built:
                    raise RuntimeError(f"netconvert did not build the net: {res.notes}")
                runs: dict[str, list[dict]] = {"greenwave": [], "sumo": []}
                for seed in seeds:
                    t0 = time.perf_counter()
                    g = _grid_greenwave(world, seed, duration, a.drain)
                    timing["greenwave"] = timing.get("greenwave", 0.0) + time.perf_counter() - t0
                    routes = out / f"routes_{seed}.rou.xml"
                    write_routes(
                        sc,
                        routes,
                        duration_s=duration,
                        seed=seed,
                        car_following=cf,
                        lane_change=lc,
                        network=world.network,
                    )
                    t0 = time.perf_counter()
                    s = _grid_sumo(out, routes, seed, duration + a.drain, extra, g.pop("turns"))
                    timing["sumo"] = timing.get("sumo", 0.0) + time.perf_counter() - t0
                    runs["greenwave"].append(g)
                    runs["sumo"].append(s)
                results[case][var] = _grid_compare(runs)
    finally:
        if tmp is not None:
            tmp.cleanup()
    _grid_report(a, seeds, duration, cases, variants, results, timing, t_start)
    return 0


def _grid_compare(runs: dict[str, list[dict]]) -> dict:
    """Means with 95 % CIs of both sides, greenwave − SUMO in % of SUMO, goals."""
    agg = {}
    for side, rs in runs.items():
        agg[side] = {}
        for k, _, _ in GRID_MEASURES:
            vals = [r[k] for r in rs]
            m, lo, hi = mean_ci(vals)
            agg[side][k] = {"mean": m, "ci95": [lo, hi], "per_seed": vals}
        agg[side]["unfinished"] = sum(r["unfinished"] for r in rs)
    agg["sumo"]["collisions"] = sum(r["collisions"] for r in runs["sumo"])
    diff = {
        k: _diff_pct(agg["greenwave"][k]["mean"], agg["sumo"][k]["mean"])
        for k, _, _ in GRID_MEASURES
    }
    goals = {
        k: {"diff_pct": diff[k], "limit_pct": lim, "met": abs(diff[k]) <= lim}
        for k, lim in GOALS.items()
    }
    ratio = agg["greenwave"]["veh_s_per_s"]["mean"] / agg["sumo"]["veh_s_per_s"]["mean"]
    goals["throughput"] = {"ratio": ratio, "limit": 1.0, "met": ratio >= 1.0}
    return {**agg, "diff_pct": diff, "goals": goals}


def _grid_report(a, seeds, duration, cases, variants, results, timing, t_start) -> None:
    host = (
        f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    t = GRID_TURNING
    print(
        f"greenwave vs SUMO, baselines without advice: grid {a.grid}x{a.grid} (500 m blocks, "
        f"2 lanes, 50 km/h, 120 s cycle), {a.flow_per_lane:g} veh/h per entry lane, turning "
        f"{t['left']:g}/{t['through']:g}/{t['right']:g} (left/through/right); seeds {a.seeds}; "
        f"departures over {duration:g} s, drained up to {a.drain:g} s, every trip counted; "
        "the same vehicles and routes in both (export-sumo)"
    )
    print(f"{host}; {_dt.datetime.now().isoformat(timespec='minutes')}; SUMO {_sumo_version()}")
    w0, w1 = 31, 14
    for case in cases:
        print(f"\n== {case}: {GRID_CASES[case][1]}")
        for var in variants:
            r = results[case][var]
            gw, su = r["greenwave"], r["sumo"]
            print(
                f"-- {var}: {VARIANTS[var][4]}; greenwave: drivers.car_following = "
                f"'{VARIANTS[var][0]}', lane_changing = {VARIANTS[var][1]}"
            )
            print(f"{'measure (mean ± 95 % CI)':<{w0}}{'greenwave':>{w1}}{'SUMO':>{w1}}{'diff':>9}")
            for k, label, fmt in GRID_MEASURES:
                line = f"{label:<{w0}}{_fmt(fmt, gw[k], k):>{w1}}{_fmt(fmt, su[k], k):>{w1}}"
                line += f"{_pct(r['diff_pct'][k]):>9}"
                if k in GOALS:
                    ok = "ok" if r["goals"][k]["met"] else "MISS"
                    line += f"   goal ±{GOALS[k]:g} % {ok}"
                elif k == "veh_s_per_s":
                    ratio = r["goals"]["throughput"]["ratio"]
                    line += f"   x{ratio:.2f} {'ok' if ratio >= 1 else 'MISS'}"
                print(line)
            print(
                f"unfinished at the end: greenwave {gw['unfinished']}, SUMO "
                f"{su['unfinished']}; SUMO collisions {su['collisions']}"
            )
    print(
        "\nstops: SUMO waitingCount = drops of the speed to <= 0.1 m/s, counted the same way "
        "in greenwave.  veh-s per wall s: simulated vehicle-seconds per second of the "
        f"simulation's own wall time (SUMO: UPS x its {STEP_LENGTH_S:g} s step; greenwave: "
        "vehicle-steps x dt / wall, a plain run)."
    )
    total = time.perf_counter() - t_start
    print(
        "run time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items())
        + f", total {total:.0f} s"
    )
    if a.json:
        print_json(
            {
                "grid": {
                    "size": a.grid,
                    "flow_veh_h_per_lane": a.flow_per_lane,
                    "turning": GRID_TURNING,
                },
                "seeds": seeds,
                "duration_s": duration,
                "drain_s": a.drain,
                "host": host,
                "sumo_version": _sumo_version(),
                "cases": {c: GRID_CASES[c][1] for c in cases},
                "variants": {v: VARIANTS[v][4] for v in variants},
                "results": results,
                "run_time_s": timing,
            }
        )


def _fmt(fmt, d, k):
    m, ci = d["mean"], d["ci95"]
    if not math.isfinite(m):
        return "—"
    if k in ("vehicles", "steps_per_s", "veh_s_per_s") or not math.isfinite(ci[0]):
        return fmt.format(m)
    return f"{fmt.format(m)}±{fmt.format((ci[1] - ci[0]) / 2)}"


def _pct(d: float) -> str:
    return f"{d:+.1f} %" if math.isfinite(d) else "—"


def _sumo_version() -> str:
    exe = find_sumo_tool("sumo")
    try:
        text = subprocess.run(
            [exe, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            env=tool_env(exe),
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    first = text.strip().splitlines()[0] if text.strip() else "?"
    return first.replace("Eclipse SUMO sumo ", "").strip()


if __name__ == "__main__":
    sys.exit(main())
