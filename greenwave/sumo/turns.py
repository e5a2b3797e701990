"""SUMO connections as greenwave's turning movements, and turning shares from SUMO routes.

A connection's turn is its ``dir`` attribute (``s`` through, ``l``/``L`` left, ``r``/``R``
right, ``t`` a U-turn, which greenwave does not model); plain connection files carry no ``dir``,
so there the heading change decides, with greenwave's own thresholds
(:mod:`greenwave.movements`: within 45° through, up to 150° a turn, beyond it a U-turn).

:func:`approach_movements` gives an imported approach link its movements (one per turn, onto
the imported links that start at its intersection) and each movement's signal group (the group
of the connections' link indices); :func:`turning_shares` gives each approach's left / through /
right shares from the vehicles the routes send over each movement (``demand.turns``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from greenwave.movements import LEFT, RIGHT, THROUGH, THROUGH_MAX_DEG, TURN_MAX_DEG, TURN_NAMES

from .netread import Conn, Edge

DIR_TURN: dict[str, int | None] = {
    "s": THROUGH,
    "l": LEFT,
    "L": LEFT,  # partially left
    "r": RIGHT,
    "R": RIGHT,  # partially right
    "t": None,  # turnaround
}
"""SUMO's connection ``dir`` → greenwave turn (None: not a movement)."""

SHARE_DIGITS = 6
"""Turning shares are written with this many decimals (summing to 1 exactly)."""


def heading_change_deg(a: Edge, b: Edge) -> float:
    """Signed heading change (deg, clockwise = right turn positive, in (-180, 180]) from the
    last segment of edge ``a`` to the first segment of edge ``b`` (x east, y north)."""
    (x0, y0), (x1, y1) = a.shape[-2], a.shape[-1]
    (x2, y2), (x3, y3) = b.shape[0], b.shape[1]
    h_in = math.degrees(math.atan2(x1 - x0, y1 - y0))  # compass bearings
    h_out = math.degrees(math.atan2(x3 - x2, y3 - y2))
    return -((h_in - h_out + 180.0) % 360.0 - 180.0)


def conn_turn(c: Conn, edges: Mapping[str, Edge]) -> int | None:
    """LEFT / THROUGH / RIGHT of a connection, None for a U-turn (see the module docstring)."""
    if c.direction in DIR_TURN:
        return DIR_TURN[c.direction]
    a, b = edges[c.from_edge], edges[c.to_edge]
    if b.to_node == a.from_node:
        return None  # back where it came from
    d = heading_change_deg(a, b)
    if abs(d) > TURN_MAX_DEG:
        return None
    if abs(d) <= THROUGH_MAX_DEG:
        return THROUGH
    return RIGHT if d > 0 else LEFT


@dataclass
class Movement:
    """One imported movement: onto link ``to_link``, its ``turn``, its signal ``group`` (None:
    no signal group, its link indices always or never green) and how many vehicles the routes
    send over it (``vehicles``)."""

    to_link: str
    turn: int
    group: str | None
    vehicles: float


def approach_movements(
    link: str,
    last_edge: str,
    next_link: str | None,
    conns: list[Conn],
    link_heads: Mapping[str, str],
    edges: Mapping[str, Edge],
    tl: str,
    index_group: Mapping[int, str],
    passes: Mapping[tuple[str, str], float],
    notes: list[str],
) -> list[Movement]:
    """The movements of an imported approach link, at most one per turn.

    Parameters
    ----------
    link : str
        The approach link's id; ``last_edge`` its last SUMO edge (the one ending at the
        intersection) and ``next_link`` its through successor (None: none imported).
    conns : list of Conn
        The connections leaving ``last_edge``.
    link_heads : dict
        Edge → the imported link it starts (only edges that start a link).
    tl, index_group : str, dict
        The intersection's traffic light and its link index → signal group id (connections
        of other traffic lights, or of none, have no group).
    passes : dict
        ``(link a, link b)`` → vehicles the routes drive over ``a`` then ``b``.
    notes : list of str
        Receives what was left out: a second movement with the same turn (the one fewer
        vehicles use), and connections whose lanes follow different signals.

    The ``next`` link is the through movement; of two candidates for the same turn the one
    more vehicles drive is kept (the first on a tie).
    """
    by_to: dict[str, list[Conn]] = {}
    turn_of: dict[str, int] = {}
    for c in conns:
        to = link_heads.get(c.to_edge)
        t = conn_turn(c, edges)
        if to is None or t is None:
            continue
        if to == next_link:
            t = THROUGH  # the straight successor, whatever the angle says
        by_to.setdefault(to, []).append(c)
        turn_of[to] = t
    out: dict[int, Movement] = {}
    for to, cs in by_to.items():
        t = turn_of[to]
        groups = [index_group.get(c.link_index) if c.tl == tl else None for c in cs]
        counted = Counter(g for g in groups if g is not None)
        group = counted.most_common(1)[0][0] if counted else None
        if len(counted) > 1:
            notes.append(
                f"link '{link}': the lanes of its {TURN_NAMES[t]} movement onto '{to}' follow "
                f"different signals {sorted(counted)}, using '{group}'"
            )
        mv = Movement(to, t, group, passes.get((link, to), 0.0))
        have = out.get(t)
        better = (
            to == next_link
            if t == THROUGH and next_link is not None
            else have is not None and mv.vehicles > have.vehicles
        )
        if have is None or better:
            if have is not None:
                _dropped(link, have, notes)
            out[t] = mv
        else:
            _dropped(link, mv, notes)
    return [out[t] for t in sorted(out)]


def _dropped(link: str, mv: Movement, notes: list[str]) -> None:
    notes.append(
        f"link '{link}': a second {TURN_NAMES[mv.turn]} movement (onto '{mv.to_link}', "
        f"{mv.vehicles:.0f} vehicles) left out: greenwave has one per turn"
    )


def turning_shares(approaches: Mapping[str, list[Movement]]) -> list[dict[str, object]]:
    """``demand.turns`` entries: each approach's shares of the vehicles the routes send over
    its movements, where some vehicles turn (or the approach has no through movement); an
    approach whose vehicles all go through needs none (through is the default).  Shares are
    rounded to :data:`SHARE_DIGITS` decimals and sum to 1 exactly."""
    out: list[dict[str, object]] = []
    for link, mvs in approaches.items():
        total = sum(m.vehicles for m in mvs)
        turns = sum(m.vehicles for m in mvs if m.turn != THROUGH)
        has_through = any(m.turn == THROUGH for m in mvs)
        if total <= 0 or (turns <= 0 and has_through):
            continue
        share = {name: 0.0 for name in TURN_NAMES}
        for m in mvs:
            share[TURN_NAMES[m.turn]] = round(m.vehicles / total, SHARE_DIGITS)
        # The largest share takes the rounding remainder, so that they sum to 1.
        top = max(share, key=lambda k: share[k])
        share[top] = round(1.0 - sum(v for k, v in share.items() if k != top), SHARE_DIGITS)
        out.append({"link": link, **share})
    return out
