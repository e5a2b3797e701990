"""Car following: the Intelligent Driver Model with a safe-speed bound, vectorised.

IDM (Treiber, Hennecke & Helbing 2000, "Congested traffic states in empirical observations and
microscopic simulations", Phys. Rev. E 62(2):1805–1824, Eq. 2–3):

    a_IDM = a [1 - (v/v0)^δ - (s*/s)²],   s* = s0 + max(0, v T + v Δv / (2 sqrt(a b)))

with desired speed v0, acceleration a, comfortable deceleration b, time gap T, jam distance
s0, δ = 4, gap s (bumper to bumper) and approach rate Δv = v - v_leader.  Urban-car parameter
ranges (a 1.0–1.5 m/s², b 1.5–2.0 m/s², T 1.0–1.5 s, s0 2 m) are from Treiber & Kesting,
"Traffic Flow Dynamics" (Springer 2013), Table 11.2.

Integration is the ballistic scheme recommended by Treiber & Kanagaraj (2015), "Comparing
numerical integration schemes for time-continuous car-following models", Physica A 419:183–195:
``x += v dt + a dt²/2``, ``v += a dt``, and a vehicle that would reverse stops where its speed
reaches zero.

Safety: on top of IDM the speed after a step is bounded by the largest speed from which the
vehicle can still stop, braking at ``EMERGENCY_DECEL_MS2``, before an obstacle — the safe-speed
idea of Krauss (1998, "Microscopic modeling of traffic flow: investigation of collision free
vehicle dynamics", DLR report 98-08) and Gipps (1981, Transp. Res. B 15(2):105–111), with the
leader's own emergency stopping distance added to the gap.  9 m/s² is SUMO's default
``emergencyDecel`` for passenger cars.  In normal operation IDM never reaches this bound; it
guarantees that a standing obstacle (a red stop line) is never passed.

Krauss (``drivers.car_following = "krauss"``; S. Krauss 1998, DLR report 98-08, ch. 4): the
speed after a step is the smallest of the desired speed, ``v + a dt`` and the safe speed, the
largest speed from which the driver, keeping it for the reaction time τ and then braking at
``b``, still stops behind the point where the leader, braking at ``b`` now, would stop.  In
continuous time that is Krauss's ``-b τ + sqrt((b τ)² + v_l² + 2 b g)`` (:func:`krauss_safe_speed`,
the published formula, also SUMO's ``KraussOrig1``); the simulator uses its discrete form for
the Euler steps it takes (:func:`euler_safe_speed`, :func:`euler_brake_gap`; the form SUMO's
default Krauss integrates), which tends to it as ``dt -> 0``; at a stop line the driver brakes
with no reaction time.  The gap ``g`` is bumper to bumper minus the jam distance.  Driver
imperfection σ ("dawdling") lowers the speed by ``σ min(v, a) dt u``, ``u ~ U(0, 1)`` (a slow
driver dawdles in proportion to its speed, so that dawdling never keeps anyone from starting),
but not below ``v - b dt`` (SUMO's Krauss ``dawdle``/``minNextSpeed``).  SUMO's defaults for
passenger cars: a 2.6 m/s², b 4.5 m/s², τ 1 s, s0 2.5 m, σ 0.5
(sumo.dlr.de/docs/Definition_of_Vehicles,_Vehicle_Types,_and_Routes); its default step is
1 s, which Krauss drivers may use (``simulation.dt_s`` up to 1).
Positions advance with the Euler update SUMO uses by default (``x += v_new dt``).
"""

from __future__ import annotations

import numpy as np

DELTA = 4.0
EMERGENCY_DECEL_MS2 = 9.0


def idm_free(v, v0, a_max):
    """Free-road IDM term a [1 - (v/v0)^4] (m/s²); v0 > 0."""
    r = v / v0
    r *= r
    return a_max * (1.0 - r * r)


def idm_interaction(v, dv, gap, a_max, b, T, s0):
    """IDM interaction term -a (s*/s)² for a leader at ``gap`` (m) approached at ``dv`` (m/s).

    ``gap`` <= 0 gives a very large deceleration (the safe-speed bound then applies).
    """
    s_star = s0 + np.maximum(v * T + v * dv / (2.0 * np.sqrt(a_max * b)), 0.0)
    ratio = s_star / np.maximum(gap, 1e-3)
    return -a_max * ratio * ratio


def idm_accel(v, v0, a_max, b, T, s0, gap=None, dv=None):
    """Full IDM acceleration; ``gap=None`` (or inf) means free road."""
    acc = idm_free(v, v0, a_max)
    if gap is not None:
        acc = acc + np.where(np.isfinite(gap), idm_interaction(v, dv, gap, a_max, b, T, s0), 0.0)
    return acc


def safe_speed(v, gap, v_leader, dt, decel=EMERGENCY_DECEL_MS2):
    """Largest speed after one ballistic step from which the vehicle can stop within the gap.

    The vehicle covers ``(v + v_new) dt / 2`` during the step and then brakes at ``decel``; the
    leader (speed ``v_leader``, 0 for a stop line) could stop within ``v_leader²/(2 decel)``.
    Solves ``v_new²/(2b) + v_new dt/2 + v dt/2 <= gap + v_l²/(2b)`` for ``v_new``.
    """
    room = gap + v_leader * v_leader / (2.0 * decel) - v * dt / 2.0
    half = decel * dt / 2.0
    return np.maximum(-half + np.sqrt(np.maximum(half * half + 2.0 * decel * room, 0.0)), 0.0)


def safe_accel(v, gap, v_leader, dt, decel=EMERGENCY_DECEL_MS2):
    """Largest acceleration this step that keeps the vehicle able to stop within the gap.

    Normally ``(safe_speed - v) / dt``.  When even stopping inside this step would cover more
    than the room (slow creep right at an obstacle), the deceleration that stops exactly at
    the obstacle, ``v² / (2 room)``, is returned instead (the ballistic step then stops there).
    """
    room = np.maximum(gap + v_leader * v_leader / (2.0 * decel), 0.0)
    a = (safe_speed(v, gap, v_leader, dt, decel) - v) / dt
    with np.errstate(divide="ignore", invalid="ignore"):
        stop_in_step = -v * v / (2.0 * np.maximum(room, 1e-12))
    return np.where(v * dt > 2.0 * room, np.minimum(a, stop_in_step), a)


def krauss_safe_speed(gap, v_leader, decel, tau):
    """Krauss's safe speed (m/s) behind a leader at ``gap`` (m, jam distance already taken off)
    driving at ``v_leader`` (m/s): ``-b τ + sqrt((b τ)² + v_l² + 2 b g)``, never negative;
    0 before a standing leader within 1 cm (as SUMO).  Shapes broadcast.
    """
    bt = decel * tau
    root = np.sqrt(np.maximum(bt * bt + v_leader * v_leader + 2.0 * decel * gap, 0.0))
    return np.where((v_leader <= 0.0) & (gap < 0.01), 0.0, np.maximum(root - bt, 0.0))


def euler_brake_gap(speed, decel, dt):
    """Distance (m) a vehicle at ``speed`` (m/s) covers while braking by ``decel`` (m/s²) in
    Euler steps of ``dt`` (s): speeds ``v - b dt, v - 2 b dt, ...`` each held for one step,
    ``dt (m v - b dt m (m + 1) / 2)`` with ``m = floor(v / (b dt))``.  Tends to ``v² / 2b`` as
    ``dt -> 0``.  Shapes broadcast."""
    v = np.maximum(np.asarray(speed, dtype=float), 0.0)
    step = decel * dt
    m = np.floor(v / step)
    return dt * (m * v - step * m * (m + 1.0) / 2.0)


def euler_safe_speed(gap, decel, dt, hold_s=None):
    """Largest speed (m/s) for the next Euler step from which the vehicle still stops within
    ``gap`` (m) if it keeps that speed for ``hold_s`` (s, at least one step ``dt``; default
    ``dt``) and then brakes by ``decel`` (m/s²) per second in steps of ``dt`` (s).

    Speed ``v`` held for ``R = hold_s``, then ``v - b dt, ..., v - m b dt`` (``m = floor(v /
    (b dt))``) cover ``v R + dt (m v - b dt m (m + 1) / 2)``; setting that to ``gap`` gives
    ``v = (gap + b dt² m (m + 1) / 2) / (m dt + R)`` for the ``m`` with ``m b dt <= v <
    (m + 1) b dt``.  ``R = dt`` is a stop at an obstacle (Krauss's stop speed at a stop line);
    ``R = tau`` is Krauss's safe speed behind a leader whose braking distance
    (:func:`euler_brake_gap`) is added to the gap, the discrete-time form SUMO integrates; as
    ``dt -> 0`` it tends to Krauss's ``-b tau + sqrt((b tau)² + v_l² + 2 b g)``.  Shapes
    broadcast; 0 for ``gap <= 0``, inf for an infinite gap.
    """
    hold = dt if hold_s is None else max(float(hold_s), dt)
    raw = np.asarray(gap, dtype=float)
    finite = np.isfinite(raw)
    g = np.where(finite, np.maximum(raw, 0.0), 0.0)
    step = decel * dt
    # The continuous estimate (v²/2b + v (R - dt/2) = gap) lands within one step of the right m.
    bt = decel * (hold - 0.5 * dt)
    est = -bt + np.sqrt(bt * bt + 2.0 * decel * g)
    m0 = np.floor(est / step)
    best = np.zeros_like(g)
    for dm in (-1.0, 0.0, 1.0):
        m = np.maximum(m0 + dm, 0.0)
        v = (g + step * dt * m * (m + 1.0) / 2.0) / (m * dt + hold)
        ok = (v >= m * step - 1e-12) & (v < (m + 1.0) * step + 1e-12)
        best = np.where(ok, np.maximum(best, v), best)
    return np.where(finite, best, np.inf)


def euler_step(x, v, v_new, dt):
    """SUMO's default update: ``x += v_new dt``; returns position, speed and acceleration."""
    return x + v_new * dt, v_new, (v_new - v) / dt


def ballistic_step(x, v, acc, dt):
    """One ballistic step; returns new position, speed and the realised acceleration.

    A vehicle whose speed would turn negative stops at ``x - v²/(2 acc)`` inside the step.
    """
    v_new = v + acc * dt
    stop = v_new < 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        x_stop = x - v * v / (2.0 * acc)
    x_new = np.where(stop, x_stop, x + v * dt + 0.5 * acc * dt * dt)
    v_new = np.where(stop, 0.0, v_new)
    return x_new, v_new, (v_new - v) / dt
