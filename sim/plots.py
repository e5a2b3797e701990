"""Plots of paired runs: time–space diagrams with signal states, and speed profiles.

One time–space diagram and one speed-profile figure per recorded route, each with the
baseline (no advice) and the advisory run side by side on the same arrivals, named by the
route's direction (``time_space_eastbound.png``, ``speed_profiles_eastbound.png``).  Colours,
fonts and names come from :mod:`sim.plotstyle`.  SI inside, km/h only on the axes (the output
edge).  matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from greenwave.network import World
from greenwave.timing import AMBER, GREEN, RED
from greenwave.units import ms_to_kmh

from . import plotstyle as ps
from .engine import Routes, SimResult

STATE_COLOURS = ps.STATE_COLOURS  # kept for callers of the old module
MAX_PROFILES = 60


@dataclass(frozen=True)
class RouteView:
    """What the plots need of one route: where its stop lines are and what they are called.

    ``route`` indexes ``res.extra["entry_links"]`` (the ``route`` column of trajectories).
    """

    route: int
    entry_link: int
    label: str  # "人民路 eastbound" (or the corridor id where the fonts lack the name)
    stop_m: np.ndarray  # (J,) stop-line positions along the route
    stop_group: np.ndarray  # (J,) their signal groups
    stop_names: list[str]  # (J,) intersection names (or ids) for the axes
    length_m: float
    link_edges_m: np.ndarray  # (K + 1,) link boundaries along the route
    limit_ms: np.ndarray  # (K,) speed limit of each link

    @classmethod
    def build(cls, world: World, entry_links, route: int) -> RouteView:
        net = world.network
        routes = Routes.build(net, entry_links)
        links = routes.links[route]
        links = links[links >= 0]
        stop = np.isfinite(routes.stop_pos_m[route])
        stop_links = [int(lk) for lk in links if net.link_group[lk] >= 0]
        names = []
        for lk in stop_links:
            i = int(net.link_intersection[lk])
            names.append(ps.plot_label(net.intersection_names[i], net.intersection_ids[i]))
        entry = int(entry_links[route])
        return cls(
            route=int(route),
            entry_link=entry,
            label=ps.route_label(world, entry),
            stop_m=routes.stop_pos_m[route][stop],
            stop_group=routes.stop_group[route][stop],
            stop_names=names,
            length_m=float(routes.length_m[route]),
            link_edges_m=np.concatenate(
                [routes.link_start_m[route, : links.size], [routes.length_m[route]]]
            ),
            limit_ms=net.link_speed_limit_ms[links],
        )


# ---------------------------------------------------------------------------------- helpers
def _signal_runs(world: World, group: int, t0: float, t1: float, step: float = 0.5):
    """(start, end, state) runs of one group's state over simulation time [t0, t1)."""
    ts = np.arange(t0, t1, step)
    if ts.size == 0:
        return []
    st, _, _, _ = world.timing.state(np.full(ts.size, group), world.epoch_s + ts)
    change = np.flatnonzero(np.diff(st)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [ts.size]])
    return [(ts[a], ts[b - 1] + step, int(st[a])) for a, b in zip(starts, ends, strict=True)]


def _progression_kmh(world: World, corridor_id: str) -> float | None:
    """Design progression speed of a corridor: its own ``progression_kmh``, or the grid's
    when the grid's offsets make a green wave."""
    sc = world.scenario
    model = next((c for c in sc.corridors if c.id == corridor_id), None)
    if model is not None:
        return model.progression_kmh
    g = sc.grid
    if g is not None and g.offsets == "green_wave":
        return g.progression_kmh
    return None


def design_bands(world: World, view: RouteView, t0: float, t1: float):
    """Parallelograms of the route's design green band over [t0, t1]: ``(speed_kmh, [(time
    (K,), distance (K,), bandwidth_s), ...])``; an empty list where the corridor has a design
    speed but no band in this direction, None where it has no design speed."""
    from greenwave.coordination import CoordinationError, corridor_bands, corridor_timing

    cor = ps.route_corridor(world, view.entry_link)
    if cor is None or not view.stop_m.size:
        return None
    cid = cor[0]
    speed_kmh = _progression_kmh(world, cid)
    if speed_kmh is None:
        return None
    tag = next(c for c, _, lk in world.network.corridors if int(lk[0]) == view.entry_link)[-1]
    try:
        bands = corridor_bands(corridor_timing(world, cid), speed_kmh / 3.6)
    except CoordinationError:
        return None
    band = bands["forward" if tag == "f" else "backward"]
    if not band.bandwidth_s > 0:
        return speed_kmh, []  # a design speed, but no band this way (e.g. a one-way wave)
    c = band.cycle_s
    first = band.entry_s - world.epoch_s  # simulation-time frame, modulo the cycle
    y = view.stop_m[0] + band.distance_m
    n0 = np.floor((t0 - band.travel_s[-1] - band.bandwidth_s - first) / c)
    out = []
    for n in np.arange(n0, n0 + (t1 - t0 + band.travel_s[-1]) / c + 3):
        a = first + n * c + band.travel_s
        if a[0] > t1 or a[-1] + band.bandwidth_s < t0:
            continue
        out.append((a, y, band.bandwidth_s))
    return speed_kmh, out


def _tracks(tr: dict, route: int, t0: float | None = None, t1: float | None = None):
    """One route's trajectory rows sorted by vehicle then time, optionally cut to [t0, t1].

    Returns ``(rows, vids, starts, ends)``: ``rows`` index ``tr``; vehicle ``vids[k]`` owns
    ``rows[starts[k]:ends[k]]``.
    """
    m = tr["route"] == route
    if t0 is not None:
        m &= (tr["t"] >= t0) & (tr["t"] <= t1)
    idx = np.flatnonzero(m)
    rows = idx[np.lexsort((tr["t"][idx], tr["vid"][idx]))]
    vid = tr["vid"][rows]
    cuts = np.flatnonzero(np.diff(vid)) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64) if rows.size else np.zeros(0, int)
    ends = np.concatenate([cuts, [rows.size]]).astype(np.int64) if rows.size else np.zeros(0, int)
    return rows, vid[starts], starts, ends


def _kinds(advisory: bool):
    """(equipped flag, colour, legend label) of the trajectory kinds of a run."""
    if not advisory:
        return [(False, ps.BASELINE, "vehicle (no advice)")]
    return [(False, ps.UNEQUIPPED, "vehicle without the app"), (True, ps.EQUIPPED, "equipped")]


# -------------------------------------------------------------------------------- time–space
def time_space(
    ax,
    world: World,
    res: SimResult,
    view: RouteView,
    t0: float,
    t1: float,
    *,
    advisory: bool,
    band=None,
) -> dict[str, object]:
    """Draw one run's trajectories on ``view``'s route, the signal states at its stop lines
    and the design band ``band`` (from :func:`design_bands`).  Returns legend handles by label.
    """
    handles: dict[str, object] = {}
    # Signal states: one thick bar per stop line, above the trajectories.
    segs: dict[int, list] = {GREEN: [], AMBER: [], RED: []}
    for pos, g in zip(view.stop_m, view.stop_group, strict=True):
        if g < 0:
            continue
        for a, b, s in _signal_runs(world, int(g), t0, t1):
            segs.setdefault(s, []).append([(a, pos), (b, pos)])
    for s in (GREEN, AMBER, RED):
        if segs.get(s):
            ax.add_collection(
                LineCollection(
                    segs[s], colors=ps.STATE_COLOURS[s], linewidths=3.2, capstyle="butt", zorder=5
                )
            )
        handles[f"signal {ps.STATE_NAMES[s]}"] = Line2D(
            [], [], color=ps.STATE_COLOURS[s], lw=4, solid_capstyle="butt"
        )
    # Design band: filled parallelograms with a solid edge, above the trajectories.
    if band is not None:
        speed_kmh, polys = band
        for a, y, w in polys:
            ax.fill_betweenx(
                y,
                a,
                a + w,
                facecolor=ps.DESIGN_BAND_FILL,
                alpha=ps.DESIGN_BAND_ALPHA,
                lw=0,
                zorder=3,
            )
            outline = np.concatenate([np.column_stack([a, y]), np.column_stack([a + w, y])[::-1]])
            ax.add_patch(
                plt.Polygon(
                    outline, closed=True, fill=False, ec=ps.DESIGN_BAND_EDGE, lw=1.1, zorder=4
                )
            )
        if polys:
            handles[f"design green band ({speed_kmh:g} km/h)"] = Patch(
                facecolor=ps.DESIGN_BAND_FILL, alpha=0.45, edgecolor=ps.DESIGN_BAND_EDGE, lw=1.1
            )
        else:
            handles[f"no design green band this way ({speed_kmh:g} km/h)"] = Patch(
                facecolor="none", edgecolor="none"
            )
    # Trajectories: thin and light, under the bands and signals.
    tr = res.trajectories
    if tr is not None:
        rows, _, starts, ends = _tracks(tr, view.route, t0, t1)
        t, x, eq = tr["t"][rows], tr["pos"][rows], tr["equipped"][rows]
        for kind, colour, label in _kinds(advisory):
            lines = [
                np.column_stack([t[a:b], x[a:b]])
                for a, b in zip(starts, ends, strict=True)
                if b - a > 1 and bool(eq[a]) == kind
            ]
            if lines:
                ax.add_collection(
                    LineCollection(
                        lines,
                        colors=colour,
                        linewidths=ps.TRAJECTORY_LW,
                        alpha=ps.TRAJECTORY_ALPHA if kind or not advisory else 0.8,
                        zorder=2,
                    )
                )
                handles[label] = Line2D([], [], color=colour, lw=1.5)
    ax.set_xlim(t0, t1)
    ax.set_ylim(0, view.length_m)
    ax.set_xlabel("simulation time (s)")
    return handles


def time_space_figure(
    world: World,
    base: SimResult,
    adv: SimResult,
    view: RouteView,
    t0: float,
    t1: float,
    *,
    seed: int | None = None,
    base_world: World | None = None,
    titles: tuple[str, str] | None = None,
) -> Figure:
    """Baseline and advisory time–space diagrams of one route, side by side.

    ``base_world``: the world whose signals (and design band) the baseline run drove on, when
    it differs from ``world`` (a before/after comparison; the panels then say whose design band
    a legend entry is); ``titles`` replace the panel titles.
    """
    fig, axes = plt.subplots(1, 2, figsize=(15, 7.6), sharey=True, layout="constrained")
    panels = ((axes[0], base_world or world, base, False), (axes[1], world, adv, True))
    handles = {}
    for ax, w, res, adv_run in panels:
        band = design_bands(w, view, t0, t1)
        drawn = time_space(ax, w, res, view, t0, t1, advisory=adv_run, band=band)
        if base_world is not None:  # two timings, two design bands
            which = "after" if adv_run else "before"
            drawn = {f"{k}, {which}" if "design" in k else k: h for k, h in drawn.items()}
        handles.update(drawn)
    first, second = titles or ("baseline: no advice", "advisory")
    axes[0].set_title(first)
    axes[1].set_title(f"{second}: {_equipped_text(adv, view, t0, t1)}")
    # Distance axis: intersection names at the stop lines on the left, metres on the right.
    axes[0].set_yticks(view.stop_m, view.stop_names)
    axes[0].set_ylabel("stop line (intersection)")
    axes[0].tick_params(axis="y", length=0, pad=4)
    for ax in axes:
        ax.grid(axis="x")
    right = axes[1].secondary_yaxis("right")
    right.set_ylabel("distance along the route (m)")
    order = [
        "signal green",
        "signal amber",
        "signal red",
        *[k for k in handles if "design" in k],
        "vehicle (no advice)",
        "equipped",
        "vehicle without the app",
    ]
    labels = [k for k in order if k in handles]
    fig.legend(
        [handles[k] for k in labels],
        labels,
        loc="outside lower center",
        ncol=len(labels),
        handlelength=2.2,
    )
    what = "time–space diagram" + (", before → after" if base_world is not None else "")
    fig.suptitle(
        ps.figure_title(world.scenario.name, what, route=view.label, seed=seed, window=(t0, t1))
    )
    return fig


def _equipped_text(adv: SimResult, view: RouteView, t0: float, t1: float) -> str:
    """``412 of 450 vehicles equipped`` on the route in the window (from the trajectories)."""
    tr = adv.trajectories
    if tr is None:
        return "advice to equipped vehicles"
    rows, vids, starts, _ = _tracks(tr, view.route, t0, t1)
    if not vids.size:
        return "advice to equipped vehicles"
    eq = tr["equipped"][rows][starts]
    return f"{int(eq.sum())} of {vids.size} vehicles equipped"


# ---------------------------------------------------------------------------- speed profiles
def _entering(tr: dict, route: int, t0: float, t1: float) -> np.ndarray:
    """Vehicles whose first recorded step on ``route`` lies in [t0, t1]."""
    rows, vids, starts, _ = _tracks(tr, route)
    first = tr["t"][rows][starts] if rows.size else np.zeros(0)
    return vids[(first >= t0) & (first <= t1)]


def sample_vehicles(
    base: SimResult, adv: SimResult, route: int, t0: float, t1: float, n: int = MAX_PROFILES
):
    """The same ``n`` vehicles for both runs (seeded), drawn among those entering the route in
    [t0, t1] in both, and how many entered in each run: ``(sample, n_base, n_adv)``."""
    sets = [
        _entering(r.trajectories, route, t0, t1) if r.trajectories is not None else np.zeros(0)
        for r in (base, adv)
    ]
    common = np.intersect1d(sets[0], sets[1])
    rng = np.random.default_rng(0)
    if common.size:
        common = np.sort(rng.choice(common, min(n, common.size), replace=False))
    return common, int(sets[0].size), int(sets[1].size)


def speed_profiles(
    ax, world: World, res: SimResult, view: RouteView, vids, *, advisory: bool
) -> dict[str, object]:
    """Speed (km/h) against distance of vehicles ``vids`` on ``view``'s route, with the stop
    lines, the speed limit and the advisory band.  Returns legend handles by label."""
    handles: dict[str, object] = {}
    adv_cfg = world.scenario.advisory
    ax.axhspan(
        adv_cfg.band_min_kmh,
        adv_cfg.band_max_kmh,
        color=ps.ADVICE_BAND_FILL,
        alpha=ps.ADVICE_BAND_ALPHA,
        lw=0,
        zorder=1,
    )
    for v in (adv_cfg.band_min_kmh, adv_cfg.band_max_kmh):
        ax.axhline(v, color=ps.ADVICE_BAND_FILL, lw=0.9, ls="--", zorder=4)
    handles[f"advisory band {adv_cfg.band_min_kmh:g}–{adv_cfg.band_max_kmh:g} km/h"] = Patch(
        facecolor=ps.ADVICE_BAND_FILL,
        alpha=0.3,
        edgecolor=ps.ADVICE_BAND_FILL,
        ls="--",
    )
    ax.stairs(
        ms_to_kmh(view.limit_ms),
        view.link_edges_m,
        baseline=None,
        color=ps.SPEED_LIMIT,
        lw=1.4,
        zorder=4,
    )
    handles["speed limit"] = Line2D([], [], color=ps.SPEED_LIMIT, lw=1.4)
    for x in view.stop_m:
        ax.axvline(x, color=ps.STOP_LINE, lw=0.9, ls=":", zorder=4, gid="stop-line")
    handles["stop line"] = Line2D([], [], color=ps.STOP_LINE, lw=0.9, ls=":")
    tr = res.trajectories
    if tr is not None and len(vids):
        rows, got, starts, ends = _tracks(tr, view.route)
        keep = np.isin(got, vids)
        x, v, eq = tr["pos"][rows], ms_to_kmh(tr["v"][rows]), tr["equipped"][rows]
        for kind, colour, label in _kinds(advisory):
            lines = [
                np.column_stack([x[a:b], v[a:b]])
                for a, b, k in zip(starts, ends, keep, strict=True)
                if k and b - a > 1 and bool(eq[a]) == kind
            ]
            if lines:
                ax.add_collection(
                    LineCollection(lines, colors=colour, linewidths=0.7, alpha=0.6, zorder=3)
                )
                handles[label] = Line2D([], [], color=colour, lw=1.5)
    ax.set_xlim(0, view.length_m)
    top = max(float(ms_to_kmh(view.limit_ms.max())) * 1.3, adv_cfg.band_max_kmh * 1.2)
    ax.set_ylim(0, top)
    ax.set_xlabel("distance along the route (m)")
    ax.grid(axis="y")
    names = ax.secondary_xaxis("top")
    names.set_xticks(view.stop_m, view.stop_names, rotation=30, ha="left", rotation_mode="anchor")
    names.tick_params(length=3)
    return handles


def speed_profile_figure(
    world: World,
    base: SimResult,
    adv: SimResult,
    view: RouteView,
    t0: float,
    t1: float,
    *,
    seed: int | None = None,
    max_vehicles: int = MAX_PROFILES,
    base_world: World | None = None,
    titles: tuple[str, str] | None = None,
) -> Figure:
    """Baseline and advisory speed profiles of the same sampled vehicles, side by side
    (``base_world`` and ``titles`` as in :func:`time_space_figure`)."""
    vids, n_base, n_adv = sample_vehicles(base, adv, view.route, t0, t1, max_vehicles)
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.2), sharey=True, layout="constrained")
    handles = {}
    handles.update(speed_profiles(axes[0], base_world or world, base, view, vids, advisory=False))
    handles.update(speed_profiles(axes[1], world, adv, view, vids, advisory=True))
    first, second = titles or ("baseline: no advice", "advisory")
    axes[0].set_title(f"{first} — sample of {len(vids)} of {n_base} vehicles")
    axes[1].set_title(f"{second} — sample of {len(vids)} of {n_adv} vehicles")
    axes[0].set_ylabel("speed (km/h)")
    order = [
        "vehicle (no advice)",
        "equipped",
        "vehicle without the app",
        "speed limit",
        *[k for k in handles if k.startswith("advisory band")],
        "stop line",
    ]
    labels = [k for k in order if k in handles]
    fig.legend(
        [handles[k] for k in labels],
        labels,
        loc="outside lower center",
        ncol=len(labels),
        handlelength=2.2,
    )
    what = "speed profiles" + (", before → after" if base_world is not None else "")
    title = ps.figure_title(world.scenario.name, what, route=view.label, seed=seed, window=(t0, t1))
    fig.suptitle(
        f"{title}\nthe same {len(vids)} vehicles in both runs, drawn among those entering "
        f"the route in {ps.time_window(t0, t1)}"
    )
    return fig


# ------------------------------------------------------------------------------------ files
def write_plots(
    world: World,
    base: SimResult,
    adv: SimResult,
    out_dir: Path,
    window_s: float = 900.0,
    *,
    seed: int | None = None,
    base_world: World | None = None,
    titles: tuple[str, str] | None = None,
) -> list[Path]:
    """Time–space diagrams and speed profiles of the recorded routes; returns written files.

    Files are named by direction (``time_space_eastbound.png``,
    ``speed_profiles_eastbound.png``; the corridor id is put in front where two routes share a
    direction).  The window starts at the end of the warm-up and lasts ``window_s``; ``seed``
    goes into the titles.  For a before/after comparison ``base`` ran on ``base_world``'s
    signals (same network and demand as ``world``); ``titles`` name the two panels.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if base.trajectories is None:
        return []
    t0 = float(base.warmup_s)
    t1 = float(min(base.duration_s, t0 + window_s))
    entry_links = base.extra["entry_links"]
    routes = [int(r) for r in np.unique(base.trajectories["route"])]
    stems = ps.route_file_names(world, [int(entry_links[r]) for r in routes])
    written = []
    with ps.style():
        for r in routes:
            view = RouteView.build(world, entry_links, r)
            stem = stems[view.entry_link]
            for name, make in (
                ("time_space", time_space_figure),
                ("speed_profiles", speed_profile_figure),
            ):
                fig = make(
                    world, base, adv, view, t0, t1, seed=seed, base_world=base_world, titles=titles
                )
                p = out_dir / f"{name}_{stem}.png"
                fig.savefig(p, dpi=ps.DPI)
                plt.close(fig)
                written.append(p)
    return written


# ---------------------------------------------------------------------------------- by group
GROUP_FILE = "change_by_group.png"
GROUP_PLOT_MEASURES = (  # (key, panel title): the changes drawn per group
    ("mean_speed_kmh", "mean speed"),
    ("travel_time_s", "travel time"),
    ("stops_per_veh", "stops per vehicle"),
    ("fuel_l_per_100km", "fuel per km"),
)
GROUP_LABELS = {
    "all": "all vehicles",
    "arterial": "arterial",
    "arterial_forward": "arterial,\nforward",
    "arterial_backward": "arterial,\nbackward",
    "side_street": "side street",
    "turning": "turning",
}
# The comparisons of a result, each (change-key suffix, legend label, colour): advisory
# against baseline for ``compare``; each case against before for ``compare --before``.
_COMPARE = (("", "advisory against baseline", ps.EQUIPPED),)
_BEFORE_AFTER = (
    ("_retiming_only", "retiming only", ps.DESIGN_BAND_EDGE),
    ("_advice_only", "advice only", ps.EQUIPPED),
    ("_after", "after (retiming + advice)", ps.ADVICE_BAND_FILL),
)


def _group_columns(result: dict) -> list[tuple[str, dict]]:
    """``(name, block)`` of the whole and of every group, each group followed by its
    subgroups, in the order of :data:`sim.groups.GROUPS`."""
    from .groups import group_rows

    return [("all", result), *group_rows(result)]


def _value(block: dict, key: str) -> float:
    """A number of a result block, NaN where missing or null (the JSON round trip)."""
    v = block.get(key) if block else None
    return float(v) if isinstance(v, (int, float)) else np.nan


def group_change_figure(result: dict) -> Figure:
    """Paired change (%) of :data:`GROUP_PLOT_MEASURES` for all vehicles and each group, one
    panel per measure, bars with their 95 % CI over seeds as whiskers.

    ``result`` is what :func:`sim.compare.compare` or :func:`sim.compare.compare_before_after`
    returns (or its JSON round trip); the latter draws the three changes against before.
    """
    from .groups import SUBGROUPS

    comps = _BEFORE_AFTER if "before_scenario" in result else _COMPARE
    cols = _group_columns(result)
    x = np.arange(len(cols))
    width = 0.8 / len(comps)
    is_sub = [n in SUBGROUPS for n, _ in cols]
    fig, axes = plt.subplots(
        1, len(GROUP_PLOT_MEASURES), figsize=(3.4 * len(GROUP_PLOT_MEASURES) + 1.5, 4.8)
    )
    fig.set_layout_engine("constrained")
    for ax, (key, title) in zip(axes, GROUP_PLOT_MEASURES, strict=True):
        for j, (suffix, label, colour) in enumerate(comps):
            mean = np.array([_value(b[f"change_pct{suffix}"], key) for _, b in cols])
            ci = [b[f"change_ci95{suffix}"].get(key) or [None, None] for _, b in cols]
            lo = np.array([_value({"v": c[0]}, "v") for c in ci])
            hi = np.array([_value({"v": c[1]}, "v") for c in ci])
            # Whiskers only where there is an interval (two or more seeds).
            err = np.vstack([mean - lo, hi - mean])
            err = np.where(np.isfinite(err), err, 0.0)
            bars = ax.bar(
                x + (j - (len(comps) - 1) / 2) * width,
                np.nan_to_num(mean),
                width * 0.92,
                yerr=err,
                color=colour,
                ecolor="0.15",
                capsize=3,
                error_kw={"lw": 0.9},
                label=label,
            )
            # Subgroups are parts of the group to their left: drawn lighter and hatched.
            for bar, sub in zip(bars, is_sub, strict=True):
                if sub:
                    bar.set_alpha(0.6)
                    bar.set_hatch("//")
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_title(f"{title} (%)")
        # Six groups with a turning network: slanted labels, or they run into each other.
        labels = [GROUP_LABELS.get(n, n) for n, _ in cols]
        ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor")
        ax.grid(axis="y")
    axes[0].set_ylabel("change (%), mean and 95 % CI over seeds")
    n_seeds = len(result.get("seeds", []))
    counts = ", ".join(
        f"{GROUP_LABELS.get(n, n).replace(chr(10), ' ')} {int(_value(_ref(result, b), 'vehicles'))}"
        for n, b in cols
    )
    what = "paired change by vehicle group" + ("" if len(comps) > 1 else f", {comps[0][1]}")
    fig.suptitle(
        ps.figure_title(str(result.get("scenario", "")), what)
        + f" — {n_seeds} seed(s)\nvehicles counted (reference run, all seeds): {counts}"
    )
    if len(comps) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(comps))
    return fig


def _ref(result: dict, block: dict) -> dict:
    """The reference run's aggregate in a result block (baseline, or before)."""
    return block.get("before" if "before_scenario" in result else "baseline") or {}


def write_group_plot(result: dict, out_dir: Path) -> list[Path]:
    """:func:`group_change_figure` as ``change_by_group.png`` in ``out_dir``; nothing when
    the result has no groups (returns the written files)."""
    if not result.get("groups"):
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ps.style():
        fig = group_change_figure(result)
        p = out_dir / GROUP_FILE
        fig.savefig(p, dpi=ps.DPI)
        plt.close(fig)
    return [p]
