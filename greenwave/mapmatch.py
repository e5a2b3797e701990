"""Map matching: a GPS fix (lon, lat, heading) → the approach link the vehicle drives on.

Every link polyline is cut into straight segments in the network's local metric projection
(:class:`greenwave.geo.LocalProjection`).  A uniform grid of square cells indexes them: a segment
is listed in every cell that holds a point within ``radius_m`` of it, so the candidates of a fix
are exactly the segments listed in the fix's own cell.  Cells are kept as sorted integer keys
(compressed-row layout, no dense array over the city's extent), and a batch of fixes is looked up
with one ``searchsorted``; no Python loop over vehicles, links or cells.  A query costs about a
microsecond per fix (a shapely ``STRtree`` ``dwithin`` query alone costs 1–2 µs per fix in GEOS).

Each fix is projected onto every candidate segment (clamped to it); candidates farther than
``radius_m``, or whose bearing differs from the vehicle's heading by more than
``heading_tol_deg``, are dropped, so an eastbound car is never put on the westbound link of the
same street (both directions of a street share one centre line in the scenario format).  Of the
remaining candidates the nearest wins, ties going to the better-aligned one.

Offsets along a link are in the link's great-circle metres (``Network.link_cum_m``), the unit of
``Network.path_ahead``; the lateral distance is in projected metres.

Examples
--------
>>> mm = MapMatcher(world.network)                                     # doctest: +SKIP
>>> m = mm.match(lon=[118.02], lat=[36.8105], heading_deg=[90.0])      # doctest: +SKIP
>>> network.link_ids[m.link[0]], m.offset_m[0]                         # doctest: +SKIP
('renmin_f2', 12.3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geo import angle_diff_deg, bearing_deg
from .network import Network

MATCHED, NO_ROAD, WRONG_DIRECTION = 0, 1, 2
"""Match result codes: on a link; no link within the radius; links near but none heading the
vehicle's way."""

RADIUS_M = 40.0
"""Default search radius (m): GPS error in urban canyons is typically 5–20 m, plus half the road
width of a multi-lane arterial."""

HEADING_TOL_DEG = 60.0
"""Default heading tolerance (deg): wide enough for GPS heading noise and curves, narrow enough to
exclude the opposite direction (180°) and cross streets (90°)."""


@dataclass(frozen=True)
class Match:
    """Result of :meth:`MapMatcher.match` for N fixes.

    Attributes
    ----------
    code : (N,) int8
        ``MATCHED``, ``NO_ROAD`` or ``WRONG_DIRECTION``.
    link : (N,) int64
        Link index, -1 when not matched.
    offset_m : (N,) float64
        Distance along the link from its start (m), NaN when not matched.
    lon, lat : (N,) float64
        The fix snapped onto the link (degrees), NaN when not matched.
    lateral_m : (N,) float64
        Distance from the fix to the link (m); for ``WRONG_DIRECTION`` the distance to the nearest
        link of any direction; NaN for ``NO_ROAD``.
    nearest_bearing_deg : (N,) float64
        For ``WRONG_DIRECTION``: bearing of the nearest (rejected) link, else NaN.
    """

    code: np.ndarray
    link: np.ndarray
    offset_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    lateral_m: np.ndarray
    nearest_bearing_deg: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        return self.code == MATCHED


class MapMatcher:
    """Spatial index over a network's link segments; matching is vectorised over fixes.

    Parameters
    ----------
    network : Network
    radius_m : float
        Largest lateral distance of a fix from its link (m).
    heading_tol_deg : float
        Largest difference between the vehicle heading and the link bearing (deg).
    """

    def __init__(
        self, network: Network, radius_m: float = RADIUS_M, heading_tol_deg: float = HEADING_TOL_DEG
    ):
        if not (np.isfinite(radius_m) and radius_m > 0):
            raise ValueError(f"radius_m must be > 0, got {radius_m}")
        if not 0 < heading_tol_deg < 180:
            raise ValueError(f"heading_tol_deg must be in (0, 180), got {heading_tol_deg}")
        self.network = network
        self.radius_m = float(radius_m)
        self.heading_tol_deg = float(heading_tol_deg)
        counts = np.array([len(xy) - 1 for xy in network.link_xy], dtype=np.int64)
        # Segment s belongs to link seg_link[s]; link k's segments are seg_first[k] .. +counts[k].
        self.seg_first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.seg_link = np.repeat(np.arange(network.n_links, dtype=np.int64), counts)
        xy, cum = network.link_xy, network.link_cum_m
        a = np.concatenate([p[:-1] for p in xy]) if len(xy) else np.empty((0, 2))
        b = np.concatenate([p[1:] for p in xy]) if len(xy) else np.empty((0, 2))
        c0 = np.concatenate([c[:-1] for c in cum]) if len(cum) else np.empty(0)
        c1 = np.concatenate([c[1:] for c in cum]) if len(cum) else np.empty(0)
        self.seg_a, self.seg_d = a, b - a  # start point and direction vector (projected m)
        self.seg_len2 = np.einsum("ij,ij->i", self.seg_d, self.seg_d)
        self.seg_cum0, self.seg_cum1 = c0, c1  # great-circle metres at both ends
        self.seg_bearing = bearing_deg(self.seg_d[:, 0], self.seg_d[:, 1])
        self._build_grid()

    def _build_grid(self):
        """List every segment in each grid cell that has a point within ``radius_m`` of it."""
        r = self.radius_m
        self.cell_m = cell = max(r, 10.0)
        a, d = self.seg_a, self.seg_d
        lo = np.minimum(a, a + d) - r
        hi = np.maximum(a, a + d) + r
        i0 = np.floor(lo / cell).astype(np.int64)
        i1 = np.floor(hi / cell).astype(np.int64)
        nx, ny = i1[:, 0] - i0[:, 0] + 1, i1[:, 1] - i0[:, 1] + 1
        per = nx * ny
        seg = np.repeat(np.arange(len(a), dtype=np.int64), per)
        k = np.arange(per.sum(), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
        cx = i0[seg, 0] + k // ny[seg]
        cy = i0[seg, 1] + k % ny[seg]
        # Keep a cell only if it comes within r of the segment: its centre within r + half a
        # cell diagonal (long diagonal segments would otherwise fill their whole bounding box).
        dist = _segment_distance(
            (cx + 0.5) * cell, (cy + 0.5) * cell, a[seg], d[seg], self.seg_len2[seg]
        )[0]
        keep = dist <= r + cell * np.sqrt(0.5)
        keys = _cell_key(cx[keep], cy[keep])
        seg = seg[keep]
        order = np.argsort(keys, kind="stable")
        keys, self.cell_items = keys[order], seg[order]
        self.cell_keys, self.cell_start, counts = np.unique(
            keys, return_index=True, return_counts=True
        )
        self.cell_count = counts.astype(np.int64)

    def candidates(self, x, y):
        """Candidate (fix, segment) pairs for projected points: the segments of each cell.

        Returns ``fix, seg`` (P,) int64 arrays; every segment within ``radius_m`` of a fix is
        among its pairs.
        """
        if len(self.cell_keys) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        key = _cell_key(
            np.floor(x / self.cell_m).astype(np.int64), np.floor(y / self.cell_m).astype(np.int64)
        )
        pos = np.minimum(np.searchsorted(self.cell_keys, key), len(self.cell_keys) - 1)
        found = self.cell_keys[pos] == key
        cnt = np.where(found, self.cell_count[pos], 0)
        total = int(cnt.sum())
        fix = np.repeat(np.arange(len(key), dtype=np.int64), cnt)
        first = np.repeat(self.cell_start[pos] - (np.cumsum(cnt) - cnt), cnt)
        return fix, self.cell_items[first + np.arange(total, dtype=np.int64)]

    # ------------------------------------------------------------------ matching
    def match(self, lon, lat, heading_deg) -> Match:
        """Match N fixes; see :class:`Match`.

        Parameters
        ----------
        lon, lat : (N,) float, degrees WGS84
        heading_deg : (N,) float, 0 = north, clockwise
        """
        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        heading = np.atleast_1d(np.asarray(heading_deg, dtype=float))
        n = lon.shape[0]
        x, y = self.network.projection.to_xy(lon, lat)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        code = np.full(n, NO_ROAD, dtype=np.int8)
        link = np.full(n, -1, dtype=np.int64)
        offset = np.full(n, np.nan)
        lateral = np.full(n, np.nan)
        near_brg = np.full(n, np.nan)
        sx, sy = np.full(n, np.nan), np.full(n, np.nan)
        if n and len(self.seg_link):
            fix, seg = self.candidates(x, y)
            # Project each fix onto each candidate segment (clamped), vectorised over pairs.
            dist, f = _segment_distance(
                x[fix], y[fix], self.seg_a[seg], self.seg_d[seg], self.seg_len2[seg]
            )
            near = dist <= self.radius_m
            fix, seg, dist, f = fix[near], seg[near], dist[near], f[near]
            if fix.size:
                turn = angle_diff_deg(heading[fix], self.seg_bearing[seg])
                ok = turn <= self.heading_tol_deg
                # Nearest candidate of any direction (for the WRONG_DIRECTION reason) ...
                best_any = _argmin_per_group(fix, dist, turn, n)
                has_any = best_any >= 0
                lateral[has_any] = dist[best_any[has_any]]
                # ... and the nearest well-aligned one, ties to the better-aligned.
                best = _argmin_per_group(fix[ok], dist[ok], turn[ok], n)
                hit = best >= 0
                code[has_any & ~hit] = WRONG_DIRECTION
                wrong = has_any & ~hit
                near_brg[wrong] = self.seg_bearing[seg[best_any[wrong]]]
                sel = np.flatnonzero(ok)[best[hit]]
                s = seg[sel]
                code[hit] = MATCHED
                link[hit] = self.seg_link[s]
                fs = f[sel]
                offset[hit] = self.seg_cum0[s] + fs * (self.seg_cum1[s] - self.seg_cum0[s])
                lateral[hit] = dist[sel]
                sx[hit] = self.seg_a[s, 0] + fs * self.seg_d[s, 0]
                sy[hit] = self.seg_a[s, 1] + fs * self.seg_d[s, 1]
        slon, slat = self.network.projection.to_lonlat(sx, sy)
        return Match(
            code,
            link,
            offset,
            np.asarray(slon, dtype=float),
            np.asarray(slat, dtype=float),
            lateral,
            near_brg,
        )

    # ------------------------------------------------------------------ link + offset
    def locate(self, link, offset_m):
        """Points at ``offset_m`` along ``link`` (vectorised :meth:`Network.point_at`).

        Parameters
        ----------
        link : (N,) int, valid link indices
        offset_m : (N,) float, clipped to ``[0, link length]``

        Returns
        -------
        lon, lat, bearing_deg : (N,) float64
        """
        link = np.atleast_1d(np.asarray(link, dtype=np.int64))
        off = np.atleast_1d(np.asarray(offset_m, dtype=float))
        n_seg = np.diff(np.append(self.seg_first, len(self.seg_link)))[link]
        first = self.seg_first[link]
        off = np.clip(off, 0.0, self.network.link_length_m[link])
        # Segment holding the offset: the last one of the link whose start is <= offset.  Links
        # have few segments, so step through them (at most max segments per link iterations).
        k = np.zeros(link.shape[0], dtype=np.int64)
        for j in range(1, int(n_seg.max(initial=1))):
            k = np.where(
                (j < n_seg) & (self.seg_cum0[first + np.minimum(j, n_seg - 1)] <= off), j, k
            )
        s = first + k
        span = self.seg_cum1[s] - self.seg_cum0[s]
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.clip(np.where(span > 0, (off - self.seg_cum0[s]) / span, 0.0), 0.0, 1.0)
        x = self.seg_a[s, 0] + f * self.seg_d[s, 0]
        y = self.seg_a[s, 1] + f * self.seg_d[s, 1]
        lon, lat = self.network.projection.to_lonlat(x, y)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), self.seg_bearing[s]


def _argmin_per_group(group, dist, tie, n):
    """Per group id in ``0..n-1``: index (into the pair arrays) of the smallest ``dist``, near
    ties (within 1 µm) broken by the smallest ``tie`` (degrees); -1 for groups without pairs.

    ``group`` must be sorted (pairs come out of :meth:`MapMatcher.candidates` grouped by fix), so
    each group is one run and ``reduceat`` does the work in O(pairs).
    """
    out = np.full(n, -1, dtype=np.int64)
    if group.size == 0:
        return out
    score = dist + 1e-9 * tie
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    lowest = np.minimum.reduceat(score, starts)
    run = np.diff(np.append(starts, group.size))
    idx = np.where(score == np.repeat(lowest, run), np.arange(group.size), group.size)
    out[group[starts]] = np.minimum.reduceat(idx, starts)
    return out


def _cell_key(cx, cy):
    """One int64 per grid cell (cell indices fit easily: ±2^31 cells of >= 10 m)."""
    return (cx << 32) + cy


def _segment_distance(px, py, a, d, len2):
    """Distance from points to segments ``a + f d, f in [0, 1]`` and the clamped ``f``; (P,)."""
    rx, ry = px - a[:, 0], py - a[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(len2 > 0, (rx * d[:, 0] + ry * d[:, 1]) / len2, 0.0)
    np.clip(f, 0.0, 1.0, out=f)
    return np.hypot(rx - f * d[:, 0], ry - f * d[:, 1]), f
