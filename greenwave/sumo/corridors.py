"""Which edges of a SUMO network form greenwave's corridor: straight-through successors,
signalised chains, and the chains the routes' vehicles drive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .netread import Edge, Net
from .xmlio import (
    SumoError,
)


def _angle_change(a: Edge, b: Edge) -> float:
    (x0, y0), (x1, y1) = a.shape[-2], a.shape[-1]
    (x2, y2), (x3, y3) = b.shape[0], b.shape[1]
    h1 = math.atan2(y1 - y0, x1 - x0)
    h2 = math.atan2(y3 - y2, x3 - x2)
    return abs((math.degrees(h2 - h1) + 180.0) % 360.0 - 180.0)


def successors(snet: Net) -> dict[str, str]:
    """Straight-through successor edge of each edge that has one."""
    cands: dict[str, dict[str, str | None]] = {}
    for c in snet.conns:
        cands.setdefault(c.from_edge, {})[c.to_edge] = c.direction
    succ = {}
    for eid, targets in cands.items():
        e = snet.edges[eid]
        ok = {
            t: d
            for t, d in targets.items()
            if t in snet.edges and snet.edges[t].to_node != e.from_node and d not in ("t", "l", "r")
        }
        straight = [t for t, d in ok.items() if d == "s"] or list(ok)
        if straight:
            succ[eid] = min(straight, key=lambda t: _angle_change(e, snet.edges[t]))
    return succ


def signalised(snet: Net, eid: str) -> bool:
    return any(c.from_edge == eid and c.tl for c in snet.conns) or (
        snet.edges[eid].to_node in snet.node_tl
    )


def chains(succ: dict[str, str], edges: Iterable[str]) -> list[list[str]]:
    edges = list(edges)
    has_pred = set(succ.values())
    out, seen = [], set()
    for start in [e for e in edges if e not in has_pred] + edges:  # then rings
        if start in seen:
            continue
        chain = [start]
        seen.add(start)
        while chain[-1] in succ and succ[chain[-1]] not in seen:
            chain.append(succ[chain[-1]])
            seen.add(chain[-1])
        out.append(chain)
    return out


def _heading(e: Edge, at_end: bool) -> float:
    (x0, y0), (x1, y1) = (e.shape[-2], e.shape[-1]) if at_end else (e.shape[0], e.shape[1])
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _one_corridor(snet: Net, chains: list[list[str]], tl_seqs: list[list[str]]) -> bool:
    """One chain, or two that are the two directions of one road: the same signals in
    opposite order, approached from opposite sides (headings more than 135° apart)."""
    if len(chains) == 1:
        return True
    a, b = tl_seqs
    if a != b[::-1]:
        return False
    appr = [
        {snet.edges[e].to_node: snet.edges[e] for e in c if signalised(snet, e)} for c in chains
    ]
    for node in a:
        d = abs(
            (_heading(appr[0][node], True) - _heading(appr[1][node], True) + 180.0) % 360.0 - 180.0
        )
        if d < 135.0:
            return False
    return True


def select_edges(
    snet: Net, succ: dict[str, str], corridor_edges: list[str] | None, notes: list[str]
) -> list[str]:
    if corridor_edges:
        missing = [e for e in corridor_edges if e not in snet.edges]
        if missing:
            raise SumoError(f"--corridor-edges: unknown edge(s) {', '.join(missing)}")
        return list(dict.fromkeys(corridor_edges))
    found = [c for c in chains(succ, snet.edges) if any(signalised(snet, e) for e in c)]
    if not found:
        raise SumoError("no chain of edges passes a traffic light: nothing to import")
    tl_seqs = [[snet.edges[e].to_node for e in c if signalised(snet, e)] for c in found]
    tl_sets = [frozenset(q) for q in tl_seqs]
    if len(found) > 2 or not _one_corridor(snet, found, tl_seqs):
        listing = "; ".join(
            f"{c[0]} … {c[-1]} ({len(s)} signals)"
            for c, s in zip(found[:8], tl_sets[:8], strict=True)
        )
        raise SumoError(
            f"{len(found)} signalised chains of edges found ({listing}"
            f"{'; …' if len(found) > 8 else ''}): choose the corridor with "
            "--corridor-edges E1,E2,..."
        )
    out = []
    for c in found:
        sig = [k for k, e in enumerate(c) if signalised(snet, e)]
        lo, hi = sig[0], min(sig[-1] + 2, len(c))  # approach to the first … exit of the last
        if lo > 0 or hi < len(c):
            notes.append(
                f"chain {c[0]} … {c[-1]}: kept {c[lo]} … {c[hi - 1]} (from the "
                "approach of the first signal to the exit of the last)"
            )
        out += c[lo:hi]
    return out
