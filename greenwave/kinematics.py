"""Arrival time at a stop line for a driver who changes to a target speed, and its inverse.

The driver is at distance ``d`` (m) from the stop line at speed ``v0`` (m/s).  Told to drive at
``v``, they change speed at a constant comfortable rate (``accel`` up, ``decel`` down, m/s²) and
then hold ``v``.  If the line comes before ``v`` is reached, they cross it mid-change.  The arrival
time ``T(v)`` is continuous and non-increasing in ``v``:

* ``v`` reached before the line:  ``T = |v - v0|/r + (d - |v² - v0²|/(2r)) / v``
* not reached:                    the root of ``d = v0 τ ± r τ²/2``

so the set of target speeds that arrive inside a window ``[A, B]`` is one interval, whose ends
come from the closed-form inverse below.  ``T`` is flat at ``T_fast`` (accelerating all the way)
above the speed reachable by the line, ``v_reach = sqrt(v0² + 2 accel d)``, and, when the driver
cannot brake below ``v_floor = sqrt(v0² - 2 decel d)``, flat at ``T_slow`` below it.

Evaluation: the first case simplifies to ``T = (d + (v - v0)² / (2ρ)) / v`` with ``ρ = accel``
when speeding up and ``ρ = -decel`` when slowing down (no cancellation: the numerator is at least
``2 v d / (v0 + v)``), and the second case is the first one evaluated at the speed reached at the
line, so ``T(v) = T(clip(v, v_floor, v_reach))``: one formula, no branches.

All functions broadcast over numpy arrays; distances ``d <= 0`` mean the line is reached now.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

# A stopped car is given this speed instead of 0, so that T(v) needs no special case at the line
# (d = 0, v0 = 0 would be 0/0); it changes arrival times by ~1e-150 relative.
_V_TINY = 1e-150


def fastest_arrival_s(dist_m, v0_ms, accel_ms2):
    """Arrival time when accelerating at ``accel`` all the way: root of d = v0 τ + a τ²/2."""
    d = np.maximum(dist_m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = 2.0 * d / (v0_ms + np.sqrt(v0_ms * v0_ms + 2.0 * accel_ms2 * d))
    return np.where(d > 0.0, t, 0.0)  # at the line (0/0 for a stopped car): arrived


def slowest_arrival_s(dist_m, v0_ms, decel_ms2):
    """Arrival time when braking at ``decel`` all the way; inf if the car can stop before."""
    d = np.maximum(dist_m, 0.0)
    disc = v0_ms * v0_ms - 2.0 * decel_ms2 * d
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = 2.0 * d / (v0_ms + np.sqrt(np.maximum(disc, 0.0)))
    return np.where(disc > 0.0, t, np.inf)


def arrival_time_s(dist_m, v0_ms, v_ms, accel_ms2, decel_ms2):
    """Time (s) to reach the stop line when changing from ``v0`` to target ``v`` and holding it.

    Parameters broadcast; returns inf for a target of 0 that stops before the line.
    """
    d = np.asarray(dist_m, dtype=float)
    return Arrival(d, v0_ms, accel_ms2, decel_ms2).time_for(v_ms)


class Arrival:
    """Arrival time for a target speed and its inverse, for fixed ``(d, v0)`` arrays.

    Constants that depend only on distance and current speed are computed once (those not needed
    by a method on first use), so that many speeds or window edges can be evaluated cheaply.
    ``time_for(v)`` is :func:`arrival_time_s`.  NaN distances give NaN times and speeds.

    ``speed_for(t)`` returns ``+inf`` when ``t < T_fast`` (every speed arrives by ``t``) and
    ``-inf`` when ``t > T_slow`` (no speed arrives that late); at ``t = T_fast`` it returns the
    lowest speed that arrives then (the one reached exactly at the line), at ``t = T_slow`` the
    highest.  With those conventions the target speeds arriving inside ``[A, B]`` are
    ``[speed_for(B), speed_for(A)]``.  ``speed_inside(t)`` is the same without the two
    conventions, for times known to lie in ``[T_fast, T_slow]`` (the hot path of the bands).
    """

    def __init__(self, dist_m, v0_ms, accel_ms2, decel_ms2):
        d = np.maximum(dist_m, 0.0)
        v0 = np.maximum(v0_ms, _V_TINY)
        self.a, self.b, self.d, self.v0 = accel_ms2, decel_ms2, d, v0
        v0sq = v0 * v0
        self.c_up = d * (2.0 * accel_ms2) + v0sq  # v_reach²
        self.c_down = v0sq - d * (2.0 * decel_ms2)  # v_floor² when > 0

    @cached_property
    def v_reach(self):
        """Speed reached at the line when accelerating all the way."""
        return np.sqrt(self.c_up)

    @cached_property
    def v_floor(self):
        """Speed reached at the line when braking all the way (0 if the car can stop before)."""
        return np.sqrt(np.maximum(self.c_down, 0.0))

    @cached_property
    def t_fast(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.d > 0.0, 2.0 * self.d / (self.v0 + self.v_reach), 0.0)

    @cached_property
    def t_slow(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.c_down > 0.0, 2.0 * self.d / (self.v0 + self.v_floor), np.inf)

    def time_for(self, v_ms):
        """Arrival time (s) for target speed ``v_ms`` (broadcasts against ``d``, ``v0``)."""
        v0 = self.v0
        ve = np.asarray(np.maximum(v_ms, self.v_floor))
        np.minimum(ve, self.v_reach, out=ve)  # the speed actually held: T is flat beyond
        dv = ve - v0
        # (v - v0)² / (2ρ) = dv (c1 |dv| + c2 dv): 1/(2a) dv² when speeding up, -1/(2b) dv² not.
        c1 = 0.25 / self.a + 0.25 / self.b
        c2 = 0.25 / self.a - 0.25 / self.b
        t = np.asarray(np.abs(dv))
        t *= c1
        t += c2 * dv
        t *= dv
        t += self.d
        with np.errstate(divide="ignore", invalid="ignore"):
            t /= ve  # inf for a target of 0 that stops before the line
        return t

    def speed_inside(self, t_s):
        """Target speed arriving at ``t_s`` for ``T_fast <= t_s <= T_slow`` (no ±inf cases).

        ``v² - 2 v p + c = 0`` with ``p = v0 + ρ t`` and ``c = v0² + 2 ρ d``: the smaller root
        when speeding up (``t <= d / v0``, ``ρ = accel``), the larger one when slowing down
        (``ρ = -decel``); each written so that it does not cancel.
        """
        t = np.asarray(t_s, dtype=float)
        v0 = self.v0
        up = t * v0 <= self.d
        p = np.where(up, self.a, -self.b)  # rho, then p
        p *= t
        p += v0
        c = np.where(up, self.c_up, self.c_down)
        root = np.asarray(p * p)
        root -= c
        np.maximum(root, 0.0, out=root)
        np.sqrt(root, out=root)
        # up: c / (p + root) (p > 0); down: p + root if p >= 0, else c / (p - root).
        s = np.copysign(root, p)
        s += p
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.asarray(np.divide(c, s))
        down_pos = ~up
        down_pos &= p >= 0.0
        np.copyto(v, s, where=down_pos)
        return v

    def speed_for(self, t_s):
        t = np.asarray(t_s, dtype=float)
        v = self.speed_inside(t)
        v = np.where(t < self.t_fast, np.inf, v)
        return np.where(t > self.t_slow, -np.inf, v)


def speed_for_arrival_ms(dist_m, v0_ms, t_s, accel_ms2, decel_ms2):
    """Target speed whose arrival time is ``t_s``: the inverse of :func:`arrival_time_s`.

    See :class:`Arrival` for the ``±inf`` conventions; broadcasts.
    """
    return Arrival(dist_m, v0_ms, accel_ms2, decel_ms2).speed_for(t_s)
