"""Greenwave's advice against SUMO's own GLOSA device, in one simulator on one scenario.

The scenario (default ``scenarios/zibo_arterial.toml``) is exported to SUMO like
``benchmarks/vs_sumo.py``'s like-for-like row (SUMO IDM with the scenario's driver parameters,
no lane changes, Poisson arrivals) with SUMO's emission model on every vehicle
(``--device.emissions.probability 1``, emission class ``HBEFA3/PC_G_EU4``: petrol Euro 4 car;
tripinfo ``fuel_abs``/``CO2_abs`` in mg, fuel converted to litres with SUMO's petrol density
742 g/L).  For every seed (SUMO's ``--seed``: the same vehicles, departures and speed factors in
every case) it runs:

* **no advice**;
* **SUMO device.glosa** at each penetration: ``--device.glosa.range 500`` (the advisory range
  greenwave uses; SUMO's default is 100 m), all other options at SUMO's defaults —
  ``min-speed 5`` m/s (slowest speed it coasts at towards a red light), ``max-speedfactor 1.1``
  (it may raise the driver's speed factor to 1.1 × the limit to catch a green),
  ``add-switchtime 0``, ``use-queue false``, ``override-safety false``, ``ignore-cfmodel false``.
  It advises for the next signal only.  The equipped vehicles are named with
  ``--device.glosa.explicit``: the same ids greenwave's controller equips (nested across
  penetrations; :func:`sim.sumo_glosa.equipped_ids`), so the two systems are compared on the
  same equipped vehicles;
* **greenwave** at each penetration: :class:`sim.sumo_glosa.GlosaController` (libsumo) gives the
  equipped vehicles the core's advice (``greenwave.advice.advise``; the scenario's 35–50 km/h
  band, 500 m range, queue-aware, up to 3 signals ahead);
* diagnostics at the highest penetration (``--no-diagnostics`` to skip), to show where a
  difference comes from: device.glosa held to greenwave's band floor (``min-speed`` = the band
  minimum, 35 km/h, and ``max-speedfactor 1``: it no longer speeds drivers up beyond their own
  speed factor), and greenwave given device.glosa's speed range as far as the speed limit allows
  (band from ``min-speed``, 18 km/h, up to the limit instead of 35–50 km/h).

Measures over the trips that departed after the warm-up and completed: stops per vehicle (SUMO
``waitingCount``, per direction too), time loss (``timeLoss``), travel time, fuel (L/100 km) and
CO2 (g/km) over the distance driven, and red-light crossings (every run is watched).  Mean and
95 % CI over seeds; changes are paired per seed.  Goal: greenwave's advice beats device.glosa on
stops and fuel.

    python benchmarks/glosa_vs_sumo.py [SCENARIO] [--seeds 1-4] [--duration 1800]
        [--warmup S] [--penetrations 25,50,100] [--jobs N] [--no-diagnostics] [--json]

Needs the ``[sumo]`` extra (``pip install 'greenwave[sumo]'``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenwave.network import World, expand_links
from greenwave.scenario import load_scenario, parse_scenario
from greenwave.sumo_io import export_sumo, find_sumo_tool
from sim.measures import mean_ci
from sim.sumo_glosa import (
    EMISSION_CLASS,
    PETROL_DENSITY_G_PER_L,
    equipped_ids,
    flow_vehicle_ids,
    run_sumo,
    trip_summary,
)

DEVICE_RANGE_M = 500.0
DEVICE_MIN_SPEED_MS = 5.0  # SUMO's default device.glosa.min-speed
MEASURES = [  # key, label, format, lower is better
    ("stops_per_veh", "stops / veh", "{:.3f}"),
    ("time_loss_s", "time loss (s)", "{:.1f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("fuel_l_per_100km", "fuel (L/100 km)", "{:.3f}"),
    ("co2_g_per_km", "CO2 (g/km)", "{:.1f}"),
]


# ----------------------------------------------------------------------------- cases


def make_cases(penetrations: list[float], diagnostics: bool, band_min_kmh: float,
               limit_kmh: float) -> list[dict]:
    cases = [{"key": "none", "label": "no advice", "kind": "none", "p": 0.0}]
    for p in penetrations:
        pc = f"{p * 100:g}"
        cases.append({"key": f"device_{pc}", "label": f"SUMO device.glosa {pc} %",
                      "kind": "device", "p": p})
        cases.append({"key": f"greenwave_{pc}", "label": f"greenwave {pc} %",
                      "kind": "greenwave", "p": p})
    if diagnostics:
        p = max(penetrations)
        pc = f"{p * 100:g}"
        cases.append({"key": f"device_{pc}_min{band_min_kmh:g}",
                      "label": f"device {pc} %, min {band_min_kmh:g} km/h, msf 1",
                      "kind": "device", "p": p, "min_speed_ms": band_min_kmh / 3.6,
                      "max_speedfactor": 1.0})
        low = DEVICE_MIN_SPEED_MS * 3.6
        cases.append({"key": f"greenwave_{pc}_band{low:g}_{limit_kmh:g}",
                      "label": f"greenwave {pc} %, band {low:g}–{limit_kmh:g} km/h",
                      "kind": "greenwave", "p": p, "band_kmh": (low, limit_kmh)})
    return cases


def _run_case(job: dict) -> dict:
    """One (case, seed): runs in a worker process (libsumo is one simulation per process)."""
    case, seed = job["case"], job["seed"]
    cfg = Path(job["cfg"])
    sc = load_scenario(job["scenario"])
    if "band_kmh" in case:
        data = sc.model_dump(mode="json")
        data["advisory"]["band_min_kmh"], data["advisory"]["band_max_kmh"] = case["band_kmh"]
        sc = parse_scenario(data)
    world = World.build(sc)
    args = ["--device.emissions.probability", "1"]
    glosa = {"penetration": 0.0}  # watches red-light crossings, advises nobody
    if case["kind"] == "device":
        args += ["--device.glosa.range", f"{DEVICE_RANGE_M:g}"]
        if case["p"] >= 1.0:
            args += ["--device.glosa.probability", "1"]
        else:
            ids = equipped_ids(job["candidates"], seed, case["p"])
            args += ["--device.glosa.explicit", ",".join(ids)]
        if "min_speed_ms" in case:
            args += ["--device.glosa.min-speed", f"{case['min_speed_ms']:.6g}"]
        if "max_speedfactor" in case:
            args += ["--device.glosa.max-speedfactor", f"{case['max_speedfactor']:g}"]
    elif case["kind"] == "greenwave":
        glosa = {"penetration": case["p"]}
    t0 = time.perf_counter()
    run = run_sumo(cfg, seed=seed, end_s=job["duration"], args=args, world=world, glosa=glosa,
                   tag=f"{case['key']}_s{seed}")
    wall = time.perf_counter() - t0
    trips = run.trips
    s = trip_summary(trips, job["warmup"])
    for entry in job["entries"]:
        s[f"stops_{entry}"] = trip_summary(trips, job["warmup"],
                                           trips["entry"] == entry)["stops_per_veh"]
    ctrl = run.controller
    eq = np.array([ctrl.equipped_seen.get(v, False) for v in trips["id"]], dtype=bool)
    s.update({
        "red_crossings": ctrl.red_crossings, "crossings": ctrl.crossings,
        "advised_updates": ctrl.log.advised, "wall_s": wall,
        "stops_equipped": trip_summary(trips, job["warmup"], eq)["stops_per_veh"]
        if case["kind"] == "greenwave" else math.nan,
    })
    return {"key": case["key"], "seed": seed, "summary": s}


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", type=Path,
                    default=ROOT / "scenarios" / "zibo_arterial.toml")
    ap.add_argument("--seeds", default="1-4", help="e.g. 1-4 or 1,2,7 (default 1-4)")
    ap.add_argument("--duration", type=float, default=1800.0,
                    help="simulated seconds (default 1800)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds (default: scenario's)")
    ap.add_argument("--penetrations", default="25,50,100", help="percent (default 25,50,100)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes, one SUMO each (default: 2, or 1 on one CPU)")
    ap.add_argument("--no-diagnostics", action="store_true",
                    help="skip the two one-change diagnostic cases")
    ap.add_argument("--keep", type=Path, help="keep the SUMO files in this directory")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    a = ap.parse_args(argv)
    if find_sumo_tool("sumo") is None or find_sumo_tool("netconvert") is None:
        print("SUMO not found: pip install 'greenwave[sumo]'", file=sys.stderr)
        return 2
    seeds = _parse_list(a.seeds, int)
    pens = [p / 100.0 for p in _parse_list(a.penetrations, float)]
    if not pens or any(not 0 < p <= 1 for p in pens):
        ap.error("--penetrations: percentages in (0, 100]")
    sc = load_scenario(a.scenario)
    duration = float(a.duration)
    warmup = float(sc.simulation.warmup_s if a.warmup is None else a.warmup)
    if not 0 <= warmup < duration:
        ap.error("need 0 <= warm-up < duration")
    band_min = sc.advisory.band_min_kmh
    limit = max(ln.speed_limit_kmh for ln in expand_links(sc).links)
    cases = make_cases(pens, not a.no_diagnostics, band_min, limit)
    t_start = time.perf_counter()
    tmp = None
    base = a.keep
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="gw_glosa_sumo_")
        base = Path(tmp.name)
    res = export_sumo(sc, base, duration_s=duration, arrivals="poisson", car_following="idm",
                      lane_change=False)
    if not res.net_built:
        raise RuntimeError(f"netconvert did not build the net: {res.notes}")
    _set_emission_class(res.files["routes"], EMISSION_CLASS)
    candidates = flow_vehicle_ids(res.files["routes"], _max_per_flow(res.files["routes"]))
    world = World.build(sc)
    entries = [world.network.link_ids[int(k)] for k in world.network.entry_links]
    jobs = [{"case": c, "seed": s, "cfg": str(res.files["sumocfg"]), "scenario": str(a.scenario),
             "duration": duration, "warmup": warmup, "candidates": candidates,
             "entries": entries} for s in seeds for c in cases]
    # One fresh process per SUMO run: libsumo runs one simulation per process, and SUMO keeps
    # some state for the life of the process (the --device.glosa.explicit id list is parsed once
    # and cached), so runs must not share a process.
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=max(1, a.jobs), mp_context=ctx,
                                max_tasks_per_child=1) as ex:
        outs = list(ex.map(_run_case, jobs))
    if tmp is not None:
        tmp.cleanup()
    per = {c["key"]: {} for c in cases}
    for o in outs:
        per[o["key"]][o["seed"]] = o["summary"]
    total = time.perf_counter() - t_start

    keys = [m[0] for m in MEASURES] + [f"stops_{e}" for e in entries] + [
        "vehicles", "waiting_time_s", "red_crossings", "stops_equipped"]
    agg, change = {}, {}
    for c in cases:
        runs = [per[c["key"]][s] for s in seeds]
        agg[c["key"]] = {k: _mci([r[k] for r in runs]) for k in keys}
        agg[c["key"]]["red_crossings"]["total"] = int(sum(r["red_crossings"] for r in runs))
        change[c["key"]] = {k: _mci([_pct(per["none"][s][k], per[c["key"]][s][k])
                                     for s in seeds]) for k, _, _ in MEASURES}
    versus = {}
    for p in pens:
        pc = f"{p * 100:g}"
        g, d = per[f"greenwave_{pc}"], per[f"device_{pc}"]
        out = {}
        for k in ("stops_per_veh", "fuel_l_per_100km", "co2_g_per_km", "time_loss_s"):
            diff = _mci([g[s][k] - d[s][k] for s in seeds])
            mg, md = np.mean([g[s][k] for s in seeds]), np.mean([d[s][k] for s in seeds])
            out[k] = {"diff": diff, "diff_pct_of_means": _pct(md, mg),
                      "greenwave_better": diff["mean"] < 0,
                      "significant": bool(diff["ci95"][1] < 0 or diff["ci95"][0] > 0)}
        out["beats_on_stops_and_fuel"] = bool(out["stops_per_veh"]["greenwave_better"]
                                              and out["fuel_l_per_100km"]["greenwave_better"])
        versus[pc] = out

    host = f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_implementation()} " \
           f"{platform.python_version()}"
    print(f"greenwave advice vs SUMO device.glosa in SUMO: {sc.name} ({a.scenario.name}), "
          f"seeds {a.seeds}, {duration:g} s, warm-up {warmup:g} s; SUMO IDM, no lane changes, "
          f"Poisson arrivals; emissions {EMISSION_CLASS} (petrol {PETROL_DENSITY_G_PER_L:g} g/L)")
    print(f"{host}; {_dt.datetime.now().isoformat(timespec='minutes')}; device.glosa range "
          f"{DEVICE_RANGE_M:g} m (SUMO default 100 m), min-speed {DEVICE_MIN_SPEED_MS:g} m/s, "
          f"max-speedfactor 1.1; greenwave band {sc.advisory.band_min_kmh:g}–"
          f"{sc.advisory.band_max_kmh:g} km/h, range {sc.advisory.range_m:g} m")
    w0 = 42
    head = f"{'case (mean ± 95 % CI; change vs no advice)':<{w0}}"
    for _, label, _ in MEASURES:
        head += f"{label:>24}"
    print(head + f"{'red crossings':>15}")
    for c in cases:
        line = f"{c['label']:<{w0}}"
        for k, _, fmt in MEASURES:
            m = agg[c["key"]][k]
            cell = _fmt(fmt, m)
            if c["key"] != "none":
                ch = change[c["key"]][k]["mean"]
                cell += f" ({ch:+.0f}%)" if math.isfinite(ch) else ""
            line += f"{cell:>24}"
        line += f"{agg[c['key']]['red_crossings']['total']:>15}"
        print(line)
    print("stops / veh by entry link (direction): " + ", ".join(entries))
    for c in cases:
        print(f"  {c['label']:<{w0 - 2}}" + "".join(
            f"{_fmt('{:.3f}', agg[c['key']][f'stops_{e}']):>24}" for e in entries))
    print("greenwave − device.glosa, paired per seed, mean [95 % CI] (relative to device's "
          "mean); negative: greenwave better:")
    for pc, out in versus.items():
        parts = []
        for k, label, nd in (("stops_per_veh", "stops/veh", 3), ("fuel_l_per_100km", "fuel", 3),
                             ("co2_g_per_km", "CO2", 1), ("time_loss_s", "time loss", 1)):
            d = out[k]["diff"]
            parts.append(f"{label} {d['mean']:+.{nd}f} [{d['ci95'][0]:+.{nd}f}, "
                         f"{d['ci95'][1]:+.{nd}f}] ({out[k]['diff_pct_of_means']:+.0f} %)")
        verdict = "beats device.glosa on stops and fuel" if out["beats_on_stops_and_fuel"] \
            else "does NOT beat device.glosa on stops and fuel"
        print(f"  {pc:>3} %: " + "; ".join(parts) + f" → {verdict}")
    print(f"run time {total:.0f} s ({len(jobs)} SUMO runs, {a.jobs} process(es))")
    if a.json:
        print(json.dumps(_finite({
            "scenario": sc.name, "seeds": seeds, "duration_s": duration, "warmup_s": warmup,
            "host": host, "emission_class": EMISSION_CLASS,
            "fuel_density_g_per_l": PETROL_DENSITY_G_PER_L,
            "device_glosa": {"range_m": DEVICE_RANGE_M, "min_speed_ms": DEVICE_MIN_SPEED_MS,
                             "max_speedfactor": 1.1, "add_switchtime_s": 0.0,
                             "use_queue": False},
            "greenwave_band_kmh": [sc.advisory.band_min_kmh, sc.advisory.band_max_kmh],
            "cases": {c["key"]: {"label": c["label"], "measures": agg[c["key"]],
                                 "change_pct_vs_none": change[c["key"]]} for c in cases},
            "greenwave_vs_device": versus,
            "goal_met": {pc: out["beats_on_stops_and_fuel"] for pc, out in versus.items()},
            "per_seed": per, "run_time_s": total,
        }), default=_json_default, allow_nan=False))
    return 0


# ----------------------------------------------------------------------------- helpers


def _set_emission_class(routes: Path, cls: str) -> None:
    tree = ET.parse(routes)
    for vt in tree.getroot().iter("vType"):
        vt.set("emissionClass", cls)
    tree.write(routes, encoding="UTF-8", xml_declaration=True)


def _max_per_flow(routes: Path) -> int:
    """A bound on the vehicles any one flow can create (for naming the equipped ones)."""
    most = 0.0
    for f in ET.parse(routes).getroot().iter("flow"):
        span = float(f.get("end")) - float(f.get("begin", "0"))
        period = f.get("period", "")
        if period.startswith("exp("):
            rate = float(period[4:-1])
        elif f.get("vehsPerHour"):
            rate = float(f.get("vehsPerHour")) / 3600.0
        else:
            rate = 1.0 / float(period)
        most = max(most, rate * span)
    return math.ceil(most + 10.0 * math.sqrt(most) + 100)


def _mci(values) -> dict:
    m, lo, hi = mean_ci(values)
    return {"mean": m, "ci95": [lo, hi]}


def _pct(before: float, after: float) -> float:
    if not (math.isfinite(before) and math.isfinite(after)) or before == 0:
        return math.nan
    return (after - before) / before * 100.0


def _fmt(fmt: str, m: dict) -> str:
    if not math.isfinite(m["mean"]):
        return "—"
    if not math.isfinite(m["ci95"][0]):
        return fmt.format(m["mean"])
    return f"{fmt.format(m['mean'])}±{fmt.format((m['ci95'][1] - m['ci95'][0]) / 2)}"


def _parse_list(text: str, conv) -> list:
    out = []
    for part in text.split(","):
        part = part.strip()
        if conv is int and "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(conv(part))
    if not out:
        raise SystemExit(f"empty list: '{text}'")
    return out


def _finite(o):
    """JSON has no NaN/Infinity: non-finite numbers become null."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    return o


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(type(o))


if __name__ == "__main__":
    sys.exit(main())
