"""Does greenwave's own simulator agree with SUMO on what the advice changes?

    python benchmarks/glosa_generated.py --corridors 1001-1008 --seeds 1,2,3 --json > sumo.json
    python benchmarks/advice_agreement.py --sumo-json sumo.json [--seeds 1,2,3] [--json]

For every corridor of a ``glosa_generated.py --json`` run (its last line), the corridor is drawn
again from its seed (:func:`greenwave.sumo.corridorgen.generate_corridor`, plain files only) and
greenwave's simulator runs it without advice and with greenwave's advice for every vehicle: the
drivers of the SUMO route file (its vType mapped as ``greenwave import-sumo`` maps it: Krauss,
sigma, a, b, tau, minGap, speed factors), SUMO's step length (``corridor.sumocfg``; Krauss's
dynamics depend on it), HBEFA3 fuel as SUMO computes it, the same matched
freedom and policy as the SUMO run (``glosa_vs_sumo._with_freedom``), the same departure
horizon, every trip drained and counted.  The advice's effect on stops, fuel and travel time
(paired per seed, mean in %) is printed beside SUMO's, with the difference in percentage points
and the issue's agreement bounds (stops within 10 points, fuel within 3).

The seeds of the two simulators are not the same random numbers (SUMO's and greenwave's
arrival streams differ); both are means over their seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from greenwave.cli import parse_list, print_json
from greenwave.network import World
from greenwave.scenario import DriversModel, load_scenario
from greenwave.sim.compare import compare

MEASURES = ("stops_per_veh", "fuel_l_per_100km", "travel_time_s")
BOUNDS_PP = {"stops_per_veh": 10.0, "fuel_l_per_100km": 3.0}


def route_drivers(routes: Path, edge_lanes: dict[str, int]) -> tuple[dict, dict, list[str]]:
    """([drivers], [simulation] settings, notes) from a SUMO route file, as the importer maps
    them."""
    from greenwave.sumo.demand import drivers_from_vtypes, read_route_files

    demand = read_route_files([routes], edge_lanes)
    notes: list[str] = []
    drivers, sim = drivers_from_vtypes(demand.streams, demand.vtypes, demand.vtype_dists, notes)
    return drivers, sim, notes


def own_effect(folder: Path, seeds: list[int], sumo: dict) -> dict:
    """Greenwave's simulator on one generated corridor: the advice's paired % change."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import glosa_vs_sumo

    sc = load_scenario(folder / "corridor.toml")
    edges = ET.parse(folder / "corridor.edg.xml").getroot().iter("edge")
    lanes = {e.get("id", ""): int(e.get("numLanes", "1")) for e in edges}
    drivers, sim, _notes = route_drivers(folder / "corridor.rou.xml", lanes)
    drv = DriversModel.model_validate({**sc.drivers.model_dump(), **drivers})
    # SUMO's step (corridor.sumocfg): Krauss's dynamics depend on it.
    step = ET.parse(folder / "corridor.sumocfg").getroot().find("time/step-length")
    dt = float(step.get("value")) if step is not None else 1.0
    if drivers.get("car_following") != "krauss":
        dt = min(dt, 0.5)
    simulation = sc.simulation.model_copy(update={**sim, "warmup_s": 0.0, "dt_s": dt})
    sc = sc.model_copy(update={"drivers": drv, "simulation": simulation})
    args = SimpleNamespace(net_scenario=folder / "corridor.toml", net=None)
    sc, _band, _limit = glosa_vs_sumo._with_freedom(
        sc, sumo["min_speed_kmh"], sumo["max_speedfactor"], args
    )
    world = World.build(sc)
    with contextlib.redirect_stderr(io.StringIO()):
        r = compare(world, seeds, duration_s=sumo["duration_s"], drain_s=sumo["drain_s"], keep=True)
    runs = [res for _seed, b, a in r["_runs"] for res in (b, a)]
    return {
        "change_pct": {m: float(r["change_pct"][m]) for m in MEASURES},
        # Both arms, every seed (greenwave's simulator never teleports a vehicle).
        "red_light_crossings": sum(res.red_violations for res in runs),
        "collisions": sum(res.collisions for res in runs),
        "car_following": drv.car_following,
        "sigma": drv.sigma,
        "fuel_model": world.scenario.simulation.fuel_model,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sumo-json", type=Path, required=True, help="output of glosa_generated.py --json"
    )
    ap.add_argument("--seeds", default="1,2,3", help="greenwave seeds, e.g. 1,2,3")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    a = ap.parse_args(argv)
    try:
        seeds = parse_list(a.seeds, int)
    except ValueError:
        ap.error(f"--seeds: {a.seeds!r} is not a list of integers")
    try:
        lines = a.sumo_json.read_text(encoding="utf-8").strip().splitlines()
        ref = json.loads(lines[-1])
        corridors = ref["per_corridor"]
    except (OSError, ValueError, KeyError, IndexError) as e:
        ap.error(f"--sumo-json {a.sumo_json}: not the output of glosa_generated.py --json ({e})")
    if float(ref.get("penetration", 1.0)) != 1.0:
        ap.error("--sumo-json: compare at 100 % penetration (the own arm equips everyone)")
    sumo_opts = {
        "min_speed_kmh": float(ref.get("min_speed_kmh", 18.0)),
        "max_speedfactor": float(ref.get("max_speedfactor", 1.1)),
        "duration_s": float(ref.get("duration_s", 1800.0)),
        "drain_s": float(ref.get("drain_s", 1800.0)),
    }
    from greenwave.sumo.corridorgen import generate_corridor

    rows = {}
    with tempfile.TemporaryDirectory(prefix="gw_agree_") as tmp:
        for cid, v in corridors.items():
            folder = Path(tmp) / f"c{cid}"
            generate_corridor(
                int(cid),
                folder,
                sigma=float(ref["sigma"]),
                duration_s=sumo_opts["duration_s"],
                build_net=False,
            )
            own = own_effect(folder, seeds, sumo_opts)
            sumo = {m: float(v["greenwave_vs_baseline_pct"][m]["mean"]) for m in MEASURES}
            diff = {m: own["change_pct"][m] - sumo[m] for m in MEASURES}
            rows[cid] = {
                "sumo_pct": sumo,
                "greenwave_sim_pct": own["change_pct"],
                "difference_pp": diff,
                "within": {m: abs(diff[m]) <= b for m, b in BOUNDS_PP.items()},
                "greenwave_sim_counters": {
                    k: own[k] for k in ("red_light_crossings", "collisions")
                },
            }
            print(
                f"corridor {cid}: "
                + "; ".join(
                    f"{m} SUMO {sumo[m]:+.1f} %, greenwave {own['change_pct'][m]:+.1f} % "
                    f"({diff[m]:+.1f} pp)"
                    for m in MEASURES
                ),
                flush=True,
            )
    within = {m: sum(r["within"][m] for r in rows.values()) for m in BOUNDS_PP}
    mean_abs = {
        m: float(np.mean([abs(r["difference_pp"][m]) for r in rows.values()])) for m in MEASURES
    }
    counters = {
        k: sum(r["greenwave_sim_counters"][k] for r in rows.values())
        for k in ("red_light_crossings", "collisions")
    }
    print(
        f"agreement over {len(rows)} corridors (sigma {ref['sigma']:g}; greenwave seeds "
        f"{a.seeds}, SUMO seeds {ref.get('seeds')}): stops within 10 pp on "
        f"{within['stops_per_veh']}, fuel within 3 pp on {within['fuel_l_per_100km']}; mean "
        f"|difference| stops {mean_abs['stops_per_veh']:.1f} pp, fuel "
        f"{mean_abs['fuel_l_per_100km']:.1f} pp, travel time {mean_abs['travel_time_s']:.1f} pp; "
        f"greenwave's runs: {counters['red_light_crossings']} red-light crossings, "
        f"{counters['collisions']} collisions, no teleports"
    )
    if a.json:
        print_json(
            {
                "sigma": ref["sigma"],
                "seeds": seeds,
                "sumo_seeds": ref.get("seeds"),
                "per_corridor": rows,
                "within": within,
                "corridors": len(rows),
                "mean_abs_difference_pp": mean_abs,
                "greenwave_sim_counters": counters,
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
