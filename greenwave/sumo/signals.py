"""Signal programs: greenwave plans as SUMO static ``tlLogic`` phases and back.

:func:`signal_program` and :func:`sumo_offset` write a plan; :func:`plan_from_program` reads a
static program (with greenwave's ``<param>`` metadata when present, else groups from the link
columns); :func:`load_programs` and :func:`choose_programs` pick, for every traffic light, the
program SUMO would run from the net and the additional files.

Derivations: docs/sumo_bridge.md (Signals).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from greenwave.timing import AMBER, GREEN, PlanTable, SignalPlan

from .xmlio import SumoError, attr_float, attr_str, parse_xml, r3

PARAM = "greenwave."

GREEN_CHARS = set("Gg")

AMBER_CHARS = set("yY")

RED_CHARS = set("rsu")  # red, right-turn-on-red (stop first), red+amber before green

SUMO_CHAR = {GREEN: "G", AMBER: "y"}  # anything else: "r"


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


def link_states(
    colours: dict[str, np.ndarray],
    link_groups: list[str | None],
    yields_to: list[frozenset[str]],
) -> list[str]:
    """SUMO state strings, one per phase, of a traffic light's link indices.

    Parameters
    ----------
    colours : dict[str, (P,) int8]
        State of each group in each phase (:func:`signal_program`).
    link_groups : list of str or None, one per link index
        The group each link index follows; None: an unsignalised approach, always ``G``.
    yields_to : list of frozenset of str, one per link index
        Groups whose green makes the link a *permitted* movement: while the link is green and
        one of them is too it shows ``g`` (green, minor: SUMO's vehicles on it yield to the
        foes that have ``G``), else ``G``.  A permitted left turn yields to the opposing
        approach's through and right movements; every other link yields to nothing.

    Returns
    -------
    list of str, length P
    """
    n_phases = len(next(iter(colours.values()))) if colours else 1
    states = []
    for p in range(n_phases):
        chars = []
        for grp, foes in zip(link_groups, yields_to, strict=True):
            if grp is None:
                chars.append("G")
                continue
            ch = SUMO_CHAR.get(int(colours[grp][p]), "r")
            if ch == "G" and any(int(colours[f][p]) == GREEN for f in foes):
                ch = "g"
            chars.append(ch)
        states.append("".join(chars))
    return states


def sumo_offset(plan: SignalPlan, epoch_s: float) -> float:
    """SUMO tlLogic offset for a program starting at cycle second 0 (docs/sumo_bridge.md)."""
    return float((plan.offset_s - epoch_s) % plan.cycle_s)


@dataclass
class Program:
    """One ``<tlLogic>`` as loaded: its traffic light, id, offset (s), type, phases
    ``[(duration_s, state)]``, ``<param>`` values and the file it came from (``source``:
    ``"net"`` for the network itself)."""

    tl: str
    program_id: str
    offset: float
    type: str
    phases: list[tuple[float, str]]
    params: dict[str, str]
    source: str = "net"


def program_from_xml(el: ET.Element, source: str) -> Program:
    """A ``<tlLogic>`` element as a :class:`Program` (attributes checked)."""
    return Program(
        attr_str(el, "id"),
        attr_str(el, "programID", "0"),
        attr_float(el, "offset", "0"),
        attr_str(el, "type", "static"),
        [(attr_float(ph, "duration"), attr_str(ph, "state")) for ph in el.iter("phase")],
        {attr_str(p, "key"): attr_str(p, "value", "") for p in el.findall("param")},
        source,
    )


def read_additional_programs(path: Path) -> list[Program]:
    """Every ``<tlLogic>`` of a SUMO additional file, in file order."""
    return [program_from_xml(el, path.name) for el in parse_xml(path).iter("tlLogic")]


def choose_programs(
    loaded: list[Program],
    links_of: dict[str, int],
    junctions_of: dict[str, list[str]],
    program_id: str | None,
    notes: list[str],
) -> dict[str, Program]:
    """The program SUMO runs at each traffic light, from the programs in load order.

    SUMO loads the net's programs, then the additional files' in order; a second program with
    the same id at one traffic light is an error, and the one loaded last runs (unless a WAUT
    or TraCI switches).  With ``program_id`` that program is taken where the traffic light has
    one (a note names those that do not; none having it is an error).

    Parameters
    ----------
    loaded : list of Program
        In load order.
    links_of : dict
        Number of signal link indices of each traffic light in the net (its connections).
    junctions_of : dict
        The junctions each traffic light controls (named in errors).
    program_id : str, optional
    notes : list of str
        Receives what was approximated.

    Raises
    ------
    SumoError
        A duplicate program id, a program for a traffic light the net does not have, a state
        string shorter than the traffic light's link indices (SUMO refuses all three), or a
        ``program_id`` no traffic light has.
    """
    seen: dict[tuple[str, str], Program] = {}
    by_tl: dict[str, list[Program]] = {}
    for prog in loaded:
        where = f"{prog.source}: tlLogic '{prog.tl}' program '{prog.program_id}'"
        if prog.tl not in links_of:
            raise SumoError(f"{where}: the network has no traffic light '{prog.tl}'")
        key = (prog.tl, prog.program_id)
        if key in seen:
            raise SumoError(
                f"{where}: program '{prog.program_id}' of '{prog.tl}' is also in "
                f"{seen[key].source} (SUMO refuses two programs with one id)"
            )
        seen[key] = prog
        need = links_of[prog.tl]
        junctions = ", ".join(f"'{j}'" for j in junctions_of.get(prog.tl, [])) or "none"
        widths = {len(st) for _, st in prog.phases}
        if widths and min(widths) < need:
            raise SumoError(
                f"{where}: its states have {min(widths)} signals but the network gives "
                f"traffic light '{prog.tl}' (junction {junctions}) {need} link indices "
                f"(0..{need - 1}): the program does not fit this network"
            )
        if widths and max(widths) > need:
            notes.append(
                f"{where}: states longer than the {need} link indices of junction "
                f"{junctions}; the extra signals control nothing (as in SUMO)"
            )
            prog.phases = [(d, st[:need]) for d, st in prog.phases]
        by_tl.setdefault(prog.tl, []).append(prog)
    chosen = {tl: progs[-1] for tl, progs in by_tl.items()}
    if program_id is not None:
        have = {tl for tl, progs in by_tl.items() if any(p.program_id == program_id for p in progs)}
        if not have:
            ids = sorted({p.program_id for p in loaded})
            raise SumoError(
                f"--program {program_id}: no traffic light has a program of that id "
                f"(loaded: {', '.join(ids) or 'none'})"
            )
        for tl in have:
            chosen[tl] = next(p for p in by_tl[tl] if p.program_id == program_id)
        lacking = sorted(set(by_tl) - have)
        if lacking:
            notes.append(
                f"--program {program_id}: not defined for {', '.join(lacking)}; "
                "those run the program loaded last"
            )
    return chosen


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
