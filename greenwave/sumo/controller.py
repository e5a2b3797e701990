"""Greenwave's advice for equipped vehicles inside SUMO (libsumo, fallback TraCI).

:class:`GlosaController` runs next to a SUMO simulation of a scenario exported by
:func:`greenwave.sumo.export.export_sumo` (edge ids and lengths are the links', SUMO second ``t``
is the time ``epoch + t``) and does for SUMO's vehicles what :mod:`sim.engine` does for its own:

* every ``advisory.update_interval_s``, equipped, complying vehicles within ``advisory.range_m``
  of their next stop line are mapped to ``(link index, offset along the link)`` and
  :func:`greenwave.advice.advise` is called for all of them at once; the target is the driver's
  own desired speed clipped into the joint band they take
  (:meth:`greenwave.bands.Bands.choose_joint`, as the engine), effective after
  ``drivers.reaction_s``;
* a vehicle with a target is steered towards it with ``vehicle.setSpeed`` at the advisory's
  rates (``advisory.accel_ms2`` / ``decel_ms2``), SUMO's safe speed still on top; losing the
  target releases it (``setSpeed(id, -1)``).

Driver behaviours, each a switch of :class:`GlosaController` (off for comparison in
``benchmarks/glosa_vs_sumo.py --ablation``): ``trust_red`` (no braking for a red light that
turns green before arrival, via speed mode bit 4, only while the vehicle cannot cross on red),
``release_queued`` (queued vehicles and close followers of slower leaders follow SUMO's car
following) and ``raise_speed_factor`` (SUMO's desired speed at least 1.5 × the target).

Also :func:`equipped_ids` (drawn per vehicle from ``(seed, crc32(id))``: nested across
penetrations, and can be handed to SUMO's own device); runs are :func:`greenwave.sumo.runner.
run_sumo`, trip output :mod:`greenwave.sumo.tripinfo`.
With ``check_red`` every stop-line crossing is checked against the signal
(:attr:`GlosaController.red_crossings`).  SI units (m, s, m/s).

Derivations and history: docs/sumo_bridge.md.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from greenwave.advice import advise
from greenwave.bands import JAM_SPACING_M, queue_discharge_delay_s
from greenwave.movements import THROUGH
from greenwave.network import World
from greenwave.sim.driver import (
    QUEUE_SPEED_MS,
    commands,
    follows_leader,
    past_discharging_line_m,
    queued_ahead,
    queued_on_links,
    reaction_times,
    release_queued,
)
from greenwave.sim.engine import Routes, schedule_targets
from greenwave.timing import GREEN, RED


def equip_draws(seed: int, vid: str) -> tuple[float, float]:
    """Uniform draws ``(u_equip, u_comply)`` of one vehicle, from a generator seeded with
    ``(seed, crc32(id))``: the same vehicle gets the same draws at every penetration."""
    rng = np.random.default_rng([int(seed), zlib.crc32(vid.encode())])
    u = rng.random(2)
    return float(u[0]), float(u[1])


def equipped_ids(candidates, seed: int, penetration: float) -> list[str]:
    """The vehicle ids among ``candidates`` that are equipped at ``penetration``."""
    return [v for v in candidates if equip_draws(seed, v)[0] < penetration]


def flow_vehicle_ids(routes: Path, max_per_flow: int) -> list[str]:
    """Ids SUMO gives the vehicles of every ``<flow>`` in a routes file (``flowid.N``)."""
    root = ET.parse(routes).getroot()
    return [f"{f.get('id')}.{k}" for f in root.iter("flow") for k in range(max_per_flow)]


SPEED_MODE_DEFAULT = 31  # SUMO's default speed mode: all checks on

SPEED_MODE_TRUST = 31 & ~16  # bit 4 off: the red light is no reason to brake (docs/sumo_bridge.md)

TRUST_MARGIN_S = 1.0  # trust a red that turns green >= 1 s before arrival (sim.engine)

GREEN_GRACE_S = 1.0  # keep trusting 1 s into the green (SUMO switches at the step boundary)

STOP_MARGIN_M = 2.0  # a re-armed stop must end this far before the line (SUMO stops 1 m short)

TRUST_REACH_MARGIN_S = 1.0  # "cannot reach the line before green": with 1 s to spare

TLS_MIN_DECEL_MS2 = 3.0  # SUMO's --tls.yellow.min-decel default (its braking at a changing light)


TRUST_HORIZONS_S = (2.0, 1.0)  # a trusted red is re-checked after these if surely still fine

CRUISE_V0 = 1.5  # SUMO's desired speed while a target is steered: at least 1.5 × the target

CRUISE_V0_RANGE = (1.3, 2.0)  # ... kept unchanged while inside this range (× the target)


@dataclass
class AdviceLog:
    """What the controller did (for tests and benchmarks)."""

    advice_calls: int = 0
    advised: int = 0  # vehicle-updates with a band
    released: int = 0  # setSpeed(id, -1) calls
    queue_releases: int = 0  # vehicles released because they queued before a stop line
    following: int = 0  # vehicle-updates released behind a slower leader
    speed_factor_raised: int = 0  # setSpeedFactor calls above the driver's own factor
    trusted: int = 0  # red lights trusted (speed mode bit 4 off)
    trust_kept_to_green: int = 0  # ... until the light turned green
    trust_rearmed: int = 0  # ... re-armed while still red (SUMO's red-light stop back on)
    held: int = 0  # vehicle-updates on which "prepare to stop" kept the last advice
    # Per vehicle-update with a band (when recording): time, vehicle, band and target chosen.
    records: list[tuple[float, str, float, float, float]] = field(default_factory=list)
    # Per update and vehicle with an active, steered target (when recording): time, vehicle,
    # speed, target.
    tracking: list[tuple[float, str, float, float]] = field(default_factory=list)
    # Per trusted red light (when recording): time trusted, vehicle, lane, distance to the line,
    # speed, seconds to green; and when it ended: time, distance, speed, still red.
    trust_events: list[tuple] = field(default_factory=list)


class GlosaController:
    """Greenwave's advisory for equipped SUMO vehicles (see the module docstring).

    Parameters
    ----------
    world : World
        The scenario the SUMO network was exported from.
    api : module
        ``libsumo`` or ``traci``, already started.
    seed : int
        Seed of the equipment draws.
    penetration, compliance : float, optional
        Default: the scenario's ``advisory.penetration`` and ``drivers.compliance``.
    update_s, range_m : float, optional
        Default: the scenario's ``advisory.update_interval_s`` and ``range_m``.
    reaction_s : float, optional
        Default: the scenario's ``drivers.reaction_s``.
    steer_accel_ms2, steer_decel_ms2 : float, optional
        Rates of the speed changes towards the target (default: the advisory's ``accel_ms2`` /
        ``decel_ms2``, as the engine; the bands assume those).
    trust_red : bool
        Advised vehicles do not brake for a red light that turns green before they arrive
        (SUMO speed mode bit 4 off while they cannot cross on red; see docs/sumo_bridge.md).
    release_queued : bool
        Vehicles queued before a stop line (until they have crossed it), and vehicles close
        behind a leader slower than their target, follow SUMO's car following.
    raise_speed_factor : bool
        While a target is steered, SUMO's desired speed is raised to at least 1.5 × the
        target (speed factor), so targets above the driver's own desired speed can be reached
        and IDM's free-road term does not hold the vehicle below its target behind a distant
        leader; the command still caps the speed at the target.
    max_signals, min_speed_ratio, hold_on_stop : optional
        The driver's choice among the joint bands and what they do on "prepare to stop"
        (default: the scenario's ``drivers.option_max_signals`` (pass ``None`` for all),
        ``option_min_speed_ratio`` and ``hold_on_stop``, as :mod:`sim.engine`;
        :meth:`greenwave.bands.Bands.choose_joint`).
    policy : {"plan", "band"}, optional
        How drivers use the advice (default: the scenario's ``drivers.policy``), the same
        function as the engine's drivers (:func:`greenwave.sim.driver.commands`): follow the
        approach plan (slow down, speed up again, cross at cruise speed; eco-approach) or hold
        one speed of the band to the line.
    check_red : bool
        Check every stop-line crossing against the signal (:attr:`red_crossings`).
    record : bool
        Keep every advice, steering command and trusted red light in :attr:`log`.
    """

    # Per-vehicle slot arrays, (cap,), allocated by _alloc.
    alive: np.ndarray
    complies: np.ndarray
    target: np.ndarray
    pend_v: np.ndarray
    pend_t: np.ndarray
    hold: np.ndarray
    then_v: np.ndarray
    then_t: np.ndarray
    plan_id: np.ndarray
    ramping: np.ndarray
    ramp_v0: np.ndarray
    ramp_t0: np.ndarray
    prev_link: np.ndarray
    stop_k: np.ndarray
    adv_until: np.ndarray
    sf0: np.ndarray
    sf: np.ndarray
    vmax: np.ndarray
    accel: np.ndarray
    decel: np.ndarray
    stop_decel: np.ndarray
    lane_vmax: np.ndarray
    queued_until: np.ndarray
    following: np.ndarray
    trusted: np.ndarray
    green_at: np.ndarray
    trust_next: np.ndarray

    HOLD_MS = 0.05  # within this of the target, hold it with setSpeed instead of ramping

    def __init__(
        self,
        world: World,
        api,
        *,
        seed: int,
        penetration=None,
        compliance=None,
        update_s=None,
        range_m=None,
        reaction_s=None,
        steer_accel_ms2=None,
        steer_decel_ms2=None,
        trust_red: bool = True,
        release_queued: bool = True,
        raise_speed_factor: bool = True,
        max_signals=-1,
        min_speed_ratio=None,
        hold_on_stop=None,
        policy=None,
        check_red: bool = True,
        record: bool = False,
    ):
        sc = world.scenario
        self.world = world
        self.net = world.network
        self.timing = world.timing
        self.api = api
        self.seed = int(seed)
        adv = sc.advisory
        self.adv = adv
        self.params = sc.band_params()
        self.penetration = float(adv.penetration if penetration is None else penetration)
        self.compliance = float(sc.drivers.compliance if compliance is None else compliance)
        self.update_s = float(adv.update_interval_s if update_s is None else update_s)
        self.range_m = float(adv.range_m if range_m is None else range_m)
        self.reaction_s = float(sc.drivers.reaction_s if reaction_s is None else reaction_s)
        self.m = int(adv.intersections_ahead)
        self.advise_turners = bool(adv.advise_turners)
        self.acc = float(self.params.accel_ms2 if steer_accel_ms2 is None else steer_accel_ms2)
        self.dec = float(self.params.decel_ms2 if steer_decel_ms2 is None else steer_decel_ms2)
        self.trust_red = bool(trust_red)
        self.release_queued = bool(release_queued)
        self.raise_speed_factor = bool(raise_speed_factor)
        drv = sc.drivers
        self.max_signals = drv.option_max_signals if max_signals == -1 else max_signals
        self.min_speed_ratio = float(
            drv.option_min_speed_ratio if min_speed_ratio is None else min_speed_ratio
        )
        self.hold_on_stop = bool(drv.hold_on_stop if hold_on_stop is None else hold_on_stop)
        self.policy = drv.policy if policy is None else policy
        self.s0 = float(drv.min_gap_m)
        self.length = float(drv.length_m)
        self.headway = float(drv.time_headway_s)
        self.epoch = world.epoch_s
        self.check_red = check_red
        self.record = record
        self.log = AdviceLog()
        self.red_crossings = 0
        self.red_crossing_ids: list[tuple[float, str, str]] = []
        self.crossings = 0
        self.crossings_by_state: dict[int, int] = {}  # signal state at the interval's start
        self.equipped_seen: dict[str, bool] = {}  # every departed vehicle: equipped?
        self._next_update = 0.0
        self._t_prev: float | None = None
        self.dt = float(api.simulation.getDeltaT())
        self._link = dict(self.net.link_index)
        # Movements by (from link, to link) code, sorted: a crossing's signal is its movement's
        # group (a protected left turn runs on its own group, not on the approach's).
        mv = self.net.movements
        codes = mv.from_link * self.net.n_links + mv.to_link
        order = np.argsort(codes, kind="stable")
        self._mv_codes, self._mv_group = codes[order], mv.group[order]
        # With turns, advice covers the stop lines of the path it was given for, as in the
        # simulator: per slot the (turn, stop lines on the advice's path, approach link) of the
        # next stop line seen from each link of its route (None: no route information).
        self._turning = bool(np.any(mv.turn != THROUGH))
        self._route_info: dict[int, dict[int, tuple[int, int, int]] | None] = {}
        self._route_cache: dict[tuple[str, ...], dict[int, tuple[int, int, int]] | None] = {}
        self._lane_link: dict[str, int] = {}  # SUMO lane id → link index (-1: unknown)
        self._lane_len: dict[str, float] = {}
        # Beyond a lane's end, how far its next stop line is (m): 0 on an approach lane; on a
        # junction-internal lane the rest of the junction and the link it leads onto.
        self._lane_rest: dict[str, float] = {}
        self._lane_vmax: dict[str, float] = {}
        self._trust_lane: dict[int, str] = {}  # slot → lane on which its red is trusted
        # Per-vehicle state in slots (a free list reuses them), as in sim.engine.
        self.slot: dict[str, int] = {}
        self.slot_id: list[str] = []
        self.free: list[int] = []
        self.cap = 0
        self.hw = 0
        self._alloc(256)

    def _alloc(self, cap):
        old = self.cap
        for name, fill, dtype in (
            ("alive", False, bool),
            ("complies", False, bool),
            ("target", np.nan, float),
            ("pend_v", np.nan, float),
            ("pend_t", np.inf, float),
            ("hold", np.nan, float),
            ("then_v", np.nan, float),
            ("then_t", np.inf, float),
            ("plan_id", np.nan, float),
            ("ramping", False, bool),
            ("ramp_v0", np.nan, float),
            ("ramp_t0", np.nan, float),
            ("prev_link", -1, np.int64),
            ("stop_k", 0, np.int64),
            ("adv_until", 0, np.int64),
            ("sf0", 1.0, float),
            ("sf", 1.0, float),
            ("vmax", np.inf, float),
            ("accel", 0.0, float),
            ("decel", 1.0, float),
            ("stop_decel", 3.0, float),
            ("lane_vmax", np.nan, float),
            ("queued_until", -1, np.int64),
            ("following", False, bool),
            ("trusted", False, bool),
            ("green_at", np.nan, float),
            ("trust_next", 0.0, float),
        ):
            arr = np.full(cap, fill, dtype=dtype)
            if old:
                arr[:old] = getattr(self, name)
            setattr(self, name, arr)
        self.slot_id += [""] * (cap - old)
        self.cap = cap

    def _new_slot(self, vid: str) -> None:
        if self.free:
            k = self.free.pop()
        else:
            if self.hw >= self.cap:
                self._alloc(self.cap * 2)
            k = self.hw
            self.hw += 1
        ue, uc = equip_draws(self.seed, vid)
        eq = ue < self.penetration
        self.equipped_seen[vid] = eq
        self.alive[k] = True
        self.complies[k] = eq and uc < self.compliance
        self.target[k] = self.pend_v[k] = self.hold[k] = self.then_v[k] = np.nan
        self.plan_id[k] = np.nan
        self.pend_t[k] = self.then_t[k] = np.inf
        self.ramping[k] = False
        self.prev_link[k] = -1
        self.stop_k[k] = self.adv_until[k] = 0  # signalised stop lines passed / advice valid to
        self.queued_until[k] = -1
        self.following[k] = self.trusted[k] = False
        self.green_at[k] = np.nan
        self.lane_vmax[k] = np.nan
        if self.complies[k]:
            veh = self.api.vehicle
            if self._turning:
                self._route_info[k] = self._stops_along(tuple(veh.getRoute(vid)))
            self.sf0[k] = self.sf[k] = veh.getSpeedFactor(vid)
            self.vmax[k] = veh.getMaxSpeed(vid)
            self.accel[k] = veh.getAccel(vid)
            self.decel[k] = veh.getDecel(vid)
            # SUMO's deceleration for a yellow/red light: max(min(3, emergencyDecel), decel).
            self.stop_decel[k] = max(
                min(TLS_MIN_DECEL_MS2, veh.getEmergencyDecel(vid)), self.decel[k]
            )
        self.slot[vid] = k
        self.slot_id[k] = vid

    def _stops_along(self, edges: tuple[str, ...]) -> dict[int, tuple[int, int, int]] | None:
        """For a route (SUMO edge ids): link index → (turn at the next signalised stop line,
        stop lines from that one on that the advice's path shares with the route, the link
        ending at that stop line); None when an edge is not a greenwave link.  The advice's
        path goes straight on, or through the turn and then straight on
        (:attr:`Routes.advice_stops`, as in the simulator).  Cached per route."""
        if edges in self._route_cache:
            return self._route_cache[edges]
        links = [self._link.get(e, -1) for e in edges]
        info: dict[int, tuple[int, int, int]] | None = None
        if links and min(links) >= 0:
            r = Routes.from_links(self.net, np.array([links], dtype=np.int64))
            grp = r.stop_group[0]
            has = self.net.link_group[np.array(links)] >= 0
            # The next stop line seen from link p: the first signalised one at or after it.
            before = np.concatenate([[0], np.cumsum(has)[:-1]])
            info = {}
            for p, lk in enumerate(links):
                j = int(before[p])
                if j < grp.size and grp[j] >= 0:
                    info[lk] = (
                        int(r.stop_turn[0, j]),
                        int(r.advice_stops[0, j]),
                        int(r.stop_link[0, j]),
                    )
        self._route_cache[edges] = info
        return info

    def _next_stop(self, ks: np.ndarray, link: np.ndarray) -> tuple[np.ndarray, ...]:
        """(turn, stop lines on the advice's path, approach link) at the next stop line of
        slots ``ks`` on links ``link`` (THROUGH, a large count and -1 where nothing is
        known)."""
        turn = np.full(ks.size, THROUGH, dtype=np.int64)
        on_path = np.full(ks.size, 1 << 30, dtype=np.int64)
        approach = np.full(ks.size, -1, dtype=np.int64)
        for j, (k, lk) in enumerate(zip(ks.tolist(), link.tolist(), strict=True)):
            info = self._route_info.get(k)
            if info is not None and lk in info:
                turn[j], on_path[j], approach[j] = info[lk]
        return turn, on_path, approach

    def _ramp(self, t, slots):
        """Speed commands for the step after ``t`` of vehicles changing to their target."""
        if slots.size == 0:
            return
        tg = self.target[slots]
        v0 = self.ramp_v0[slots]
        dt_ramp = t - self.ramp_t0[slots] + self.dt
        cmd = v0 + np.clip(tg - v0, -self.dec * dt_ramp, self.acc * dt_ramp)
        done = np.abs(cmd - tg) <= 1e-9
        setspeed = self.api.vehicle.setSpeed
        for k, c in zip(slots.tolist(), cmd.tolist(), strict=True):
            setspeed(self.slot_id[k], c)
        fin = slots[done]
        self.ramping[fin] = False
        self.hold[fin] = tg[done]

    # ------------------------------------------------------------------ per step
    def step(self) -> None:
        """Call after every ``simulationStep``."""
        api = self.api
        t = float(api.simulation.getTime())
        for vid in api.simulation.getDepartedIDList():
            self._new_slot(vid)
        for vid in api.simulation.getArrivedIDList():
            k = self.slot.pop(vid, None)
            if k is not None:
                self.alive[k] = self.complies[k] = self.trusted[k] = False
                self._trust_lane.pop(k, None)
                self._route_info.pop(k, None)
                self.free.append(k)
        if t + 1e-9 >= self._next_update:
            while self._next_update <= t + 1e-9:
                self._next_update += self.update_s
            self._update(t)
            self._t_prev = t
        else:
            hw = self.hw
            if self._trust_lane:
                self._check_trust(t)
            # Advice whose reaction time ends between updates, and plans that speed up again.
            self._resume(t, np.arange(hw))
            due = np.flatnonzero(
                self.complies[:hw] & ((self.pend_t[:hw] <= t + 1e-9) | self._resumed[:hw])
            )
            if due.size:
                v = np.array([api.vehicle.getSpeed(self.slot_id[k]) for k in due])
                self._steer(t, due, v)
            self._ramp(t, np.flatnonzero(self.complies[:hw] & self.ramping[:hw]))

    def _update(self, t: float) -> None:
        veh = self.api.vehicle
        slot = self.slot
        ids = [v for v in veh.getIDList() if v in slot]
        n = len(ids)
        slots = np.fromiter((slot[v] for v in ids), np.int64, n)
        lanes = [veh.getLaneID(v) for v in ids]
        speed = np.fromiter((veh.getSpeed(v) for v in ids), float, n)
        lane_link = self._lane_link
        for ln in set(lanes) - lane_link.keys():
            lane_link[ln], self._lane_rest[ln] = self._lane_on_link(ln)
            self._lane_len[ln] = self.api.lane.getLength(ln)
            self._lane_vmax[ln] = self.api.lane.getMaxSpeed(ln)
        link = np.fromiter((lane_link[ln] for ln in lanes), np.int64, n)
        self._check_crossings(t, slots, link)
        self.prev_link[slots] = link
        want = self.complies[slots]
        if not want.any():
            return
        self.lane_vmax[slots] = np.fromiter((self._lane_vmax[ln] for ln in lanes), float, n)
        # Positions of every vehicle on greenwave's links (the advice needs the complying ones',
        # the leaders all of them).
        on = (
            np.flatnonzero(link >= 0) if self.release_queued else np.flatnonzero(want & (link >= 0))
        )
        pos = np.full(n, np.nan)
        pos[on] = np.fromiter((veh.getLanePosition(ids[i]) for i in on), float, on.size)
        sel = np.flatnonzero(want & (link >= 0))
        offset = pos[sel]
        self._resume(t, slots)
        self._advise(t, ids, lanes, slots, link, speed, sel, offset, pos)
        if self.release_queued:
            self._release_queued(t, ids, lanes, slots, link, speed, sel, on, pos)
        if self._trust_lane:
            self._check_trust(t)
        csel = np.flatnonzero(want)
        self._steer(t, slots[csel], speed[csel])
        if self.trust_red:
            self._trust(t, ids, lanes, slots, link, speed, sel, offset)

    def _lane_on_link(self, lane: str) -> tuple[int, float]:
        """(link index, -1 for none; distance from the lane's end to that link's stop line, m)
        of a SUMO lane.  A junction-internal lane belongs to the link it leads onto: greenwave's
        junctions have no width, and a driver crossing one keeps the advice they follow (were
        they released there, SUMO's car following would speed them up for a second or two
        after every junction, and a new plan would wait for their reaction time: on training
        corridor 1004 that alone let SUMO's advised vehicles discharge a near-saturated stop
        line faster than greenwave's simulator, with the same vehicles)."""
        edge = lane.rsplit("_", 1)[0]
        if not lane.startswith(":"):
            return self._link.get(edge, -1), 0.0
        rest, cur, seen = 0.0, lane, {lane}
        while cur.startswith(":"):
            nxt = self.api.lane.getLinks(cur)
            if not nxt:
                return -1, 0.0
            cur = nxt[0][0]
            if cur in seen:
                return -1, 0.0
            seen.add(cur)
            rest += self.api.lane.getLength(cur)
        return self._link.get(cur.rsplit("_", 1)[0], -1), rest

    def crossing_groups(self, prev: np.ndarray, link: np.ndarray) -> np.ndarray:
        """(K,) signal group of each crossing from link ``prev`` onto ``link`` (K,): the
        movement's group, else (onto a link off the network, -1) the approach's."""
        if self._mv_codes.size == 0:
            return self.net.link_group[prev]
        want = prev * self.net.n_links + link
        at = np.minimum(np.searchsorted(self._mv_codes, want), self._mv_codes.size - 1)
        found = (link >= 0) & (self._mv_codes[at] == want)
        return np.where(found, self._mv_group[at], self.net.link_group[prev])

    def _check_crossings(self, t, slots, link):
        prev = self.prev_link[slots]
        moved = np.flatnonzero((prev >= 0) & (link != prev))
        if moved.size == 0 or self._t_prev is None:
            return
        g = self.crossing_groups(prev[moved], link[moved])
        sig = g >= 0
        moved, g = moved[sig], g[sig]
        if moved.size == 0:
            return
        self.stop_k[slots[moved]] += 1
        self.crossings += int(moved.size)
        if not self.check_red:
            return
        st0, _, _, _ = self.timing.state(g, np.full(g.size, self.epoch + self._t_prev))
        st1, _, _, _ = self.timing.state(g, np.full(g.size, self.epoch + t))
        for a in st0.tolist():
            self.crossings_by_state[a] = self.crossings_by_state.get(a, 0) + 1
        for k in np.flatnonzero((st0 == RED) & (st1 == RED)):
            self.red_crossings += 1
            j = int(moved[k])
            self.red_crossing_ids.append(
                (t, self.slot_id[int(slots[j])], self.net.link_ids[int(prev[j])])
            )

    def _advise(self, t, ids, lanes, slots, link, speed, sel, offset, pos):
        want = self.complies[slots]
        # Complying vehicles off greenwave's links drive normally.
        off = slots[want & (link < 0)]
        if off.size:
            self._schedule(off, np.full(off.size, np.nan), t)
            self.then_t[off] = np.inf
            self.plan_id[off] = np.nan
        if sel.size == 0:
            return
        ks = slots[sel]
        # The driver's own desired speed (the original speed factor × the lane's limit, capped
        # by the vehicle's maximum speed: SUMO's getAllowedSpeed before any raise).
        desired = np.minimum(self.sf0[ks] * self.lane_vmax[ks], self.vmax[ks])
        # Distances to the next signal along SUMO's own lanes (junction-internal lanes
        # included), not greenwave's link lengths.
        veh = self.api.vehicle
        first = np.full(sel.size, np.nan)
        for j, i in enumerate(sel.tolist()):
            nxt = veh.getNextTLS(ids[i])
            if nxt:
                first[j] = float(nxt[0][2])
        qd = queue_m = None
        if self.adv.queue_aware:
            lane = np.unique(np.asarray(lanes, dtype=str), return_inverse=True)[1].ravel()
            known = ~np.isnan(pos)
            ahead = queued_ahead(np.where(known, lane, -1), np.where(known, pos, 0.0), speed)[sel]
            qd = np.zeros((sel.size, self.m))
            qd[:, 0] = queue_discharge_delay_s(ahead)
            queue_m = ahead * JAM_SPACING_M
        turn = straight = None
        if self._turning:
            # As in the simulator: a driver who turns at the next stop line is advised on that
            # movement (advise_turners) where the core can (their route reaches the stop line
            # straight ahead and its approach has the movement), else drives normally up to
            # it; advice holds along the path it was given for (straight on up to the next
            # turn, or through the turn and on up to the turn after).
            next_turn, straight, approach = self._next_stop(ks, link[sel])
            if self.advise_turners:
                ahead, mv = self.net.movement_ahead(link[sel], next_turn)
                advisable = (next_turn == THROUGH) | ((ahead == approach) & (mv >= 0))
            else:
                advisable = next_turn == THROUGH
            turning = advisable & (next_turn != THROUGH)
            turn = np.where(turning, next_turn, THROUGH) if turning.any() else None
        adv = advise(
            self.net,
            self.timing,
            self.params,
            link[sel],
            offset,
            speed[sel],
            self.epoch + t,
            self.m,
            qd,
            cruise_ms=desired,
            queue_m=queue_m,
            first_dist_m=first,
            turn=turn,
        )
        self.log.advice_calls += 1
        in_range = (adv.group[:, 0] >= 0) & (adv.dist_m[:, 0] <= self.range_m)
        if self._turning:
            in_range &= advisable
        cmd = commands(
            adv,
            speed[sel],
            desired,
            t,
            policy=self.policy,
            update_s=self.update_s,
            max_signals=self.max_signals,
            min_speed_ratio=self.min_speed_ratio,
            hold_on_stop=self.hold_on_stop,
            past_line_m=self._past_discharging_line(t, link, speed, sel, offset),
            hold_clear_m=self.adv.plan_hold_clear_m,
        )
        tgt = np.where(in_range, cmd.now_ms, np.nan)
        ok = in_range & ~np.isnan(tgt)
        self.log.advised += int(ok.sum())
        # In range: the new advice (valid through the stop lines it covers).  Out of range:
        # keep the last advice until it has expired, then drive normally.
        renew = in_range & ~(cmd.keep & ~np.isnan(self.target[ks]))
        self.log.held += int((in_range & ~renew).sum())
        valid = cmd.valid_stops if straight is None else np.minimum(cmd.valid_stops, straight)
        self.adv_until[ks[renew]] = self.stop_k[ks[renew]] + valid[renew]
        expired = self.stop_k[ks] >= self.adv_until[ks]
        upd = renew | expired
        new_id = np.where(in_range[upd], cmd.plan_id[upd], np.nan)
        self._schedule(
            ks[upd], tgt[upd], t, reaction_times(self.plan_id[ks[upd]], new_id, self.reaction_s)
        )
        self.plan_id[ks[upd]] = new_id
        self.then_v[ks[upd]] = np.where(in_range[upd], cmd.then_ms[upd], np.nan)
        self.then_t[ks[upd]] = np.where(in_range[upd], cmd.then_t_s[upd], np.inf)
        if self.record:
            lo, hi = adv.bands.lo_ms[:, 0], adv.bands.hi_ms[:, 0]
            for k in np.flatnonzero(ok):
                self.log.records.append((t, ids[sel[k]], float(lo[k]), float(hi[k]), float(tgt[k])))

    def _past_discharging_line(self, t, link, speed, sel, offset):
        """:func:`greenwave.sim.driver.past_discharging_line_m` for the drivers ``sel``, from
        every vehicle on greenwave's links (None while ``advisory.plan_hold_clear_m`` is 0)."""
        if self.adv.plan_hold_clear_m <= 0.0:
            return None
        queued = queued_on_links(self.net.n_links, link, speed)
        groups = np.arange(self.timing.plans.n_groups)
        state, _, _, _ = self.timing.state(groups, np.full(groups.size, self.epoch + t))
        return past_discharging_line_m(self.net, link[sel], offset, queued, state == GREEN)

    def _resume(self, t, slots):
        """Plans that speed up again before the stop line: their next target is due (no
        reaction time: it is part of the advice the driver already follows)."""
        due = self.complies[slots] & (self.then_t[slots] <= t + 1e-9) & np.isinf(self.pend_t[slots])
        self._resumed = np.zeros(self.cap, dtype=bool)
        k = slots[due]
        if k.size:
            self.target[k] = self.then_v[k]
            self.then_t[k] = np.inf
            self._resumed[k] = True

    def _release_queued(self, t, ids, lanes, slots, link, speed, sel, on, pos):
        """Queues are SUMO's: a complying vehicle that queues (slower than 1 m/s) before a
        signalised stop line drives by SUMO's car following until it has crossed that line;
        one close behind a leader that is slower than its target (on its lane, or beyond the
        junction ahead when it is near the lane's end) follows that leader (car following)
        until the leader is no longer slower or no longer close (re-checked at every update)."""
        self.following[slots] = False
        ks = slots[sel]
        sig = self.net.link_group[link[sel]] >= 0
        qu = self.queued_until[ks]
        self.log.queue_releases += release_queued(qu, self.stop_k[ks], speed[sel], sig)
        self.queued_until[ks] = qu
        # Leaders on the same lane: vehicles on greenwave's links sorted by lane and position
        # (beyond the lane's end: below).
        codes: dict[str, int] = {}
        lane_code = np.fromiter(
            (codes.setdefault(lanes[i], len(codes)) for i in on), np.int64, on.size
        )
        order = np.lexsort((pos[on], lane_code))
        srt = on[order]
        same = lane_code[order][1:] == lane_code[order][:-1]
        leader = np.full(speed.size, -1, np.int64)
        leader[srt[:-1][same]] = srt[1:][same]
        li = leader[sel]
        has_l = li >= 0
        lj = np.where(has_l, li, 0)
        # Gap as SUMO's getLeader gives it: back of the leader to the front, minus minGap.
        gap = np.where(has_l, pos[lj] - self.length - pos[sel] - self.s0, np.inf)
        v, vl = speed[sel], speed[lj].copy()
        tg = self.target[ks]
        # A commanded vehicle near the end of its lane with no leader on it: its leader may be
        # beyond the junction (a queue spilling back over it).  A commanded speed does not
        # stop SUMO from running into it (a rear-end collision at a spill-back on a fresh
        # corridor), so look it up across the junction (SUMO's getLeader) within the distance
        # that matters: the vehicle's headway and braking distance.
        look = self.s0 + self.length + self.headway * v + v * v / (2.0 * self.decel[ks])
        ends = np.fromiter((self._lane_len[lanes[i]] for i in sel), float, sel.size) - pos[sel]
        beyond = np.flatnonzero(~has_l & ~np.isnan(tg) & (ends <= look))
        veh = self.api.vehicle
        for j in beyond.tolist():
            found = veh.getLeader(ids[sel[j]], float(look[j]))
            if found and found[0]:
                has_l[j] = True
                gap[j] = float(found[1])
                vl[j] = veh.getSpeed(found[0])
        # Close behind a leader slower than the target: follow it (SUMO's car following),
        # also when already at the target.
        follow = (
            has_l
            & (self.queued_until[ks] < 0)
            & follows_leader(
                tg,
                v,
                vl,
                gap + self.s0,
                self.s0,
                self.headway,
                self.accel[ks],
                self.decel[ks],
            )
        )
        self.following[ks] = follow
        self.log.following += int(follow.sum())

    def _schedule(self, slots, new, t, reaction_s=None):
        """New targets act after the reaction time (:func:`greenwave.sim.engine.
        schedule_targets`, as the engine; default: the drivers' ``reaction_s``)."""
        schedule_targets(
            self.target,
            self.pend_v,
            self.pend_t,
            slots,
            new,
            t,
            self.reaction_s if reaction_s is None else reaction_s,
        )

    def released(self, slots):
        """Complying vehicles that follow SUMO's car following now (queued, or close behind a
        slower leader) although they may hold a target."""
        return (self.queued_until[slots] >= 0) | self.following[slots]

    def _steer(self, t, slots, v):
        """Commands for complying vehicles in ``slots`` (speeds ``v``) until the next update."""
        act = self.pend_t[slots] <= t + 1e-9
        if act.any():
            k = slots[act]
            self.target[k] = self.pend_v[k]
            self.pend_t[k] = np.inf
        veh = self.api.vehicle
        target = self.target[slots]
        controlled = self.ramping[slots] | ~np.isnan(self.hold[slots])
        has = ~np.isnan(target) & ~self.released(slots)
        if self.raise_speed_factor:
            self._speed_factor(slots, np.where(has, target, np.nan))
        # Released: back to the car-following model.
        for k in slots[~has & controlled].tolist():
            veh.setSpeed(self.slot_id[k], -1.0)
            self.ramping[k] = False
            self.hold[k] = np.nan
            self.log.released += 1
        idx = np.flatnonzero(has)
        if idx.size == 0:
            return
        tg, vv, ks = target[idx], v[idx], slots[idx]
        near = np.abs(tg - vv) <= self.HOLD_MS
        hold = ks[near]
        for k, b in zip(hold.tolist(), tg[near].tolist(), strict=True):
            if self.hold[k] != b or self.ramping[k]:
                veh.setSpeed(self.slot_id[k], b)
                self.hold[k] = b
        self.ramping[hold] = False
        ramp = ks[~near]
        self.ramping[ramp] = True
        self.hold[ramp] = np.nan
        self.ramp_v0[ramp] = vv[~near]
        self.ramp_t0[ramp] = t
        self._ramp(t, ramp)
        if self.record:
            self.log.tracking += [
                (t, self.slot_id[k], a, b)
                for k, a, b in zip(ks.tolist(), vv.tolist(), tg.tolist(), strict=True)
            ]

    def _speed_factor(self, slots, target):
        """While a target is steered, SUMO's desired speed (speed factor × lane limit) is at
        least ``CRUISE_V0`` × the target (kept while it stays within ``CRUISE_V0_RANGE`` of
        it, so small target changes cost no call); otherwise the driver's own factor."""
        vmax = self.lane_vmax[slots]
        cur = self.sf[slots]
        want = self.sf0[slots].copy()
        has = ~np.isnan(target)
        need = np.where(has, target / vmax, 0.0)
        lo, hi = CRUISE_V0_RANGE
        up = has & (need * CRUISE_V0 > want)
        keep = up & (cur >= need * lo) & (cur <= np.maximum(need * hi, want))
        want[up] = need[up] * CRUISE_V0
        want[keep] = cur[keep]
        change = np.flatnonzero(np.abs(want - cur) > 1e-12)
        if change.size == 0:
            return
        setf = self.api.vehicle.setSpeedFactor
        for j in change.tolist():
            setf(self.slot_id[int(slots[j])], float(want[j]))
        self.log.speed_factor_raised += int(up[change].sum())
        self.sf[slots[change]] = want[change]

    # ------------------------------------------------------------------ trusted red lights
    def _trust_safe(self, k, seen, v, to_green):
        """Can the vehicle not cross on red with the red light ignored?  Either it cannot reach
        the line before the light turns green even at full acceleration (SUMO's Euler steps;
        1 s to spare), or it could still stop before the line at SUMO's red-light deceleration
        from where it can be one step later (then SUMO, re-armed, stops it: it brakes for a red
        only while it can stop at that deceleration, ``canBrakeBeforeStopLine``)."""
        a, dt = self.accel[k], self.dt
        b = v + a * dt / 2.0
        earliest = (math.sqrt(b * b + 2.0 * a * max(seen, 0.0)) - b) / a
        if earliest >= to_green + TRUST_REACH_MARGIN_S:
            return True
        v1 = v + a * dt
        return seen - v1 * dt >= v1 * v1 / (2.0 * self.stop_decel[k]) + STOP_MARGIN_M

    def _trust_ok(self, k, seen, v, to_green):
        """The trust conditions at a red: at its current speed the vehicle would arrive at
        least 1 s after green (the engine's rule), and it cannot cross on red
        (:meth:`_trust_safe`)."""
        return (
            v >= 1e-3
            and seen / v >= to_green + TRUST_MARGIN_S
            and self._trust_safe(k, seen, v, to_green)
        )

    def _trust_horizon(self, k, seen, v, to_green):
        """How long the trust conditions hold for sure (the vehicle at full acceleration; any
        slower is safer): the next check of a trusted red is due then (one step at least, and
        no later than the end of the green grace)."""
        a, dt = self.accel[k], self.dt
        for h in TRUST_HORIZONS_S:
            if h >= to_green + GREEN_GRACE_S:
                continue
            d = v * h + a * h * (h + dt) / 2.0  # Euler positions at full acceleration
            if self._trust_ok(k, seen - d, v + a * h, to_green - h):
                return h
        return dt

    def _trust(self, t, ids, lanes, slots, link, speed, sel, offset):
        """At an update: advised vehicles approaching a red that turns green before they can
        reach the line (at their current speed, with a 1 s margin) trust it (bit 4 off)."""
        if sel.size == 0:
            return
        ks = slots[sel]
        g = self.net.link_group[link[sel]]
        v = speed[sel]
        cand = np.flatnonzero(
            (g >= 0)
            & ~np.isnan(self.target[ks])
            & ~self.trusted[ks]
            & (self.queued_until[ks] < 0)
            & (v >= QUEUE_SPEED_MS)
        )
        if cand.size == 0:
            return
        st, ttc, _, _ = self.timing.state(g[cand], np.full(cand.size, self.epoch + t))
        for j, s, to_green in zip(cand.tolist(), st.tolist(), ttc.tolist(), strict=True):
            if s != RED:
                continue
            i = int(sel[j])
            k = int(ks[j])
            seen = self._lane_len[lanes[i]] + self._lane_rest[lanes[i]] - float(offset[j])
            vj = float(v[j])
            if not self._trust_ok(k, seen, vj, to_green):
                continue
            self.api.vehicle.setSpeedMode(ids[i], SPEED_MODE_TRUST)
            self.trusted[k] = True
            self.green_at[k] = t + to_green
            self.trust_next[k] = t + self._trust_horizon(k, seen, vj, to_green)
            self._trust_lane[k] = lanes[i]
            self.log.trusted += 1
            if self.record:
                self.log.trust_events.append(("on", t, ids[i], lanes[i], seen, vj, to_green))

    def _check_trust(self, t):
        """A trusted red stays trusted while the light is red, the vehicle still has a target,
        is not queued, is on the same lane and meets the trust conditions — checked every step
        unless they hold for sure for longer (:meth:`_trust_horizon`) — and for 1 s into the
        green.  Otherwise SUMO's red-light stop is back (speed mode 31)."""
        veh = self.api.vehicle
        for k, lane in list(self._trust_lane.items()):
            if t + 1e-9 < self.trust_next[k]:
                continue
            vid = self.slot_id[k]
            to_green = float(self.green_at[k]) - t
            seen = v = math.nan
            if to_green <= 1e-9:  # green
                if -to_green < GREEN_GRACE_S - 1e-9:
                    self.trust_next[k] = self.green_at[k] + GREEN_GRACE_S
                    continue
                self.log.trust_kept_to_green += 1
            else:
                keep = (
                    not np.isnan(self.target[k])
                    and self.queued_until[k] < 0
                    and veh.getLaneID(vid) == lane
                )
                if keep:
                    seen = self._lane_len[lane] + self._lane_rest[lane] - veh.getLanePosition(vid)
                    v = veh.getSpeed(vid)
                    keep = self._trust_ok(k, seen, v, to_green)
                if keep:
                    self.trust_next[k] = t + self._trust_horizon(k, seen, v, to_green)
                    continue
                self.log.trust_rearmed += 1
            veh.setSpeedMode(vid, SPEED_MODE_DEFAULT)
            self.trusted[k] = False
            del self._trust_lane[k]
            if self.record:
                self.log.trust_events.append(("off", t, vid, lane, seen, v, to_green > 1e-9))
