"""Turning movements: where a vehicle may go at the end of its approach, on which signal group,
how likely, and how fast it can take the turn.

A *movement* leads from an approach link (one that ends at an intersection's stop line) onto a
link that starts at that intersection.  They are found from the network:

- **Start of a link**: the intersection ``to`` of a link whose ``next`` it is (the first such
  link in file order); otherwise, for a link written out in ``[[links]]``, the intersection
  nearest to its first polyline point if within :data:`START_RADIUS_M` (other than the one it
  ends at); otherwise none (an entry link).
- **Candidates** at an approach ending at ``I`` are the links starting at ``I``.  ``next`` is
  always the THROUGH movement; the others are classified by the heading change Δ from the
  approach's last polyline segment to the candidate's first one (compass bearings, clockwise;
  right-hand traffic): ``|Δ| ≤ 45°`` through, Δ from +45° to +150° a right turn, from −45° to
  −150° a left turn, beyond ±150° a U-turn (not a movement).  Of two candidates for the same
  turn the one closer to the ideal heading change (0°, +90°, −90°) is kept, so an approach has
  at most one movement per turn.  A link's ``movements`` list replaces this classification.
- **Signal group**: the approach's ``signal_group``, or its ``turn_groups`` entry for that turn
  (a protected left on its own arrow); no group means an unsignalised approach.
- **Opposing approach** of a left turn: the approach entering the same intersection whose last
  heading is closest to the opposite of this one (at least :data:`OPPOSING_MIN_DEG` apart); a
  permitted left yields to it.
- **Turning speed**: the highest speed at which a driver takes the junction curve,
  ``v = sqrt(a_lat · R)`` with the drivers' lateral acceleration ``a_lat`` and the turn's radius
  ``R`` (``drivers.turn_*``); infinite for through movements.
- **Shares** (``demand.turning``, ``demand.turns``): the probability that a vehicle on the
  approach takes each movement.  ``demand.turns`` gives an approach's shares exactly (they sum
  to 1, and a turn the approach does not have gets 0); ``demand.turning`` applies to every other
  approach, renormalised over the movements it has (a T-junction without a left spreads the left
  share over through and right in proportion); without either an approach goes through.  Where
  the shares of an approach's movements sum to 0 the through movement takes 1 — and an approach
  without a through movement then keeps shares 0 everywhere: its vehicles end their trip at the
  stop line, as they did before turns existed.

:func:`find_movements` does this by link position in the written-out network (raising
ValueError naming the field path and the intersection; the scenario runs it when it validates)
and :func:`build_movements` turns the result into the arrays of :class:`Movements` that
:class:`greenwave.network.Network` carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from .elements import IntersectionModel, LinkModel
from .geo import LocalProjection, angle_diff_deg, bearing_deg
from .timing import PlanTable

LEFT, THROUGH, RIGHT = 0, 1, 2
TURN_NAMES = ("left", "through", "right")

THROUGH_MAX_DEG = 45.0
"""Largest heading change of a through movement."""
TURN_MAX_DEG = 150.0
"""Largest heading change of a turn; beyond it a movement is a U-turn and is dropped."""
OPPOSING_MIN_DEG = 135.0
"""Smallest heading difference of an approach opposing a left turn (within 45° of opposite)."""
START_RADIUS_M = 20.0
"""A written-out link without a predecessor starts at the nearest intersection this close."""
SHARE_TOLERANCE = 1e-6
"""Turning shares of an approach must sum to 1 within this."""

# Ideal heading change (deg) of each turn, to pick one of two candidates for the same turn.
_IDEAL_DEG = np.array([-90.0, 0.0, 90.0])


@dataclass(frozen=True)
class Movements:
    """Turning movements of a network, (M,) arrays sorted by from_link, then turn.

    Attributes
    ----------
    from_link : (M,) int64
        Approach link (ends at an intersection).
    to_link : (M,) int64
        Link the movement enters (starts at that intersection).
    turn : (M,) int8
        :data:`LEFT`, :data:`THROUGH` or :data:`RIGHT`.
    group : (M,) int64
        Global signal group (:attr:`greenwave.timing.PlanTable.index`) that controls the
        movement; -1 = unsignalised approach.
    share : (M,) float64
        Probability that a vehicle on ``from_link`` takes it; sums to 1 over each approach's
        movements, or to 0 where an approach without a through movement has no turning demand
        (its vehicles end their trip at the stop line).
    opposing_link : (M,) int64
        For LEFT: the approach entering the same intersection from the opposite direction (the
        one a permitted left yields to), else -1 (also for a left without an opposing approach).
    turn_speed_ms : (M,) float64
        Highest speed (m/s) to cross the stop line on this movement: inf for THROUGH,
        ``sqrt(a_lat · R)`` for turns.
    first : (L+1,) int64
        CSR offsets: the movements of link ``l`` are rows ``first[l]:first[l + 1]``.
    """

    from_link: np.ndarray
    to_link: np.ndarray
    turn: np.ndarray
    group: np.ndarray
    share: np.ndarray
    opposing_link: np.ndarray
    turn_speed_ms: np.ndarray
    first: np.ndarray

    @property
    def size(self) -> int:
        """Number of movements M."""
        return int(self.from_link.shape[0])

    def of(self, link: int) -> slice:
        """Rows of the movements of one link."""
        return slice(int(self.first[link]), int(self.first[link + 1]))

    def find(self, link, turn) -> np.ndarray:
        """Row of the movement ``turn`` of approach ``link``, per vehicle; -1 where the approach
        has no such movement (or ``link`` is -1).

        ``link`` : (N,) int, ``turn`` : (N,) int (:data:`LEFT`, :data:`THROUGH`, :data:`RIGHT`)
        → (N,) int64.  A gather from an (L + 1, 3) table of rows built once (a binary search
        in the rows' sorted ``(from_link, turn)`` keys costs ~10× more per vehicle).
        """
        link = np.asarray(link, dtype=np.int64)
        turn = np.broadcast_to(np.asarray(turn, dtype=np.int64), link.shape)
        # Row L of the table is all -1: link -1 lands there.
        return self._rows[np.where(link < 0, self.first.shape[0] - 1, link), turn]

    def describe(self, link: int, link_ids: Sequence[str]) -> str:
        """The movements of approach ``link`` as text for messages, e.g. ``"left onto 'a',
        through onto 'b'"`` (``link_ids``: the network's link ids); ``"none"`` without any."""
        rows = self.of(link)
        return (
            ", ".join(
                f"{TURN_NAMES[int(t)]} onto '{link_ids[int(b)]}'"
                for t, b in zip(self.turn[rows], self.to_link[rows], strict=True)
            )
            or "none"
        )

    @cached_property
    def _rows(self) -> np.ndarray:
        """(L + 1, 3) int64: the row of each link's movement per turn, -1 for none; the last row
        (no link) is all -1."""
        rows = np.full((self.first.shape[0], len(TURN_NAMES)), -1, dtype=np.int64)
        rows[self.from_link, self.turn] = np.arange(self.size)
        rows.setflags(write=False)
        return rows


@dataclass(frozen=True)
class MovementSpec:
    """Movements of a written-out network (:class:`greenwave.expand.Expanded`) by link position.

    The arrays are as in :class:`Movements` (indices into ``Expanded.links``); the signal group
    is still a name: ``group_key[m]`` is ``(intersection id, group id)``, None when unsignalised.
    ``link_start`` : (L,) int64, index into ``Expanded.intersections`` of the intersection each
    link starts at, -1 for entry links.
    """

    from_link: np.ndarray
    to_link: np.ndarray
    turn: np.ndarray
    group_key: list[tuple[str, str] | None]
    share: np.ndarray
    opposing_link: np.ndarray
    first: np.ndarray
    link_start: np.ndarray


def turn_speed_ms(
    turn: np.ndarray, lateral_accel_ms2: float, radius_left_m: float, radius_right_m: float
) -> np.ndarray:
    """Highest speed (m/s) through each movement's curve, ``sqrt(a_lat · R)``; inf for THROUGH.

    A vehicle on a circle of radius ``R`` at speed ``v`` has lateral acceleration ``v² / R``;
    SUMO limits turning speeds the same way (netconvert ``junctions.limit-turn-speed``, an
    average lateral acceleration, default 5.5 m/s²).  ``turn`` : (M,) int.
    """
    turn = np.asarray(turn)
    radius = np.where(turn == LEFT, radius_left_m, radius_right_m)
    return np.where(turn == THROUGH, np.inf, np.sqrt(lateral_accel_ms2 * radius))


def build_movements(
    spec: MovementSpec,
    plans: PlanTable,
    lateral_accel_ms2: float,
    radius_left_m: float,
    radius_right_m: float,
) -> Movements:
    """The arrays of a network's movements: group names resolved to ``plans``' global indices,
    turning speeds from the drivers' lateral acceleration (m/s²) and turn radii (m)."""
    group = np.array(
        [-1 if key is None else plans.index[key] for key in spec.group_key], dtype=np.int64
    )
    speed = turn_speed_ms(spec.turn, lateral_accel_ms2, radius_left_m, radius_right_m)
    arrays = dict(
        from_link=spec.from_link,
        to_link=spec.to_link,
        turn=spec.turn,
        group=group,
        share=spec.share,
        opposing_link=spec.opposing_link,
        turn_speed_ms=speed.astype(np.float64),
        first=spec.first,
    )
    for a in arrays.values():
        a.setflags(write=False)
    return Movements(**arrays)


# --------------------------------------------------------------------------- finding them
def find_movements(
    intersections: Sequence[IntersectionModel],
    links: Sequence[LinkModel],
    n_generated: int,
    demand: Any,
) -> MovementSpec:
    """Movements, groups and shares of a written-out network; raises ValueError with a path.

    ``links[:n_generated]`` were generated (corridors, grid), the rest are the scenario's
    ``[[links]]`` in file order; references (``to``, ``next``, ``signal_group``) must already be
    checked.  ``demand`` is the scenario's :class:`~greenwave.scenario.DemandModel` (its
    ``turning`` and ``turns`` are read).
    """
    n = len(links)
    inter_ids = [it.id for it in intersections]
    inter_index = {iid: k for k, iid in enumerate(inter_ids)}
    link_index = {ln.id: k for k, ln in enumerate(links)}

    def path(k: int) -> str:
        return f"links[{k - n_generated}]" if k >= n_generated else f"link '{links[k].id}'"

    to = np.array([-1 if ln.to is None else inter_index[ln.to] for ln in links], dtype=np.int64)
    nxt = np.array([-1 if ln.next is None else link_index[ln.next] for ln in links], np.int64)
    head_in, head_out = _end_bearings(links)
    start = _link_starts(intersections, links, n_generated, to, nxt)
    _check_turn_groups(intersections, links, inter_index, path)

    frm, dst, turn = _geometric(to, nxt, start, head_in, head_out)
    explicit = [k for k, ln in enumerate(links) if ln.movements is not None]
    if explicit:
        frm, dst, turn = _with_explicit(
            explicit, frm, dst, turn, links, link_index, start, inter_ids, path
        )
    order = np.lexsort((turn, frm))
    frm, dst, turn = frm[order], dst[order], turn[order]
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n), out=first[1:])

    group_key: list[tuple[str, str] | None] = []
    for a, t in zip(frm.tolist(), turn.tolist(), strict=True):
        ln = links[a]
        name = getattr(ln.turn_groups, TURN_NAMES[t]) if ln.turn_groups is not None else None
        name = name or ln.signal_group
        group_key.append(None if name is None or ln.to is None else (ln.to, name))
    _check_all_or_none_signalised(frm, turn, group_key, links, path)

    opposing_of = _opposing(to, head_in)
    opposing = np.where(turn == LEFT, opposing_of[frm], -1).astype(np.int64)
    share = _shares(demand, frm, dst, turn, first, to, links, link_index, inter_ids)
    return MovementSpec(
        from_link=frm.astype(np.int64),
        to_link=dst.astype(np.int64),
        turn=turn.astype(np.int8),
        group_key=group_key,
        share=share,
        opposing_link=opposing,
        first=first,
        link_start=start,
    )


def _end_bearings(links: Sequence[LinkModel]) -> tuple[np.ndarray, np.ndarray]:
    """Compass bearings (deg) of each link's last segment (heading into its end) and first
    segment (heading out of its start); repeated points are skipped."""
    seg_in = np.empty((len(links), 4))
    seg_out = np.empty((len(links), 4))
    for k, ln in enumerate(links):
        p = ln.polyline
        a = next((q for q in p[1:] if q != p[0]), p[1])
        b = next((q for q in p[-2::-1] if q != p[-1]), p[-2])
        seg_out[k] = (*p[0], *a)
        seg_in[k] = (*b, *p[-1])
    return _bearing(seg_in), _bearing(seg_out)


def _bearing(seg: np.ndarray) -> np.ndarray:
    """Bearing (deg) of (K, 4) lon/lat segments [lon1, lat1, lon2, lat2] (local flat earth)."""
    coslat = np.cos(np.radians((seg[:, 1] + seg[:, 3]) / 2))
    return np.asarray(bearing_deg((seg[:, 2] - seg[:, 0]) * coslat, seg[:, 3] - seg[:, 1]))


def _link_starts(
    intersections: Sequence[IntersectionModel],
    links: Sequence[LinkModel],
    n_generated: int,
    to: np.ndarray,
    nxt: np.ndarray,
) -> np.ndarray:
    """(L,) index of the intersection each link starts at, -1 for entry links."""
    start = np.full(len(links), -1, dtype=np.int64)
    has = (nxt >= 0) & (to >= 0)
    succ, first_pred = np.unique(nxt[has], return_index=True)  # the first predecessor wins
    start[succ] = to[has][first_pred]
    loose = np.flatnonzero(start[n_generated:] < 0) + n_generated
    if loose.size and intersections:
        lonlat = np.array([[it.lon, it.lat] for it in intersections], dtype=float)
        proj = LocalProjection(float(lonlat[:, 0].mean()), float(lonlat[:, 1].mean()))
        tree = cKDTree(np.column_stack(proj.to_xy(lonlat[:, 0], lonlat[:, 1])))
        p0 = np.array([links[k].polyline[0] for k in loose.tolist()], dtype=np.float64)
        # Two nearest: a short link must not start at the intersection it ends at.
        dist, near = tree.query(
            np.column_stack(proj.to_xy(p0[:, 0], p0[:, 1])),
            k=2,
            distance_upper_bound=START_RADIUS_M,
        )
        own = near == to[loose][:, None]
        dist = np.where(own, np.inf, dist)
        pick = np.argmin(dist, axis=1)
        rows = np.arange(loose.size)
        found = np.isfinite(dist[rows, pick])
        start[loose[found]] = near[rows, pick][found]
    return start


def _pairs(left_key: np.ndarray, right_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``(i, j)`` with ``left_key[i] == right_key[j]`` (a sort-merge join)."""
    order = np.argsort(right_key, kind="stable")
    rk = right_key[order]
    lo = np.searchsorted(rk, left_key, side="left")
    cnt = np.searchsorted(rk, left_key, side="right") - lo
    i = np.repeat(np.arange(left_key.shape[0]), cnt)
    within = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return i, order[np.repeat(lo, cnt) + within]


def _geometric(
    to: np.ndarray,
    nxt: np.ndarray,
    start: np.ndarray,
    head_in: np.ndarray,
    head_out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from, to, turn) of the movements found from the geometry, at most one per turn."""
    appr = np.flatnonzero(to >= 0)
    outs = np.flatnonzero(start >= 0)
    i, j = _pairs(to[appr], start[outs])
    a, b = appr[i], outs[j]
    keep = (b != a) & (b != nxt[a])
    a, b = a[keep], b[keep]
    delta = (head_out[b] - head_in[a] + 180.0) % 360.0 - 180.0
    turn = np.where(
        delta > THROUGH_MAX_DEG, RIGHT, np.where(delta < -THROUGH_MAX_DEG, LEFT, THROUGH)
    )
    ok = np.abs(delta) <= TURN_MAX_DEG
    a, b, turn, delta = a[ok], b[ok], turn[ok], delta[ok]
    dev = np.abs(delta - _IDEAL_DEG[turn])
    # ``next`` is the through movement whatever its geometry: it ranks before any candidate.
    own = np.flatnonzero((to >= 0) & (nxt >= 0))
    a = np.concatenate([own, a])
    b = np.concatenate([nxt[own], b])
    turn = np.concatenate([np.full(own.shape, THROUGH), turn])
    dev = np.concatenate([np.full(own.shape, -1.0), dev])
    order = np.lexsort((b, dev, turn, a))
    a, b, turn = a[order], b[order], turn[order]
    best = np.ones(a.shape, dtype=bool)
    best[1:] = (a[1:] != a[:-1]) | (turn[1:] != turn[:-1])
    return a[best], b[best], turn[best]


def _with_explicit(
    explicit: list[int],
    frm: np.ndarray,
    dst: np.ndarray,
    turn: np.ndarray,
    links: Sequence[LinkModel],
    link_index: dict[str, int],
    start: np.ndarray,
    inter_ids: list[str],
    path: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace the movements of the links in ``explicit`` by their ``movements`` lists."""
    rows: list[tuple[int, int, int]] = []
    for k in explicit:
        ln = links[k]
        assert ln.movements is not None and ln.to is not None  # LinkModel checks
        by_turn: dict[int, int] = {}
        by_dst: dict[int, int] = {}
        for j, mv in enumerate(ln.movements):
            where = f"{path(k)}.movements[{j}]"
            b = link_index.get(mv.to_link)
            if b is None:
                raise ValueError(
                    f"{where}.to_link: unknown link '{mv.to_link}' (link '{ln.id}' ends at "
                    f"intersection '{ln.to}')"
                )
            if start[b] < 0 or inter_ids[start[b]] != ln.to:
                at = f"at intersection '{inter_ids[start[b]]}'" if start[b] >= 0 else "nowhere"
                raise ValueError(
                    f"{where}.to_link: link '{mv.to_link}' does not start at intersection "
                    f"'{ln.to}', where link '{ln.id}' ends (it starts {at})"
                )
            t = TURN_NAMES.index(mv.turn)
            if t in by_turn:
                raise ValueError(
                    f"{where}.turn: link '{ln.id}' already has a {mv.turn} movement at "
                    f"intersection '{ln.to}' (movements[{by_turn[t]}]); one per turn"
                )
            if b in by_dst:
                raise ValueError(
                    f"{where}.to_link: link '{mv.to_link}' is already listed at "
                    f"movements[{by_dst[b]}]"
                )
            if ln.next is not None and (mv.to_link == ln.next) != (t == THROUGH):
                raise ValueError(
                    f"{where}: link '{ln.id}' continues through intersection '{ln.to}' onto its "
                    f"next link '{ln.next}', so that is its through movement (got {mv.turn} "
                    f"onto '{mv.to_link}')"
                )
            by_turn[t] = j
            by_dst[b] = j
            rows.append((k, b, t))
        if ln.next is not None and THROUGH not in by_turn:
            rows.append((k, link_index[ln.next], THROUGH))
    drop = np.isin(frm, explicit)
    extra = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return (
        np.concatenate([frm[~drop], extra[:, 0]]),
        np.concatenate([dst[~drop], extra[:, 1]]),
        np.concatenate([turn[~drop], extra[:, 2]]),
    )


def _check_turn_groups(
    intersections: Sequence[IntersectionModel],
    links: Sequence[LinkModel],
    inter_index: dict[str, int],
    path: Any,
) -> None:
    """Every group a link's ``turn_groups`` names is in its intersection's plan."""
    for k, ln in enumerate(links):
        if ln.turn_groups is None:
            continue
        assert ln.to is not None  # LinkModel checks
        plan = intersections[inter_index[ln.to]].plan
        names = [g.id for g in plan.groups]
        for t in TURN_NAMES:
            grp = getattr(ln.turn_groups, t)
            if grp is not None and grp not in names:
                raise ValueError(
                    f"{path(k)}.turn_groups.{t}: no signal group '{grp}' in the plan of "
                    f"intersection '{ln.to}' (link '{ln.id}'; it has {', '.join(names)})"
                )


def _check_all_or_none_signalised(
    frm: np.ndarray,
    turn: np.ndarray,
    group_key: list[tuple[str, str] | None],
    links: Sequence[LinkModel],
    path: Any,
) -> None:
    """An approach is unsignalised (no movement has a group) or every movement has one: a
    vehicle must not find its turn uncontrolled beside signalised ones."""
    has = np.array([k is not None for k in group_key], dtype=bool)
    n_with = np.bincount(frm, weights=has, minlength=len(links))
    n_all = np.bincount(frm, minlength=len(links))
    mixed = np.flatnonzero((n_with > 0) & (n_with < n_all))
    if mixed.size:
        a = int(mixed[0])
        ln = links[a]
        rows = np.flatnonzero((frm == a) & ~has)
        free = ", ".join(TURN_NAMES[int(turn[r])] for r in rows)
        raise ValueError(
            f"{path(a)}.turn_groups: link '{ln.id}' has no signal_group at intersection "
            f"'{ln.to}', so its {free} movement(s) would have no signal group beside signalised "
            f"ones; give signal_group or turn_groups for them"
        )


def _opposing(to: np.ndarray, head_in: np.ndarray) -> np.ndarray:
    """(L,) for each approach the approach into the same intersection heading most nearly the
    opposite way (at least OPPOSING_MIN_DEG apart), -1 if none."""
    appr = np.flatnonzero(to >= 0)
    i, j = _pairs(to[appr], to[appr])
    a, c = appr[i], appr[j]
    diff = angle_diff_deg(head_in[a], head_in[c])
    ok = (a != c) & (diff >= OPPOSING_MIN_DEG)
    a, c, diff = a[ok], c[ok], diff[ok]
    order = np.lexsort((c, -diff, a))
    a, c = a[order], c[order]
    best = np.ones(a.shape, dtype=bool)
    best[1:] = a[1:] != a[:-1]
    out = np.full(to.shape, -1, dtype=np.int64)
    out[a[best]] = c[best]
    return out


# --------------------------------------------------------------------------- shares
def _shares(
    demand: Any,
    frm: np.ndarray,
    dst: np.ndarray,
    turn: np.ndarray,
    first: np.ndarray,
    to: np.ndarray,
    links: Sequence[LinkModel],
    link_index: dict[str, int],
    inter_ids: list[str],
) -> np.ndarray:
    """(M,) share of each movement (see the module docstring); checks ``demand.turns``."""
    n = len(links)
    base = np.zeros((n, 3))
    t = demand.turning
    base[:] = (0.0, 1.0, 0.0) if t is None else (t.left, t.through, t.right)
    listed: dict[int, int] = {}
    for k, e in enumerate(demand.turns):
        where = f"demand.turns[{k}]"
        a = link_index.get(e.link)
        if a is None:
            raise ValueError(f"{where}.link: unknown link '{e.link}'")
        if to[a] < 0:
            raise ValueError(
                f"{where}.link: link '{e.link}' ends at no intersection, so it has no turns"
            )
        at = f"at intersection '{inter_ids[to[a]]}'"
        if a in listed:
            raise ValueError(
                f"{where}.link: link '{e.link}' {at} is listed twice (also demand.turns"
                f"[{listed[a]}])"
            )
        listed[a] = k
        values = (e.left, e.through, e.right)
        for name, v in zip(TURN_NAMES, values, strict=True):
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(
                    f"{where}.{name}: the share of link '{e.link}' {at} must be a finite number "
                    f">= 0, not {v}"
                )
        sum_of = math.fsum(values)
        if abs(sum_of - 1.0) > SHARE_TOLERANCE:
            raise ValueError(
                f"{where}: the shares of link '{e.link}' {at} sum to {sum_of:.9g}, not 1 "
                "(left + through + right)"
            )
        rows = slice(int(first[a]), int(first[a + 1]))
        has = set(turn[rows].tolist())
        for tt, (name, v) in enumerate(zip(TURN_NAMES, values, strict=True)):
            if v > 0.0 and tt not in has:
                kind = "movement" if tt == THROUGH else "turn"
                it_has = ", ".join(
                    f"{TURN_NAMES[x]} to '{links[y].id}'"
                    for x, y in zip(turn[rows].tolist(), dst[rows].tolist(), strict=True)
                )
                raise ValueError(
                    f"{where}.{name}: link '{e.link}' has no {name} {kind} {at} (it has: "
                    f"{it_has or 'no movements'})"
                )
        base[a] = values
    raw = base[frm, turn]
    total = np.bincount(frm, weights=raw, minlength=n)
    share = np.divide(raw, total[frm], out=np.zeros_like(raw), where=total[frm] > 0)
    share[(total[frm] <= 0) & (turn == THROUGH)] = 1.0
    return share
