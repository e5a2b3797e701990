"""Position → advisory, for one vehicle or ten thousand, through one core call.

:class:`Advisor` takes vehicles as columns (:class:`api.columns.Vehicles`), map-matches the GPS
fixes (:class:`greenwave.mapmatch.MapMatcher`), calls :func:`greenwave.advice.advise` and
:func:`greenwave.advice.record_columns` once for all vehicles, and adds the service's fields
(matched link, snapped position, speed limit, validity, times).  The result stays in columns
(:class:`Advisories`) until :class:`api.encode.Encoder` writes it as JSON.  No band logic lives
here.

:class:`MicroBatcher` answers concurrent single advisories together: a request waits while the
previous group is being computed (and optionally ``window`` longer), then the whole group goes
through one vectorised call in a worker thread.  The core's per-call overhead (a few hundred µs of
numpy dispatch, whatever N) is paid once per group instead of once per request, and the event
loop never runs the computation itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenwave.advice import PLAN_FIELDS, advise, record_columns
from greenwave.bands import NO_SIGNAL
from greenwave.bands import STATUS_NAMES as CORE_STATUS_NAMES
from greenwave.mapmatch import NO_ROAD, MapMatcher
from greenwave.messages import round_distance_m
from greenwave.network import World
from greenwave.units import kmh_to_ms

from .columns import BatchParser, Vehicles
from .encode import Encoder, iso_column
from .schemas import iso
from .state import TimingStore

OFF_NETWORK = len(CORE_STATUS_NAMES)
"""Status code of a vehicle not matched to the network (after the core's codes)."""
STATUS_NAMES = (*CORE_STATUS_NAMES, "off_network")

OFF_NETWORK_MESSAGE = {
    "zh": "当前位置不在路网上,暂无车速建议",
    "en": "Position is not on a mapped road: no speed advice",
}


@dataclass(frozen=True)
class Advisories:
    """The advisories of N vehicles as columns (the fields of :class:`api.schemas.Advisory`).

    Attributes
    ----------
    status : (N,) int64, code into :data:`STATUS_NAMES`
    reason : list of N str or None
    vehicle_id : list of N str or None
    link : (N,) int64, matched link, -1 off the network
    offset_m, lateral_m : (N,) float64 (NaN: null)
    snapped_lat, snapped_lon : (N,) float64, NaN off the network
    intersection : (N,) int64, next signalised intersection, -1 when none
    distance_m : (N,) float64, to the next stop line (NaN: none)
    signal_state : (N,) int64, ``timing.STATE_NAMES`` index, -1 when no signal
    time_to_change_s, time_to_change_min_s, time_to_change_max_s : (N,) float64
    band_min_kmh, band_max_kmh : (N,) float64, no band where ``band_min_kmh`` is NaN
    option_min_kmh, option_max_kmh : (N, K) float64, option ``j`` (green through ``j + 1``
        stop lines) exists where ``option_min_kmh[:, j]`` is not NaN
    message : (N,) int64, index into ``messages`` (distinct ``{"zh", "en"}`` dicts)
    plan_kind : (N,) int64, ``greenwave.plans.PLAN_NAMES`` index (0, ``none``: no plan, also off
        the network and beyond ``range_m``)
    plan : dict of (N,) float64 by field of :data:`greenwave.advice.PLAN_FIELDS` (``hold_kmh``,
        ...; NaN: null, and NaN for every field where ``plan_kind`` is 0)
    timestamp : list of N str, time each advisory is for (ISO 8601)
    valid_for_s : float
    generated_at : str
    """

    status: np.ndarray
    reason: list
    vehicle_id: list
    link: np.ndarray
    offset_m: np.ndarray
    lateral_m: np.ndarray
    snapped_lat: np.ndarray
    snapped_lon: np.ndarray
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
    plan: dict
    timestamp: list
    valid_for_s: float
    generated_at: str

    def status_counts(self) -> dict[str, int]:
        counts = np.bincount(self.status, minlength=len(STATUS_NAMES)).tolist()
        return {name: c for name, c in zip(STATUS_NAMES, counts, strict=True) if c}


class Advisor:
    """Everything needed to answer advisories, built once per worker.

    Parameters
    ----------
    world : World
    store : TimingStore, source of the timing in force (read once per call)
    radius_m, heading_tol_deg : map matching (see :mod:`greenwave.mapmatch`)
    range_m : float, no band for a stop line farther than this
    valid_for_s : float, ``valid_for_s`` of every advisory
    max_batch : int, largest batch request (see :class:`api.columns.BatchParser`)
    """

    def __init__(
        self,
        world: World,
        store: TimingStore,
        radius_m: float,
        heading_tol_deg: float,
        range_m: float,
        valid_for_s: float,
        max_batch: int = 10_000,
    ):
        self.world = world
        self.network = net = world.network
        self.store = store
        self.params = world.scenario.band_params()
        self.ahead = world.scenario.advisory.intersections_ahead
        self.matcher = MapMatcher(net, radius_m, heading_tol_deg)
        self.range_m = float(range_m)
        self.valid_for_s = float(valid_for_s)
        self.parse_batch = BatchParser(net, max_batch)
        self.encoder = Encoder(net, STATUS_NAMES)

    # ------------------------------------------------------------------ entry points
    def from_requests(self, reqs: Sequence[dict], now_s: float | Sequence[float]) -> Advisories:
        """Advisories for validated request dicts (:data:`api.schemas.ADVISORY`), in order.

        ``now_s`` is the server time of the requests (one value, or one per request): the time
        of a request without ``timestamp`` and the ``generated_at`` of all.
        """
        if isinstance(now_s, (int, float)):
            now_s = [now_s] * len(reqs)
        now_l = list(now_s)
        v = Vehicles.from_requests(reqs, now_l, self.network)
        return self.compute(v, max(now_l, default=time.time()))

    def compute_json(self, items: Sequence[tuple[dict, float]]) -> list[bytes]:
        """``(request, arrival time)`` pairs → each advisory encoded as JSON (micro-batcher)."""
        adv = self.from_requests([it[0] for it in items], [it[1] for it in items])
        return self.encoder.items(adv)

    def compute(self, v: Vehicles, now_s: float) -> Advisories:
        """Advisories for N vehicles given as columns; ``now_s`` is the generation time."""
        net = self.network
        timing = self.store.timing  # one reference: one consistent timing for the whole call
        n = len(v)
        nan = np.nan
        link = v.link.copy()
        offset = v.offset_m.copy()
        lateral = np.full(n, nan)
        code = np.zeros(n, dtype=np.int8)
        near_brg = np.full(n, nan)
        snap_lon, snap_lat = np.full(n, nan), np.full(n, nan)
        gps = np.flatnonzero(link < 0)
        if gps.size:
            m = self.matcher.match(v.lon[gps], v.lat[gps], v.heading_deg[gps])
            link[gps] = m.link
            offset[gps] = m.offset_m
            lateral[gps] = m.lateral_m
            code[gps] = m.code
            near_brg[gps] = m.nearest_bearing_deg
            snap_lon[gps], snap_lat[gps] = m.lon, m.lat
        lk = np.flatnonzero(v.link >= 0)
        if lk.size:
            snap_lon[lk], snap_lat[lk], _ = self.matcher.locate(link[lk], offset[lk])

        messages = [OFF_NETWORK_MESSAGE]
        on = np.flatnonzero(link >= 0)
        if on.size:
            adv = advise(
                net,
                timing,
                self.params,
                link[on],
                offset[on],
                kmh_to_ms(v.speed_kmh[on]),
                v.t_s[on],
                self.ahead,
            )
            c = record_columns(adv, net, timing, v.t_s[on], self.params, self.ahead)
            has = c.has_signal

            def put(values, fill):  # on-network rows → all rows (no copy when all are on)
                if on.size == n:
                    return values
                out = np.full((n, *values.shape[1:]), fill, dtype=values.dtype)
                out[on] = values
                return out

            status = put(c.status.astype(np.int64), OFF_NETWORK)
            reason = put(np.array(c.reason, dtype=object)[c.status], None)
            inter = put(np.where(has, c.intersection, -1), -1)
            state = put(np.where(has, c.signal_state, -1), -1)
            ttc = put(np.where(has, c.time_to_change_s, nan), nan)
            ttc_min = put(np.where(has, c.time_to_change_min_s, nan), nan)
            ttc_max = put(np.where(has, c.time_to_change_max_s, nan), nan)
            dist = put(c.distance_m, nan)
            band_lo, band_hi = put(c.band_min_kmh, nan), put(c.band_max_kmh, nan)
            opt_lo, opt_hi = put(c.option_min_kmh, nan), put(c.option_max_kmh, nan)
            message = put(c.message + len(messages), 0)
            messages.extend(c.messages)
            plan_kind = put(c.plan_kind.astype(np.int64), 0)
            plan = {k: put(getattr(c, "plan_" + k), nan) for k in PLAN_FIELDS}
            with np.errstate(invalid="ignore"):
                far = on[c.distance_m > self.range_m]
            if far.size:
                band_lo, band_hi, opt_lo, opt_hi = (
                    band_lo.copy(),
                    band_hi.copy(),
                    opt_lo.copy(),
                    opt_hi.copy(),
                )
                self._beyond_range(
                    far, dist, status, reason, band_lo, band_hi, opt_lo, opt_hi, message, messages
                )
                # No plan either: it rests on the same signal prediction as the band.
                plan_kind = plan_kind.copy()
                plan_kind[far] = 0
                plan = {k: col.copy() for k, col in plan.items()}
                for col in plan.values():
                    col[far] = nan
        else:
            status = np.full(n, OFF_NETWORK, dtype=np.int64)
            reason = np.full(n, None, dtype=object)
            inter, state = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
            dist = ttc = ttc_min = ttc_max = band_lo = band_hi = np.full(n, nan)
            opt_lo = opt_hi = np.full((n, 0), nan)
            message = np.zeros(n, dtype=np.int64)
            plan_kind = np.zeros(n, dtype=np.int64)
            plan = {k: np.full(n, nan) for k in PLAN_FIELDS}
        off = np.flatnonzero(link < 0)
        for i in off.tolist():
            reason[i] = self._off_reason(code[i], v.heading_deg[i], near_brg[i])
        link[off] = -1
        offset[off] = nan

        return Advisories(
            status=status,
            reason=reason.tolist(),
            vehicle_id=v.vehicle_id,
            link=link,
            offset_m=offset,
            lateral_m=lateral,
            snapped_lat=snap_lat,
            snapped_lon=snap_lon,
            intersection=inter,
            distance_m=dist,
            signal_state=state,
            time_to_change_s=ttc,
            time_to_change_min_s=ttc_min,
            time_to_change_max_s=ttc_max,
            band_min_kmh=band_lo,
            band_max_kmh=band_hi,
            option_min_kmh=opt_lo,
            option_max_kmh=opt_hi,
            message=message,
            messages=messages,
            plan_kind=plan_kind,
            plan=plan,
            timestamp=iso_column(v.t_s),
            valid_for_s=self.valid_for_s,
            generated_at=iso(now_s),
        )

    # ------------------------------------------------------------------ helpers
    def _beyond_range(
        self, far, dist, status, reason, band_lo, band_hi, opt_lo, opt_hi, message, messages
    ) -> None:
        """No band for a stop line beyond ``range_m``: say how far it is instead."""
        rng = f"{self.range_m:g}"
        status[far] = NO_SIGNAL
        band_lo[far] = band_hi[far] = np.nan
        opt_lo[far] = opt_hi[far] = np.nan
        spoken: dict[int, int] = {}
        for i, d_m in zip(far.tolist(), dist[far].tolist(), strict=True):
            reason[i] = (
                f"the next stop line is {d_m:.0f} m ahead, beyond the advisory range of {rng} m"
            )
            d = round_distance_m(d_m)
            j = spoken.get(d)
            if j is None:
                j = spoken[d] = len(messages)
                messages.append(
                    {
                        "zh": f"距离前方路口{d}米,进入{rng}米范围后提供绿波车速",
                        "en": f"{d} m to the next intersection: speed advice starts within {rng} m",
                    }
                )
            message[i] = j

    def _off_reason(self, code, heading, bearing) -> str:
        radius = f"{self.matcher.radius_m:g}"
        if code == NO_ROAD:
            return f"no road within {radius} m of the position"
        return (
            f"no road within {radius} m runs in the direction of travel (heading "
            f"{heading:.0f}°; the nearest runs {bearing:.0f}°)"
        )


class MicroBatcher:
    """Group concurrent calls of ``fn(items) -> results`` into one call per group.

    ``await submit(item)`` returns ``fn([... item ...])[its index]``.  While a group is being
    computed (in a one-thread executor: off the event loop, one group at a time) new items
    queue up and form the next group; ``window_s`` > 0 additionally waits that long before
    starting a group.  At most ``max_items`` per group.
    """

    def __init__(self, fn: Callable[[list], list], window_s: float = 0.0, max_items: int = 512):
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
                    results = await loop.run_in_executor(
                        self._executor, self.fn, [g[0] for g in group]
                    )
                except Exception as exc:  # reported to every waiting request
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), res in zip(group, results, strict=True):
                    if not fut.done():
                        fut.set_result(res)
        finally:
            self._task = None

    def close(self):
        self._executor.shutdown(wait=False, cancel_futures=True)
