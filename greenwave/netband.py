"""Network coordination: the green bands of every arterial of a network at once.

Offsets are node potentials — one offset per signal, shared by every arterial through it — so
around every closed loop of the network (a grid block) the internode offsets sum to a whole
number of cycles: the loop constraints of MAXBAND-86 and MULTIBAND (Gartner et al. 1991) hold
by construction, whatever the program chooses.  Each arterial direction's band is weighted by
its demand: MULTIBAND's link weight ``V/S`` (volume over saturation flow) summed over the
arterial's links (traffic does not turn in the simulator, so each link carries the flows of
the entries upstream of it along the straight-through successors).

Two methods (docs/coordination.md):

- ``exact``: one MAXBAND program (:func:`greenwave.maxband.solve_bands`) over all arterials
  and all offsets; HiGHS proves the optimum.  For small networks (its work grows steeply).
- ``decomposed``: arterials in decreasing weight, each solved exactly given the offsets already
  fixed: nodes already tied together keep their relative offsets and move as one block
  (a union–find of blocks), so earlier arterials keep their bands and the loops still close.
  The sum of each arterial's own optimum (solved alone) bounds the network optimum from above;
  the result reports the gap to that bound — 0 means optimal.  Identical sub-programs are
  solved once.

Entry points: :func:`network_problem`, :func:`optimize_network`, :func:`loop_residuals_s`,
:func:`grid_blocks`, :func:`expand_grid` (a ``[grid]`` scenario written out intersection by
intersection, so that its plans can be retimed).

Reference: N. H. Gartner, S. F. Assmann, F. Lasaga, D. L. Hou, "A multi-band approach to
arterial traffic signal optimization", Transportation Research B 25(1), 55–74, 1991; E. C.-P.
Chang, S. L. Cohen, C. Liu, N. A. Chaudhary, C. Messer, "MAXBAND-86: program for optimizing
left-turn phase sequence in multiarterial closed networks", Transportation Research Record
1181, 61–67, 1988.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from .coordination import Band, CoordinationError, CorridorTiming, bandwidth, corridor_bands
from .coordination import corridor_ids as _corridor_ids
from .coordination import corridor_timing as _corridor_timing
from .grid import grid_city
from .maxband import (
    DEFAULT_TIME_LIMIT_S,
    MIN_GREEN_S,
    BandSpec,
    CycleSpec,
    OffsetSpec,
    ProgramSolution,
    band_specs,
    feasible_cycles,
    rescale_plan,
    solve_bands,
)
from .network import World
from .scenario import Scenario, parse_scenario
from .timing import SignalPlan

SATURATION_VEH_H_LANE = 1900.0
"""Saturation flow per lane for MULTIBAND's ``V/S`` weights (HCM 2010 base, pc/h/ln)."""

MAX_EXACT_NODES = 6
"""``method='auto'`` solves networks up to this many signals with the exact program."""

Method = Literal["auto", "exact", "decomposed"]


@dataclass(frozen=True)
class Arterial:
    """One corridor of the network: its timing, program nodes and directional weights."""

    corridor: CorridorTiming
    nodes: np.ndarray  # (I_a,) node index of each corridor intersection
    flow_veh_h: dict[str, float]
    weight: dict[str, float]  # normalised MULTIBAND weights per direction


@dataclass(frozen=True)
class NetworkProblem:
    """The signals (nodes) and arterials of a network with one common cycle."""

    node_ids: list[str]
    plans: list[SignalPlan]
    arterials: list[Arterial]
    cycle_s: float


def _link_flows_veh_h(scenario: Scenario, world: World) -> np.ndarray:
    """Mean demand (veh/h) over each link in the simulated period, (L,).

    Every entry link's flow (its ``demand.entries`` rate over the profile, else the default per
    lane, times ``demand.scale``, plus its explicit ``demand.vehicles`` per hour) runs along its
    straight-through successors, as the simulator drives it: a corridor declared over links
    inside the network carries what enters upstream of it.
    """
    dem, net = scenario.demand, world.network
    dur = scenario.simulation.duration_s
    listed = {e.link: e for e in dem.entries}
    entry_flow = np.zeros(net.n_links)
    for li in net.entry_links:
        e = listed.get(net.link_ids[li])
        if e is None:
            flow = dem.flow_veh_h_per_lane * int(net.link_lanes[li])
        else:
            flow = e.flow_veh_h
            if e.profile:
                ts = [min(t, dur) for t, _ in e.profile] + [dur]
                fs = [f for _, f in e.profile]
                flow *= sum(f * (b - a) for f, a, b in zip(fs, ts, ts[1:], strict=False)) / dur
        entry_flow[li] = flow * dem.scale
    departs = [net.link_index[v.link] for v in dem.vehicles if v.depart_s < dur]
    entry_flow += np.bincount(departs, minlength=net.n_links) * 3600.0 / dur
    out = np.zeros(net.n_links)
    for li in np.flatnonzero(entry_flow):
        seen, cur = set(), int(li)
        while cur >= 0 and cur not in seen:  # bounded on rings
            out[cur] += entry_flow[li]
            seen.add(cur)
            cur = int(net.link_next[cur])
    return out


def network_problem(
    scenario: Scenario, world: World | None = None, *, weights: str = "demand"
) -> NetworkProblem:
    """All corridors of a scenario as arterials over shared signals.

    ``weights``: ``'demand'`` (MULTIBAND ``V/S`` per link, summed over the arterial's links,
    normalised so that the largest is 1) or ``'equal'`` (1 per direction).  Raises
    :class:`CoordinationError` when the signals do not share one cycle.
    """
    world = world or World.build(scenario)
    net = world.network
    ids = _corridor_ids(world)
    if not ids:
        raise CoordinationError("the scenario has no corridors (a [[corridors]] entry or [grid])")
    chains = {cid: links for cid, _, links in net.corridors}
    link_flow = _link_flows_veh_h(scenario, world)
    plans_by_id = world.timing.plans.plans
    node_index: dict[str, int] = {}
    raw = []
    for cid in ids:
        ct = _corridor_timing(world, cid)
        nodes = np.array(
            [node_index.setdefault(i, len(node_index)) for i in ct.intersection_ids],
            dtype=np.int64,
        )
        flows, w = {}, {}
        for name, tag in (("forward", "_f"), ("backward", "_b")):
            links = chains.get(cid + tag)
            if links is None:
                continue
            inner = links[1:-1] if len(links) > 2 else links[:1]
            flows[name] = float(np.mean(link_flow[inner]))
            w[name] = float(
                np.sum(link_flow[inner] / (net.link_lanes[inner] * SATURATION_VEH_H_LANE))
            )
            if weights == "equal":
                w[name] = 1.0
        raw.append((ct, nodes, flows, w))
    top = max((max(w.values(), default=0.0) for *_, w in raw), default=0.0)
    if top <= 0.0:
        raise CoordinationError(
            "no demand drives along any corridor, so demand weights give every band weight 0: "
            "use --weights equal",
            param="weights",
        )
    node_ids = list(node_index)
    plans = [plans_by_id[i] for i in node_ids]
    cycles = np.array([p.cycle_s for p in plans])
    if np.ptp(cycles) > 1e-9:
        listing = ", ".join(sorted({f"{c:g} s" for c in cycles}))
        raise CoordinationError(f"the network's signals need one common cycle (found {listing})")
    arts = [
        Arterial(ct, nodes, flows, {k: v / top for k, v in w.items()})
        for ct, nodes, flows, w in raw
    ]
    return NetworkProblem(node_ids, plans, arts, float(cycles[0]))


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ArterialResult:
    """One arterial after :func:`optimize_network`, per direction ('forward', 'backward').

    ``band`` is measured on the written plans at the program's progression speeds;
    ``program_band_s`` is the program's ``b``; ``upper_bound_s`` the band this direction gets
    when its arterial is optimised alone (same weights), the ceiling of the network plan.
    """

    id: str
    weight: dict[str, float]
    flow_veh_h: dict[str, float]
    band: dict[str, Band]
    band_at_target: dict[str, Band]
    before: dict[str, Band]
    program_band_s: dict[str, float]
    speed_ms: dict[str, np.ndarray]
    upper_bound: float  # Σ W b of the arterial alone (cycles)
    objective: float  # Σ W b of the arterial in the network plan (cycles)


@dataclass(frozen=True)
class NetworkResult:
    """Offsets (and cycle) of every signal, bands of every arterial, the new scenario.

    ``kept_current``: the program found nothing better than the offsets it started from (at
    the same cycle), which are returned.
    """

    method: str
    direction: str
    speed_ms: float
    speed_range_ms: tuple[float, float]
    cycle_before_s: float
    cycle_s: float
    node_ids: list[str]
    offsets_before_s: np.ndarray
    offsets_s: np.ndarray
    arterials: list[ArterialResult]
    objective: float
    upper_bound: float
    optimal: bool
    kept_current: bool
    programs: int
    solve_s: float
    scenario: Scenario = field(repr=False)

    @property
    def gap(self) -> float:
        """Relative distance to the upper bound (0 = proven optimal)."""
        return 0.0 if self.upper_bound <= 0 else 1.0 - self.objective / self.upper_bound


# --------------------------------------------------------------------------- the methods
def _specs(art: Arterial, plans, direction, speed_ms, v_rng, warped=False, node_of=None):
    weights = dict(art.weight) if direction == "both" else {"forward": art.weight["forward"]}
    weights = {k: v for k, v in weights.items() if v > 0}
    return band_specs(
        art.corridor,
        plans,
        speed_ms=speed_ms,
        speed_range_ms=v_rng,
        weights=weights,
        warped=warped,
        node_of=node_of,
    )


def _key(specs: Sequence[BandSpec], extra=()) -> tuple:
    """Identity of a sub-program: geometry, greens, weights and the offsets' structure."""
    parts: list = []
    for s in specs:
        parts.append(
            (
                s.name.rsplit(" ", 1)[1],
                tuple(np.round(s.link_m, 6)),
                tuple(np.round(np.nan_to_num(s.start_a, nan=-1), 9).ravel()),
                tuple(np.round(np.nan_to_num(s.end_a, nan=-1), 9).ravel()),
                tuple(np.round(np.nan_to_num(s.start_c, nan=-1), 9).ravel()),
                tuple(np.round(np.nan_to_num(s.end_c, nan=-1), 9).ravel()),
                round(s.weight, 12),
                s.speed_ms,
                s.speed_lo_ms,
                s.speed_hi_ms,
            )
        )
    return (tuple(parts), *extra)


def _cycle_key(c: CycleSpec) -> tuple:
    cands = None if c.candidates_s is None else tuple(np.round(c.candidates_s, 6))
    return (c.fixed_s, cands, c.range_s, c.reference_s)


def _offset_key(o: OffsetSpec) -> tuple:
    group = None if o.group is None else tuple(np.asarray(o.group).tolist())
    rel = None if o.rel_s is None else tuple(np.round(o.rel_s, 6).tolist())
    return (group, rel, o.anchor, o.anchor_s, o.step_s)


def _travel_spread_s(a: Sequence[BandSpec], b: Sequence[BandSpec]) -> float:
    """Largest spread of the travel-time differences between two arterials' stop lines (s).

    A plan of one, moved to the other, loses at most this much band per direction; the other's
    optimum exceeds the one's by at most this much (the Lipschitz step of the upper bound).
    """
    out = 0.0
    for sa, sb in zip(a, b, strict=True):
        diff = np.concatenate([[0.0], np.cumsum(sb.link_m - sa.link_m)]) / sa.speed_lo_ms
        out = max(out, float(np.ptp(diff)))
    return out


SIMILAR_S = 0.5
"""Sub-programs whose stop lines' travel times differ from an already solved one's by at most
this spread (s, :func:`_travel_spread_s`), and agree in everything else, reuse its plan; the
upper bound adds the spread."""


CYCLE_SIMILAR_S = 2.0
"""For the choice of the cycle only, arterials within this travel-time spread (s) count as one
(the choice is a heuristic anyway; fewer programs)."""


class _Programs:
    """Solves sub-programs once: identical ones by key, similar ones (travel times within
    :data:`SIMILAR_S`) by reusing the first's plan when ``similar`` is asked."""

    def __init__(self, time_limit_s: float):
        self.time_limit_s = time_limit_s
        self.cache: dict[tuple, ProgramSolution] = {}
        self.reps: dict[tuple, list[tuple[list[BandSpec], tuple]]] = {}
        self.solved = 0

    def __call__(
        self,
        specs: Sequence[BandSpec],
        n_nodes: int,
        cycle: CycleSpec,
        offsets: OffsetSpec,
        *,
        similar: bool = False,
        tie_break: bool = True,
    ) -> tuple[ProgramSolution, list[BandSpec]]:
        """The solution (offsets shifted to ``offsets.anchor_s``) and the specs it was solved
        for (``specs`` itself, or a similar sub-program's)."""
        # Solved with the anchor at 0 and shifted: sub-programs that differ only in where
        # their anchor sits are one program.
        shift = offsets.anchor_s
        offsets = replace(offsets, anchor_s=0.0)
        extra = (n_nodes, _cycle_key(cycle), _offset_key(offsets), tie_break)
        key = _key(specs, extra)
        solved_for = list(specs)
        if key not in self.cache:
            struct = _key([replace(s, link_m=np.zeros_like(s.link_m)) for s in specs], extra)
            hit = None
            if similar:
                for rep_specs, rep_key in self.reps.get(struct, []):
                    if _travel_spread_s(rep_specs, specs) <= SIMILAR_S:
                        hit = (rep_specs, rep_key)
                        break
            if hit is not None:
                solved_for, key = hit
            else:
                self.solved += 1
                self.cache[key] = solve_bands(
                    specs,
                    n_nodes,
                    cycle,
                    offsets,
                    tie_break=tie_break,
                    time_limit_s=self.time_limit_s,
                )
                self.reps.setdefault(struct, []).append((solved_for, key))
        sol = self.cache[key]
        if shift:
            sol = replace(sol, offset_s=np.round(np.mod(sol.offset_s + shift, sol.cycle_s), 6))
        return sol, solved_for


def optimize_network(
    scenario: Scenario,
    *,
    speed_ms: float,
    speed_tolerance_ms: float = 0.0,
    direction: Literal["one", "both"] = "both",
    weights: str = "demand",
    cycle_range_s: tuple[float, float] | None = None,
    cycle_step_s: float = 1.0,
    step_s: float | None = 1.0,
    min_green_s: float = MIN_GREEN_S,
    method: Method = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> NetworkResult:
    """Offsets of every signal (and the common cycle) for the weighted bands of all arterials.

    Parameters are those of :func:`greenwave.maxband.optimize_corridor` where they share a
    name; ``weights`` 'demand' or 'equal' (:func:`network_problem`); ``method`` 'exact',
    'decomposed' or 'auto' (exact up to :data:`MAX_EXACT_NODES` signals).  The first signal
    keeps its offset.  A ``[grid]`` scenario is written out intersection by intersection
    (:func:`expand_grid`).

    Returns
    -------
    NetworkResult
        ``upper_bound`` is ``Σ`` of each arterial's optimum alone; ``optimal`` is True when the
        exact program proved its optimum or the decomposition reached that bound.
    """
    t0 = time.perf_counter()
    if not (np.isfinite(speed_ms) and speed_ms > 0):
        raise CoordinationError(f"speed must be finite and > 0, got {speed_ms}", param="speed")
    if not (np.isfinite(speed_tolerance_ms) and 0 <= speed_tolerance_ms < speed_ms):
        raise CoordinationError(
            f"speed tolerance must be >= 0 and below the speed, got {speed_tolerance_ms:g} m/s",
            param="speed_tolerance",
        )
    if method not in ("auto", "exact", "decomposed"):
        raise ValueError(f"method must be auto, exact or decomposed, got {method!r}")
    flat = expand_grid(scenario) if scenario.grid is not None else scenario
    world = World.build(flat)
    prob = network_problem(flat, world, weights=weights)
    n = len(prob.node_ids)
    if n < 2:
        raise CoordinationError("the network has one signal: nothing to coordinate")
    v_rng = (speed_ms - speed_tolerance_ms, speed_ms + speed_tolerance_ms)
    c0 = prob.cycle_s
    lo, hi = cycle_range_s if cycle_range_s is not None else (c0, c0)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise CoordinationError(
            f"cycle range {lo:g}–{hi:g} s: need 0 < lo <= hi", param="cycle_range"
        )
    cands = feasible_cycles(prob.plans, (lo, hi), cycle_step_s, min_green_s)
    if method == "auto":
        method = "exact" if n <= MAX_EXACT_NODES else "decomposed"
    run = _Programs(time_limit_s)

    # The cycle.
    if cands.size > 1 or not math.isclose(float(cands[0]), c0):
        cyc_spec = (
            CycleSpec(candidates_s=cands, reference_s=c0)
            if cands.size > 1
            else CycleSpec(fixed_s=float(cands[0]))
        )
        if method == "exact":
            specs = []
            for art in prob.arterials:
                local = [prob.plans[i] for i in art.nodes]
                specs += _specs(art, local, direction, speed_ms, v_rng, True, art.nodes)
            cycle = run(specs, n, cyc_spec, OffsetSpec())[0].cycle_s
        else:
            cycle = _class_cycle(prob, direction, speed_ms, v_rng, cands, c0, run)
    else:
        cycle = c0
    plans = [rescale_plan(p, cycle) for p in prob.plans]
    anchor_s = float(plans[0].offset_s)

    if method == "exact":
        specs = []
        for art in prob.arterials:
            local = [plans[i] for i in art.nodes]
            specs += _specs(art, local, direction, speed_ms, v_rng, node_of=art.nodes)
        grid = OffsetSpec(anchor=0, anchor_s=anchor_s, step_s=step_s)
        sol, _ = run(specs, n, CycleSpec(fixed_s=cycle), grid)
        offsets = sol.offset_s
        optimal_prog = sol.optimal
    else:
        offsets = _greedy(prob, plans, cycle, direction, speed_ms, v_rng, step_s, anchor_s, run)
        optimal_prog = False

    # Written plans, bands measured on them, the bound.
    new_plans = [
        SignalPlan(cycle_s=p.cycle_s, offset_s=float(o), groups=p.groups)
        for p, o in zip(plans, offsets, strict=True)
    ]
    out = _with_plans(flat, dict(zip(prob.node_ids, new_plans, strict=True)))
    bounds = _upper_bounds(prob, plans, cycle, direction, speed_ms, v_rng, run)
    bound = float(sum(bounds))

    def evaluate(w: World, p: list[SignalPlan]) -> tuple[list[ArterialResult], float]:
        res = [
            _arterial_result(art, w, p, cycle, direction, speed_ms, v_rng, run, ub)
            for art, ub in zip(prob.arterials, bounds, strict=True)
        ]
        return res, float(sum(r.objective for r in res))

    results, total = evaluate(World.build(out), plans)
    kept = False
    if math.isclose(cycle, c0):  # never worse than the plan we started from
        old, old_total = evaluate(world, prob.plans)
        if old_total >= total - 1e-9:
            results, total, out, kept = old, old_total, flat, True
            offsets = np.array([p.offset_s for p in prob.plans])
    optimal = optimal_prog or total >= bound - 1e-6 * max(bound, 1.0)
    return NetworkResult(
        method=method,
        direction=direction,
        speed_ms=float(speed_ms),
        speed_range_ms=(float(v_rng[0]), float(v_rng[1])),
        cycle_before_s=c0,
        cycle_s=cycle,
        node_ids=prob.node_ids,
        offsets_before_s=np.array([p.offset_s for p in prob.plans]),
        offsets_s=np.asarray(offsets, dtype=float),
        arterials=results,
        objective=total,
        upper_bound=max(bound, total),
        optimal=bool(optimal),
        kept_current=kept,
        programs=run.solved,
        solve_s=time.perf_counter() - t0,
        scenario=out,
    )


def _class_cycle(prob, direction, speed_ms, v_rng, cands_s, c0, run) -> float:
    """The common cycle of the decomposition: one program over the distinct arterials (each
    alone; similar ones, :data:`SIMILAR_S`, counted by the weight of their class) sharing
    ``z``, with offsets free per arterial (the loop constraints are left to the offsets
    stage): the candidate cycle with the largest weighted sum among those next to each
    class's own best cycle."""
    classes: dict[tuple, list[tuple[list[BandSpec], float]]] = {}
    for art in prob.arterials:
        local = [prob.plans[i] for i in art.nodes]
        specs = _specs(art, local, direction, speed_ms, v_rng, True)
        if not specs:
            continue
        struct = _key([replace(s, link_m=np.zeros_like(s.link_m), weight=0.0) for s in specs])
        members = classes.setdefault(struct, [])
        for k, (rep, count) in enumerate(members):
            if _travel_spread_s(rep, specs) <= CYCLE_SIMILAR_S:
                members[k] = (rep, count + 1)
                break
        else:
            members.append((specs, 1))
    cands = np.asarray(cands_s, dtype=float)
    if cands.size == 1:
        return float(cands[0])
    # One program over all classes sharing z is far harder for HiGHS than each class alone
    # (and one binary per candidate harder than a continuous z): each class's own best cycle,
    # then every class at the candidates next to those, at fixed cycles.
    lo, hi = float(cands.min()), float(cands.max())
    reps = [(specs, count) for members in classes.values() for specs, count in members]
    near = set()
    for specs, _ in reps:
        n = int(max(int(s.nodes.max()) for s in specs)) + 1
        spec = CycleSpec(range_s=(lo, hi), reference_s=c0)
        best = run(specs, n, spec, OffsetSpec(), tie_break=False)[0].cycle_s
        near.add(float(cands[cands <= best + 1e-9].max(initial=lo)))
        near.add(float(cands[cands >= best - 1e-9].min(initial=hi)))
    scored = []
    for c in sorted(near):
        total = 0.0
        for specs, count in reps:
            n = int(max(int(s.nodes.max()) for s in specs)) + 1
            sol = run(specs, n, CycleSpec(fixed_s=c), OffsetSpec(), tie_break=False)[0]
            total += count * sol.objective
        scored.append((round(total, 9), -abs(c - c0), c))
    return max(scored)[2]


def _greedy(prob, plans, cycle, direction, speed_ms, v_rng, step_s, anchor_s, run) -> np.ndarray:
    """Arterials one by one, each exact given the offsets fixed before (module docstring).

    Order: the heaviest arterial first, then always the heaviest one crossing what is already
    coordinated (a spanning tree grown by weight; a new component only when none crosses), so
    that parallel arterials are tied through the arterials that cross them.
    """
    n = len(prob.node_ids)
    block = np.full(n, -1, dtype=np.int64)  # union of already coordinated nodes
    off = np.array([p.offset_s for p in plans], dtype=float)
    arts = prob.arterials
    weight = [-sum(a.weight.values()) for a in arts]
    todo = set(range(len(arts)))
    next_block = 0
    while todo:
        touching = [a for a in todo if np.any(block[arts[a].nodes] >= 0)]
        a = min(touching or todo, key=lambda i: (weight[i], i))
        todo.discard(a)
        art = arts[a]
        nodes = art.nodes
        specs = _specs(art, [plans[i] for i in nodes], direction, speed_ms, v_rng)
        if not specs:
            continue
        # Local groups: nodes of one block share a group and keep their relative offsets.
        grp = np.empty(len(nodes), dtype=np.int64)
        rel = np.zeros(len(nodes))
        reps: dict[int, int] = {}
        for k, node in enumerate(nodes):
            b = int(block[node])
            if b < 0:
                grp[k] = -1 - k  # a singleton
                continue
            reps.setdefault(b, k)
            grp[k] = b
            rel[k] = off[node] - off[nodes[reps[b]]]
        grp = _first_seen(grp)
        # Anchor: a node already placed (its block moves as one, so any of them will do), else
        # the network's first signal, else this arterial's first (at its offset).
        placed = np.flatnonzero(block[nodes] >= 0)
        first = np.flatnonzero(nodes == 0)
        k0 = int(placed[0]) if placed.size else int(first[0]) if first.size else 0
        a_s = anchor_s if (not placed.size and nodes[k0] == 0) else off[nodes[k0]]
        sol, _ = run(
            specs,
            len(nodes),
            CycleSpec(fixed_s=cycle),
            OffsetSpec(grp, np.mod(rel, cycle), k0, float(a_s) % cycle, step_s),
            similar=True,
        )
        new = sol.offset_s
        # Move every touched block by its shift, then merge them and the new nodes into one.
        merged = next_block
        next_block += 1
        for b, k in reps.items():
            members = block == b
            off[members] = np.mod(off[members] + new[k] - off[nodes[k]], cycle)
            block[members] = merged
        fresh = block[nodes] < 0
        off[nodes[fresh]] = new[fresh]
        block[nodes[fresh]] = merged
    # Signals on no arterial keep their offsets; round the float noise of the shifts.
    return np.round(np.mod(off, cycle), 6) % cycle


def _first_seen(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, … in order of first appearance (one key per structure)."""
    seen: dict[int, int] = {}
    return np.array([seen.setdefault(int(v), len(seen)) for v in labels], dtype=np.int64)


def _upper_bounds(prob, plans, cycle, direction, speed_ms, v_rng, run) -> list[float]:
    """Each arterial's ``Σ W b`` alone (cycles, any offsets): similar arterials share one
    program, plus the travel-time spread between them (:func:`_travel_spread_s`)."""
    out = []
    for art in prob.arterials:
        specs = _specs(art, [plans[i] for i in art.nodes], direction, speed_ms, v_rng)
        if not specs:
            out.append(0.0)
            continue
        free = OffsetSpec()  # any offsets: a bound for the plan we started from too
        sol, rep = run(
            specs, len(art.nodes), CycleSpec(fixed_s=cycle), free, similar=True, tie_break=False
        )
        slack = _travel_spread_s(rep, specs) / cycle
        out.append(sol.objective + slack * sum(s.weight for s in specs))
    return out


def _arterial_result(art, world_new, plans, cycle, direction, speed_ms, v_rng, run, ub):
    """Bands of one arterial on the written plans (exact sub-program with offsets fixed)."""
    ct_new = _corridor_timing(world_new, art.corridor.id)
    specs = _specs(art, [plans[i] for i in art.nodes], direction, speed_ms, v_rng)
    # Offsets fixed (one block): the program then only picks speeds within the tolerance.
    n = len(art.nodes)
    rel = np.mod(ct_new.offset_s - ct_new.offset_s[0], cycle)
    sol = None  # no demand on it: nothing to weigh, its bands are measured at V below
    if specs:
        sol, _ = run(
            specs,
            n,
            CycleSpec(fixed_s=cycle),
            OffsetSpec(np.zeros(n, dtype=np.int64), rel, 0, float(ct_new.offset_s[0]), None),
        )
    at_v = corridor_bands(ct_new, speed_ms)
    before = corridor_bands(art.corridor, speed_ms)
    band, prog, speeds = {}, {}, {}
    for j, s in enumerate(specs):
        assert sol is not None
        name = s.name.rsplit(" ", 1)[1]
        ap = ct_new.approaches[name]
        cum = np.concatenate([[0.0], np.cumsum(sol.travel_s[j])])
        b = bandwidth(ap.green_start_s, ap.green_end_s, ct_new.offset_s[ap.stops], cycle, cum, 1.0)
        band[name] = replace(
            b, distance_m=ap.distance_m, intersection_ids=at_v[name].intersection_ids
        )
        prog[name] = float(sol.band_s[j])
        speeds[name] = np.diff(ap.distance_m) / sol.travel_s[j]
    for name in at_v:
        if name not in band:
            band[name] = at_v[name]
            prog[name] = math.nan
            speeds[name] = np.full(len(ct_new.approaches[name].stops) - 1, np.nan)
    return ArterialResult(
        id=art.corridor.id,
        weight=dict(art.weight),
        flow_veh_h=dict(art.flow_veh_h),
        band=band,
        band_at_target=at_v,
        before=before,
        program_band_s=prog,
        speed_ms=speeds,
        upper_bound=float(ub),
        objective=0.0 if sol is None else float(sol.objective),
    )


# --------------------------------------------------------------------------- scenarios
def expand_grid(scenario: Scenario) -> Scenario:
    """A ``[grid]`` scenario with its intersections and corridors written out (same network,
    same link ids), so that each plan can be retimed; other scenarios are returned as they are.
    """
    if scenario.grid is None:
        return scenario
    inters, corridors = grid_city(scenario.grid)
    data = scenario.model_dump(mode="json", exclude_none=True)
    data.pop("grid")
    data["intersections"] = data.get("intersections", []) + [
        it.model_dump(mode="json", exclude_none=True) for it in inters
    ]
    data["corridors"] = data.get("corridors", []) + [
        c.model_dump(mode="json", exclude_none=True) for c in corridors
    ]
    return parse_scenario(data, "<grid written out>")


def _with_plans(scenario: Scenario, plans: dict[str, SignalPlan]) -> Scenario:
    data = scenario.model_dump(mode="json", exclude_none=True)
    for it in data["intersections"]:
        plan = plans.get(it["id"])
        if plan is not None:
            it["plan"] = plan.model_dump(mode="json", exclude_none=True)
    return parse_scenario(data, "<coordinated network>")


def grid_blocks(scenario: Scenario) -> list[tuple[str, str, str, str]]:
    """The closed blocks of a grid (written out or not): four corner ids, counter-clockwise."""
    g = scenario.grid
    if g is None:
        ids = {it.id for it in scenario.intersections}
        rows = 1 + max((int(i[1:].split("_")[0]) for i in ids if _is_grid_id(i)), default=-1)
        cols = 1 + max((int(i.split("_")[1]) for i in ids if _is_grid_id(i)), default=-1)
    else:
        rows, cols = g.rows, g.cols
    return [
        (f"g{r}_{c}", f"g{r}_{c + 1}", f"g{r + 1}_{c + 1}", f"g{r + 1}_{c}")
        for r in range(rows - 1)
        for c in range(cols - 1)
    ]


def _is_grid_id(i: str) -> bool:
    head, _, tail = i.partition("_")
    return head[:1] == "g" and head[1:].isdigit() and tail.isdigit()


def loop_residuals_s(scenario: Scenario, loops: Sequence[Sequence[str]]) -> np.ndarray:
    """For each closed loop of intersections, the sum of its internode offsets modulo the cycle.

    MAXBAND-86's internode offset of a directed link ``i → j`` is ``(o_j − o_i) mod C`` (read
    from the plans); around a loop these must add up to a whole number of cycles, so every
    residual (distance to the nearest multiple of ``C``, s) is 0 for a consistent plan.
    """
    plans = {it.id: it.plan for it in scenario.intersections}
    out = np.empty(len(loops))
    for k, loop in enumerate(loops):
        cyc = plans[loop[0]].cycle_s
        total = 0.0
        for a, b in zip(loop, [*loop[1:], loop[0]], strict=True):
            total += (plans[b].offset_s - plans[a].offset_s) % cyc
        r = total % cyc
        out[k] = min(r, cyc - r)
    return out
