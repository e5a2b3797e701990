"""Which edges of a SUMO network form greenwave's corridor: straight-through successors,
signalised chains, and the chains the routes' vehicles drive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from greenwave.expand import expand_links
from greenwave.geo import haversine_m, polyline_length_m
from greenwave.scenario import parse_scenario

from .netread import Edge, Net
from .xmlio import SumoError


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


def _link_chains(links: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    by_id = {ln["id"]: ln for ln in links}
    has_pred = {ln.get("next") for ln in links if ln.get("next")}
    out = []
    for head in (ln for ln in links if ln["id"] not in has_pred):
        chain = [head]
        while chain[-1].get("next") in by_id and len(chain) <= len(links):
            chain.append(by_id[chain[-1]["next"]])
        out.append(chain)
    return out


def _as_generated(
    cid: str, fwd: list[dict[str, Any]], bwd: list[dict[str, Any]] | None
) -> tuple[dict[str, Any] | None, str]:
    """A ``[[corridors]]`` entry that generates exactly these link dicts, or (None, why)."""
    tags = [("f", fwd)] + ([("b", bwd)] if bwd else [])
    for tag, chain in tags:
        want = [f"{cid}_{tag}{k}" for k in range(len(chain))]
        if [ln["id"] for ln in chain] != want:
            return None, f"its link ids are not {want[0]} … {want[-1]} (SUMO's edge ids are kept)"
        if any("to" not in ln or "signal_group" not in ln for ln in chain[:-1]) or (
            "to" in chain[-1]
        ):
            return None, "not every link before the exit ends at a signal"
    links = fwd + (bwd or [])
    for key in ("lanes", "speed_limit_kmh"):
        if len({ln[key] for ln in links}) > 1:
            return None, f"{key} differs along it"
    groups = [{ln["signal_group"] for ln in chain[:-1]} for _, chain in tags]
    if any(len(g) != 1 for g in groups):
        return None, "its signal groups are named differently at different signals"
    inters = [ln["to"] for ln in fwd[:-1]]
    if bwd and [ln["to"] for ln in bwd[:-1]] != inters[::-1]:
        return None, "its two directions do not pass the same signals"
    corridor: dict[str, Any] = {
        "id": cid,
        "intersections": inters,
        "forward_group": next(iter(groups[0])),
        "both_directions": bwd is not None,
        "speed_limit_kmh": fwd[0]["speed_limit_kmh"],
        "lanes": fwd[0]["lanes"],
        "entry_length_m": round(polyline_length_m(fwd[0]["polyline"]), 3),
        "exit_length_m": round(polyline_length_m(fwd[-1]["polyline"]), 3),
    }
    if bwd:
        corridor["backward_group"] = next(iter(groups[1]))
    return corridor, ""


def _same_links(generated: list[Any], links: list[dict[str, Any]]) -> str:
    """Why the generated links differ from the imported ones ('' when they agree within 1 m)."""
    by_id = {ln.id: ln for ln in generated}
    for ln in links:
        g = by_id.get(ln["id"])
        if g is None:
            return f"link '{ln['id']}' would not exist"
        if (g.to, g.signal_group, g.next) != (ln.get("to"), ln.get("signal_group"), ln.get("next")):
            return f"link '{ln['id']}' would connect differently"
        if len(g.polyline) != len(ln["polyline"]):
            return f"link '{ln['id']}' is not straight"
        for (a, b), (c, d) in zip(g.polyline, ln["polyline"], strict=True):
            if haversine_m(a, b, c, d) > 1.0:
                return f"link '{ln['id']}' lies more than 1 m from the straight corridor"
    return ""


def detect_corridor(
    data: dict[str, Any], use: dict[str, float], notes: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The signalised chain most vehicles drive (with its opposite direction) as a corridor.

    ``data`` is the scenario dict with ``[[links]]``; ``use`` the vehicles entering on each
    link (empty without routes: chains are then ranked by signals).  The corridor is written as
    a ``[[corridors]]`` entry (so that ``greenwave optimize`` works) when it generates exactly
    the imported links (ids ``ID_f0 …``/``ID_b0 …``, straight links, one lane count, speed and
    group name, as greenwave's exports and generated corridors have); otherwise the links stay
    as they are and a note says why.  Returns the (possibly changed) dict and a description.
    """
    links = data["links"]
    cands = []
    for chain in _link_chains(links):
        sig = [ln["to"] for ln in chain if ln.get("signal_group")]
        if len(sig) >= 2:
            cands.append((chain, sig))
    if not cands:
        notes.append("corridors: no chain of links passes two signals; none declared")
        return data, []
    total = sum(use.values())
    pairs = []
    for chain, sig in cands:
        back = next((c for c, s in cands if s == sig[::-1] and c is not chain), None)
        weight = use.get(chain[0]["id"], 0.0) + (use.get(back[0]["id"], 0.0) if back else 0.0)
        pairs.append((weight, len(sig), chain, back, sig))
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    weight, _, fwd, bwd, sig = pairs[0]
    if fwd[0]["id"].endswith("_b0") and bwd is not None:
        fwd, bwd, sig = bwd, fwd, sig[::-1]  # keep an export's forward direction forward
    head = fwd[0]["id"]
    cid = head.rsplit("_", 1)[0] if "_" in head else head
    share = f", {weight:.0f} of {total:.0f} vehicles enter on it" if total > 0 else ""
    desc = (
        f"corridor: signals {', '.join(sig)} from '{fwd[0]['id']}'"
        + (f" and back from '{bwd[0]['id']}'" if bwd else " (one direction)")
        + share
    )
    corridor, why = _as_generated(cid, fwd, bwd)
    if corridor is not None:
        rest = [ln for ln in links if ln not in fwd and (bwd is None or ln not in bwd)]
        cand = {**data, "corridors": [corridor], "links": rest}
        try:
            generated = expand_links(parse_scenario(cand)).links
        except ValueError as exc:
            why = f"the generated corridor does not validate ({exc})"
        else:
            why = _same_links(generated, fwd + (bwd or []))
            if not why:
                notes.append(f"{desc}: written as [[corridors]] '{cid}' (greenwave optimize)")
                return cand, [desc]
    notes.append(
        f"{desc}: kept as [[links]] because {why}; greenwave optimize needs a [[corridors]] "
        "entry, which can only generate its links"
    )
    return data, [desc]
