"""Greenwave's advice against SUMO's device.glosa on freshly generated corridors.

    python benchmarks/glosa_generated.py --corridors 1001-1008 [--sigma 0] [--seeds 1,2]
        [--penetration 1.0] [--min-speed-kmh 18] [--max-speedfactor 1.1] [--device-range 500]
        [--duration 1800] [--drain 1800] [--work DIR] [--json]

Every corridor is drawn by :mod:`greenwave.sumo.corridorgen` from its seed (SUMO net with internal
lanes, separate signal programs, Krauss vType with ``--sigma``; the matching greenwave
scenario) and compared by ``benchmarks/glosa_vs_sumo.py --net`` (no advice, device.glosa and
greenwave on the same vehicles, every trip drained; see that script for the freedom given to
both).  This script only loops over corridors and pools the paired per-seed changes of all
corridors × seeds into one mean and 95 % CI per measure.

Corridor seeds are the train/test split: the advice's parameters are chosen on corridors 1–4;
report figures on corridors 1001 and up.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

PAIRS = ("greenwave_vs_baseline_pct", "device_vs_baseline_pct", "greenwave_vs_device_pct")
MEASURES = ("stops_per_veh", "fuel_l_per_100km", "travel_time_s")
RUNS = ("baseline", "device_glosa", "greenwave")
COUNTS = ("red_light_crossings", "collisions", "teleports", "unfinished")


def _vs_sumo():
    # Imported by name from this folder, so that its worker processes can find its functions.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import glosa_vs_sumo

    return glosa_vs_sumo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corridors", default="1001-1008", help="corridor seeds, e.g. 1001-1008")
    ap.add_argument("--sigma", type=float, default=0.0, help="Krauss driver imperfection")
    ap.add_argument("--seeds", default="1,2", help="SUMO seeds, e.g. 1,2")
    ap.add_argument("--penetration", default="1.0", help="share of equipped vehicles")
    ap.add_argument("--min-speed-kmh", default="18", help="slowest advised speed, both")
    ap.add_argument("--max-speedfactor", default="1.1", help="fastest, × the limit, both")
    ap.add_argument("--device-range", default="500", help="device.glosa.range (m)")
    ap.add_argument("--duration", type=float, default=1800.0, help="seconds of departures")
    ap.add_argument("--drain", default="1800", help="seconds SUMO may run after them")
    ap.add_argument("--jobs", default="2", help="SUMO processes")
    ap.add_argument("--work", type=Path, help="folder for the corridors and SUMO outputs")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of greenwave's arm, passed to glosa_vs_sumo.py (repeatable)",
    )
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    a = ap.parse_args(argv)
    from greenwave.cli import parse_list
    from greenwave.sim.measures import mean_ci
    from greenwave.sumo.corridorgen import generate_corridor

    try:
        corridors = parse_list(a.corridors)
    except ValueError as e:
        print(f"glosa_generated: --corridors: {e}", file=sys.stderr)
        return 2
    if not (0.0 <= a.sigma <= 1.0 and a.duration > 0):
        print("glosa_generated: --sigma must be in [0, 1] and --duration > 0", file=sys.stderr)
        return 2
    vs = _vs_sumo()
    work = a.work or Path(tempfile.mkdtemp(prefix="glosa_generated_"))
    per_corridor = {}
    for c in corridors:
        d = work / f"corridor_{c}_sigma{a.sigma:g}"
        generate_corridor(int(c), d, sigma=a.sigma, duration_s=a.duration)
        args = [
            "--net",
            str(d / "corridor.net.xml"),
            "--routes",
            str(d / "corridor.rou.xml"),
            "--additional",
            str(d / "corridor.tll.add.xml"),
            "--scenario",
            str(d / "corridor.toml"),
            "--seeds",
            a.seeds,
            "--penetration",
            a.penetration,
            "--min-speed-kmh",
            a.min_speed_kmh,
            "--max-speedfactor",
            a.max_speedfactor,
            "--device-range",
            a.device_range,
            "--drain",
            a.drain,
            "--jobs",
            a.jobs,
            "--work",
            str(d / "runs"),
            "--json",
            *(f"--set={kv}" for kv in a.set),
        ]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = vs.main(args)
        text = out.getvalue()
        if rc != 0:
            print(text, end="")
            print(f"glosa_generated: corridor {c}: glosa_vs_sumo exited {rc}", file=sys.stderr)
            return rc
        per_corridor[int(c)] = json.loads(text.strip().splitlines()[-1])
        print(f"corridor {c} done ({per_corridor[int(c)]['run_time_s']:.0f} s)", file=sys.stderr)

    pooled = {}
    for pair in PAIRS:
        pooled[pair] = {}
        for m in MEASURES:
            vals = [v for r in per_corridor.values() for v in r[pair][m]["per_seed"]]
            mean, lo, hi = mean_ci(vals)
            ci = [lo, hi] if math.isfinite(lo) else None
            pooled[pair][m] = {"mean_pct": mean, "ci95": ci, "n": len(vals)}
    counts = {
        run: {k: int(sum(r[run][k]["total"] for r in per_corridor.values())) for k in COUNTS}
        for run in RUNS
    }

    print(
        f"change in %, mean over seeds {a.seeds} (stops / fuel / travel time); sigma "
        f"{a.sigma:g}, penetration {a.penetration}, device range {a.device_range} m"
    )
    print(f"{'corridor':>8}" + "".join(f"{p.replace('_pct', ''):>32}" for p in PAIRS))
    for c, r in per_corridor.items():
        cells = ["/".join(f"{np.mean(r[p][m]['per_seed']):+.1f}" for m in MEASURES) for p in PAIRS]
        print(f"{c:>8}" + "".join(f"{x:>32}" for x in cells))
    for p in PAIRS:
        print(
            f"{p}: "
            + "; ".join(
                f"{m} {v['mean_pct']:+.1f}"
                + (f" [{v['ci95'][0]:+.1f}, {v['ci95'][1]:+.1f}]" if v["ci95"] else "")
                for m, v in pooled[p].items()
            )
        )
    print(f"counters (all corridors and seeds): {counts}")
    if a.json:
        print(
            json.dumps(
                {
                    "corridors": corridors,
                    "seeds": a.seeds,
                    "sigma": a.sigma,
                    "penetration": a.penetration,
                    "device_range_m": a.device_range,
                    "min_speed_kmh": float(a.min_speed_kmh),
                    "max_speedfactor": float(a.max_speedfactor),
                    "duration_s": a.duration,
                    "drain_s": float(a.drain),
                    "pooled": pooled,
                    "counters": counts,
                    "per_corridor": {c: {p: r[p] for p in PAIRS} for c, r in per_corridor.items()},
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
