"""Seeded demand: every arrival and every driver of a run, drawn before the run starts.

Drawing the whole population up front, from random streams that depend only on the scenario's
demand and driver settings and the seed, gives common random numbers: a baseline run and an
advisory run (any penetration, any compliance) see the same vehicles arriving at the same
times with the same desired speeds.  Whether a driver is equipped or complies is decided by
comparing a pre-drawn uniform number with the penetration or compliance rate, so raising the
penetration only adds equipped drivers (the sets are nested).

Arrivals at each entry are a Poisson process with piecewise-constant rate
``flow_veh_h × scale × profile factor / 3600`` (per second).  Each entry gets its own random
stream (``numpy.random.SeedSequence([seed, entry index])``), so adding an entry does not change
the others' arrivals.  Vehicles with explicit departures (``demand.vehicles``) are added as
given; what they leave open (lane, desired speed) and their equipment draws come from a second
stream per entry (``SeedSequence([seed, entry index, 1])``), so they change no Poisson arrival.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenwave.movements import LEFT, RIGHT, THROUGH
from greenwave.network import Network
from greenwave.scenario import Scenario


@dataclass(frozen=True)
class Arrivals:
    """All vehicles of a run, sorted by entry then time (A arrivals).

    Attributes
    ----------
    time_s : (A,) float, arrival at the entry (simulation seconds)
    entry : (A,) int, index into ``entry_links``
    lane : (A,) int, lane of the entry link
    desired_factor : (A,) float, desired speed / speed limit
    u_equip, u_comply : (A,) float in [0, 1), compared with penetration / compliance
    entry_links : (E,) int, network link index of each entry
    route : (A,) int or None, row of ``route_links`` each vehicle drives (None: straight on
        from its entry link, row = entry index)
    route_links : (R, H) int or None, link indices of each route, -1 padding
    """

    time_s: np.ndarray
    entry: np.ndarray
    lane: np.ndarray
    desired_factor: np.ndarray
    u_equip: np.ndarray
    u_comply: np.ndarray
    entry_links: np.ndarray
    route: np.ndarray | None = None
    route_links: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.time_s)


def entry_flows_veh_h(scenario: Scenario, network: Network) -> dict[int, tuple[float, list]]:
    """Flow (veh/h, scaled) and profile [[t_s, factor], ...] of each entry link index."""
    dem = scenario.demand
    listed = {network.link_index[e.link]: e for e in dem.entries}
    out = {}
    for li in network.entry_links:
        li = int(li)
        if li in listed:
            e = listed[li]
            flow, prof = e.flow_veh_h, e.profile or [(0.0, 1.0)]
        else:
            flow, prof = dem.flow_veh_h_per_lane * int(network.link_lanes[li]), [(0.0, 1.0)]
        out[li] = (flow * dem.scale, [tuple(p) for p in prof])
    return out


def _truncated_normal(rng, mean, sd, lo, hi, n):
    """Draws from N(mean, sd) restricted to [lo, hi] by rejection (no mass piled at the ends)."""
    if sd == 0 or n == 0:
        return np.clip(np.full(n, mean), lo, hi)
    out = rng.normal(mean, sd, n)
    bad = (out < lo) | (out > hi)
    for _ in range(1000):
        if not bad.any():
            return out
        out[bad] = rng.normal(mean, sd, bad.sum())
        bad = (out < lo) | (out > hi)
    raise ValueError("desired speed distribution has almost no mass inside [min, max]")


def draw_arrivals(scenario: Scenario, network: Network, seed: int, duration_s: float) -> Arrivals:
    """Draw every arrival and driver for ``[0, duration_s)`` from ``seed``."""
    drv = scenario.drivers
    flows = entry_flows_veh_h(scenario, network)
    explicit: dict[int, list] = {}
    for v in scenario.demand.vehicles:
        explicit.setdefault(network.link_index[v.link], []).append(v)
    cols = {k: [] for k in ("time", "entry", "lane", "factor", "ue", "uc", "explicit", "given")}
    entry_links = np.array(sorted(flows), dtype=np.int64)
    for e, li in enumerate(entry_links):
        flow, prof = flows[int(li)]
        rng = np.random.default_rng(np.random.SeedSequence([seed, e]))
        times = []
        edges = [p[0] for p in prof] + [duration_s]
        for (t0, factor), t1 in zip(prof, edges[1:], strict=True):
            t1 = min(t1, duration_s)
            if t1 <= t0:
                continue
            lam = flow * factor / 3600.0 * (t1 - t0)
            k = rng.poisson(lam)
            times.append(np.sort(rng.uniform(t0, t1, k)))
        t = np.concatenate(times) if times else np.empty(0)
        n = len(t)
        cols["time"].append(t)
        cols["entry"].append(np.full(n, e, dtype=np.int64))
        cols["lane"].append(rng.integers(0, int(network.link_lanes[li]), n))
        cols["factor"].append(
            _truncated_normal(
                rng,
                drv.desired_speed_factor_mean,
                drv.desired_speed_factor_sd,
                drv.desired_speed_factor_min,
                drv.desired_speed_factor_max,
                n,
            )
        )
        cols["ue"].append(rng.uniform(0.0, 1.0, n))
        cols["uc"].append(rng.uniform(0.0, 1.0, n))
        cols["explicit"].append(np.zeros(n, dtype=bool))
        cols["given"].append(np.zeros(n, dtype=bool))
        mine = [v for v in explicit.get(int(li), []) if v.depart_s < duration_s]
        if mine:
            _add_explicit(cols, mine, e, int(network.link_lanes[li]), drv, seed)

    def cat(key, dtype=float):
        return np.concatenate(cols[key]).astype(dtype) if cols[key] else np.empty(0, dtype)

    # Sorted by entry, then time (explicit vehicles merged in; stable: ties keep draw order).
    time, entry = cat("time"), cat("entry", np.int64)
    order = np.lexsort((time, entry))
    entry, lane = entry[order], cat("lane", np.int64)[order]
    route = route_links = None
    if turns_any(network.movements):
        explicit = cat("explicit", bool)[order]
        given = cat("given", bool)[order]
        route, route_links, lane = draw_routes(
            network, entry_links, entry, lane, seed, explicit=explicit, keep_lane=given
        )
    return Arrivals(
        time[order],
        entry,
        lane,
        cat("factor")[order],
        cat("ue")[order],
        cat("uc")[order],
        entry_links,
        route,
        route_links,
    )


def turns_any(mv) -> bool:
    """Whether any approach splits its traffic over more than one movement."""
    return bool(np.any((mv.share > 0.0) & (mv.share < 1.0)))


def movement_table(mv, n_links: int):
    """The movements of every link as (L, W) tables, W = most movements of a link.

    Returns ``to`` (next link, -1 padding), ``cum`` (cumulative shares, 2.0 padding: never
    chosen) and ``turn`` (LEFT / THROUGH / RIGHT).
    """
    counts = np.diff(mv.first)
    width = max(int(counts.max()) if counts.size else 1, 1)
    to = np.full((n_links, width), -1, dtype=np.int64)
    share = np.zeros((n_links, width))
    turn = np.full((n_links, width), THROUGH, dtype=np.int8)
    row = np.repeat(np.arange(n_links), counts)
    col = np.arange(mv.from_link.size) - mv.first[row]
    to[row, col] = mv.to_link
    share[row, col] = mv.share
    turn[row, col] = mv.turn
    cum = np.where(to >= 0, np.cumsum(share, axis=1), 2.0)
    return to, cum, turn


MAX_HOPS = 64
"""Longest route drawn, in links: beyond it vehicles go straight on (bounds a route that keeps
turning round the blocks of a grid; with turning shares of 10-30 % one in 10^30 gets there)."""


def draw_routes(
    network: Network, entry_links, entry, lane, seed: int, *, explicit=None, keep_lane=None
):
    """Draw every vehicle's route from the turning shares (``network.movements``).

    At the end of each link a vehicle takes one of the link's movements with the movement's
    share; a movement onto a link the route already drove is not taken (the next one that is
    new is; none: the route ends there).  The uniform numbers come from one stream per entry
    (``SeedSequence([seed, entry index, 2])``, ``MAX_HOPS`` per vehicle; explicit vehicles,
    ``explicit``, from ``[seed, entry index, 3]``), so the routes are common to every run with
    the same seed, and adding an entry, or explicit vehicles, changes no other drawn route.

    The entry lane follows the first turn: left turners start in the leftmost lane, right
    turners in the rightmost (lane 0), through vehicles keep their drawn lane; a lane the
    scenario gives (``keep_lane``) is kept.

    Parameters
    ----------
    entry_links : (E,) int; entry : (A,) int, index into it; lane : (A,) int, drawn lane

    Returns
    -------
    route : (A,) int, row of ``route_links``
    route_links : (R, H) int, distinct routes, link indices, -1 padding
    lane : (A,) int, entry lane
    """
    mv = network.movements
    n = entry.size
    u = np.empty((n, MAX_HOPS))
    explicit = np.zeros(n, dtype=bool) if explicit is None else np.asarray(explicit)
    for e in range(len(entry_links)):
        for tag, which in ((2, ~explicit), (3, explicit)):
            sel = np.flatnonzero((entry == e) & which)
            if sel.size:
                rng = np.random.default_rng(np.random.SeedSequence([seed, e, tag]))
                u[sel] = rng.uniform(0.0, 1.0, (sel.size, MAX_HOPS))
    to, cum, turn_of = movement_table(mv, network.n_links)
    path = np.full((n, MAX_HOPS + 1), -1, dtype=np.int64)
    cur = np.asarray(entry_links, dtype=np.int64)[entry]
    path[:, 0] = cur
    alive = np.ones(n, dtype=bool)
    first_turn = np.full(n, THROUGH, dtype=np.int8)
    for h in range(MAX_HOPS):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        c = cur[idx]
        cand_to = to[c]  # (k, 3) candidate next links, -1 padding
        # Chosen column, then the first later column (cyclically) onto a link not yet driven.
        pick = np.minimum((u[idx, h][:, None] >= cum[c]).sum(axis=1), to.shape[1] - 1)
        seen = (cand_to[:, :, None] == path[idx, None, : h + 1]).any(axis=2)
        usable = (
            (cand_to >= 0)
            & ~seen
            & (cum[c] > np.concatenate([np.zeros((c.size, 1)), cum[c][:, :-1]], axis=1))
        )
        width = to.shape[1]
        order = (pick[:, None] + np.arange(width)[None, :]) % width
        ok = np.take_along_axis(usable, order, axis=1)
        has = ok.any(axis=1)
        col = np.take_along_axis(order, np.argmax(ok, axis=1)[:, None], axis=1)[:, 0]
        nxt = np.where(has, cand_to[np.arange(c.size), col], -1)
        if h == 0:
            first_turn[idx] = np.where(has, turn_of[c, col], THROUGH)
        alive[idx[~has]] = False
        go = idx[has]
        cur[go] = nxt[has]
        path[go, h + 1] = nxt[has]
    routes, route = np.unique(path, axis=0, return_inverse=True)
    lanes = network.link_lanes[np.asarray(entry_links)[entry]]
    by_turn = np.where(first_turn == LEFT, lanes - 1, np.where(first_turn == RIGHT, 0, lane))
    lane = by_turn if keep_lane is None else np.where(keep_lane, lane, by_turn)
    width = int((routes >= 0).sum(axis=1).max()) if routes.size else 1
    return route.reshape(-1).astype(np.int64), routes[:, :width], lane


def _add_explicit(cols: dict, vehicles: list, e: int, n_lanes: int, drv, seed: int) -> None:
    """Append the explicit vehicles of entry ``e`` to the columns (see the module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, e, 1]))
    n = len(vehicles)
    lane = rng.integers(0, n_lanes, n)
    factor = _truncated_normal(
        rng,
        drv.desired_speed_factor_mean,
        drv.desired_speed_factor_sd,
        drv.desired_speed_factor_min,
        drv.desired_speed_factor_max,
        n,
    )
    given_lane = np.array([-1 if v.lane is None else v.lane for v in vehicles])
    given_factor = np.array(
        [np.nan if v.desired_speed_factor is None else v.desired_speed_factor for v in vehicles]
    )
    cols["time"].append(np.array([v.depart_s for v in vehicles], dtype=float))
    cols["entry"].append(np.full(n, e, dtype=np.int64))
    cols["lane"].append(np.where(given_lane >= 0, given_lane, lane))
    cols["factor"].append(np.where(np.isnan(given_factor), factor, given_factor))
    cols["ue"].append(rng.uniform(0.0, 1.0, n))
    cols["uc"].append(rng.uniform(0.0, 1.0, n))
    cols["explicit"].append(np.ones(n, dtype=bool))
    cols["given"].append(given_lane >= 0)
