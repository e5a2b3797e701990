"""Live signal timing (SPaT) and its conservative green windows.

A SPaT message follows the idea of SAE J2735 ``MovementState``: per signal group, a list of
movement events, the first being the current one, each with a state and ``TimeChangeDetails``
(``minEndTime``, ``likelyTime``, ``maxEndTime``).  Here the end times are absolute seconds on the
clock of :mod:`greenwave.timing` (the API converts from ISO 8601 or seconds-from-now).

Conservative windows
--------------------
Event ``i`` starts when event ``i-1`` ends, somewhere in ``[min_end[i-1], max_end[i-1]]``.  A
green event therefore certainly shows green only during ``[max_end[i-1], min_end[i])``: the latest
possible start and the earliest possible end.  Advice built on that window stays valid for every
actual switch time inside the announced ``[min, max]`` ranges.  The first event is taken to have
started at the message time.

A message covers ``[timestamp, horizon)`` with ``horizon = max_end`` of its last event.  Beyond the
horizon the fixed-time plan takes over, conservatively: if the last announced event is green, only
plan greens that *start* at or after the horizon are used (the announced green may end early);
otherwise the plan green that contains the horizon is cut to start at the horizon.  Outside
``[timestamp, horizon)`` the message is ignored (stale, or a query about an earlier time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .timing import AMBER, GREEN, RED, FiniteFloat, PlanTable

STATE_CODES = {"red": RED, "amber": AMBER, "green": GREEN}


class SpatEvent(BaseModel):
    """One movement event: a state and when it ends (absolute s)."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["red", "amber", "green"]
    min_end_s: FiniteFloat = Field(description="Earliest end of this state (abs s)")
    likely_end_s: FiniteFloat | None = Field(None, description="Most likely end (abs s)")
    max_end_s: FiniteFloat = Field(description="Latest end of this state (abs s)")

    @model_validator(mode="after")
    def _ordered(self):
        likely = self.likely_end_s if self.likely_end_s is not None else self.min_end_s
        if not self.min_end_s <= likely <= self.max_end_s:
            raise ValueError(
                f"need min_end_s <= likely_end_s <= max_end_s, got {self.min_end_s}, "
                f"{self.likely_end_s}, {self.max_end_s}"
            )
        return self

    @property
    def likely(self) -> float:
        return self.likely_end_s if self.likely_end_s is not None else self.min_end_s


class SpatMessage(BaseModel):
    """Live timing of one signal group, valid from ``timestamp_s`` to the last ``max_end_s``."""

    model_config = ConfigDict(extra="forbid")

    timestamp_s: FiniteFloat = Field(description="Time the state was observed (abs s)")
    events: list[SpatEvent] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _sequence(self):
        if self.events[0].min_end_s < self.timestamp_s:
            raise ValueError("events[0].min_end_s is before the message timestamp_s")
        for i in range(1, len(self.events)):
            a, b = self.events[i - 1], self.events[i]
            if b.state == a.state:
                raise ValueError(f"events[{i}] repeats the state '{a.state}' of events[{i - 1}]")
            if b.min_end_s < a.min_end_s or b.max_end_s < a.max_end_s:
                raise ValueError(f"events[{i}] ends before events[{i - 1}]")
        return self

    @property
    def horizon_s(self) -> float:
        return self.events[-1].max_end_s


@dataclass(frozen=True)
class SpatTable:
    """SPaT messages of some groups as (G, E) arrays; groups without a message have NaN."""

    messages: dict[int, SpatMessage]
    n_groups: int
    timestamp_s: np.ndarray = field(repr=False)
    horizon_s: np.ndarray = field(repr=False)
    n_events: np.ndarray = field(repr=False)
    state: np.ndarray = field(repr=False)
    min_end_s: np.ndarray = field(repr=False)
    likely_end_s: np.ndarray = field(repr=False)
    max_end_s: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, messages: dict[int, SpatMessage], n_groups: int) -> SpatTable:
        width = max((len(m.events) for m in messages.values()), default=1)
        ts = np.full(n_groups, np.nan)
        hz = np.full(n_groups, np.nan)
        ne = np.zeros(n_groups, dtype=np.int64)
        st = np.full((n_groups, width), RED, dtype=np.int8)
        mn = np.full((n_groups, width), np.nan)
        lk = np.full((n_groups, width), np.nan)
        mx = np.full((n_groups, width), np.nan)
        for g, m in messages.items():
            if not 0 <= g < n_groups:
                raise IndexError(f"signal group index {g} out of range")
            e = len(m.events)
            ts[g], hz[g], ne[g] = m.timestamp_s, m.horizon_s, e
            st[g, :e] = [STATE_CODES[ev.state] for ev in m.events]
            mn[g, :e] = [ev.min_end_s for ev in m.events]
            lk[g, :e] = [ev.likely for ev in m.events]
            mx[g, :e] = [ev.max_end_s for ev in m.events]
        return cls(dict(messages), n_groups, ts, hz, ne, st, mn, lk, mx)

    def active(self, g: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(N,) bool: a message covers group ``g`` at time ``t``."""
        with np.errstate(invalid="ignore"):
            return (self.timestamp_s[g] <= t) & (t < self.horizon_s[g])


@dataclass(frozen=True)
class SignalTiming:
    """Fixed-time plans plus optional live SPaT: what the advice sees.

    Immutable: an update builds a new object, so a reader holding one sees one consistent state.
    """

    plans: PlanTable
    spat: SpatTable | None = None

    def with_plan(self, intersection_id, plan) -> SignalTiming:
        """Replace one plan; drop the intersection's live SPaT (it described the old plan)."""
        plans = self.plans.with_plan(intersection_id, plan)
        spat = self.spat
        if spat is not None:
            keep = {
                g: m
                for g, m in spat.messages.items()
                if self.plans.group_keys[g][0] != intersection_id
            }
            spat = SpatTable.build(keep, plans.n_groups) if keep else None
        return SignalTiming(plans, spat)

    def with_spat(self, messages: dict[int, SpatMessage]) -> SignalTiming:
        """Add or replace the SPaT messages of some groups (by global index)."""
        merged = dict(self.spat.messages) if self.spat is not None else {}
        merged.update(messages)
        return SignalTiming(self.plans, SpatTable.build(merged, self.plans.n_groups))

    def green_windows(self, g, t, k: int = 3):
        """Conservative next ``k`` green windows (N, k), as :meth:`PlanTable.green_windows`.

        Windows that SPaT leaves fewer than ``k`` of are NaN.
        """
        start, end = self.windows_by_k(g, t, k)
        return start.T, end.T

    def windows_by_k(self, g, t, k: int = 3):
        """As :meth:`green_windows`, laid out window-first: (k, N) arrays."""
        g = np.asarray(g, dtype=np.int64)
        t = np.broadcast_to(np.asarray(t, dtype=float), g.shape)
        ws, we = self.plans.windows_by_k(g, t, k)
        if self.spat is None:
            return ws, we
        rows = np.flatnonzero(self.spat.active(g, t))
        if rows.size == 0:
            return ws, we
        sub_s, sub_e = self._spat_windows(g[rows], t[rows], k)
        ws[:, rows], we[:, rows] = sub_s.T, sub_e.T
        return ws, we

    def _spat_windows(self, g, t, k):
        sp = self.spat
        n_ev = sp.n_events[g]
        width = sp.state.shape[1]
        slot = np.arange(width)
        in_msg = slot < n_ev[:, None]
        prev_max = np.concatenate([sp.timestamp_s[g][:, None], sp.max_end_s[g][:, :-1]], axis=1)
        start = prev_max
        end = sp.min_end_s[g]
        ok = in_msg & (sp.state[g] == GREEN) & (end > t[:, None]) & (end > start)
        hz = sp.horizon_s[g]
        last_state = sp.state[g, n_ev - 1]
        ps, pe = self.plans.green_windows(g, hz, k + 1)
        cut = last_state != GREEN
        ps = np.where(cut[:, None], np.maximum(ps, hz[:, None]), ps)
        pok = (ps >= hz[:, None]) & (pe > ps)
        all_s = np.concatenate([start, ps], axis=1)
        all_e = np.concatenate([end, pe], axis=1)
        all_ok = np.concatenate([ok, pok], axis=1)
        order = np.argsort(~all_ok, axis=1, kind="stable")[:, :k]
        take_ok = np.take_along_axis(all_ok, order, axis=1)
        out_s = np.where(take_ok, np.take_along_axis(all_s, order, axis=1), np.nan)
        out_e = np.where(take_ok, np.take_along_axis(all_e, order, axis=1), np.nan)
        return out_s, out_e

    def state(self, g, t):
        """State and time to change (likely, min, max) of groups ``g`` at times ``t``.

        Returns
        -------
        state : (N,) int8
        time_to_change_s, time_to_change_min_s, time_to_change_max_s : (N,) float64
            Equal for plan-driven groups; from the SPaT event's likely/min/max end otherwise.
        """
        g = np.asarray(g, dtype=np.int64)
        t = np.broadcast_to(np.asarray(t, dtype=float), g.shape)
        state, ttc = self.plans.state(g, t)
        ttc_min, ttc_max = ttc.copy(), ttc.copy()
        if self.spat is None:
            return state, ttc, ttc_min, ttc_max
        rows = np.flatnonzero(self.spat.active(g, t))
        if rows.size:
            sp, gr, tr = self.spat, g[rows], t[rows]
            n_ev = sp.n_events[gr]
            lk = sp.likely_end_s[gr]
            passed = np.nan_to_num(lk, nan=np.inf) <= tr[:, None]
            i = np.minimum(passed.sum(axis=1), n_ev - 1)[:, None]
            state = state.copy()
            state[rows] = np.take_along_axis(sp.state[gr], i, axis=1)[:, 0]
            ttc[rows] = np.maximum(np.take_along_axis(lk, i, axis=1)[:, 0] - tr, 0.0)
            ttc_min[rows] = np.maximum(
                np.take_along_axis(sp.min_end_s[gr], i, axis=1)[:, 0] - tr, 0.0
            )
            ttc_max[rows] = np.maximum(
                np.take_along_axis(sp.max_end_s[gr], i, axis=1)[:, 0] - tr, 0.0
            )
        return state, ttc, ttc_min, ttc_max
