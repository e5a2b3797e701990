"""MAXBAND: green bands of one or more arterials as a mixed-integer linear program.

The program of Little, Kelson & Gartner (1981), solved exactly by HiGHS through
:func:`scipy.optimize.milp`.  Nodes are signals; an arterial *direction* ("band") runs through
``K`` of them in travel order.  Times are in cycles.  Variables:

- ``z = 1/C``: the common cycle's inverse, in ``[1/C_max, 1/C_min]``, or ``Σ_c λ_c / c`` with
  binary ``λ_c`` over a list of candidate cycles (exact for e.g. whole-second cycles), or fixed;
- ``b ≥ 0`` per band: the bandwidth (MAXBAND's ``b``, ``b̄``);
- ``φ_n`` per node: the offset (cycle second 0 of its plan at absolute time ``φ_n`` cycles);
- ``θ`` per band: the band's start at its first stop line;
- ``t_l`` per band and link: travel time, ``d_l z / v_hi ≤ t_l ≤ d_l z / v_lo`` — MAXBAND's
  speed limits ``e``, ``f`` with the standard linearisation in ``z``;
- ``w_k ≥ 0`` per band and stop: from the green start to the band's edge (MAXBAND's ``w_i``);
- ``n_k`` integer per band and stop: the cycle in which the band meets that green (MAXBAND's
  loop integers ``m_i`` are differences of these).

Constraints, per band and stop line ``k`` at node ``n`` with green ``[σ_k, σ_k + g_k)``::

    φ_n + σ_k + n_k + w_k = θ + Σ_{l<k} t_l          (the band meets green k)
    τ_k z ≤ w_k,   w_k + b ≤ g_k                      (fits after the queue clearance τ_k s)

Greens are affine in ``z`` (:class:`SplitWarp`: green shares kept, amber and all-red in seconds)
and a stop line with several greens per cycle chooses one by binaries (with McCormick products
when ``z`` varies).  Objective ``max Σ W b`` (MAXBAND's ``b + k b̄`` for one arterial), with
MAXBAND's target ratio ``(1 − k) b̄ ≥ (1 − k) k b`` (``b̄ = b`` at ``k = 1``) if asked.

Eliminating ``φ_n`` between the two directions of a signal and between neighbours gives
MAXBAND's loop constraint ``(w_i + w̄_i) − (w_{i+1} + w̄_{i+1}) + (t_i + t̄_i) + … = m_i``
(there ``w̄`` is measured from the band to the red, ``ḡ − b̄ − w̄`` here).  Offsets shared by
several arterials (node potentials) make the network loop constraints of MAXBAND-86 hold by
construction: :mod:`greenwave.netband`.

Entry points: :func:`solve_bands` (the program), :func:`optimize_corridor` (a scenario's
corridor: cycle, offsets and the written plans), :func:`rescale_plan`.

References: J. D. C. Little, M. D. Kelson, N. H. Gartner, "MAXBAND: a program for setting signals
on arteries and triangular networks", Transportation Research Record 795, 40–46, 1981;
N. H. Gartner, S. F. Assmann, F. Lasaga, D. L. Hou, "A multi-band approach to arterial traffic
signal optimization", Transportation Research B 25(1), 55–74, 1991.  Derivations and limits:
docs/coordination.md.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

from .coordination import (
    EPS,
    Band,
    CoordinationError,
    CorridorTiming,
    bandwidth,
    corridor_bands,
    corridor_timing,
)
from .network import World
from .scenario import Scenario, parse_scenario
from .timing import SignalPlan, merge_wrapped_greens

MIN_GREEN_S = 7.0
"""Shortest green a cycle change may leave a group (s): the minimum pedestrian walk interval of
the MUTCD (2009, section 4E.06); greens already shorter are not shortened further."""

MAX_CYCLE_S = 600.0
"""Longest cycle a plan may have (:class:`greenwave.timing.SignalPlan`)."""

GREEN_STEP_S = 1.0
"""Rescaled greens are rounded to whole seconds (fixed-time controllers count whole seconds;
amber and all-red stay exact)."""

DEFAULT_TIME_LIMIT_S = 60.0
"""HiGHS time limit per program (s); a program stopped by it reports its gap."""

MIP_REL_GAP = 1e-9
"""Relative optimality gap asked of HiGHS: the optimum, not HiGHS' default 1e-4."""

Direction = Literal["one", "both"]


# --------------------------------------------------------------------------- split scaling
@dataclass(frozen=True)
class SplitWarp:
    """A plan's cycle seconds mapped to another cycle, green shares kept.

    The *clearance* arcs (every group's amber + all-red after each green, their union ``U`` of
    length ``L``) keep their length in seconds; the rest of the cycle is scaled by
    ``κ = (C' − L) / (C − L)``.  Cycle second ``s`` maps to ``F(s) + κ S(s)`` with
    ``F(s) = |U ∩ [0, s)|`` and ``S(s) = s − F(s)``; in cycles of the new cycle that is
    ``a(s) + c(s) z`` with ``z = 1/C'``, ``a = S/(C − L)``, ``c = F − S L / (C − L)`` — affine in
    ``z``, which keeps the program linear.  The map is monotone and keeps every clearance
    interval's length, so conflicting groups stay apart.
    """

    cycle_s: float
    arcs: np.ndarray  # (A, 2) disjoint sorted clearance arcs in [0, C]
    lost_s: float

    @classmethod
    def of(cls, plan: SignalPlan) -> SplitWarp:
        c = float(plan.cycle_s)
        pieces = []
        for g in plan.groups:
            clear = g.amber_s + g.all_red_s
            if clear <= 0:
                continue
            for _, e in merge_wrapped_greens(g.greens_s, c):  # a green across 0 is one
                a, b = e % c, e % c + clear
                if b <= c:
                    pieces.append((a, b))
                else:
                    pieces += [(a, c), (0.0, min(b - c, c))]
        pieces.sort()
        arcs: list[list[float]] = []
        for a, b in pieces:
            if arcs and a <= arcs[-1][1]:
                arcs[-1][1] = max(arcs[-1][1], b)
            else:
                arcs.append([a, b])
        arr = np.array(arcs, dtype=float).reshape(-1, 2)
        lost = float((arr[:, 1] - arr[:, 0]).sum())
        if lost >= c:
            raise CoordinationError("a plan's amber and all-red fill its whole cycle")
        return cls(c, arr, lost)

    def fixed_before(self, s) -> np.ndarray:
        """``F(s)``: clearance seconds in ``[0, s)``, periodic (``F(s + C) = F(s) + L``)."""
        s = np.asarray(s, dtype=float)
        k = np.floor(s / self.cycle_s)
        r = s - k * self.cycle_s
        inside = np.clip(r[..., None] - self.arcs[:, 0], 0.0, self.arcs[:, 1] - self.arcs[:, 0])
        return k * self.lost_s + inside.sum(axis=-1)

    def coeffs(self, s) -> tuple[np.ndarray, np.ndarray]:
        """``(a, c)``: cycle second ``s`` sits at ``a + c z`` cycles of the new cycle ``1/z``."""
        f = self.fixed_before(s)
        sc = np.asarray(s, dtype=float) - f
        free = self.cycle_s - self.lost_s
        return sc / free, f - sc * self.lost_s / free

    def at(self, s, cycle_s: float, step_s: float | None = GREEN_STEP_S) -> np.ndarray:
        """Cycle second ``s`` in the new cycle (s); the scaled part rounded to ``step_s``."""
        f = self.fixed_before(s)
        scaled = (np.asarray(s, dtype=float) - f) * (cycle_s - self.lost_s)
        scaled /= self.cycle_s - self.lost_s
        if step_s:
            scaled = np.round(scaled / step_s) * step_s
        return f + scaled

    def min_cycle_s(self, plan: SignalPlan, min_green_s: float) -> float:
        """Shortest cycle at which no green is below ``min(its length now, min_green_s)``."""
        lo = self.lost_s
        for g in plan.groups:
            for s, e in g.greens_s:
                need = min(e - s, min_green_s)
                fixed = float(self.fixed_before(e) - self.fixed_before(s))
                scaled = (e - s) - fixed
                if scaled > EPS:
                    kappa = max(need - fixed, 0.0) / scaled
                    lo = max(lo, self.lost_s + kappa * (self.cycle_s - self.lost_s))
        return lo


def rescale_plan(plan: SignalPlan, cycle_s: float, offset_s: float | None = None) -> SignalPlan:
    """``plan`` at cycle ``cycle_s`` (:class:`SplitWarp`, greens to whole seconds), validated.

    ``offset_s`` replaces the offset (default: the old one, modulo the new cycle).
    """
    off = plan.offset_s if offset_s is None else offset_s
    if math.isclose(cycle_s, plan.cycle_s, abs_tol=1e-9):
        return SignalPlan(cycle_s=plan.cycle_s, offset_s=off % plan.cycle_s, groups=plan.groups)
    warp = SplitWarp.of(plan)
    groups = []
    for g in plan.groups:
        greens = [(float(warp.at(s, cycle_s)), float(warp.at(e, cycle_s))) for s, e in g.greens_s]
        groups.append(g.model_copy(update={"greens_s": greens}))
    return SignalPlan(cycle_s=float(cycle_s), offset_s=float(off) % cycle_s, groups=groups)


# --------------------------------------------------------------------------- the program
@dataclass(frozen=True)
class BandSpec:
    """One direction of one arterial: the band whose width the program maximises.

    Attributes
    ----------
    nodes : (K,) int64
        Node (signal) of each stop line, in travel order.
    link_m : (K-1,) float64
        Distance between consecutive stop lines (m).
    start_a, start_c, end_a, end_c : (K, W) float64
        Green intervals per stop line in cycles, affine in ``z = 1/C``: ``a + c z`` (``c = 0``
        for greens given in cycles of a fixed cycle); NaN-padded.
    weight : float
        ``W`` of the objective ``Σ W b``.
    speed_lo_ms, speed_hi_ms : float
        Progression speed range (m/s); ``speed_ms`` is the target (tie-break).
    queue_s : (K,) float64
        Queue clearance time at each stop line (s): the band starts that long after the green.
    name : str
    preferred : bool
        Among optimal plans, a wider band here is preferred (the forward direction: a tie
        between a forward-only and a backward-only wave goes forward).
    """

    nodes: np.ndarray
    link_m: np.ndarray
    start_a: np.ndarray
    start_c: np.ndarray
    end_a: np.ndarray
    end_c: np.ndarray
    weight: float
    speed_ms: float
    speed_lo_ms: float
    speed_hi_ms: float
    queue_s: np.ndarray
    name: str = ""
    preferred: bool = False

    @property
    def n_stops(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class CycleSpec:
    """The cycle: ``fixed_s``, or chosen from ``candidates_s`` (binaries), or in ``range_s``."""

    fixed_s: float | None = None
    candidates_s: np.ndarray | None = None
    range_s: tuple[float, float] | None = None
    reference_s: float | None = None  # tie-break: prefer cycles near this one

    def bounds(self) -> tuple[float, float]:
        if self.fixed_s is not None:
            return self.fixed_s, self.fixed_s
        if self.candidates_s is not None:
            return float(np.min(self.candidates_s)), float(np.max(self.candidates_s))
        assert self.range_s is not None
        return self.range_s


@dataclass(frozen=True)
class OffsetSpec:
    """Which offsets the program may choose.

    ``group`` (N,) puts nodes into groups whose members keep their relative offsets ``rel_s``
    (N,) (a group is shifted as a whole; default every node its own group).  ``anchor`` is a
    node whose offset is kept at ``anchor_s``; ``step_s`` puts the shifts on a grid of that
    step from the anchor (fixed cycle only; None: continuous).
    """

    group: np.ndarray | None = None
    rel_s: np.ndarray | None = None
    anchor: int = 0
    anchor_s: float = 0.0
    step_s: float | None = None


@dataclass(frozen=True)
class ProgramSolution:
    """Result of :func:`solve_bands`.

    Attributes
    ----------
    cycle_s : float
    offset_s : (N,) float64
        Node offsets in ``[0, C)``.
    band_s : (B,) float64
        Each band's program bandwidth (s).
    travel_s : list of (K_b − 1,) float64
        Each band's link travel times (s); ``link_m / travel_s`` are its progression speeds.
    window : list of (K_b,) int64
        Which green of each stop line the band uses.
    objective : float
        ``Σ W b`` in cycles (MAXBAND's units).
    optimal : bool
        False if HiGHS stopped at the time limit with a feasible plan (``gap`` > 0).
    gap : float
    n_vars, n_int, n_rows : int
    solve_s : float
    """

    cycle_s: float
    offset_s: np.ndarray
    band_s: np.ndarray
    travel_s: list[np.ndarray]
    window: list[np.ndarray]
    objective: float
    optimal: bool
    gap: float
    n_vars: int
    n_int: int
    n_rows: int
    solve_s: float


class _Model:
    """Sparse rows for :func:`scipy.optimize.milp`; expressions are ``({var: coef}, const)``."""

    def __init__(self):
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, lb=0.0, ub=math.inf, integer=False) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(1 if integer else 0)
        return len(self.lb) - 1

    def row(self, expr, lo=-math.inf, hi=math.inf) -> None:
        coefs, const = expr
        self.rows.append((coefs, lo - const, hi - const))

    def solve(self, objective: dict[int, float], time_limit_s: float):
        n = len(self.lb)
        c = np.zeros(n)
        for v, a in objective.items():
            c[v] -= a  # milp minimises
        ri, ci, vals, lo, hi = [], [], [], [], []
        for r, (coefs, a, b) in enumerate(self.rows):
            for v, x in coefs.items():
                ri.append(r)
                ci.append(v)
                vals.append(x)
            lo.append(a)
            hi.append(b)
        a_mat = sparse.csr_array((vals, (ri, ci)), shape=(len(self.rows), n))
        with _stdout_to_stderr():
            res = milp(
                c,
                integrality=np.asarray(self.integer),
                bounds=Bounds(np.asarray(self.lb), np.asarray(self.ub)),
                constraints=LinearConstraint(a_mat, np.asarray(lo), np.asarray(hi)),
                options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP},
            )
        return res


@contextlib.contextmanager
def _stdout_to_stderr():
    """HiGHS occasionally prints diagnostics from C++ to file descriptor 1; send them to stderr
    so that stdout stays clean (``--json`` prints exactly one object there)."""
    try:
        fd_out, fd_err = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured streams without descriptors
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd_out)
    try:
        os.dup2(fd_err, fd_out)
        yield
    finally:
        os.dup2(saved, fd_out)
        os.close(saved)


def _lin(*terms, const=0.0):
    """Sum of ``(coef, expr)`` terms and a constant, as an expression."""
    out: dict[int, float] = {}
    for coef, (coefs, c0) in terms:
        for v, a in coefs.items():
            out[v] = out.get(v, 0.0) + coef * a
        const += coef * c0
    return out, const


def _var(v: int):
    return {v: 1.0}, 0.0


def solve_bands(
    bands: Sequence[BandSpec],
    n_nodes: int,
    cycle: CycleSpec,
    offsets: OffsetSpec | None = None,
    *,
    ratios: Sequence[tuple[int, int, float]] = (),
    tie_break: bool = True,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> ProgramSolution:
    """Solve the MAXBAND program (module docstring) for ``bands`` over ``n_nodes`` signals.

    Parameters
    ----------
    bands : sequence of BandSpec
    n_nodes : int
    cycle : CycleSpec
    offsets : OffsetSpec, optional
    ratios : (i, j, k) triples
        MAXBAND's target ratio of band ``j`` to band ``i``: ``(1 − k) b_j ≥ (1 − k) k b_i``,
        ``b_j = b_i`` when ``k = 1``.
    tie_break : bool
        Among optimal plans prefer (a second program) the larger smallest band, then travel
        times nearer the target speeds, then the cycle nearer ``cycle.reference_s``.
    time_limit_s : float
        HiGHS time limit per program.

    Raises
    ------
    CoordinationError
        The program is infeasible (e.g. queue clearance longer than a green) or HiGHS found no
        plan within the time limit.
    """
    t0 = time.perf_counter()
    off = offsets or OffsetSpec()
    group = np.arange(n_nodes) if off.group is None else np.asarray(off.group, dtype=np.int64)
    rel = np.zeros(n_nodes) if off.rel_s is None else np.asarray(off.rel_s, dtype=float)
    c_lo, c_hi = cycle.bounds()
    z_fixed = cycle.fixed_s is not None
    if off.step_s is not None and not z_fixed:
        raise ValueError("an offset grid needs a fixed cycle")
    m = _Model()

    # z = 1/C as an expression, and the cycle as one (for the solution).
    lam: list[int] = []
    z: tuple[dict[int, float], float]
    if z_fixed:
        z = ({}, 1.0 / c_lo)
    elif cycle.candidates_s is not None:
        cands = np.asarray(cycle.candidates_s, dtype=float)
        lam = [m.var(0, 1, integer=True) for _ in cands]
        m.row(({v: 1.0 for v in lam}, 0.0), 1.0, 1.0)
        z = ({v: 1.0 / c for v, c in zip(lam, cands, strict=True)}, 0.0)
    else:
        zv = m.var(1.0 / c_hi, 1.0 / c_lo)
        z = _var(zv)
    z_lo, z_hi = 1.0 / c_hi, 1.0 / c_lo

    # Offsets of the node groups: φ_n = shift_g + rel_n · z (cycles).
    groups = np.unique(group)
    shift: dict[int, tuple[dict[int, float], float]] = {}
    span: dict[int, tuple[float, float]] = {}  # bounds of each shift (cycles)
    anchor_g = int(group[off.anchor])
    grid_q: dict[int, int] = {}
    for g in groups:
        g = int(g)
        if z_fixed:
            cyc = c_lo
            base = (off.anchor_s - rel[off.anchor]) / cyc
            if g == anchor_g:
                shift[g], span[g] = ({}, base), (base, base)
            elif off.step_s is not None:
                steps = math.ceil(cyc / off.step_s - 1e-9)
                q = m.var(0, steps - 1, integer=True)
                grid_q[g] = q
                shift[g] = ({q: off.step_s / cyc}, base)
                span[g] = (base, base + (steps - 1) * off.step_s / cyc)
            else:
                shift[g], span[g] = _var(m.var(0.0, 1.0)), (0.0, 1.0)
        elif g == anchor_g:
            shift[g], span[g] = ({}, 0.0), (0.0, 0.0)
        else:
            shift[g], span[g] = _var(m.var(0.0, 1.0)), (0.0, 1.0)

    def phi(n: int):
        return _lin((1.0, shift[int(group[n])]), (rel[n], z))

    def phi_bounds(n: int) -> tuple[float, float]:
        lo, hi = span[int(group[n])]
        r = sorted((rel[n] * z_lo, rel[n] * z_hi))
        return lo + r[0], hi + r[1]

    obj: dict[int, float] = {}
    b_vars, t_vars, y_vars = [], [], []
    # A band may be empty (y = 0) when there are others, or when offsets are tied (measuring a
    # given plan): then a direction nobody can progress through is a band of 0, not infeasible.
    optional = len(bands) > 1 or off.group is not None
    for spec in bands:
        k_n = spec.n_stops
        if k_n < 2:
            raise CoordinationError(f"band '{spec.name}' has fewer than 2 signals")
        b = m.var(0.0, 1.0)
        b_vars.append(b)
        obj[b] = obj.get(b, 0.0) + spec.weight
        # p = 0: this band is absent (b = 0 and its greens need not line up).  Without it a
        # zero-width band would still be required, which can cost the other bands.
        p = m.var(0, 1, integer=True) if optional else None
        if p is not None:
            m.row(_lin((1.0, _var(b)), (-1.0, _var(p))), hi=0.0)
        theta = m.var(0.0, 1.0)
        ts = []
        for d in spec.link_m:
            t = m.var(0.0, math.inf)
            m.row(_lin((1.0, _var(t)), (-d / spec.speed_hi_ms, z)), lo=0.0)
            m.row(_lin((1.0, _var(t)), (-d / spec.speed_lo_ms, z)), hi=0.0)
            ts.append(t)
        t_vars.append(ts)
        cum_m = np.concatenate([[0.0], np.cumsum(spec.link_m)])
        ys: list[list[int] | None] = []
        for k in range(k_n):
            ok = np.isfinite(spec.start_a[k])
            sa, sc = spec.start_a[k][ok], spec.start_c[k][ok]
            ea, ec = spec.end_a[k][ok], spec.end_c[k][ok]
            if len(sa) == 1:
                sigma = _lin((sc[0], z), const=sa[0])
                green = _lin((ec[0] - sc[0], z), const=ea[0] - sa[0])
                ys.append(None)
            else:
                sel = [m.var(0, 1, integer=True) for _ in sa]
                m.row(({v: 1.0 for v in sel}, 0.0), 1.0, 1.0)
                if z_fixed:
                    prods = [({v: 1.0 / c_lo}, 0.0) for v in sel]
                else:  # McCormick: u = y z exactly for binary y and z in [z_lo, z_hi]
                    prods = []
                    for v in sel:
                        u = m.var(0.0, z_hi)
                        m.row(_lin((1.0, _var(u)), (-z_hi, _var(v))), hi=0.0)
                        m.row(_lin((1.0, _var(u)), (-z_lo, _var(v))), lo=0.0)
                        m.row(_lin((1.0, _var(u)), (-1.0, z), (-z_lo, _var(v))), hi=-z_lo)
                        m.row(_lin((1.0, _var(u)), (-1.0, z), (-z_hi, _var(v))), lo=-z_hi)
                        prods.append(_var(u))
                sigma = _lin(
                    *[(a, _var(v)) for a, v in zip(sa, sel, strict=True)],
                    *[(c, p) for c, p in zip(sc, prods, strict=True)],
                )
                green = _lin(
                    *[(a, _var(v)) for a, v in zip(ea - sa, sel, strict=True)],
                    *[(c, p) for c, p in zip(ec - sc, prods, strict=True)],
                )
                ys.append(sel)
            w = m.var(0.0, 1.0)
            # Tight bounds on n_k = θ + T_k − φ − σ − w keep the relaxation (and the search)
            # small: θ, w in [0, 1], T_k within the speed and cycle ranges.
            s_vals = np.concatenate([sa + sc * z_lo, sa + sc * z_hi])
            f_lo, f_hi = phi_bounds(int(spec.nodes[k]))
            t_lo = cum_m[k] / spec.speed_hi_ms * z_lo
            t_hi = cum_m[k] / spec.speed_lo_ms * z_hi
            n_lo = math.ceil(t_lo - f_hi - s_vals.max() - 1.0 - 1e-9)
            n_hi = math.floor(1.0 + t_hi - f_lo - s_vals.min() + 1e-9)
            n_k = m.var(n_lo, n_hi, integer=True)
            arrive = _lin((1.0, _var(theta)), *[(1.0, _var(t)) for t in ts[:k]])
            m.row(
                _lin((1.0, phi(int(spec.nodes[k]))), (1.0, sigma), (1.0, _var(n_k)),
                     (1.0, _var(w)), (-1.0, arrive)),
                0.0,
                0.0,
            )  # fmt: skip
            slack = ({}, 0.0) if p is None else ({p: -1.0}, 1.0)  # 1 − p: relaxed if absent
            m.row(_lin((1.0, _var(w)), (1.0, _var(b)), (-1.0, green), (-1.0, slack)), hi=0.0)
            if spec.queue_s[k] > 0:
                tau = float(spec.queue_s[k])
                m.row(_lin((1.0, _var(w)), (-tau, z), (tau * z_hi, slack)), lo=0.0)
        y_vars.append(ys)
    for i, j, ratio in ratios:
        bi, bj = _var(b_vars[i]), _var(b_vars[j])
        if math.isclose(ratio, 1.0):
            m.row(_lin((1.0, bj), (-1.0, bi)), 0.0, 0.0)
        else:
            m.row(_lin((1.0 - ratio, bj), (-(1.0 - ratio) * ratio, bi)), lo=0.0)

    res = m.solve(obj, time_limit_s)
    if res.x is None:
        if res.status == 2:
            raise CoordinationError(
                "the bandwidth program is infeasible (a queue clearance time longer than a "
                "green, or a target ratio that cannot be met)",
            )
        raise CoordinationError(f"the bandwidth program found no plan: {res.message}")
    x = res.x
    best = float(-res.fun)
    optimal = res.status == 0
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    if tie_break and optimal:
        x2 = _tie_break(m, obj, best, bands, b_vars, t_vars, z, cycle, time_limit_s)
        if x2 is not None:
            x = x2
    # Read the solution.
    if z_fixed:
        cyc = c_lo
    elif lam:
        assert cycle.candidates_s is not None
        cyc = float(np.asarray(cycle.candidates_s)[int(np.argmax(x[lam]))])
    else:
        cyc = 1.0 / float(x[zv])
    offs = np.empty(n_nodes)
    for n in range(n_nodes):
        g = int(group[n])
        if g in grid_q:  # exact: anchor + rel + whole steps
            q = round(float(x[grid_q[g]]))
            offs[n] = off.anchor_s - rel[off.anchor] + rel[n] + q * (off.step_s or 0.0)
        else:
            coefs, c0 = shift[g]
            offs[n] = (c0 + sum(a * x[v] for v, a in coefs.items())) * cyc + rel[n]
    offs += off.anchor_s - offs[off.anchor]  # a common shift changes no band
    offs = np.asarray(np.round(np.mod(offs, cyc), 6) % cyc, dtype=float)
    travel = [np.array([x[t] for t in ts]) * cyc for ts in t_vars]
    windows = [
        np.array([0 if y is None else int(np.argmax(x[y])) for y in ys], dtype=np.int64)
        for ys in y_vars
    ]
    return ProgramSolution(
        cycle_s=cyc,
        offset_s=offs,
        band_s=np.array([x[b] for b in b_vars]) * cyc,
        travel_s=travel,
        window=windows,
        objective=best,
        optimal=optimal,
        gap=gap,
        n_vars=len(m.lb),
        n_int=int(sum(m.integer)),
        n_rows=len(m.rows),
        solve_s=time.perf_counter() - t0,
    )


def _tie_break(m: _Model, obj, best, bands, b_vars, t_vars, z, cycle: CycleSpec, time_limit_s):
    """Second program: keep ``Σ W b`` optimal; prefer balanced bands, then preferred bands,
    target speeds and the cycle nearest the reference.  Returns the solution vector, or None
    if HiGHS gave none."""
    nv = len(m.lb)
    m.row(({v: a for v, a in obj.items()}, 0.0), lo=best - 1e-7 - 1e-9 * abs(best))
    rho = m.var(0.0, 1.0)
    for b in b_vars:
        m.row(_lin((1.0, _var(rho)), (-1.0, _var(b))), hi=0.0)
    tie: dict[int, float] = {rho: 1.0}
    for spec, b in zip(bands, b_vars, strict=True):
        if spec.preferred:
            tie[b] = tie.get(b, 0.0) + 1e-2
    c_ref = cycle.reference_s or cycle.bounds()[0]
    total = sum(float(np.sum(s.link_m)) / s.speed_ms for s in bands) / c_ref
    for spec, ts in zip(bands, t_vars, strict=True):
        for d, t in zip(spec.link_m, ts, strict=True):
            e = m.var(0.0, math.inf)
            dev = _lin((1.0, _var(t)), (-d / spec.speed_ms, z))
            m.row(_lin((1.0, _var(e)), (-1.0, dev)), lo=0.0)
            m.row(_lin((1.0, _var(e)), (1.0, dev)), lo=0.0)
            tie[e] = -1e-3 / max(total, 1e-9)
    if cycle.fixed_s is None:
        e = m.var(0.0, math.inf)
        zr = 1.0 / c_ref
        m.row(_lin((1.0, _var(e)), (-1.0, z), const=zr), lo=0.0)
        m.row(_lin((1.0, _var(e)), (1.0, z), const=-zr), lo=0.0)
        tie[e] = -1e-4 / zr
    res = m.solve(tie, time_limit_s)
    return None if res.x is None else res.x[:nv]


# --------------------------------------------------------------------------- corridors
@dataclass(frozen=True)
class DirectionResult:
    """One direction after :func:`optimize_corridor`.

    ``band`` is the through band on the written plans at the program's progression speeds
    (``speed_ms`` per link, (K−1,)); ``band_at_target`` the same plans at the one target speed
    (what :func:`greenwave.coordination.corridor_bands` reports); ``before`` the old plans at
    the target speed.  ``attainability`` is MAXBAND's ``band / min green`` along the direction
    (1 = the widest band the splits allow); ``program_band_s`` the program's ``b`` (equal to
    ``band.bandwidth_s`` up to the solver's tolerance when there is no queue clearance).
    """

    band: Band
    band_at_target: Band
    before: Band
    speed_ms: np.ndarray
    program_band_s: float
    attainability: float
    attainability_before: float


@dataclass(frozen=True)
class MaxbandResult:
    """The retimed corridor: cycle, offsets, plans, bands per direction and the new scenario."""

    corridor: CorridorTiming
    direction: Direction
    speed_ms: float
    speed_range_ms: tuple[float, float]
    weight_backward: float
    target_ratio: float | None
    cycle_before_s: float
    cycle_s: float
    cycle_range_s: tuple[float, float]
    offsets_before_s: np.ndarray
    offsets_s: np.ndarray
    directions: dict[str, DirectionResult]
    objective: float
    objective_continuous: float | None
    solution: ProgramSolution
    scenario: Scenario = field(repr=False)

    @property
    def offsets(self) -> dict[str, float]:
        return dict(zip(self.corridor.intersection_ids, map(float, self.offsets_s), strict=True))


def _min_green(ap) -> float:
    g = np.nanmax(ap.green_end_s - ap.green_start_s, axis=1)
    return float(np.min(g))


def band_specs(
    ct: CorridorTiming,
    plans: Sequence[SignalPlan] | None = None,
    *,
    speed_ms: float,
    speed_range_ms: tuple[float, float],
    weights: dict[str, float],
    queue_clearance_s: float = 0.0,
    warped: bool = False,
    node_of: Sequence[int] | None = None,
) -> list[BandSpec]:
    """Program bands of a corridor's directions (only those in ``weights``).

    ``plans`` (I,) are the corridor's plans in :attr:`CorridorTiming.intersection_ids` order
    (default: the greens of ``ct`` at its cycle); greens are affine in ``z`` through
    :class:`SplitWarp` when ``warped`` (cycle choice), else constants of the plans' own cycle.
    ``node_of`` maps corridor positions to program nodes.
    """
    n_int = len(ct.intersection_ids)
    nodes = np.arange(n_int) if node_of is None else np.asarray(node_of, dtype=np.int64)
    out = []
    for name, ap in ct.approaches.items():
        if name not in weights:
            continue
        k_n = len(ap.stops)
        if plans is None:
            sa, ea = ap.green_start_s / ct.cycle_s, ap.green_end_s / ct.cycle_s
            sc, ec = np.zeros_like(sa), np.zeros_like(ea)
            k_range: list = []
        else:
            w_max = max(len(g.greens_s) for p in plans for g in p.groups)
            sa, sc, ea, ec = (np.full((k_n, w_max), np.nan) for _ in range(4))
            k_range = list(enumerate(ap.stops))
        for k, i in k_range:
            assert plans is not None
            plan = plans[int(i)]
            gid = ap.group_ids[k]
            grp = next(g for g in plan.groups if g.id == gid)
            greens = merge_wrapped_greens(grp.greens_s, plan.cycle_s)
            s = np.array([a for a, _ in greens])
            e = np.array([b for _, b in greens])
            if warped:
                warp = SplitWarp.of(plan)
                (a0, c0), (a1, c1) = warp.coeffs(s), warp.coeffs(e)
            else:
                a0, a1 = s / plan.cycle_s, e / plan.cycle_s
                c0 = c1 = np.zeros_like(s)
            sa[k, : len(s)], sc[k, : len(s)] = a0, c0
            ea[k, : len(s)], ec[k, : len(s)] = a1, c1
        q = np.full(k_n, float(queue_clearance_s))
        out.append(
            BandSpec(
                nodes=nodes[ap.stops],
                link_m=np.diff(ap.distance_m),
                start_a=sa,
                start_c=sc,
                end_a=ea,
                end_c=ec,
                weight=weights[name],
                speed_ms=speed_ms,
                speed_lo_ms=speed_range_ms[0],
                speed_hi_ms=speed_range_ms[1],
                queue_s=q,
                name=f"{ct.id} {name}",
                preferred=name == "forward",
            )
        )
    return out


def feasible_cycles(
    plans: Sequence[SignalPlan],
    cycle_range_s: tuple[float, float],
    cycle_step_s: float,
    min_green_s: float,
) -> np.ndarray:
    """Candidate cycles ``lo, lo + step, …, hi`` that leave every green its minimum.

    Raises :class:`CoordinationError` (``param='cycle_range'``) when none does.
    """
    lo, hi = cycle_range_s
    need = max(SplitWarp.of(p).min_cycle_s(p, min_green_s) for p in plans)
    count = math.floor((hi - lo) / cycle_step_s + 1e-9) + 1
    cands = np.round(lo + cycle_step_s * np.arange(count), 6)
    ok = cands[(cands >= need - 1e-9) & (cands <= MAX_CYCLE_S)]
    if ok.size == 0:
        raise CoordinationError(
            f"no cycle in {lo:g}–{hi:g} s is feasible: the splits need at least "
            f"{math.ceil(need * 10) / 10:g} s (every green >= min({min_green_s:g} s, its "
            f"current length), amber and all-red kept) and at most {MAX_CYCLE_S:g} s",
            param="cycle_range",
        )
    return ok


def optimize_corridor(
    scenario: Scenario,
    corridor_id: str | None = None,
    *,
    speed_ms: float,
    speed_tolerance_ms: float = 0.0,
    direction: Direction = "both",
    weight_backward: float = 1.0,
    target_ratio: float | None = None,
    cycle_range_s: tuple[float, float] | None = None,
    cycle_step_s: float = 1.0,
    step_s: float | None = 1.0,
    queue_clearance_s: float = 0.0,
    min_green_s: float = MIN_GREEN_S,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> MaxbandResult:
    """Retime a corridor by MAXBAND: common cycle, offsets and progression speeds.

    Parameters
    ----------
    scenario : Scenario
    corridor_id : str, optional
        Default the first corridor.
    speed_ms : float
        Target progression speed (m/s).
    speed_tolerance_ms : float
        Each link's progression speed may lie in ``speed_ms ± speed_tolerance_ms`` (MAXBAND's
        ``e``, ``f``); 0 = exactly ``speed_ms``.
    direction : 'one' or 'both'
        'one': maximise the forward band; 'both': ``b + weight_backward · b̄``.
    weight_backward, target_ratio : float
        MAXBAND's ``k`` weight and target ratio (see :func:`greenwave.coordination.credited`).
    cycle_range_s : (lo, hi), optional
        Cycles to choose from (default: keep the corridor's cycle).  Splits keep their green
        shares (:func:`rescale_plan`).
    cycle_step_s : float
        Candidate cycles ``lo, lo + step, …`` (binary choice, exact over them).
    step_s : float or None
        Offset grid (s) from the first intersection, whose offset is kept; None: continuous.
    queue_clearance_s : float
        MAXBAND's ``τ`` at every stop line (s).
    min_green_s : float
        A cycle change may not leave a green below ``min(min_green_s, its length now)``.
    time_limit_s : float
        HiGHS time limit per program.

    Returns
    -------
    MaxbandResult
        With ``scenario``: the corridor's plans at the chosen cycle (green shares kept, whole
        seconds) and offsets; everything else unchanged.

    Raises
    ------
    CoordinationError
        Bad parameters (``param`` names which), an unknown corridor, mixed cycles, an
        infeasible program.
    """
    if direction not in ("one", "both"):
        raise ValueError(f"direction must be 'one' or 'both', got {direction!r}")
    if not (np.isfinite(speed_ms) and speed_ms > 0):
        raise CoordinationError(f"speed must be finite and > 0, got {speed_ms}", param="speed")
    if not (np.isfinite(speed_tolerance_ms) and 0 <= speed_tolerance_ms < speed_ms):
        raise CoordinationError(
            f"speed tolerance must be >= 0 and below the speed, got {speed_tolerance_ms:g} m/s",
            param="speed_tolerance",
        )
    if not (np.isfinite(weight_backward) and weight_backward >= 0):
        raise CoordinationError("weight_backward must be finite and >= 0", param="weight_backward")
    if target_ratio is not None and not (np.isfinite(target_ratio) and target_ratio > 0):
        raise CoordinationError("target_ratio must be finite and > 0", param="target_ratio")
    if not (np.isfinite(queue_clearance_s) and queue_clearance_s >= 0):
        raise CoordinationError("queue clearance must be >= 0", param="queue_clearance")
    world = World.build(scenario)
    ct = corridor_timing(world, corridor_id)
    explicit = {it.id: it for it in scenario.intersections}
    generated = [i for i in ct.intersection_ids if i not in explicit]
    if generated:
        raise CoordinationError(
            f"corridor '{ct.id}' runs through intersections generated by [grid] "
            f"({', '.join(generated[:5])}...): coordinate the whole grid at once "
            "(greenwave.netband, `greenwave optimize --network`)"
        )
    n = len(ct.intersection_ids)
    if n < 2:
        raise CoordinationError(f"corridor '{ct.id}' has one signal: nothing to coordinate")
    if direction == "both" and ct.backward is None:
        raise CoordinationError(f"corridor '{ct.id}' is one-way: use direction 'one'")
    plans = [explicit[i].plan for i in ct.intersection_ids]
    c0 = ct.cycle_s
    if cycle_range_s is None:
        cycle_range_s = (c0, c0)
    lo, hi = cycle_range_s
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise CoordinationError(
            f"cycle range {lo:g}–{hi:g} s: need 0 < lo <= hi", param="cycle_range"
        )
    if not (np.isfinite(cycle_step_s) and cycle_step_s > 0):
        raise CoordinationError("cycle step must be > 0", param="cycle_step")
    if step_s is not None and not (np.isfinite(step_s) and step_s > 0):
        raise CoordinationError("offset step must be > 0", param="step")
    v_rng = (speed_ms - speed_tolerance_ms, speed_ms + speed_tolerance_ms)
    weights = {"forward": 1.0}
    ratios: list[tuple[int, int, float]] = []
    if direction == "both" and weight_backward > 0:
        weights["backward"] = float(weight_backward)
        if target_ratio is not None:
            ratios.append((0, 1, float(target_ratio)))
    cands = feasible_cycles(plans, cycle_range_s, cycle_step_s, min_green_s)

    def solve(specs, cycle_spec, offsets) -> ProgramSolution:
        try:
            return solve_bands(
                specs, n, cycle_spec, offsets, ratios=ratios, time_limit_s=time_limit_s
            )
        except CoordinationError as exc:
            if queue_clearance_s > 0 and exc.param is None:
                raise CoordinationError(
                    f"queue clearance {queue_clearance_s:g} s: {exc}", param="queue_clearance"
                ) from None
            raise

    # Stage 1 (only with a cycle choice): the cycle, with continuous offsets.
    obj_cont = None
    if cands.size > 1 or not math.isclose(float(cands[0]), c0):
        specs = band_specs(
            ct, plans, speed_ms=speed_ms, speed_range_ms=v_rng, weights=weights,
            queue_clearance_s=queue_clearance_s, warped=True,
        )  # fmt: skip
        cyc = CycleSpec(candidates_s=cands, reference_s=c0) if cands.size > 1 else None
        cyc = cyc or CycleSpec(fixed_s=float(cands[0]))
        first = solve(specs, cyc, OffsetSpec())
        cycle = first.cycle_s
        obj_cont = first.objective
    else:
        cycle = c0
    # Stage 2: the written plans at that cycle, offsets on the grid (exact on it).
    new_plans = [rescale_plan(p, cycle) for p in plans]
    specs = band_specs(
        ct, new_plans, speed_ms=speed_ms, speed_range_ms=v_rng, weights=weights,
        queue_clearance_s=queue_clearance_s,
    )  # fmt: skip
    anchor_s = float(ct.offset_s[0]) % cycle
    sol = solve(
        specs, CycleSpec(fixed_s=cycle), OffsetSpec(anchor=0, anchor_s=anchor_s, step_s=step_s)
    )
    new_plans = [
        SignalPlan(cycle_s=p.cycle_s, offset_s=float(o), groups=p.groups)
        for p, o in zip(new_plans, sol.offset_s, strict=True)
    ]
    out = with_plans(scenario, dict(zip(ct.intersection_ids, new_plans, strict=True)))
    ct_new = corridor_timing(World.build(out), ct.id)
    at_v = corridor_bands(ct_new, speed_ms)
    before = corridor_bands(ct, speed_ms)
    dirs = {}
    for j, spec in enumerate(specs):
        name = spec.name.rsplit(" ", 1)[1]
        dirs[name] = _direction_result(
            ct_new, ct, name, sol.travel_s[j], float(sol.band_s[j]), at_v, before
        )
    for name in ct.approaches:
        if name not in dirs:  # direction 'one': the other way is reported, not optimised
            dirs[name] = _direction_result(ct_new, ct, name, None, math.nan, at_v, before)
    return MaxbandResult(
        corridor=ct,
        direction=direction,
        speed_ms=float(speed_ms),
        speed_range_ms=(float(v_rng[0]), float(v_rng[1])),
        weight_backward=float(weights.get("backward", 0.0)),
        target_ratio=None if target_ratio is None else float(target_ratio),
        cycle_before_s=c0,
        cycle_s=cycle,
        cycle_range_s=(float(lo), float(hi)),
        offsets_before_s=np.asarray(ct.offset_s, dtype=float),
        offsets_s=sol.offset_s,
        directions=dirs,
        objective=sol.objective,
        objective_continuous=obj_cont,
        solution=sol,
        scenario=out,
    )


def _direction_result(ct_new, ct_old, name, travel_s, program_s, at_v, before) -> DirectionResult:
    ap = ct_new.approaches[name]
    off = ct_new.offset_s[ap.stops]
    if travel_s is None:
        band = at_v[name]
        speeds = np.full(len(ap.stops) - 1, np.nan)
    else:
        cum = np.concatenate([[0.0], np.cumsum(travel_s)])
        # The existing evaluation at the program's travel times: "distances" in seconds at 1 m/s.
        band = bandwidth(ap.green_start_s, ap.green_end_s, off, ct_new.cycle_s, cum, 1.0)
        band = replace(band, distance_m=ap.distance_m, intersection_ids=at_v[name].intersection_ids)
        speeds = np.diff(ap.distance_m) / np.asarray(travel_s)
    g_new = _min_green(ap)
    g_old = _min_green(ct_old.approaches[name])
    return DirectionResult(
        band=band,
        band_at_target=at_v[name],
        before=before[name],
        speed_ms=speeds,
        program_band_s=program_s,
        attainability=band.bandwidth_s / g_new,
        attainability_before=before[name].bandwidth_s / g_old,
    )


def with_plans(scenario: Scenario, plans: dict[str, SignalPlan]) -> Scenario:
    """A validated copy of ``scenario`` with some intersections' plans replaced."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    index = {it["id"]: it for it in data["intersections"]}
    for iid, plan in plans.items():
        if iid not in index:
            raise CoordinationError(
                f"intersection '{iid}' is generated by [grid]; write the grid out first"
            )
        index[iid]["plan"] = plan.model_dump(mode="json", exclude_none=True)
    return parse_scenario(data, "<optimised scenario>")
