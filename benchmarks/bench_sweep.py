"""Sweep throughput: cases per minute on 1 and 2 local processes, and the Dask path's overhead.

A fixed small sweep — the bundled Zibo arterial, ``advisory.penetration`` = 0.25, 0.5, 0.75, 1
× 2 seeds, 600 s per run with a 120 s warm-up (8 cases, each a baseline and an advisory run) —
goes through :func:`sim.sweep.run_sweep` three times in one process: on a process pool of 1
worker, of 2 workers, and on a Dask ``LocalCluster`` of 2 single-threaded worker processes on
127.0.0.1 (``Client.get_executor()``, the ``--scheduler`` path).  Pools and the cluster are
started and warmed up (simulator imported in every worker) before the clock starts; their
start-up is reported apart.  Plots are off (they do not depend on the executor).  Repeats
are interleaved (1, 2, Dask, 1, 2, Dask, ...) and the best of each is kept.

Reported: cases per minute, the 2-worker scaling ratio (ideal 2), the mean compute time of one
case inside its worker and the worker-seconds per case spent on anything else (scheduling,
transfer, journal, the idle tail), and the Dask wall time against local processes with the same
number of workers.  The machine's load average is printed: on a shared machine the figures move
with it.

    python benchmarks/bench_sweep.py [--duration 600] [--seeds 2] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from greenwave.scenario import DEFAULT_SCENARIO
from greenwave.sim.sweep import build_spec, local_executor, read_results, run_sweep, warm_up

PENETRATIONS = [0.25, 0.5, 0.75, 1.0]
WARMUP_S = 120.0


def one_sweep(spec, executor, out: Path) -> tuple[float, float]:
    """Wall time of a fresh sweep, and the mean in-worker time of one case."""
    t0 = time.perf_counter()
    report = run_sweep(spec, executor, out, force=True, plots=False)
    wall = time.perf_counter() - t0
    assert report.failed == 0 and report.ran == report.total, report
    case_s = statistics.fmean(float(r["wall_s"]) for r in read_results(out / "results.csv"))
    return wall, case_s


def warm(executor, n: int) -> None:
    """Start every worker and import the simulator there."""
    pids = set()
    for _ in range(5):
        pids |= {f.result() for f in [executor.submit(warm_up, 1.0) for _ in range(n)]}
        if len(pids) >= n:
            return
    raise RuntimeError(f"only {len(pids)} of {n} workers came up")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600.0, help="simulated s per run")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="best of N sweeps per executor")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    spec = build_spec(
        DEFAULT_SCENARIO.read_text(encoding="utf-8"),
        {"advisory.penetration": PENETRATIONS, "simulation.warmup_s": [WARMUP_S]},
        seeds=range(1, a.seeds + 1),
        duration_s=a.duration,
        source=DEFAULT_SCENARIO.name,
    )
    n = len(spec.cases())
    load = os.getloadavg()
    executors = {}  # name → (label, workers, executor, start-up s)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for workers in (1, 2):
            t0 = time.perf_counter()
            ex = stack.enter_context(local_executor(workers))
            warm(ex, workers)
            executors[f"processes_{workers}"] = ("processes", workers, ex, time.perf_counter() - t0)
        if not a.no_dask:
            from dask.distributed import Client, LocalCluster

            t0 = time.perf_counter()
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster, set_as_default=False))
            ex = client.get_executor(pure=False)
            warm(ex, 2)
            executors["dask_2"] = ("dask LocalCluster", 2, ex, time.perf_counter() - t0)
        # Interleaved repeats: a load change on a shared machine hits every executor alike.
        walls = {k: [] for k in executors}
        case_s = {k: [] for k in executors}
        for _ in range(a.repeat):
            for k, (_, _, ex, _) in executors.items():
                w, c = one_sweep(spec, ex, Path(tmp) / k)
                walls[k].append(w)
                case_s[k].append(c)
    results = {
        k: {
            "executor": label,
            "workers": workers,
            "wall_s": min(walls[k]),
            "case_s": case_s[k][walls[k].index(min(walls[k]))],
            "startup_s": start,
        }
        for k, (label, workers, _, start) in executors.items()
    }

    for r in results.values():
        r["cases_per_min"] = n / r["wall_s"] * 60.0
        # worker-seconds not spent computing cases: scheduling, transfer, journal, idle tail
        r["overhead_s_per_case"] = r["wall_s"] * r["workers"] / n - r["case_s"]
    one, two = results["processes_1"], results["processes_2"]
    fig = {
        "cases": n,
        "duration_s": a.duration,
        "seeds": a.seeds,
        "repeat": a.repeat,
        "runs": results,
        "scaling_ratio_2_vs_1": two["cases_per_min"] / one["cases_per_min"],
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python "
        f"{platform.python_version()}",
        "loadavg_1min_at_start": load[0],
    }
    if "dask_2" in results:
        fig["dask_overhead_pct"] = (results["dask_2"]["wall_s"] / two["wall_s"] - 1.0) * 100.0

    print(
        f"sweep: {DEFAULT_SCENARIO.name}, advisory.penetration × {len(PENETRATIONS)} values × "
        f"{a.seeds} seeds = {n} cases, {a.duration:g} s per run, best of {a.repeat}"
    )
    print(f"machine: {fig['machine']}; load average at start {load[0]:.2f}")
    print(
        f"{'executor':<19}{'workers':>8}{'wall s':>8}{'cases/min':>11}{'case s':>8}"
        f"{'overhead s/case':>17}{'start-up s':>12}"
    )
    for r in results.values():
        print(
            f"{r['executor']:<19}{r['workers']:>8}{r['wall_s']:>8.1f}"
            f"{r['cases_per_min']:>11.1f}{r['case_s']:>8.2f}{r['overhead_s_per_case']:>17.3f}"
            f"{r['startup_s']:>12.1f}"
        )
    print(
        "(case s: mean compute time of one case in its worker; overhead: wall × workers / "
        "cases - case s)"
    )
    print(f"scaling 2 vs 1 worker: {fig['scaling_ratio_2_vs_1']:.2f}× (ideal 2.00)")
    if "dask_overhead_pct" in fig:
        print(
            f"Dask LocalCluster vs local processes (2 workers): "
            f"{fig['dask_overhead_pct']:+.1f} % wall time"
        )
    if a.json:
        print(json.dumps(fig))


if __name__ == "__main__":
    main()
