"""Simulator throughput: vehicle-steps per second (vehicles alive × ticks / wall seconds).

Three cases, each a baseline run (no advisory: the physics alone) and an advisory run (50 %
penetration: physics plus the advisory core calls every second):

* ``corridor``: the Zibo arterial at its design demand, with its cross streets and turning
  traffic (a few hundred vehicles alive);
* ``city_turning``: the 1190-intersection grid city as bundled (turning at every approach, two
  lanes with lane changes), counting only ticks with at least ``--min-alive`` vehicles alive
  (default 10,000);
* ``city_through``: the same city with everybody driving straight on (``demand.turning``
  removed): what turning and lane changes cost.

The physics tick is timed on its own (``tick``) and with the SimPy run around it (``run``).
Each case runs with the compiled tick (``sim/fastpath.py``, numba; the default where numba
is installed) and with the numpy tick it replaces, in the same process one after the other, so
that the speed-up is measured in one run; ``--kernel numpy`` runs the numpy tick only.  The
compiled kernels spread their loops over ``NUMBA_NUM_THREADS`` threads (default: all cores).

    python benchmarks/bench_sim.py [--json] [--city-duration 900] [--kernel numba|numpy]
        [--breakdown]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
import types
from pathlib import Path

import numpy as np

from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.sim import engine
from greenwave.sim.engine import Simulation

ROOT = Path(__file__).resolve().parent.parent
BREAKDOWN = "breakdown_ns_per_vehicle_step"


@contextlib.contextmanager
def _parallel_from(slots):
    saved = engine.PARALLEL_MIN_SLOTS
    engine.PARALLEL_MIN_SLOTS = slots
    try:
        yield
    finally:
        engine.PARALLEL_MIN_SLOTS = saved


# What ``--breakdown`` times apart: the compiled tick's kernels and the engine's steps around
# them (``_sort_compiled`` includes the ``sort_lanes`` kernel; ``_relabel``, the storage in
# lane order every 30 s, runs between steps and counts as the tick's; insertion and the advisory
# update run outside it).
_ENGINE_SECTIONS = (
    "_sync_signals", "_sort_compiled", "_apply_lane_changes_compiled", "_exit_compiled",
    "_relabel", "_insert", "_advise",
)  # fmt: skip


def _timed_sections(sim, acc, counting):
    """Wrap ``sim``'s kernels and engine steps so that their wall time adds up in ``acc``
    (name -> s) while ``counting[0]`` is true."""
    from greenwave.sim import fastpath

    def wrap(name, f):
        def timed(*args, **kw):
            if not counting[0]:
                return f(*args, **kw)
            t0 = time.perf_counter()
            out = f(*args, **kw)
            acc[name] = acc.get(name, 0.0) + time.perf_counter() - t0
            return out

        return timed

    def kernel_set(ks):
        return types.SimpleNamespace(**{k: wrap(k, f) for k, f in vars(ks).items()})

    serial, parallel = kernel_set(fastpath.SERIAL), kernel_set(fastpath.PARALLEL)
    # The serial helpers (insertion, sort_lanes, sync_plan_signals, refresh_*) are
    # timed inside the engine steps that call them; resort_lanes, called by the tick itself,
    # counts in its rest.
    timed_sets = {
        "SERIAL": serial,
        "kernels": lambda: parallel if fastpath.kernels() is fastpath.PARALLEL else serial,
    }
    sim._fastpath = types.SimpleNamespace(**(vars(fastpath) | timed_sets))
    for name in _ENGINE_SECTIONS:
        setattr(sim, name, wrap(name, getattr(sim, name)))


def measure(world, duration, advisory, min_alive=0, breakdown=False, **kw):
    sim = Simulation(
        world, seed=1, advisory=advisory, penetration=0.5, duration_s=duration, warmup_s=0.0, **kw
    )
    sections, counting = {}, [False]
    if breakdown and sim.kernel == "numba":
        _timed_sections(sim, sections, counting)
    if sim.kernel == "numba":
        # Compile (or load from numba's cache) outside the timed run, both kernel sets: the
        # parallel one runs only above PARALLEL_MIN_SLOTS vehicles, and the lane-change kernels
        # only once a driver looks for another lane (a cold cache compiles for a minute).
        for threshold in (0, engine.PARALLEL_MIN_SLOTS):
            with _parallel_from(threshold):
                Simulation(
                    world, seed=1, advisory=False, duration_s=120.0, warmup_s=0.0, **kw
                ).run()
    ticks = []  # (vehicles alive, wall s, vehicle-steps) per physics step or relabelling
    step = sim._step

    def timed(t):
        n = int(sim.alive[: sim.hw].sum())
        counting[0] = n >= min_alive  # until the next tick: its insertion and advice too
        t0 = time.perf_counter()
        step(t)
        ticks.append((n, time.perf_counter() - t0, n))

    sim._step = timed
    if sim.kernel == "numba":
        # The storage in lane order runs between steps (the engine's own step, so that a step
        # never renumbers slots); it is the tick's work and counts in its time.
        relabel = sim._relabel

        def timed_relabel():
            n = int(sim.alive[: sim.hw].sum())
            counting[0] = n >= min_alive
            t0 = time.perf_counter()
            relabel()
            ticks.append((n, time.perf_counter() - t0, 0))

        sim._relabel = timed_relabel
    res = sim.run()
    alive = np.array([a for a, _, _ in ticks])
    wall = np.array([w for _, w, _ in ticks])
    done = np.array([d for _, _, d in ticks])
    keep = alive >= min_alive
    steps = done[keep].sum()
    extra = {}
    if sections and steps:
        tick_s = wall[keep].sum()
        inside = {k: v for k, v in sections.items() if k not in ("_insert", "_advise")}
        extra[BREAKDOWN] = {
            **{k: v / steps * 1e9 for k, v in sorted(inside.items(), key=lambda kv: -kv[1])},
            "rest of the tick": (tick_s - sum(inside.values())) / steps * 1e9,
            **{k: sections[k] / steps * 1e9 for k in ("_insert", "_advise") if k in sections},
        }
    return {
        "run_steps_per_s": res.vehicle_steps / res.wall_s,
        "tick_steps_per_s": float(steps / wall[keep].sum()) if steps else 0.0,
        "mean_alive": float(alive[keep & (done > 0)].mean()) if steps else 0.0,
        "max_alive": int(alive.max()),
        "ns_per_vehicle_step": float(wall[keep].sum() / steps * 1e9) if steps else float("nan"),
        "wall_s": res.wall_s,
        **extra,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corridor-duration", type=float, default=1800.0)
    ap.add_argument("--city-duration", type=float, default=900.0)
    ap.add_argument("--min-alive", type=int, default=10_000)
    ap.add_argument(
        "--kernel",
        choices=("numba", "numpy"),
        default="numba",
        help="numba: the compiled tick, and the numpy tick for the speed-up (default); numpy: "
        "the numpy tick only",
    )
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the compiled tick's kernels and the engine's steps apart (ns per "
        "vehicle-step over the counted ticks; the insertion and the advisory update listed "
        "after the tick's rest)",
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.kernel == "numba":
        try:
            import numba  # noqa: F401
        except ImportError:
            ap.exit(2, "error: --kernel numba needs numba: pip install 'greenwave[fast]'\n")
    kernels = ("numba", "numpy") if a.kernel == "numba" else ("numpy",)
    corridor = World.build(load_scenario(ROOT / "scenarios" / "zibo_arterial.toml"))
    city_sc = load_scenario(ROOT / "scenarios" / "zibo_city.toml")
    city = World.build(city_sc)
    through = city_sc.model_copy(
        update={"demand": city_sc.demand.model_copy(update={"turning": None, "turns": []})}
    )
    city_through = World.build(through)
    rows = {}
    for name, world, dur, min_alive in (
        ("corridor", corridor, a.corridor_duration, 0),
        ("city_turning", city, a.city_duration, a.min_alive),
        ("city_through", city_through, a.city_duration, a.min_alive),
    ):
        for adv in (False, True):
            row = {}
            for k in kernels:
                m = measure(world, dur, adv, min_alive, breakdown=a.breakdown, kernel=k)
                row.update(m if k == kernels[0] else {f"numpy_{key}": x for key, x in m.items()})
            row["kernel"] = kernels[0]
            if len(kernels) == 2:
                row["tick_speedup"] = row["tick_steps_per_s"] / row["numpy_tick_steps_per_s"]
                row["run_speedup"] = row["run_steps_per_s"] / row["numpy_run_steps_per_s"]
            rows[f"{name}_{'advisory' if adv else 'baseline'}"] = row
    threads = os.environ.get("NUMBA_NUM_THREADS", str(os.cpu_count()))
    print(
        f"greenwave simulator throughput ({platform.machine()}, {os.cpu_count()} cpus, one "
        f"process; tick: {kernels[0]}" + (f", {threads} threads)" if kernels[0] == "numba" else ")")
    )
    both = len(kernels) == 2
    print(
        f"{'case':<22}{'alive (mean)':>13}{'tick Msteps/s':>15}{'ns/veh-step':>13}"
        f"{'run Msteps/s':>14}"
        + (f"{'numpy tick':>12}{'numpy run':>11}{'x tick':>8}" if both else "")
    )
    for k, r in rows.items():
        line = (
            f"{k:<22}{r['mean_alive']:>13.0f}{r['tick_steps_per_s'] / 1e6:>15.2f}"
            f"{r['ns_per_vehicle_step']:>13.0f}{r['run_steps_per_s'] / 1e6:>14.2f}"
        )
        if both:
            line += (
                f"{r['numpy_tick_steps_per_s'] / 1e6:>12.2f}"
                f"{r['numpy_run_steps_per_s'] / 1e6:>11.2f}{r['tick_speedup']:>8.1f}"
            )
        print(line)
    print(
        "tick = physics only (car following, lane changes, signals, fuel, measures); run = "
        "whole SimPy run incl. arrivals, signal events and (advisory) core calls; numpy = the "
        "reference tick, same motion"
    )
    if a.breakdown and kernels[0] == "numba":
        names = list(dict.fromkeys(n for r in rows.values() for n in r.get(BREAKDOWN, {})))
        print(f"\nns per vehicle-step (counted ticks), compiled tick\n{'section':<22}", end="")
        print(
            "".join(f"{k.replace('_baseline', '').replace('_advisory', '+adv'):>17}" for k in rows)
        )
        for n in names:
            vals = (r.get(BREAKDOWN, {}).get(n, float("nan")) for r in rows.values())
            # "_sort_compiled" -> "sort": the engine step's name without its kernel suffix.
            label = n.lstrip("_").removesuffix("_compiled")
            print(f"{label:<22}" + "".join(f"{x:>17.1f}" for x in vals))
    if a.json:
        print(json.dumps({k: v for k, v in rows.items()}))


if __name__ == "__main__":
    main()
