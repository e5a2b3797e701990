"""Position → advisory, for one vehicle or ten thousand, through one core call.

:class:`Advisor` takes vehicles as columns (:class:`api.columns.Vehicles`), map-matches the GPS
fixes (:class:`greenwave.mapmatch.MapMatcher`), calls :func:`greenwave.advice.advise` and
:func:`greenwave.messages.record_columns` once for all vehicles, and adds the service's fields
(matched link, snapped position, speed limit, validity, times).  The result stays in columns
(:class:`api.advisories.Advisories`) until :class:`api.encode.Encoder` writes it as JSON.  No band
logic lives here.

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

from greenwave.advice import advise, too_fast_to_turn
from greenwave.bands import NO_SIGNAL, STOP
from greenwave.mapmatch import NO_ROAD, MapMatcher
from greenwave.messages import record_columns, round_distance_m
from greenwave.movements import THROUGH, TURN_NAMES
from greenwave.network import World
from greenwave.plans import NONE
from greenwave.units import kmh_to_ms, ms_to_kmh

from .advisories import STATUS_NAMES, Advisories, scatter
from .columns import BatchParser, Vehicles
from .encode import Encoder, iso_column
from .schemas import iso
from .state import TimingStore

TURN_NOT_AVAILABLE = "turn_not_available"
"""Error type of a ``turn`` the approach at the vehicle's position has no movement for."""

ROAD_MARGIN_M = 10.0
"""Added to a fix's reported accuracy to get its search radius (m): the accuracy bounds the
distance to the true position, which lies up to about half a road's width (a multi-lane arterial
with a median) from the centre line the network stores."""


@dataclass(frozen=True)
class Refusal:
    """A vehicle refused after map matching (422): its ``turn`` is no movement of the approach
    at its position.  :meth:`Advisor.compute_json` answers it instead of the advisory."""

    msg: str

    def errors(self, *loc: str | int) -> list[dict[str, Any]]:
        """The 422 items, ``loc`` being the path of the vehicle in the body."""
        return [{"loc": [*loc, "turn"], "msg": self.msg, "type": TURN_NOT_AVAILABLE}]


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
        self.wide_matcher: MapMatcher | None = None  # for fixes of poor accuracy
        self.max_radius_m = float(radius_m)
        self.range_m = float(range_m)
        self.valid_for_s = float(valid_for_s)
        self.parse_batch = BatchParser(net, max_batch)
        group_ids = [gid for _, gid in world.timing.plans.group_keys]
        self.encoder = Encoder(net, STATUS_NAMES, group_ids)

    def set_max_radius(self, max_radius_m: float) -> None:
        """Let fixes that report a poor ``accuracy_m`` be matched up to ``max_radius_m`` from
        their road (see :meth:`match_radius`); builds a second grid index with that radius."""
        self.max_radius_m = max(float(max_radius_m), self.matcher.radius_m)
        if self.max_radius_m > self.matcher.radius_m:
            m = self.matcher
            self.wide_matcher = MapMatcher(self.network, self.max_radius_m, m.heading_tol_deg)
        else:
            self.wide_matcher = None

    def match_radius(self, accuracy_m: np.ndarray) -> np.ndarray:
        """Search radius of each fix (m): ``accuracy_m`` + :data:`ROAD_MARGIN_M`, at least the
        match radius and at most :attr:`max_radius_m`; the match radius where the accuracy is
        unknown (NaN).  ``accuracy_m`` : (N,) float64."""
        r = np.clip(accuracy_m + ROAD_MARGIN_M, self.matcher.radius_m, self.max_radius_m)
        return np.where(np.isnan(r), self.matcher.radius_m, r)

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

    def compute_json(self, items: Sequence[tuple[dict, float]]) -> list[bytes | Refusal]:
        """``(request, arrival time)`` pairs → each advisory encoded as JSON, or its
        :class:`Refusal` (micro-batcher)."""
        return self.items(self.from_requests([it[0] for it in items], [it[1] for it in items]))

    def items(self, adv: Advisories) -> list[bytes | Refusal]:
        """Each advisory encoded as JSON (:meth:`api.encode.Encoder.items`), a refused
        vehicle's :class:`Refusal` in its place."""
        out: list[bytes | Refusal] = list(self.encoder.items(adv))
        for i, why in adv.refused.items():
            out[i] = Refusal(why)
        return out

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
        radius = np.full(n, self.matcher.radius_m)
        gps = np.flatnonzero(link < 0)
        if gps.size:
            radius[gps] = self.match_radius(v.accuracy_m[gps])
            wide = radius[gps] > self.matcher.radius_m
            for rows, matcher in ((gps[~wide], self.matcher), (gps[wide], self.wide_matcher)):
                if rows.size == 0 or matcher is None:
                    continue
                m = matcher.match(v.lon[rows], v.lat[rows], v.heading_deg[rows])
                mcode, mlink = m.code, m.link
                if matcher is self.wide_matcher:
                    # Searched up to max_radius_m: keep what lies within each fix's radius.
                    beyond = m.lateral_m > radius[rows]
                    mcode = np.where(beyond, NO_ROAD, mcode)
                    mlink = np.where(beyond, -1, mlink)
                link[rows] = mlink
                offset[rows] = np.where(mlink >= 0, m.offset_m, nan)
                lateral[rows] = m.lateral_m
                code[rows] = mcode
                near_brg[rows] = m.nearest_bearing_deg
                snap_lon[rows] = np.where(mlink >= 0, m.lon, nan)
                snap_lat[rows] = np.where(mlink >= 0, m.lat, nan)
        lk = np.flatnonzero(v.link >= 0)
        if lk.size:
            snap_lon[lk], snap_lat[lk], _ = self.matcher.locate(link[lk], offset[lk])

        on = np.flatnonzero(link >= 0)
        turn, refused = self._turns(v.turn, link, on)
        adv = advise(
            net,
            timing,
            self.params,
            link[on],
            offset[on],
            kmh_to_ms(v.speed_kmh[on]),
            v.t_s[on],
            self.ahead,
            turn=turn,
        )
        cols = scatter(record_columns(adv, net, timing, v.t_s[on], self.params, self.ahead), on, n)
        group = np.full(n, -1, dtype=np.int64)
        if on.size:
            group[on] = adv.group[:, 0]
        if turn is not None:
            self._turn_reasons(adv, on, cols, kmh_to_ms(v.speed_kmh[on]))
        with np.errstate(invalid="ignore"):
            far = on[cols["distance_m"][on] > self.range_m]
        if far.size:
            self._beyond_range(far, cols)
        off = np.flatnonzero(link < 0)
        for i in off.tolist():
            cols["reason"][i] = self._off_reason(code[i], v.heading_deg[i], near_brg[i], radius[i])
        link[off] = -1
        offset[off] = nan
        return Advisories(
            **cols,
            vehicle_id=v.vehicle_id,
            link=link,
            offset_m=offset,
            lateral_m=lateral,
            snapped_lat=snap_lat,
            snapped_lon=snap_lon,
            timestamp=iso_column(v.t_s),
            valid_for_s=self.valid_for_s,
            generated_at=iso(now_s),
            turn=v.turn,
            signal_group=group,
            refused=refused,
        )

    # ------------------------------------------------------------------ helpers
    def _turns(
        self, turn: np.ndarray, link: np.ndarray, on: np.ndarray
    ) -> tuple[np.ndarray | None, dict[int, str]]:
        """The turns of the vehicles ``on`` the network for :func:`advise` (None when all go
        straight on), and the refused ones: row → why (a turn the approach at the matched
        position has no movement for; advised straight on, and not sent)."""
        if not (turn[on] != THROUGH).any():
            return None, {}
        net = self.network
        t = turn[on].astype(np.int64)
        approach, movement = net.movement_ahead(link[on], t)
        bad = np.flatnonzero((t != THROUGH) & (approach >= 0) & (movement < 0))
        refused = {}
        for k in bad.tolist():
            a = int(approach[k])
            i = int(net.link_intersection[a])
            refused[int(on[k])] = (
                f"no {TURN_NAMES[t[k]]} turn at the next intersection '{net.intersection_ids[i]}'"
                f" ({net.intersection_names[i]}) from approach '{net.link_ids[a]}'; the "
                f"movements there: {net.movements.describe(a, net.link_ids)}"
            )
        t[bad] = THROUGH
        return t, refused

    def _turn_reasons(self, adv, on: np.ndarray, cols: dict, speed_ms: np.ndarray) -> None:
        """Say why a turner has no band when it is too close (or too fast) to slow down to its
        turn speed at the comfortable deceleration: a band is what may be held now and still
        braked into the turn (:func:`greenwave.advice.turn_band_limits`).  Changes
        ``cols["reason"]`` (a list of this call's)."""
        p = self.params
        mv = adv.movement
        turn_ms = self.network.movements.turn_speed_ms[np.maximum(mv, 0)]
        d = np.nan_to_num(adv.dist_m[:, 0], nan=np.inf)
        slow = (mv >= 0) & (adv.bands.status[:, 0] == STOP)
        slow &= turn_ms < p.band_min_ms + p.min_width_ms
        slow &= too_fast_to_turn(d, speed_ms, turn_ms, p.decel_ms2)
        if not slow.any():
            return
        reason = cols["reason"]
        turns = self.network.movements.turn
        for k in np.flatnonzero(slow).tolist():
            reason[int(on[k])] = (
                f"the {TURN_NAMES[turns[mv[k]]]} turn is taken at up to "
                f"{ms_to_kmh(turn_ms[k]):.0f} km/h: too close to slow down to it at "
                f"{p.decel_ms2:g} m/s², and no speed of the advisory band "
                f"({ms_to_kmh(p.band_min_ms):g} km/h and up) is slow enough to cross it"
            )

    def _beyond_range(self, far: np.ndarray, cols: dict) -> None:
        """No band, option or plan for a stop line beyond ``range_m`` (they rest on the signal
        prediction there): say how far it is instead.  Changes ``cols`` (copies its arrays
        first: they may be the core's)."""
        rng = f"{self.range_m:g}"
        for k in ("status", "band_min_kmh", "band_max_kmh", "option_min_kmh", "option_max_kmh"):
            cols[k] = cols[k].copy()
        for k in ("message", "plan_kind"):
            cols[k] = cols[k].copy()
        cols["plan"] = {k: col.copy() for k, col in cols["plan"].items()}
        cols["messages"] = messages = list(cols["messages"])
        cols["status"][far] = NO_SIGNAL
        for k in ("band_min_kmh", "band_max_kmh", "option_min_kmh", "option_max_kmh"):
            cols[k][far] = np.nan
        cols["plan_kind"][far] = NONE
        for col in cols["plan"].values():
            col[far] = np.nan
        reason, message, dist = cols["reason"], cols["message"], cols["distance_m"]
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

    def _off_reason(self, code, heading, bearing, radius_m=None) -> str:
        radius = f"{self.matcher.radius_m if radius_m is None else radius_m:g}"
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
