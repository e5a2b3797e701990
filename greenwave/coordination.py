"""Green bandwidth along a signalised corridor, and the offsets that maximise it.

All signals of a corridor share one cycle ``C``.  A vehicle entering a direction at time ``t``
at the progression speed ``v`` reaches stop line ``k`` at ``t + x_k / v``; signal ``k`` (offset
``o_k``, green ``[s, e)`` in cycle seconds, :mod:`greenwave.timing`) is then green when ``t`` is
in ``[o_k + s − x_k/v, o_k + e − x_k/v)`` mod ``C``.  The **bandwidth** ``b`` is the longest arc
(it may wrap) of the intersection of these windows on the cycle circle; the **bandwidth
efficiency** is ``b / C``.  Only green counts (amber is not used).

Entry points: :func:`bandwidth` (one direction, closed form), :func:`corridor_bands` and
:func:`corridor_timing` (a scenario's corridor), :func:`credited` / :func:`objective` (the
two-way objective), :func:`best_offsets` and :func:`optimize_offsets` (the search),
:func:`with_offsets` (the retimed scenario).  Arrays are ``(K,)`` per stop line and ``(K, W)``
per stop line and green interval (NaN-padded), times in s, distances in m, speeds in m/s.

Only offsets change (cycle and splits are kept), on a ``step_s`` grid relative to the first
intersection.  ``direction="one"`` aligns the green starts ("offset = travel time"; exact on the
grid).  ``direction="both"`` maximises ``b_forward + w · b_backward`` (MAXBAND's objective, with
its optional target ratio) by an exact search over the grid instead of MAXBAND's mixed-integer
program; ties go to the more balanced pair.  Its work grows as ``K³ W² (C/step)²`` (about 5 s
for 20 signals, the limit :data:`MAX_INTERSECTIONS_BOTH`, at a 120 s cycle on a 1 s grid).  Not
modelled: queue clearance, amber as green, speeds per link or direction, phase sequence choice.

References: J. D. C. Little, "The synchronization of traffic signals by mixed-integer linear
programming", Operations Research 14(4), 568–594, 1966; J. D. C. Little, M. D. Kelson,
N. H. Gartner, "MAXBAND: a program for setting signals on arteries and triangular networks",
Transportation Research Record 795, 40–46, 1981.

:command:`greenwave optimize` solves MAXBAND's mixed-integer program instead
(:mod:`greenwave.maxband`: cycle choice, progression speeds within a tolerance, continuous or
gridded offsets; :mod:`greenwave.netband` for networks); the grid search here stays as its
independent check, and :func:`bandwidth` measures every plan either of them writes.

Derivations and history: docs/coordination.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from .network import World
from .scenario import Scenario, parse_scenario

DEFAULT_STEP_S = 1.0
"""Offset grid (s) of the search."""

MAX_INTERSECTIONS_BOTH = 20
"""Largest corridor for the exact two-way search (its work grows with the cube)."""

EPS = 1e-6
"""Time tolerance (s): windows closer than this touch."""

Direction = Literal["one", "both"]


class CoordinationError(ValueError):
    """A corridor cannot be evaluated or retimed (unknown id, mixed cycles, ...).

    ``param`` names the parameter at fault when there is one (``'cycle_range'``, ...), so that
    the command line can name its flag.
    """

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Approach:
    """One direction of a corridor: its stop lines in travel order.

    Attributes
    ----------
    stops : (K,) int64
        Index of each stop line's intersection in :attr:`CorridorTiming.intersection_ids`.
    distance_m : (K,) float64
        Distance along the corridor links from the first stop line (``distance_m[0] = 0``).
    green_start_s, green_end_s : (K, W) float64
        Green intervals in cycle seconds, NaN-padded (the :class:`~greenwave.timing.PlanTable`
        layout: an end may exceed the cycle for a green that wraps).
    group_ids : tuple[str, ...], length K
    """

    stops: np.ndarray
    distance_m: np.ndarray
    green_start_s: np.ndarray
    green_end_s: np.ndarray
    group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorridorTiming:
    """A corridor's intersections (forward order), common cycle, offsets and both directions."""

    id: str
    name: str
    intersection_ids: tuple[str, ...]
    cycle_s: float
    offset_s: np.ndarray  # (I,) current offsets
    forward: Approach
    backward: Approach | None = None

    @property
    def approaches(self) -> dict[str, Approach]:
        out = {"forward": self.forward}
        if self.backward is not None:
            out["backward"] = self.backward
        return out


@dataclass(frozen=True)
class Band:
    """The through band of one direction.

    Attributes
    ----------
    bandwidth_s : float
        Length of the longest arc of entry times that meet green everywhere (0 if none).
    efficiency : float
        ``bandwidth_s / cycle_s``.
    cycle_s : float
    entry_s : float
        Band start at the first stop line as absolute time modulo the cycle, in ``[0, C)``: the
        band enters at ``entry_s + n·C`` for every integer ``n``.  NaN if there is no band.
    travel_s : (K,) float64
        Travel time from the first stop line at the progression speed.
    start_s : (K,) float64
        Band start at each stop line, ``entry_s + travel_s`` (same modulo-``C`` frame; the band
        occupies ``[start_s + n·C, start_s + n·C + bandwidth_s)`` there).  Draw it on a
        time–space diagram as parallelograms between consecutive stop lines.
    distance_m : (K,) float64
    intersection_ids : tuple[str, ...]
        Filled by :func:`corridor_bands`; empty from :func:`bandwidth`.
    """

    bandwidth_s: float
    efficiency: float
    cycle_s: float
    entry_s: float
    travel_s: np.ndarray
    start_s: np.ndarray
    distance_m: np.ndarray
    intersection_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptimizeResult:
    """Before and after of :func:`optimize_offsets` (bands keyed 'forward', 'backward')."""

    corridor: CorridorTiming
    speed_ms: float
    direction: Direction
    weight_backward: float
    target_ratio: float | None
    step_s: float
    offsets_before_s: np.ndarray
    offsets_after_s: np.ndarray
    before: dict[str, Band]
    after: dict[str, Band]
    objective_before_s: float
    objective_after_s: float
    scenario: Scenario = field(repr=False)

    @property
    def offsets(self) -> dict[str, float]:
        return dict(
            zip(self.corridor.intersection_ids, map(float, self.offsets_after_s), strict=True)
        )


# --------------------------------------------------------------------------- circular arcs
def _arcs(start, length, cycle: float) -> list[tuple[float, float]]:
    """Disjoint sorted arcs ``[a, b)`` in ``[0, C]`` covering windows ``start + [0, length)``."""
    pieces = []
    for s, ln in zip(start, length, strict=True):
        if not (np.isfinite(s) and np.isfinite(ln)) or ln <= EPS:
            continue
        a = float(s) % cycle
        if a > cycle - EPS:
            a = 0.0
        b = a + min(float(ln), cycle)
        if b <= cycle + EPS:
            pieces.append((a, min(b, cycle)))
        else:
            pieces += [(a, cycle), (0.0, b - cycle)]
    pieces.sort()
    out: list[list[float]] = []
    for a, b in pieces:
        if out and a <= out[-1][1] + EPS:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _intersect(p: list, q: list) -> list[tuple[float, float]]:
    out, i, j = [], 0, 0
    while i < len(p) and j < len(q):
        lo, hi = max(p[i][0], q[j][0]), min(p[i][1], q[j][1])
        if hi - lo > EPS:
            out.append((lo, hi))
        if p[i][1] < q[j][1]:
            i += 1
        else:
            j += 1
    return out


def _longest(arcs: list, cycle: float) -> tuple[float, float]:
    """(length, start) of the longest arc, joining one that ends at C with one from 0."""
    if not arcs:
        return 0.0, float("nan")
    arcs = list(arcs)
    if len(arcs) == 1 and arcs[0][0] <= EPS and arcs[0][1] >= cycle - EPS:
        return cycle, 0.0
    if len(arcs) > 1 and arcs[0][0] <= EPS and arcs[-1][1] >= cycle - EPS:
        first = arcs.pop(0)
        last = arcs.pop()
        arcs.append((last[0], cycle + first[1]))
    k = int(np.argmax([b - a for a, b in arcs]))
    return arcs[k][1] - arcs[k][0], arcs[k][0]


# --------------------------------------------------------------------------- bandwidth
def bandwidth(
    green_start_s, green_end_s, offset_s, cycle_s: float, distance_m, speed_ms: float
) -> Band:
    """Through band of one direction for given offsets (closed form on the cycle circle).

    Parameters
    ----------
    green_start_s, green_end_s : (K, W) float
        Green intervals of each stop line's signal group in cycle seconds, NaN-padded; stop
        lines in travel order.
    offset_s : (K,) float
        Offset of each stop line's plan (cycle second 0 at ``t = offset_s`` mod ``C``).
    cycle_s : float
        The common cycle.
    distance_m : (K,) float
        Position of each stop line along the direction (m); travel times are measured from the
        first, ``τ_k = (distance_m[k] − distance_m[0]) / speed_ms``.
    speed_ms : float
        Progression speed (m/s), > 0.

    Returns
    -------
    Band
        ``bandwidth_s = 0`` and ``entry_s = NaN`` when no entry time meets green everywhere.

    Examples
    --------
    Two signals 300 m apart at 10 m/s, greens [0, 50) and [0, 40), offsets 0 and 20: the second
    is green for entries in [−10, 30), so the band is [0, 30): 30 s.

    >>> b = bandwidth([[0.0], [0.0]], [[50.0], [40.0]], [0.0, 20.0], 100.0, [0.0, 300.0], 10.0)
    >>> b.bandwidth_s, b.entry_s
    (30.0, 0.0)
    """
    gs = np.atleast_2d(np.asarray(green_start_s, dtype=float))
    ge = np.atleast_2d(np.asarray(green_end_s, dtype=float))
    off = np.asarray(offset_s, dtype=float)
    dist = np.asarray(distance_m, dtype=float)
    if not (np.isfinite(speed_ms) and speed_ms > 0):
        raise ValueError(f"speed_ms must be finite and > 0, got {speed_ms}")
    if not (np.isfinite(cycle_s) and cycle_s > 0):
        raise ValueError(f"cycle_s must be finite and > 0, got {cycle_s}")
    travel = (dist - dist[0]) / speed_ms
    shift = off - travel
    band = None
    for k in range(gs.shape[0]):
        arcs = _arcs(gs[k] + shift[k], ge[k] - gs[k], cycle_s)
        band = arcs if band is None else _intersect(band, arcs)
        if not band:
            break
    length, entry = _longest(band or [], cycle_s)
    if length <= EPS:
        length, entry = 0.0, float("nan")
    length = float(round(length, 9))
    entry = float(round(entry, 9)) % cycle_s if np.isfinite(entry) else float("nan")
    return Band(
        bandwidth_s=length,
        efficiency=length / cycle_s,
        cycle_s=float(cycle_s),
        entry_s=entry,
        travel_s=travel,
        start_s=entry + travel,
        distance_m=dist - dist[0],
    )


def corridor_bands(ct: CorridorTiming, speed_ms: float, offset_s=None) -> dict[str, Band]:
    """Bands of each direction of a corridor at its current offsets (or ``offset_s`` (I,))."""
    off = ct.offset_s if offset_s is None else np.asarray(offset_s, dtype=float)
    out = {}
    for name, ap in ct.approaches.items():
        b = bandwidth(
            ap.green_start_s, ap.green_end_s, off[ap.stops], ct.cycle_s, ap.distance_m, speed_ms
        )
        out[name] = replace(b, intersection_ids=tuple(ct.intersection_ids[i] for i in ap.stops))
    return out


def credited(bf, bb, weight_backward: float = 1.0, target_ratio: float | None = None):
    """Two-way objective ``b_f + w·b_b`` (s), with MAXBAND's target-ratio constraint if given.

    MAXBAND (Little, Kelson & Gartner 1981) asks ``(1 − k)·b̄ ≥ (1 − k)·k·b`` for a target ratio
    ``k`` of backward to forward band: ``b̄ ≥ k·b`` when ``k < 1``, ``b̄ ≤ k·b`` when ``k > 1``;
    at ``k = 1`` that inequality is void and, as usual in MAXBAND implementations, the two bands
    are made equal.  The program's band variables are guaranteed bands, so a wider actual band
    is credited only up to the ratio: ``b_f → min(b_f, b_b/k)`` (``k < 1``),
    ``b_b → min(b_b, k·b_f)`` (``k > 1``), both ``→ min(b_f, b_b)`` (``k = 1``).  Works on
    scalars and arrays; monotone in both bands, which keeps the grid search exact.
    """
    bf = np.asarray(bf, dtype=float)
    bb = np.asarray(bb, dtype=float)
    if target_ratio is not None:
        k = float(target_ratio)
        if k < 1.0:
            bf = np.minimum(bf, bb / k)
        elif k > 1.0:
            bb = np.minimum(bb, k * bf)
        else:
            bf = bb = np.minimum(bf, bb)
    out = bf + weight_backward * bb
    return float(out) if out.ndim == 0 else out


def objective(
    bands: Mapping[str, Band],
    direction: Direction,
    weight_backward: float = 1.0,
    target_ratio: float | None = None,
) -> float:
    """``b_forward`` for 'one'; :func:`credited` ``b_forward + w·b_backward`` for 'both' (s)."""
    if direction == "one":
        return bands["forward"].bandwidth_s
    return credited(
        bands["forward"].bandwidth_s, bands["backward"].bandwidth_s, weight_backward, target_ratio
    )


# --------------------------------------------------------------------------- corridors
def corridor_ids(world: World) -> list[str]:
    """Ids of the corridors of a built scenario, in file order (grid corridors last)."""
    return [cid[:-2] for cid, _, _ in world.network.corridors if cid.endswith("_f")]


def corridor_timing(world: World, corridor_id: str | None = None) -> CorridorTiming:
    """Stop lines, distances, greens and offsets of a corridor (default: the first one).

    Raises :class:`CoordinationError` for an unknown id (listing the valid ones), a corridor
    whose signals do not share one cycle, or a scenario without corridors.
    """
    net, plans = world.network, world.timing.plans
    ids = corridor_ids(world)
    if not ids:
        raise CoordinationError("the scenario has no corridors (a [[corridors]] entry or [grid])")
    cid = ids[0] if corridor_id is None else corridor_id
    if cid not in ids:
        shown = ", ".join(f"'{c}'" for c in ids[:20]) + (" ..." if len(ids) > 20 else "")
        raise CoordinationError(f"unknown corridor '{cid}'; valid corridors: {shown}")
    chains = {c: (name, links) for c, name, links in net.corridors}
    name, fwd_links = chains[f"{cid}_f"]
    stop_links = fwd_links[:-1]
    groups = net.link_group[stop_links]
    inter_ids = tuple(net.intersection_ids[i] for i in net.link_intersection[stop_links])
    cycles = plans.cycle_s[groups]
    if np.ptp(cycles) > EPS:
        listing = ", ".join(f"{i} {c:g} s" for i, c in zip(inter_ids, cycles, strict=True))
        raise CoordinationError(
            f"corridor '{cid}': signals need a common cycle to be coordinated ({listing})"
        )
    pos = {iid: k for k, iid in enumerate(inter_ids)}

    def approach(links) -> Approach:
        stops = links[:-1]
        g = net.link_group[stops]
        dist = np.concatenate([[0.0], np.cumsum(net.link_length_m[links[1:-1]])])
        return Approach(
            stops=np.array(
                [pos[net.intersection_ids[i]] for i in net.link_intersection[stops]], dtype=np.int64
            ),
            distance_m=dist,
            green_start_s=plans.green_start_s[g],
            green_end_s=plans.green_end_s[g],
            group_ids=tuple(plans.group_keys[k][1] for k in g),
        )

    back = chains.get(f"{cid}_b")
    return CorridorTiming(
        id=cid,
        name=name,
        intersection_ids=inter_ids,
        cycle_s=float(cycles[0]),
        offset_s=plans.offset_s[groups].astype(float),
        forward=approach(fwd_links),
        backward=None if back is None else approach(back[1]),
    )


# --------------------------------------------------------------------------- search
def _windows_by_intersection(ap: Approach, n: int, speed_ms: float):
    """Per intersection: shifted window starts ``c = s − τ`` and lengths ``g``, (n, W)."""
    travel = ap.distance_m / speed_ms
    c = np.full((n, ap.green_start_s.shape[1]), np.nan)
    g = np.full_like(c, np.nan)
    c[ap.stops] = ap.green_start_s - travel[:, None]
    g[ap.stops] = ap.green_end_s - ap.green_start_s
    return c, g


def _remaining(ref, c, g, grid, cycle: float):
    """Green left after entry time ``ref`` for each intersection and grid offset.

    ``ref`` (R,), ``c, g`` (n, W), ``grid`` (m,) → (R, n, m): with offset ``o`` the windows are
    ``[o + c, o + c + g)`` modulo ``C``; ``−inf`` when ``ref`` is in none of them.
    """
    d = np.mod(ref[:, None, None, None] - grid[None, None, :, None] - c[None, :, None, :], cycle)
    d = np.where(d > cycle - EPS, 0.0, d)
    gg = g[None, :, None, :]
    with np.errstate(invalid="ignore"):
        rem = np.where(d <= gg + EPS, np.clip(gg - d, 0.0, None), -np.inf)
    return rem.max(axis=3)


def _edge_values(c, step: float, cycle: float, m: int, within_step: bool):
    """Candidate band edges: window starts modulo the grid (and, unless ``within_step``, on it)."""
    base = np.unique(np.round(np.mod(c[np.isfinite(c)], step), 9))
    if within_step:
        return base
    vals = np.mod(base[:, None] + step * np.arange(m)[None, :], cycle).ravel()
    return np.unique(np.round(vals, 9))


def _one_way(c, g, step: float, cycle: float, m: int):
    """Grid offsets (indices) aligning green starts before one entry time; exact optimum."""
    grid = step * np.arange(m)
    xs = _edge_values(c, step, cycle, m, within_step=True)
    rem = _remaining(xs, c, g, grid, cycle)  # (X, n, m)
    best = rem.max(axis=2).min(axis=1)
    k = int(np.argmax(best))
    return rem[k].argmax(axis=1)


def _two_way(cf, gf, cb, gb, score, step: float, cycle: float, m: int):
    """Exact grid search for ``max score(b_f, b_b)`` (derivation: docs/coordination.md).

    ``score`` must be nondecreasing in both bands.  Returns offset indices, or None.
    """
    n = cf.shape[0]
    grid = step * np.arange(m)
    xs = _edge_values(cf, step, cycle, m, within_step=True)
    ys = _edge_values(cb, step, cycle, m, within_step=False)
    rem_b = _remaining(ys, cb, gb, grid, cycle)  # (Y, n, m)
    rem_f = _remaining(xs, cf, gf, grid, cycle)  # (X, n, m)
    best = None  # (objective, balance, offsets)
    for fx in rem_f:  # (n, m)
        order = np.argsort(-fx, axis=1, kind="stable")  # forward green left, descending
        bf = np.take_along_axis(fx, order, axis=1)  # (n, m)
        bb = np.take_along_axis(rem_b, np.broadcast_to(order, rem_b.shape), axis=2)  # (Y, n, m)
        bb = np.where(np.isfinite(bf)[None], bb, -np.inf)
        prev = np.maximum.accumulate(bb, axis=2)
        prev = np.concatenate([np.full((*bb.shape[:2], 1), -np.inf), prev[..., :-1]], axis=2)
        pareto = np.isfinite(bb) & (bb > prev)  # (Y, n, m)
        q = int(pareto.sum(axis=2).max())
        if q == 0:
            continue
        idx = np.argsort(~pareto, axis=2, kind="stable")[..., :q]  # (Y, n, q)
        ok = np.take_along_axis(pareto, idx, axis=2)
        pf = np.take_along_axis(np.broadcast_to(bf[None], bb.shape), idx, axis=2)
        pf = np.where(ok, pf, -np.inf)  # (Y, n, q) forward green left
        pb = np.where(ok, np.take_along_axis(bb, idx, axis=2), -np.inf)
        thr = pf.reshape(len(ys), n * q)  # (Y, nq) candidate forward bands
        # Backward band when every intersection leaves at least T forward: (Y, nq).
        fits = pf[:, None, :, :] >= thr[:, :, None, None] - EPS  # (Y, nq, n, q)
        back = np.where(fits, pb[:, None, :, :], -np.inf).max(axis=3).min(axis=2)
        feasible = np.isfinite(thr) & np.isfinite(back)
        obj = np.where(
            feasible, score(np.where(feasible, thr, 0.0), np.where(feasible, back, 0.0)), -np.inf
        )
        top = obj.max()
        if not np.isfinite(top):
            continue
        tie = obj >= top - EPS
        bal = np.where(tie, np.minimum(thr, back), -np.inf)
        yi, ti = np.unravel_index(int(np.argmax(bal)), bal.shape)
        if best is not None and (
            top < best[0] - EPS or (top <= best[0] + EPS and bal[yi, ti] <= best[1] + EPS)
        ):
            continue
        # Per intersection: the Pareto pair with enough forward green and most backward green.
        sel = np.where(fits[yi, ti], pb[yi], -np.inf).argmax(axis=1)  # (n,)
        o_idx = order[np.arange(n), idx[yi, np.arange(n), sel]]
        best = (float(top), float(bal[yi, ti]), o_idx)
    return None if best is None else best[2]


def best_offsets(
    ct: CorridorTiming,
    speed_ms: float,
    direction: Direction = "both",
    weight_backward: float = 1.0,
    step_s: float = DEFAULT_STEP_S,
    target_ratio: float | None = None,
) -> np.ndarray:
    """Offsets (I,) maximising the corridor's bandwidth objective (docs/coordination.md).

    ``direction='one'``: the forward band; ``'both'``: :func:`credited` ``b_f + w·b_b`` with the
    optional MAXBAND ``target_ratio``.  The first intersection keeps its offset; the others lie
    on a ``step_s`` grid relative to it.  Returns the current offsets if no grid plan beats
    them.
    """
    if direction not in ("one", "both"):
        raise ValueError(f"direction must be 'one' or 'both', got {direction!r}")
    if not (np.isfinite(speed_ms) and speed_ms > 0):
        raise ValueError(f"speed_ms must be finite and > 0, got {speed_ms}")
    if not (np.isfinite(weight_backward) and weight_backward >= 0):
        raise ValueError(f"weight_backward must be finite and >= 0, got {weight_backward}")
    if target_ratio is not None and not (np.isfinite(target_ratio) and target_ratio > 0):
        raise ValueError(f"target_ratio must be finite and > 0, got {target_ratio}")
    cycle = ct.cycle_s
    m = round(cycle / step_s) if np.isfinite(step_s) and step_s > 0 else 0
    if m < 1 or abs(m * step_s - cycle) > 1e-6:
        raise CoordinationError(f"the offset step {step_s:g} s must divide the cycle {cycle:g} s")
    n = len(ct.intersection_ids)
    cf, gf = _windows_by_intersection(ct.forward, n, speed_ms)
    candidates = [_one_way(cf, gf, step_s, cycle, m)]
    if direction == "both":
        if ct.backward is None:
            raise CoordinationError(f"corridor '{ct.id}' is one-way: use direction 'one'")
        if n > MAX_INTERSECTIONS_BOTH:
            raise CoordinationError(
                f"corridor '{ct.id}' has {n} signals; the exact two-way search handles up to "
                f"{MAX_INTERSECTIONS_BOTH} (use direction 'one' or split the corridor)"
            )
        cb, gb = _windows_by_intersection(ct.backward, n, speed_ms)
        candidates.append(_one_way(cb, gb, step_s, cycle, m))

        def score(bf, bb):
            return credited(bf, bb, weight_backward, target_ratio)

        two = _two_way(cf, gf, cb, gb, score, step_s, cycle, m)
        if two is not None:
            candidates.append(two)

    def normalise(o_idx):
        off = (step_s * (o_idx - o_idx[0]) + ct.offset_s[0]) % cycle
        off = np.round(off, 6) % cycle
        return np.where(off > cycle - 1e-6, 0.0, off)

    plans = [normalise(np.asarray(o)) for o in candidates] + [np.asarray(ct.offset_s, float)]
    scores = []
    for off in plans:
        bands = corridor_bands(ct, speed_ms, off)
        obj = objective(bands, direction, weight_backward, target_ratio)
        bal = min(b.bandwidth_s for b in bands.values())
        scores.append((round(obj, 6), round(bal, 6)))
    # The best score wins; on a tie the earlier plan (grid plans before the current offsets).
    k = max(range(len(plans)), key=lambda i: (scores[i], -i))
    return plans[k]


# --------------------------------------------------------------------------- scenarios
def with_offsets(scenario: Scenario, offsets: Mapping[str, float]) -> Scenario:
    """A validated copy of ``scenario`` with the plans' ``offset_s`` of some intersections set."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    index = {it["id"]: it for it in data["intersections"]}
    for iid, off in offsets.items():
        if iid not in index:
            raise CoordinationError(
                f"intersection '{iid}' is generated by [grid]; retime it in the grid section"
            )
        index[iid]["plan"]["offset_s"] = float(off)
    return parse_scenario(data, "<optimised scenario>")


def optimize_offsets(
    scenario: Scenario,
    corridor_id: str | None = None,
    *,
    speed_ms: float,
    direction: Direction = "both",
    weight_backward: float = 1.0,
    target_ratio: float | None = None,
    step_s: float = DEFAULT_STEP_S,
) -> OptimizeResult:
    """Retime a corridor's offsets for the largest green band at ``speed_ms``.

    Parameters
    ----------
    scenario : Scenario
    corridor_id : str, optional
        A ``[[corridors]]`` id; default the scenario's first corridor.
    speed_ms : float
        Progression speed (m/s), the same in both directions.
    direction : 'one' or 'both'
        'one': forward band only (analytic); 'both': ``b_f + weight_backward · b_b`` (exact grid
        search).
    weight_backward : float
        ``w`` of the objective, e.g. the ratio of backward to forward volume.
    target_ratio : float, optional
        MAXBAND's target ratio ``k`` of backward to forward band (see :func:`credited`); MAXBAND
        itself uses ``w = k``.
    step_s : float
        Offset grid (s); must divide the cycle.

    Returns
    -------
    OptimizeResult
        Figures before and after, and ``scenario`` with only the offsets changed.
    """
    world = World.build(scenario)
    ct = corridor_timing(world, corridor_id)
    explicit = {it.id for it in scenario.intersections}
    generated = [i for i in ct.intersection_ids if i not in explicit]
    if generated:
        raise CoordinationError(
            f"corridor '{ct.id}' runs through intersections generated by [grid] "
            f"({', '.join(generated[:5])}...): their offsets come from grid.offsets"
        )
    new = best_offsets(ct, speed_ms, direction, weight_backward, step_s, target_ratio)
    before = corridor_bands(ct, speed_ms)
    after = corridor_bands(ct, speed_ms, new)
    out = with_offsets(scenario, dict(zip(ct.intersection_ids, map(float, new), strict=True)))
    return OptimizeResult(
        corridor=ct,
        speed_ms=float(speed_ms),
        direction=direction,
        weight_backward=float(weight_backward),
        target_ratio=None if target_ratio is None else float(target_ratio),
        step_s=float(step_s),
        offsets_before_s=np.asarray(ct.offset_s, dtype=float),
        offsets_after_s=new,
        before=before,
        after=after,
        objective_before_s=objective(before, direction, weight_backward, target_ratio),
        objective_after_s=objective(after, direction, weight_backward, target_ratio),
        scenario=out,
    )
