"""The one advisory call shared by the API and the simulator: position → path → speed bands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bands import Bands, BandParams, speed_bands
from .network import Network
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
    """

    bands: Bands
    dist_m: np.ndarray
    group: np.ndarray
    limit_ms: np.ndarray
    stop_link: np.ndarray


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
) -> Advice:
    """Speed bands for vehicles at ``offset_m`` along ``link`` driving at ``speed_ms`` at ``t_s``.

    Parameters
    ----------
    link : (N,) int, offset_m : (N,) float (m), speed_ms : (N,) float (m/s)
    t_s : (N,) float or scalar, absolute time (s)
    m : int, stop lines ahead to look at
    queue_delay_s : (N, m) float, optional queue discharge delay per stop line
    """
    dist, group, limit, stop_link = network.path_ahead(link, offset_m, m)
    bands = speed_bands(dist, np.asarray(speed_ms, dtype=float), t_s, group, limit, timing,
                        params, queue_delay_s)
    return Advice(bands, dist, group, limit, stop_link)


def records(advice: Advice, network: Network, timing: SignalTiming, t_s, params: BandParams,
            n_options: int = 3) -> list[dict]:
    """Per-vehicle advice as plain dicts with the API's field names (speeds in km/h).

    Fields: ``status``, ``reason``, ``intersection`` ({id, name} or None), ``distance_m``,
    ``signal`` (state and time to change likely/min/max, or None), ``band`` ({min_kmh,
    max_kmh} or None), ``options`` (joint bands covering 1..n stop lines that exist), and
    ``message`` ({zh, en}).

    Conversions happen on whole arrays and every column becomes a Python list before the loop,
    which only assembles dicts.  Messages come from :func:`greenwave.messages.render` through a
    cache keyed on what the spoken text depends on (see :func:`_message_keys`); batches of
    thousands of vehicles share a few hundred distinct messages.
    """
    from .bands import NO_SIGNAL, STATUS_NAMES, STOP
    from .timing import STATE_NAMES
    from .units import ms_to_kmh

    b = advice.bands
    n = b.status.shape[0]
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    g0 = advice.group[:, 0]
    has_sig_a = g0 >= 0
    state, ttc, ttc_min, ttc_max = timing.state(np.where(has_sig_a, g0, 0), t)
    inter = network.link_intersection[np.maximum(advice.stop_link[:, 0], 0)]
    status_a = b.status[:, 0]
    dist_a = advice.dist_m[:, 0]
    lo_a, hi_a = b.lo_ms[:, 0], b.hi_ms[:, 0]
    olo, ohi = b.options(n_options)
    n_opt = olo.shape[1]
    opt_ok = ~np.isnan(olo)
    msg_keys = _message_keys(status_a, dist_a, lo_a, hi_a, olo, ohi)

    status = status_a.tolist()
    has_sig = has_sig_a.tolist()
    inter_l = inter.tolist()
    state_l = state.tolist()
    ttc_l, ttc_min_l, ttc_max_l = ttc.tolist(), ttc_min.tolist(), ttc_max.tolist()
    dist = dist_a.tolist()
    lo, hi = lo_a.tolist(), hi_a.tolist()
    lo_kmh, hi_kmh = ms_to_kmh(lo_a).tolist(), ms_to_kmh(hi_a).tolist()
    olo_l, ohi_l = olo.tolist(), ohi.tolist()
    olo_k, ohi_k = ms_to_kmh(olo).tolist(), ms_to_kmh(ohi).tolist()
    opt_ok_l = opt_ok.tolist()
    all_opts = opt_ok.all(axis=1).tolist()
    band_txt = f"{ms_to_kmh(params.band_min_ms):g}–{ms_to_kmh(params.band_max_ms):g} km/h"
    reason_none = "no signalised intersection ahead on this route"
    reason_stop = f"no speed within {band_txt} and the speed limit reaches the stop line on green"
    ids, names = network.intersection_ids, network.intersection_names
    counts = range(1, n_opt + 1)
    cache = _MESSAGE_CACHE
    if len(cache) > _MESSAGE_CACHE_MAX:
        cache.clear()
    out = []
    append = out.append
    for i in range(n):
        st = status[i]
        if has_sig[i]:
            k = inter_l[i]
            inter_d = {"id": ids[k], "name": names[k]}
            sig = {"state": STATE_NAMES[state_l[i]], "time_to_change_s": ttc_l[i],
                   "time_to_change_min_s": ttc_min_l[i], "time_to_change_max_s": ttc_max_l[i]}
        else:
            inter_d = sig = None
        ok_i, lk, hk = opt_ok_l[i], olo_k[i], ohi_k[i]
        if all_opts[i]:
            opts = [{"intersections": c, "min_kmh": a, "max_kmh": z}
                    for c, a, z in zip(counts, lk, hk)]
        else:
            opts = [{"intersections": c, "min_kmh": a, "max_kmh": z}
                    for c, a, z, o in zip(counts, lk, hk, ok_i) if o]
        band = None if lo[i] != lo[i] else {"min_kmh": lo_kmh[i], "max_kmh": hi_kmh[i]}
        d = None if dist[i] != dist[i] else dist[i]
        key = msg_keys[i]
        msg = cache.get(key)
        if msg is None:
            msg = cache[key] = _render(st, d, lo[i], hi[i], olo_l[i], ohi_l[i], ok_i)
        append({
            "status": STATUS_NAMES[st],
            "reason": reason_none if st == NO_SIGNAL else reason_stop if st == STOP else None,
            "intersection": inter_d,
            "distance_m": d,
            "signal": sig,
            "band": band,
            "options": opts,
            "message": dict(msg),
        })
    return out


# Rendered messages by key (see _message_keys); bounded, cleared when full.
_MESSAGE_CACHE: dict[tuple, dict[str, str]] = {}
_MESSAGE_CACHE_MAX = 65536


def _render(status, dist, lo, hi, olo, ohi, ok):
    from .messages import render

    return render(status, dist, None if lo != lo else (lo, hi),
                  [(j + 1, olo[j], ohi[j]) for j in range(len(olo)) if ok[j]])


def _message_keys(status, dist_m, lo_ms, hi_ms, opt_lo_ms, opt_hi_ms) -> list[tuple]:
    """Per vehicle, everything :func:`greenwave.messages.render` reads, rounded as it rounds.

    The text depends on the status, the distance rounded by ``round_distance_m``, the band and
    the options rounded inwards by ``round_band_kmh``; these are computed here on whole arrays
    with the same float operations, so two vehicles with equal keys get equal messages.
    ``tests/test_api_records.py`` checks this against ``render`` called per vehicle.

    Returns a list of N hashable tuples.
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
    cols = (status, d_round, np.where(b_ok, b_lo, -1.0), np.where(b_ok, b_hi, -1.0),
            longest, l_lo, l_hi)
    return list(zip(*(c.tolist() for c in cols)))
