"""Aggregate per-vehicle results into the published measures, with confidence intervals.

Per run (vehicles that entered after the warm-up and completed their route):

* ``mean_speed_kmh`` — space-mean speed, total distance / total travel time
* ``travel_time_s``, ``stopped_time_s``, ``delay_s`` — means per vehicle (delay against driving
  the route at the speed limits)
* ``stops_per_veh`` — mean number of stops (see :mod:`sim.engine` for the stop definition)
* ``fuel_l_per_100km``, ``co2_g_per_km`` — totals over total distance

Across seeds the mean and a 95 % confidence interval (Student t, n - 1 degrees of freedom) are
reported; changes between paired runs are computed per seed and then averaged, so the interval
of a change reflects the pairing.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import SimResult

MEASURES = (
    "mean_speed_kmh",
    "travel_time_s",
    "stops_per_veh",
    "stopped_time_s",
    "delay_s",
    "fuel_l_per_100km",
    "co2_g_per_km",
)
CHANGE_MEASURES = (
    "mean_speed_kmh",
    "travel_time_s",
    "stops_per_veh",
    "delay_s",
    "fuel_l_per_100km",
    "co2_g_per_km",
)

# Two-sided 95 % Student t quantiles t_{0.975, df} for df = 1..30 (standard tables, e.g.
# NIST/SEMATECH e-Handbook of Statistical Methods, Table 1.4.2.3); 1.96 beyond.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t975(df: int) -> float:
    """Two-sided 95 % Student t quantile."""
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def summarize(res: SimResult, mask=None) -> dict:
    """Measures of one run (see module docstring) plus vehicle counts.

    ``mask`` (A,) bool restricts them to some vehicles (e.g. one direction's entry link).
    """
    v = res.vehicles
    sel = np.ones(len(v["counted"]), dtype=bool) if mask is None else np.asarray(mask)
    c = v["counted"] & sel
    n = int(c.sum())
    incomplete = int((v["entered_after_warmup"] & ~v["completed"] & sel).sum())
    out = {"vehicles": n, "incomplete": incomplete}
    if n == 0:
        out.update({k: math.nan for k in MEASURES})
        return out
    dist = v["distance_m"][c].sum()
    tt = v["travel_time_s"][c]
    out.update(
        {
            "mean_speed_kmh": float(dist / tt.sum() * 3.6),
            "travel_time_s": float(tt.mean()),
            "stops_per_veh": float(v["stops"][c].mean()),
            "stopped_time_s": float(v["stopped_time_s"][c].mean()),
            "delay_s": float(v["delay_s"][c].mean()),
            "fuel_l_per_100km": float(v["fuel_l"][c].sum() / dist * 1e5),
            "co2_g_per_km": float(v["co2_g"][c].sum() / dist * 1e3),
        }
    )
    return out


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and 95 % confidence interval ``(mean, lo, hi)``; NaN interval for one value."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def change_pct(before: float, after: float) -> float:
    """Relative change in percent (NaN when the base is 0 or missing)."""
    if not (math.isfinite(before) and math.isfinite(after)) or before == 0:
        return math.nan
    return (after - before) / before * 100.0


def aggregate(runs: list[dict]) -> dict:
    """Combine per-seed summaries: sums of counts, means of measures, and their intervals."""
    out = {
        "vehicles": int(sum(r["vehicles"] for r in runs)),
        "incomplete": int(sum(r["incomplete"] for r in runs)),
    }
    ci = {}
    for k in MEASURES:
        m, lo, hi = mean_ci([r[k] for r in runs])
        out[k] = m
        ci[k] = [lo, hi]
    out["ci95"] = ci
    return out


def paired_changes(base_runs: list[dict], other_runs: list[dict]) -> tuple[dict, dict]:
    """Per-seed % changes averaged over seeds, and their 95 % intervals."""
    mean, ci = {}, {}
    for k in CHANGE_MEASURES:
        per_seed = [change_pct(b[k], o[k]) for b, o in zip(base_runs, other_runs, strict=True)]
        m, lo, hi = mean_ci(per_seed)
        mean[k], ci[k] = m, [lo, hi]
    return mean, ci


def paired_block(runs: dict[str, list[dict]], changes: dict[str, tuple[str, str]]) -> dict:
    """Each case's :func:`aggregate` and the paired changes between cases.

    ``runs`` maps a case name to its per-seed summaries (the same seeds, in the same order, in
    every case); ``changes`` maps a key suffix to ``(reference case, other case)``.  Returns
    ``{case: aggregate, "change_pct<suffix>": ..., "change_ci95<suffix>": ...}``, e.g. with
    ``{"": ("baseline", "advisory")}`` the ``baseline``, ``advisory``, ``change_pct`` and
    ``change_ci95`` of ``compare --json``.
    """
    out: dict = {case: aggregate(r) for case, r in runs.items()}
    for suffix, (base, other) in changes.items():
        mean, ci = paired_changes(runs[base], runs[other])
        out[f"change_pct{suffix}"] = mean
        out[f"change_ci95{suffix}"] = ci
    return out
