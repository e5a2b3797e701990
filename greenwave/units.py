"""Unit conversions used at the edges (files, API, CLI). Everything inside is SI."""

from __future__ import annotations

KMH_PER_MS = 3.6
"""km/h per m/s (1 m/s = 3.6 km/h)."""


def kmh_to_ms(speed_kmh):
    """Convert km/h to m/s; works on floats and numpy arrays."""
    return speed_kmh / KMH_PER_MS


def ms_to_kmh(speed_ms):
    """Convert m/s to km/h; works on floats and numpy arrays."""
    return speed_ms * KMH_PER_MS
