"""Feasible speed bands for arriving on green, for many vehicles and intersections in one call.

For vehicle ``n`` and the ``j``-th stop line ahead (distance ``dist_m[n, j]``), each of the next
``K`` conservative green windows ``[ws, we)`` of the controlling signal group defines the target
speeds whose arrival time (see :mod:`greenwave.kinematics`) falls in

    [ws - t + queue_delay,  we - t - safety_margin]

which is one interval of speeds.  It is intersected with the advisory band
``[band_min, min(band_max, limit)]``, where ``limit`` is the lowest speed limit between the
vehicle and that stop line, and kept only if it is at least ``min_width`` wide.

Empty bands
-----------
Bands are sets of speeds ``[lo, hi]`` in m/s.  An empty band is returned as ``lo = hi = NaN``
together with a status other than ``PROCEED``/``ADVICE``; ``Bands.feasible`` is the mask of
non-empty ones.  Every non-empty band lies inside ``[band_min, min(band_max, limit)]``.

Which window
------------
If the current speed already lies in a window's band the vehicle is told to carry on (``PROCEED``,
that window); otherwise the earliest window with a band is targeted (``ADVICE``): it is also the
fastest.  No window with a band → ``STOP`` (prepare to stop); no signal → ``NO_SIGNAL``.

Joint bands
-----------
``joint_lo/hi[:, m-1]`` is a band of single speeds that arrives on green at *each* of the first
``m`` stop lines: the intersection over ``j < m`` of the union over windows of the per-window
bands.  Candidates are intersected pairwise (windows are disjoint, so the pieces are too); per
window of the latest stop line the fastest piece is kept, so K candidates carry to the next.  The reported piece is the one holding
the current speed, else the fastest.  ``joint[:, 0]`` equals the per-intersection band of the
first stop line.  An unsignalised node ahead constrains only the speed limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .kinematics import Arrival
from .spat import SignalTiming
from .timing import PlanTable
from .units import kmh_to_ms

NO_SIGNAL, PROCEED, ADVICE, STOP = 0, 1, 2, 3
STATUS_NAMES = ("no_signal_ahead", "proceed", "advice", "prepare_to_stop")

# Saturation flow 1900 pc/h/ln and start-up lost time 2 s are the HCM base values
# (Highway Capacity Manual 2010, Ch. 18, Exhibit 18-11 defaults; same in HCM 6th ed., Ch. 19).
SATURATION_HEADWAY_S = 3600.0 / 1900.0
STARTUP_LOST_TIME_S = 2.0
JAM_SPACING_M = 7.0  # stopped car length + gap, a common urban value (5 m car + 2 m gap)

# Numerical guard: bands are shrunk by this much so that their ends, recomputed by the forward
# model, stay inside the window despite rounding.
_EPS_MS = 1e-7


@dataclass(frozen=True)
class BandParams:
    """Advisory settings (SI). Defaults follow the Zibo app's 35–50 km/h band.

    Parameters
    ----------
    band_min_ms, band_max_ms : float
        Advisory band limits (m/s); advice never leaves ``[band_min, min(band_max, limit)]``.
    safety_margin_s : float
        Do not advise arriving in the last ``safety_margin_s`` of green (nor on amber).
    min_width_ms : float
        A band narrower than this is no advice (a driver cannot hold a 0.3 km/h band).
    accel_ms2, decel_ms2 : float
        Comfortable acceleration / deceleration used to change to the advised speed.
    n_windows : int
        Green windows looked at per stop line (cycles ahead).
    """

    band_min_ms: float = kmh_to_ms(35.0)
    band_max_ms: float = kmh_to_ms(50.0)
    safety_margin_s: float = 2.0
    min_width_ms: float = kmh_to_ms(2.0)
    accel_ms2: float = 1.0
    decel_ms2: float = 1.5
    n_windows: int = 3

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v):
                raise ValueError(f"{f.name} must be finite, got {v}")
        if not 0.0 < self.band_min_ms < self.band_max_ms:
            raise ValueError(
                f"need 0 < band_min_ms < band_max_ms, got {self.band_min_ms}, {self.band_max_ms}"
            )
        for name in ("accel_ms2", "decel_ms2"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.safety_margin_s < 0 or self.min_width_ms < 0:
            raise ValueError("safety_margin_s and min_width_ms must be >= 0")
        if not 1 <= self.n_windows <= 16 or int(self.n_windows) != self.n_windows:
            raise ValueError("n_windows must be an integer in 1..16")


@dataclass(frozen=True)
class Bands:
    """Result of :func:`speed_bands`. Shapes: N vehicles × M stop lines ahead; speeds in m/s.

    Attributes
    ----------
    lo_ms, hi_ms : (N, M) float64
        Band for arriving on green at stop line j (NaN when empty).
    status : (N, M) int8
        ``NO_SIGNAL``, ``PROCEED``, ``ADVICE`` or ``STOP``.
    window_start_s, window_end_s : (N, M) float64
        Absolute green window targeted (NaN when none).
    time_to_green_s, time_to_red_s : (N, M) float64
        Seconds to the start (0 if green now) and end of the current/next conservative green.
    joint_lo_ms, joint_hi_ms : (N, M) float64
        Band for passing stop lines 0..m on green at one speed (NaN when empty).
    """

    lo_ms: np.ndarray
    hi_ms: np.ndarray
    status: np.ndarray
    window_start_s: np.ndarray
    window_end_s: np.ndarray
    time_to_green_s: np.ndarray
    time_to_red_s: np.ndarray
    joint_lo_ms: np.ndarray
    joint_hi_ms: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        """(N, M) bool: a non-empty band exists for stop line j."""
        return ~np.isnan(self.lo_ms)

    def options(self, n: int = 3):
        """Joint bands covering the next 1..n stop lines: ``(lo, hi)`` each (N, n), NaN = none."""
        return self.joint_lo_ms[:, :n], self.joint_hi_ms[:, :n]

    def longest_joint(self):
        """Per vehicle: the joint band covering the most stop lines, and how many (0 = none).

        Returns ``lo (N,), hi (N,), count (N,) int``.
        """
        ok = ~np.isnan(self.joint_lo_ms)
        count = ok.sum(axis=1)  # joint bands are nested: non-empty for 1..count
        idx = np.maximum(count - 1, 0)[:, None]
        lo = np.take_along_axis(self.joint_lo_ms, idx, axis=1)[:, 0]
        hi = np.take_along_axis(self.joint_hi_ms, idx, axis=1)[:, 0]
        return lo, hi, count


def queue_discharge_delay_s(
    queue_veh, startup_lost_s: float = STARTUP_LOST_TIME_S, headway_s: float = SATURATION_HEADWAY_S
):
    """Seconds after green start until a queue of ``queue_veh`` vehicles has crossed the line.

    Start-up lost time plus one saturation headway per queued vehicle (HCM 2010 base values);
    0 for an empty queue.
    """
    q = np.asarray(queue_veh, dtype=float)
    return np.where(q > 0, startup_lost_s + q * headway_s, 0.0)


def queue_vehicles(queue_length_m, jam_spacing_m: float = JAM_SPACING_M):
    """Vehicles in a standing queue of the given length (m), rounded up."""
    return np.ceil(np.asarray(queue_length_m, dtype=float) / jam_spacing_m)


def speed_bands(
    dist_m,
    speed_ms,
    t_s,
    group,
    limit_ms,
    timing: SignalTiming | PlanTable,
    params: BandParams = BandParams(),
    queue_delay_s=None,
) -> Bands:
    """Speed bands for N vehicles and their next M stop lines, in one vectorised call.

    Parameters
    ----------
    dist_m : (N, M) float
        Distance along the path to each of the next M stop lines (increasing along j); NaN where
        the path has no further stop line.
    speed_ms : (N,) float
        Current speed.
    t_s : (N,) float or scalar
        Current absolute time (s, :mod:`greenwave.timing` clock).
    group : (N, M) int
        Global signal group index controlling each stop line; -1 = unsignalised.
    limit_ms : (N, M) float
        Speed limit of the stretch that ends at stop line j.
    timing : SignalTiming or PlanTable
        Signal timing (with live SPaT if any).
    params : BandParams
    queue_delay_s : (N, M) float, optional
        Queue discharge delay added to the start of green (see :func:`queue_discharge_delay_s`).

    Returns
    -------
    Bands

    Notes
    -----
    Vehicles are processed in blocks of ``_BLOCK`` so that the (block, M, K) temporaries stay in
    cache; the work is the same array code for every block.
    """
    if isinstance(timing, PlanTable):
        timing = SignalTiming(timing)
    dist = np.asarray(dist_m, dtype=float)
    if dist.ndim != 2:
        raise ValueError(f"dist_m must be (N, M), got shape {dist.shape}")
    n, m = dist.shape
    v0 = np.asarray(speed_ms, dtype=float).reshape(n)
    t = np.ascontiguousarray(np.broadcast_to(np.asarray(t_s, dtype=float), (n,)))
    grp = np.asarray(group, dtype=np.int64).reshape(n, m)
    lim = np.asarray(limit_ms, dtype=float).reshape(n, m)
    qd = None if queue_delay_s is None else np.asarray(queue_delay_s, dtype=float).reshape(n, m)
    # Results are filled stop-line-major (M, N) and handed out as (N, M) transposed views.
    names = [f.name for f in fields(Bands)]
    out = {f: np.empty((m, n), dtype=np.int8 if f == "status" else float) for f in names}
    for s in range(0, n, _BLOCK):
        sl = slice(s, min(s + _BLOCK, n))
        _block(dist[sl], v0[sl], t[sl], grp[sl], lim[sl], None if qd is None else qd[sl],
               timing, params, out, sl)
    return Bands(**{f: out[f].T for f in names})


_BLOCK = 8192


def _first_true(masks):
    """Index of the first True among K boolean rows, K where none is; uint8 arithmetic only.

    ``masks`` is a sequence of K (P,) bool arrays.  Branch-free: f = ¬m0·(1 + ¬m1·(1 + ...)).
    """
    f = np.zeros(masks[0].shape, dtype=np.uint8)
    for m in reversed(masks):
        f += 1
        f *= ~m
    return f


def _block(dist, v0, t, grp, lim, qd, timing, params, out, sl):
    """Bands for one block of vehicles; writes rows ``sl`` of ``out``.

    Layout: pairs are flattened stop-line-major (``p = j * n + i``) so that each stop line's
    pairs are one contiguous slice, and window quantities are (K, P) so that each window is a
    contiguous row: reductions over the few windows become a handful of elementwise operations.
    """
    n, m = dist.shape
    k = params.n_windows
    npair = n * m
    d = dist.T.ravel().copy()  # (P,); a copy: NaNs are zeroed below, never in the input
    present = ~np.isnan(d)
    g = np.ascontiguousarray(grp.T).ravel()
    signal = present & (g >= 0)
    np.copyto(d, 0.0, where=~present)
    lim_p = np.where(np.isnan(dist), np.inf, lim)
    vmax = np.ascontiguousarray(
        np.minimum(np.minimum.accumulate(lim_p, axis=1), params.band_max_ms).T).ravel()
    vmin = params.band_min_ms
    vp = np.tile(v0, m)
    tp = np.tile(t, m)

    # Green windows, window-first (K, P); unsignalised pairs query group 0 and are masked.
    ws, we = timing.windows_by_k(np.where(signal, g, 0), tp, k)
    rel_a = ws - tp  # arrival must be >= rel_a ...
    rel_b = we - tp  # ... and <= rel_b - margin
    rel_b -= params.safety_margin_s
    if qd is not None:
        np.maximum(rel_a, 0.0, out=rel_a)
        rel_a += np.ascontiguousarray(qd.T).ravel()

    # Arrival times of the band's fastest and slowest speeds: a window is usable only if it
    # overlaps [t_early, t_late], and inverses are needed only for edges strictly inside it.
    a, b = params.accel_ms2, params.decel_ms2
    kin = Arrival(d, vp, a, b)
    t_early = kin.time_for(vmax)
    t_late = kin.time_for(vmin)
    ok = (rel_a <= t_late) & (rel_b >= t_early) & (rel_b > rel_a)
    ok &= signal
    hi = np.broadcast_to(vmax, (k, npair)).copy()
    lo = np.full((k, npair), vmin)
    # Edges on the boundary are inverted too: B = t_early may still admit a range of speeds
    # when T is flat there (a car that cannot reach vmax before the line).
    for edge, bound, sign, inside in (
        (rel_a, hi, -1.0, ok & (rel_a > t_early) & (rel_a <= t_late)),
        (rel_b, lo, 1.0, ok & (rel_b >= t_early) & (rel_b < t_late)),
    ):
        idx = np.flatnonzero(inside)
        if idx.size:
            pair = idx % npair
            inv = Arrival(d[pair], vp[pair], a, b)
            bound.ravel()[idx] = inv.speed_for(edge.ravel()[idx]) + sign * _EPS_MS
    np.minimum(hi, vmax, out=hi)
    np.maximum(lo, vmin, out=lo)
    ok &= hi - lo >= params.min_width_ms

    # Target window: the first holding the current speed, else the first (earliest) with a band.
    holds = ok & (lo <= vp) & (hi >= vp)
    f_ok = _first_true(ok)
    f_hold = _first_true(holds)
    has_ok = f_ok < k
    has_hold = f_hold < k
    pick = np.where(has_hold, f_hold, np.minimum(f_ok, k - 1)).astype(np.intp)
    flat = pick * npair + np.arange(npair)

    def put(name, arr):
        out[name][:, sl] = arr.reshape(m, n)

    for name, arr in (("lo_ms", lo), ("hi_ms", hi), ("window_start_s", ws),
                      ("window_end_s", we)):
        v = arr.ravel()[flat]
        v[~has_ok] = np.nan
        put(name, v)
    status = np.full(npair, STOP, dtype=np.int8)
    status[has_ok] = ADVICE
    status[has_hold] = PROCEED
    status[~signal] = NO_SIGNAL
    put("status", status)
    ttg = np.maximum(ws[0] - tp, 0.0)
    ttr = we[0] - tp
    ttg[~signal] = np.nan
    ttr[~signal] = np.nan
    put("time_to_green_s", ttg)
    put("time_to_red_s", ttr)

    # Unsignalised but present stop lines constrain only the limit: one full-band interval.
    free = present & ~signal
    if free.any():
        lo[0, free] = vmin
        hi[0, free] = vmax[free]
        ok[0, free] = vmax[free] - vmin >= params.min_width_ms
    _joint_bands(lo.reshape(k, m, n), hi.reshape(k, m, n), ok.reshape(k, m, n), v0,
                 params.min_width_ms, out["joint_lo_ms"][:, sl], out["joint_hi_ms"][:, sl])


def _joint_bands(lo, hi, ok, v0, min_width, out_lo, out_hi):
    """Intersect per-stop-line unions of intervals cumulatively; see module docstring.

    ``lo, hi, ok`` are (K, M, N); results go to ``out_lo, out_hi`` (M, N).  The running intersection is kept as K pieces, one per window
    of the latest stop line (the fastest piece inside that window's band); pieces are disjoint
    and ordered fastest first, because windows are in time order.
    """
    k, m, n = lo.shape
    j_lo, j_hi, j_ok = lo[:, 0].copy(), hi[:, 0].copy(), ok[:, 0].copy()
    out_lo[0], out_hi[0] = _report(j_lo, j_hi, j_ok, v0)
    for j in range(1, m):
        new_lo, new_hi = np.full((k, n), np.nan), np.full((k, n), np.nan)
        new_ok = np.zeros((k, n), dtype=bool)
        # Skip pieces and windows that are empty for the whole block: usually only one or two
        # windows per stop line are reachable inside the band.
        pieces = [p for p in range(k) if j_ok[p].any()]
        for w in range(k):
            if not pieces or not ok[w, j].any():
                continue
            c_lo = np.maximum(j_lo[pieces], lo[w, j])  # (pieces, N)
            c_hi = np.minimum(j_hi[pieces], hi[w, j])
            c_ok = j_ok[pieces] & ok[w, j]
            c_ok &= c_hi - c_lo >= min_width
            f = _first_true(c_ok)  # fastest valid piece
            flat = np.minimum(f, len(pieces) - 1).astype(np.intp) * n + np.arange(n)
            new_lo[w] = c_lo.ravel()[flat]
            new_hi[w] = c_hi.ravel()[flat]
            new_ok[w] = f < len(pieces)
        j_lo, j_hi, j_ok = new_lo, new_hi, new_ok
        out_lo[j], out_hi[j] = _report(j_lo, j_hi, j_ok, v0)


def _report(lo, hi, ok, v0):
    """Pick one of K (K, N) candidates per vehicle: the one holding v0, else the fastest."""
    k, n = lo.shape
    holds = ok & (lo <= v0) & (hi >= v0)
    f_hold = _first_true(holds)
    f_ok = _first_true(ok)  # candidates are ordered fastest first
    pick = np.where(f_hold < k, f_hold, np.minimum(f_ok, k - 1)).astype(np.intp)
    flat = pick * n + np.arange(n)
    none = f_ok == k
    sel_lo, sel_hi = lo.ravel()[flat], hi.ravel()[flat]
    sel_lo[none] = np.nan
    sel_hi[none] = np.nan
    return sel_lo, sel_hi


def pick_speed_ms(lo_ms, hi_ms, desired_ms):
    """The speed inside ``[lo, hi]`` closest to each driver's desired speed (NaN if no band)."""
    return np.clip(desired_ms, lo_ms, hi_ms)
