"""Slow scalar reference implementations for tests: plain Python, written independently of the
vectorised core (no numpy, loops over cycles and speeds)."""

from __future__ import annotations

import math


def windows_scalar(cycle, offset, greens, t0, t1):
    """Absolute green windows [s, e) of a plan group overlapping [t0, t1), touching ones merged."""
    k = math.floor((t0 - offset) / cycle) - 2
    out = []
    while offset + k * cycle < t1 + 2 * cycle:  # one cycle past t1: merge a wrapping green
        for s, e in greens:
            ws, we = offset + k * cycle + s, offset + k * cycle + e
            if out and abs(out[-1][1] - ws) < 1e-6:
                out[-1] = (out[-1][0], we)
            else:
                out.append((ws, we))
        k += 1
    return [(s, e) for s, e in out if e > t0 and s < t1]


def arrival_time(d, v0, v, accel, decel):
    """Time to cover d metres: change speed from v0 to v at accel/decel, then hold v."""
    if d <= 0:
        return 0.0
    if v == v0:
        return d / v if v > 0 else math.inf
    rate = accel if v > v0 else decel
    sign = 1.0 if v > v0 else -1.0
    t_change = abs(v - v0) / rate
    x_change = v0 * t_change + 0.5 * sign * rate * t_change**2
    if x_change <= d:
        return t_change + ((d - x_change) / v if v > 0 else (0.0 if d == x_change else math.inf))
    # Line reached while still changing speed: v0 τ + sign·rate·τ²/2 = d, first positive root.
    a2 = 0.5 * sign * rate
    disc = v0 * v0 + 4 * a2 * d
    return (-v0 + math.sqrt(disc)) / (2 * a2)


def in_any(t, windows, end_margin=0.0):
    return any(s <= t <= e - end_margin for s, e in windows)
