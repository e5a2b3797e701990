"""The one advisory call shared by the API and the simulator: position → path → speed bands."""

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
    """

    bands: Bands
    dist_m: np.ndarray
    group: np.ndarray
    limit_ms: np.ndarray
    stop_link: np.ndarray
    plan: Plans


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
    """
    dist, group, limit, stop_link = network.path_ahead(link, offset_m, m)
    if first_dist_m is not None:
        fd = np.asarray(first_dist_m, dtype=float)
        ok = np.isfinite(fd) & np.isfinite(dist[:, 0])
        dist = dist + np.where(ok, fd - dist[:, 0], 0.0)[:, None]
    v0 = np.asarray(speed_ms, dtype=float)
    bands = speed_bands(dist, v0, t_s, group, limit, timing, params, queue_delay_s)
    plan = plan_next(
        dist[:, 0],
        group[:, 0],
        limit[:, 0],
        v0,
        t_s,
        timing,
        params,
        None if queue_delay_s is None else np.asarray(queue_delay_s)[:, 0],
        cruise_ms,
        queue_m,
    )
    return Advice(bands, dist, group, limit, stop_link, plan)


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
) -> Plans:
    """Approach plans to the next stop line (:func:`greenwave.plans.approach_plans`) from the
    signal timing: the conservative green windows of ``group`` (N,), their start delayed by
    ``queue_delay_s`` and their end brought forward by the safety margin; hold speeds in
    ``[band_min, band_max]`` and below ``limit × max_speed_factor``."""
    n = len(dist_m)
    g = np.asarray(group, dtype=np.int64)
    sig = g >= 0
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    ws, we = timing.green_windows(np.where(sig, g, 0), t, params.n_windows)
    green_now = sig & (ws[:, 0] <= t) & (t < we[:, 0])
    qd = 0.0 if queue_delay_s is None else np.asarray(queue_delay_s, dtype=float)[:, None]
    ws = ws + qd + params.plan_start_margin_s
    we = we - params.safety_margin_s
    dist = np.where(sig, dist_m, np.nan)
    v_max = np.minimum(params.band_max_ms, limit_ms * params.max_speed_factor)
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


@dataclass(frozen=True)
class RecordColumns:
    """The fields of :func:`records` for N vehicles, as columns (see :func:`record_columns`).

    For encoders that never need one dict per vehicle (the API's JSON and columnar responses).

    Attributes
    ----------
    status : (N,) int8, status code of the next stop line (``bands.STATUS_NAMES``)
    reason : tuple indexed by status code: the ``reason`` text, or None
    has_signal : (N,) bool, a signalised stop line is ahead (``intersection`` and ``signal``)
    intersection : (N,) int64, index into ``network.intersection_ids`` where ``has_signal``
    distance_m : (N,) float64, to the next stop line (NaN: none)
    signal_state : (N,) int64, ``timing.STATE_NAMES`` index, where ``has_signal``
    time_to_change_s, time_to_change_min_s, time_to_change_max_s : (N,) float64
    band_min_kmh, band_max_kmh : (N,) float64, the band exists where ``band_min_kmh`` is not NaN
    option_min_kmh, option_max_kmh : (N, K) float64, option ``j`` (green through ``j + 1`` stop
        lines) exists where ``option_min_kmh[:, j]`` is not NaN
    message : (N,) int64, index into ``messages``
    messages : list of distinct ``{"zh", "en"}`` dicts (shared: copy before changing one)
    plan_kind : (N,) int8, approach plan kind (``greenwave.plans.PLAN_NAMES``; ``NONE``: no plan)
    plan_hold_kmh, plan_cross_kmh : (N,) float64, speed to change to now and speed at the stop
        line (NaN where no plan)
    plan_resume_in_m, plan_resume_in_s : (N,) float64, distance before the stop line at which
        to re-accelerate to ``plan_cross_kmh``, and seconds from now until then (NaN where there
        is no re-acceleration)
    plan_arrival_in_s : (N,) float64, expected arrival at the stop line (NaN: none, eco_stop)
    plan_lift_off_m, plan_stop_at_m : (N,) float64, eco_stop: distance before the stop line at
        which to start the gentle deceleration, and at which to come to rest (NaN otherwise)
    """

    status: np.ndarray
    reason: tuple
    has_signal: np.ndarray
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
    plan_hold_kmh: np.ndarray
    plan_cross_kmh: np.ndarray
    plan_resume_in_m: np.ndarray
    plan_resume_in_s: np.ndarray
    plan_arrival_in_s: np.ndarray
    plan_lift_off_m: np.ndarray
    plan_stop_at_m: np.ndarray


def plan_columns(plan: Plans) -> dict[str, np.ndarray]:
    """The approach plans as the API's columns (km/h, NaN where a field does not apply): the
    ``plan_*`` fields of :class:`RecordColumns`.

    Values are rounded to :data:`PLAN_DECIMALS` decimals (mm, ms, 0.001 km/h): far below what
    a driver can act on, and it keeps a vehicle's answer the same whether it is computed alone
    or in a batch (numpy's vector loops may differ in the last bit between array lengths).
    """
    from .plans import NONE
    from .units import ms_to_kmh

    kind = np.asarray(plan.kind, dtype=np.int8)
    has = kind != NONE
    resume = has & np.isfinite(plan.resume_in_s)
    nan = np.nan

    def col(mask, x):
        return np.round(np.where(mask, x, nan), PLAN_DECIMALS)

    return {
        "plan_kind": kind,
        "plan_hold_kmh": col(has, ms_to_kmh(plan.hold_ms)),
        "plan_cross_kmh": col(has, ms_to_kmh(plan.cross_ms)),
        "plan_resume_in_m": col(resume, plan.resume_dist_m),
        "plan_resume_in_s": col(resume, plan.resume_in_s),
        "plan_arrival_in_s": col(has, plan.arrival_in_s),
        "plan_lift_off_m": col(has, plan.lift_dist_m),
        "plan_stop_at_m": col(has, plan.stop_dist_m),
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

    Messages come from :func:`greenwave.messages.render` through a cache keyed on what the
    spoken text depends on (see :func:`_message_keys`); batches of thousands of vehicles share a
    few hundred distinct messages, each rendered once.
    """
    from .bands import NO_SIGNAL, STOP
    from .units import ms_to_kmh

    b = advice.bands
    n = b.status.shape[0]
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    g0 = advice.group[:, 0]
    has_sig = g0 >= 0
    state, ttc, ttc_min, ttc_max = timing.state(np.where(has_sig, g0, 0), t)
    inter = network.link_intersection[np.maximum(advice.stop_link[:, 0], 0)]
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
    reason = [None] * 4
    reason[NO_SIGNAL] = "no signalised intersection ahead on this route"
    reason[STOP] = f"no speed within {band_txt} and the speed limit reaches the stop line on green"
    return RecordColumns(
        status=status,
        reason=tuple(reason),
        has_signal=has_sig,
        intersection=inter,
        distance_m=dist,
        signal_state=state,
        time_to_change_s=ttc,
        time_to_change_min_s=ttc_min,
        time_to_change_max_s=ttc_max,
        band_min_kmh=ms_to_kmh(lo),
        band_max_kmh=ms_to_kmh(hi),
        option_min_kmh=ms_to_kmh(olo),
        option_max_kmh=ms_to_kmh(ohi),
        message=message,
        messages=messages,
        **plan_columns(advice.plan),
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
    from .bands import STATUS_NAMES
    from .plans import NONE, PLAN_NAMES
    from .timing import STATE_NAMES

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
    plan_fields = [(k, getattr(c, "plan_" + k).tolist()) for k in PLAN_FIELDS]
    out = []
    append = out.append
    for i in range(n):
        st = status[i]
        if has_sig[i]:
            k = inter_l[i]
            inter_d = {"id": ids[k], "name": names[k]}
            sig = {
                "state": STATE_NAMES[state_l[i]],
                "time_to_change_s": ttc_l[i],
                "time_to_change_min_s": ttc_min_l[i],
                "time_to_change_max_s": ttc_max_l[i],
            }
        else:
            inter_d = sig = None
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
        if pk == NONE:
            plan = None
        else:
            plan = {"kind": PLAN_NAMES[pk]}
            for k, col in plan_fields:
                x = col[i]
                plan[k] = None if x != x else x
        append(
            {
                "status": STATUS_NAMES[st],
                "reason": reasons[st],
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
    from .messages import render

    return render(
        status,
        dist,
        None if lo != lo else (lo, hi),
        [(j + 1, olo[j], ohi[j]) for j in range(len(olo)) if ok[j]],
    )


def _message_keys(status, dist_m, lo_ms, hi_ms, opt_lo_ms, opt_hi_ms) -> tuple:
    """Per vehicle, everything :func:`greenwave.messages.render` reads, rounded as it rounds.

    The text depends on the status, the distance rounded by ``round_distance_m``, the band and
    the options rounded inwards by ``round_band_kmh``; these are computed here on whole arrays
    with the same float operations, so two vehicles with equal keys get equal messages.
    ``tests/test_api_records.py`` checks this against ``render`` called per vehicle.

    Returns the 7 key columns (N,): status, rounded distance (-1: none), rounded band lo and hi
    (-1: none), index of the longest multi-stop option (-1: none) and its rounded lo and hi.
    """
    from .messages import _ROUND_TOL_KMH
    from .units import ms_to_kmh

    with np.errstate(invalid="ignore"):
        step = np.where(dist_m < 100, 5.0, np.where(dist_m < 1000, 10.0, 50.0))
        d_round = np.where(np.isnan(dist_m), -1.0, step * np.round(dist_m / step))
        b_lo = np.ceil(ms_to_kmh(lo_ms) - _ROUND_TOL_KMH)
        b_hi = np.floor(ms_to_kmh(hi_ms) + _ROUND_TOL_KMH)
        b_ok = b_lo <= b_hi  # False for NaN: no band
        o_lo = np.ceil(ms_to_kmh(opt_lo_ms) - _ROUND_TOL_KMH)
        o_hi = np.floor(ms_to_kmh(opt_hi_ms) + _ROUND_TOL_KMH)
        o_ok = o_lo <= o_hi
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
