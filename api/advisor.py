"""Position → advisory, for one vehicle or ten thousand, through one core call.

:class:`Advisor` turns validated requests into columns, map-matches the GPS fixes
(:class:`greenwave.mapmatch.MapMatcher`), calls :func:`greenwave.advice.advise` and
:func:`greenwave.advice.records` once for all vehicles, and adds the service's fields (matched
link, snapped position, speed limit, validity, times).  No band logic lives here.

:class:`MicroBatcher` answers concurrent single advisories together: a request waits while the
previous group is being computed (and optionally ``window`` longer), then the whole group goes
through one vectorised call in a worker thread.  The core's per-call overhead (a few hundred µs of
numpy dispatch, whatever N) is paid once per group instead of once per request, and the event
loop never runs the computation itself.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from greenwave.advice import advise, records
from greenwave.mapmatch import NO_ROAD, MapMatcher
from greenwave.messages import round_distance_m
from greenwave.network import World
from greenwave.units import kmh_to_ms, ms_to_kmh

from .responses import dumps
from .schemas import iso
from .state import TimingStore

OFF_NETWORK_MESSAGE = {"zh": "当前位置不在路网上,暂无车速建议",
                       "en": "Position is not on a mapped road: no speed advice"}


class Advisor:
    """Everything needed to answer advisories, built once per worker.

    Parameters
    ----------
    world : World
    store : TimingStore, source of the timing in force (read once per call)
    radius_m, heading_tol_deg : map matching (see :mod:`greenwave.mapmatch`)
    range_m : float, no band for a stop line farther than this
    valid_for_s : float, ``valid_for_s`` of every advisory
    """

    def __init__(self, world: World, store: TimingStore, radius_m: float,
                 heading_tol_deg: float, range_m: float, valid_for_s: float):
        self.world = world
        self.network = net = world.network
        self.store = store
        self.params = world.scenario.band_params()
        self.ahead = world.scenario.advisory.intersections_ahead
        self.matcher = MapMatcher(net, radius_m, heading_tol_deg)
        self.range_m = float(range_m)
        self.valid_for_s = float(valid_for_s)
        self._limit_kmh = np.round(ms_to_kmh(net.link_speed_limit_ms), 6).tolist()

    # ------------------------------------------------------------------ entry points
    def from_requests(self, reqs: Sequence[dict], now_s: float | Sequence[float]) -> list[dict]:
        """Advisories for validated request dicts (:data:`api.schemas.ADVISORY`), in order.

        ``now_s`` is the server time of the requests (one value, or one per request): the time
        of a request without ``timestamp`` and the ``generated_at`` of all.
        """
        n = len(reqs)
        if isinstance(now_s, (int, float)):
            now_s = [now_s] * n
        now_l = list(now_s)
        nan = float("nan")
        lat = [r.get("lat", nan) for r in reqs]
        lon = [r.get("lon", nan) for r in reqs]
        heading = [r.get("heading_deg", nan) for r in reqs]
        link_index = self.network.link_index
        link = [link_index[r["link_id"]] if "link_id" in r else -1 for r in reqs]
        offset = [r.get("offset_m", nan) for r in reqs]
        speed = [r["speed_kmh"] for r in reqs]
        t = [r["timestamp"].timestamp() if "timestamp" in r else t0 for r, t0 in zip(reqs, now_l)]
        vid = [r.get("vehicle_id") for r in reqs]
        if n == 0:
            return []
        return self.compute(np.array(lat), np.array(lon), np.array(heading),
                            np.array(link, dtype=np.int64), np.array(offset),
                            kmh_to_ms(np.array(speed)), np.array(t), vid, max(now_l))

    def compute(self, lat, lon, heading, link, offset, speed_ms, t_s, vehicle_id,
                now_s: float) -> list[dict]:
        """Advisories for N vehicles given as columns.

        Parameters
        ----------
        lat, lon, heading : (N,) float, NaN for vehicles given by link
        link : (N,) int64, link index or -1 for vehicles given by GPS fix
        offset : (N,) float, offset along ``link`` (m) where given
        speed_ms : (N,) float
        t_s : (N,) float, absolute time of each fix (s)
        vehicle_id : list of N str or None
        now_s : float, generation time
        """
        net = self.network
        timing = self.store.timing  # one reference: one consistent timing for the whole call
        n = len(link)
        by_link = link >= 0
        lateral = np.full(n, np.nan)
        code = np.zeros(n, dtype=np.int8)
        near_brg = np.full(n, np.nan)
        snap_lon, snap_lat = np.full(n, np.nan), np.full(n, np.nan)
        gps = np.flatnonzero(~by_link)
        link = link.copy()
        offset = offset.copy()
        if gps.size:
            m = self.matcher.match(lon[gps], lat[gps], heading[gps])
            link[gps] = m.link
            offset[gps] = m.offset_m
            lateral[gps] = m.lateral_m
            code[gps] = m.code
            near_brg[gps] = m.nearest_bearing_deg
            snap_lon[gps], snap_lat[gps] = m.lon, m.lat
        lk = np.flatnonzero(by_link)
        if lk.size:
            snap_lon[lk], snap_lat[lk], _ = self.matcher.locate(link[lk], offset[lk])
        on = np.flatnonzero(link >= 0)

        recs: list[Any] = [None] * n
        if on.size:
            adv = advise(net, timing, self.params, link[on], offset[on], speed_ms[on], t_s[on],
                         self.ahead)
            out = records(adv, net, timing, t_s[on], self.params, self.ahead)
            far = np.flatnonzero(adv.dist_m[:, 0] > self.range_m).tolist()
            for i in far:
                self._beyond_range(out[i])
            for i, r in zip(on.tolist(), out):
                recs[i] = r

        gen = iso(now_s)
        t_iso = _iso_column(t_s, now_s, gen)
        link_l, off_l, lat_l = link.tolist(), offset.tolist(), lateral.tolist()
        slon, slat = snap_lon.tolist(), snap_lat.tolist()
        ids, limit = net.link_ids, self._limit_kmh
        valid = self.valid_for_s
        result = []
        for i in range(n):
            r = recs[i]
            k = link_l[i]
            if r is None:
                r = {"status": "off_network", "reason": self._off_reason(code[i], heading[i],
                                                                         near_brg[i]),
                     "intersection": None, "distance_m": None, "signal": None, "band": None,
                     "options": [], "message": dict(OFF_NETWORK_MESSAGE)}
                r.update(vehicle_id=vehicle_id[i], link_id=None, offset_m=None,
                         lateral_m=None if lat_l[i] != lat_l[i] else lat_l[i], snapped=None,
                         speed_limit_kmh=None)
            else:
                r["vehicle_id"] = vehicle_id[i]
                r["link_id"] = ids[k]
                r["offset_m"] = off_l[i]
                r["lateral_m"] = None if lat_l[i] != lat_l[i] else lat_l[i]
                r["snapped"] = {"lat": slat[i], "lon": slon[i]}
                r["speed_limit_kmh"] = limit[k]
            r["valid_for_s"] = valid
            r["timestamp"] = t_iso[i]
            r["generated_at"] = gen
            result.append(r)
        return result

    def compute_json(self, items: Sequence[tuple[dict, float]]) -> list[bytes]:
        """``(request, arrival time)`` pairs → each advisory encoded as JSON (micro-batcher)."""
        reqs = [it[0] for it in items]
        return [dumps(r) for r in self.from_requests(reqs, [it[1] for it in items])]

    # ------------------------------------------------------------------ helpers
    def _beyond_range(self, r: dict) -> None:
        d = round_distance_m(r["distance_m"])
        rng = f"{self.range_m:g}"
        r["status"] = "no_signal_ahead"
        r["reason"] = (f"the next stop line is {r['distance_m']:.0f} m ahead, beyond the "
                       f"advisory range of {rng} m")
        r["band"] = None
        r["options"] = []
        r["message"] = {"zh": f"距离前方路口{d}米,进入{rng}米范围后提供绿波车速",
                        "en": f"{d} m to the next intersection: speed advice starts within "
                              f"{rng} m"}

    def _off_reason(self, code, heading, bearing) -> str:
        radius = f"{self.matcher.radius_m:g}"
        if code == NO_ROAD:
            return f"no road within {radius} m of the position"
        return (f"no road within {radius} m runs in the direction of travel (heading "
                f"{heading:.0f}°; the nearest runs {bearing:.0f}°)")


def _iso_column(t_s: np.ndarray, now_s: float, now_iso: str) -> list[str]:
    """ISO text per vehicle, formatting each distinct time once."""
    if len(t_s) and np.all(t_s == t_s[0]):
        return [now_iso if t_s[0] == now_s else iso(float(t_s[0]))] * len(t_s)
    if np.all(t_s == now_s):
        return [now_iso] * len(t_s)
    uniq, inv = np.unique(t_s, return_inverse=True)
    text = [iso(x) for x in uniq.tolist()]
    return [text[j] for j in inv.tolist()]


class MicroBatcher:
    """Group concurrent calls of ``fn(items) -> results`` into one call per group.

    ``await submit(item)`` returns ``fn([... item ...])[its index]``.  While a group is being
    computed (in a one-thread executor: off the event loop, one group at a time) new items
    queue up and form the next group; ``window_s`` > 0 additionally waits that long before
    starting a group.  At most ``max_items`` per group.
    """

    def __init__(self, fn: Callable[[list], list], window_s: float = 0.0,
                 max_items: int = 512):
        self.fn = fn
        self.window_s = window_s
        self.max_items = max_items
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advisor")
        self.groups = 0
        self.items = 0

    async def submit(self, item):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append((item, fut))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await fut

    async def _drain(self):
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.window_s > 0 and len(self._queue) < self.max_items:
                    await asyncio.sleep(self.window_s)
                group = self._queue[: self.max_items]
                del self._queue[: self.max_items]
                self.groups += 1
                self.items += len(group)
                try:
                    results = await loop.run_in_executor(self._executor, self.fn,
                                                         [g[0] for g in group])
                except Exception as exc:  # reported to every waiting request
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), res in zip(group, results):
                    if not fut.done():
                        fut.set_result(res)
        finally:
            self._task = None

    def close(self):
        self._executor.shutdown(wait=False, cancel_futures=True)


def now() -> float:
    return time.time()
