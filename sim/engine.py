"""The microsimulator: a SimPy environment driving numpy state arrays.

Processes (SimPy)
-----------------
* ``_arrivals`` — one per entry link: vehicles arrive (pre-drawn, :mod:`sim.demand`) and join
  the entry queue of their lane.
* ``_signals`` — wakes at every signal change of any group and refreshes the state array.
* ``_advisory`` — every ``advisory.update_interval_s``: equipped, complying drivers within
  ``advisory.range_m`` of their next stop line ask the core (:func:`greenwave.advice.advise`,
  the same call as the API) for bands and pick a target speed: their desired speed clipped
  into the joint band they take (``drivers.option_*``, :meth:`greenwave.bands.Bands.choose_joint`;
  with ``drivers.hold_on_stop`` a "prepare to stop" keeps the target they have).
* ``_physics`` — every ``dt``: inserts waiting vehicles, then moves all vehicles at once.

Streams
-------
Routes go straight through, lanes are kept and nobody overtakes, so every (entry link, lane)
is a single-file *stream*: a vehicle's leader is the vehicle that entered the stream before it
until that one leaves.  Positions are metres along the stream's route from the start of the
entry link.  Vehicles live in slots of fixed-capacity arrays (a free list reuses slots).

Physics per tick
----------------
IDM (or Krauss, ``drivers.car_following``; :mod:`sim.carfollow`) against the leader and, when
the signal is an obstacle, against the stop line; a safe-speed bound; ballistic update (Euler
with Krauss, as SUMO).  A signal is an obstacle on red, and on amber
for a driver who can still stop at ``AMBER_DECEL_MS2`` (the ITE kinematic rule: stop if
``v² / (2 d) <= 3.0 m/s²``, ITE "Guidelines for Determining Traffic Signal Change and Clearance
Intervals", 2020, 10 ft/s²; Krauss drivers, as SUMO's, at their ``decel_ms2``); a driver who
cannot is committed and clears during amber or the
all-red interval, which is what all-red is for.  A crossing on red by a driver who was not
committed is a violation (counted; the tests require none).

Advised drivers track their target speed at the advisory's comfortable rates (the kinematics
the bands assume) and never above what car following allows behind their leader or before a
red light.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import simpy

from greenwave.advice import advise
from greenwave.bands import JAM_SPACING_M, queue_discharge_delay_s
from greenwave.network import World
from greenwave.scenario import max_dt_s
from greenwave.timing import AMBER, GREEN, RED

from .carfollow import (
    EMERGENCY_DECEL_MS2,
    ballistic_step,
    euler_brake_gap,
    euler_safe_speed,
    euler_step,
    idm_free,
    idm_interaction,
    safe_accel,
)
from .demand import Arrivals, draw_arrivals
from .driver import (
    SAME_ADVICE_MS,
    commands,
    follows_leader,
    queued_ahead,
    reaction_times,
    release_queued,
)
from .fuel import fuel_co2_rates

AMBER_DECEL_MS2 = 3.0
STOP_SPEED_MS = 0.1  # a stop begins at or below this speed (SUMO's waitingCount threshold)
STOP_END_SPEED_MS = 1.0  # ... and ends above this one (hysteresis against creeping in queues)
CROSS_EPS_M = 1e-6  # a front bumper this far past a stop line has crossed it


@dataclass
class Routes:
    """Straight-through routes from each entry link, padded to common widths.

    Attributes
    ----------
    links : (R, Lmax) int, link indices along each route (-1 padding)
    link_start_m, link_end_m : (R, Lmax) float, position of each link's ends along the route
    stop_pos_m : (R, Jmax + 1) float, stop lines along the route (+inf padding)
    stop_group : (R, Jmax + 1) int, their signal groups (-1 padding)
    length_m, freeflow_s : (R,) float, route length and travel time at the speed limits
    """

    links: np.ndarray
    link_start_m: np.ndarray
    link_end_m: np.ndarray
    stop_pos_m: np.ndarray
    stop_group: np.ndarray
    length_m: np.ndarray
    freeflow_s: np.ndarray

    @classmethod
    def build(cls, net, entry_links) -> Routes:
        chains = []
        for e in entry_links:
            chain, seen = [int(e)], {int(e)}
            while net.link_next[chain[-1]] >= 0 and int(net.link_next[chain[-1]]) not in seen:
                chain.append(int(net.link_next[chain[-1]]))
                seen.add(chain[-1])
            chains.append(chain)
        r = len(chains)
        lmax = max(len(c) for c in chains)
        links = np.full((r, lmax), -1, dtype=np.int64)
        start = np.full((r, lmax), np.inf)
        end = np.full((r, lmax), np.inf)
        stops = [[] for _ in range(r)]
        length = np.zeros(r)
        free = np.zeros(r)
        for i, c in enumerate(chains):
            ln = net.link_length_m[c]
            ends = np.cumsum(ln)
            links[i, : len(c)] = c
            start[i, : len(c)] = ends - ln
            end[i, : len(c)] = ends
            length[i] = ends[-1]
            free[i] = float(np.sum(ln / net.link_speed_limit_ms[c]))
            stops[i] = [
                (ends[k], int(net.link_group[lk]))
                for k, lk in enumerate(c)
                if net.link_group[lk] >= 0
            ]
        jmax = max(len(s) for s in stops)
        stop_pos = np.full((r, jmax + 1), np.inf)
        stop_grp = np.full((r, jmax + 1), -1, dtype=np.int64)
        for i, s in enumerate(stops):
            for j, (p, g) in enumerate(s):
                stop_pos[i, j], stop_grp[i, j] = p, g
        return cls(links, start, end, stop_pos, stop_grp, length, free)


@dataclass
class SimResult:
    """Outcome of one run.

    ``vehicles`` maps column names to (A,) arrays over all arrivals (see :meth:`Simulation.run`);
    counters describe conservation and safety.
    """

    vehicles: dict[str, np.ndarray]
    arrived: int
    entered: int
    completed: int
    on_network: int
    waiting: int
    red_violations: int
    cleared_on_red: int
    min_gap_m: float
    collisions: int
    vehicle_steps: int
    wall_s: float
    warmup_s: float
    duration_s: float
    trajectories: dict[str, np.ndarray] | None = None
    extra: dict = field(default_factory=dict)
    drained_s: float = 0.0
    """Seconds simulated after ``duration_s`` to let the vehicles on the network finish."""


def schedule_targets(target, pend_v, pend_t, slots, new, t, reaction_s):
    """Hand new target speeds ``new`` (m/s, NaN = drive normally) to the drivers in ``slots``
    after their reaction time, in place on the per-slot arrays ``target`` (followed now),
    ``pend_v`` / ``pend_t`` (waiting to act on, and when; inf = nothing waiting).

    Repeating the advice a driver already follows, or already waits to act on (within
    ``SAME_ADVICE_MS``), does not restart the reaction time (the app repeats its advice every
    update); small updates of the advice being followed apply at once.  ``reaction_s`` is a
    float or one per slot (:func:`greenwave.sim.driver.reaction_times`).  Shared by
    :class:`Simulation` and the SUMO controller.
    """
    cur, pend = target[slots], pend_v[slots]
    waiting = np.isfinite(pend_t[slots])
    same_cur = (np.isnan(new) & np.isnan(cur)) | (np.abs(new - cur) < SAME_ADVICE_MS)
    same_pend = waiting & ((np.isnan(new) & np.isnan(pend)) | (np.abs(new - pend) < SAME_ADVICE_MS))
    follow = same_cur & ~same_pend
    target[slots[follow]] = new[follow]
    pend_t[slots[follow & waiting]] = np.inf
    pend_v[slots[same_pend]] = new[same_pend]
    fresh = ~same_cur & ~same_pend
    pend_v[slots[fresh]] = new[fresh]
    pend_t[slots[fresh]] = t + (reaction_s[fresh] if np.ndim(reaction_s) else reaction_s)


class Simulation:
    """One run of a scenario.

    Parameters
    ----------
    world : greenwave.network.World
    seed : int
        Seed of the arrivals and drivers (common random numbers across runs).
    advisory : bool
        False for the no-advisory baseline (nobody equipped).
    penetration, compliance : float, optional
        Override the scenario's ``advisory.penetration`` / ``drivers.compliance``.
    duration_s, warmup_s, dt_s : float, optional
        Override the scenario's ``simulation`` settings.
    record : bool
        Keep trajectories (every tick) of vehicles on the routes in ``record_routes``
        (default: all routes of the first corridor) for plots.
    arrivals : Arrivals, optional
        Reuse an already drawn population (must come from the same scenario and seed).
    drain_s : float, optional
        After ``duration_s`` (no arrivals after it), keep simulating until every arrived vehicle
        has left the network, for at most this many seconds, so that every trip is counted;
        ``SimResult.drained_s`` says how long it took (``on_network``/``waiting`` > 0: it did
        not empty in time).
    """

    def __init__(
        self,
        world: World,
        seed: int,
        advisory: bool = True,
        *,
        penetration=None,
        compliance=None,
        duration_s=None,
        warmup_s=None,
        dt_s=None,
        record=False,
        record_routes=None,
        arrivals: Arrivals | None = None,
        timing=None,
        drain_s: float | None = None,
    ):
        sc = world.scenario
        self.world = world
        self.net = world.network
        self.timing = timing if timing is not None else world.timing
        self.seed = seed
        self.dt = float(dt_s if dt_s is not None else sc.simulation.dt_s)
        self.duration = float(duration_s if duration_s is not None else sc.simulation.duration_s)
        self.warmup = float(warmup_s if warmup_s is not None else sc.simulation.warmup_s)
        max_dt = max_dt_s(sc.drivers.car_following)
        if not 0.0 < self.dt <= max_dt:
            raise ValueError(f"dt_s must be in (0, {max_dt:g}] with {sc.drivers.car_following}")
        if drain_s is not None and not (math.isfinite(drain_s) and drain_s >= 0.0):
            raise ValueError(f"drain_s must be finite and >= 0, got {drain_s}")
        self.drain = float(drain_s or 0.0)
        self.drained = 0.0
        self.epoch = world.epoch_s
        adv = sc.advisory
        self.adv = adv
        self.params = sc.band_params()
        self.penetration = (
            (adv.penetration if penetration is None else penetration) if advisory else 0.0
        )
        self.compliance = sc.drivers.compliance if compliance is None else compliance
        drv = sc.drivers
        self.drv = drv
        self.krauss = drv.car_following == "krauss"
        # Krauss drivers are SUMO's: they stop on amber whenever their deceleration allows.
        self.amber_decel = drv.decel_ms2 if self.krauss else AMBER_DECEL_MS2
        # Dawdling draws come from their own stream so that arrivals stay common to all runs.
        self.dawdle_rng = np.random.default_rng([seed, 0x6B7261])
        self.fuel_model = sc.simulation.fuel_model
        self.arr = (
            arrivals if arrivals is not None else draw_arrivals(sc, self.net, seed, self.duration)
        )
        self.routes = Routes.build(self.net, self.arr.entry_links)
        # Streams: (entry, lane).
        lanes = self.net.link_lanes[self.arr.entry_links]
        self.stream_first = np.concatenate([[0], np.cumsum(lanes)[:-1]])
        n_streams = int(lanes.sum())
        self.stream_route = np.repeat(np.arange(len(lanes)), lanes)
        self.n_streams = n_streams
        a = self.arr
        self.veh_stream = self.stream_first[a.entry] + a.lane
        self.veh_equipped = a.u_equip < self.penetration
        self.veh_complies = self.veh_equipped & (a.u_comply < self.compliance)
        # Per stream, arrivals in time order (indices into the arrival arrays).
        order = np.lexsort((a.time_s, self.veh_stream))
        self.stream_arrivals = np.split(
            order, np.cumsum(np.bincount(self.veh_stream, minlength=n_streams))[:-1]
        )
        self.queue_head = np.zeros(n_streams, dtype=np.int64)  # next to insert
        self.queue_tail = np.zeros(n_streams, dtype=np.int64)  # arrived so far
        self.tail = np.full(n_streams, -1, dtype=np.int64)  # last inserted vehicle's slot
        self.record = record
        if record_routes is None and self.net.corridors:
            # Routes that drive the first corridor (both directions): those entering on its
            # first links, else (a corridor over links inside the network) those passing them.
            firsts = [int(c[2][0]) for c in self.net.corridors[:2]]
            rec = np.flatnonzero(np.isin(self.routes.links[:, 0], firsts))
            if rec.size == 0:
                rec = np.flatnonzero(np.isin(self.routes.links, firsts).any(axis=1))
            record_routes = rec.tolist()
        self.record_routes = np.asarray(
            record_routes if record_routes is not None else [], dtype=np.int64
        )
        self._alloc(max(64, min(4096, a.count)))
        self._init_results()
        self.red_violations = 0
        self.cleared_on_red = 0
        self.collisions = 0
        self.min_gap = math.inf
        self.vehicle_steps = 0
        self.traj: list[tuple] = []
        self.n_groups = self.timing.plans.n_groups
        self.sig_state = np.zeros(self.n_groups, dtype=np.int8)
        self.sig_change_at = np.zeros(self.n_groups)
        self.sig_next_change = -math.inf

    # ----------------------------------------------------------------- storage
    _FLOAT = (
        "pos",
        "v",
        "desired",
        "target",
        "pend_v",
        "pend_t",
        "then_v",
        "then_t",
        "plan_id",
        "t_enter",
        "fuel",
        "co2",
        "stopped_time",
    )
    _INT = (
        "vid",
        "route",
        "stream",
        "link_k",
        "stop_k",
        "leader",
        "follower",
        "stops",
        "adv_until",
        "queued_until",
    )
    _BOOL = ("alive", "equipped", "complies", "committed", "in_stop")

    def _alloc(self, cap):
        self.cap = cap
        self.hw = 0  # high-water mark of used slots
        for k in self._FLOAT:
            setattr(self, k, np.zeros(cap))
        for k in self._INT:
            setattr(self, k, np.full(cap, -1, dtype=np.int64))
        for k in self._BOOL:
            setattr(self, k, np.zeros(cap, dtype=bool))
        self.free: list[int] = []

    def _grow(self):
        new = self.cap * 2
        for k in self._FLOAT + self._INT + self._BOOL:
            old = getattr(self, k)
            arr = (
                np.zeros(new, dtype=old.dtype)
                if k not in self._INT
                else np.full(new, -1, dtype=old.dtype)
            )
            arr[: self.cap] = old
            setattr(self, k, arr)
        self.cap = new

    def _init_results(self):
        n = self.arr.count
        self.res = {
            "t_enter": np.full(n, np.nan),
            "t_exit": np.full(n, np.nan),
            "fuel_l": np.full(n, np.nan),
            "co2_g": np.full(n, np.nan),
            "stops": np.full(n, -1, dtype=np.int64),
            "stopped_time_s": np.full(n, np.nan),
        }

    # --------------------------------------------------------------- processes
    def _arrivals(self, env, e):
        a = self.arr
        idx = np.flatnonzero(a.entry == e)
        for i in idx:
            dt = a.time_s[i] - env.now
            if dt > 0:
                yield env.timeout(dt)
            self.queue_tail[self.veh_stream[i]] += 1

    def _signals(self, env):
        groups = np.arange(self.n_groups)
        while True:
            self._sync_signals(env.now, groups)
            yield env.timeout(max(self.sig_next_change - env.now, 1e-6))

    def _sync_signals(self, t, groups=None):
        if t < self.sig_next_change:
            return
        if groups is None:
            groups = np.arange(self.n_groups)
        state, ttc, _, _ = self.timing.state(groups, self.epoch + t)
        self.sig_state = state
        self.sig_change_at = t + ttc  # per group: simulation time of its next change
        self.sig_next_change = t + float(ttc.min())

    def _advisory(self, env):
        while True:
            self._advise(env.now)
            yield env.timeout(self.adv.update_interval_s)

    def _physics(self, env):
        while True:
            self._insert(env.now)
            self._step(env.now)
            yield env.timeout(self.dt)

    # ------------------------------------------------------------- insertion
    def _insert(self, t):
        waiting = np.flatnonzero(self.queue_tail > self.queue_head)
        if waiting.size == 0:
            return
        drv = self.drv
        tail = self.tail[waiting]
        has = tail >= 0
        tl = np.where(has, tail, 0)
        # Gap from the stream start to the tail vehicle's rear bumper.
        gap = np.where(has, self.pos[tl] - drv.length_m, np.inf)
        vids = np.array([self.stream_arrivals[s][self.queue_head[s]] for s in waiting])
        route = self.stream_route[waiting]
        lim0 = self.net.link_speed_limit_ms[self.routes.links[route, 0]]
        desired = self.arr.desired_factor[vids] * lim0
        # Enter at the desired speed, or slower if the gap only allows an IDM-equilibrium speed.
        v_gap = np.where(has, (gap - drv.min_gap_m) / drv.time_headway_s, np.inf)
        v_ins = np.minimum(
            desired, np.maximum(np.minimum(v_gap, np.where(has, self.v[tl], np.inf) + 2.0), 0.0)
        )
        ok = gap >= drv.min_gap_m + 0.5
        ok &= v_ins >= 0.0
        for s, vid, v_in, _d_in in zip(waiting[ok], vids[ok], v_ins[ok], desired[ok], strict=True):
            self._add_vehicle(int(s), int(vid), float(v_in), t)
        self.queue_head[waiting[ok]] += 1

    def _add_vehicle(self, s, vid, v_in, t):
        if self.free:
            k = self.free.pop()
        else:
            if self.hw >= self.cap:
                self._grow()
            k = self.hw
            self.hw += 1
        r = int(self.stream_route[s])
        self.alive[k] = True
        self.vid[k] = vid
        self.route[k] = r
        self.stream[k] = s
        self.pos[k] = 0.0
        self.v[k] = v_in
        self.desired[k] = self.arr.desired_factor[vid]
        self.link_k[k] = 0
        self.stop_k[k] = 0
        self.adv_until[k] = 0
        self.equipped[k] = self.veh_equipped[vid]
        self.complies[k] = self.veh_complies[vid]
        self.target[k] = np.nan
        self.pend_v[k] = np.nan
        self.pend_t[k] = np.inf
        self.then_v[k] = np.nan
        self.then_t[k] = np.inf
        self.plan_id[k] = np.nan
        self.queued_until[k] = -1
        self.committed[k] = False
        self.in_stop[k] = False
        self.stops[k] = 0
        self.stopped_time[k] = 0.0
        self.fuel[k] = 0.0
        self.co2[k] = 0.0
        self.t_enter[k] = t
        lead = int(self.tail[s])
        self.leader[k] = lead
        self.follower[k] = -1
        if lead >= 0:
            self.follower[lead] = k
        self.tail[s] = k
        self.res["t_enter"][vid] = t

    # --------------------------------------------------------------- advisory
    def _advise(self, t):
        n = self.hw
        if n == 0:
            return
        al = self.alive[:n]
        r = self.routes
        route = self.route[:n]
        rr = np.where(al, route, 0)
        sk = np.where(al, self.stop_k[:n], 0)
        stop_pos = r.stop_pos_m[rr, sk]
        has_sig = r.stop_group[rr, sk] >= 0
        in_range = al & has_sig & (stop_pos - self.pos[:n] <= self.adv.range_m)
        want = in_range & self.complies[:n]
        # Out of range, a driver keeps the last advice while it still covers a stop line ahead
        # (a joint band is valid through all the stop lines it covers); after that, or past the
        # last signal, they drive normally.
        expired = self.stop_k[:n] >= self.adv_until[:n]
        drop = np.flatnonzero(al & self.complies[:n] & ~in_range & expired)
        if drop.size:
            self._schedule(drop, np.full(drop.size, np.nan), t)
            self.then_t[drop] = np.inf
            self.plan_id[drop] = np.nan
        sel = np.flatnonzero(want)
        if sel.size == 0:
            return
        lk = self.link_k[sel]
        rs = route[sel]
        link = r.links[rs, lk]
        offset = self.pos[sel] - r.link_start_m[rs, lk]
        m = self.adv.intersections_ahead
        qd = queue_m = None
        if self.adv.queue_aware:
            queued = self._queued_ahead(n, sel)
            qd = np.zeros((sel.size, m))
            qd[:, 0] = queue_discharge_delay_s(queued)
            queue_m = queued * JAM_SPACING_M
        lim = self.net.link_speed_limit_ms[link]
        desired = self.desired[sel] * lim
        adv = advise(
            self.net,
            self.timing,
            self.params,
            link,
            offset,
            self.v[sel],
            self.epoch + t,
            m,
            qd,
            cruise_ms=desired,
            queue_m=queue_m,
        )
        drv = self.drv
        cmd = commands(
            adv,
            self.v[sel],
            desired,
            t,
            policy=drv.policy,
            update_s=self.adv.update_interval_s,
            max_signals=drv.option_max_signals,
            min_speed_ratio=drv.option_min_speed_ratio,
            hold_on_stop=drv.hold_on_stop,
        )
        # "Prepare to stop" with hold_on_stop: a driver following advice keeps it rather than
        # speed up towards the red light (the stop line still stops them if it is red).
        keep = cmd.keep & ~np.isnan(self.target[sel])
        upd = sel[~keep]
        self.adv_until[upd] = self.stop_k[upd] + cmd.valid_stops[~keep]
        new_id = cmd.plan_id[~keep]
        self._schedule(
            upd, cmd.now_ms[~keep], t, reaction_times(self.plan_id[upd], new_id, drv.reaction_s)
        )
        self.plan_id[upd] = new_id
        self.then_v[upd] = cmd.then_ms[~keep]
        self.then_t[upd] = cmd.then_t_s[~keep]
        self.n_advice_calls += 1
        self.n_advised += int((cmd.valid_stops > 0).sum())

    def _schedule(self, slots, new, t, reaction_s=None):
        """Hand new target speeds (NaN = drive normally) to drivers after their reaction time
        (:func:`schedule_targets`; default: the drivers' ``reaction_s``)."""
        schedule_targets(
            self.target,
            self.pend_v,
            self.pend_t,
            slots,
            new,
            t,
            self.drv.reaction_s if reaction_s is None else reaction_s,
        )

    def _queued_ahead(self, n, sel):
        """Per vehicle in ``sel``: queued vehicles ahead of it on its stream before the same
        stop line (:func:`greenwave.sim.driver.queued_ahead`)."""
        width = self.routes.stop_pos_m.shape[1]
        key = np.where(self.alive[:n], self.stream[:n] * width + self.stop_k[:n], -1)
        return queued_ahead(key, self.pos[:n], self.v[:n])[sel]

    # ---------------------------------------------------------------- physics
    def _step(self, t):
        n = self.hw
        self._sync_signals(t)
        if n == 0:
            return
        al = self.alive[:n]
        n_alive = int(al.sum())
        self.vehicle_steps += n_alive
        if n_alive == 0:
            return
        dt, drv, r = self.dt, self.drv, self.routes
        pos, v = self.pos[:n], self.v[:n]
        route = np.where(al, self.route[:n], 0)
        lk = np.where(al, self.link_k[:n], 0)
        sk = np.where(al, self.stop_k[:n], 0)

        # Advice takes effect after the reaction time.
        pend_t = self.pend_t[:n]
        act = al & (pend_t <= t)
        if act.any():
            self.target[:n][act] = self.pend_v[:n][act]
            pend_t[act] = np.inf
        # A plan's own next step (speed up again before the stop line) needs no reaction.
        then_t = self.then_t[:n]
        resume = al & (then_t <= t) & np.isinf(pend_t)
        if resume.any():
            self.target[:n][resume] = self.then_v[:n][resume]
            then_t[resume] = np.inf
        target = self.target[:n]

        lim = self.net.link_speed_limit_ms[r.links[route, lk]]
        v_des = self.desired[:n] * lim
        krauss = self.krauss

        # Leader.
        lead = self.leader[:n]
        has_l = al & (lead >= 0)
        li = np.where(has_l, lead, 0)
        gap_l = np.where(has_l, pos[li] - drv.length_m - pos, np.inf)
        v_l = np.where(has_l, v[li], 0.0)

        # Who steers towards a target: not drivers released to car following, i.e. those
        # queued before their stop line (until they cross it) and those close behind a leader
        # slower than their target (the driver policy, as in SUMO).
        qu = self.queued_until[:n]
        on_signal = al & (self.net.link_group[r.links[route, lk]] >= 0)
        release_queued(qu, self.stop_k[:n], v, on_signal)
        steer = ~np.isnan(target) & (qu < 0)
        if steer.any():
            steer &= ~(
                has_l
                & follows_leader(
                    target,
                    v,
                    v_l,
                    gap_l,
                    drv.min_gap_m,
                    drv.time_headway_s,
                    drv.accel_ms2,
                    drv.decel_ms2,
                )
            )
        if krauss:
            acc = np.clip((v_des - v) / dt, -drv.decel_ms2, drv.accel_ms2)
        else:
            acc = idm_free(v, v_des, drv.accel_ms2)
        has_t = steer
        if has_t.any():
            # Advised drivers slow down to their target at the constant comfortable rate the
            # advice assumes; towards a higher target they speed up as they always do (IDM's
            # free-road term, towards the target when it is above their desired speed; Krauss's
            # constant a) but not beyond it.  Car following still applies.
            track = np.clip((target - v) / dt, -self.adv.decel_ms2, self.adv.accel_ms2)
            free_up = (
                drv.accel_ms2 if krauss else idm_free(v, np.fmax(v_des, target), drv.accel_ms2)
            )
            acc = np.where(has_t, np.where(track > 0, np.minimum(track, free_up), track), acc)

        if krauss:
            # Stop behind the leader's own stop (its braking distance) after the reaction time.
            v_safe = euler_safe_speed(
                gap_l - drv.min_gap_m + euler_brake_gap(v_l, drv.decel_ms2, dt),
                drv.decel_ms2,
                dt,
                drv.time_headway_s,
            )
            inter = np.where(has_l, np.minimum((v_safe - v) / dt - acc, 0.0), 0.0)
        else:
            inter = np.where(
                has_l,
                idm_interaction(
                    v,
                    v - v_l,
                    gap_l,
                    drv.accel_ms2,
                    drv.decel_ms2,
                    drv.time_headway_s,
                    drv.min_gap_m,
                ),
                0.0,
            )
        amax = np.where(has_l, safe_accel(v, gap_l, v_l, dt), np.inf)

        # Stop line: an obstacle on red, and on amber for drivers who can still stop.
        stop_pos = r.stop_pos_m[route, sk]
        grp = r.stop_group[route, sk]
        has_sig = al & (grp >= 0)
        st = np.where(has_sig, self.sig_state[np.where(has_sig, grp, 0)], GREEN)
        dist = stop_pos - pos
        committed = self.committed[:n]
        committed[st == GREEN] = False
        amber = st == AMBER
        cannot_stop = v * v > 2.0 * self.amber_decel * np.maximum(dist, 1e-9)
        committed |= amber & cannot_stop & ~committed & (dist > 0)
        obstacle = has_sig & ((st == RED) | amber) & ~committed
        # A driver following advice trusts it: a red that turns green before they can reach
        # the line (at their current speed, with a 1 s margin) is no reason to brake.  If the
        # light is still red when they get close, the obstacle (and the safe-speed bound) is back.
        trusting = obstacle & has_t & (st == RED)
        if trusting.any():
            to_green = self.sig_change_at[np.where(has_sig, grp, 0)] - t
            eta = dist / np.maximum(v, 0.1)
            obstacle &= ~(trusting & (eta >= to_green + 1.0))
        if obstacle.any():
            if krauss:
                # SUMO stops at a stop line with no reaction time (Krauss's stopSpeed):
                # braking at b in whole Euler steps, ending at the line.
                v_stop = euler_safe_speed(dist, drv.decel_ms2, dt)
                inter_o = np.minimum((v_stop - v) / dt - acc, 0.0)
            else:
                inter_o = idm_interaction(
                    v,
                    v,
                    dist + drv.min_gap_m,
                    drv.accel_ms2,
                    drv.decel_ms2,
                    drv.time_headway_s,
                    drv.min_gap_m,
                )
            inter = np.where(obstacle, np.minimum(inter, inter_o), inter)
            amax = np.where(obstacle, np.minimum(amax, safe_accel(v, dist, 0.0, dt)), amax)
        acc = acc + inter
        if krauss and drv.sigma > 0.0:
            # Dawdling (drivers not holding an advised speed): up to σ min(v, a) dt slower (a
            # slow driver dawdles in proportion to its speed, so that nobody is kept from
            # starting), never below the comfortable deceleration's reach nor below zero.
            u = self.dawdle_rng.random(n)
            v_max = np.maximum(v + acc * dt, 0.0)
            floor = np.minimum(np.maximum(v - drv.decel_ms2 * dt, 0.0), v_max)
            dawdle = drv.sigma * np.minimum(v_max, drv.accel_ms2) * dt * u
            v_dawdle = np.maximum(v_max - dawdle, floor)
            acc = np.where(has_t, acc, (v_dawdle - v) / dt)
        acc = np.minimum(acc, amax)
        acc = np.maximum(acc, -EMERGENCY_DECEL_MS2)
        acc = np.where(al, acc, 0.0)
        if krauss:
            v_new = np.maximum(v + acc * dt, 0.0)
            x_new, v_new, a_real = euler_step(pos, v, v_new, dt)
        else:
            x_new, v_new, a_real = ballistic_step(pos, v, acc, dt)

        # Stop lines crossed.
        # A car stopping exactly at the line may end a rounding error beyond it: not a crossing.
        crossed = has_sig & (x_new > stop_pos + CROSS_EPS_M)
        if crossed.any():
            red = crossed & (st == RED)
            self.red_violations += int((red & ~committed).sum())
            self.cleared_on_red += int((red & committed).sum())
            self.stop_k[:n][crossed] += 1
            committed[crossed] = False
        # Next link.
        self.link_k[:n] += al & (x_new >= r.link_end_m[route, lk])

        # Measures.
        v_mean = 0.5 * (v + v_new)
        fuel, co2 = fuel_co2_rates(v_mean, a_real, model=self.fuel_model)
        self.fuel[:n] += np.where(al, fuel, 0.0) * dt
        self.co2[:n] += np.where(al, co2, 0.0) * dt
        stopped = al & (v_new <= STOP_SPEED_MS)
        self.stopped_time[:n] += stopped * dt
        in_stop = self.in_stop[:n]
        self.stops[:n] += stopped & ~in_stop
        in_stop[:] = np.where(in_stop, al & (v_new <= STOP_END_SPEED_MS), stopped)

        pos[:] = np.where(al, x_new, pos)
        v[:] = np.where(al, v_new, v)

        # Safety check: gaps after the step.
        if has_l.any():
            g_after = pos[li[has_l]] - drv.length_m - pos[has_l]
            self.min_gap = min(self.min_gap, float(g_after.min()))
            self.collisions += int((g_after < 0).sum())

        if self.record and self.record_routes.size:
            rec = al & np.isin(route, self.record_routes)
            if rec.any():
                ids = np.flatnonzero(rec)
                self.traj.append(
                    (
                        np.full(ids.size, t + dt),
                        self.vid[ids],
                        route[ids],
                        pos[ids].copy(),
                        v[ids].copy(),
                        self.equipped[ids].copy(),
                        ~np.isnan(target[ids]),
                    )
                )

        # Exits.
        done = al & (pos >= r.length_m[route])
        if done.any():
            self._exit(np.flatnonzero(done), t + dt)

    def _exit(self, slots, t_exit):
        vid = self.vid[slots]
        self.res["t_exit"][vid] = t_exit
        self.res["fuel_l"][vid] = self.fuel[slots]
        self.res["co2_g"][vid] = self.co2[slots]
        self.res["stops"][vid] = self.stops[slots]
        self.res["stopped_time_s"][vid] = self.stopped_time[slots]
        f = self.follower[slots]
        f = f[f >= 0]
        self.leader[f] = -1
        streams = self.stream[slots]
        gone = np.isin(self.tail[streams], slots)
        self.tail[streams[gone]] = -1
        self.alive[slots] = False
        self.leader[slots] = -1
        self.follower[slots] = -1
        self.free.extend(int(s) for s in slots)

    # -------------------------------------------------------------------- run
    def run(self) -> SimResult:
        """Run to ``duration_s`` and return per-vehicle results and counters.

        ``vehicles`` columns (one row per arrival): ``vid, entry_link, equipped, complies,
        t_arrival, t_enter, t_exit, completed, counted`` (entered after warm-up and completed),
        ``travel_time_s, distance_m, speed_ms, stops, stopped_time_s, delay_s,
        entry_wait_s, fuel_l, co2_g``.
        """
        self.n_advice_calls = 0
        self.n_advised = 0
        env = simpy.Environment()
        for e in range(len(self.arr.entry_links)):
            env.process(self._arrivals(env, e))
        env.process(self._signals(env))
        if self.penetration > 0:
            env.process(self._advisory(env))
        env.process(self._physics(env))
        wall = time.perf_counter()
        env.run(until=self.duration)
        # Drain: arrivals ended at the horizon; run on in one-minute chunks until the last
        # vehicle has left (or the bound is reached).
        limit = self.duration + self.drain
        while env.now < limit and not self._empty():
            env.run(until=min(env.now + 60.0, limit))
        self.drained = env.now - self.duration
        wall = time.perf_counter() - wall
        return self._result(wall)

    def _empty(self) -> bool:
        """No vehicle on the network, waiting to enter or still to arrive."""
        return (
            int(self.queue_tail.sum()) == self.arr.count
            and bool(np.all(self.queue_head == self.queue_tail))
            and not self.alive[: self.hw].any()
        )

    def _result(self, wall) -> SimResult:
        a, res, r = self.arr, self.res, self.routes
        route = a.entry
        t_enter, t_exit = res["t_enter"], res["t_exit"]
        completed = ~np.isnan(t_exit)
        entered = ~np.isnan(t_enter)
        tt = t_exit - t_enter
        dist = r.length_m[route]
        veh = {
            "vid": np.arange(a.count),
            "entry_link": a.entry_links[a.entry],
            "equipped": self.veh_equipped.copy(),
            "complies": self.veh_complies.copy(),
            "desired_factor": a.desired_factor,
            "t_arrival": a.time_s,
            "t_enter": t_enter,
            "t_exit": t_exit,
            "completed": completed,
            "counted": completed & (t_enter >= self.warmup),
            "entered_after_warmup": entered & (t_enter >= self.warmup),
            "travel_time_s": tt,
            "distance_m": np.where(completed, dist, np.nan),
            "speed_ms": dist / tt,
            "stops": res["stops"],
            "stopped_time_s": res["stopped_time_s"],
            "delay_s": tt - r.freeflow_s[route],
            "entry_wait_s": t_enter - a.time_s,
            "fuel_l": res["fuel_l"],
            "co2_g": res["co2_g"],
        }
        al = self.alive[: self.hw]
        traj = None
        if self.record and self.traj:
            cols = list(zip(*self.traj, strict=True))
            traj = {
                k: np.concatenate(c)
                for k, c in zip(
                    ("t", "vid", "route", "pos", "v", "equipped", "advised"), cols, strict=True
                )
            }
        return SimResult(
            vehicles=veh,
            arrived=int(self.queue_tail.sum()),
            entered=int(entered.sum()),
            completed=int(completed.sum()),
            on_network=int(al.sum()),
            waiting=int((self.queue_tail - self.queue_head).sum()),
            red_violations=self.red_violations,
            cleared_on_red=self.cleared_on_red,
            min_gap_m=self.min_gap,
            collisions=self.collisions,
            vehicle_steps=self.vehicle_steps,
            wall_s=wall,
            warmup_s=self.warmup,
            duration_s=self.duration,
            drained_s=self.drained,
            trajectories=traj,
            extra={
                "advice_calls": self.n_advice_calls,
                "advised": self.n_advised,
                "entry_links": self.arr.entry_links,
            },
        )
