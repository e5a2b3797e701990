"""Signal programs: greenwave plans as SUMO static ``tlLogic`` phases and back.

:func:`signal_program` and :func:`sumo_offset` write a plan; :func:`plan_from_program` reads a
static program (with greenwave's ``<param>`` metadata when present, else groups from the link
columns); :func:`load_programs` and :func:`choose_programs` pick, for every traffic light, the
program SUMO would run from the net and the additional files.

Derivations: docs/sumo_bridge.md (Signals).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenwave.timing import AMBER, GREEN, PlanTable, SignalPlan

from .xmlio import (
    SumoError,
    r3,
)

PARAM = "greenwave."

GREEN_CHARS = set("Gg")

AMBER_CHARS = set("yY")

RED_CHARS = set("rsu")  # red, right-turn-on-red (stop first), red+amber before green

SUMO_CHAR = {GREEN: "G", AMBER: "y"}  # anything else: "r"

# Driver parameters that SUMO vTypes may push outside greenwave's validated ranges.


def signal_program(plan: SignalPlan, groups: Iterable[str]):
    """Phases of a static SUMO program that shows ``plan`` for the given groups.

    Parameters
    ----------
    plan : SignalPlan
    groups : iterable of str
        Groups whose colours must appear (those that control connections).

    Returns
    -------
    bounds : (P + 1,) float64
        Phase boundaries in cycle seconds, ``bounds[0] = 0``, ``bounds[-1] = cycle_s``.
    colours : dict[str, (P,) int8]
        State (``RED``/``AMBER``/``GREEN``) of each group during each phase, evaluated with
        :meth:`PlanTable.state` in the middle of the phase.
    """
    table = PlanTable.from_plans([("_", plan)])
    cycle = plan.cycle_s
    idx = [table.group_index("_", gid) for gid in groups]
    cuts = {0.0}
    for g in idx:
        n = int(table.n_greens[g])
        for s, e in zip(table.green_start_s[g, :n], table.green_end_s[g, :n], strict=True):
            for p in (s, e, e + table.amber_s[g]):
                cuts.add(round(float(p) % cycle, 6))
    pts = sorted(p for p in cuts if p < cycle - 1e-6)
    bounds = np.array([*pts, cycle])
    mids = plan.offset_s + (bounds[:-1] + bounds[1:]) / 2
    colours = {}
    for gid, g in zip(groups, idx, strict=True):
        st, _ = table.state(np.full(len(mids), g), mids)
        colours[gid] = st
    return bounds, colours


def sumo_offset(plan: SignalPlan, epoch_s: float) -> float:
    """SUMO tlLogic offset for a program starting at cycle second 0 (docs/sumo_bridge.md)."""
    return float((plan.offset_s - epoch_s) % plan.cycle_s)


@dataclass
class Program:
    tl: str
    program_id: str
    offset: float
    type: str
    phases: list[tuple[float, str]]
    params: dict[str, str]


def _norm_colour(ch: str, where: str) -> str:
    if ch in GREEN_CHARS:
        return "G"
    if ch in AMBER_CHARS:
        return "y"
    if ch in RED_CHARS:
        return "r"
    if ch in "oO":
        return "G"  # signal switched off: traffic passes under priority rules
    raise SumoError(f"{where}: unknown signal state character '{ch}'")


def _runs(colours: list[str], bounds: np.ndarray) -> list[tuple[str, float, float]]:
    """Cyclic runs of one colour; a run through cycle second 0 ends after the cycle."""
    cycle = float(bounds[-1])
    runs: list[list] = []
    for k, c in enumerate(colours):
        if runs and runs[-1][0] == c:
            runs[-1][2] = float(bounds[k + 1])
        else:
            runs.append([c, float(bounds[k]), float(bounds[k + 1])])
    if len(runs) > 1 and runs[0][0] == runs[-1][0]:
        first = runs.pop(0)
        runs[-1][2] = cycle + first[2]
    return [tuple(r) for r in runs]


def _group_timing(colours: list[str], bounds: np.ndarray, where: str, notes: list[str]):
    """Green intervals and amber of one signal column: ``(greens_s, amber_s)``."""
    cycle = float(bounds[-1])
    runs = _runs(colours, bounds)
    greens, ambers = [], set()
    for k, (c, s, e) in enumerate(runs):
        if c == "G":
            nc, ns, ne = runs[(k + 1) % len(runs)]
            ambers.add(r3(ne - ns) if nc == "y" and len(runs) > 1 else 0.0)
            if e > cycle + 1e-9:
                greens += [(s, cycle), (0.0, e - cycle)]
            else:
                greens.append((s, e))
        elif c == "y" and runs[(k - 1) % len(runs)][0] != "G":
            notes.append(f"{where}: amber not after a green at cycle second {s:g}, read as red")
    greens = sorted((r3(s), r3(e)) for s, e in greens if e - s > 1e-9)
    if len(ambers) > 1:
        notes.append(f"{where}: amber times differ {sorted(ambers)}, using the longest")
    return [list(g) for g in greens], max(ambers) if ambers else 0.0


def _all_red_after(prog: Program, bounds: np.ndarray, greens, amber: float) -> float:
    """Time everything is red after the group's amber (the shortest over its greens)."""
    cycle = float(bounds[-1])
    red = [all(ch in RED_CHARS for ch in st) for _, st in prog.phases]
    best = None
    starts = {round(s % cycle, 6) for s, _ in greens}
    ends = {round(e % cycle, 6) for _, e in greens} - starts  # a wrapped green is one green
    for end in ends:
        t = (end + amber) % cycle
        k = int(np.searchsorted(bounds, t + 1e-9, side="right") - 1) % len(red)
        dur = 0.0
        if red[k]:
            dur = float(bounds[k + 1]) - t
            j = (k + 1) % len(red)
            while red[j] and dur < cycle and j != k:
                dur += float(bounds[j + 1] - bounds[j])
                j = (j + 1) % len(red)
        best = dur if best is None else min(best, dur)
    return r3(min(best or 0.0, 10.0))


def plan_from_program(prog: Program, epoch_s: float, notes: list[str]):
    """``(plan dict, {link index: group id})`` of a static program."""
    where = f"tlLogic '{prog.tl}' program '{prog.program_id}'"
    if prog.type != "static":
        raise SumoError(
            f"{where} is type '{prog.type}': only static (fixed-time) programs can be imported"
        )
    if not prog.phases:
        raise SumoError(f"{where} has no phases")
    durs = np.array([d for d, _ in prog.phases], dtype=float)
    if np.any(durs <= 0):
        raise SumoError(f"{where}: phase durations must be > 0")
    bounds = np.concatenate([[0.0], np.cumsum(durs)])
    cycle = float(bounds[-1])
    width = {len(st) for _, st in prog.phases}
    if len(width) != 1:
        raise SumoError(f"{where}: phases have state strings of different lengths")
    n = width.pop()
    cols = [[_norm_colour(st[k], where) for _, st in prog.phases] for k in range(n)]
    p = prog.params
    groups: list[dict[str, Any]] = []
    index_group: dict[int, str] = {}
    if PARAM + "groups" in p:
        for gid in p[PARAM + "groups"].split():
            try:
                meta = json.loads(p[f"{PARAM}group.{gid}"])
            except (KeyError, ValueError):
                raise SumoError(
                    f"{where}: parameter {PARAM}group.{gid} missing or not JSON"
                ) from None
            links = [int(k) for k in meta.get("links", [])]
            if any(not 0 <= k < n for k in links):
                raise SumoError(f"{where}: group '{gid}' names a link index outside 0..{n - 1}")
            grp = {
                "id": gid,
                "all_red_s": float(meta.get("all_red_s", 0.0)),
                "conflicts": list(meta.get("conflicts", [])),
            }
            if links:
                col = cols[links[0]]
                if any(cols[k] != col for k in links[1:]):
                    notes.append(
                        f"{where}: links of group '{gid}' differ, read from link {links[0]}"
                    )
                grp["greens_s"], grp["amber_s"] = _group_timing(
                    col, bounds, f"{where} '{gid}'", notes
                )
                for k in links:
                    index_group[k] = gid
            else:
                grp["greens_s"] = meta["greens_s"]
                grp["amber_s"] = float(meta.get("amber_s", 0.0))
            groups.append(grp)
    else:
        by_col: dict[tuple, list[int]] = {}
        for k, c in enumerate(cols):
            by_col.setdefault(tuple(c), []).append(k)
        for key, members in sorted(by_col.items(), key=lambda kv: kv[1][0]):
            col = list(key)
            if "G" not in col or set(col) == {"G"}:
                continue  # never green (unusable) or always green (unsignalised)
            gid = f"sg{members[0]}"
            greens, amber = _group_timing(col, bounds, f"{where} '{gid}'", notes)
            groups.append(
                {
                    "id": gid,
                    "greens_s": greens,
                    "amber_s": amber,
                    "all_red_s": _all_red_after(prog, bounds, greens, amber),
                    "conflicts": [],
                }
            )
            for k in members:
                index_group[k] = gid
    ids = {g["id"] for g in groups}
    for g in groups:
        g["conflicts"] = [c for c in g["conflicts"] if c in ids]
    if not groups:
        raise SumoError(f"{where}: no signal that is green for part of the cycle")
    offset = r3((prog.offset + epoch_s) % cycle)
    if offset >= cycle:
        offset = 0.0
    return {"cycle_s": r3(cycle), "offset_s": offset, "groups": groups}, index_group
