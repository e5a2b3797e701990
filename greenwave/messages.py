"""Advice rendered as the app speaks it, in Chinese and English.

``距离前方路口480米,绿波速度区间35—50公里`` / ``480 m to the next intersection, green-wave speed
35–50 km/h``.  Distances are rounded to 5 m below 100 m, 10 m below 1 km and 50 m beyond; bands
are rounded *inwards* to whole km/h so that every spoken speed is inside the computed band.
"""

from __future__ import annotations

import math

from .bands import NO_SIGNAL, PROCEED, STOP
from .units import ms_to_kmh

# Tolerance for float noise in m/s → km/h (35 km/h becomes 35.000000000000004 after a round
# trip); far below anything a driver could hold.
_ROUND_TOL_KMH = 1e-9


def round_distance_m(dist_m: float) -> int:
    """Distance as spoken: nearest 5 m (< 100 m), 10 m (< 1 km) or 50 m."""
    step = 5 if dist_m < 100 else 10 if dist_m < 1000 else 50
    return int(step * round(dist_m / step))


def round_band_kmh(lo_ms: float, hi_ms: float) -> tuple[int, int] | None:
    """Band rounded inwards to whole km/h; None if no whole km/h lies inside."""
    lo = math.ceil(ms_to_kmh(lo_ms) - _ROUND_TOL_KMH)
    hi = math.floor(ms_to_kmh(hi_ms) + _ROUND_TOL_KMH)
    return (lo, hi) if lo <= hi else None


def render(
    status: int,
    dist_m: float | None,
    band_ms: tuple[float, float] | None,
    options: list[tuple[int, float, float]] = (),
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
    if longest is not None:
        olo, ohi = round_band_kmh(longest[1], longest[2])
        n = longest[0]
        if (olo, ohi) == (lo, hi):
            zh += f",可连续绿灯通过{n}个路口"
            en += f"; the same band gives green through the next {n} intersections"
        else:
            zh += f";{olo}—{ohi}公里可连续绿灯通过{n}个路口"
            en += f"; {olo}–{ohi} km/h for green through the next {n} intersections"
    return {"zh": zh, "en": en}
