"""How the advice is told: per-vehicle records with the API's field names, the spoken
messages in Chinese and English, and the rounding both use.  The API, the CLI and the tests read
advice through this module; :mod:`greenwave.advice` only computes it.

``距离前方路口480米,绿波速度区间35—50公里`` / ``480 m to the next intersection, green-wave speed
35–50 km/h``.  Distances are rounded to 5 m below 100 m, 10 m below 1 km and 50 m beyond; bands
are rounded *inwards* to whole km/h so that every spoken speed is inside the computed band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .advice import Advice
from .bands import NO_SIGNAL, PROCEED, STATUS_NAMES, STOP, BandParams
from .network import Network
from .plans import NONE, PLAN_NAMES, Plans
from .spat import SignalTiming
from .timing import STATE_NAMES
from .units import ms_to_kmh

# Tolerance for float noise in m/s → km/h (35 km/h becomes 35.000000000000004 after a round
# trip); far below anything a driver could hold.
_ROUND_TOL_KMH = 1e-9


def rounded_distance_m(dist_m):
    """Distances as spoken (array in, float array out; NaN stays NaN): nearest 5 m below
    100 m, 10 m below 1 km, else 50 m."""
    d = np.asarray(dist_m, dtype=float)
    with np.errstate(invalid="ignore"):
        step = np.where(d < 100, 5.0, np.where(d < 1000, 10.0, 50.0))
        return step * np.round(d / step)


def rounded_band_kmh(lo_ms, hi_ms):
    """Bands rounded inwards to whole km/h (arrays): ``(lo, hi, ok)``, ``ok`` False where no
    whole km/h lies inside (and for NaN)."""
    with np.errstate(invalid="ignore"):
        lo = np.ceil(ms_to_kmh(np.asarray(lo_ms, dtype=float)) - _ROUND_TOL_KMH)
        hi = np.floor(ms_to_kmh(np.asarray(hi_ms, dtype=float)) + _ROUND_TOL_KMH)
        return lo, hi, lo <= hi


def round_distance_m(dist_m: float) -> int:
    """One distance as spoken (see :func:`rounded_distance_m`)."""
    return int(rounded_distance_m(dist_m))


def round_band_kmh(lo_ms: float, hi_ms: float) -> tuple[int, int] | None:
    """One band rounded inwards to whole km/h; None if no whole km/h lies inside."""
    lo, hi, ok = rounded_band_kmh(lo_ms, hi_ms)
    return (int(lo), int(hi)) if ok else None


def render(
    status: int,
    dist_m: float | None,
    band_ms: tuple[float, float] | None,
    options: Sequence[tuple[int, float, float]] = (),
) -> dict[str, str]:
    """Message ``{"zh": ..., "en": ...}`` for one vehicle.

    Parameters
    ----------
    status : bands status code of the next stop line
    dist_m : distance to it (m), None if none
    band_ms : (lo, hi) m/s of the next stop line's band, None if empty
    options : ``(count, lo_ms, hi_ms)`` joint bands; the longest one covering more than one
        stop line is added as "green through the next n intersections".
    """
    if status == NO_SIGNAL or dist_m is None:
        return {"zh": "前方无信号灯路口", "en": "No signalised intersection ahead"}
    d = round_distance_m(dist_m)
    band = round_band_kmh(*band_ms) if band_ms is not None else None
    if status == STOP or band is None:
        return {
            "zh": f"距离前方路口{d}米,绿灯无法通过,请减速准备停车",
            "en": f"{d} m to the next intersection: cannot make the green, prepare to stop",
        }
    lo, hi = band
    zh = f"距离前方路口{d}米,绿波速度区间{lo}—{hi}公里"
    en = f"{d} m to the next intersection, green-wave speed {lo}–{hi} km/h"
    if status == PROCEED:
        zh += ",保持当前车速可绿灯通过"
        en += "; your current speed makes the green"
    longest = max(
        (o for o in options if o[0] > 1 and round_band_kmh(o[1], o[2])),
        default=None,
        key=lambda o: o[0],
    )
    longest_band = round_band_kmh(longest[1], longest[2]) if longest is not None else None
    if longest is not None and longest_band is not None:
        olo, ohi = longest_band
        n = longest[0]
        if (olo, ohi) == (lo, hi):
            zh += f",可连续绿灯通过{n}个路口"
            en += f"; the same band gives green through the next {n} intersections"
        else:
            zh += f";{olo}—{ohi}公里可连续绿灯通过{n}个路口"
            en += f"; {olo}–{ohi} km/h for green through the next {n} intersections"
    return {"zh": zh, "en": en}


@dataclass(frozen=True)
class RecordColumns:
    """The fields of :func:`records` for N vehicles, as columns (see :func:`record_columns`).

    For encoders that never need one dict per vehicle (the API's JSON and columnar responses).

    Attributes
    ----------
    status : (N,) int, status code of the next stop line (``bands.STATUS_NAMES``)
    reason : list of N str or None, why there is no band
    intersection : (N,) int64, next signalised intersection (index into
        ``network.intersection_ids``), -1 when none
    distance_m : (N,) float64, to the next stop line (NaN: none)
    signal_state : (N,) int64, ``timing.STATE_NAMES`` index, -1 when no signal
    time_to_change_s, time_to_change_min_s, time_to_change_max_s : (N,) float64, NaN when no
        signal
    band_min_kmh, band_max_kmh : (N,) float64, the band exists where ``band_min_kmh`` is not NaN
    option_min_kmh, option_max_kmh : (N, K) float64, option ``j`` (green through ``j + 1`` stop
        lines) exists where ``option_min_kmh[:, j]`` is not NaN
    message : (N,) int64, index into ``messages``
    messages : list of distinct ``{"zh", "en"}`` dicts (shared: copy before changing one)
    plan_kind : (N,) int, approach plan kind (``greenwave.plans.PLAN_NAMES``; 0, ``none``: no
        plan)
    plan : dict of (N,) float64 by :data:`PLAN_FIELDS`, NaN where a field does not apply
        (see :func:`plan_columns`)
    """

    status: np.ndarray
    reason: list
    intersection: np.ndarray
    distance_m: np.ndarray
    signal_state: np.ndarray
    time_to_change_s: np.ndarray
    time_to_change_min_s: np.ndarray
    time_to_change_max_s: np.ndarray
    band_min_kmh: np.ndarray
    band_max_kmh: np.ndarray
    option_min_kmh: np.ndarray
    option_max_kmh: np.ndarray
    message: np.ndarray
    messages: list
    plan_kind: np.ndarray
    plan: dict

    @property
    def has_signal(self) -> np.ndarray:
        """(N,) bool, a signalised stop line is ahead."""
        return self.intersection >= 0


def plan_columns(plan: Plans) -> dict[str, np.ndarray]:
    """The approach plans as the API's columns (km/h, NaN where a field does not apply), by
    :data:`PLAN_FIELDS`: :attr:`RecordColumns.plan`.

    Values are rounded to :data:`PLAN_DECIMALS` decimals (mm, ms, 0.001 km/h): far below what
    a driver can act on, and it keeps a vehicle's answer the same whether it is computed alone
    or in a batch (numpy's vector loops may differ in the last bit between array lengths).
    """
    kind = np.asarray(plan.kind, dtype=np.int8)
    has = kind != NONE
    resume = has & np.isfinite(plan.resume_in_s)
    nan = np.nan

    def col(mask, x):
        return np.round(np.where(mask, x, nan), PLAN_DECIMALS)

    return {
        "hold_kmh": col(has, ms_to_kmh(plan.hold_ms)),
        "cross_kmh": col(has, ms_to_kmh(plan.cross_ms)),
        "resume_in_m": col(resume, plan.resume_dist_m),
        "resume_in_s": col(resume, plan.resume_in_s),
        "arrival_in_s": col(has, plan.arrival_in_s),
        "lift_off_m": col(has, plan.lift_dist_m),
        "stop_at_m": col(has, plan.stop_dist_m),
    }


def record_columns(
    advice: Advice,
    network: Network,
    timing: SignalTiming,
    t_s,
    params: BandParams,
    n_options: int = 3,
) -> RecordColumns:
    """What :func:`records` says about each vehicle, as arrays (see :class:`RecordColumns`).

    Messages come from :func:`render` through a cache keyed on what the spoken text depends on
    (see :func:`_message_keys`); batches of thousands of vehicles share a few hundred distinct
    messages, each rendered once.
    """
    b = advice.bands
    n = b.status.shape[0]
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    g0 = advice.group[:, 0]
    has_sig = g0 >= 0
    state, ttc, ttc_min, ttc_max = timing.state(np.where(has_sig, g0, 0), t)
    inter = network.link_intersection[np.maximum(advice.stop_link[:, 0], 0)]
    nan = np.nan
    status = b.status[:, 0]
    dist = advice.dist_m[:, 0]
    lo, hi = b.lo_ms[:, 0], b.hi_ms[:, 0]
    olo, ohi = b.options(n_options)
    keys, first, message = _distinct_message_keys(_message_keys(status, dist, lo, hi, olo, ohi))

    # Each distinct message rendered (or found in the cache) once.
    cache = _MESSAGE_CACHE
    if len(cache) + len(keys) > _MESSAGE_CACHE_MAX:
        cache.clear()
    messages = []
    for key, i in zip(keys, first, strict=True):
        msg = cache.get(key)
        if msg is None:
            ok = ~np.isnan(olo[i])
            msg = cache[key] = _render(
                int(status[i]),
                None if np.isnan(dist[i]) else float(dist[i]),
                float(lo[i]),
                float(hi[i]),
                olo[i].tolist(),
                ohi[i].tolist(),
                ok.tolist(),
            )
        messages.append(msg)

    band_txt = f"{ms_to_kmh(params.band_min_ms):g}–{ms_to_kmh(params.band_max_ms):g} km/h"
    reason: list[str | None] = [None] * len(STATUS_NAMES)
    reason[NO_SIGNAL] = "no signalised intersection ahead on this route"
    reason[STOP] = f"no speed within {band_txt} and the speed limit reaches the stop line on green"
    return RecordColumns(
        status=status,
        reason=np.array(reason, dtype=object)[status].tolist(),
        intersection=np.where(has_sig, inter, -1),
        distance_m=dist,
        signal_state=np.where(has_sig, state, -1),
        time_to_change_s=np.where(has_sig, ttc, nan),
        time_to_change_min_s=np.where(has_sig, ttc_min, nan),
        time_to_change_max_s=np.where(has_sig, ttc_max, nan),
        band_min_kmh=ms_to_kmh(lo),
        band_max_kmh=ms_to_kmh(hi),
        option_min_kmh=ms_to_kmh(olo),
        option_max_kmh=ms_to_kmh(ohi),
        message=message,
        messages=messages,
        plan_kind=np.asarray(advice.plan.kind, dtype=np.int8),
        plan=plan_columns(advice.plan),
    )


def records(
    advice: Advice,
    network: Network,
    timing: SignalTiming,
    t_s,
    params: BandParams,
    n_options: int = 3,
) -> list[dict]:
    """Per-vehicle advice as plain dicts with the API's field names (speeds in km/h).

    Fields: ``status``, ``reason``, ``intersection`` ({id, name} or None), ``distance_m``,
    ``signal`` (state and time to change likely/min/max, or None), ``band`` ({min_kmh,
    max_kmh} or None), ``options`` (joint bands covering 1..n stop lines that exist),
    ``plan`` (the approach plan to the next stop line: {kind, hold_kmh, cross_kmh, resume_in_m,
    resume_in_s, arrival_in_s, lift_off_m, stop_at_m}, rounded to ``PLAN_DECIMALS``, NaN fields
    as None; None where the plan's kind is ``none``) and ``message`` ({zh, en}).

    The content comes from :func:`record_columns`; every column becomes a Python list before the
    loop, which only assembles dicts.
    """
    c = record_columns(advice, network, timing, t_s, params, n_options)
    n = c.status.shape[0]
    opt_ok = ~np.isnan(c.option_min_kmh)
    n_opt = opt_ok.shape[1]
    status = c.status.tolist()
    has_sig = c.has_signal.tolist()
    inter_l = c.intersection.tolist()
    state_l = c.signal_state.tolist()
    ttc_l, ttc_min_l = c.time_to_change_s.tolist(), c.time_to_change_min_s.tolist()
    ttc_max_l = c.time_to_change_max_s.tolist()
    dist = c.distance_m.tolist()
    lo_kmh, hi_kmh = c.band_min_kmh.tolist(), c.band_max_kmh.tolist()
    olo_k, ohi_k = c.option_min_kmh.tolist(), c.option_max_kmh.tolist()
    opt_ok_l = opt_ok.tolist()
    all_opts = opt_ok.all(axis=1).tolist()
    msg_l, messages, reasons = c.message.tolist(), c.messages, c.reason
    ids, names = network.intersection_ids, network.intersection_names
    counts = range(1, n_opt + 1)
    plan_kind = c.plan_kind.tolist()
    plan_fields = [(k, c.plan[k].tolist()) for k in PLAN_FIELDS]
    out: list[dict[str, Any]] = []
    append = out.append
    for i in range(n):
        st = status[i]
        inter_d: dict[str, Any] | None = None
        sig: dict[str, Any] | None = None
        if has_sig[i]:
            k = inter_l[i]
            inter_d = {"id": ids[k], "name": names[k]}
            sig = {
                "state": STATE_NAMES[state_l[i]],
                "time_to_change_s": ttc_l[i],
                "time_to_change_min_s": ttc_min_l[i],
                "time_to_change_max_s": ttc_max_l[i],
            }
        lk, hk = olo_k[i], ohi_k[i]
        if all_opts[i]:
            opts = [
                {"intersections": j, "min_kmh": a, "max_kmh": z}
                for j, a, z in zip(counts, lk, hk, strict=True)
            ]
        else:
            opts = [
                {"intersections": j, "min_kmh": a, "max_kmh": z}
                for j, a, z, o in zip(counts, lk, hk, opt_ok_l[i], strict=True)
                if o
            ]
        lo = lo_kmh[i]
        d = dist[i]
        pk = plan_kind[i]
        plan: dict[str, Any] | None = None
        if pk != NONE:
            plan = {"kind": PLAN_NAMES[pk]}
            for f, col in plan_fields:
                x = col[i]
                plan[f] = None if x != x else x
        append(
            {
                "status": STATUS_NAMES[st],
                "reason": reasons[i],
                "intersection": inter_d,
                "distance_m": None if d != d else d,
                "signal": sig,
                "band": None if lo != lo else {"min_kmh": lo, "max_kmh": hi_kmh[i]},
                "options": opts,
                "plan": plan,
                "message": dict(messages[msg_l[i]]),
            }
        )
    return out


PLAN_DECIMALS = 3  # decimals of the plan's fields (see plan_columns)

# The numeric fields of a record's ``plan``, in order (``RecordColumns.plan_<field>``).
PLAN_FIELDS = (
    "hold_kmh",
    "cross_kmh",
    "resume_in_m",
    "resume_in_s",
    "arrival_in_s",
    "lift_off_m",
    "stop_at_m",
)


# Rendered messages by key (see _message_keys); bounded, cleared when full.
_MESSAGE_CACHE: dict[tuple, dict[str, str]] = {}
_MESSAGE_CACHE_MAX = 65536


def _render(status, dist, lo, hi, olo, ohi, ok):
    return render(
        status,
        dist,
        None if lo != lo else (lo, hi),
        [(j + 1, olo[j], ohi[j]) for j in range(len(olo)) if ok[j]],
    )


def _message_keys(status, dist_m, lo_ms, hi_ms, opt_lo_ms, opt_hi_ms) -> tuple:
    """Per vehicle, everything :func:`render` reads, rounded as it rounds (the same
    :func:`rounded_distance_m` and :func:`rounded_band_kmh`), so two vehicles with equal keys get
    equal messages.  ``tests/test_api_records.py`` checks this against ``render`` per vehicle.

    Returns the 7 key columns (N,): status, rounded distance (-1: none), rounded band lo and hi
    (-1: none), index of the longest multi-stop option (-1: none) and its rounded lo and hi.
    """
    d_round = np.where(np.isnan(dist_m), -1.0, rounded_distance_m(dist_m))
    b_lo, b_hi, b_ok = rounded_band_kmh(lo_ms, hi_ms)
    o_lo, o_hi, o_ok = rounded_band_kmh(opt_lo_ms, opt_hi_ms)
    # The longest option covering more than one stop line whose rounded band is not empty.
    o_ok[:, :1] = False
    m = o_ok.shape[1]
    longest = np.where(o_ok.any(axis=1), m - 1 - np.argmax(o_ok[:, ::-1], axis=1), -1)
    rows = np.arange(len(longest))
    pick = np.maximum(longest, 0)
    l_lo = np.where(longest >= 0, o_lo[rows, pick] if m else 0.0, 0.0)
    l_hi = np.where(longest >= 0, o_hi[rows, pick] if m else 0.0, 0.0)
    return (
        status,
        d_round,
        np.where(b_ok, b_lo, -1.0),
        np.where(b_ok, b_hi, -1.0),
        longest,
        l_lo,
        l_hi,
    )


# Bits of each key column when packed into one int64 (see _distinct_message_keys): status,
# distance / 5 + 1, band lo + 1, band hi + 1, longest + 1, option lo + 1, option hi + 1.
_KEY_BITS = (3, 20, 8, 8, 3, 8, 8)
_KEY_SCALE = (1.0, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0)
_PACK_MIN = 256  # fewer vehicles: a dict of tuples is quicker than the numpy packing


def _distinct_message_keys(cols) -> tuple[list[tuple], list[int], np.ndarray]:
    """Distinct message keys of N vehicles (key columns from :func:`_message_keys`).

    Returns ``keys`` (distinct hashable tuples), ``first`` (the first vehicle with each key)
    and ``index`` (N,) int64 into ``keys``.  Keys that fit in 58 bits (speeds below 255 km/h,
    distances below 5,000 km: always, in practice) are packed into one int64 per vehicle and
    grouped by ``np.unique``; otherwise, and for small N, by a dict of tuples.
    """
    n = len(cols[0])
    packed = _pack_keys(cols) if n > _PACK_MIN else None
    if packed is not None:
        _, first, index = np.unique(packed, return_index=True, return_inverse=True)
        keys = list(zip(*(c[first].tolist() for c in cols), strict=True))
        return keys, first.tolist(), index.astype(np.int64).ravel()
    all_keys = list(zip(*(np.asarray(c).tolist() for c in cols), strict=True))
    distinct = dict.fromkeys(all_keys)
    for j, key in enumerate(distinct):
        distinct[key] = j
    first_of = dict(zip(reversed(all_keys), range(n - 1, -1, -1), strict=True))
    keys = list(distinct)
    index = np.fromiter(map(distinct.__getitem__, all_keys), dtype=np.int64, count=n)
    return keys, [first_of[k] for k in keys], index


def _pack_keys(cols) -> np.ndarray | None:
    """The key columns packed into one int64 per vehicle (see :data:`_KEY_BITS`), or None
    when a value does not fit."""
    packed = np.zeros(len(cols[0]), dtype=np.int64)
    shift = 0
    for c, bits, scale in zip(cols, _KEY_BITS, _KEY_SCALE, strict=True):
        c = np.asarray(c, dtype=np.float64)
        v = np.where(c == -1.0, 0.0, c * scale + 1.0)  # -1 (none) → 0
        if not (np.all(v == np.rint(v)) and np.all((v >= 0) & (v < (1 << bits)))):
            return None
        packed |= v.astype(np.int64) << shift
        shift += bits
    return packed
