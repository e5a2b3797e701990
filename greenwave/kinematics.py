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

Evaluation: the first case simplifies to ``T = d / v + (v - v0)² / (2ρ v)`` with ``ρ = accel``
when speeding up and ``ρ = -decel`` when slowing down (the second term is at most
``(v0 - v) / (v0 + v)`` of the first when negative: no cancellation to speak of); for a scalar
``v`` it depends on ``v0`` only.  The second case is the first one at the speed reached at the
line, ``T(v) = T(clip(v, v_floor, v_reach))``, i.e. the closed form of changing speed all the
way, ``2 d / (v0 + sqrt(v0² + 2ρd))``; it applies where ``d < (v² - v0²) / (2ρ)``.

All functions broadcast over numpy arrays; distances ``d <= 0`` mean the line is reached now.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

# A stopped car is given this speed instead of 0, so that T(v) needs no special case at the line
# (d = 0, v0 = 0 would be 0/0); it changes arrival times by ~1e-150 relative.
_V_TINY = 1e-150


def arrival_time_s(dist_m, v0_ms, v_ms, accel_ms2, decel_ms2):
    """Time (s) to reach the stop line when changing from ``v0`` to target ``v`` and holding it.

    Parameters broadcast; returns inf for a target of 0 that stops before the line.
    """
    d = np.asarray(dist_m, dtype=float)
    return Arrival(d, v0_ms, accel_ms2, decel_ms2).time_for(v_ms)


_TOGETHER_MAX = 4096  # elements up to which arrival_times_s evaluates its speeds in one pass


def arrival_times_s(dist_m, v0_ms, speeds_ms, accel_ms2, decel_ms2):
    """:func:`arrival_time_s` for several target-speed arrays ``speeds_ms`` at the same
    ``dist_m`` and ``v0_ms``: a list of times (s), each equal to that of
    ``arrival_time_s(dist_m, v0_ms, speed, ...)`` bit for bit.

    For up to ``_TOGETHER_MAX`` elements, the speeds positive everywhere share one evaluation
    of the cruise formula (one pass instead of one per speed: the calls cost more than their
    arithmetic for a few hundred vehicles); any other speed, and every speed of larger arrays
    (whose temporaries stay in cache one speed at a time), goes on its own, as it would alone.
    """
    arrival = Arrival(np.asarray(dist_m, dtype=float), v0_ms, accel_ms2, decel_ms2)
    small = math.prod(arrival._shape) <= _TOGETHER_MAX
    together = [
        i
        for i, v in enumerate(speeds_ms)
        if small and not isinstance(v, (int, float)) and _positive(v)
    ]
    out = [None] * len(speeds_ms)
    if together:
        times = arrival.times_for(tuple(speeds_ms[i] for i in together))
        for i, t in zip(together, times, strict=True):
            out[i] = t
    for i, v in enumerate(speeds_ms):
        if out[i] is None:
            out[i] = arrival.time_for(v)
    return out


def _shape_of(*shapes):
    """``np.broadcast_shapes`` with the common case (all alike) first: the numpy function
    costs microseconds, a tuple comparison nanoseconds, and the band code asks thousands of
    times a second."""
    first = shapes[0]
    if all(s == first for s in shapes[1:]):
        return first
    return np.broadcast_shapes(*shapes)


def _positive(v) -> bool:
    """Every element of ``v`` > 0 (NaN is not)."""
    return bool(np.greater(v, 0.0).all())


def _new_array(shape, dtype=np.float64):
    return np.empty(shape, dtype)


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

    ``alloc(shape, dtype=float64)``, if given, supplies every array this object computes (the
    band code hands out reused scratch memory); by default they are fresh.  Results are
    arrays (0-d for scalar inputs).
    """

    def __init__(self, dist_m, v0_ms, accel_ms2, decel_ms2, alloc=None):
        new = alloc or _new_array
        shape = _shape_of(np.shape(dist_m), np.shape(v0_ms))
        self.a, self.b, self._new, self._shape = accel_ms2, decel_ms2, new, shape
        self.d = np.maximum(dist_m, 0.0, out=new(shape))
        self.v0 = np.maximum(v0_ms, _V_TINY, out=new(np.shape(v0_ms)))

    @classmethod
    def of_clamped(cls, dist_m, v0_ms, accel_ms2, decel_ms2, alloc=None):
        """As the constructor, for arrays already clamped: ``dist_m >= 0`` (or NaN) and
        ``v0_ms >= _V_TINY`` (e.g. elements of another instance's ``d`` and ``v0``); they are
        used as they are, without copies."""
        self = cls.__new__(cls)
        self.a, self.b, self._new = accel_ms2, decel_ms2, alloc or _new_array
        self._shape = _shape_of(np.shape(dist_m), np.shape(v0_ms))
        self.d, self.v0 = dist_m, v0_ms
        return self

    @cached_property
    def _v0sq(self):
        return np.multiply(self.v0, self.v0, out=self._new(self.v0.shape))

    @cached_property
    def c_up(self):
        """``v_reach²``."""
        c = np.multiply(self.d, 2.0 * self.a, out=self._new(self._shape))
        c += self._v0sq
        return c

    @cached_property
    def c_down(self):
        """``v_floor²`` where positive (else the car can stop before the line)."""
        c = np.multiply(self.d, -2.0 * self.b, out=self._new(self._shape))
        c += self._v0sq
        return c

    @cached_property
    def v_reach(self):
        """Speed reached at the line when accelerating all the way."""
        return np.sqrt(self.c_up, out=self._new(self._shape))

    @cached_property
    def v_floor(self):
        """Speed reached at the line when braking all the way (0 if the car can stop before)."""
        v = np.maximum(self.c_down, np.float64(0.0), out=self._new(self._shape))
        return np.sqrt(v, out=v)

    @cached_property
    def t_fast(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.d > 0.0, 2.0 * self.d / (self.v0 + self.v_reach), 0.0)

    @cached_property
    def t_slow(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.c_down > 0.0, 2.0 * self.d / (self.v0 + self.v_floor), np.inf)

    def time_for(self, v_ms):
        """Arrival time (s) for target speed ``v_ms`` (broadcasts against ``d``, ``v0``).

        Where ``v`` is reached before the line (the usual case) this is the cruise formula
        ``T = d / v + (v - v0)² / (2ρ v)``, whose second term depends on ``v0`` only: for a
        scalar ``v`` it is computed once per ``v0`` element.  Where ``v`` is not reached
        (``d < (v² - v0²) / (2ρ)``: T is flat), the formula holds at the speed reached at the
        line, ``clip(v, v_floor, v_reach)``, which is the closed form of changing speed all the
        way; those few pairs are evaluated apart.
        """
        return self.times_for((v_ms,))[0]

    def times_for(self, speeds, out=None):
        """:meth:`time_for` of several target speeds, as a list of arrays.

        The speeds are evaluated together, as one (speeds, ...) array per step, with one
        evaluation of all their flat-region pairs; ``out``, if given, is that (speeds, ...)
        array (the results are its rows).  Scalar speeds leave the second term of the cruise
        formula per ``v0`` element only.
        """
        new, d, v0 = self._new, self.d, self.v0
        k = len(speeds)
        scalar = all(isinstance(v, (int, float)) for v in speeds)  # also numpy float64
        if scalar and all(v > 0.0 for v in speeds):
            shape = self._shape
            v_all = np.array(speeds, dtype=float).reshape((k,) + (1,) * len(shape))
            v = v_all.reshape((k,) + (1,) * v0.ndim)  # against v0
            part = (k,) + (1,) * (len(shape) - v0.ndim) + v0.shape  # against t
            t = new((k, *shape)) if out is None else out
            dv = np.subtract(v, v0, out=new((k, *v0.shape)))
        elif not scalar and all(_positive(v) for v in speeds):
            shape = _shape_of(self._shape, *(np.shape(v) for v in speeds))
            v = v_all = new((k, *shape))
            for i, speed in enumerate(speeds):
                v_all[i] = speed
            part = v_all.shape
            t = new((k, *shape)) if out is None else out
            dv = np.subtract(v, v0, out=new(part))
        else:  # 0 or NaN speeds: the general way
            times = [self._time_clipped(v) for v in speeds]
            if out is None:
                return times
            out[...] = times
            return list(out)
        kappa = np.sign(dv, out=new(dv.shape))  # 1 / (2ρ): ρ = a speeding up, -b slowing down
        kappa *= 0.25 / self.a + 0.25 / self.b
        kappa += 0.25 / self.a - 0.25 / self.b
        kappa *= dv
        reach = np.add(v, v0, out=new(dv.shape))
        reach *= kappa  # distance needed to change to v: (v² - v0²) / (2ρ)
        kappa *= dv
        kappa /= v  # (v - v0)² / (2ρ v)
        np.divide(d, v_all, out=t)
        t += kappa.reshape(part)
        flat = np.flatnonzero(np.less(d, reach.reshape(part), out=new(t.shape, np.bool_)))
        if flat.size:  # T is flat there: v is not reached before the line
            size = t[0].size
            pair = flat.copy()
            if scalar:
                v_flat = np.full(flat.shape, float(speeds[0]))
            else:
                v_flat = v_all.reshape(-1).take(flat)
            for i, c in enumerate(np.searchsorted(flat, size * np.arange(1, k)), start=1):
                pair[c:] -= size
                if scalar:
                    v_flat[c:] = speeds[i]
            t.reshape(-1)[flat] = self._time_flat(pair, v_flat, shape)
        return [t[i, ...] for i in range(k)]

    def _time_flat(self, flat, v_ms, shape):
        """Arrival times where target ``v_ms`` is not reached before the line: changing speed
        all the way, ``2 d / (v0 + sqrt(v0² + 2ρd))`` (elements ``flat`` of ``d`` and ``v0``
        broadcast to ``shape``)."""
        new = self._new
        d = _take_flat(self.d, shape, flat, new)
        v0 = _take_flat(self.v0, shape, flat, new)
        rho = np.full(flat.shape, -self.b)
        np.putmask(rho, v_ms >= v0, self.a)
        rho *= d
        rho *= 2.0
        end = np.multiply(v0, v0, out=new(flat.shape))
        end += rho
        np.sqrt(end, out=end)  # speed at the line
        end += v0
        t = np.add(d, d, out=rho)
        t /= end
        return t

    def _time_clipped(self, v_ms):
        """``T(v) = T(clip(v, v_floor, v_reach))`` by the cruise formula (any ``v``)."""
        new = self._new
        shape = _shape_of(self._shape, np.shape(v_ms))
        ve = np.maximum(v_ms, self.v_floor, out=new(shape))
        np.minimum(ve, self.v_reach, out=ve)  # the speed actually held: T is flat beyond
        dv = np.subtract(ve, self.v0, out=new(shape))
        t = np.multiply(dv, dv, out=new(shape))
        np.sign(dv, out=dv)
        dv *= 0.25 / self.a + 0.25 / self.b
        dv += 0.25 / self.a - 0.25 / self.b
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
        new = self._new
        shape = np.shape(t_s)
        if shape != self._shape:
            shape = np.broadcast_shapes(self._shape, shape)
        rho = np.multiply(t_s, self.v0, out=new(shape))
        up = np.less_equal(rho, self.d, out=new(shape, np.bool_))
        rho.fill(-self.b)
        np.putmask(rho, up, self.a)
        c = np.multiply(rho, self.d, out=new(shape))
        c *= 2.0
        c += self._v0sq
        p = rho
        p *= t_s
        p += self.v0
        root = np.multiply(p, p, out=new(shape))
        root -= c
        np.maximum(root, np.float64(0.0), out=root)
        np.sqrt(root, out=root)
        # up: c / (p + root) (p > 0); down: p + root if p >= 0, else c / (p - root).
        s = np.copysign(root, p, out=root)
        s += p
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.divide(c, s, out=c)
        down_pos = np.logical_not(up, out=up)
        down_pos &= p >= 0.0
        np.putmask(v, down_pos, s)
        return v

    def speed_for(self, t_s):
        t = np.asarray(t_s, dtype=float)
        v = self.speed_inside(t)
        v = np.where(t < self.t_fast, np.inf, v)
        return np.where(t > self.t_slow, -np.inf, v)


def _take_flat(a, shape, flat, new):
    """Elements ``flat`` of ``a`` broadcast to ``shape`` (without materialising it)."""
    a = np.asarray(a)
    if a.shape == shape and a.flags.c_contiguous:
        return a.reshape(-1).take(flat, out=new(flat.shape))
    if a.ndim == 1 and len(shape) == 2 and a.shape[0] == shape[1]:  # per column (vehicle)
        return a.take(flat % shape[1], out=new(flat.shape))
    return np.broadcast_to(a, shape)[np.unravel_index(flat, shape)]


def speed_for_arrival_ms(dist_m, v0_ms, t_s, accel_ms2, decel_ms2):
    """Target speed whose arrival time is ``t_s``: the inverse of :func:`arrival_time_s`.

    See :class:`Arrival` for the ``±inf`` conventions; broadcasts.
    """
    return Arrival(dist_m, v0_ms, accel_ms2, decel_ms2).speed_for(t_s)


def paced_speed_ms(dist_m, v0_ms, v_exit_ms, t_s, accel_ms2, decel_ms2, v_min_ms=0.0, t_go_s=None):
    """Speed to drive now to reach the stop line no earlier than ``t_s`` and at ``v_exit``.

    A constant band speed reaches the line at the green start slowly and speeds up after it.
    The *paced* approach (the trajectory of SUMO's GLOSA device, ``MSDevice_GLOSA::adaptSpeed``,
    and of eco-approach controllers, e.g. Barth et al. 2011, "Dynamic ECO-driving for arterial
    corridors", IEEE FISTS) crosses at the same time but at speed: change from ``v0`` to a
    cruise speed ``u`` (at ``decel`` down, ``accel`` up), hold ``u``, then accelerate from ``u``
    to ``v_exit`` at ``accel``, ending at the line.  Its arrival time:

    * ``u <= min(v0, v_exit)``: ``T(u) = A - c2 u - c0 / u`` with ``A = v0/decel + v_exit/accel``,
      ``c2 = (1/accel + 1/decel)/2``, ``c0 = v0²/(2 decel) + v_exit²/(2 accel) - d``;
      non-increasing wherever the cruise distance is non-negative (``u² >= c0/c2``), so
      ``T(u) = t`` gives ``u = (A - t + sqrt((A - t)² - 4 c2 c0)) / (2 c2)``;
    * ``v0 <= u <= v_exit``: ``T(u) = (v_exit - v0)/accel + D/u`` with the cruise distance
      ``D = d - (v_exit² - v0²)/(2 accel) >= 0``, so ``u = D / (t - (v_exit - v0)/accel)``.

    ``v_exit`` itself is the fastest of the family (accelerate now, then hold it).  If ``t``
    is before that arrival, the driver can just drive ``v_exit``.  Applied as a feedback rule
    every update (the driver re-plans from where they are), the first leg is all that matters:
    the returned speed is ``u`` (or ``v_exit``).  NaN where no such profile fits: ``u <
    v_min``, or the line is too close to change speed and accelerate to ``v_exit`` before it
    (use a constant band speed instead).  Following the profile arrives at ``t`` (``v_exit``:
    no earlier than ``t``); a re-plan from a late position only makes it later.

    Parameters
    ----------
    dist_m, v0_ms, v_exit_ms, t_s : array_like, broadcast
        Distance to the stop line (m), current speed (m/s), speed wanted at the line (m/s),
        earliest arrival time relative to now (s).
    accel_ms2, decel_ms2 : float
        Comfortable rates (m/s²), the ones the bands assume.
    v_min_ms : float or array_like
        Lowest cruise speed allowed (the advisory band's minimum).
    t_go_s : array_like, optional
        ``arrival_time_s(dist_m, v0_ms, v_exit_ms, ...)`` where the caller has it already.

    Returns
    -------
    ndarray of float (broadcast shape), m/s
    """
    d, v0, ve, t = (np.asarray(x, dtype=float) for x in (dist_m, v0_ms, v_exit_ms, t_s))
    if not d.shape == v0.shape == ve.shape == t.shape:
        d, v0, ve, t = np.broadcast_arrays(d, v0, ve, t)
    a, b = float(accel_ms2), float(decel_ms2)
    t_go = arrival_time_s(d, v0, ve, a, b) if t_go_s is None else t_go_s
    c2 = 0.5 * (1.0 / a + 1.0 / b)
    c0 = v0 * v0 / (2.0 * b) + ve * ve / (2.0 * a) - d
    q = v0 / b + ve / a - t
    cruise_up = d - (ve * ve - v0 * v0) / (2.0 * a)
    with np.errstate(invalid="ignore", divide="ignore"):
        u_down = (q + np.sqrt(q * q - 4.0 * c2 * c0)) / (2.0 * c2)
        u_up = cruise_up / (t - (ve - v0) / a)
    down = (u_down < np.minimum(v0, ve)) & (c0 <= c2 * u_down * u_down)
    up = ~down & (v0 <= ve) & (cruise_up >= 0.0) & (u_up >= v0) & (u_up <= ve)
    u = np.where(t <= t_go, ve, np.where(down, u_down, np.where(up, u_up, np.nan)))
    return np.where(u >= v_min_ms, u, np.nan)
