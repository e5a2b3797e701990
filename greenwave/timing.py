"""Fixed-time signal plans and the green windows they produce, vectorised over signal groups.

Time reference
--------------
All absolute times are **seconds since the Unix epoch (1970-01-01T00:00:00Z, leap seconds
ignored)** as float64.  A plan with cycle ``C`` and offset ``o`` is in cycle second

    c(t) = (t - o) mod C

at absolute time ``t``; a signal group is green at ``t`` when ``c(t)`` lies in one of its green
intervals ``[start, end)``.  The simulator runs in the same absolute time (its clock starts at the
scenario's ``start_time``), so the API and the simulator see the same signal at the same instant.

Signal groups are flattened over all intersections into one table of ``G`` groups; a query names
groups by their global index ``g`` (``PlanTable.index``).  Green windows are half-open absolute
intervals ``[start, end)``.

Live timing (SPaT) lives in :mod:`greenwave.spat` and overrides a plan for its horizon; the
combination is :class:`greenwave.spat.SignalTiming`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Signal state codes shared by the core, the simulator and the API.
RED, AMBER, GREEN = 0, 1, 2
STATE_NAMES = ("red", "amber", "green")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _new_array(shape, dtype=np.float64):
    return np.empty(shape, dtype)


class SignalGroupPlan(BaseModel):
    """One signal group of a fixed-time plan (all times in seconds of the cycle)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Signal group name, unique in its intersection")
    greens_s: list[tuple[FiniteFloat, FiniteFloat]] = Field(
        min_length=1,
        description="Green intervals [start, end) in cycle seconds, 0 <= start < end <= cycle_s",
        examples=[[[0.0, 58.0]]],
    )
    amber_s: FiniteFloat = Field(3.0, ge=0.0, le=10.0, description="Amber after each green (s)")
    all_red_s: FiniteFloat = Field(2.0, ge=0.0, le=10.0, description="All-red after amber (s)")
    conflicts: list[str] = Field(
        default_factory=list, description="Groups of the same intersection that conflict"
    )

    @field_validator("greens_s")
    @classmethod
    def _greens_ordered(cls, greens):
        for k, (start, end) in enumerate(greens):
            if not start < end:
                raise ValueError(f"green {k} [{start}, {end}): start must be before end")
        for k in range(1, len(greens)):
            if greens[k][0] < greens[k - 1][1]:
                raise ValueError(
                    f"greens must be sorted and not overlap: green {k} starts at "
                    f"{greens[k][0]} before green {k - 1} ends at {greens[k - 1][1]}"
                )
        return greens


class SignalPlan(BaseModel):
    """Fixed-time plan of one intersection."""

    model_config = ConfigDict(extra="forbid")

    cycle_s: FiniteFloat = Field(gt=0.0, le=600.0, description="Cycle length (s)", examples=[120.0])
    offset_s: FiniteFloat = Field(
        0.0, ge=0.0, description="Offset (s): cycle second 0 falls at t = offset_s (mod cycle_s)"
    )
    groups: list[SignalGroupPlan] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self):
        cycle = self.cycle_s
        if self.offset_s >= cycle:
            raise ValueError(f"offset_s {self.offset_s} must be < cycle_s {cycle}")
        ids = [g.id for g in self.groups]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"groups: duplicate signal group id(s) {sorted(dup)}")
        by_id = {g.id: g for g in self.groups}
        for g in self.groups:
            for k, (start, end) in enumerate(g.greens_s):
                if start < 0 or end > cycle:
                    raise ValueError(
                        f"group '{g.id}' greens_s[{k}] [{start}, {end}) lies outside the cycle "
                        f"[0, {cycle}]"
                    )
            if sum(e - s for s, e in g.greens_s) >= cycle:
                raise ValueError(
                    f"group '{g.id}' is green for the whole cycle: model it as an unsignalised "
                    "approach instead"
                )
            for other in g.conflicts:
                if other not in by_id:
                    raise ValueError(f"group '{g.id}' conflicts with unknown group '{other}'")
                if other == g.id:
                    raise ValueError(f"group '{g.id}' cannot conflict with itself")
        # Conflicts are symmetric whichever side declares them.
        pairs = {tuple(sorted((g.id, o))) for g in self.groups for o in g.conflicts}
        for a, b in sorted(pairs):
            overlap = _first_overlap(by_id[a], by_id[b], cycle)
            if overlap is not None:
                raise ValueError(
                    f"conflicting groups '{a}' and '{b}' are both green or clearing "
                    f"(amber/all-red) at cycle second {overlap:g}"
                )
        return self


def _occupied(group: SignalGroupPlan, cycle: float) -> list[tuple[float, float]]:
    """Cycle intervals a group holds the junction: green + amber + all-red, unwrapped."""
    out = []
    for start, end in group.greens_s:
        stop = end + group.amber_s + group.all_red_s
        # Split an interval that wraps past the cycle end into two.
        if stop <= cycle:
            out.append((start, stop))
        else:
            out.append((start, cycle))
            out.append((0.0, min(stop - cycle, cycle)))
    return out


def _first_overlap(a: SignalGroupPlan, b: SignalGroupPlan, cycle: float) -> float | None:
    """First cycle second at which a holds the junction while b is green (or vice versa)."""
    for x, y in ((a, b), (b, a)):
        for s1, e1 in _occupied(x, cycle):
            for s2, e2 in _greens_unwrapped(y):
                lo, hi = max(s1, s2), min(e1, e2)
                if lo < hi:
                    return lo
    return None


def _greens_unwrapped(group: SignalGroupPlan) -> list[tuple[float, float]]:
    return [(float(s), float(e)) for s, e in group.greens_s]


def merge_wrapped_greens(greens: Sequence[tuple[float, float]], cycle: float):
    """Merge greens that touch: one ending where the next starts, and one that ends at the cycle
    end with one that starts at cycle second 0 (a driver sees one uninterrupted green).

    Returns the green intervals sorted by start with ``0 <= start < cycle`` and
    ``start < end <= start + cycle``: a merged interval ends after ``cycle``.
    """
    greens_in = sorted((float(s), float(e)) for s, e in greens)
    greens = greens_in[:1]
    for s, e in greens_in[1:]:
        if s <= greens[-1][1]:
            greens[-1] = (greens[-1][0], max(e, greens[-1][1]))
        else:
            greens.append((s, e))
    if len(greens) > 1 and greens[0][0] == 0.0 and greens[-1][1] == cycle:
        first = greens.pop(0)
        last = greens.pop()
        greens.append((last[0], cycle + first[1]))
    return greens


@dataclass(frozen=True)
class PlanTable:
    """Signal plans of many intersections as flat arrays over signal groups.

    Attributes
    ----------
    intersection_ids : list[str], length I
    group_keys : list[(str, str)], length G
        ``(intersection_id, group_id)`` of each global group index.
    group_intersection : (G,) int64
        Index into ``intersection_ids``.
    cycle_s, offset_s, amber_s, all_red_s : (G,) float64
        Copied per group from the plan of its intersection.
    n_greens : (G,) int64
        Number of green intervals per cycle after merging wrap-around greens (>= 1).
    green_start_s, green_end_s : (G, W) float64
        Cycle seconds of the green intervals, padded with NaN beyond ``n_greens``;
        ``green_end_s`` may exceed the cycle for a green that wraps.
    plans : dict[str, SignalPlan]
        The validated plan of each intersection (kept for display and persistence).
    """

    intersection_ids: list[str]
    group_keys: list[tuple[str, str]]
    group_intersection: np.ndarray
    cycle_s: np.ndarray
    offset_s: np.ndarray
    amber_s: np.ndarray
    all_red_s: np.ndarray
    n_greens: np.ndarray
    green_start_s: np.ndarray
    green_end_s: np.ndarray
    plans: dict[str, SignalPlan]
    index: dict[tuple[str, str], int] = field(repr=False)

    @classmethod
    def from_plans(cls, plans: Iterable[tuple[str, SignalPlan]]) -> PlanTable:
        """Build the table from ``(intersection_id, plan)`` pairs (order is kept)."""
        plans = list(plans)
        keys, inter, cyc, off, amb, ar, greens = [], [], [], [], [], [], []
        for i, (iid, plan) in enumerate(plans):
            for g in plan.groups:
                keys.append((iid, g.id))
                inter.append(i)
                cyc.append(plan.cycle_s)
                off.append(plan.offset_s)
                amb.append(g.amber_s)
                ar.append(g.all_red_s)
                greens.append(merge_wrapped_greens(g.greens_s, plan.cycle_s))
        n_groups = len(keys)
        width = max((len(gr) for gr in greens), default=1)
        gs = np.full((n_groups, width), np.nan)
        ge = np.full((n_groups, width), np.nan)
        for k, gr in enumerate(greens):
            gs[k, : len(gr)] = [s for s, _ in gr]
            ge[k, : len(gr)] = [e for _, e in gr]
        arrays = dict(
            group_intersection=np.asarray(inter, dtype=np.int64),
            cycle_s=np.asarray(cyc, dtype=float),
            offset_s=np.asarray(off, dtype=float),
            amber_s=np.asarray(amb, dtype=float),
            all_red_s=np.asarray(ar, dtype=float),
            n_greens=np.asarray([len(gr) for gr in greens], dtype=np.int64),
            green_start_s=gs,
            green_end_s=ge,
        )
        for a in arrays.values():
            a.setflags(write=False)
        ids = [iid for iid, _ in plans]
        return cls(
            intersection_ids=ids,
            group_keys=keys,
            plans=dict(plans),
            index={k: n for n, k in enumerate(keys)},
            **arrays,
        )

    @property
    def n_groups(self) -> int:
        return len(self.group_keys)

    def group_index(self, intersection_id: str, group_id: str) -> int:
        """Global index of a signal group; KeyError names what is missing."""
        try:
            return self.index[(intersection_id, group_id)]
        except KeyError:
            raise KeyError(
                f"no signal group '{group_id}' at intersection '{intersection_id}'"
            ) from None

    def with_plan(self, intersection_id: str, plan: SignalPlan) -> PlanTable:
        """A new table with one intersection's plan replaced (this table is not changed).

        The new plan must keep the intersection's signal group ids, so that links that refer to
        them by global index stay valid.
        """
        if intersection_id not in self.plans:
            raise KeyError(f"unknown intersection '{intersection_id}'")
        old_ids = [g.id for g in self.plans[intersection_id].groups]
        new_ids = [g.id for g in plan.groups]
        if old_ids != new_ids:
            raise ValueError(
                f"plan for '{intersection_id}' must keep its signal groups {old_ids} in order, "
                f"got {new_ids}"
            )
        return PlanTable.from_plans(
            (iid, plan if iid == intersection_id else p) for iid, p in self.plans.items()
        )

    # ------------------------------------------------------------------ queries
    def _cycle_frame(self, g: np.ndarray, t: np.ndarray):
        cycle = self.cycle_s[g]
        base = self.offset_s[g] + np.floor((t - self.offset_s[g]) / cycle) * cycle
        return cycle, base

    def _skip_count(self, g, t, cycle, base):
        """Number of windows, counted from the previous cycle's first, that ended by ``t``."""
        n = self.n_greens[g]
        ge = self.green_end_s[g]  # (N, W)
        valid = np.arange(ge.shape[1]) < n[:, None]
        prev_ended = valid & (base[:, None] - cycle[:, None] + ge <= t[:, None])
        this_ended = valid & (base[:, None] + ge <= t[:, None])
        return prev_ended.sum(axis=1) + this_ended.sum(axis=1)

    def _window(self, g, q, cycle, base):
        """Window number ``q`` counted from the first window of the previous cycle."""
        n = self.n_greens[g]
        if q.ndim == 2:
            n2, cyc2, base2, g2 = n[:, None], cycle[:, None], base[:, None], g[:, None]
        else:
            n2, cyc2, base2, g2 = n, cycle, base, g
        j = np.floor_divide(q, n2)
        slot = q - j * n2
        start0 = base2 + (j - 1) * cyc2
        return start0 + self.green_start_s[g2, slot], start0 + self.green_end_s[g2, slot]

    def green_windows(self, g, t, k: int = 3):
        """The next ``k`` green windows of groups ``g`` at times ``t``.

        Parameters
        ----------
        g : (N,) int
            Global signal group indices.
        t : (N,) float or scalar
            Absolute query times (s).
        k : int
            Number of windows.

        Returns
        -------
        start_s, end_s : (N, k) float64
            Absolute ``[start, end)`` of the current green (if ``t`` is inside one: then
            ``start <= t``) followed by the next ones, in time order; every ``end > t``.
        """
        start, end = self.windows_by_k(g, t, k)
        return start.T, end.T

    def windows_by_k(self, g, t, k: int = 3):
        """As :meth:`green_windows` but laid out window-first: ``start_s, end_s`` are (k, N).

        The hot path of the band computation works one window at a time on contiguous rows.
        """
        g = np.asarray(g, dtype=np.int64)
        t = np.broadcast_to(np.asarray(t, dtype=float), g.shape)
        if self.single_green:
            start, end, cycle = self.first_window(g, t)
            step = np.arange(k, dtype=float)[:, None] * cycle
            return start + step, end + step
        cycle, base = self._cycle_frame(g, t)
        s = self._skip_count(g, t, cycle, base)
        q = s[:, None] + np.arange(k)
        start, end = self._window(g, q, cycle, base)
        return np.ascontiguousarray(start.T), np.ascontiguousarray(end.T)

    @property
    def single_green(self) -> bool:
        """True when every group has one green per cycle (the fast path)."""
        return bool(self.green_start_s.shape[1] == 1)

    def first_window(self, g, t, alloc=None):
        """Current or next green window for tables with one green per cycle (hot path).

        Returns ``start_s, end_s, cycle_s``, each of the shape of ``g`` (``t`` broadcasts
        against it: e.g. stop lines × vehicles, with ``t`` per vehicle); window ``k`` is
        shifted by ``k`` cycles.  With ``alloc(shape, dtype=float64)`` the results are written
        into arrays it supplies, and out-of-range indices in ``g`` are clipped instead of raising
        (the band code passes -1 for stop lines it ignores).
        """
        first_start, first_end = self._first_green
        if alloc is None:
            g = np.asarray(g)
            new = _new_array

            def gather(table, idx):
                return np.asarray(table[idx])
        else:

            def gather(table, idx):
                return table.take(idx, out=alloc(idx.shape), mode="clip")

            new = alloc
        cycle = gather(self.cycle_s, g)
        # The latest green that began at or before t (its cycle may be the previous one for a
        # green that wraps); if it has ended, the next cycle's.  Edges are summed as
        # (offset + k cycle) + green start/end, like the plain scalar computation of a
        # window, so that whether a window ending exactly at t has ended is decided alike
        # (rounding otherwise could keep a window that ends at t, up to an ulp).
        off = gather(self.offset_s, g)
        base = np.subtract(t, off, out=new(g.shape))
        gs = gather(first_start, g)
        base -= gs
        base /= cycle
        np.floor(base, out=base)
        base *= cycle
        base += off
        start = np.add(base, gs, out=gs)
        end = gather(first_end, g)
        end += base
        ended = np.less_equal(end, t, out=new(g.shape, np.bool_))
        if ended.any():
            step = np.multiply(cycle, ended, out=base)
            start += step
            end += step
        return start, end, cycle

    @cached_property
    def _first_green(self):
        """Per group: cycle seconds of the start and end of the first green (contiguous)."""
        return (
            np.ascontiguousarray(self.green_start_s[:, 0]),
            np.ascontiguousarray(self.green_end_s[:, 0]),
        )

    def state(self, g, t):
        """Signal state of groups ``g`` at times ``t`` and seconds until it changes.

        Returns
        -------
        state : (N,) int8
            ``RED``, ``AMBER`` or ``GREEN``.
        time_to_change_s : (N,) float64
            Seconds until the state changes (green → amber, amber → red, red → green).
        """
        g = np.asarray(g, dtype=np.int64)
        t = np.broadcast_to(np.asarray(t, dtype=float), g.shape)
        cycle, base = self._cycle_frame(g, t)
        s = self._skip_count(g, t, cycle, base)
        nxt_start, nxt_end = self._window(g, s, cycle, base)
        _, prev_end = self._window(g, s - 1, cycle, base)
        amber_end = prev_end + self.amber_s[g]
        green = nxt_start <= t
        amber = ~green & (t < amber_end)
        state = np.where(green, GREEN, np.where(amber, AMBER, RED)).astype(np.int8)
        change = np.where(green, nxt_end, np.where(amber, amber_end, nxt_start)) - t
        return state, change
