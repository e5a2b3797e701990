"""Time–space diagrams of a coordination plan: both green bands of every arterial.

``greenwave optimize --plots DIR`` (through the ``greenwave.plots`` entry point, so the core
never imports the simulator) calls :func:`write_band_diagrams`: one PNG per arterial of a
retimed corridor (:class:`greenwave.maxband.MaxbandResult`) or network
(:class:`greenwave.netband.NetworkResult`).  Distance along the arterial (its forward direction
upwards) against time since the scenario's start; at every stop line the state of the signal
group serving each direction; the forward and the backward through band of the plan as
parallelograms: at stop line ``k`` of a direction the band occupies
``[start_s[k] + n·C, start_s[k] + n·C + bandwidth_s)`` (:class:`greenwave.coordination.Band`,
absolute time modulo the cycle), and between stop lines its edges run at the program's
progression speed of that link.  No vehicles: this is the plan, not a simulation.

Colours, fonts, titles and names come from :mod:`sim.plotstyle`.  SI inside, km/h only in the
legend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from greenwave.coordination import Band, corridor_timing
from greenwave.network import World
from greenwave.timing import AMBER, GREEN, RED
from greenwave.units import ms_to_kmh

from . import plotstyle as ps

DIRECTIONS = ("forward", "backward")
BAND_COLOURS = {
    "forward": (ps.DESIGN_BAND_FILL, ps.DESIGN_BAND_EDGE),
    # The backward band in the house blue (equipped vehicles elsewhere), so the two bands stay
    # apart where they cross.
    "backward": (ps.EQUIPPED, "#0d3d66"),
}
BAND_ALPHA = 0.28
SIGNAL_STEP_S = 0.5
"""Sampling step of the signal bars (s); state changes fall on whole or half seconds."""
EXTRA_CYCLES = 2.0
"""The window covers the longest travel along the arterial plus this many cycles, so that at
least one band of each direction crosses it from end to end."""


@dataclass(frozen=True)
class ArterialBands:
    """One arterial of a plan, as the diagram needs it.

    Attributes
    ----------
    id, name : str
        Corridor id and the scenario's name for it.
    cycle_s : float
    bands : dict[str, Band]
        Per direction ('forward', 'backward') the through band on the written plans at the
        program's progression speeds (its ``travel_s`` (K,) is the time from the direction's
        first stop line, ``start_s`` (K,) the band's start at each stop line, absolute time
        modulo ``cycle_s``).
    speed_ms : dict[str, np.ndarray]
        Per direction (K−1,) progression speed of each link (m/s; NaN where not optimised).
    stop_pos_m : dict[str, np.ndarray]
        Per direction (K,) position of each stop line on the diagram's axis: distance from the
        forward direction's first stop line (m), so backward positions decrease.
    stop_group : dict[str, np.ndarray]
        Per direction (K,) the signal group index (``world.timing``) of each stop line.
    entry_link : dict[str, int]
        Per direction the entry link (names the compass direction).
    optimised : dict[str, bool]
        Whether the program optimised that direction's band (False: measured at the target
        speed, e.g. the backward band of a one-way plan).
    """

    id: str
    name: str
    cycle_s: float
    bands: dict[str, Band]
    speed_ms: dict[str, np.ndarray]
    stop_pos_m: dict[str, np.ndarray]
    stop_group: dict[str, np.ndarray]
    entry_link: dict[str, int]
    optimised: dict[str, bool]
    stop_names: list[str]  # (I,) intersection names (or ids) in forward order
    intersection_pos_m: np.ndarray  # (I,) their positions on the axis


def plan_arterials(res, world: World | None = None) -> list[ArterialBands]:
    """The arterials of a corridor or network plan with their bands (see the module docstring).

    ``res`` is a :class:`~greenwave.maxband.MaxbandResult` (one arterial) or a
    :class:`~greenwave.netband.NetworkResult` (all of them); ``world`` the built
    ``res.scenario`` (built here when not given).
    """
    world = world or World.build(res.scenario)
    if hasattr(res, "directions"):  # MaxbandResult
        per = [
            (
                res.corridor.id,
                {k: d.band for k, d in res.directions.items()},
                {k: np.asarray(d.speed_ms, dtype=float) for k, d in res.directions.items()},
            )
        ]
    else:  # NetworkResult
        per = [
            (a.id, dict(a.band), {k: np.asarray(v, dtype=float) for k, v in a.speed_ms.items()})
            for a in res.arterials
        ]
    net = world.network
    chains = {cid: links for cid, _, links in net.corridors}
    out = []
    for cid, bands, speeds in per:
        ct = corridor_timing(world, cid)
        fwd = ct.forward
        pos_of = np.empty(len(ct.intersection_ids))
        pos_of[fwd.stops] = fwd.distance_m
        pos, groups, entry = {}, {}, {}
        for name, tag in (("forward", "_f"), ("backward", "_b")):
            ap = ct.approaches.get(name)
            if ap is None or name not in bands:
                continue
            links = chains[cid + tag]
            pos[name] = pos_of[ap.stops]
            groups[name] = net.link_group[links[:-1]].astype(np.int64)
            entry[name] = int(links[0])
        names = [
            ps.plot_label(net.intersection_names[net.intersection_ids.index(i)], i)
            for i in ct.intersection_ids
        ]
        out.append(
            ArterialBands(
                id=cid,
                name=ct.name,
                cycle_s=float(ct.cycle_s),
                bands={k: bands[k] for k in pos},
                speed_ms={k: speeds[k] for k in pos},
                stop_pos_m=pos,
                stop_group=groups,
                entry_link=entry,
                optimised={k: bool(np.all(np.isfinite(speeds[k]))) for k in pos},
                stop_names=names,
                intersection_pos_m=pos_of,
            )
        )
    return out


def band_polygons(
    band: Band, stop_pos_m: np.ndarray, epoch_s: float, t0: float, t1: float
) -> list[np.ndarray]:
    """The band's parallelograms that meet the window ``[t0, t1]`` (s since the scenario start).

    Each is a (2K, 2) array of ``(time_s, position_m)`` vertices: the band's leading edge at
    stop lines ``0..K−1`` (``start_s[k] + n·C``), then its trailing edge back from ``K−1`` to
    ``0`` (``+ bandwidth_s``), for every whole ``n`` whose band is inside the window somewhere.
    Empty when the direction has no band.
    """
    if not band.bandwidth_s > 0:
        return []
    c = band.cycle_s
    travel = np.asarray(band.start_s, dtype=float) - band.entry_s  # (K,) from the first stop
    phase = float(np.mod(band.entry_s - epoch_s, c))  # an entry in scenario time
    b = band.bandwidth_s
    n_lo = np.floor((t0 - b - travel.max() - phase) / c)
    n_hi = np.ceil((t1 - phase - travel.min()) / c)
    out = []
    for n in np.arange(n_lo, n_hi + 1):
        lead = phase + n * c + travel
        if lead.min() > t1 or lead.max() + b < t0:
            continue
        xs = np.concatenate([lead, (lead + b)[::-1]])
        ys = np.concatenate([stop_pos_m, stop_pos_m[::-1]])
        out.append(np.column_stack([xs, ys]))
    return out


def signal_runs(world: World, group: int, t0: float, t1: float) -> list[tuple[float, float, int]]:
    """``(start, end, state)`` runs of one group's state over ``[t0, t1)`` (s since the start)."""
    ts = np.arange(t0, t1, SIGNAL_STEP_S)
    if ts.size == 0:
        return []
    st = world.timing.state(np.full(ts.size, group), world.epoch_s + ts)[0]
    change = np.flatnonzero(np.diff(st)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [ts.size]])
    return [
        (float(ts[a]), float(ts[b - 1] + SIGNAL_STEP_S), int(st[a]))
        for a, b in zip(starts, ends, strict=True)
    ]


def _speed_text(speed_ms: np.ndarray) -> str:
    kmh = ms_to_kmh(np.asarray(speed_ms, dtype=float))
    if not kmh.size or not np.all(np.isfinite(kmh)):
        return ""
    lo, hi = float(kmh.min()), float(kmh.max())
    return f"{lo:.0f} km/h" if hi - lo < 0.5 else f"{lo:.0f}–{hi:.0f} km/h"


def draw_arterial(ax, world: World, art: ArterialBands, t0: float, t1: float) -> dict:
    """Draw one arterial's signal states and both bands on ``ax``; legend handles by label.

    Band patches carry ``gid`` ``band:<direction>:<k>`` (k-th parallelogram in time order).
    """
    handles: dict[str, object] = {}
    # Signal bars: each direction's group at its stop line; where the two directions' groups
    # differ, forward just below the intersection's line and backward just above it.
    span = float(np.ptp(art.intersection_pos_m)) or 1.0
    shift = 0.006 * span
    shared = len(art.stop_group) < 2 or np.array_equal(
        art.stop_group["forward"], art.stop_group["backward"][::-1]
    )
    segs: dict[int, list] = {GREEN: [], AMBER: [], RED: []}
    for name in art.stop_group:
        if shared and name == "backward":
            continue
        dy = 0.0 if shared else (-shift if name == "forward" else shift)
        for pos, g in zip(art.stop_pos_m[name], art.stop_group[name], strict=True):
            for a, b, s in signal_runs(world, int(g), t0, t1):
                segs[s].append([(a, pos + dy), (b, pos + dy)])
    for s in (GREEN, AMBER, RED):
        if segs[s]:
            ax.add_collection(
                LineCollection(
                    segs[s], colors=ps.STATE_COLOURS[s], linewidths=3.2, capstyle="butt", zorder=5
                )
            )
        handles[f"signal {ps.STATE_NAMES[s]}"] = Line2D(
            [], [], color=ps.STATE_COLOURS[s], lw=4, solid_capstyle="butt"
        )
    # Bands: filled parallelograms with a solid edge, under the signal bars.
    for name in DIRECTIONS:
        band = art.bands.get(name)
        if band is None:
            continue
        fill, edge = BAND_COLOURS[name]
        where = ps.direction_name(world, art.entry_link[name])
        polys = band_polygons(band, art.stop_pos_m[name], world.epoch_s, t0, t1)
        for k, xy in enumerate(polys):
            ax.add_patch(
                Polygon(
                    xy,
                    closed=True,
                    facecolor=to_rgba(fill, BAND_ALPHA),
                    edgecolor=edge,
                    lw=1.0,
                    zorder=3,
                    gid=f"band:{name}:{k}",
                )
            )
        speed = _speed_text(art.speed_ms[name])
        how = f", {speed}" if speed else ""
        if not art.optimised[name]:
            how += ", not optimised"
        label = (
            f"{name} band ({where}): {band.bandwidth_s:.1f} s of {art.cycle_s:g} s{how}"
            if polys
            else f"{name} ({where}): no band"
        )
        handles[label] = Patch(
            facecolor=to_rgba(fill, BAND_ALPHA if polys else 0.0), edgecolor=edge, lw=1.0
        )
    ax.set_xlim(t0, t1)
    lo, hi = float(art.intersection_pos_m.min()), float(art.intersection_pos_m.max())
    pad = 0.04 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("time since the scenario's start (s)")
    return handles


def window_s(art: ArterialBands) -> tuple[float, float]:
    """``(0, longest travel along the arterial + EXTRA_CYCLES cycles)`` (s)."""
    travel = max((float(np.ptp(b.travel_s)) for b in art.bands.values()), default=0.0)
    return 0.0, float(np.ceil(travel + EXTRA_CYCLES * art.cycle_s))


def arterial_figure(
    world: World, art: ArterialBands, t0: float | None = None, t1: float | None = None
) -> Figure:
    """The time–space diagram of one arterial of a plan (window: :func:`window_s`)."""
    w0, w1 = window_s(art)
    t0 = w0 if t0 is None else t0
    t1 = w1 if t1 is None else t1
    # Wider for longer windows, taller for more stop lines (a 34-signal street stays readable).
    width = float(np.clip(6.0 + (t1 - t0) / 60.0, 10.0, 22.0))
    height = float(np.clip(2.4 + 0.34 * len(art.stop_names), 7.2, 16.0))
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    handles = draw_arterial(ax, world, art, t0, t1)
    ax.set_yticks(art.intersection_pos_m, art.stop_names)
    ax.set_ylabel("stop line (intersection)")
    ax.tick_params(axis="y", length=0, pad=4)
    ax.grid(axis="x")
    right = ax.secondary_yaxis("right")
    right.set_ylabel("distance along the forward direction (m)")
    order = ["signal green", "signal amber", "signal red"]
    labels = order + [k for k in handles if k not in order]
    fig.legend(
        [handles[k] for k in labels], labels, loc="outside lower center", ncol=3, handlelength=2.2
    )
    route = ps.plot_label(art.name, art.id)
    route = art.id if route == art.id else f"{route} ({art.id})"
    fig.suptitle(
        ps.figure_title(
            world.scenario.name,
            f"plan's green bands, cycle {art.cycle_s:g} s",
            route=route,
            window=(t0, t1),
        )
    )
    return fig


def write_band_diagrams(res, out_dir: Path) -> list[Path]:
    """One PNG per arterial of ``res`` in ``out_dir`` (created): ``bands_<arterial id>.png``.

    ``res``: a :class:`~greenwave.maxband.MaxbandResult` or
    :class:`~greenwave.netband.NetworkResult`.  Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = World.build(res.scenario)
    written = []
    with ps.style():
        for art in plan_arterials(res, world):
            fig = arterial_figure(world, art)
            path = out_dir / f"bands_{ps.slug(art.id, 'arterial')}.png"
            fig.savefig(path)
            plt.close(fig)
            written.append(path)
    return written
