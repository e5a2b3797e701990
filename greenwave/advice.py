"""The one advisory call shared by the API and the simulator: position (and the turn taken at
the next signal) → path → speed bands and approach plans.  How the advice is told (records,
messages, rounding) is :mod:`greenwave.messages`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bands import BandParams, Bands, speed_bands
from .network import Network
from .plans import Plans, approach_plans
from .spat import SignalTiming


@dataclass(frozen=True)
class Advice:
    """Bands plus the path they were computed on (N vehicles × M stop lines ahead).

    Attributes
    ----------
    bands : Bands
    dist_m : (N, M) float64, distance to each stop line ahead (NaN beyond the path)
    group : (N, M) int64, controlling signal group (-1 = none)
    limit_ms : (N, M) float64, lowest speed limit before each stop line
    stop_link : (N, M) int64, link ending at each stop line (-1 = none)
    plan : Plans, the approach plan to the next stop line (:mod:`greenwave.plans`)
    movement : (N,) int64, row of ``network.movements`` taken at the first stop line by a
        vehicle that turns there (``turn`` LEFT or RIGHT); -1 where the path goes straight on
    """

    bands: Bands
    dist_m: np.ndarray
    group: np.ndarray
    limit_ms: np.ndarray
    stop_link: np.ndarray
    plan: Plans
    movement: np.ndarray


def advise(
    network: Network,
    timing: SignalTiming,
    params: BandParams,
    link,
    offset_m,
    speed_ms,
    t_s,
    m: int = 3,
    queue_delay_s=None,
    cruise_ms=None,
    queue_m=None,
    first_dist_m=None,
    turn=None,
) -> Advice:
    """Speed bands and approach plans for vehicles at ``offset_m`` along ``link`` driving at
    ``speed_ms`` at ``t_s``.

    Parameters
    ----------
    link : (N,) int, offset_m : (N,) float (m), speed_ms : (N,) float (m/s)
    t_s : (N,) float or scalar, absolute time (s)
    m : int, stop lines ahead to look at
    queue_delay_s : (N, m) float, optional queue discharge delay per stop line
    cruise_ms : (N,) float, optional speed each driver wants to cross the next stop line at
        (their desired speed; default: the speed limit), capped as the plans cap it
    queue_m : (N,) float, optional length of the standing queue before the next stop line
    first_dist_m : (N,) float, optional distance to the next stop line measured by the
        caller (e.g. along SUMO's lanes, junction-internal lanes included); replaces the
        network's for the first stop line, and the later ones move with it
    turn : (N,) int, optional turn each vehicle takes at its next signalised stop line
        (:data:`greenwave.movements.LEFT`, ``THROUGH``, ``RIGHT``; default THROUGH for all,
        which is the straight path).  A turner's first stop line is its movement's signal
        group, its bands and plan cross that line no faster than the movement's turn speed
        (the plan's speed-up allowance ``max_speed_factor`` included; a turner closer to the
        line than slowing to the turn speed at ``decel_ms2`` takes gets no plan), and the
        later stop lines are on the street it turns into (:meth:`Network.path_ahead`).  A
        turn the approach has no movement for raises ValueError (check first with
        :meth:`Network.movement_ahead`).
    """
    dist, group, limit, stop_link, movement = network.path_ahead(
        link, offset_m, m, turn, return_movement=True, cap_turn_speed=False
    )
    cross_max = None
    turning = movement >= 0
    if first_dist_m is not None:
        fd = np.asarray(first_dist_m, dtype=float)
        ok = np.isfinite(fd) & np.isfinite(dist[:, 0])
        dist = dist + np.where(ok, fd - dist[:, 0], 0.0)[:, None]
    v0 = np.asarray(speed_ms, dtype=float)
    band_limit, end_margin = limit, None
    if turning.any():
        speed = np.take(network.movements.turn_speed_ms, np.maximum(movement, 0))
        cross_max = np.where(turning, speed, np.inf)
        band_limit, end_margin = turn_band_limits(dist[:, 0], v0, cross_max, limit, params)
        # The path's limit before the turn's stop line is the turn speed (as path_ahead's).
        limit = limit.copy()
        np.minimum(limit[:, 0], cross_max, out=limit[:, 0])
    bands = speed_bands(
        dist, v0, t_s, group, band_limit, timing, params, queue_delay_s, end_margin_s=end_margin
    )
    plan_dist = dist[:, 0]
    if cross_max is not None:
        # Closer to the line than a comfortable slow-down to the turn speed takes, no plan
        # crosses the turn slowly enough: the driver brakes for the turn, unadvised.
        with np.errstate(invalid="ignore"):
            too_fast = too_fast_to_turn(plan_dist, v0, cross_max, params.decel_ms2)
        plan_dist = np.where(too_fast, np.nan, plan_dist)
    plan = plan_next(
        plan_dist,
        group[:, 0],
        limit[:, 0],
        v0,
        t_s,
        timing,
        params,
        None if queue_delay_s is None else np.asarray(queue_delay_s)[:, 0],
        cruise_ms,
        queue_m,
        cross_max,
    )
    return Advice(bands, dist, group, limit, stop_link, plan, movement)


def too_fast_to_turn(dist_m, speed_ms, turn_ms, decel_ms2):
    """Drivers (N,) too close to their turn, or too fast, to slow from ``speed_ms`` to
    ``turn_ms`` at ``decel_ms2`` within ``dist_m``: ``v0² - 2 b d > v_t²``.  (N,) bool."""
    v0 = np.asarray(speed_ms, dtype=float)
    vt = np.asarray(turn_ms, dtype=float)
    return v0 * v0 - 2.0 * decel_ms2 * np.asarray(dist_m, dtype=float) > vt * vt


def turn_band_limits(dist_m, speed_ms, turn_ms, limit_ms, params: BandParams):
    """Band limits and window-end margins for drivers who turn at the next stop line.

    A turner's band is what they may hold now and still slow down to the turn speed
    ``turn_ms`` (N,) at ``decel_ms2`` by the line (the app's band floor, 35 km/h, is above
    most turn speeds: capping the band at the turn speed left turners with no band while their
    green was long enough).  Holding ``v`` then braking to ``v_t`` takes ``(v - v_t)² / (2 b
    v)`` longer than holding ``v`` to the line (the braking stretch ``(v² - v_t²) / 2b``
    driven at the mean speed ``(v + v_t) / 2`` instead of ``v``), the most at the band's top
    speed (the delay grows with ``v``): the first window's end is brought forward by that
    much, so that every speed in the band reaches the line in the green.

    The top speed is the highest from which speeding up at ``accel_ms2`` (from ``speed_ms``)
    and braking at ``decel_ms2`` to ``v_t`` fit in ``dist_m``: ``v² = (2abd + b v0² + a v_t²)
    / (a + b)``; a driver too close or too fast to slow to ``v_t`` comfortably keeps the turn
    speed as the cap.  Returns ``limit`` (N, M) with column 0 capped for turners (others
    unchanged) and ``end_margin_s`` (N, M), zero except for turners' first stop lines.
    """
    d = np.maximum(np.asarray(dist_m, dtype=float), 0.0)
    v0 = np.asarray(speed_ms, dtype=float)
    a, b = params.accel_ms2, params.decel_ms2
    vt = np.asarray(turn_ms, dtype=float)
    turning = np.isfinite(vt)
    vt_f = np.where(turning, vt, 0.0)
    with np.errstate(invalid="ignore"):
        too_fast = too_fast_to_turn(d, v0, vt_f, b)
        top = np.sqrt((2.0 * a * b * d + b * v0 * v0 + a * vt_f * vt_f) / (a + b))
    cap = np.where(turning, np.where(too_fast, vt_f, np.fmax(top, vt_f)), np.inf)
    limit = np.array(limit_ms, dtype=float)
    np.fmin(limit[:, 0], cap, out=limit[:, 0])
    v_top = np.minimum(limit[:, 0], params.band_max_ms)
    with np.errstate(invalid="ignore", divide="ignore"):
        delay = np.where(turning & (v_top > vt_f), (v_top - vt_f) ** 2 / (2.0 * b * v_top), 0.0)
    end = np.zeros(limit.shape)
    end[:, 0] = delay
    return limit, end


def plan_next(
    dist_m,
    group,
    limit_ms,
    speed_ms,
    t_s,
    timing: SignalTiming,
    params: BandParams,
    queue_delay_s=None,
    cruise_ms=None,
    queue_m=None,
    cross_max_ms=None,
) -> Plans:
    """Approach plans to the next stop line (:func:`greenwave.plans.approach_plans`) from the
    signal timing: the conservative green windows of ``group`` (N,), their start delayed by
    ``queue_delay_s`` and their end brought forward by the safety margin; hold speeds in
    ``[band_min, band_max]`` and below ``limit × max_speed_factor`` and ``cross_max_ms`` (N,),
    the highest speed at which the line may be crossed (a turn's speed; default: none)."""
    n = len(dist_m)
    g = np.asarray(group, dtype=np.int64)
    sig = g >= 0
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    ws, we = timing.green_windows(np.where(sig, g, 0), t, params.n_windows)
    green_now = sig & (ws[:, 0] <= t) & (t < we[:, 0])
    qd = 0.0 if queue_delay_s is None else np.asarray(queue_delay_s, dtype=float)[:, None]
    ws = ws + qd
    margin = params.plan_start_margin_s
    if params.plan_start_margin_horizon_s > 0.0:
        # Less margin for a green start close ahead, whose arrival is better predicted.
        ahead = np.maximum(ws - t[:, None], 0.0)
        margin = margin * np.minimum(ahead / params.plan_start_margin_horizon_s, 1.0)
    ws = ws + margin
    we = we - params.safety_margin_s
    dist = np.where(sig, dist_m, np.nan)
    v_max = np.minimum(params.band_max_ms, limit_ms * params.max_speed_factor)
    if cross_max_ms is not None:
        # The speed-up allowance is over the road's limit, never over a turn's curve speed.
        v_max = np.minimum(v_max, cross_max_ms)
    cruise = limit_ms if cruise_ms is None else cruise_ms
    return approach_plans(
        dist,
        speed_ms,
        cruise,
        ws,
        we,
        t,
        accel_ms2=params.accel_ms2,
        decel_ms2=params.decel_ms2,
        v_min_ms=params.band_min_ms,
        v_max_ms=v_max,
        eco_decel_ms2=params.eco_decel_ms2,
        queue_m=0.0 if queue_m is None else queue_m,
        green_now=green_now,
    )
