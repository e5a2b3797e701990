"""Throughput of the vectorised speed-band core.

Prints vehicle×intersection pairs per second of :func:`greenwave.bands.speed_bands` for N
vehicles × M stop lines ahead × K green windows on the grid city, next to a plain numpy
streaming operation over the same number of bytes the call reads and writes (the machine's
memory-bandwidth bound), and their ratio.  Also times the whole advisory call (path lookup on
the network + bands).  Ratios are measured in one run; each figure is the best of ``--repeat``.

    python benchmarks/bench_core.py [--vehicles 100000] [--ahead 4] [--windows 3] [--json]
                                    [--band-kmh 35 50] [--profile]

``--profile`` adds a breakdown of ``speed_bands`` by stage (the helpers of
:func:`greenwave.bands._block`, timed by wrapping them), best of ``--repeat`` per stage.  The
best CPU time of the call (``time.process_time``) is printed too: on a shared machine it is
steadier than wall time, which counts the time the process waits for a core.  A wide band
(e.g. ``--band-kmh 20 60``) makes the call look at several windows per stop line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import greenwave.bands as bands_mod
from greenwave.advice import advise
from greenwave.bands import BandParams, speed_bands
from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.units import kmh_to_ms

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn, repeat, clock=time.perf_counter):
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


# Stages of greenwave.bands._block, in call order.
STAGES = ("_inputs", "_arrival_range", "_windows", "_window_bands", "_select", "_joint_bands")


def profile_stages(call, repeat):
    """Seconds per stage of one ``call()`` (best of ``repeat``), plus ``total``.

    Wraps the stage helpers of :mod:`greenwave.bands` with timers for the duration of the
    measurement; ``other`` is what the stages do not cover (splitting into blocks, the
    unsignalised-stop-line patch).
    """
    acc = dict.fromkeys(STAGES, 0.0)
    originals = {name: getattr(bands_mod, name) for name in STAGES}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[name] += time.perf_counter() - t0

        return wrapper

    best = dict.fromkeys((*STAGES, "total"), float("inf"))
    try:
        for name, fn in originals.items():
            setattr(bands_mod, name, timed(name, fn))
        for _ in range(repeat):
            for name in STAGES:
                acc[name] = 0.0
            t0 = time.perf_counter()
            call()
            total = time.perf_counter() - t0
            for name in STAGES:
                best[name] = min(best[name], acc[name])
            best["total"] = min(best["total"], total)
    finally:
        for name, fn in originals.items():
            setattr(bands_mod, name, fn)
    best["other"] = max(best["total"] - sum(best[name] for name in STAGES), 0.0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=100_000)
    ap.add_argument("--ahead", type=int, default=4)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--band-kmh",
        type=float,
        nargs=2,
        default=(35.0, 50.0),
        metavar=("MIN", "MAX"),
        help="advisory band (km/h)",
    )
    ap.add_argument("--profile", action="store_true", help="time the stages of speed_bands")
    a = ap.parse_args(argv)

    world = World.build(load_scenario(ROOT / "scenarios" / "zibo_city.toml"))
    net = world.network
    rng = np.random.default_rng(a.seed)
    n, m = a.vehicles, a.ahead
    link = rng.choice(np.flatnonzero(net.link_group >= 0), n)
    offset = rng.uniform(0, 1, n) * net.link_length_m[link]
    speed = kmh_to_ms(rng.uniform(0, 60, n))
    t = world.epoch_s + rng.uniform(0, 3600, n)
    params = BandParams(
        band_min_ms=kmh_to_ms(a.band_kmh[0]),
        band_max_ms=kmh_to_ms(a.band_kmh[1]),
        n_windows=a.windows,
    )
    dist, group, limit, _ = net.path_ahead(link, offset, m)

    def bands():
        return speed_bands(dist, speed, t, group, limit, world.timing, params)

    def full():
        return advise(net, world.timing, params, link, offset, speed, t, m)

    res = bands()
    feasible = float(res.feasible[:, 0].mean())
    t_bands = best_of(bands, a.repeat)
    cpu_bands = best_of(bands, a.repeat, time.process_time)
    t_full = best_of(full, a.repeat)

    # Streaming bound: read and write as many bytes as the call's inputs and outputs.
    in_bytes = dist.nbytes + group.nbytes + limit.nbytes + speed.nbytes + t.nbytes
    out_bytes = sum(getattr(res, f).nbytes for f in res.__dataclass_fields__)
    x = np.ones((in_bytes + out_bytes) // 16)
    y = np.empty_like(x)
    t_stream = best_of(lambda: np.multiply(x, 1.0001, out=y), a.repeat)

    pairs = n * m
    fig = {
        "vehicles": n,
        "ahead": m,
        "windows": a.windows,
        "pairs_per_s": pairs / t_bands,
        "advise_pairs_per_s": pairs / t_full,
        "stream_pairs_per_s": pairs / t_stream,
        "ratio_to_stream": (pairs / t_bands) / (pairs / t_stream),
        "bands_ms": t_bands * 1e3,
        "advise_ms": t_full * 1e3,
        "stream_ms": t_stream * 1e3,
        "bands_cpu_ms": cpu_bands * 1e3,
        "band_kmh": list(a.band_kmh),
        "city_batch_410k_ms": t_bands * 410_000 / n * 1e3,
        "feasible_share": feasible,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, numpy {np.__version__}",
    }
    print(
        f"speed_bands: N={n} vehicles × M={m} stop lines × K={a.windows} windows, band "
        f"{a.band_kmh[0]:g}–{a.band_kmh[1]:g} km/h (grid city, {len(net.intersection_ids)} "
        f"intersections), best of {a.repeat}"
    )
    rows = [
        ("speed_bands (core)", t_bands),
        ("speed_bands (core), CPU time", cpu_bands),
        ("advise (path lookup + bands)", t_full),
        ("numpy streaming, same bytes", t_stream),
    ]
    print(f"{'':<34}{'ms':>9}{'Mpairs/s':>11}")
    for label, sec in rows:
        print(f"{label:<34}{sec * 1e3:>9.1f}{pairs / sec / 1e6:>11.2f}")
    print(
        f"core / streaming rate: {fig['ratio_to_stream']:.3f}; "
        f"410k vehicles × {m} ahead ≈ {fig['city_batch_410k_ms']:.0f} ms on one core "
        f"(goal < 100 ms = 16.4 Mpairs/s)"
    )
    if a.profile:
        stages = profile_stages(bands, a.repeat)
        fig["stages_ms"] = {k: v * 1e3 for k, v in stages.items()}
        print(f"stages of speed_bands (best of {a.repeat} each)")
        print(f"{'':<34}{'ms':>9}{'ns/pair':>11}")
        for name in (*STAGES, "other", "total"):
            sec = stages[name]
            print(f"  {name:<32}{sec * 1e3:>9.1f}{sec / pairs * 1e9:>11.1f}")
    if a.json:
        print(json.dumps(fig))


if __name__ == "__main__":
    main()
