"""Arrival time at a stop line for a driver who changes to a target speed, and its inverse.

The driver is at distance ``d`` (m) from the stop line at speed ``v0`` (m/s).  Told to drive at
``v``, they change speed at a constant comfortable rate (``accel`` up, ``decel`` down, m/s²) and
then hold ``v``.  If the line comes before ``v`` is reached, they cross it mid-change.  The arrival
time ``T(v)`` is continuous and non-increasing in ``v``:

* ``v`` reached before the line:  ``T = |v - v0|/r + (d - |v² - v0²|/(2r)) / v``
* not reached:                    the root of ``d = v0 τ ± r τ²/2``

so the set of target speeds that arrive inside a window ``[A, B]`` is one interval, whose ends
come from the closed-form inverse below.  ``T`` is flat at ``T_fast`` (accelerating all the way)
above the speed reachable by the line and, when the driver cannot brake below
``v_floor = sqrt(v0² - 2 decel d)``, flat at ``T_slow`` below it.

All functions broadcast over numpy arrays; distances ``d <= 0`` mean the line is reached now.
"""

from __future__ import annotations

import numpy as np


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

    Constants that depend only on distance and current speed are computed once, so that many
    speeds or window edges can be evaluated cheaply.  ``time_for(v)`` is :func:`arrival_time_s`.

    ``speed_for(t)`` returns ``+inf`` when ``t < T_fast`` (every speed arrives by ``t``) and
    ``-inf`` when ``t > T_slow`` (no speed arrives that late); at ``t = T_fast`` it returns the
    lowest speed that arrives then (the one reached exactly at the line), at ``t = T_slow`` the
    highest.  With those conventions the target speeds arriving inside ``[A, B]`` are
    ``[speed_for(B), speed_for(A)]``.
    """

    def __init__(self, dist_m, v0_ms, accel_ms2, decel_ms2):
        d = np.maximum(dist_m, 0.0)
        v0 = np.asarray(v0_ms, dtype=float)
        self.a, self.b, self.v0 = accel_ms2, decel_ms2, v0
        self.t_fast = fastest_arrival_s(d, v0, accel_ms2)
        self.t_slow = slowest_arrival_s(d, v0, decel_ms2)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.t_const = d / v0  # arrival holding v0; inf when stopped
        self.c_up = v0 * v0 + 2.0 * accel_ms2 * d
        self.c_down = v0 * v0 - 2.0 * decel_ms2 * d
        self.d = d

    def time_for(self, v_ms):
        """Arrival time (s) for target speed ``v_ms`` (broadcasts against ``d``, ``v0``)."""
        v0, d = self.v0, self.d
        v = np.asarray(v_ms, dtype=float)
        up = v >= v0
        rate = np.where(up, self.a, self.b)
        d_change = np.abs(v * v - v0 * v0) / (2.0 * rate)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t_cruise = np.abs(v - v0) / rate + (d - d_change) / v
        t = np.where(d_change <= d, t_cruise, np.where(up, self.t_fast, self.t_slow))
        return np.where(d > 0.0, t, 0.0)

    def speed_for(self, t_s):
        t = t_s
        v0 = self.v0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Accelerating (target above v0): v² - 2v(v0 + aT) + v0² + 2ad = 0, smaller root,
            # written as c / (p + sqrt(p² - c)) to avoid cancellation.
            p = v0 + self.a * t
            v_up = self.c_up / (p + np.sqrt(np.maximum(p * p - self.c_up, 0.0)))
            # Braking (target below v0): v² + 2v(bT - v0) + v0² - 2bd = 0, larger root.
            q = v0 - self.b * t
            root = np.sqrt(np.maximum(q * q - self.c_down, 0.0))
            v_down = np.where(q >= 0.0, q + root, self.c_down / (q - root))
        v = np.where(t <= self.t_const, v_up, v_down)
        v = np.where(t < self.t_fast, np.inf, v)
        return np.where(t > self.t_slow, -np.inf, v)


def speed_for_arrival_ms(dist_m, v0_ms, t_s, accel_ms2, decel_ms2):
    """Target speed whose arrival time is ``t_s``: the inverse of :func:`arrival_time_s`.

    See :class:`Arrival` for the ``±inf`` conventions; broadcasts.
    """
    return Arrival(dist_m, v0_ms, accel_ms2, decel_ms2).speed_for(t_s)
