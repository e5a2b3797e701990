"""Plots of paired runs: time-space diagrams with signal states, and speed profiles.

km/h only here (the output edge).  Uses matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from greenwave.network import World
from greenwave.timing import AMBER, GREEN

from .engine import Routes, SimResult

STATE_COLOURS = {GREEN: "#2ca02c", AMBER: "#ffbf00", 0: "#d62728"}


def _signal_runs(world: World, group: int, t0: float, t1: float, step: float = 0.5):
    """(start, end, state) runs of one group's state over simulation time [t0, t1)."""
    ts = np.arange(t0, t1, step)
    st, _, _, _ = world.timing.state(np.full(ts.size, group), world.epoch_s + ts)
    change = np.flatnonzero(np.diff(st)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [ts.size]])
    return [(ts[a], ts[b - 1] + step, int(st[a])) for a, b in zip(starts, ends, strict=True)]


def _green_band(ax, world: World, entry_link: int, first_stop_m: float, t0: float, t1: float):
    """Shade the design green band of the corridor direction that starts at ``entry_link``.

    Uses the corridor's ``progression_kmh`` and :func:`greenwave.coordination.corridor_bands`;
    nothing is drawn for corridors without a design speed or without a band.
    """
    from greenwave.coordination import corridor_bands, corridor_timing

    net, sc = world.network, world.scenario
    for cid, _, links in net.corridors:
        if int(links[0]) != entry_link:
            continue
        base, tag = cid[:-2], cid[-1]
        model = next((c for c in sc.corridors if c.id == base), None)
        if model is None or model.progression_kmh is None:
            return
        speed = model.progression_kmh / 3.6
        band = corridor_bands(corridor_timing(world, base), speed)[
            "forward" if tag == "f" else "backward"
        ]
        if not band.bandwidth_s > 0:
            return
        c = band.cycle_s
        first = band.entry_s - world.epoch_s  # simulation-time frame, modulo the cycle
        n0 = np.floor((t0 - band.travel_s[-1] - first) / c)
        for n in np.arange(n0, n0 + (t1 - t0) / c + 3):
            a = first + n * c + band.travel_s
            y = first_stop_m + band.distance_m
            ax.fill_betweenx(
                y,
                a,
                a + band.bandwidth_s,
                color="#2ca02c",
                alpha=0.12,
                lw=0,
                label=f"green band {model.progression_kmh:g} km/h" if n == n0 else None,
            )
        return


def time_space(ax, world: World, res: SimResult, route: int, t0: float, t1: float, title: str):
    """Draw trajectories of one route's vehicles and the signal states at its stop lines."""
    routes = Routes.build(world.network, res.extra["entry_links"])
    _green_band(
        ax, world, int(res.extra["entry_links"][route]), float(routes.stop_pos_m[route, 0]), t0, t1
    )
    stops = routes.stop_pos_m[route]
    groups = routes.stop_group[route]
    for pos, g in zip(stops, groups, strict=True):
        if g < 0:
            continue
        for a, b, s in _signal_runs(world, int(g), t0, t1):
            ax.plot(
                [a, b], [pos, pos], color=STATE_COLOURS[s], lw=2.5, solid_capstyle="butt", zorder=3
            )
    tr = res.trajectories
    if tr is not None:
        m = (tr["route"] == route) & (tr["t"] >= t0) & (tr["t"] <= t1)
        order = np.lexsort((tr["t"][m], tr["vid"][m]))
        vid, t, x, eq = (
            tr["vid"][m][order],
            tr["t"][m][order],
            tr["pos"][m][order],
            tr["equipped"][m][order],
        )
        cuts = np.flatnonzero(np.diff(vid)) + 1
        for kind, colour, lw in ((False, "0.45", 0.6), (True, "#1f77b4", 0.8)):
            segs = [
                np.column_stack([tt, xx])
                for tt, xx, ee in zip(
                    np.split(t, cuts), np.split(x, cuts), np.split(eq, cuts), strict=True
                )
                if len(tt) > 1 and bool(ee[0]) == kind
            ]
            if segs:
                ax.add_collection(
                    LineCollection(
                        segs,
                        colors=colour,
                        linewidths=lw,
                        label="equipped" if kind else "not equipped",
                    )
                )
    ax.set_xlim(t0, t1)
    ax.set_ylim(0, routes.length_m[route])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance along route (m)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)


def speed_profiles(ax, res: SimResult, route: int, title: str, max_vehicles: int = 60):
    """Speed (km/h) against distance for a sample of one route's vehicles."""
    tr = res.trajectories
    if tr is None:
        return
    m = tr["route"] == route
    vids = np.unique(tr["vid"][m])
    rng = np.random.default_rng(0)
    pick = set(rng.choice(vids, min(max_vehicles, vids.size), replace=False).tolist())
    for v in pick:
        k = m & (tr["vid"] == v)
        colour = "#1f77b4" if tr["equipped"][k][0] else "0.5"
        ax.plot(tr["pos"][k], tr["v"][k] * 3.6, color=colour, lw=0.6, alpha=0.7)
    ax.set_xlabel("distance along route (m)")
    ax.set_ylabel("speed (km/h)")
    ax.set_title(title, fontsize=10)


def write_plots(
    world: World, base: SimResult, adv: SimResult, out_dir: Path, window_s: float = 900.0
) -> list[Path]:
    """Time-space diagrams and speed profiles of the recorded routes; returns written files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    t0 = base.warmup_s
    t1 = min(base.duration_s, t0 + window_s)
    routes = np.unique(base.trajectories["route"]) if base.trajectories is not None else []
    names = {r: world.network.link_ids[int(base.extra["entry_links"][r])] for r in routes}
    for r in routes:
        fig, axes = plt.subplots(1, 2, figsize=(15, 6), sharey=True)
        time_space(axes[0], world, base, int(r), t0, t1, f"baseline — route from {names[r]}")
        time_space(
            axes[1],
            world,
            adv,
            int(r),
            t0,
            t1,
            f"advisory — route from {names[r]} (blue: equipped)",
        )
        fig.tight_layout()
        p = out_dir / f"time_space_{names[r]}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
        fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
        speed_profiles(axes[0], base, int(r), f"baseline speed profiles — {names[r]}")
        speed_profiles(axes[1], adv, int(r), f"advisory speed profiles — {names[r]}")
        fig.tight_layout()
        p = out_dir / f"speed_profiles_{names[r]}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
    return written
