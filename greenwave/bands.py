"""Feasible speed bands for arriving on green, for many vehicles and intersections in one call.

:func:`speed_bands` returns :class:`Bands` for N vehicles and their next M stop lines (arrays
``(N, M)``; speeds in m/s, times in s on the :mod:`greenwave.timing` clock, distances in m).
For vehicle ``n`` and stop line ``j`` (distance ``dist_m[n, j]``), each green window
``[ws, we)`` of the controlling signal group gives the speeds whose arrival time
(:mod:`greenwave.kinematics`) falls in

    [ws - t + queue_delay,  we - t - safety_margin]

intersected with the advisory band ``[band_min, min(band_max, limit)]`` (``limit``: the lowest
speed limit up to that stop line) and kept only if at least ``min_width`` wide
(:class:`BandParams`; ``queue_delay``: :func:`queue_discharge_delay_s`).  ``n_windows`` windows
are looked at per stop line, from the first reachable one.

An empty band is ``lo = hi = NaN`` with a status other than ``PROCEED``/``ADVICE``
(:attr:`Bands.feasible` masks the non-empty ones).  Status: the current speed inside a window's
band → ``PROCEED`` (that window); else the earliest window with a band → ``ADVICE`` (also the
fastest); no window with a band → ``STOP`` (prepare to stop); no signal → ``NO_SIGNAL``.

``joint_lo/hi[:, m-1]`` is a band of single speeds that arrives on green at *each* of the first
``m`` stop lines (the piece holding the current speed, else the fastest); ``joint[:, 0]`` is the
first stop line's own band, and an unsignalised node ahead constrains only the speed limit.
Drivers pick one with :meth:`Bands.longest_joint` or :meth:`Bands.choose_joint`.

Derivations and history: docs/bands.md.
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
        Green windows looked at per stop line, from the first reachable one (see "Which
        windows" in docs/bands.md).
    max_speed_factor : float
        Approach plans (:mod:`greenwave.plans`) may speed up to this × the speed limit (and
        never above ``band_max_ms``); 1.0 keeps every plan within the limit.
    eco_decel_ms2 : float
        Deceleration of the eco-approach when no green is reachable (:mod:`greenwave.plans`).
    plan_start_margin_s : float
        Approach plans aim this long after the green start (and the queue's discharge).
    plan_start_margin_horizon_s : float
        The margin shrinks in proportion as the green start comes closer than this (s): an
        arrival predicted further ahead is less certain; 0 keeps the whole margin always.
    """

    band_min_ms: float = kmh_to_ms(35.0)
    band_max_ms: float = kmh_to_ms(50.0)
    safety_margin_s: float = 2.0
    min_width_ms: float = kmh_to_ms(2.0)
    accel_ms2: float = 1.0
    decel_ms2: float = 1.5
    n_windows: int = 3
    max_speed_factor: float = 1.0
    eco_decel_ms2: float = 1.0
    plan_start_margin_s: float = 2.0
    plan_start_margin_horizon_s: float = 10.0

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v):
                raise ValueError(f"{f.name} must be finite, got {v}")
        if not 0.0 < self.band_min_ms < self.band_max_ms:
            raise ValueError(
                f"need 0 < band_min_ms < band_max_ms, got {self.band_min_ms}, {self.band_max_ms}"
            )
        if not 1.0 <= self.max_speed_factor <= 2.0:
            raise ValueError("max_speed_factor must be in [1, 2]")
        for name in ("accel_ms2", "decel_ms2", "eco_decel_ms2"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.safety_margin_s < 0 or self.min_width_ms < 0 or self.plan_start_margin_s < 0:
            raise ValueError("safety_margin_s and min_width_ms must be >= 0")
        if self.plan_start_margin_horizon_s < 0:
            raise ValueError("plan_start_margin_horizon_s must be >= 0")
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
        return self._joint_at(count)

    def choose_joint(self, desired_ms, max_signals=None, min_speed_ratio=0.0):
        """Per vehicle: the option a driver takes among the joint bands (the app's several
        speed options), and how many stop lines it covers (0 = none).

        The driver drives their desired speed clipped into a band.  They take the joint band
        covering the most stop lines, but at most ``max_signals`` (None: all), and not one whose
        speed is below ``min_speed_ratio`` × the speed of the next stop line's own band:
        covering one more signal is not worth crawling towards it.  With the defaults this is
        :meth:`longest_joint`.

        Parameters
        ----------
        desired_ms : (N,) or scalar float
            Each driver's desired speed (m/s).
        max_signals : int, optional
        min_speed_ratio : float in [0, 1]

        Returns ``lo (N,), hi (N,), count (N,) int``.
        """
        jlo, jhi = self.joint_lo_ms, self.joint_hi_ms
        if max_signals is not None:
            jlo, jhi = jlo[:, :max_signals], jhi[:, :max_signals]
        ok = ~np.isnan(jlo)
        if min_speed_ratio > 0.0 and ok.shape[1] > 1:
            d = np.broadcast_to(np.asarray(desired_ms, dtype=float), ok.shape[:1])[:, None]
            speed = np.clip(d, jlo, jhi)
            with np.errstate(invalid="ignore"):
                ok &= speed >= min_speed_ratio * speed[:, :1]
            ok = np.logical_and.accumulate(ok, axis=1)
        return self._joint_at(ok.sum(axis=1))

    def _joint_at(self, count):
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


def speed_bands(
    dist_m,
    speed_ms,
    t_s,
    group,
    limit_ms,
    timing: SignalTiming | PlanTable,
    params: BandParams = BandParams(),
    queue_delay_s=None,
    end_margin_s=None,
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
    end_margin_s : (N, M) float, optional
        Time (s) taken off the end of green on top of ``safety_margin_s`` (a turner's braking
        into the turn, :func:`greenwave.advice.turn_band_limits`).

    Returns
    -------
    Bands

    Notes
    -----
    Vehicles are processed in blocks of ``_BLOCK`` so that the (M, block) temporaries stay in
    cache; the work is the same array code for every block, and its temporaries live in
    scratch memory reused from block to block (see :class:`_Scratch`).
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
    em = None if end_margin_s is None else np.asarray(end_margin_s, dtype=float).reshape(n, m)
    if grp.size and grp.max() >= timing.plans.n_groups:
        raise IndexError(
            f"signal group {grp.max()} out of range: the timing has {timing.plans.n_groups} groups"
        )
    # Results are filled stop-line-major (M, N) and handed out as (N, M) transposed views.
    # The float ones share one allocation: eight separate ones cost ~20% more per call
    # (measured), their fresh pages being faulted in one by one.
    names = [f.name for f in fields(Bands)]
    floats = np.empty((len(names) - 1, m, n))
    out = dict(zip([f for f in names if f != "status"], floats, strict=True))
    out["status"] = np.empty((m, n), dtype=np.int8)
    # Small calls (a corridor's vehicles, one phone) take fresh arrays: for a few kilobytes
    # numpy's allocator is quicker than the bump allocator's bookkeeping.
    scratch = _Scratch(max(32 * m * min(n, _BLOCK) * 8, 1 << 16)) if m * n > _SMALL else _Fresh()
    for s in range(0, n if m else 0, _BLOCK):
        sl = slice(s, min(s + _BLOCK, n))
        scratch.reset()
        _block(
            dist[sl],
            v0[sl],
            t[sl],
            grp[sl],
            lim[sl],
            None if qd is None else qd[sl],
            None if em is None else em[sl],
            timing,
            params,
            {f: a[:, sl] for f, a in out.items()},
            scratch,
        )
    return Bands(**{f: out[f].T for f in names})


_BLOCK = 8192
_SMALL = 2048  # stop lines × vehicles up to which a call allocates afresh (see speed_bands)


class _Scratch:
    """Bump allocator for the temporaries of one block, reused block after block.

    Fresh block-sized arrays (100 kB and more) are page-faulted in again on every block once
    several are alive at a time (the C allocator hands the freed top of the heap back to the
    system), which took longer than the arithmetic on them.  The hot path takes its
    temporaries from here instead (``new(shape, dtype)``, then ``out=``); :meth:`reset` at the
    start of a block makes the memory of the previous one available again, and a stage hands
    back its own temporaries with :meth:`mark` / :meth:`release` (results are taken before the
    mark), which keeps a block's memory, and so its cache footprint, small.  Memory comes in
    chunks of at least ``chunk_bytes``, kept for the whole call.
    """

    def __init__(self, chunk_bytes):
        self._chunk_bytes = chunk_bytes
        self._chunks = []  # (uint8 chunk, {dtype: typed view of it})
        self._sizes = {}  # (shape, dtype) -> (elements, bytes taken)
        self._arange = np.arange(0)
        self.reset()

    def reset(self):
        self._chunk, self._offset = -1, 0
        self._free = 0  # bytes left in the current chunk

    def __call__(self, shape, dtype=np.float64):
        try:
            count, size = self._sizes[shape, dtype]
        except KeyError:
            count = math.prod(shape)
            size = -(-count * np.dtype(dtype).itemsize // 64) * 64  # 64-byte aligned
            self._sizes[shape, dtype] = count, size
        if size > self._free:
            self._next_chunk(size)
        offset = self._offset
        self._offset += size
        self._free -= size
        typed = self._chunks[self._chunk][1]
        view = typed.get(dtype)
        if view is None:
            view = typed[dtype] = self._chunks[self._chunk][0].view(dtype)
        start = offset // view.itemsize
        return view[start : start + count].reshape(shape)

    def arange(self, count):
        """``np.arange(count)`` (intp), kept for the whole call."""
        if self._arange.size < count:
            self._arange = np.arange(count)
        return self._arange[:count]

    def mark(self):
        """The allocation state, to :meth:`release` back to (a stack discipline)."""
        return self._chunk, self._offset, self._free

    def release(self, mark):
        """Make everything taken since ``mark`` available again."""
        self._chunk, self._offset, self._free = mark

    def _next_chunk(self, size):
        self._chunk += 1
        if self._chunk == len(self._chunks) or self._chunks[self._chunk][0].size < size:
            chunk = np.empty(max(self._chunk_bytes, size), dtype=np.uint8)
            self._chunks[self._chunk : self._chunk + 1] = [(chunk, {})]
        self._offset, self._free = 0, self._chunks[self._chunk][0].size


class _Fresh:
    """:class:`_Scratch`'s interface over fresh arrays (``np.empty``): no bookkeeping."""

    def __call__(self, shape, dtype=np.float64):
        return np.empty(shape, dtype)

    def reset(self):
        pass

    def arange(self, count):
        return np.arange(count)

    def mark(self):
        return None

    def release(self, mark):
        pass


def _first_true(masks):
    """Index of the first True among K boolean rows, K where none is; uint8 arithmetic only.

    ``masks`` is a sequence of K (P,) bool arrays.  Branch-free: f = ¬m0·(1 + ¬m1·(1 + ...)).
    """
    f = np.zeros(masks[0].shape, dtype=np.uint8)
    for m in reversed(masks):
        f += 1
        f *= ~m
    return f


def _block(dist, v0, t, grp, lim, qd, em, timing, params, out, new):
    """Bands for one block of vehicles, written to the (M, n) views ``out``.

    Layout: stop-line-major (M, n) arrays, per-vehicle ``v0`` and ``t`` broadcast along stop
    lines, and window rows (R, M, n): the few windows looked at are a leading axis, so that
    reductions over them are a handful of elementwise operations.  A pair without a signal has
    NaN window times, which makes every comparison on it false.  Temporaries come from the
    scratch allocator ``new``; every (M, n) and (R, M, n) array is C-contiguous, which the flat
    indexing relies on.
    """
    d, present, g, signal, vmax = _inputs(dist, grp, lim, params.band_max_ms, new)
    kin, t_early, t_late = _arrival_range(d, v0, vmax, params, new)
    # Time before a green's end by which arrivals must be: a scalar, or (M, n) per pair.
    margin = params.safety_margin_s
    if em is not None:
        margin = np.add(em.T, margin, out=new(d.shape))
    ws, we = _windows(g, t, signal, t_early, t_late, timing, params, margin, out, new)
    lo, hi = _window_bands(ws, we, qd, kin, v0, t_early, t_late, vmax, params, margin, new)
    _select(lo, hi, ws, we, v0, t, signal, out, new)
    # Unsignalised but present stop lines constrain only the limit: one full-band interval.
    first_lo, first_hi = out["lo_ms"][0], out["hi_ms"][0]
    free = present & ~signal
    if free.any():
        vmin = params.band_min_ms
        wide = free & (vmax - vmin >= params.min_width_ms)
        lo[0][wide] = vmin
        hi[0][free] = vmax[free]
        lo[1:, free] = np.nan
        first_lo = np.where(free[0], np.where(wide[0], vmin, np.nan), first_lo)
        first_hi = np.where(free[0], np.where(wide[0], vmax[0], np.nan), first_hi)
    _joint_bands(
        lo,
        hi,
        v0,
        params.min_width_ms,
        first_lo,
        first_hi,
        out["joint_lo_ms"],
        out["joint_hi_ms"],
        new,
    )


def _inputs(dist, grp, lim, band_max, new):
    """Stop-line-major copies of the inputs: ``d, present, g, signal, vmax``, each (M, n)."""
    n, m = dist.shape
    d = new((m, n))
    np.copyto(d, dist.T)
    present = np.equal(d, d, out=new((m, n), np.bool_))  # not NaN
    g = new((m, n), np.int64)
    np.copyto(g, grp.T)
    signal = np.greater_equal(g, 0, out=new((m, n), np.bool_))
    signal &= present
    # Lowest limit so far along the path; a missing stop line does not constrain later ones.
    # (Its own vmax is that of the stop line before: uniform blocks stay uniform.)
    vmax = new((m, n))
    np.copyto(vmax, lim.T)
    absent = np.logical_not(present, out=new((m, n), np.bool_))
    if absent.any():
        np.putmask(vmax, absent, np.inf)
    np.minimum(vmax[0], band_max, out=vmax[0])
    for j in range(1, m):
        np.minimum(vmax[j - 1], vmax[j], out=vmax[j])
    return d, present, g, signal, vmax


def _arrival_range(d, v0, vmax, params, new):
    """Arrival times of the band's fastest and slowest speeds, ``t_early, t_late`` (M, n).

    A window is usable only if it overlaps [t_early, t_late], and speeds need to be solved for
    only at edges strictly inside it.
    """
    kin = Arrival(d, v0, params.accel_ms2, params.decel_ms2, alloc=new)
    times = new((2, *vmax.shape))
    mark = new.mark()
    # vmax is often one value for a whole block (no limit below the band's top speed): a
    # scalar is cheaper.
    top = vmax.flat[0] if vmax.min() == vmax.max() else vmax
    t_early, t_late = kin.times_for((top, params.band_min_ms), out=times)
    new.release(mark)
    return kin, t_early, t_late


def _windows(g, t, signal, t_early, t_late, timing, params, margin, out, new):
    """Window rows ``ws, we`` (R, M, n), relative to ``t``, from the first reachable window.

    The first reachable window is the first whose end, less the safety margin, is not before
    ``t_early``; rows follow while some pair's next window still starts by ``t_late`` (at most
    ``n_windows``).  One green per cycle: arithmetic, window r + 1 is window r shifted by a
    cycle.  Other pairs (several greens per cycle, live SPaT) take their windows from
    ``timing.windows_by_k``.  Also writes time to green / red of the current (or next) green.
    """
    m, n = g.shape
    k = params.n_windows
    rows, we_rows = new((k, m, n)), new((k, m, n))
    mark = new.mark()
    now_ws, now_we, cyc = timing.plans.first_window(g, t, alloc=new)
    now_ws -= t
    now_we -= t
    no_sig = np.flatnonzero(np.logical_not(signal, out=new((m, n), np.bool_)))
    if no_sig.size:
        _flat(now_ws)[no_sig] = np.nan
        _flat(now_we)[no_sig] = np.nan
    # Cycles to skip to the first reachable window: ceil((t_early + margin - now_we) / cycle),
    # never below -0 as now_we < cycle (a green is shorter than its cycle).
    shift = np.add(t_early, margin - _EPS_S, out=new((m, n)))
    shift -= now_we
    shift /= cyc
    np.ceil(shift, out=shift)
    shift *= cyc
    np.add(now_ws, shift, out=rows[0])
    np.add(now_we, shift, out=we_rows[0])
    first = rows[0]
    gen = _generic_pairs(timing, g, t, signal)
    if gen.size:
        _flat(first)[gen] = np.nan  # their rows come from below
        g_margin = margin if np.ndim(margin) == 0 else margin.ravel()[gen]
        g_ws0, g_we0, g_ws, g_we = _generic_rows(
            timing, g.ravel()[gen], t[gen % n], t_early.ravel()[gen], g_margin, k
        )
        _flat(now_ws)[gen] = g_ws0
        _flat(now_we)[gen] = g_we0
    np.maximum(now_ws, np.float64(0.0), out=out["time_to_green_s"])
    np.copyto(out["time_to_red_s"], now_we)

    r, filled = 1, 1
    starts_by_late = new((m, n), np.bool_)
    while r < k:
        np.add(rows[r - 1], cyc, out=rows[r])
        filled += 1
        if not np.less_equal(rows[r], t_late, out=starts_by_late).any():
            break
        r += 1
    if gen.size:
        late = g_ws <= t_late.ravel()[gen]
        r = max(r, int(np.flatnonzero(late.any(axis=1)).max(initial=0)) + 1)
    for i in range(filled, r):  # rows that the pairs above need
        np.add(rows[i - 1], cyc, out=rows[i])
    for i in range(1, r):
        np.add(we_rows[i - 1], cyc, out=we_rows[i])
    ws, we = rows[:r], we_rows[:r]
    if gen.size:
        ws.reshape(r, m * n)[:, gen] = g_ws[:r]
        we.reshape(r, m * n)[:, gen] = g_we[:r]
    new.release(mark)
    return ws, we


def _window_bands(ws, we, qd, kin, v0, t_early, t_late, vmax, params, margin, new):
    """Band of each window row, ``lo, hi`` (R, M, n); ``lo`` is NaN where there is none.

    Arrival must be in ``[rel_a, rel_b]``: after the green starts (plus the queue discharge
    delay) and a safety margin before it ends.
    """
    r, m, n = ws.shape
    shape = ws.shape
    lo, hi = new(shape), new(shape)
    mark = new.mark()
    if qd is None:
        rel_a = ws
    else:
        rel_a = np.maximum(ws, np.float64(0.0), out=new(shape))
        rel_a += qd.T
    rel_b = np.subtract(we, margin, out=new(shape))
    ok = np.less_equal(rel_a, t_late, out=new(shape, np.bool_))
    mask = new(shape, np.bool_)
    ok &= np.greater_equal(rel_b, t_early, out=mask)
    ok &= np.greater(rel_b, rel_a, out=mask)
    np.copyto(hi, vmax)
    lo.fill(params.band_min_ms)
    # Speeds at the edges inside (t_early, t_late), clipped to the band, for both kinds of
    # edge in one evaluation.  Edges on the boundary are inverted too: B = t_early may still
    # admit a range of speeds when T is flat there (a car that cannot reach vmax before the
    # line).
    inside = np.greater(rel_a, t_early, out=new(shape, np.bool_))
    inside &= ok
    at_a = np.flatnonzero(inside)
    inside = np.less(rel_b, t_late, out=inside)
    inside &= ok
    at_b = np.flatnonzero(inside)
    n_a, n_edges = at_a.size, at_a.size + at_b.size
    if n_edges:
        pair = new((n_edges,), np.intp)
        _pair_index(at_a, m * n, r, out=pair[:n_a])
        _pair_index(at_b, m * n, r, out=pair[n_a:])
        edge = new((n_edges,))
        _flat(rel_a).take(at_a, out=edge[:n_a], mode="clip")
        _flat(rel_b).take(at_b, out=edge[n_a:], mode="clip")
        v0_pair = new((m, n))
        np.copyto(v0_pair, kin.v0)
        sub = Arrival.of_clamped(
            _take(kin.d, pair, new), _take(v0_pair, pair, new), kin.a, kin.b, alloc=new
        )
        v = sub.speed_inside(edge)
        v_a, v_b = v[:n_a], v[n_a:]
        v_a -= _EPS_MS
        np.minimum(v_a, _take(vmax, pair[:n_a], new), out=v_a)
        _flat(hi)[at_a] = v_a
        v_b += _EPS_MS
        np.maximum(v_b, np.float64(params.band_min_ms), out=v_b)
        _flat(lo)[at_b] = v_b
    width = np.subtract(hi, lo, out=rel_b)
    ok &= np.greater_equal(width, params.min_width_ms, out=mask)
    np.putmask(lo, np.logical_not(ok, out=mask), np.nan)  # a NaN lo marks an empty band
    new.release(mark)
    return lo, hi


def _select(lo, hi, ws, we, v0, t, signal, out, new):
    """Per stop line, the target window: the first holding the current speed, else the first
    (earliest) with a band; writes its band, window and the status to ``out``."""
    r, m, n = lo.shape
    mark = new.mark()
    o_lo, o_hi = out["lo_ms"], out["hi_ms"]
    o_ws, o_we = out["window_start_s"], out["window_end_s"]
    if r == 1:
        sel = lo[0], hi[0], ws[0], we[0]
    else:
        mask = new((r, m, n), np.bool_)
        holds = np.less_equal(lo, v0, out=new((r, m, n), np.bool_))
        holds &= np.greater_equal(hi, v0, out=mask)
        f_hold = _first_true(holds)
        f_ok = _first_true(np.equal(lo, lo, out=mask))
        pick = np.where(f_hold < r, f_hold, np.minimum(f_ok, r - 1))
        flat = np.multiply(pick, m * n, out=new((m, n), np.intp), dtype=np.intp)
        flat += new.arange(m * n).reshape(m, n)
        sel = [_flat(a).take(flat, out=new((m, n)), mode="clip") for a in (lo, hi, ws, we)]
    np.copyto(o_lo, sel[0])
    np.copyto(o_hi, sel[1])
    np.add(sel[2], t, out=o_ws)
    np.add(sel[3], t, out=o_we)
    nan_if_none = np.subtract(o_lo, o_lo, out=new((m, n)))  # 0, or NaN where no band
    o_hi += nan_if_none
    o_ws += nan_if_none
    o_we += nan_if_none
    has_hold = np.less_equal(o_lo, v0, out=new((m, n), np.bool_))
    has_hold &= np.greater_equal(o_hi, v0, out=new((m, n), np.bool_))
    status = out["status"]
    np.add(np.equal(o_lo, o_lo, out=new((m, n), np.bool_)), has_hold, out=status, dtype=np.int8)
    np.subtract(STOP, status, out=status)
    status *= signal
    new.release(mark)


def _take(a, idx, new):
    """``a.ravel()[idx]`` into scratch memory (``a`` C-contiguous, ``idx`` valid)."""
    return _flat(a).take(idx, out=new(idx.shape), mode="clip")


# Windows that end up to this long before the earliest arrival are looked at too (a row that
# finds nothing for that pair), so that rounding never skips the first reachable window.
_EPS_S = 1e-6


def _flat(a):
    """The flat view of a C-contiguous array (for scattering into it)."""
    assert a.flags.c_contiguous
    return a.reshape(-1)


def _pair_index(idx, npair, rows, out):
    """Pair of each flat index into a (rows, npair) array (``idx`` sorted, so no division)."""
    np.copyto(out, idx)
    if rows > 1:
        for c in np.searchsorted(idx, npair * np.arange(1, rows)):
            out[c:] -= npair
    return out


def _generic_pairs(timing, g, t, signal):
    """Flat indices of signalised pairs the one-green-per-cycle arithmetic does not cover."""
    plans = timing.plans
    other = None
    if not plans.single_green:
        other = plans.n_greens[g] > 1
    if timing.spat is not None:
        live = timing.spat.active(g, t)
        other = live if other is None else other | live
    if other is None:
        return np.empty(0, dtype=np.intp)
    other &= signal
    return np.flatnonzero(other)


def _generic_rows(timing, g, t, t_early, margin, k):
    """Windows of pairs with several greens per cycle or live SPaT, relative to ``t``.

    Returns the current/next window ``(start, end)`` (n,) and ``k`` rows (k, n) from the first
    reachable one (NaN where timing has fewer windows).
    """
    reach = t_early + (margin - _EPS_S)
    kk = k + 2
    while True:
        ws, we = timing.windows_by_k(g, t, kk)
        ws = ws - t
        we = we - t
        k0 = (we < reach).sum(axis=0)
        short = (k0 + k > kk) & np.isfinite(we[-1])
        if not short.any() or kk >= 1024:
            break
        kk *= 2
    rows = k0 + np.arange(k)[:, None]
    missing = rows >= kk
    rows = np.minimum(rows, kk - 1)
    rws = np.take_along_axis(ws, rows, axis=0)
    rwe = np.take_along_axis(we, rows, axis=0)
    rws[missing] = np.nan
    rwe[missing] = np.nan
    return ws[0], we[0], rws, rwe


def _joint_bands(lo, hi, v0, min_width, first_lo, first_hi, out_lo, out_hi, new):
    """Intersect per-stop-line unions of intervals cumulatively; see docs/bands.md.

    ``lo, hi`` are (R, M, n) window rows (NaN lo = no band); ``first_lo, first_hi`` (n,) the
    reported band of the first stop line; results go to ``out_lo, out_hi`` (M, n).  The running
    intersection is kept as R pieces, one per window row of the latest stop line (the fastest
    piece inside that row's band); pieces are disjoint and ordered fastest first, because
    windows are in time order.  Only vehicles whose running intersection is not empty and whose
    next stop line has a band are carried on (compacted).
    """
    r, m, n = lo.shape
    np.copyto(out_lo[0], first_lo)
    np.copyto(out_hi[0], first_hi)
    if m == 1:
        return
    if r == 1:  # one piece: a running intersection of intervals (NaN propagates)
        width, narrow = new((n,)), new((n,), np.bool_)
        for j in range(1, m):
            j_lo, j_hi = out_lo[j], out_hi[j]
            np.maximum(out_lo[j - 1], lo[0, j], out=j_lo)
            np.minimum(out_hi[j - 1], hi[0, j], out=j_hi)
            np.subtract(j_hi, j_lo, out=width)
            np.logical_not(np.greater_equal(width, min_width, out=narrow), out=narrow)
            np.putmask(j_lo, narrow, np.nan)
            np.subtract(j_lo, j_lo, out=width)
            j_hi += width
        return
    out_lo[1:] = np.nan
    out_hi[1:] = np.nan
    j_lo, j_hi = lo[:, 0], hi[:, 0]
    act = np.arange(n)
    vv = v0
    for j in range(1, m):
        b_lo = np.take(lo[:, j], act, axis=1, out=new((r, act.size)))
        keep = np.flatnonzero(_any_band(j_lo) & _any_band(b_lo))
        if keep.size == 0:
            return
        act, vv = act[keep], vv[keep]
        a = keep.size
        next_lo, next_hi = new((r, a)), new((r, a))  # carried to the next stop line
        mark = new.mark()
        j_lo = np.take(j_lo, keep, axis=1, out=new((r, a)))
        j_hi = np.take(j_hi, keep, axis=1, out=new((r, a)))
        b_lo = np.take(b_lo, keep, axis=1, out=new((r, a)))
        b_hi = np.take(hi[:, j], act, axis=1, out=new((r, a)))
        # Pieces p × windows w: c[p, w] = piece p ∩ band w; per w keep the first valid p.
        c_lo = np.maximum(j_lo[:, None], b_lo[None], out=new((r, r, a)))
        c_hi = np.minimum(j_hi[:, None], b_hi[None], out=new((r, r, a)))
        width = np.subtract(c_hi, c_lo, out=new((r, r, a)))
        valid = np.greater_equal(width, min_width, out=new((r, r, a), np.bool_))
        np.copyto(next_lo, c_lo[r - 1])
        np.copyto(next_hi, c_hi[r - 1])
        np.putmask(next_lo, ~valid[r - 1], np.nan)
        for p in range(r - 2, -1, -1):
            np.putmask(next_lo, valid[p], c_lo[p])
            np.putmask(next_hi, valid[p], c_hi[p])
        out_lo[j, act], out_hi[j, act] = _report(next_lo, next_hi, vv)
        new.release(mark)
        j_lo, j_hi = next_lo, next_hi


def _any_band(lo):
    """(n,) bool: any of the R rows of ``lo`` (R, n) is a band (not NaN)."""
    alive = lo[0] == lo[0]
    for row in lo[1:]:
        alive |= row == row
    return alive


def _report(lo, hi, v0):
    """Pick one of R (R, n) candidates per vehicle: the one holding v0, else the fastest.

    Candidates with a NaN ``lo`` are empty; the result is NaN where all are.
    """
    r = lo.shape[0]
    sel_lo, sel_hi = lo[r - 1].copy(), hi[r - 1].copy()
    for p in range(r - 2, -1, -1):  # fastest (first) non-empty candidate
        ok = lo[p] == lo[p]
        np.putmask(sel_lo, ok, lo[p])
        np.putmask(sel_hi, ok, hi[p])
    for p in range(r - 1, -1, -1):  # unless one holds the current speed: the first such
        holds = lo[p] <= v0
        holds &= hi[p] >= v0
        np.putmask(sel_lo, holds, lo[p])
        np.putmask(sel_hi, holds, hi[p])
    sel_hi += sel_lo - sel_lo
    return sel_lo, sel_hi
