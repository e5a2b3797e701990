"""Greenwave's advice against SUMO's device.glosa on freshly generated corridors.

    python benchmarks/glosa_generated.py --corridors 1001-1008 [--sigma 0] [--seeds 1,2]
        [--band-kmh 18 55] [--max-speedfactor 1.1] [--duration 1800] [--drain 900]
        [--work DIR] [--json]

Every corridor is drawn by :mod:`greenwave.corridorgen` from its seed (SUMO net with internal
lanes, separate signal programs, Krauss vType with ``--sigma``; the matching greenwave
scenario) and run in SUMO, per seed, four ways on the same vehicles: no advice, device.glosa
with SUMO's defaults (range 100 m, min speed 5 m/s, max speed factor 1.1), device.glosa with
greenwave's range (500 m), and greenwave's controller (``drivers.policy = "plan"``, band
``--band-kmh``, ``advisory.max_speed_factor``).  Demand departs for ``--duration`` seconds and
the run continues for ``--drain`` more, so (below saturation) every trip is counted.

Corridor seeds are the train/test split: the policy's parameters were chosen on corridors 1–4
(seeds 1–2); figures are reported on corridors 1001 and up.  The table gives the per-corridor
mean change against no advice (paired per seed) and, over all corridors × seeds, the mean and
95 % CI of the paired change; ``--json`` prints them as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import tempfile
from pathlib import Path

import numpy as np

KINDS = ("baseline", "device", "device_500m", "greenwave")
METRICS = ("stops_per_veh", "fuel_l_per_100km", "travel_time_s")


def _run(job: dict) -> dict:
    from greenwave.network import World
    from greenwave.scenario import load_scenario
    from greenwave.sim.sumo_glosa import run_sumo, trip_summary

    d = Path(job["dir"])
    sc = load_scenario(d / "corridor.toml")
    lo, hi = job["band_kmh"]
    adv = sc.advisory.model_copy(update={"band_min_kmh": lo, "band_max_kmh": hi,
                                         "max_speed_factor": job["max_speedfactor"]})
    world = World.build(sc.model_copy(update={"advisory": adv}))
    kind = job["kind"]
    args = ["--device.emissions.probability", "1"]
    glosa = None
    if kind.startswith("device"):
        args += ["--device.glosa.probability", "1",
                 "--device.glosa.min-speed", f"{lo / 3.6:g}",
                 "--device.glosa.max-speedfactor", f"{job['max_speedfactor']:g}"]
        if kind == "device_500m":
            args += ["--device.glosa.range", f"{sc.advisory.range_m:g}"]
    elif kind == "greenwave":
        glosa = {"penetration": 1.0}
    r = run_sumo(d / "corridor.sumocfg", seed=job["seed"], end_s=job["end_s"], args=args,
                 world=world if glosa else None, glosa=glosa, tag=f"{kind}_{job['seed']}")
    s = trip_summary(r.trips, 0.0)
    out = {k: s[k] for k in ("vehicles", *METRICS)}
    out["red_crossings"] = r.controller.red_crossings if r.controller else 0
    out["teleports"] = r.log_text.count("Teleporting vehicle")
    out["collisions"] = r.log_text.count("Collision")
    return {**job, "result": out, "wall_s": r.wall_s}


def _ci(x):
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return float(x.mean()), None
    from greenwave.sim.measures import t975

    return float(x.mean()), float(t975(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corridors", default="1001-1008", help="corridor seeds, e.g. 1001-1008")
    ap.add_argument("--sigma", type=float, default=0.0, help="Krauss driver imperfection")
    ap.add_argument("--seeds", default="1,2", help="SUMO seeds, e.g. 1,2")
    ap.add_argument("--band-kmh", type=float, nargs=2, default=(18.0, 55.0),
                    help="greenwave's band (km/h); its floor is also the device's min-speed")
    ap.add_argument("--max-speedfactor", type=float, default=1.1)
    ap.add_argument("--duration", type=float, default=1800.0, help="seconds of departures")
    ap.add_argument("--drain", type=float, default=900.0, help="seconds run after them")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", help="folder for the corridors and SUMO outputs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from greenwave.cli import parse_list
    from greenwave.corridorgen import generate_corridor

    try:
        corridors = parse_list(a.corridors)
        seeds = parse_list(a.seeds)
    except ValueError as e:
        print(f"glosa_generated: {e}", file=sys.stderr)
        return 2
    kinds = a.kinds.split(",")
    if "baseline" not in kinds or not set(kinds) <= set(KINDS):
        print(f"glosa_generated: --kinds must include baseline, from {KINDS}", file=sys.stderr)
        return 2
    if not (0.0 <= a.sigma <= 1.0 and a.duration > 0 and a.drain >= 0):
        print("glosa_generated: --sigma in [0, 1], --duration > 0, --drain >= 0", file=sys.stderr)
        return 2
    work = Path(a.work or tempfile.mkdtemp(prefix="glosa_generated_"))
    jobs = []
    for c in corridors:
        d = work / f"corridor_{c}_sigma{a.sigma:g}"
        generate_corridor(int(c), d, sigma=a.sigma, duration_s=a.duration)
        for s in seeds:
            for k in kinds:
                jobs.append({"dir": str(d), "corridor": int(c), "seed": int(s), "kind": k,
                             "band_kmh": tuple(a.band_kmh), "end_s": a.duration + a.drain,
                             "max_speedfactor": a.max_speedfactor})
    with mp.get_context("spawn").Pool(max(1, a.jobs)) as pool:
        done = pool.map(_run, jobs, chunksize=1)
    res = {(j["corridor"], j["seed"], j["kind"]): j["result"] for j in done}
    change = {k: {m: [] for m in METRICS} for k in kinds if k != "baseline"}
    rows = []
    for c in corridors:
        row = {"corridor": int(c)}
        for k in change:
            for m in METRICS:
                vals = [100.0 * (res[(c, s, k)][m] / res[(c, s, "baseline")][m] - 1.0)
                        for s in seeds]
                change[k][m] += vals
                row[f"{k}:{m}"] = float(np.mean(vals))
        rows.append(row)
    summary = {k: {m: dict(zip(("mean_pct", "ci95"), _ci(v))) for m, v in ch.items()}
               for k, ch in change.items()}
    counters = {k: {c: int(sum(r[c] for (_, _, kk), r in res.items() if kk == k))
                    for c in ("red_crossings", "teleports", "collisions")} for k in kinds}
    lost = {k: int(sum(res[(c, s, "baseline")]["vehicles"] - res[(c, s, k)]["vehicles"]
                       for c in corridors for s in seeds)) for k in kinds}
    print(f"{'corridor':>8} " + " ".join(f"{k[:10] + ' ' + m[:5]:>17}" for k in change
                                          for m in METRICS))
    for row in rows:
        print(f"{row['corridor']:>8} " + " ".join(f"{row[f'{k}:{m}']:>+16.1f}%" for k in change
                                                  for m in METRICS))
    for k, ch in summary.items():
        print(f"{k:>12}: " + ", ".join(f"{m} {v['mean_pct']:+.1f} % ± {v['ci95'] or math.nan:.1f}"
                                       for m, v in ch.items()))
    print(f"counters: {counters}; trips fewer than baseline: {lost}")
    if a.json:
        print(json.dumps({"corridors": corridors, "seeds": seeds, "sigma": a.sigma,
                          "change_vs_baseline": summary, "per_corridor": rows,
                          "counters": counters, "trips_fewer_than_baseline": lost}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
