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
    ``message`` ({zh, en}).  Conversions happen on whole arrays; the loop only assembles dicts.
    """
    from .bands import STATUS_NAMES, NO_SIGNAL, STOP
    from .messages import render
    from .timing import STATE_NAMES
    from .units import ms_to_kmh

    b = advice.bands
    n = b.status.shape[0]
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    g0 = advice.group[:, 0]
    has_sig = g0 >= 0
    state, ttc, ttc_min, ttc_max = timing.state(np.where(has_sig, g0, 0), t)
    inter = network.link_intersection[np.maximum(advice.stop_link[:, 0], 0)]
    status = b.status[:, 0].tolist()
    dist = advice.dist_m[:, 0].tolist()
    lo, hi = b.lo_ms[:, 0].tolist(), b.hi_ms[:, 0].tolist()
    lo_kmh, hi_kmh = ms_to_kmh(b.lo_ms[:, 0]).tolist(), ms_to_kmh(b.hi_ms[:, 0]).tolist()
    olo, ohi = b.options(n_options)
    olo_l, ohi_l = olo.tolist(), ohi.tolist()
    olo_k, ohi_k = ms_to_kmh(olo).tolist(), ms_to_kmh(ohi).tolist()
    band_txt = f"{ms_to_kmh(params.band_min_ms):g}–{ms_to_kmh(params.band_max_ms):g} km/h"
    out = []
    for i in range(n):
        st = status[i]
        sig = None
        inter_d = None
        if has_sig[i]:
            k = int(inter[i])
            inter_d = {"id": network.intersection_ids[k], "name": network.intersection_names[k]}
            sig = {"state": STATE_NAMES[state[i]], "time_to_change_s": float(ttc[i]),
                   "time_to_change_min_s": float(ttc_min[i]),
                   "time_to_change_max_s": float(ttc_max[i])}
        opts = [{"intersections": j + 1, "min_kmh": olo_k[i][j], "max_kmh": ohi_k[i][j]}
                for j in range(len(olo_k[i])) if olo_l[i][j] == olo_l[i][j]]
        band = None if lo[i] != lo[i] else {"min_kmh": lo_kmh[i], "max_kmh": hi_kmh[i]}
        reason = None
        if st == NO_SIGNAL:
            reason = "no signalised intersection ahead on this route"
        elif st == STOP:
            reason = f"no speed within {band_txt} and the speed limit reaches the stop line on green"
        msg = render(st, None if dist[i] != dist[i] else dist[i],
                     None if band is None else (lo[i], hi[i]),
                     [(j + 1, olo_l[i][j], ohi_l[i][j]) for j in range(len(olo_l[i]))
                      if olo_l[i][j] == olo_l[i][j]])
        out.append({
            "status": STATUS_NAMES[st],
            "reason": reason,
            "intersection": inter_d,
            "distance_m": None if dist[i] != dist[i] else dist[i],
            "signal": sig,
            "band": band,
            "options": opts,
            "message": msg,
        })
    return out
