"""Road network as arrays: intersections, directed approach links, successors and geometry.

A link is a directed approach that ends at the stop line of its downstream intersection (the
intersection centre: intersection width is not modelled) or, for an exit link, leaves the
network.  ``next`` is its straight-through successor; the turning movements at every stop line
(:mod:`greenwave.movements`) say where else a vehicle may go.  Corridors and grids in the scenario
are expanded into plain links by :mod:`greenwave.expand`.

Arrays are indexed by link (L) and intersection (I).  Speeds in m/s, lengths in metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .expand import Expanded, expand_links  # noqa: F401  (Expanded re-exported)
from .geo import LocalProjection, bearing_deg, haversine_m
from .movements import THROUGH, TURN_NAMES, Movements, build_movements
from .scenario import Scenario
from .spat import SignalTiming
from .timing import PlanTable
from .units import kmh_to_ms


@dataclass(frozen=True)
class Network:
    """Links and intersections as arrays.

    Attributes
    ----------
    intersection_ids, intersection_names : list[str], length I
    intersection_lonlat : (I, 2) float64
    link_ids : list[str], length L
    link_length_m, link_speed_limit_ms : (L,) float64
    link_lanes : (L,) int64
    link_intersection : (L,) int64, intersection at the link's end (stop line), -1 for exit
        links
    link_from_intersection : (L,) int64, intersection where the link starts, -1 for entry links
    link_group : (L,) int64, global signal group index (:class:`PlanTable`), -1 = none
    link_next : (L,) int64, straight-through successor, -1 = none
    link_lonlat : list of (P, 2) float64 polylines
    link_xy : list of (P, 2) float64 polylines in the local projection (m)
    link_cum_m : list of (P,) cumulative distance along each polyline (m), scaled so that the
        last value equals ``link_length_m`` (great-circle length)
    corridors : list of (id, name, (K,) int64 link indices in order)
    projection : LocalProjection
    movements : Movements
        The turning movements at the stop lines, (M,) arrays with CSR offsets by link; a
        network without turns has one THROUGH movement (share 1) per link with a ``next``.
    """

    intersection_ids: list[str]
    intersection_names: list[str]
    intersection_lonlat: np.ndarray
    link_ids: list[str]
    link_length_m: np.ndarray
    link_speed_limit_ms: np.ndarray
    link_lanes: np.ndarray
    link_intersection: np.ndarray
    link_from_intersection: np.ndarray
    link_group: np.ndarray
    link_next: np.ndarray
    link_lonlat: list[np.ndarray]
    link_xy: list[np.ndarray]
    link_cum_m: list[np.ndarray]
    corridors: list[tuple[str, str, np.ndarray]]
    projection: LocalProjection
    movements: Movements
    link_index: dict[str, int] = field(repr=False)
    intersection_index: dict[str, int] = field(repr=False)
    _ahead: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def entry_links(self) -> np.ndarray:
        """Indices of links that no link leads into (where vehicles enter)."""
        has_pred = np.zeros(self.n_links, dtype=bool)
        nxt = self.link_next[self.link_next >= 0]
        has_pred[nxt] = True
        return np.flatnonzero(~has_pred)

    def path_ahead(
        self, link, offset_m, m: int, turn=None, *, return_movement=False, cap_turn_speed=True
    ):
        """The next ``m`` signalised stop lines along each vehicle's path.

        The path goes straight on (each link's ``next``), except for a vehicle that turns at its
        next signalised stop line (``turn`` LEFT or RIGHT): that stop line is controlled by the
        turning movement's own signal group (a protected left's arrow), its limit is capped at
        the movement's turn speed (:attr:`Movements.turn_speed_ms`: the stop line is crossed
        into the curve), and the stop lines after it are those straight on from the movement's
        target link (none where the target leaves the network).  Unsignalised nodes on the way
        to the next stop line are passed straight on.

        A lookup in per-link tables built once per ``m`` (:meth:`_ahead_table`), so a call
        costs a few gathers whatever the network.

        Parameters
        ----------
        link : (N,) int
            Current link index.
        offset_m : (N,) float
            Distance travelled along the link from its start (m).
        m : int
        turn : (N,) int, optional
            Turn taken at the next signalised stop line (:data:`greenwave.movements.LEFT`,
            ``THROUGH`` or ``RIGHT``); None (the default) or THROUGH: straight on, exactly as
            without it.  A turn the approach has no movement for is a ValueError: check with
            :meth:`movement_ahead` first.
        cap_turn_speed : bool
            Cap the turners' first limit at the turn speed (default); False leaves the street's
            limit (the bands of :func:`greenwave.advice.advise` brake into the turn themselves).
        return_movement : bool
            Also return ``movement`` (N,) int64: the row of :attr:`movements` each turner takes
            at its next stop line, -1 for vehicles going straight on (as ``numpy.unique``'s
            ``return_index``).

        Returns
        -------
        dist_m : (N, m) float64, NaN beyond the end of the path
        group : (N, m) int64, global signal group, -1 beyond the end
        limit_ms : (N, m) float64, lowest limit on the stretch before each stop line (m/s)
        stop_link : (N, m) int64, the link whose downstream end is that stop line, -1 beyond
        """
        dist0, group, limit, stop_link = self._table(m)
        link = np.asarray(link, dtype=np.int64)
        # np.take along rows: ~10x faster than fancy indexing for these narrow (L, m) tables.
        dist = np.take(dist0, link, axis=0)
        dist -= np.asarray(offset_m, dtype=float)[:, None]
        group = np.take(group, link, axis=0)
        limit = np.take(limit, link, axis=0)
        stop_link = np.take(stop_link, link, axis=0)
        movement = np.full(link.shape, -1, dtype=np.int64)
        out = (dist, group, limit, stop_link, movement) if return_movement else None
        if turn is None or m == 0:
            return out or (dist, group, limit, stop_link)
        turn = np.broadcast_to(np.asarray(turn, dtype=np.int64), link.shape)
        turning = (turn != THROUGH) & (stop_link[:, 0] >= 0)
        if not turning.any():
            return out or (dist, group, limit, stop_link)
        mvs = self.movements
        mv = mvs.find(stop_link[:, 0], turn)
        if (turning & (mv < 0)).any():
            self._missing_turn(stop_link[:, 0], turn, mv, turning)
        np.copyto(movement, mv, where=turning)
        # Whole-array selects rather than scattering into the turners' rows: the straight-on
        # rows keep their values bit for bit.
        mv = np.maximum(mv, 0)
        np.copyto(group[:, 0], np.take(mvs.group, mv), where=turning)
        if cap_turn_speed:
            np.copyto(
                limit[:, 0], np.minimum(limit[:, 0], np.take(mvs.turn_speed_ms, mv)), where=turning
            )
        if m > 1:
            # From the target link's start (the intersection the turn is made at) straight on.
            d_t, g_t, l_t, s_t = self._table(m - 1)
            target = np.take(mvs.to_link, mv)
            col = turning[:, None]
            after = np.take(d_t, target, axis=0)
            after += dist[:, :1]
            np.copyto(dist[:, 1:], after, where=col)
            np.copyto(group[:, 1:], np.take(g_t, target, axis=0), where=col)
            np.copyto(limit[:, 1:], np.take(l_t, target, axis=0), where=col)
            np.copyto(stop_link[:, 1:], np.take(s_t, target, axis=0), where=col)
        return out or (dist, group, limit, stop_link)

    def movement_ahead(self, link, turn) -> tuple[np.ndarray, np.ndarray]:
        """Where each vehicle meets its next signalised stop line, and the movement it takes.

        ``link`` : (N,) int, ``turn`` : (N,) int.  Returns ``approach`` (N,) int64, the link
        ending at that stop line (-1: none ahead on the straight path), and ``movement`` (N,)
        int64, the row of :attr:`movements` for ``turn`` there (-1: none ahead, or the approach
        has no such movement).  A LEFT or RIGHT with ``approach >= 0`` and ``movement < 0`` is a
        turn :meth:`path_ahead` refuses.
        """
        approach = self._table(1)[3][np.asarray(link, dtype=np.int64), 0]
        return approach, self.movements.find(approach, turn)

    def _missing_turn(self, approach, turn, mv, turning) -> None:
        """Raise the ValueError of :meth:`path_ahead` for the first vehicle whose approach has
        no movement for its turn; all arguments (N,)."""
        bad = np.flatnonzero(turning & (mv < 0))
        k = int(bad[0])
        a = int(approach[k])
        inter = self.intersection_ids[self.link_intersection[a]]
        raise ValueError(
            f"turn: vehicle {k} turns {TURN_NAMES[int(turn[k])]} at intersection '{inter}' "
            f"(approach '{self.link_ids[a]}'), which has no such movement (it has: "
            f"{self.movements.describe(a, self.link_ids)}); {bad.size} vehicle(s) in all"
        )

    def _table(self, m: int):
        """The path-ahead table for ``m`` stop lines (:meth:`_ahead_table`), built once."""
        table = self._ahead.get(m)
        if table is None:
            table = self._ahead[m] = self._ahead_table(m)
        return table

    def _ahead_table(self, m: int):
        """Path ahead of every link from its start: (L, m) arrays as :meth:`path_ahead`."""
        every = np.arange(self.n_links)
        return self._walk_ahead(every, np.zeros(self.n_links), m)

    def _walk_ahead(self, link, offset_m, m: int):
        """Walk the successor links (bounded: no infinite loops on rings); see path_ahead."""
        link = np.asarray(link, dtype=np.int64)
        n = link.shape[0]
        cur = link.copy()
        rem = self.link_length_m[cur] - np.asarray(offset_m, dtype=float)
        lim = self.link_speed_limit_ms[cur].copy()
        alive = np.ones(n, dtype=bool)
        dist = np.full((n, m), np.nan)
        group = np.full((n, m), -1, dtype=np.int64)
        limit = np.full((n, m), np.nan)
        stop_link = np.full((n, m), -1, dtype=np.int64)
        max_hops = self.n_links
        for j in range(m):
            # Walk over unsignalised nodes to the next stop line (bounded: no infinite loops).
            for _ in range(max_hops):
                walk = alive & (self.link_group[cur] < 0)
                if not walk.any():
                    break
                nxt = self.link_next[cur]
                alive &= ~(walk & (nxt < 0))
                walk &= alive
                cur = np.where(walk, nxt, cur)
                rem = np.where(walk, rem + self.link_length_m[cur], rem)
                lim = np.where(walk, np.minimum(lim, self.link_speed_limit_ms[cur]), lim)
            dist[alive, j] = rem[alive]
            group[alive, j] = self.link_group[cur[alive]]
            limit[alive, j] = lim[alive]
            stop_link[alive, j] = cur[alive]
            nxt = self.link_next[cur]
            alive &= nxt >= 0
            cur = np.where(alive, nxt, cur)
            rem = np.where(alive, rem + self.link_length_m[cur], rem)
            lim = np.where(alive, self.link_speed_limit_ms[cur], lim)
        return dist, group, limit, stop_link

    def point_at(self, link: int, offset_m: float):
        """(lon, lat) and bearing (deg) at ``offset_m`` along a link."""
        cum = self.link_cum_m[link]
        xy = self.link_xy[link]
        s = float(np.clip(offset_m, 0.0, cum[-1]))
        k = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(cum) - 2))
        seg = cum[k + 1] - cum[k]
        f = (s - cum[k]) / seg if seg > 0 else 0.0
        x = xy[k, 0] + f * (xy[k + 1, 0] - xy[k, 0])
        y = xy[k, 1] + f * (xy[k + 1, 1] - xy[k, 1])
        lon, lat = self.projection.to_lonlat(x, y)
        brg = bearing_deg(xy[k + 1, 0] - xy[k, 0], xy[k + 1, 1] - xy[k, 1])
        return float(lon), float(lat), float(brg)


def build_network(scenario: Scenario) -> tuple[Network, PlanTable]:
    """Arrays for a validated scenario: the network and its signal plan table.

    The movements' turning speeds come from ``scenario.drivers`` (``turn_*``).
    """
    exp = expand_links(scenario)
    plans = PlanTable.from_plans((it.id, it.plan) for it in exp.intersections)
    inter_index = {it.id: k for k, it in enumerate(exp.intersections)}
    lonlat = np.array([[it.lon, it.lat] for it in exp.intersections], dtype=float).reshape(-1, 2)
    proj = LocalProjection(float(lonlat[:, 0].mean()), float(lonlat[:, 1].mean()))
    link_index = {ln.id: k for k, ln in enumerate(exp.links)}
    polys = [np.asarray(ln.polyline, dtype=float) for ln in exp.links]
    xy, cum, length = [], [], []
    for p in polys:
        x, y = proj.to_xy(p[:, 0], p[:, 1])
        xy.append(np.column_stack([x, y]))
        seg = haversine_m(p[:-1, 0], p[:-1, 1], p[1:, 0], p[1:, 1])
        c = np.concatenate([[0.0], np.cumsum(seg)])
        cum.append(c)
        length.append(c[-1])
    inter = np.array(
        [inter_index.get(ln.to, -1) if ln.to else -1 for ln in exp.links], dtype=np.int64
    )
    grp = np.array(
        [
            plans.index[(ln.to, ln.signal_group)] if ln.to and ln.signal_group else -1
            for ln in exp.links
        ],
        dtype=np.int64,
    )
    nxt = np.array([link_index[ln.next] if ln.next else -1 for ln in exp.links], dtype=np.int64)
    net = Network(
        intersection_ids=[it.id for it in exp.intersections],
        intersection_names=[it.name or it.id for it in exp.intersections],
        intersection_lonlat=lonlat,
        link_ids=[ln.id for ln in exp.links],
        link_length_m=np.asarray(length, dtype=float),
        link_speed_limit_ms=kmh_to_ms(
            np.array([ln.speed_limit_kmh for ln in exp.links], dtype=float)
        ),
        link_lanes=np.array([ln.lanes for ln in exp.links], dtype=np.int64),
        link_intersection=inter,
        link_from_intersection=exp.movements.link_start,
        link_group=grp,
        link_next=nxt,
        link_lonlat=polys,
        link_xy=xy,
        link_cum_m=cum,
        corridors=[
            (cid, name, np.array([link_index[i] for i in ids])) for cid, name, ids in exp.corridors
        ],
        projection=proj,
        movements=build_movements(
            exp.movements,
            plans,
            lateral_accel_ms2=scenario.drivers.turn_lateral_accel_ms2,
            radius_left_m=scenario.drivers.turn_radius_left_m,
            radius_right_m=scenario.drivers.turn_radius_right_m,
        ),
        link_index=link_index,
        intersection_index=inter_index,
    )
    return net, plans


@dataclass(frozen=True)
class World:
    """Everything the simulator and the API need from a scenario, built once."""

    scenario: Scenario
    network: Network
    timing: SignalTiming

    @classmethod
    def build(cls, scenario: Scenario) -> World:
        net, plans = build_network(scenario)
        return cls(scenario, net, SignalTiming(plans))

    @property
    def epoch_s(self) -> float:
        """Absolute time (s) of simulation second 0."""
        return self.scenario.simulation.epoch_s
