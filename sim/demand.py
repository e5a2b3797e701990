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
    """

    time_s: np.ndarray
    entry: np.ndarray
    lane: np.ndarray
    desired_factor: np.ndarray
    u_equip: np.ndarray
    u_comply: np.ndarray
    entry_links: np.ndarray

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
    cols = {k: [] for k in ("time", "entry", "lane", "factor", "ue", "uc")}
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
        mine = [v for v in explicit.get(int(li), []) if v.depart_s < duration_s]
        if mine:
            _add_explicit(cols, mine, e, int(network.link_lanes[li]), drv, seed)

    def cat(key, dtype=float):
        return np.concatenate(cols[key]).astype(dtype) if cols[key] else np.empty(0, dtype)

    # Sorted by entry, then time (explicit vehicles merged in; stable: ties keep draw order).
    time, entry = cat("time"), cat("entry", np.int64)
    order = np.lexsort((time, entry))
    return Arrivals(
        time[order],
        entry[order],
        cat("lane", np.int64)[order],
        cat("factor")[order],
        cat("ue")[order],
        cat("uc")[order],
        entry_links,
    )


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
