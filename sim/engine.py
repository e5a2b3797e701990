"""The microsimulator: a SimPy environment driving numpy state arrays.

Processes (SimPy)
-----------------
* ``_arrivals`` — one per entry link: vehicles arrive (pre-drawn, :mod:`sim.demand`) and join
  the entry queue of their lane.
* ``_advisory`` — every ``advisory.update_interval_s``: equipped, complying drivers within
  ``advisory.range_m`` of their next stop line ask the core (:func:`greenwave.advice.advise`,
  the same call as the API) for bands and pick a target speed: their desired speed clipped
  into the joint band they take (``drivers.option_*``, :meth:`greenwave.bands.Bands.choose_joint`;
  with ``drivers.hold_on_stop`` a "prepare to stop" keeps the target they have).
* ``_physics`` — every ``dt``: inserts waiting vehicles, then moves all vehicles at once.
  Signal states are refreshed at the start of each step for the groups whose change is due
  (one batched call per step; nothing else reads them between steps).

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

import gc
import math
import time
from dataclasses import dataclass, field

import numpy as np
import simpy

from greenwave.advice import advise
from greenwave.bands import JAM_SPACING_M, queue_discharge_delay_s
from greenwave.movements import LEFT, RIGHT, THROUGH
from greenwave.network import World
from greenwave.scenario import max_dt_s
from greenwave.timing import AMBER, GREEN, RED, PlanTable

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
    past_discharging_line_m,
    queued_ahead,
    queued_on_links,
    reaction_times,
    release_queued,
)
from .fuel import fuel_co2_rates

AMBER_DECEL_MS2 = 3.0
STOP_SPEED_MS = 0.1  # a stop begins at or below this speed (SUMO's waitingCount threshold)
STOP_END_SPEED_MS = 1.0  # ... and ends above this one (hysteresis against creeping in queues)
CROSS_EPS_M = 1e-6  # a front bumper this far past a stop line has crossed it
SIGNAL_EPS_S = 1e-6  # a signal change due this close to now is due now
LOOKAHEAD_HOPS = 4  # links searched beyond a lane's end for the next vehicle ahead ...
LOOKAHEAD_M = 1500.0  # ... up to this far (IDM's pull of a standing queue there is < 1 % of a)
CRITICAL_GAP_LEFT_S = 4.5
"""Critical headway of a permitted left turn at a signal (HCM 2010 ch. 31 / HCM 2016: 4.5 s;
a 45-approach field study (2021) measured 4.87 s on average)."""
SNEAKER_DIST_M = 1.0  # left turners this close to the line when the amber starts clear it
# MOBIL (Kesting, Treiber & Helbing 2007; typical values from Treiber's MOBIL page): safe
# braking bound, incentive threshold and politeness (0-0.5 "realistic"; 0.5: urban drivers
# who let others in).
MOBIL_B_SAFE_MS2 = 4.0
MOBIL_THRESHOLD_MS2 = 0.2
MOBIL_POLITENESS = 0.5
LANE_CHANGE_INTERVAL_S = 1.0  # drivers reconsider their lane once a second ...
LANE_CHANGE_COOLDOWN_S = 3.0  # ... and keep a new lane at least this long
MOBIL_LOOK_M = 100.0  # drivers consider a lane change behind a leader this close ...
MOBIL_SLOWER_MS = 0.5  # ... and this much slower than they want to drive
LANE_CHANGE_MIN_OFFSET_M = 30.0  # no lane changes this close to a junction (either end) ...
LANE_CHANGE_SLOW_MS = 3.0  # ... except, before the line, at queue speed


def straight_links(net, entry_links) -> np.ndarray:
    """(R, Lmax) int: the links straight on (along ``link_next``) from each entry link, -1
    padding; a chain that would come back to a link it passed ends before it."""
    chains = []
    for e in entry_links:
        chain, seen = [int(e)], {int(e)}
        while net.link_next[chain[-1]] >= 0 and int(net.link_next[chain[-1]]) not in seen:
            chain.append(int(net.link_next[chain[-1]]))
            seen.add(chain[-1])
        chains.append(chain)
    lmax = max((len(c) for c in chains), default=1)
    links = np.full((len(chains), lmax), -1, dtype=np.int64)
    for i, c in enumerate(chains):
        links[i, : len(c)] = c
    return links


@dataclass
class Routes:
    """Routes through the network (straight on, or turning), padded to common widths.

    Attributes
    ----------
    links : (R, Lmax) int, link indices along each route (-1 padding)
    link_start_m, link_end_m : (R, Lmax) float, position of each link's ends along the route
    turn : (R, Lmax) int8, movement at the end of each link (LEFT / THROUGH / RIGHT; THROUGH
        at the route's end and in the padding)
    stop_pos_m : (R, Jmax + 1) float, stop lines along the route (+inf padding)
    stop_group : (R, Jmax + 1) int, the signal group of the movement the route takes there
        (-1 padding)
    stop_turn : (R, Jmax + 1) int8, that movement's turn
    stop_vmax_ms : (R, Jmax + 1) float, highest speed to cross the line (the turn's speed; inf
        going straight on)
    stop_opposing : (R, Jmax + 1) int, for a left turn the opposing approach link it yields to
        while that approach has green (-1: none)
    stop_opposing_group : (R, Jmax + 1) int, the group of the opposing approach's through
        movement (-1: none)
    straight_stops : (R, Jmax + 1) int, stop lines from each one on that the route passes
        straight on, up to its next turn (the turn's own stop line not counted)
    stop_link : (R, Jmax + 1) int, the link ending at each stop line (-1 padding)
    advice_stops : (R, Jmax + 1) int, stop lines from each one on that the path of advice
        given there shares with the route: straight on, ``straight_stops``; for a turn there,
        the turn's stop line and then straight on from the street turned into
    length_m, freeflow_s : (R,) float, route length and travel time at the speed limits
    n_turns : (R,) int, turns along the route
    """

    links: np.ndarray
    link_start_m: np.ndarray
    link_end_m: np.ndarray
    turn: np.ndarray
    stop_pos_m: np.ndarray
    stop_group: np.ndarray
    stop_turn: np.ndarray
    stop_vmax_ms: np.ndarray
    stop_opposing: np.ndarray
    stop_opposing_group: np.ndarray
    straight_stops: np.ndarray
    stop_link: np.ndarray
    advice_stops: np.ndarray
    length_m: np.ndarray
    freeflow_s: np.ndarray
    n_turns: np.ndarray

    @classmethod
    def build(cls, net, entry_links) -> Routes:
        """The straight-through route from each entry link (:func:`straight_links`)."""
        return cls.from_links(net, straight_links(net, entry_links))

    @classmethod
    def from_links(cls, net, links) -> Routes:
        """Routes given as link sequences: (R, Lmax) int link indices, -1 padding."""
        links = np.asarray(links, dtype=np.int64)
        r = links.shape[0]
        mv = net.movements
        valid = links >= 0
        safe = np.where(valid, links, 0)
        ln = np.where(valid, net.link_length_m[safe], 0.0)
        ends = np.cumsum(ln, axis=1)
        start = np.where(valid, ends - ln, np.inf)
        end = np.where(valid, ends, np.inf)
        length = ends[:, -1].copy()
        free = np.sum(np.where(valid, ln / net.link_speed_limit_ms[safe], 0.0), axis=1)
        # The movement at the end of each link: (from, to) looked up among the movements.
        nxt = np.concatenate([links[:, 1:], np.full((r, 1), -1, dtype=np.int64)], axis=1)
        has_next = valid & (nxt >= 0)
        n_links = net.n_links
        codes = mv.from_link * n_links + mv.to_link
        order = np.argsort(codes, kind="stable")
        want = np.where(has_next, safe * n_links + np.where(has_next, nxt, 0), -1)
        at = np.clip(np.searchsorted(codes[order], want), 0, max(codes.size - 1, 0))
        m = order[at] if codes.size else np.zeros_like(want)
        found = has_next & (codes.size > 0) & (codes[m] == want) if codes.size else has_next & False
        turn = np.where(found, mv.turn[m], THROUGH).astype(np.int8)
        # The last link of a route ends at its own stop line if it has one (a route ending at
        # a signal); otherwise stop lines are those of the movements taken.
        group = np.where(found, mv.group[m], np.where(valid & ~has_next, net.link_group[safe], -1))
        group = np.where(has_next & ~found, net.link_group[safe], group)
        vmax = np.where(found, mv.turn_speed_ms[m], np.inf)
        opp = np.where(found, mv.opposing_link[m], -1)
        opp_group = np.where(opp >= 0, net.link_group[np.where(opp >= 0, opp, 0)], -1)
        has_stop = valid & (group >= 0)
        jmax = int(has_stop.sum(axis=1).max()) if r else 0
        j = np.cumsum(has_stop, axis=1) - 1
        rows = np.broadcast_to(np.arange(r)[:, None], links.shape)[has_stop]
        cols = j[has_stop]
        stop_pos = np.full((r, jmax + 1), np.inf)
        stop_grp = np.full((r, jmax + 1), -1, dtype=np.int64)
        stop_turn = np.full((r, jmax + 1), THROUGH, dtype=np.int8)
        stop_vmax = np.full((r, jmax + 1), np.inf)
        stop_opp = np.full((r, jmax + 1), -1, dtype=np.int64)
        stop_opp_grp = np.full((r, jmax + 1), -1, dtype=np.int64)
        stop_link = np.full((r, jmax + 1), -1, dtype=np.int64)
        stop_link[rows, cols] = links[has_stop]
        stop_pos[rows, cols] = end[has_stop]
        stop_grp[rows, cols] = group[has_stop]
        stop_turn[rows, cols] = turn[has_stop]
        stop_vmax[rows, cols] = vmax[has_stop]
        stop_opp[rows, cols] = opp[has_stop]
        stop_opp_grp[rows, cols] = opp_group[has_stop]
        n_turns = (valid & (turn != THROUGH)).sum(axis=1)
        straight_stops = np.zeros((r, jmax + 1), dtype=np.int64)
        run = np.zeros(r, dtype=np.int64)
        for col in range(jmax - 1, -1, -1):
            run = np.where((stop_grp[:, col] >= 0) & (stop_turn[:, col] == THROUGH), run + 1, 0)
            straight_stops[:, col] = run
        after = np.concatenate([straight_stops[:, 1:], np.zeros((r, 1), dtype=np.int64)], axis=1)
        advice_stops = np.where(stop_turn == THROUGH, straight_stops, 1 + after)
        return cls(
            links,
            start,
            end,
            turn,
            stop_pos,
            stop_grp,
            stop_turn,
            stop_vmax,
            stop_opp,
            stop_opp_grp,
            straight_stops,
            stop_link,
            advice_stops,
            length,
            free,
            n_turns,
        )


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


KERNELS = ("auto", "numpy", "numba")
PARALLEL_MIN_SLOTS = 2048
"""Below this many vehicle slots the compiled tick runs its serial kernels (same results)."""
RELABEL_INTERVAL_S = 30.0
"""How often (s) a run with the compiled tick stores its vehicles in lane order again, between
physics steps (:meth:`Simulation._relabel`), from ``PARALLEL_MIN_SLOTS`` slots up.  Only speed
depends on it."""


def _pick_kernel(kernel: str) -> str:
    """The physics tick to run: ``"numba"`` (:mod:`sim.fastpath`, compiled; needs the ``fast``
    extra), ``"numpy"`` (the reference) or ``"auto"`` (numba where installed)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "numpy":
        return kernel
    try:
        import numba  # noqa: F401
    except ImportError:
        if kernel == "numba":
            raise ValueError("kernel 'numba' needs numba: pip install 'greenwave[fast]'") from None
        return "numpy"
    return "numba"


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
    record_crossings : bool
        Log every stop-line crossing (``SimResult.extra["crossings"]``: columns ``t_s, vid,
        link, turn, group, state``, the state of the movement's group as the line was
        crossed), for verification.
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
        record_crossings: bool = False,
        kernel: str = "auto",
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
        a = self.arr
        # Straight-through routes (one per entry): what trajectories and plots are drawn along.
        self.straight = Routes.build(self.net, a.entry_links)
        if a.route is None:
            self.routes, self.veh_route = self.straight, a.entry
        else:
            self.routes, self.veh_route = Routes.from_links(self.net, a.route_links), a.route
        # Through routes to their entry index, turning routes to -1 (not drawn along a corridor).
        self.route_entry = np.full(len(self.routes.length_m), -1, dtype=np.int64)
        straight_veh = self.routes.n_turns[self.veh_route] == 0
        self.route_entry[self.veh_route[straight_veh]] = a.entry[straight_veh]
        # Lanes as (link, lane) ids; sorting keys lane id * key_scale + offset on the link.
        self.max_lanes = int(self.net.link_lanes.max())
        self.key_scale = float(self.net.link_length_m.max()) + 10.0
        self.order = np.zeros(0, dtype=np.int64)
        self.sorted_lanes = (np.zeros(0, dtype=np.int64), np.zeros(0))
        self.rear_of_lane = np.full(self.net.n_links * self.max_lanes, -1, dtype=np.int64)
        # Insertion queues: (entry, lane) streams.
        lanes = self.net.link_lanes[a.entry_links]
        self.stream_first = np.concatenate([[0], np.cumsum(lanes)[:-1]])
        n_streams = int(lanes.sum())
        self.n_streams = n_streams
        self.veh_stream = self.stream_first[a.entry] + a.lane
        self.veh_equipped = a.u_equip < self.penetration
        self.veh_complies = self.veh_equipped & (a.u_comply < self.compliance)
        # Per stream, arrivals in time order (indices into the arrival arrays): stream s's
        # are ``stream_arrivals[stream_start[s]:stream_start[s + 1]]``.
        self.stream_arrivals = np.lexsort((a.time_s, self.veh_stream))
        self.stream_start = np.concatenate(
            [[0], np.cumsum(np.bincount(self.veh_stream, minlength=n_streams))]
        )
        self.queue_head = np.zeros(n_streams, dtype=np.int64)  # next to insert
        self.queue_tail = np.zeros(n_streams, dtype=np.int64)  # arrived so far
        self.tail = np.full(n_streams, -1, dtype=np.int64)  # last inserted vehicle's slot
        self.record = record
        if record_routes is None and self.net.corridors:
            # Straight routes that drive the first corridor (both directions): those entering
            # on its first links, else (a corridor over links inside the network) those passing
            # them.  Routes are named by their entry index.
            firsts = [int(c[2][0]) for c in self.net.corridors[:2]]
            rec = np.flatnonzero(np.isin(self.straight.links[:, 0], firsts))
            if rec.size == 0:
                rec = np.flatnonzero(np.isin(self.straight.links, firsts).any(axis=1))
            record_routes = rec.tolist()
        self.record_routes = np.asarray(
            record_routes if record_routes is not None else [], dtype=np.int64
        )
        self._alloc(max(64, min(4096, a.count)))
        self._init_results()
        self.red_violations = 0
        self.cleared_on_red = 0
        self.left_yields = 0  # vehicle-steps a permitted left turn waited for a gap
        self.turn_crossings = 0
        self.turn_overspeed = 0  # turns crossed faster than the turn's speed (+ one step's b dt)
        self.record_crossings = record_crossings
        self.multilane = drv.lane_changing and bool((self.net.link_lanes >= 2).any())
        self.next_lane_change_t = 0.0
        self.lane_changes = 0
        self.crossings: list[tuple] = []
        self.collisions = 0
        self.min_gap = math.inf
        self.vehicle_steps = 0
        self.traj: list[tuple] = []
        self.n_groups = self.timing.plans.n_groups
        self.sig_state = np.zeros(self.n_groups, dtype=np.int8)
        self.sig_change_at = np.zeros(self.n_groups)
        self.sig_next_change = -math.inf
        self.kernel = _pick_kernel(kernel)
        # Signals that follow their plans alone (a PlanTable, no live SPaT): a kernel works
        # their states out (sim.fastpath.sync_plan_signals); otherwise timing.state does.
        tm = self.timing
        self._plan_kernel = (
            self.kernel == "numba"
            and getattr(tm, "spat", True) is None
            and type(getattr(tm, "plans", None)) is PlanTable
        )
        self._ran = False
        self.relabel_interval_s = RELABEL_INTERVAL_S
        self.relabel_min_slots = PARALLEL_MIN_SLOTS
        self.next_relabel_t = 0.0
        if self.kernel == "numba":
            from . import fastpath

            self._fastpath = fastpath
            self._fast = fastpath.kernels()
            self._eta_scratch = np.empty(self.net.n_links)

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
        "lc_until",
        # Per-slot copies of the current link's and next stop line's attributes, refreshed when
        # a vehicle enters, changes link or crosses a line (cheaper than gathering them from
        # the (route, index) tables every tick).
        "link_start",
        "link_end",
        "v_des",
        "stop_pos",
        "stop_vmax",
        "gap_prev",
        "vl_prev",
    )
    _INT = (
        "vid",
        # The lane id each slot had at the last compiled sort (-1: none; sim.fastpath.sort_lanes).
        "sorted_lane",
        "route",
        "stream",
        "lane",
        "lc_count",
        "link",
        "next_turn",
        "next_link",
        "next_link_turn",
        "next2_link",
        "next2_link_turn",
        "stop_grp",
        "stop_turn",
        "stop_opp",
        "stop_opp_grp",
        "link_k",
        "stop_k",
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
        # The slot each vehicle would have without relabelling (_relabel): what ties between
        # vehicles and the dawdling draws go by, so that relabelling changes no result.
        self.vslot = np.arange(cap, dtype=np.int64)
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
        self.vslot = np.concatenate([self.vslot, np.arange(self.cap, new, dtype=np.int64)])
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

    def _sync_signals(self, t, groups=None):
        if t < self.sig_next_change:
            return
        if groups is None and self._plan_kernel:
            tm = self.timing.plans
            soonest = self._fastpath.sync_plan_signals(
                t, self.epoch + t, SIGNAL_EPS_S, self.sig_state, self.sig_change_at, tm.cycle_s,
                tm.offset_s, tm.amber_s, tm.n_greens, tm.green_start_s, tm.green_end_s,
            )  # fmt: skip
            self.sig_next_change = float(soonest)
            return
        if groups is None:
            # Only the groups whose state is due to change (a city's signals change at
            # different instants: nearly every tick some do, few at a time).
            groups = np.flatnonzero(self.sig_change_at <= t + SIGNAL_EPS_S)
        state, ttc, _, _ = self.timing.state(groups, self.epoch + t)
        self.sig_state[groups] = state
        self.sig_change_at[groups] = t + ttc  # per group: simulation time of its next change
        self.sig_next_change = float(self.sig_change_at.min())

    def _advisory(self, env):
        while True:
            # Vehicles entering now are on the road now: this update sees them (the physics
            # tick at the same instant would insert them only after it; SUMO's controller too
            # advises after the step that inserted them).  Inserting twice at one instant
            # inserts nothing more.
            self._insert(env.now)
            self._advise(env.now)
            yield env.timeout(self.adv.update_interval_s)

    def _physics(self, env):
        while True:
            if self.kernel == "numba":
                self._maybe_relabel(env.now)  # between steps: a step never renumbers slots
            self._insert(env.now)
            self._step(env.now)
            yield env.timeout(self.dt)

    # ------------------------------------------------------------- insertion
    def _insert(self, t):
        if self.kernel == "numba":
            self._insert_compiled(t)
            return
        waiting = np.flatnonzero(self.queue_tail > self.queue_head)
        if waiting.size == 0:
            return
        drv = self.drv
        tail = self.rear_vehicles(waiting)
        has = tail >= 0
        tl = np.where(has, tail, 0)
        # Gap from the stream start to the tail vehicle's rear bumper.
        gap = np.where(has, self.pos[tl] - drv.length_m, np.inf)
        vids = self.stream_arrivals[self.stream_start[waiting] + self.queue_head[waiting]]
        route = self.veh_route[vids]
        lim0 = self.net.link_speed_limit_ms[self.routes.links[route, 0]]
        desired = self.arr.desired_factor[vids] * lim0
        # Enter at the desired speed (SUMO's departSpeed="desired"), or slower where the tail
        # vehicle is close: no faster than the gap's IDM-equilibrium speed nor the speed from
        # which the driver stops behind the tail's own stop after their reaction time
        # (insertion_safe_speed).  A tail far ahead, even stopped at a red, does not slow the
        # entry (it used to: tail speed + 2 m/s at any distance, so vehicles behind a queue
        # 300 m ahead entered at 2 m/s and re-accelerated).
        v_gap = np.where(has, (gap - drv.min_gap_m) / drv.time_headway_s, np.inf)
        v_safe = np.where(
            has, self._insertion_safe_speed(gap, np.where(has, self.v[tl], 0.0)), np.inf
        )
        v_ins = np.minimum(desired, np.maximum(np.minimum(v_gap, v_safe), 0.0))
        ok = gap >= drv.min_gap_m + 0.5
        ok &= v_ins >= 0.0
        if ok.any():
            self._enter(waiting[ok], vids[ok], v_ins[ok], t)

    def _insert_compiled(self, t):
        """:meth:`_insert` with the choice of who enters in a kernel (same arithmetic)."""
        if not (self.queue_tail > self.queue_head).any():
            return
        drv, a = self.drv, self.arr
        order, ks = self.sorted_lanes
        streams, vids, v_ins = self._fastpath.insertion(
            self.queue_head, self.queue_tail, self.stream_start, self.stream_arrivals, self.tail,
            self.stream_first, a.entry_links, order, ks, self.key_scale, self.max_lanes,
            self.alive, self.link_k, self.lane, self.route, self.routes.links, self.pos, self.v,
            self.veh_route, self.net.link_speed_limit_ms, a.desired_factor, self.krauss,
            drv.length_m, drv.min_gap_m, drv.time_headway_s, drv.decel_ms2, self.dt,
        )  # fmt: skip
        if streams.size:
            self._enter(streams, vids, v_ins, t)

    def _enter(self, streams, vids, v_in, t):
        """The first waiting vehicle ``vids`` of each of ``streams`` enters at ``v_in``."""
        new = self._add_vehicles(streams, vids, v_in, t)
        self._refresh_link(new)
        self._refresh_stop(new)
        self.gap_prev[new] = np.inf
        self.queue_head[streams] += 1

    def _insertion_safe_speed(self, gap_m, leader_ms):
        """Largest entry speed (m/s) from which a driver, after their reaction time
        (``time_headway_s``), stops at ``decel_ms2`` behind where a leader at ``gap_m``
        (bumper to bumper, m) moving at ``leader_ms`` stops at the same deceleration, keeping
        ``min_gap_m``: Krauss's safe speed (Krauss 1998; SUMO checks an insertion with its
        model's safe speed), in the Euler form SUMO integrates for Krauss drivers and in its
        continuous form ``-b tau + sqrt((b tau)² + v_l² + 2 b g)`` for IDM drivers.  (N,)."""
        drv = self.drv
        b, tau = drv.decel_ms2, drv.time_headway_s
        g = np.asarray(gap_m, dtype=float) - drv.min_gap_m
        if self.krauss:
            return euler_safe_speed(g + euler_brake_gap(leader_ms, b, self.dt), b, self.dt, tau)
        finite = np.isfinite(g)
        room = np.maximum(2.0 * b * np.where(finite, g, 0.0) + leader_ms**2, 0.0)
        v = -b * tau + np.sqrt((b * tau) ** 2 + room)
        return np.where(finite, np.maximum(v, 0.0), np.inf)

    def _refresh_link(self, slots):
        """Copy the current link's attributes of ``slots`` from the route tables."""
        r = self.routes
        if self.kernel == "numba":
            self._fastpath.refresh_link(
                np.asarray(slots, dtype=np.int64), self.route, self.link_k, self.desired,
                r.links, r.link_start_m, r.link_end_m, r.turn, self.net.link_speed_limit_ms,
                self.link, self.link_start, self.link_end, self.next_turn, self.v_des,
                self.next_link, self.next_link_turn, self.next2_link, self.next2_link_turn,
            )  # fmt: skip
            return
        ro = self.route[slots]
        k = np.minimum(self.link_k[slots], r.links.shape[1] - 1)
        link = r.links[ro, k]
        self.link[slots] = link
        self.link_start[slots] = r.link_start_m[ro, k]
        self.link_end[slots] = r.link_end_m[ro, k]
        self.next_turn[slots] = r.turn[ro, k]
        self.v_des[slots] = self.desired[slots] * self.net.link_speed_limit_ms[link]
        # The next two links (-1: none) and the turns at their ends: what a front vehicle looks
        # along for its leader (the route tables are megabytes on a city; these stay in cache).
        lmax = r.links.shape[1]
        k1 = np.minimum(k + 1, lmax - 1)
        self.next_link[slots] = np.where(k + 1 < lmax, r.links[ro, k1], -1)
        self.next_link_turn[slots] = r.turn[ro, k1]
        k2 = np.minimum(k + 2, lmax - 1)
        self.next2_link[slots] = np.where(k + 2 < lmax, r.links[ro, k2], -1)
        self.next2_link_turn[slots] = r.turn[ro, k2]

    def _refresh_stop(self, slots):
        """Copy the next stop line's attributes of ``slots`` from the route tables."""
        r = self.routes
        if self.kernel == "numba":
            self._fastpath.refresh_stop(
                np.asarray(slots, dtype=np.int64), self.route, self.stop_k, r.stop_pos_m,
                r.stop_group, r.stop_turn, r.stop_vmax_ms, r.stop_opposing,
                r.stop_opposing_group, self.stop_pos, self.stop_grp, self.stop_turn,
                self.stop_vmax, self.stop_opp, self.stop_opp_grp,
            )  # fmt: skip
            return
        ro, sk = self.route[slots], self.stop_k[slots]
        self.stop_pos[slots] = r.stop_pos_m[ro, sk]
        self.stop_grp[slots] = r.stop_group[ro, sk]
        self.stop_turn[slots] = r.stop_turn[ro, sk]
        self.stop_vmax[slots] = r.stop_vmax_ms[ro, sk]
        self.stop_opp[slots] = r.stop_opposing[ro, sk]
        self.stop_opp_grp[slots] = r.stop_opposing_group[ro, sk]

    def rear_vehicles(self, streams):
        """The last vehicle (slot, -1: none) on the entry lane of each stream: the one last
        inserted there, or one that changed into the lane behind it (the lanes as last sorted;
        vehicles keep their order on a lane, and one that left the lane since has everyone
        else on it ahead of the stream's start)."""
        tail = self.tail[streams]
        order, ks = self.sorted_lanes
        if order.size == 0:
            return tail
        a = self.arr
        entry = np.searchsorted(self.stream_first, streams, side="right") - 1
        link = a.entry_links[entry]
        lane = streams - self.stream_first[entry]
        tid = link * self.max_lanes + lane
        at = np.minimum(np.searchsorted(ks, tid * self.key_scale), order.size - 1)
        rear = order[at]
        r = self.routes
        ok = (ks[at] < (tid + 1) * self.key_scale) & self.alive[rear]
        k = np.minimum(self.link_k[rear], r.links.shape[1] - 1)  # dead slots may point past
        ok &= (self.lane[rear] == lane) & (r.links[self.route[rear], k] == link)
        use = ok & ((tail < 0) | (self.pos[rear] < self.pos[np.where(tail >= 0, tail, 0)]))
        return np.where(use, rear, tail)

    def _take_slots(self, m):
        """``m`` slots for new vehicles, in the order one-at-a-time insertion would take them:
        freed slots last-freed first, then new ones above the high-water mark."""
        k = min(m, len(self.free))
        reused = self.free[len(self.free) - k :][::-1]
        del self.free[len(self.free) - k :]
        rest = m - k
        while self.hw + rest > self.cap:
            self._grow()
        slots = np.concatenate(
            [np.asarray(reused, dtype=np.int64), np.arange(self.hw, self.hw + rest)]
        )
        self.hw += rest
        return slots

    def _add_vehicles(self, streams, vids, v_in, t):
        """Put vehicles ``vids`` (arrival indices, (m,)) on the network at the start of their
        ``streams`` (distinct, (m,)) at ``v_in`` (m/s, (m,)) at time ``t`` (s).  Returns their
        slots (m,)."""
        k = self._take_slots(vids.size)
        self.alive[k] = True
        self.vid[k] = vids
        self.route[k] = self.veh_route[vids]
        self.stream[k] = streams
        self.lane[k] = self.arr.lane[vids]
        self.lc_until[k] = t + LANE_CHANGE_COOLDOWN_S
        self.lc_count[k] = 0
        self.pos[k] = 0.0
        self.v[k] = v_in
        self.desired[k] = self.arr.desired_factor[vids]
        self.link_k[k] = 0
        self.stop_k[k] = 0
        self.adv_until[k] = 0
        self.equipped[k] = self.veh_equipped[vids]
        self.complies[k] = self.veh_complies[vids]
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
        self.tail[streams] = k
        self.res["t_enter"][vids] = t
        return k

    # --------------------------------------------------------------- advisory
    def _advise(self, t):
        n = self.hw
        if n == 0:
            return
        al = self.alive[:n]
        r = self.routes
        route = self.route[:n]
        # The next stop line's attributes: the per-slot copies of the route tables' entries.
        turn_next = self.stop_turn[:n]
        in_range = al & (self.stop_grp[:n] >= 0)
        in_range &= self.stop_pos[:n] - self.pos[:n] <= self.adv.range_m
        if self.adv.advise_turners:
            in_range &= self._turn_advisable(turn_next, route, in_range)
        else:
            # Straight-on movements only: a driver who turns at the next stop line drives
            # normally up to it.
            in_range &= turn_next == THROUGH
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
        link = self.link[sel]
        offset = self.pos[sel] - self.link_start[sel]
        m = self.adv.intersections_ahead
        qd = queue_m = None
        if self.adv.queue_aware:
            queued = self._queued_ahead(n, sel)
            qd = np.zeros((sel.size, m))
            qd[:, 0] = queue_discharge_delay_s(queued)
            queue_m = queued * JAM_SPACING_M
        lim = self.net.link_speed_limit_ms[link]
        desired = self.desired[sel] * lim
        turn = turn_next[sel]
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
            turn=turn if (turn != THROUGH).any() else None,
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
            past_line_m=self._past_discharging_line(n, link, offset),
            hold_clear_m=self.adv.plan_hold_clear_m,
        )
        # "Prepare to stop" with hold_on_stop: a driver following advice keeps it rather than
        # speed up towards the red light (the stop line still stops them if it is red).
        keep = cmd.keep & ~np.isnan(self.target[sel])
        upd = sel[~keep]
        # Advice holds along the path it was given for: straight on up to the driver's next
        # turn, or through a turn and on along the street turned into, up to the turn after.
        valid = np.minimum(cmd.valid_stops[~keep], r.advice_stops[route[upd], self.stop_k[upd]])
        self.adv_until[upd] = self.stop_k[upd] + valid
        new_id = cmd.plan_id[~keep]
        self._schedule(
            upd, cmd.now_ms[~keep], t, reaction_times(self.plan_id[upd], new_id, drv.reaction_s)
        )
        self.plan_id[upd] = new_id
        self.then_v[upd] = cmd.then_ms[~keep]
        self.then_t[upd] = cmd.then_t_s[~keep]
        self.n_advice_calls += 1
        self.n_advised += int((cmd.valid_stops > 0).sum())

    def _past_discharging_line(self, n, link, offset):
        """:func:`greenwave.sim.driver.past_discharging_line_m` for drivers on ``link`` at
        ``offset`` (None while ``advisory.plan_hold_clear_m`` is 0)."""
        if self.adv.plan_hold_clear_m <= 0.0:
            return None
        on = np.where(self.alive[:n], self.link[:n], -1)
        queued = queued_on_links(self.net.n_links, on, self.v[:n])
        return past_discharging_line_m(self.net, link, offset, queued, self.sig_state == GREEN)

    def _turn_advisable(self, turn_next, route, cand):
        """Turners among ``cand`` (N,) the core can advise on their turn: the stop line the
        straight path from their link meets ends the approach their ``route`` (N,) takes to
        its next stop line (the route turns at no unsignalised node before it) and that
        approach has their movement.  (N,) bool, True for everyone else."""
        ok = np.ones(turn_next.size, dtype=bool)
        ts = np.flatnonzero(cand & (turn_next != THROUGH))
        if ts.size:
            ahead, mv = self.net.movement_ahead(self.link[ts], turn_next[ts])
            approach = self.routes.stop_link[route[ts], self.stop_k[ts]]
            ok[ts] = (ahead == approach) & (mv >= 0)
        return ok

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
        """Per vehicle in ``sel``: queued vehicles ahead of it on its lane before the link's
        stop line (:func:`greenwave.sim.driver.queued_ahead`)."""
        al = self.alive[:n]
        lane_id = self.link[:n] * self.max_lanes + self.lane[:n]
        offs = self.pos[:n] - self.link_start[:n]
        # The lanes as the physics tick sorts them, from its last order (vehicles have moved
        # since, few of them across a link's end or into a lane): about one pass, where
        # sorting from scratch costs n log n.  Not kept as the tick's order; front first.
        order, _, n_al = self._sort(al, lane_id, offs, keep=False)
        key = np.where(al, lane_id, -1)
        return queued_ahead(key, offs, self.v[:n], order=order[:n_al][::-1])[sel]

    # ---------------------------------------------------------------- physics
    def _lane_on(self, link, route, k, lane):
        """Lane a vehicle takes on link ``k`` of its route (index ``link``), coming from
        ``lane``: the leftmost before a left turn, the rightmost (0) before a right turn, else
        the same lane if the link has it (else its leftmost)."""
        nl = self.net.link_lanes[link]
        turn = self.routes.turn[route, k]
        return np.where(turn == LEFT, nl - 1, np.where(turn == RIGHT, 0, np.minimum(lane, nl - 1)))

    def _sort(self, al, lane_id, offs, keep=True):
        """Sort the vehicles by (lane, offset on the link); the last order is the starting
        point, so the stable sort costs about one pass (nobody overtakes on a lane; only
        vehicles that changed link or lane move in the order).  Returns ``order`` (n,) slots,
        ``keys`` (n,) sorted keys and the number of alive vehicles (first in the order);
        ``keep``: the order is the next sort's starting point (the physics tick's sorts)."""
        order = self._order_for(al.size)
        ks = np.where(al, lane_id * self.key_scale + offs, np.inf)[order]
        return self._sorted(order, ks, keep)

    def _order_for(self, n):
        """The last order, extended by slots new since (at its end)."""
        order = self.order
        if order.size < n:
            order = np.concatenate([order, np.arange(order.size, n)])
        return order

    def _sort_compiled(self, al, lane_id, offs):
        """:meth:`_sort` by the kernel :func:`sim.fastpath.sort_lanes` (merges the few
        vehicles that changed lane into the last order; serial); numpy's stable sort when the
        kernel gives up.  Returns what :meth:`_sort` returns and the lane ids in the order
        (n,; -1 after the alive)."""
        n = al.size
        # The last order as it is: the kernel takes slots new since as following it (no
        # concatenation each step while the network fills).
        ok, new, ks, n_al, lane_s = self._fastpath.sort_lanes(
            al, lane_id, offs, self.order, self.key_scale, self.sorted_lane
        )
        if ok:
            self.order = new
            return new, ks, n_al, lane_s
        order = self._order_for(n)
        ks = np.where(al, lane_id * self.key_scale + offs, np.inf)[order]
        order, ks, n_al = self._sorted(order, ks)
        lane_s = np.full(n, -1, dtype=np.int64)
        lane_s[:n_al] = lane_id[order[:n_al]]
        self.sorted_lane[:n] = -1
        self.sorted_lane[order[:n_al]] = lane_s[:n_al]
        return order, ks, n_al, lane_s

    def _sorted(self, order, ks, keep=True):
        """Stable-sort ``order`` by ``ks`` (the keys in that order); keeps the order for the
        next sort if ``keep``.  Returns what :meth:`_sort` returns."""
        o = np.argsort(ks, kind="stable")
        order = order[o]
        if keep:
            self.order = order
        ks = ks[o]
        return order, ks, int(np.searchsorted(ks, np.inf))

    def _change_lanes(self, t, al, route, lk, link, lane_id, offs, v, v_des, obstacle, dist):
        """Discretionary lane changes by MOBIL (Kesting, Treiber & Helbing 2007, "General
        lane-changing model MOBIL for car-following models", TRR 1999): a driver whose next
        movement is straight on moves to an adjacent lane when

        * safety: the new follower would brake at most ``MOBIL_B_SAFE_MS2`` (4 m/s²) and
          neither gap is negative, and
        * incentive: ``ã_c - a_c + p (ã_n - a_n + ã_o - a_o) > MOBIL_THRESHOLD_MS2``, with the
          accelerations of the driver (c), the new follower (n) and the old follower (o) after
          (~) and before the change, politeness ``p = MOBIL_POLITENESS``.

        Accelerations are IDM's with the drivers' parameters (for Krauss drivers too: MOBIL
        needs a smooth acceleration), bounded by a red stop line where there is one.  Drivers
        decide every ``LANE_CHANGE_INTERVAL_S`` when held up (last tick's leader within
        ``MOBIL_LOOK_M`` and slower than they want to drive: a driver at their desired speed
        cannot gain, and the politeness terms alone rarely pass the threshold), not within a
        car length of the line, nor faster than ``LANE_CHANGE_SLOW_MS`` within
        ``LANE_CHANGE_MIN_OFFSET_M`` of it, nor within ``LANE_CHANGE_MIN_OFFSET_M`` after
        the junction at the link's start (solid lines at junctions; there the safety check
        would not see a follower still on the link before, nor a vehicle just across the
        junction ahead), and not again for ``LANE_CHANGE_COOLDOWN_S``; of two drivers aiming
        at the same gap only the one further ahead changes.  Updates ``self.lane`` and
        ``lane_id`` in place; returns the number of changes.
        """
        net, drv = self.net, self.drv
        nl = net.link_lanes[link]
        m = al.size
        cand = al & (nl >= 2) & (self.next_turn[:m] == THROUGH) & (self.lc_until[:m] <= t)
        # Near the line only at queue speed: a slow driver (e.g. queued behind a left turner
        # waiting for its arrow) may still pass, a fast one would cut in just behind a vehicle
        # crossing into the next link, which the check below does not see.
        near_end = (self.link_end[:m] - self.pos[:m]) <= LANE_CHANGE_MIN_OFFSET_M
        cand &= ~near_end | (v < LANE_CHANGE_SLOW_MS)
        cand &= (self.link_end[:m] - self.pos[:m]) > drv.length_m
        cand &= offs > LANE_CHANGE_MIN_OFFSET_M
        # Only drivers held up by a slower leader close ahead (last tick's) look for a lane.
        cand &= (self.gap_prev[:m] < MOBIL_LOOK_M) & (self.vl_prev[:m] < v_des - MOBIL_SLOWER_MS)
        if not cand.any():
            return 0
        order, ks, n_al = self._sort(al, lane_id, offs)
        pos_in = np.empty(al.size, dtype=np.int64)
        pos_in[order] = np.arange(order.size)
        lane_s = lane_id[order]
        length, scale = drv.length_m, self.key_scale

        def idm(vv, vd, gap, vl):
            out = idm_free(vv, vd, drv.accel_ms2)
            lead = np.isfinite(gap)
            inter = idm_interaction(
                vv,
                vv - vl,
                np.where(lead, gap, 1.0),
                drv.accel_ms2,
                drv.decel_ms2,
                drv.time_headway_s,
                drv.min_gap_m,
            )
            return out + np.where(lead, inter, 0.0)

        drv_dt = self.dt

        def krauss_safe(gap, vl):
            """Krauss safe speed behind a leader at ``gap`` driving ``vl`` (as in _step)."""
            g = np.where(np.isfinite(gap), gap, 1e6)
            return euler_safe_speed(
                g - drv.min_gap_m + euler_brake_gap(vl, drv.decel_ms2, drv_dt),
                drv.decel_ms2,
                drv_dt,
                drv.time_headway_s,
            )

        def neighbour(i_sorted, lane_of):
            """Slot at sorted index ``i_sorted`` if it is alive and on ``lane_of``, else -1."""
            ok = (i_sorted >= 0) & (i_sorted < n_al)
            ii = np.clip(i_sorted, 0, max(n_al - 1, 0))
            ok &= lane_s[ii] == lane_of
            return np.where(ok, order[ii], -1)

        def gap_to(front, back):
            """Gap (m) from ``back`` to ``front`` on the same link (inf without ``front``)."""
            f = front >= 0
            fi = np.where(f, front, 0)
            return np.where(f, offs[fi] - offs[back] - length, np.inf)

        c = np.flatnonzero(cand)
        ic = pos_in[c]
        lead = neighbour(ic + 1, lane_id[c])
        back = neighbour(ic - 1, lane_id[c])
        g_c = gap_to(lead, c)
        vl_c = np.where(lead >= 0, v[np.where(lead >= 0, lead, 0)], 0.0)
        stop_acc = np.where(
            obstacle[c],
            idm_interaction(
                v[c],
                v[c],
                dist[c] + drv.min_gap_m,
                drv.accel_ms2,
                drv.decel_ms2,
                drv.time_headway_s,
                drv.min_gap_m,
            )
            + idm_free(v[c], v_des[c], drv.accel_ms2),
            np.inf,
        )
        a_c = np.minimum(idm(v[c], v_des[c], g_c, vl_c), stop_acc)
        # The old follower: behind the driver now, behind the driver's leader after.
        bo = back >= 0
        bi = np.where(bo, back, 0)
        a_o = np.where(bo, idm(v[bi], v_des[bi], gap_to(c, bi), v[c]), 0.0)
        a_o_new = np.where(
            bo, idm(v[bi], v_des[bi], g_c + length + np.where(bo, gap_to(c, bi), 0.0), vl_c), 0.0
        )
        best_gain = np.full(c.size, -np.inf)
        best_lane = np.full(c.size, -1, dtype=np.int64)
        for side in (-1, 1):
            new_lane = self.lane[c] + side
            ok = (new_lane >= 0) & (new_lane < nl[c])
            tid = link[c] * self.max_lanes + new_lane
            at = np.searchsorted(ks[:n_al], tid * scale + offs[c])
            nlead = neighbour(at, tid)
            nback = neighbour(at - 1, tid)
            g_new = gap_to(nlead, c)
            nb = nback >= 0
            ni = np.where(nb, nback, 0)
            g_back = np.where(nb, offs[c] - offs[ni] - length, np.inf)
            vl_new = np.where(nlead >= 0, v[np.where(nlead >= 0, nlead, 0)], 0.0)
            a_c_new = np.minimum(idm(v[c], v_des[c], g_new, vl_new), stop_acc)
            # The new follower: behind its leader now, behind the driver after.
            g_n_now = np.where(nb, np.where(nlead >= 0, g_back + length + g_new, np.inf), np.inf)
            a_n = np.where(nb, idm(v[ni], v_des[ni], g_n_now, vl_new), 0.0)
            a_n_new = np.where(nb, idm(v[ni], v_des[ni], g_back, v[c]), 0.0)
            safe = (g_new > 0.0) & (g_back > 0.0) & (a_n_new >= -MOBIL_B_SAFE_MS2)
            if self.krauss:
                # The criterion in the simulator's own car following: Krauss drivers (the new
                # follower behind the driver, the driver behind its new leader) must reach
                # their safe speed braking at most b_safe.
                safe &= ~nb | (v[ni] - krauss_safe(g_back, v[c]) <= MOBIL_B_SAFE_MS2 * drv_dt)
                safe &= (nlead < 0) | (
                    v[c] - krauss_safe(g_new, vl_new) <= MOBIL_B_SAFE_MS2 * drv_dt
                )
            gain = a_c_new - a_c + MOBIL_POLITENESS * (a_n_new - a_n + a_o_new - a_o)
            good = ok & safe & (gain > MOBIL_THRESHOLD_MS2) & (gain > best_gain)
            best_gain = np.where(good, gain, best_gain)
            best_lane = np.where(good, new_lane, best_lane)
        go = best_lane >= 0
        if not go.any():
            return 0
        return self._apply_lane_changes(t, c[go], best_lane[go], link, lane_id, offs, ks, n_al).size

    def _apply_lane_changes(self, t, movers, new_lane, link, lane_id, offs, ks, n_al):
        """Move ``movers`` (slots) to ``new_lane``, one driver per target gap (the one further
        ahead); ``ks[:n_al]`` the sorted lane keys.  Updates ``lane_id`` in place; returns the
        slots that changed lane."""
        tkey = link[movers] * self.max_lanes + new_lane
        at = np.searchsorted(ks[:n_al], tkey * self.key_scale + offs[movers])
        o = np.lexsort((-offs[movers], at, tkey))
        first = np.ones(o.size, dtype=bool)
        first[1:] = (tkey[o][1:] != tkey[o][:-1]) | (at[o][1:] != at[o][:-1])
        movers, new_lane = movers[o][first], new_lane[o][first]
        self.lane[movers] = new_lane
        lane_id[movers] = link[movers] * self.max_lanes + new_lane
        self.lc_until[movers] = t + LANE_CHANGE_COOLDOWN_S
        self.lc_count[movers] += 1
        self.lane_changes += movers.size
        return movers

    def _apply_lane_changes_compiled(self, t, best, link, lane_id, offs, ks, n_al):
        """:meth:`_apply_lane_changes` in a kernel, from MOBIL's choice ``best`` (n,)."""
        movers = self._fastpath.apply_lane_changes(
            t, best, ks, n_al, link, self.lane, lane_id, offs, self.lc_until, self.lc_count,
            self.key_scale, self.max_lanes, self.vslot,
        )  # fmt: skip
        self.lane_changes += movers.size
        return movers

    def _leaders(self, al, route, lk, link, lane_id, pos, offs, v, claims):
        """Every vehicle's leader: the next vehicle ahead on its lane, or beyond its link's end.

        Vehicles are sorted by (lane, offset on the link) every tick (:meth:`_sort`).  The
        front vehicle of a lane
        looks along its route at the lane it will take next (up to ``LOOKAHEAD_HOPS`` links
        ahead) for the last vehicle there.  Front vehicles that will enter the same lane and may
        cross their stop line now (``claims``) merge in turn, the one nearest to its link's end
        first: each follows the one before it (a *virtual* leader: on another lane until the
        merge, so not counted in the safety check).

        Returns ``leader`` (N,) slot or -1, ``gap`` (N,) bumper-to-bumper gap (m, inf: none),
        ``v_l`` (N,) leader speed (0 for a leader that blocks the junction), ``real`` (N,)
        bool: the leader is on the vehicle's lane (this link or one ahead on its route), and
        ``gap_phys`` (N,) the gap along the lane without the junction rule (negative while a
        leader from another approach still sticks out across the line), for the safety
        check.
        """
        n = al.size
        r, net, length = self.routes, self.net, self.drv.length_m
        order, ks, n_al = self._sort(al, lane_id, offs)
        self.sorted_lanes = (order[:n_al], ks[:n_al])
        lane_s = lane_id[order[:n_al]]
        leader = np.full(n, -1, dtype=np.int64)
        same = lane_s[1:] == lane_s[:-1]
        # The last vehicle of every lane (the first of its group in the order), by lane id.
        rear_of = self.rear_of_lane
        first = np.ones(n_al, dtype=bool)
        first[1:] = ~same
        lanes_here = lane_s[first]
        rear_of[lanes_here] = order[:n_al][first]
        leader[order[: n_al - 1][same]] = order[1:n_al][same]
        has = leader >= 0
        li = np.where(has, leader, 0)
        # Vehicles that came the same way in the same lanes (same route and entry lane) measure
        # along the route (exactly as a single-file stream); others on the link.
        stream = self.stream[:n]
        kept = self.lc_count[:n] == 0
        same_path = has & (route[li] == route) & (stream[li] == stream) & kept & kept[li]
        gap = np.where(same_path, pos[li] - pos, np.where(has, offs[li] - offs, np.inf)) - np.where(
            has, length, 0.0
        )
        real = has.copy()
        gap_phys = gap.copy()  # overlap on the lane, for the safety check (not clamped)
        in_junction = np.zeros(n, dtype=bool)
        # Front vehicles: the lane they enter next.
        heads = np.flatnonzero(al & ~has)
        lmax = r.links.shape[1]
        if heads.size:
            rh = route[heads]
            k1 = lk[heads] + 1
            nxt = np.where(k1 < lmax, r.links[rh, np.minimum(k1, lmax - 1)], -1)
            go = nxt >= 0
            heads, rh, k1, nxt = heads[go], rh[go], k1[go], nxt[go]
        if heads.size:
            dist_end = r.link_end_m[rh, k1 - 1] - pos[heads]
            lane_next = self._lane_on(nxt, rh, k1, self.lane[heads])
            target = nxt * self.max_lanes + lane_next
            # The last vehicle on that lane (or on the lanes after it, along the route).
            found = np.full(heads.size, -1, dtype=np.int64)
            extra = dist_end.copy()  # distance to the start of the link being searched
            cur_link, cur_lane, cur_k = nxt, lane_next, k1
            todo = np.arange(heads.size)
            for _ in range(LOOKAHEAD_HOPS):
                rear = rear_of[cur_link[todo] * self.max_lanes + cur_lane[todo]]
                hit = rear >= 0
                found[todo[hit]] = rear[hit]
                todo = todo[~hit]
                if todo.size == 0:
                    break
                # Not found: search the next link of the route (while within range).
                extra[todo] += net.link_length_m[cur_link[todo]]
                k2 = cur_k[todo] + 1
                nx2 = np.where(k2 < lmax, r.links[rh[todo], np.minimum(k2, lmax - 1)], -1)
                keep = (nx2 >= 0) & (extra[todo] < LOOKAHEAD_M)
                todo, k2, nx2 = todo[keep], k2[keep], nx2[keep]
                if todo.size == 0:
                    break
                cur_lane = cur_lane.copy()
                cur_link = cur_link.copy()
                cur_k = cur_k.copy()
                cur_lane[todo] = self._lane_on(nx2, rh[todo], k2, cur_lane[todo])
                cur_link[todo] = nx2
                cur_k[todo] = k2
            f = found >= 0
            fi = np.where(f, found, 0)
            # Intersections have no width: a leader that came another way (another route or
            # lane) and has only just entered the link has its rear still on its own approach,
            # across this vehicle's path at the stop line.  This vehicle may come up to the
            # line, not beyond, until the leader's rear has cleared it.
            same_h = (route[fi] == rh) & (stream[fi] == stream[heads]) & kept[fi] & kept[heads]
            g_phys_h = np.where(same_h, pos[fi] - pos[heads], extra + offs[fi]) - length
            g_phys_h = np.where(f, g_phys_h, np.inf)
            g_far = np.where(same_h, g_phys_h, extra + np.maximum(offs[fi] - length, 0.0))
            g_far = np.where(f, g_far, np.inf)
            # Such a leader is, for this vehicle, a standing obstacle at the line (its speed
            # along its own path is no speed along this one): no credit for its braking.
            in_junction_h = f & ~same_h & (offs[fi] < length)
            lead_h = found.copy()
            real_h = f.copy()
            # Merging: claimants of the same lane follow each other, nearest to the end first.
            c = claims[heads]
            if np.count_nonzero(c) > 1:
                ci = np.flatnonzero(c)
                srt = ci[np.lexsort((dist_end[ci], target[ci]))]
                follow = target[srt[1:]] == target[srt[:-1]]
                me, before = srt[1:][follow], srt[:-1][follow]
                g_v = dist_end[me] - dist_end[before] - length
                closer = g_v < g_far[me]
                me, before, g_v = me[closer], before[closer], g_v[closer]
                lead_h[me] = heads[before]
                g_far[me] = g_v
                real_h[me] = False
            leader[heads] = lead_h
            gap[heads] = g_far
            real[heads] = real_h
            gap_phys[heads] = np.where(real_h, g_phys_h, np.inf)
            in_junction[heads] = in_junction_h & real_h
        rear_of[lanes_here] = -1  # leave the table empty for the next tick
        has = leader >= 0
        v_l = np.where(has & ~in_junction, v[np.where(has, leader, 0)], 0.0)
        return leader, gap, v_l, real & has, gap_phys

    def _oncoming_eta(self, al, link, dist_end, v, moving):
        """Per link: the soonest time (s) a vehicle on it can reach its stop line, among those
        that will cross (``moving``: not held by a red light and not turning left); inf where
        none.  What a permitted left turn from the opposite approach waits for."""
        eta = np.full(self.net.n_links, np.inf)
        sel = al & moving
        if sel.any():
            # Soonest arrival: accelerating at a from v up to the desired speed (a standing car
            # 7 m from the line arrives in 3 s, not never; a cruising one at d / v).
            a = self.drv.accel_ms2
            vs, d = v[sel], np.maximum(dist_end[sel], 0.0)
            vd = np.maximum(self.v_des[: al.size][sel], vs)
            d_acc = (vd * vd - vs * vs) / (2.0 * a)  # distance to reach the desired speed
            t_acc = (np.sqrt(vs * vs + 2.0 * a * d) - vs) / a
            t = np.where(d <= d_acc, t_acc, (vd - vs) / a + (d - d_acc) / np.maximum(vd, 0.1))
            np.minimum.at(eta, link[sel], t)
        return eta

    def _step(self, t):
        if self.kernel == "numba":
            self._step_compiled(t)
            return
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
        route = self.route[:n]  # dead slots keep a valid route; masked by ``al``
        lk = self.link_k[:n]
        link = self.link[:n]
        offs = pos - self.link_start[:n]
        lane_id = link * self.max_lanes + self.lane[:n]

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

        v_des = self.v_des[:n]
        krauss = self.krauss

        # Stop line: an obstacle on red, and on amber for drivers who can still stop.
        stop_pos = self.stop_pos[:n]
        grp = self.stop_grp[:n]
        has_sig = al & (grp >= 0)
        st = np.where(has_sig, self.sig_state[np.where(has_sig, grp, 0)], GREEN)
        dist = stop_pos - pos
        committed = self.committed[:n]
        committed[st == GREEN] = False
        amber = st == AMBER
        if krauss:
            # Krauss drivers brake as late as they can, in whole Euler steps: judged by the
            # continuous v² / 2b they would seem unable to stop a step into braking.
            # Able to stop: braking at b this step reaches a speed from which whole-step braking
            # stops at the line.
            v_next = v - drv.decel_ms2 * dt
            cannot_stop = v_next > euler_safe_speed(np.maximum(dist, 0.0), drv.decel_ms2, dt) + 1e-9
        else:
            cannot_stop = v * v > 2.0 * self.amber_decel * np.maximum(dist, 1e-9)
        committed |= amber & cannot_stop & ~committed & (dist > 0)
        stop_turn = np.where(has_sig, self.stop_turn[:n], THROUGH)
        left = has_sig & (stop_turn == LEFT)
        if left.any():
            # Left turners waiting at the line when their green ends clear the junction in
            # the amber and all-red after the oncoming traffic (HCM's "sneakers").
            committed |= amber & left & (dist < SNEAKER_DIST_M)
        obstacle = has_sig & ((st == RED) | amber) & ~committed
        dist_end = self.link_end[:n] - pos
        if left.any():
            # Permitted left turns yield to the oncoming approach while it has green: they
            # wait at the line until no oncoming vehicle is due within the critical gap.
            opp = np.where(left, self.stop_opp[:n], -1)
            opp_g = np.where(left, self.stop_opp_grp[:n], -1)
            permitted = left & (opp >= 0) & (opp_g >= 0)
            permitted &= self.sig_state[np.where(opp_g >= 0, opp_g, 0)] != RED
            if permitted.any():
                moving = has_sig & ~obstacle & (stop_turn != LEFT)
                eta = self._oncoming_eta(al, link, dist_end, v, moving)
                yields = permitted & (eta[np.where(opp >= 0, opp, 0)] < CRITICAL_GAP_LEFT_S)
                self.left_yields += int((yields & ~obstacle).sum())
                obstacle |= yields

        # Lane changes (every LANE_CHANGE_INTERVAL_S), then leaders on the lanes.
        if self.multilane and t + 1e-9 >= self.next_lane_change_t:
            self.next_lane_change_t = t + LANE_CHANGE_INTERVAL_S
            self._change_lanes(t, al, route, lk, link, lane_id, offs, v, v_des, obstacle, dist)
        # Leader (on the lane, or beyond the link's end; merges in turn).
        claims = al & ~obstacle
        leader, gap_l, v_l, real_l, gap_phys = self._leaders(
            al, route, lk, link, lane_id, pos, offs, v, claims
        )
        has_l = leader >= 0
        li = np.where(has_l, leader, 0)
        self.gap_prev[:n] = gap_l
        self.vl_prev[:n] = v_l

        # Who steers towards a target: not drivers released to car following, i.e. those
        # queued before their stop line (until they cross it) and those close behind a leader
        # slower than their target (the driver policy, as in SUMO).
        qu = self.queued_until[:n]
        on_signal = al & (self.net.link_group[link] >= 0)
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
        # The ballistic safe-speed bound belongs to IDM's ballistic update; Krauss's safe speeds
        # are already the Euler-step ones (a ballistic bound on an Euler step brakes harder
        # than b before a red light, more than the Krauss followers allow for).
        if krauss:
            amax = np.full(n, np.inf)
        else:
            amax = np.where(has_l, safe_accel(v, gap_l, v_l, dt), np.inf)

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
            if not krauss:
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
        # Turning movements are crossed at the turn's speed: brake at b to reach it at the line
        # (the distance left after this step at the current speed, so that the line is not
        # passed above it).
        vmax_turn = np.where(has_sig, self.stop_vmax[:n], np.inf)
        turning = np.isfinite(vmax_turn)
        if turning.any():
            room = np.maximum(dist - v * dt, 0.0)
            v_allow = np.sqrt(np.where(turning, vmax_turn, 0.0) ** 2 + 2.0 * drv.decel_ms2 * room)
            amax = np.where(turning, np.minimum(amax, (v_allow - v) / dt), amax)
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
            if turning.any():
                self.turn_crossings += int((crossed & turning).sum())
                over = crossed & turning & (v_new > vmax_turn + drv.decel_ms2 * dt + 1e-9)
                self.turn_overspeed += int(over.sum())
            self._crossed(t, np.flatnonzero(crossed), link, stop_turn, grp, st)
        # Next link, and the lane taken on it.
        # (as for stop lines: a car stopped exactly at its line is still on its link)
        moved = al & (x_new > self.link_end[:n] + CROSS_EPS_M)
        if moved.any():
            self._moved(np.flatnonzero(moved))

        # Measures: emissions at the speed the position update moves with over the step (the
        # step's mean for the ballistic update; the new speed for Krauss's Euler update, as
        # SUMO evaluates its emission models: on SUMO's own trajectories this reproduces its
        # HBEFA3 fuel exactly, the mean speed gives about 3 % less on a stop-and-go trip).
        v_move = v_new if krauss else 0.5 * (v + v_new)
        fuel, co2 = fuel_co2_rates(v_move, a_real, model=self.fuel_model)
        self.fuel[:n] += np.where(al, fuel, 0.0) * dt
        self.co2[:n] += np.where(al, co2, 0.0) * dt
        stopped = al & (v_new <= STOP_SPEED_MS)
        self.stopped_time[:n] += stopped * dt
        in_stop = self.in_stop[:n]
        self.stops[:n] += stopped & ~in_stop
        in_stop[:] = np.where(in_stop, al & (v_new <= STOP_END_SPEED_MS), stopped)

        # Safety check: gaps after the step to leaders on the same lane.
        # A leader beyond the link's end counts once this vehicle has crossed onto its lane.
        chk = real_l & al & (np.isfinite(gap_phys))
        chk &= (lane_id[li] == lane_id) | (x_new > self.link_end[:n] + CROSS_EPS_M)
        if chk.any():
            g_after = gap_phys[chk] + (x_new[li[chk]] - pos[li[chk]]) - (x_new[chk] - pos[chk])
            self.min_gap = min(self.min_gap, float(g_after.min()))
            self.collisions += int((g_after < -CROSS_EPS_M).sum())

        pos[:] = np.where(al, x_new, pos)
        v[:] = np.where(al, v_new, v)

        if self.record and self.record_routes.size:
            self._record(t, al, route, pos, v, target)

        # Exits.
        done = al & (pos >= r.length_m[route])
        if done.any():
            self._exit(np.flatnonzero(done), t + dt)

    def _crossed(self, t, ids, link, stop_turn, grp, st):
        """Vehicles ``ids`` crossed their stop line in the step from ``t``: on to the next."""
        self._record_crossings(t, ids, link, stop_turn, grp, st)
        self.stop_k[ids] += 1
        self.committed[ids] = False
        self._refresh_stop(ids)

    def _record_crossings(self, t, ids, link, stop_turn, grp, st):
        """Keep who crossed which stop line when, on what signal (``record_crossings``)."""
        if self.record_crossings:
            ids = self._in_vslot_order(ids)
            self.crossings.append(
                (
                    np.full(ids.size, t + self.dt),
                    self.vid[ids],
                    link[ids],
                    stop_turn[ids],
                    grp[ids],
                    st[ids],
                )
            )

    def _moved(self, mv):
        """Vehicles ``mv`` passed their link's end: onto the next link of the route, and the
        lane taken on it (the others leave the network in this step)."""
        r = self.routes
        k_new = self.link_k[mv] + 1
        self.link_k[mv] = k_new
        lmax = r.links.shape[1]
        kk = np.minimum(k_new, lmax - 1)
        route = self.route[mv]
        nl = r.links[route, kk]
        ok = (k_new < lmax) & (nl >= 0)
        self.lane[mv[ok]] = self._lane_on(nl[ok], route[ok], kk[ok], self.lane[mv[ok]])
        self._refresh_link(mv[ok])

    def _record(self, t, al, route, pos, v, target):
        """Trajectory samples at ``t + dt`` of the vehicles on the recorded routes."""
        entry = self.route_entry[route]
        rec = al & (entry >= 0) & np.isin(entry, self.record_routes)
        if rec.any():
            ids = self._in_vslot_order(np.flatnonzero(rec))
            self.traj.append(
                (
                    np.full(ids.size, t + self.dt),
                    self.vid[ids],
                    entry[ids],
                    pos[ids].copy(),
                    v[ids].copy(),
                    self.equipped[ids].copy(),
                    ~np.isnan(target[ids]),
                )
            )

    def _relabel(self):
        """Store the vehicles in the last lane order: slot j takes what slot ``order[j]`` of
        the last sort holds (the vehicles then alive in lane order, then the slots empty then,
        then those taken since; exits and entries since that sort sit where their slots were),
        in every per-slot array, and the slot numbers kept elsewhere (stream tails, the free
        list, the orders) follow.

        Why: a vehicle's leader, its neighbours in the lanes beside it and the vehicles it
        merges with are then near it in memory (most often the next slot), and the two threads'
        halves of each per-vehicle loop read mostly their own half, where slots in the order
        they were taken (entries, reuse of freed slots) send every leader lookup to a random
        place, half of them in the other core's cache.  The order drifts as vehicles change
        link, so it is redone every ``relabel_interval_s``.

        Nothing else changes: ties between vehicles and the dawdling draws go by ``vslot``,
        the slot a vehicle would have had without relabelling, which moves with it."""
        n = self.hw
        perm = self._order_for(n)  # a permutation of range(n)
        inv = np.empty(n, dtype=np.int64)
        inv[perm] = np.arange(n)
        for k in self._FLOAT + self._INT + self._BOOL + ("vslot",):
            a = getattr(self, k)
            a[:n] = a[perm]
        self.tail = np.where(self.tail >= 0, inv[np.maximum(self.tail, 0)], -1)
        if self.free:
            self.free = inv[np.asarray(self.free, dtype=np.int64)].tolist()
        o, ks = self.sorted_lanes
        self.sorted_lanes = (inv[o], ks)
        self.order = np.arange(n, dtype=np.int64)

    def _maybe_relabel(self, t):
        """:meth:`_relabel` when due (every ``relabel_interval_s`` from ``relabel_min_slots``
        slots), before the physics step at ``t`` and its insertion."""
        n = self.hw
        if n > 0 and n >= self.relabel_min_slots and t + 1e-9 >= self.next_relabel_t:
            self.next_relabel_t = t + self.relabel_interval_s
            self._relabel()

    def _in_vslot_order(self, slots):
        """``slots`` in the order they would have had without relabelling."""
        return slots[np.argsort(self.vslot[slots], kind="stable")]

    def _step_compiled(self, t):
        """:meth:`_step` with its per-vehicle work in the compiled kernels of
        :mod:`sim.fastpath` (same arithmetic, same order: the same motion bit for bit)."""
        n = self.hw
        self._sync_signals(t)
        if n == 0:
            return
        al = self.alive[:n]
        n_alive = int(np.count_nonzero(al))
        self.vehicle_steps += n_alive
        if n_alive == 0:
            return
        # Threads pay off only with many vehicles (a parallel launch costs ~10 us per kernel).
        fp = self._fast if n >= PARALLEL_MIN_SLOTS else self._fastpath.SERIAL
        dt, drv, r, net = self.dt, self.drv, self.routes, self.net
        pos, v = self.pos[:n], self.v[:n]
        route, lk, link = self.route[:n], self.link_k[:n], self.link[:n]
        grp, committed, target = self.stop_grp[:n], self.committed[:n], self.target[:n]
        v_des = self.v_des[:n]
        offs, lane_id, st, dist, stop_turn, obstacle, yielded = fp.prepare(
            t, dt, self.krauss, drv.decel_ms2, self.amber_decel, al, pos, v, v_des, target,
            self.pend_v[:n], self.pend_t[:n], self.then_v[:n], self.then_t[:n],
            self.stop_pos[:n], grp, self.stop_turn[:n], self.stop_opp[:n],
            self.stop_opp_grp[:n], link, self.link_start[:n], self.link_end[:n], self.lane[:n],
            self.max_lanes, self.sig_state, committed, drv.accel_ms2, net.n_links,
            self._eta_scratch,
        )  # fmt: skip
        self.left_yields += yielded
        lanes = None  # this step's lane order, once sorted
        if self.multilane and t + 1e-9 >= self.next_lane_change_t:
            self.next_lane_change_t = t + LANE_CHANGE_INTERVAL_S
            cand = fp.lane_change_candidates(
                t, al, link, self.next_turn[:n], self.lc_until[:n], net.link_lanes,
                self.link_end[:n], pos, offs, v, v_des, self.gap_prev[:n], self.vl_prev[:n],
                drv.length_m,
            )  # fmt: skip
            if cand.any():
                lanes = self._sort_compiled(al, lane_id, offs)
                order, ks, n_al, lane_s = lanes
                best = fp.lane_change_choice(
                    cand, order, ks, n_al, lane_s, lane_id, self.lane[:n], link, net.link_lanes,
                    offs, v, v_des, obstacle, dist, self.key_scale, self.max_lanes, self.krauss, dt,
                    drv.accel_ms2, drv.decel_ms2, drv.time_headway_s, drv.min_gap_m,
                    drv.length_m,
                )  # fmt: skip
                movers = self._apply_lane_changes_compiled(t, best, link, lane_id, offs, ks, n_al)
                if movers.size:
                    # Only those who changed lane move in the order: no new sort.
                    order, ks, lane_s = self._fastpath.resort_lanes(
                        order, ks, lane_s, n_al, movers, lane_id, offs, self.key_scale,
                        self.sorted_lane, self.max_lanes,
                    )  # fmt: skip
                    self.order = order
                    lanes = order, ks, n_al, lane_s
        if lanes is None:
            lanes = self._sort_compiled(al, lane_id, offs)
        order, ks, n_al, lane_s = lanes
        self.sorted_lanes = (order[:n_al], ks[:n_al])
        leader, gap_l, v_l, real_l, gap_phys = fp.leaders(
            al, order, n_al, lane_s, route, lk, pos, offs, v, self.lane[:n], self.stream[:n],
            self.lc_count[:n], obstacle, self.next_link[:n], self.next_link_turn[:n],
            self.next2_link[:n], self.next2_link_turn[:n], self.link_end[:n], r.links, r.turn,
            net.link_length_m, net.link_lanes, self.rear_of_lane, self.max_lanes,
            drv.length_m, self.gap_prev[:n], self.vl_prev[:n], self.vslot,
        )  # fmt: skip
        # Each vehicle's draw is the one its slot would take without relabelling.
        if self.krauss and drv.sigma > 0.0:
            u = self.dawdle_rng.random(n)[self.vslot[:n]]
        else:
            u = np.zeros(0)
        x_new, v_new, a_real, crossed, moved, counts = fp.advance(
            t, dt, self.krauss, al, pos, v, v_des, target, self.queued_until[:n],
            self.stop_k[:n], link, net.link_group, leader, gap_l, v_l, obstacle, st, dist, grp,
            self.sig_change_at, self.stop_vmax[:n], self.stop_pos[:n], self.link_end[:n],
            committed, u, drv.sigma if self.krauss else 0.0, drv.accel_ms2, drv.decel_ms2,
            drv.time_headway_s, drv.min_gap_m, self.adv.accel_ms2, self.adv.decel_ms2,
        )  # fmt: skip
        self.red_violations += counts[0]
        self.cleared_on_red += counts[1]
        self.turn_crossings += counts[2]
        self.turn_overspeed += counts[3]
        if self.record_crossings and crossed.any():
            # Before the update below: the record wants the link and group crossed.
            self._record_crossings(t, np.flatnonzero(crossed), link, stop_turn, grp, st)
        fp.cross_and_move(
            crossed, moved, self.route, self.stop_k, self.committed, r.stop_pos_m,
            r.stop_group, r.stop_turn, r.stop_vmax_ms, r.stop_opposing, r.stop_opposing_group,
            self.stop_pos, self.stop_grp, self.stop_turn, self.stop_vmax, self.stop_opp,
            self.stop_opp_grp, self.link_k, self.lane, self.desired, r.links, r.link_start_m,
            r.link_end_m, r.turn, net.link_lanes, net.link_speed_limit_ms, self.link,
            self.link_start, self.link_end, self.next_turn, self.v_des, self.next_link,
            self.next_link_turn, self.next2_link, self.next2_link_turn,
        )  # fmt: skip
        done, min_gap, collisions = fp.finish(
            dt, self.krauss, self.fuel_model == "vtmicro", al, pos, v, x_new, v_new, a_real,
            self.fuel[:n], self.co2[:n], self.stopped_time[:n], self.stops[:n],
            self.in_stop[:n], leader, real_l, gap_phys, lane_id, self.link_end[:n], route,
            r.length_m,
        )  # fmt: skip
        self.min_gap = min(self.min_gap, min_gap)
        self.collisions += collisions
        if self.record and self.record_routes.size:
            self._record(t, al, route, pos, v, target)
        self._exit_compiled(done, t + dt)

    def _exit_compiled(self, done, t_exit):
        """:meth:`_exit` in a kernel, for the slots flagged in ``done`` (n,)."""
        res = self.res
        slots = self._fastpath.exit_done(
            done, t_exit, self.vid, self.fuel, self.co2, self.stops, self.stopped_time,
            self.stream, self.tail, self.alive, self.stop_grp, self.sorted_lane, res["t_exit"],
            res["fuel_l"], res["co2_g"], res["stops"], res["stopped_time_s"], self.vslot,
        )  # fmt: skip
        self.free.extend(slots.tolist())

    def _exit(self, slots, t_exit):
        vid = self.vid[slots]
        self.res["t_exit"][vid] = t_exit
        self.res["fuel_l"][vid] = self.fuel[slots]
        self.res["co2_g"][vid] = self.co2[slots]
        self.res["stops"][vid] = self.stops[slots]
        self.res["stopped_time_s"][vid] = self.stopped_time[slots]
        streams = self.stream[slots]
        gone = self.tail[streams] == slots  # the streams whose last vehicle leaves
        self.tail[streams[gone]] = -1
        self.alive[slots] = False
        self.stop_grp[slots] = -1
        self.sorted_lane[slots] = -1
        self.free.extend(slots.tolist())

    # -------------------------------------------------------------------- run
    def run(self) -> SimResult:
        """Run to ``duration_s`` and return per-vehicle results and counters.

        ``vehicles`` columns (one row per arrival): ``vid, entry_link, equipped, complies,
        t_arrival, t_enter, t_exit, completed, counted`` (entered after warm-up and completed),
        ``travel_time_s, distance_m, speed_ms, stops, stopped_time_s, delay_s,
        entry_wait_s, fuel_l, co2_g``.

        A simulation runs once (its vehicles, queues and results are its state): running it
        again raises ``RuntimeError``; build a new one for another run.
        """
        if self._ran:
            raise RuntimeError(
                "this Simulation has already run; build a new Simulation for another run"
            )
        self._ran = True
        self.n_advice_calls = 0
        self.n_advised = 0
        if self.kernel == "numba":
            self._fast = self._fastpath.kernels()  # per thread that runs the simulation
        env = simpy.Environment()
        for e in range(len(self.arr.entry_links)):
            env.process(self._arrivals(env, e))
        if self.penetration > 0:
            env.process(self._advisory(env))
        env.process(self._physics(env))
        # Python's cycle collector paused for the run: a run makes short-lived objects by the
        # million (events, tuples, array views), nearly all freed by reference counting (a
        # city run leaves a few hundred in cycles), and the collections they set off, which
        # walk every tracked object, cost about 2 % of the tick.  Back on afterwards (the
        # switch is process-wide: with runs in several threads, as in a sweep, a run that saw
        # it on turns it back on when it ends).
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            wall = time.perf_counter()
            env.run(until=self.duration)
            # Drain: arrivals ended at the horizon; run on in one-minute chunks until the last
            # vehicle has left (or the bound is reached).
            limit = self.duration + self.drain
            while env.now < limit and not self._empty():
                env.run(until=min(env.now + 60.0, limit))
            self.drained = env.now - self.duration
            wall = time.perf_counter() - wall
        finally:
            if gc_was_on:
                gc.enable()
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
        route = self.veh_route
        t_enter, t_exit = res["t_enter"], res["t_exit"]
        completed = ~np.isnan(t_exit)
        entered = ~np.isnan(t_enter)
        tt = t_exit - t_enter
        dist = r.length_m[route]
        veh = {
            "vid": np.arange(a.count),
            "entry_link": a.entry_links[a.entry],
            "exit_link": r.links[route, (r.links[route] >= 0).sum(axis=1) - 1],
            "turns": r.n_turns[route],
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
                "crossings": {
                    k: np.concatenate(c)
                    for k, c in zip(
                        ("t_s", "vid", "link", "turn", "group", "state"),
                        zip(*self.crossings, strict=True),
                        strict=True,
                    )
                }
                if self.crossings
                else None,
                "left_yield_steps": self.left_yields,
                "lane_changes": self.lane_changes,
                "turn_crossings": self.turn_crossings,
                "turn_overspeed": self.turn_overspeed,
                "advice_calls": self.n_advice_calls,
                "advised": self.n_advised,
                "entry_links": self.arr.entry_links,
            },
        )
