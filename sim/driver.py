"""The advised driver: from advice to speed commands, the same in greenwave's simulator and in
SUMO.

Both :mod:`greenwave.sim.engine` and the SUMO controller (:mod:`greenwave.sumo.controller`) ask
the core (:func:`greenwave.advice.advise`) for advice every update and hand it to
:func:`commands`, which returns, per driver, a target speed to change to now (NaN: drive
normally, i.e. the car-following model alone) and, for plans that speed up again before the
stop line, the target that replaces it and when.  The simulators then apply the targets with
their own reaction-time delay (:func:`greenwave.sim.engine.schedule_targets`) and track them
at the advisory's comfortable rates under their car-following model's safety.

Policies (``drivers.policy``):

* ``"plan"`` (default): follow the approach plan to the next signalised stop line
  (:mod:`greenwave.plans`): cruise; slow down to a hold speed and speed up again so as to
  cross at cruise speed when the light is green; speed up (within ``max_speed_factor``) to
  catch a green; or, when no green is reachable without stopping and the light is red, the
  eco-approach — hold the speed until the lift-off point, then follow the gentle
  deceleration curve to the queue's tail.  Drivers on time for a green that has begun, and
  drivers slower than ``QUEUE_SPEED_MS`` (queued, or pulling away), drive normally: queues
  discharge at the car-following model's own pace.  While a queue still discharges over the
  stop line a driver has just crossed, no plan holds them back within
  ``advisory.plan_hold_clear_m`` of it (a slow driver there throttles that discharge).  A
  correction of the manoeuvre a driver already follows applies at once; a new manoeuvre
  (another plan kind or green window) after their reaction time.
* ``"band"``: the app's literal advice, one constant speed held to the line: the driver's
  desired speed clipped into the joint band they take
  (:meth:`greenwave.bands.Bands.choose_joint`); no band means driving normally, except that
  with ``hold_on_stop`` a driver told "prepare to stop" keeps the target they have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenwave import plans as P
from greenwave.bands import STOP

QUEUE_SPEED_MS = 1.0  # slower than this before a stop line: queued (car following decides)
SAME_ADVICE_MS = 0.5 / 3.6  # a repeated target within this is the same advice
FOLLOW_GAP_FACTOR = 1.3  # following: gap within 1.3 × IDM's desired gap (steady following)
POLICIES = ("plan", "band")
ECO_MIN_ROOM_M = 5.0  # closer than this to the queue's tail: car following alone


@dataclass(frozen=True)
class Commands:
    """Speed commands for N drivers (m/s, absolute times in s).

    Attributes
    ----------
    now_ms : (N,) target to change to now (NaN: drive normally)
    then_ms : (N,) target that replaces it at ``then_t_s`` (NaN: none)
    then_t_s : (N,) when (inf: never)
    valid_stops : (N,) int, how many stop lines ahead the advice stays valid through when the
        driver leaves the advisory range (0: drive normally once out of range)
    keep : (N,) bool, keep the target the driver already has instead (``hold_on_stop``)
    plan_id : (N,) float, identifies the manoeuvre (plan kind and targeted green window; NaN
        for none and for the band policy): an update of the same manoeuvre is a correction
        the driver follows at once, a new one needs their reaction time
        (:func:`reaction_times`)
    """

    now_ms: np.ndarray
    then_ms: np.ndarray
    then_t_s: np.ndarray
    valid_stops: np.ndarray
    keep: np.ndarray
    plan_id: np.ndarray


def commands(
    advice,
    speed_ms,
    desired_ms,
    t_s,
    *,
    policy="plan",
    update_s=1.0,
    max_signals=None,
    min_speed_ratio=0.0,
    hold_on_stop=False,
    past_line_m=None,
    hold_clear_m=0.0,
) -> Commands:
    """Speed commands from ``advice`` (:class:`greenwave.advice.Advice` of N drivers) for
    drivers at ``speed_ms`` (N,) who want ``desired_ms`` (N,), at absolute time ``t_s``.

    ``update_s`` is the time until the next advice: the eco-approach commands the speed its
    deceleration curve has at the position the driver reaches by then.

    ``past_line_m`` (N,) m, optional: how far each driver is past the stop line their link
    starts at while a queue behind them is still discharging over it
    (:func:`past_discharging_line_m`; inf: no such queue).  Within ``hold_clear_m`` of that
    line a plan does not hold the driver back yet: a driver slowing down just past it slows
    everyone crossing behind them, a moving bottleneck that costs the upstream signal its
    saturation flow (on an oversaturated training corridor such holds cost 16 % travel time
    and 9 % fuel in greenwave's simulator).  They drive normally until they are clear of it
    or the queue has gone; later updates give them the plan that still fits.
    """
    v = np.asarray(speed_ms, dtype=float)
    n = v.shape[0]
    then_v, then_t = np.full(n, np.nan), np.full(n, np.inf)
    keep = np.zeros(n, dtype=bool)
    if policy == "band":
        lo, hi, count = advice.bands.choose_joint(desired_ms, max_signals, min_speed_ratio)
        now = np.clip(desired_ms, lo, hi)
        now[count == 0] = np.nan
        if hold_on_stop:
            keep = advice.bands.status[:, 0] == STOP
        return Commands(now, then_v, then_t, count, keep, np.full(n, np.nan))
    if policy != "plan":
        raise ValueError(f"policy: one of {POLICIES}, not {policy!r}")
    p = advice.plan
    d = advice.dist_m[:, 0]
    kind = p.kind
    now = np.where((kind == P.CRUISE) | (kind == P.SLOW) | (kind == P.FAST), p.hold_ms, np.nan)
    # Green now and on time at cruise speed: nothing to advise, drive normally.
    t_arr = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    now[(kind == P.CRUISE) & (p.window_start_s <= t_arr)] = np.nan
    slow = kind == P.SLOW
    clearing = np.zeros(n, dtype=bool)
    if past_line_m is not None and hold_clear_m > 0.0:
        clearing = slow & (np.asarray(past_line_m, dtype=float) < hold_clear_m)
        now[clearing] = np.nan
        slow &= ~clearing
    resume_now = slow & (d <= p.resume_dist_m + 1e-6)
    now[resume_now] = p.cross_ms[resume_now]
    later = slow & ~resume_now & (p.resume_dist_m > 0)
    then_v[later] = p.cross_ms[later]
    then_t[later] = t_arr[later] + p.resume_in_s[later]
    # The eco-approach steers towards the queue's tail before a red.  A driver already at it
    # (or in the queue) is left to car following, and so is everyone while the light is
    # green: holding drivers back behind a discharging queue leaves gaps in it (on the
    # training scenarios this cost up to 17 % travel time and 6 % fuel).
    eco = (kind == P.ECO) & (d - p.stop_dist_m > ECO_MIN_ROOM_M) & ~p.green_now
    # Past the lift-off point by more than one update, a gentle stop is no longer possible:
    # the driver brakes as they always would (car following and the red light), rather than
    # on a command that lags behind the stop they need.
    eco &= d - v * update_s >= np.nan_to_num(p.lift_dist_m, nan=np.inf) - v * update_s * 2.0
    if eco.any():
        ahead = np.maximum(d[eco] - v[eco] * update_s, 0.0)
        curve = P.eco_speed_ms(ahead, p.stop_dist_m[eco], p.eco_decel_ms2)
        now[eco] = np.minimum.reduce([curve, v[eco], desired_ms[eco], p.cap_ms[eco]])
    queued = v < QUEUE_SPEED_MS
    now[queued] = np.nan
    then_v[queued], then_t[queued] = np.nan, np.inf
    valid = ((kind != P.NONE) & ~clearing).astype(np.int64)
    # Window starts rounded to 0.1 s: the same green seen from successive updates.
    plan_id = np.where(
        np.isnan(now), np.nan, np.round(np.nan_to_num(p.window_start_s, nan=-1.0), 1) * 8.0 + kind
    )
    return Commands(now, then_v, then_t, valid, keep, plan_id)


def past_discharging_line_m(net, link, offset_m, queued_on_link, group_green):
    """(N,) m: how far drivers on ``link`` (N,) at ``offset_m`` (N,) m along it are past the
    stop line their link starts at while a queue is still discharging over that line onto
    their link; inf elsewhere.

    ``queued_on_link`` (L,): vehicles slower than ``QUEUE_SPEED_MS`` on each link;
    ``group_green`` (G,) bool: each signal group's state now.  A queue discharges onto a link
    over a movement (``net.movements``) that is green now from an approach with queued
    vehicles.  ``net``: :class:`greenwave.network.Network`.
    """
    mv = net.movements
    into = (mv.to_link >= 0) & (mv.group >= 0)
    green = np.zeros(mv.group.size, dtype=bool)
    green[into] = np.asarray(group_green, dtype=bool)[mv.group[into]]
    queued = np.asarray(queued_on_link)[mv.from_link] > 0
    hit = mv.to_link[into & green & queued]
    discharging = np.zeros(net.n_links, dtype=bool)
    discharging[hit] = True
    return np.where(discharging[np.asarray(link)], np.asarray(offset_m, dtype=float), np.inf)


def queued_on_links(n_links, link, speed_ms):
    """(L,) vehicles slower than ``QUEUE_SPEED_MS`` per link, from vehicles on ``link`` (N,)
    (negative: off the network's links) at ``speed_ms`` (N,)."""
    link = np.asarray(link)
    q = (link >= 0) & (np.asarray(speed_ms) < QUEUE_SPEED_MS)
    return np.bincount(link[q], minlength=n_links)


def reaction_times(old_id, new_id, reaction_s):
    """Per driver: no delay for an update of the manoeuvre they already follow (same
    ``plan_id``), their reaction time ``reaction_s`` for a new one (or any band advice)."""
    return np.where(np.asarray(old_id) == np.asarray(new_id), 0.0, reaction_s)


def queued_ahead(key, pos_m, speed_ms, order=None):
    """Per vehicle: how many vehicles slower than ``QUEUE_SPEED_MS`` are ahead of it among the
    vehicles with the same ``key`` (N,) int (a lane, or a stream and its next stop line;
    negative: none), by position ``pos_m`` (N,) (larger is further ahead).

    ``order`` (M,) int, optional: the vehicles grouped by key, front first within a key (a
    caller that keeps its vehicles sorted, as the simulator does, saves the sort here);
    vehicles it leaves out count none ahead.

    The queue a driver waits behind is the one ahead of them: counting the vehicles behind too
    would delay the green they aim at by vehicles that leave after them.
    """
    key = np.asarray(key)
    q = ((key >= 0) & (np.asarray(speed_ms) < QUEUE_SPEED_MS)).astype(np.int64)
    if order is None:
        order = np.lexsort((-np.asarray(pos_m, dtype=float), key))  # by key, front first
    qs = q[order]
    before = np.cumsum(qs) - qs
    ks = key[order]
    first = np.ones(ks.size, dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    ahead = np.zeros(key.size, dtype=np.int64)
    ahead[order] = before - np.maximum.accumulate(np.where(first, before, 0))
    return ahead


def release_queued(queued_until, stop_k, speed_ms, on_signal_approach):
    """Queues discharge at the car-following model's pace: a driver who queues (slower than
    ``QUEUE_SPEED_MS`` on a link that ends at a signal) drives normally until they have crossed
    that stop line, whatever target they hold.

    ``queued_until`` (N,) int: per driver the stop-line index they are released until (-1:
    not released), updated in place; ``stop_k`` (N,) int: index of each driver's next stop
    line; ``speed_ms`` (N,); ``on_signal_approach`` (N,) bool.  Returns the number of drivers
    newly released.
    """
    crossed = (queued_until >= 0) & (stop_k >= queued_until)
    queued_until[crossed] = -1
    new = on_signal_approach & (speed_ms < QUEUE_SPEED_MS) & (queued_until < 0)
    queued_until[new] = stop_k[new] + 1
    return int(new.sum())


def follows_leader(target_ms, speed_ms, leader_ms, gap_m, s0_m, headway_s, accel_ms2, decel_ms2):
    """Drivers close behind a leader slower than their target: they follow it by car following
    rather than steer towards the target (which would only close the gap).

    Close: the bumper-to-bumper ``gap_m`` is within ``FOLLOW_GAP_FACTOR`` × IDM's desired gap
    ``s0 + v T + v max(v - v_l, 0) / (2 sqrt(a b))`` (Treiber et al. 2000).  Arrays (N,);
    ``gap_m`` inf and ``target_ms`` NaN where there is no leader or no target.
    """
    v = np.asarray(speed_ms, dtype=float)
    dv = np.maximum(v - leader_ms, 0.0)
    s_star = s0_m + headway_s * v + v * dv / (2.0 * np.sqrt(accel_ms2 * decel_ms2))
    with np.errstate(invalid="ignore"):
        slower = leader_ms < target_ms - SAME_ADVICE_MS
    return slower & (gap_m <= FOLLOW_GAP_FACTOR * s_star)
