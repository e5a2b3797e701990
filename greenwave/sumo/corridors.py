"""Which edges of a SUMO network form greenwave's corridors: straight-through successors,
signalised chains, and the corridors the routes' vehicles drive.

:func:`detect_corridors` declares every signalised chain of imported links that vehicles drive
as a ``[[corridors]]`` entry, so that ``greenwave optimize`` works on any import: generated
from its intersections when that gives back exactly the imported links (greenwave's own
exports and generated corridors), otherwise over the imported links (``links_forward`` /
``links_backward``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from greenwave.elements import CorridorModel
from greenwave.expand import corridor_links
from greenwave.geo import haversine_m, polyline_length_m
from greenwave.movements import THROUGH

from .netread import Conn, Edge, Net
from .turns import conn_turn
from .xmlio import SumoError


def _angle_change(a: Edge, b: Edge) -> float:
    (x0, y0), (x1, y1) = a.shape[-2], a.shape[-1]
    (x2, y2), (x3, y3) = b.shape[0], b.shape[1]
    h1 = math.atan2(y1 - y0, x1 - x0)
    h2 = math.atan2(y3 - y2, x3 - x2)
    return abs((math.degrees(h2 - h1) + 180.0) % 360.0 - 180.0)


def successors(snet: Net) -> dict[str, str]:
    """Straight-through successor edge of each edge that has one.

    At a traffic light it is the through connection (SUMO's ``dir="s"``, or within 45° in
    plain files, :func:`~greenwave.sumo.turns.conn_turn`): the others are turns, which
    greenwave imports as the approach's movements.  At other nodes, where greenwave joins
    edges into one link, it is the connection closest to straight that is not a U-turn nor a
    full left or right turn (``dir`` ``t``, ``l``, ``r``), so that a road bending at a node
    stays one chain.
    """
    cands: dict[str, list[Conn]] = {}
    for c in snet.conns:
        if c.from_edge in snet.edges and c.to_edge in snet.edges:
            cands.setdefault(c.from_edge, []).append(c)
    succ = {}
    for eid, cs in cands.items():
        e = snet.edges[eid]
        if e.to_node in snet.node_tl:
            ok = list(dict.fromkeys(c.to_edge for c in cs if conn_turn(c, snet.edges) == THROUGH))
        else:
            dirs = {c.to_edge: c.direction for c in cs}
            ok = [
                t
                for t, d in dirs.items()
                if snet.edges[t].to_node != e.from_node and d not in ("t", "l", "r")
            ]
            ok = [t for t in ok if dirs[t] == "s"] or ok
        if ok:
            succ[eid] = min(ok, key=lambda t: _angle_change(e, snet.edges[t]))
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
    if any("movements" in ln or "turn_groups" in ln for ln in links):
        return None, "its links have turning movements of their own (from SUMO's connections)"
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


def _same_links(c: CorridorModel, data: dict[str, Any], links: list[dict[str, Any]]) -> str:
    """Why the links ``c`` generates differ from the imported ones ('' when they agree within
    1 m)."""
    pos = {it["id"]: (it["lon"], it["lat"]) for it in data["intersections"]}
    try:
        generated, _ = corridor_links(c, pos, f"corridor '{c.id}'")
    except ValueError as exc:
        return f"the generated corridor does not validate ({exc})"
    by_id = {ln.id: ln for ln in generated}
    if len(by_id) != len(links):
        return "it would generate other links"
    for ln in links:
        g = by_id.get(ln["id"])
        if g is None:
            return f"link '{ln['id']}' would not exist"
        if (g.to, g.signal_group, g.next) != (ln.get("to"), ln.get("signal_group"), ln.get("next")):
            return f"link '{ln['id']}' would connect differently"
        if len(g.polyline) != len(ln["polyline"]):
            return f"link '{ln['id']}' is not straight"
        for (a, b), (c2, d) in zip(g.polyline, ln["polyline"], strict=True):
            if haversine_m(a, b, c2, d) > 1.0:
                return f"link '{ln['id']}' lies more than 1 m from the straight corridor"
    return ""


@dataclass
class _Run:
    """A signalised run of links: ``links[:-1]`` end at the signals ``signals`` (in order),
    ``links[-1]`` leaves the last one.  ``passes[k]``: vehicles that cross signal ``k`` onto
    the next link of the run."""

    links: list[str]
    signals: list[str]
    passes: list[float]

    @property
    def weight(self) -> float:
        return sum(self.passes)

    def part(self, i: int, j: int) -> _Run:
        """Signals ``i .. j - 1`` and the link leaving the last of them."""
        return _Run(self.links[i : j + 1], self.signals[i:j], self.passes[i:j])


def _main_chains(
    links: list[dict[str, Any]], passes: dict[tuple[str, str], float], notes: list[str]
) -> list[list[str]]:
    """Links as disjoint chains along ``next``: where several links lead into one, the chain
    continues from the one most vehicles come from (the first in file order on a tie).  A ring
    is opened where the fewest vehicles drive on."""
    order = {ln["id"]: k for k, ln in enumerate(links)}

    nxt = {ln["id"]: ln["next"] for ln in links if ln.get("next") in order}
    preds: dict[str, list[str]] = {}
    for a, b in nxt.items():
        preds.setdefault(b, []).append(a)
    main_pred = {
        b: max(ps, key=lambda a: (passes.get((a, b), 0.0), -order[a])) for b, ps in preds.items()
    }

    def walk(start: str) -> list[str]:
        chain = [start]
        seen.add(start)
        while chain[-1] in nxt and main_pred[nxt[chain[-1]]] == chain[-1]:
            b = nxt[chain[-1]]
            if b in seen:
                break
            chain.append(b)
            seen.add(b)
        return chain

    seen: set[str] = set()
    out = [walk(ln["id"]) for ln in links if ln["id"] not in preds]
    rings = 0
    for ln in links:
        if ln["id"] in seen:
            continue
        ring = [ln["id"]]  # follow the main predecessors back around the ring
        while main_pred[ring[-1]] not in ring:
            ring.append(main_pred[ring[-1]])
        ring = ring[ring.index(main_pred[ring[-1]]) :]
        start = min(ring, key=lambda b: (passes.get((main_pred[b], b), 0.0), order[b]))
        out.append(walk(start))
        rings += 1
    if rings:
        notes.append(
            f"corridors: {rings} ring(s) of links opened where the fewest vehicles drive on"
        )
    return out


def _runs(
    chain: list[str], by_id: dict[str, dict[str, Any]], passes: dict[tuple[str, str], float]
) -> list[_Run]:
    """Signalised runs of a chain: consecutive links that end at a signal and lead on, each
    signal once, followed by the link leaving the last signal."""
    out: list[_Run] = []
    cur: _Run | None = None
    for lid in chain:
        ln = by_id[lid]
        stop = bool(ln.get("signal_group")) and ln.get("next") in by_id
        if cur is not None and (not stop or ln["to"] in cur.signals):
            cur.links.append(lid)  # leaves the run's last signal
            out.append(cur)
            cur = None
        if stop:
            if cur is None:
                cur = _Run([], [], [])
            cur.links.append(lid)
            cur.signals.append(ln["to"])
            cur.passes.append(passes.get((lid, ln["next"]), 0.0))
    if cur is not None:  # the chain's last link leads on outside the chain
        nxt = by_id[cur.links[-1]]["next"]
        if nxt in cur.links:  # an opened ring: its last link leaves the signal before
            cur.signals.pop()
            cur.passes.pop()
        else:
            cur.links.append(nxt)
        out.append(cur)
    return out


def _common_reversed(a: list[str], b: list[str]) -> tuple[int, int, int]:
    """Longest run ``a[i:i+n]`` that ``b`` passes in the opposite order, as ``(n, i, j)`` with
    ``b[j:j+n] == a[i:i+n][::-1]``."""
    rb = b[::-1]
    best = (0, 0, 0)
    prev = [0] * (len(rb) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(rb) + 1)
        for k in range(1, len(rb) + 1):
            if a[i - 1] == rb[k - 1]:
                cur[k] = prev[k - 1] + 1
                if cur[k] > best[0]:
                    n = cur[k]
                    best = (n, i - n, len(b) - k)
        prev = cur
    return best


def _pair_runs(runs: list[_Run]) -> list[tuple[_Run, _Run | None]]:
    """Corridors, busiest first: each run with the run that passes the most of its signals in
    the opposite order (two-way over those signals), or alone.  What is left of a run outside
    its partner's signals stays a candidate when it passes two or more signals."""

    def rank(r: _Run):
        return (-r.weight, -len(r.signals), r.links[0])

    def steps(r: _Run) -> set[tuple[str, str]]:
        return set(itertools.pairwise(r.signals))

    pool = sorted((r for r in runs if len(r.signals) >= 2), key=rank)
    out: list[tuple[_Run, _Run | None]] = []
    while pool:
        fwd = pool.pop(0)
        back_steps = {(b, a) for a, b in steps(fwd)}
        best = None
        for k, cand in enumerate(pool):
            if not back_steps & steps(cand):
                continue  # no two consecutive signals in common the other way
            n, i, j = _common_reversed(fwd.signals, cand.signals)
            if n >= 2 and (best is None or (n, cand.weight) > (best[0], pool[best[3]].weight)):
                best = (n, i, j, k)
        if best is None:
            out.append((fwd, None))
            continue
        n, i, j, k = best
        bwd = pool.pop(k)
        out.append((fwd.part(i, i + n), bwd.part(j, j + n)))
        rest = [fwd.part(0, i), fwd.part(i + n, len(fwd.signals))]
        rest += [bwd.part(0, j), bwd.part(j + n, len(bwd.signals))]
        pool = sorted(pool + [r for r in rest if len(r.signals) >= 2], key=rank)
    return out


def _listing(signals: list[str]) -> str:
    if len(signals) <= 6:
        return ", ".join(signals)
    return f"{', '.join(signals[:3])}, …, {', '.join(signals[-2:])} ({len(signals)})"


def _corridor_id(fwd: _Run, taken: set[str]) -> str:
    base = cid = f"{fwd.signals[0]}-{fwd.signals[-1]}"
    k = 2
    while cid in taken:
        cid, k = f"{base}-{k}", k + 1
    taken.add(cid)
    return cid


def detect_corridors(
    data: dict[str, Any], passes: dict[tuple[str, str], float], notes: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Every signalised chain of imported links that vehicles drive, as ``[[corridors]]``.

    Parameters
    ----------
    data : dict
        The scenario dict with ``intersections`` and ``[[links]]``.
    passes : dict
        ``(link a, link b)`` → vehicles that drive link ``a`` and then ``b`` (from the routes;
        empty without routes: every chain is then declared, longest first).
    notes : list of str
        Appended to: what was declared and how, and what was not.

    Returns
    -------
    (dict, list of str)
        The scenario dict with its ``corridors`` (busiest first, so that ``greenwave
        optimize`` takes the busiest by default) and one sentence per corridor.

    Links chain along ``next`` (the link most vehicles drive on to); where several lead into
    one, along the one most vehicles come from.  Each run of links ending at signals that
    passes two or more signals is a corridor, paired with the run passing the most of its
    signals in the opposite order (the two directions of a road; both are cut to the signals
    they share).  A corridor is written generated from its intersections when that gives back
    exactly its links (ids ``ID_f0 …``/``ID_b0 …``, straight links, one lane count, speed and
    group name, as greenwave's exports and generated corridors have), otherwise over its
    links.
    """
    links = data["links"]
    by_id = {ln["id"]: ln for ln in links}
    runs = [r for c in _main_chains(links, passes, notes) for r in _runs(c, by_id, passes)]
    routed = bool(passes)
    single = sum(1 for r in runs if len(r.signals) < 2)
    if routed:
        unused = [r for r in runs if len(r.signals) >= 2 and r.weight <= 0]
        runs = [r for r in runs if r.weight > 0]
        if unused:
            notes.append(
                f"corridors: {len(unused)} chain(s) of signals that no vehicle drives along, "
                "not declared"
            )
    pairs = _pair_runs(runs)
    if single:
        notes.append(f"corridors: {single} chain(s) passing a single signal, not declared")
    if not pairs:
        notes.append("corridors: no chain of links passes two signals; none declared")
        return data, []
    names = {it["id"]: it.get("name") or it["id"] for it in data["intersections"]}
    total = sum(passes.values())
    corridors, generated, descs = [], set(), []
    taken: set[str] = set()
    for fwd, bwd in pairs:
        if fwd.links[0].endswith("_b0") and bwd is not None and bwd.links[0].endswith("_f0"):
            fwd, bwd = bwd, fwd  # keep an export's forward direction forward
        chain_f = [by_id[i] for i in fwd.links]
        chain_b = [by_id[i] for i in bwd.links] if bwd else None
        head = fwd.links[0]
        cid = head.rsplit("_", 1)[0] if "_" in head else head
        model, why = _as_generated(cid, chain_f, chain_b)
        if model is not None and cid not in taken:
            why = _same_links(CorridorModel.model_validate(model), data, chain_f + (chain_b or []))
        if model is not None and not why and cid not in taken:
            taken.add(cid)
            how = "generated from its intersections"
            generated |= {ln["id"] for ln in chain_f + (chain_b or [])}
        else:
            cid = _corridor_id(fwd, taken)
            model = {
                "id": cid,
                "name": f"{names[fwd.signals[0]]} – {names[fwd.signals[-1]]}",
                "links_forward": fwd.links,
            }
            if bwd is not None:
                model["links_backward"] = bwd.links
            # Why the generated form does not fit is news only for what looks like an export.
            export_like = head.endswith(("_f0", "_b0"))
            how = "over its imported links" + (f" ({why})" if why and export_like else "")
        corridors.append(model)
        weight = fwd.weight + (bwd.weight if bwd else 0.0)
        n_cross = len(fwd.signals) * (2 if bwd else 1)
        flow = (
            f", {weight / n_cross:.0f} vehicles on average cross each stop line along it"
            if routed
            else ""
        )
        desc = (
            f"corridor '{cid}': signals {_listing(fwd.signals)} from '{fwd.links[0]}'"
            + (f" and back from '{bwd.links[0]}'" if bwd else " (one direction)")
            + flow
        )
        descs.append(desc)
        notes.append(f"{desc}: declared as [[corridors]] {how}")
    two_way = sum(1 for _, b in pairs if b is not None)
    share = (
        f"; they carry {sum(f.weight + (b.weight if b else 0.0) for f, b in pairs) / total:.0%} "
        "of the vehicles' crossings from one link to the next"
        if total > 0
        else ""
    )
    notes.append(
        f"corridors: {len(pairs)} declared ({two_way} both ways), busiest first{share}; "
        "greenwave optimize retimes the first, --corridor ID another, --network all"
    )
    out = {
        **data,
        "corridors": corridors,
        "links": [ln for ln in links if ln["id"] not in generated],
    }
    return out, descs
