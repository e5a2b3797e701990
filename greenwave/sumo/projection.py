"""Network coordinates to lon/lat: a SUMO net's ``<location>`` (``projParameter``,
``netOffset``), greenwave's own projection written as PROJ ``eqc``, or a given origin.

Derivations: docs/sumo_bridge.md (Coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from greenwave.geo import EARTH_RADIUS_M, LocalProjection

from .xmlio import (
    SumoError,
)


def eqc_proj_string(proj: LocalProjection) -> str:
    """PROJ definition equal to greenwave's :class:`LocalProjection` (spherical ``eqc``)."""
    return (
        f"+proj=eqc +lat_ts={proj.lat0!r} +lat_0={proj.lat0!r} +lon_0={proj.lon0!r} "
        f"+x_0=0 +y_0=0 +R={EARTH_RADIUS_M!r} +units=m +no_defs"
    )


def parse_proj(text: str) -> dict[str, str]:
    out = {}
    for tok in text.split():
        tok = tok.lstrip("+")
        key, _, val = tok.partition("=")
        out[key] = val
    return out


def xy_to_lonlat(
    proj_parameter: str, net_offset: tuple[float, float], origin: tuple[float, float] | None
) -> tuple[Callable, str]:
    """A function ``(x, y) -> (lon, lat)`` for network coordinates, and how it was found.

    Spherical ``eqc`` (what :func:`export_sumo` writes) is inverted here; any other PROJ
    definition needs pyproj; a network without projection needs ``origin`` (lon/lat of the
    network point x = 0, y = 0).
    """
    ox, oy = net_offset
    p = parse_proj(proj_parameter or "!")
    if p.get("proj") == "eqc":
        lat_ts = float(p.get("lat_ts", "0"))
        lat0 = float(p.get("lat_0", "0"))
        lon0 = float(p.get("lon_0", "0"))
        radius = float(p.get("R", p.get("a", "6378137")))
        x0, y0 = float(p.get("x_0", "0")), float(p.get("y_0", "0"))
        kx = math.radians(1.0) * radius * math.cos(math.radians(lat_ts))
        ky = math.radians(1.0) * radius

        def eqc(x, y):
            x = np.asarray(x, dtype=float) - ox - x0
            y = np.asarray(y, dtype=float) - oy - y0
            return lon0 + x / kx, lat0 + y / ky

        return eqc, "projection +proj=eqc (inverted directly)"
    if proj_parameter and proj_parameter != "!":
        try:
            import pyproj
        except ImportError:
            if origin is None:
                raise SumoError(
                    f"the network's projection '{proj_parameter}' needs pyproj "
                    "(pip install pyproj), or give --origin LON,LAT for the point x=0, y=0"
                ) from None
        else:
            inv = pyproj.Proj(proj_parameter)

            def geo(x, y):
                lon, lat = inv(np.asarray(x, float) - ox, np.asarray(y, float) - oy, inverse=True)
                return np.asarray(lon), np.asarray(lat)

            return geo, f"projection {proj_parameter} (pyproj)"
    if origin is None:
        raise SumoError(
            "the network has no geo-projection: give --origin LON,LAT "
            "(the lon/lat of the network point x=0, y=0)"
        )
    local = LocalProjection(*origin)
    return (
        lambda x, y: local.to_lonlat(np.asarray(x, float), np.asarray(y, float)),
        f"no projection: x=0, y=0 placed at {origin[0]}, {origin[1]}",
    )
