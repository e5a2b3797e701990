"""Approach plans: reach the next stop line inside green and cross it at cruise speed.

A speed band says which constant speeds arrive on green.  Holding one of them to the line
arrives at the green start *slowly*, and a slow first vehicle lowers the stop line's discharge
rate for everyone behind it.  A plan instead slows down early and speeds up again before the
line, so that the car crosses at its cruise speed when the light is green: the trajectory of
SUMO's GLOSA device (``MSDevice_GLOSA::adaptSpeed``, Eclipse SUMO; documented at
sumo.dlr.de/docs/Simulation/GLOSA.html) and of eco-approach controllers (Barth, Mandava,
Boriboonsomsin & Xia 2011, "Dynamic ECO-driving for arterial corridors", IEEE FISTS; Xia,
Boriboonsomsin & Barth 2013, "Dynamic eco-driving for signalized arterial corridors and its
indirect network-wide energy/emissions benefits", J. ITS 17(1)).

Kinematics (constant comfortable rates ``a`` up and ``b`` down, as the bands assume; see
:func:`greenwave.kinematics.paced_speed_ms` for the closed form): from ``v0`` change to a hold
speed ``u``, hold it, and ``resume_dist_m`` before the line accelerate from ``u`` to the cruise
speed ``vc``, arriving at the targeted time.  Kinds, per vehicle and its next signalised stop
line, for the first green window (usable part: start + queue discharge delay, end − safety
margin) that one of them reaches:

* ``CRUISE``: driving ``vc`` arrives inside the window (or at most ``on_time_tol_s`` early);
* ``SLOW``: ``vc`` arrives too early; hold ``u`` in ``[v_min, vc]`` and re-accelerate so as to
  arrive at the window's start at ``vc``.  Where the line is too close to re-accelerate, hold one
  constant speed to the line (the band's profile);
* ``FAST``: ``vc`` arrives after the window ends but ``v_max`` does not; hold the speed that
  arrives half-way between the earliest possible arrival and the window's end;
* ``ECO``: no window is reached without stopping (even ``v_min`` arrives too early): the
  eco-approach.  Keep going until ``lift_dist_m`` before the line, then decelerate at
  ``eco_decel`` so as to come to rest at the queue's tail — the gentlest constant deceleration
  that does, started as late as that deceleration allows, so the car arrives as late as it
  can without hard braking (and, re-planned every update, often rolls into a green window
  without stopping).  Eco-approach and departure: Barth et al. 2011; Hao, Wu, Boriboonsomsin &
  Barth 2018, "Eco-approach and departure (EAD) application for actuated signals in real-world
  traffic", IEEE T-ITS 20(1).
* ``NONE``: no signalised stop line ahead (or the car is at it).

All arrays are (N,) over vehicles; windows (N, K); speeds m/s, distances m, times s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinematics import Arrival, arrival_times_s, paced_speed_ms

NONE, CRUISE, SLOW, FAST, ECO = 0, 1, 2, 3, 4
PLAN_NAMES = ("none", "cruise", "slow_down", "speed_up", "eco_stop")

ON_TIME_TOL_S = 1.0  # arriving this much before the window still counts as on time (CRUISE)
MIN_DIST_M = 1.0  # closer than this to the line: no plan (NONE)


@dataclass(frozen=True)
class Plans:
    """Approach plans for N vehicles (see the module docstring).

    Attributes
    ----------
    kind : (N,) int8, ``NONE``, ``CRUISE``, ``SLOW``, ``FAST`` or ``ECO``
    hold_ms : (N,) speed to change to now (ECO: the current speed; NaN for NONE)
    cross_ms : (N,) speed at the stop line (ECO: 0)
    resume_dist_m : (N,) distance before the line at which to accelerate from ``hold_ms`` to
        ``cross_ms`` (0 where there is no re-acceleration)
    resume_in_s : (N,) seconds from now until then (NaN where none)
    arrival_in_s : (N,) expected arrival at the line, seconds from now (NaN for NONE and ECO)
    window_start_s, window_end_s : (N,) absolute usable green window targeted (NaN: none)
    lift_dist_m : (N,) ECO: distance before the line at which to start decelerating at
        ``eco_decel_ms2`` (NaN otherwise)
    stop_dist_m : (N,) ECO: distance before the line where the car should come to rest (the
        queue's tail; NaN otherwise)
    cap_ms : (N,) the highest speed any plan uses (``v_max_ms``)
    green_now : (N,) bool, the stop line's signal is green now (an ECO driver then waits
        behind a queue that is discharging, or has missed this green: not a red ahead yet)
    eco_decel_ms2 : float
    """

    kind: np.ndarray
    hold_ms: np.ndarray
    cross_ms: np.ndarray
    resume_dist_m: np.ndarray
    resume_in_s: np.ndarray
    arrival_in_s: np.ndarray
    window_start_s: np.ndarray
    window_end_s: np.ndarray
    lift_dist_m: np.ndarray
    stop_dist_m: np.ndarray
    cap_ms: np.ndarray
    green_now: np.ndarray
    eco_decel_ms2: float


def approach_plans(
    dist_m,
    v0_ms,
    cruise_ms,
    win_start_s,
    win_end_s,
    t_s,
    *,
    accel_ms2,
    decel_ms2,
    v_min_ms,
    v_max_ms,
    eco_decel_ms2,
    queue_m=0.0,
    on_time_tol_s=ON_TIME_TOL_S,
    green_now=None,
) -> Plans:
    """Plans to the next signalised stop line (see the module docstring).

    Parameters
    ----------
    dist_m : (N,) distance to the stop line (NaN: no signal ahead)
    v0_ms : (N,) current speed
    cruise_ms : (N,) speed to cross at (the driver's desired speed, at most ``v_max_ms``)
    win_start_s, win_end_s : (N, K) absolute usable green windows in time order (queue
        discharge delay and safety margin applied; NaN: none)
    t_s : (N,) or scalar, absolute time now
    accel_ms2, decel_ms2 : float, comfortable rates of every speed change
    v_min_ms : float or (N,), lowest hold speed
    v_max_ms : float or (N,), highest speed (FAST plans)
    eco_decel_ms2 : float, deceleration of the eco-approach
    queue_m : float or (N,), length of the standing queue before the line
    green_now : (N,) bool, optional: the signal is green now (default: no)
    """
    d = np.asarray(dist_m, dtype=float)
    n = d.shape[0]
    v0 = np.maximum(np.asarray(v0_ms, dtype=float), 0.0)
    vmax = _per_vehicle(v_max_ms, n)
    vmin = _per_vehicle(v_min_ms, n)
    vc = np.minimum(np.asarray(cruise_ms, dtype=float), vmax)
    t = _per_vehicle(t_s, n)
    ws = np.asarray(win_start_s, dtype=float).reshape(n, -1 if n else 0) - t[:, None]
    we = np.asarray(win_end_s, dtype=float).reshape(n, -1 if n else 0) - t[:, None]
    queue = _per_vehicle(queue_m, n)
    a, b = float(accel_ms2), float(decel_ms2)

    kind = np.zeros(n, dtype=np.int8)
    nan = np.full(n, np.nan)
    hold, cross, arrival = nan.copy(), nan.copy(), nan.copy()
    resume_d, resume_in = np.zeros(n), nan.copy()
    wsel_s, wsel_e = nan.copy(), nan.copy()

    valid = np.isfinite(d) & (d > MIN_DIST_M)
    dd = np.where(valid, d, 1.0)
    vmin_eff = np.minimum(vmin, vc)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t_go, t_fast, t_slowest = arrival_times_s(
            dd, v0, (vc, np.maximum(vmax, vc), vmin_eff), a, b
        )
    open_ = valid.copy()
    for k in range(ws.shape[1]):
        s, e = ws[:, k], we[:, k]
        usable = open_ & np.isfinite(s) & np.isfinite(e) & (e > s)
        if not usable.any():
            continue
        on_time = usable & (t_go >= s - on_time_tol_s) & (t_go <= e)
        early = usable & ~on_time & (t_go < s)
        slow = early & (t_slowest >= s)
        eco = early & ~slow
        late = usable & (t_go > e)
        fast = late & (t_fast <= e)
        for m, kk in ((on_time, CRUISE), (slow, SLOW), (fast, FAST), (eco, ECO)):
            kind[m] = kk  # (the four are disjoint)
        hit = on_time | slow | fast | eco
        wsel_s[hit], wsel_e[hit] = (s + t)[hit], (e + t)[hit]
        open_ &= ~hit

        hold[on_time], arrival[on_time] = vc[on_time], t_go[on_time]
        cross[on_time] = _speed_at_line(dd[on_time], v0[on_time], vc[on_time], a, b)

        if slow.any():
            i = np.flatnonzero(slow)
            u = paced_speed_ms(dd[i], v0[i], vc[i], s[i], a, b, vmin_eff[i], t_go_s=t_go[i])
            paced = np.isfinite(u) & (u < vc[i])
            # Paced: change to u, hold, re-accelerate to vc (see kinematics.paced_speed_ms).
            j, uj = i[paced], u[paced]
            down = uj <= v0[j]
            t1 = np.where(down, (v0[j] - uj) / b, (uj - v0[j]) / a)
            d1 = np.where(down, (v0[j] ** 2 - uj**2) / (2 * b), (uj**2 - v0[j] ** 2) / (2 * a))
            d3 = (vc[j] ** 2 - uj**2) / (2 * a)
            t2 = np.maximum(dd[j] - d1 - d3, 0.0) / uj
            hold[j], cross[j], resume_d[j] = uj, vc[j], d3
            resume_in[j] = t1 + t2
            arrival[j] = t1 + t2 + (vc[j] - uj) / a
            # Too close to re-accelerate: one constant speed to the line (the band's profile).
            c = i[~paced]
            arr = Arrival(dd[c], v0[c], a, b)  # speed for an arrival time, then its time
            with np.errstate(invalid="ignore", divide="ignore"):
                uc = arr.speed_for(s[c])
            uc = np.clip(np.where(np.isnan(uc), vmin_eff[c], uc), vmin_eff[c], vc[c])
            hold[c] = uc
            cross[c] = _speed_at_line(dd[c], v0[c], uc, a, b)
            arrival[c] = arr.time_for(uc)

        if fast.any():
            i = np.flatnonzero(fast)
            lo = np.maximum(t_fast[i], s[i])
            goal = 0.5 * (lo + e[i])
            arr = Arrival(dd[i], v0[i], a, b)
            with np.errstate(invalid="ignore", divide="ignore"):
                u = arr.speed_for(goal)
            u = np.clip(np.where(np.isnan(u), vmax[i], u), vc[i], np.maximum(vmax[i], vc[i]))
            hold[i] = u
            cross[i] = _speed_at_line(dd[i], v0[i], u, a, b)
            arrival[i] = arr.time_for(u)

    # No window reached in the K looked at (all end before the earliest arrival): stop.
    eco = np.flatnonzero(open_)
    kind[eco] = ECO
    eco = kind == ECO
    lift, stop_d = nan.copy(), nan.copy()
    if eco.any():
        e_d = eco_decel_ms2
        stop_d[eco] = np.minimum(queue[eco], dd[eco])
        lift[eco] = stop_d[eco] + v0[eco] ** 2 / (2.0 * e_d)
        hold[eco] = v0[eco]
        cross[eco] = 0.0
        arrival[eco] = np.nan
    return Plans(
        kind=kind,
        hold_ms=hold,
        cross_ms=cross,
        resume_dist_m=resume_d,
        resume_in_s=resume_in,
        arrival_in_s=arrival,
        window_start_s=wsel_s,
        window_end_s=wsel_e,
        lift_dist_m=lift,
        stop_dist_m=stop_d,
        cap_ms=np.maximum(vmax, vc),
        green_now=np.zeros(n, bool) if green_now is None else np.asarray(green_now),
        eco_decel_ms2=float(eco_decel_ms2),
    )


def _per_vehicle(x, n):
    """``x`` (scalar or (n,)) as an (n,) float array, read-only where broadcast."""
    x = np.asarray(x, dtype=float)
    return x if x.shape == (n,) else np.broadcast_to(x, (n,))


def _speed_at_line(d, v0, u, a, b):
    """Speed at the line when changing from ``v0`` towards ``u`` at ``a``/``b`` over ``d``."""
    up = u >= v0
    reach = np.where(up, np.sqrt(v0 * v0 + 2 * a * d), np.sqrt(np.maximum(v0 * v0 - 2 * b * d, 0)))
    return np.where(up, np.minimum(u, reach), np.maximum(u, reach))


def eco_speed_ms(dist_m, stop_dist_m, eco_decel_ms2):
    """Speed on the eco-approach's deceleration curve: at ``dist_m`` before the line, the speed
    from which decelerating at ``eco_decel_ms2`` comes to rest ``stop_dist_m`` before it."""
    room = np.maximum(np.asarray(dist_m, dtype=float) - stop_dist_m, 0.0)
    return np.sqrt(2.0 * eco_decel_ms2 * room)
