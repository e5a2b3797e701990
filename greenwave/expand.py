"""A scenario's network written out: generated corridors (with their cross streets) and grid
expanded into plain links, every corridor (generated, or declared over existing links) as chains
of link ids, and the turning movements at every stop line (:mod:`greenwave.movements`).

Also the scenario's reference check (unknown intersections, groups and links, duplicates,
corridors that do not chain), with errors naming the field path;
:class:`greenwave.scenario.Scenario` runs it when it validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .elements import CorridorModel, IntersectionModel, LinkModel, TurnGroupsModel
from .geo import LocalProjection, polyline_length_m
from .grid import grid_city
from .movements import MovementSpec, find_movements


@dataclass(frozen=True)
class Expanded:
    """A scenario's network written out: all intersections, all links, corridor chains, and the
    turning movements at the links' stop lines."""

    intersections: list[IntersectionModel]
    links: list[LinkModel]
    corridors: list[tuple[str, str, list[str]]]  # (corridor id, name, link ids in order)
    movements: MovementSpec


def corridor_links(
    c: CorridorModel,
    pos: dict[str, tuple[float, float]],
    path: str,
    groups: dict[str, list[str]] | None = None,
) -> tuple[list[LinkModel], list[tuple[str, str, list[str]]]]:
    """Links and chains of one generated corridor, both directions, and its cross streets.

    ``pos`` maps intersection ids to (lon, lat), ``groups`` to the signal group ids of their
    plans (needed for cross streets without ``cross_group``).  Raises ValueError naming
    ``path``.
    """
    if c.links_forward is not None:
        raise ValueError(f"{path}: declared over existing links, it generates none")
    assert c.forward_group is not None and c.speed_limit_kmh is not None  # CorridorModel checks
    speed_limit_kmh = c.speed_limit_kmh
    if len(c.intersections) < 2:
        raise ValueError(f"{path}.intersections: a corridor needs at least 2 intersections")
    for k, iid in enumerate(c.intersections):
        if iid not in pos:
            raise ValueError(f"{path}.intersections[{k}]: unknown intersection '{iid}'")
    turn_groups = None if c.left_group is None else TurnGroupsModel(left=c.left_group)
    dirs = [("f", c.intersections, c.forward_group)]
    if c.both_directions:
        dirs.append(("b", c.intersections[::-1], c.backward_group or c.forward_group))
    links, chains = [], []
    for tag, seq, grp in dirs:
        pts = [pos[i] for i in seq]
        proj = LocalProjection(*pts[0])

        def extend(a, b, length, proj=proj):
            ax, ay = proj.to_xy(*a)
            bx, by = proj.to_xy(*b)
            d = np.hypot(bx - ax, by - ay)
            lon, lat = proj.to_lonlat(bx + (bx - ax) / d * length, by + (by - ay) / d * length)
            return (float(lon), float(lat))

        start = extend(pts[1], pts[0], c.entry_length_m)
        end = extend(pts[-2], pts[-1], c.exit_length_m)
        ids = [f"{c.id}_{tag}{k}" for k in range(len(seq) + 1)]
        polys = [[start, pts[0]]] + [[pts[k - 1], pts[k]] for k in range(1, len(seq))]
        polys.append([pts[-1], end])
        for k, lid in enumerate(ids):
            last = k == len(seq)
            links.append(
                LinkModel(
                    id=lid,
                    to=None if last else seq[k],
                    signal_group=None if last else grp,
                    polyline=polys[k],
                    speed_limit_kmh=speed_limit_kmh,
                    lanes=c.lanes,
                    next=None if last else ids[k + 1],
                    turn_groups=None if last else turn_groups,
                )
            )
        chains.append((f"{c.id}_{tag}", c.name, ids))
    if c.cross_streets:
        links += _cross_streets(c, pos, _cross_groups(c, groups, path))
    return links, chains


def _cross_groups(c: CorridorModel, groups: dict[str, list[str]] | None, path: str) -> list[str]:
    """The signal group of the cross street at each intersection of a generated corridor."""
    if c.cross_group is not None:
        return [c.cross_group] * len(c.intersections)
    if groups is None:
        raise ValueError(f"{path}.cross_group: required here (the plans are not known)")
    own = {c.forward_group, c.backward_group, c.left_group}
    out = []
    for iid in c.intersections:
        rest = [g for g in groups[iid] if g not in own]
        if len(rest) != 1:
            which = f"it has {', '.join(rest)}" if rest else "it has none"
            raise ValueError(
                f"{path}.cross_group: required with cross_streets: intersection '{iid}' has no "
                "single signal group besides forward_group, backward_group and left_group to "
                f"serve the cross street ({which})"
            )
        out.append(rest[0])
    return out


def _cross_streets(
    c: CorridorModel, pos: dict[str, tuple[float, float]], cross_groups: list[str]
) -> list[LinkModel]:
    """Two-way cross streets of a generated corridor, perpendicular to it at each intersection.

    The local corridor direction at intersection k is that from intersection k-1 to k+1 (the
    neighbouring one at the ends); ``n`` is the side to its left (north of an eastbound
    corridor), ``s`` the other.
    """
    pts = np.array([pos[i] for i in c.intersections], dtype=float)
    proj = LocalProjection(*pts[0])
    x, y = proj.to_xy(pts[:, 0], pts[:, 1])
    xy = np.column_stack([x, y])
    ahead = xy[np.minimum(np.arange(len(xy)) + 1, len(xy) - 1)]
    behind = xy[np.maximum(np.arange(len(xy)) - 1, 0)]
    d = ahead - behind
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    left = np.column_stack([-d[:, 1], d[:, 0]])  # the direction rotated 90° anticlockwise
    limit_kmh = c.cross_speed_limit_kmh or c.speed_limit_kmh
    assert limit_kmh is not None  # CorridorModel checks
    out = []
    for k, iid in enumerate(c.intersections):
        centre = (float(pts[k, 0]), float(pts[k, 1]))
        ends = {}
        for side, sign in (("n", 1.0), ("s", -1.0)):
            lon, lat = proj.to_lonlat(*(xy[k] + sign * c.cross_length_m * left[k]))
            ends[side] = (float(lon), float(lat))
        for side, other in (("n", "s"), ("s", "n")):
            out.append(
                LinkModel(
                    id=f"{c.id}_{side}{k}",
                    to=iid,
                    signal_group=cross_groups[k],
                    polyline=[ends[side], centre],
                    speed_limit_kmh=limit_kmh,
                    lanes=c.cross_lanes,
                    next=f"{c.id}_{other}x{k}",
                )
            )
        for side in ("n", "s"):
            out.append(
                LinkModel(
                    id=f"{c.id}_{side}x{k}",
                    polyline=[centre, ends[side]],
                    speed_limit_kmh=limit_kmh,
                    lanes=c.cross_lanes,
                )
            )
    return out


def _chain_signals(ids: list[str], by_id: dict[str, LinkModel], path: str) -> list[str]:
    """Check one declared direction; return the intersections of its stop lines, in order."""
    if len(ids) < 2:
        raise ValueError(
            f"{path}: a corridor passes at least one signal: list the approach to its first "
            "signal, the links between signals and the link leaving its last signal"
        )
    seen: dict[str, int] = {}
    passed: dict[str, int] = {}
    for j, lid in enumerate(ids):
        ln = by_id.get(lid)
        if ln is None:
            raise ValueError(f"{path}[{j}]: unknown link '{lid}'")
        if lid in seen:
            raise ValueError(f"{path}[{j}]: link '{lid}' is listed twice (also at [{seen[lid]}])")
        seen[lid] = j
        if j > 0:
            prev = by_id[ids[j - 1]]
            if prev.next != lid:
                after = f"its next is '{prev.next}'" if prev.next else "it has no next link"
                raise ValueError(
                    f"{path}[{j}]: link '{lid}' does not continue link '{prev.id}' ({after}); "
                    "a corridor's links chain end to start along their next links"
                )
        if j == len(ids) - 1:
            break  # the link leaving the last signal: where it ends is not on the corridor
        if ln.to is None or ln.signal_group is None:
            at = f"at intersection '{ln.to}'" if ln.to else "(it ends at no intersection)"
            raise ValueError(
                f"{path}[{j}]: link '{lid}' has no signal_group {at}; every link but the last "
                "ends at a signal on the corridor"
            )
        if ln.to in passed:
            raise ValueError(
                f"{path}[{j}]: link '{lid}' passes intersection '{ln.to}' a second time "
                f"(also at [{passed[ln.to]}]); a corridor visits each intersection once"
            )
        passed[ln.to] = j
    return list(passed)


def _declared_chains(
    c: CorridorModel, by_id: dict[str, LinkModel], path: str
) -> list[tuple[str, str, list[str]]]:
    """Chains of a corridor declared over existing links; raises ValueError naming ``path``."""
    assert c.links_forward is not None
    fwd = _chain_signals(c.links_forward, by_id, f"{path}.links_forward")
    out = [(f"{c.id}_f", c.name, list(c.links_forward))]
    if c.links_backward is not None:
        bwd = _chain_signals(c.links_backward, by_id, f"{path}.links_backward")
        if bwd != fwd[::-1]:
            raise ValueError(
                f"{path}.links_backward: passes the signals {', '.join(bwd)}; the opposite "
                f"direction of links_forward passes {', '.join(fwd[::-1])}"
            )
        out.append((f"{c.id}_b", c.name, list(c.links_backward)))
    return out


def expand_links(scenario: Any) -> Expanded:
    """Write out a scenario's network; cached on the scenario. Raises ValueError with a path.

    ``scenario`` is a :class:`greenwave.scenario.Scenario` (its intersections, corridors, links,
    grid and demand entries are read); typed loosely so that this module does not import it.
    """
    key = _fingerprint(scenario)
    cached = (scenario.__pydantic_private__ or {}).get("_expanded")
    if cached is not None and cached[0] == key:
        return cached[1]
    inters = list(scenario.intersections)
    corridors = list(scenario.corridors)
    if scenario.grid is not None:
        g_inters, g_corr = grid_city(scenario.grid)
        inters += g_inters
        corridors += g_corr
    seen: dict[str, int] = {}
    for k, it in enumerate(inters):
        if it.id in seen:
            raise ValueError(f"intersections[{k}].id: duplicate intersection id '{it.id}'")
        seen[it.id] = k
    pos = {it.id: (it.lon, it.lat) for it in inters}
    plan_groups = {it.id: [g.id for g in it.plan.groups] for it in inters}
    groups = {iid: set(names) for iid, names in plan_groups.items()}
    links: list[LinkModel] = []
    chains_of: list[list[tuple[str, str, list[str]]]] = [[] for _ in corridors]
    n_user = len(scenario.corridors)
    paths = [
        f"corridors[{k}] (id '{c.id}')" if k < n_user else f"grid (corridor '{c.id}')"
        for k, c in enumerate(corridors)
    ]
    corridor_ids: set[str] = set()
    for k, c in enumerate(corridors):
        if c.id in corridor_ids:
            raise ValueError(f"{paths[k]}.id: duplicate corridor id '{c.id}'")
        corridor_ids.add(c.id)
        if c.links_forward is not None:
            continue  # over existing links: checked once every link is known
        path = f"corridors[{k}]" if k < n_user else paths[k]
        for field_name, grp in (
            ("forward_group", c.forward_group),
            ("backward_group", c.backward_group),
            ("left_group", c.left_group),
            ("cross_group", c.cross_group if c.cross_streets else None),
        ):
            if grp is None:
                continue
            for iid in c.intersections:
                if iid in groups and grp not in groups[iid]:
                    raise ValueError(
                        f"{path}.{field_name}: no signal group '{grp}' in the plan of "
                        f"intersection '{iid}'"
                    )
        ls, chains_of[k] = corridor_links(c, pos, path, plan_groups)
        links += ls
    n_gen = len(links)
    links += scenario.links
    link_ids: dict[str, int] = {}
    for k, ln in enumerate(links):
        if ln.id in link_ids:
            where = f"links[{k - n_gen}].id" if k >= n_gen else f"link '{ln.id}'"
            raise ValueError(f"{where}: duplicate link id '{ln.id}'")
        link_ids[ln.id] = k
    for k, ln in enumerate(scenario.links):
        where = f"links[{k}]"
        if ln.to is not None and ln.to not in pos:
            raise ValueError(f"{where}.to: unknown intersection '{ln.to}'")
        if ln.signal_group is not None and ln.signal_group not in groups[ln.to]:
            raise ValueError(
                f"{where}.signal_group: no signal group '{ln.signal_group}' at '{ln.to}'"
            )
        if ln.next is not None and ln.next not in link_ids:
            raise ValueError(f"{where}.next: unknown link '{ln.next}'")
        if ln.next is not None and ln.to is None:
            raise ValueError(f"{where}.next: a link with a successor must end at an intersection")
        if polyline_length_m(ln.polyline) < 1.0:
            raise ValueError(f"{where}.polyline: link is shorter than 1 m")
    by_id = {ln.id: ln for ln in links}
    for k, c in enumerate(corridors):
        if c.links_forward is not None:
            chains_of[k] = _declared_chains(c, by_id, paths[k])
    chains = [ch for per_corridor in chains_of for ch in per_corridor]
    has_pred = {ln.next for ln in links if ln.next is not None}
    lanes_of = {ln.id: ln.lanes for ln in links}
    for k, veh in enumerate(scenario.demand.vehicles):
        where = f"demand.vehicles[{k}]"
        if veh.link not in link_ids:
            raise ValueError(f"{where}.link: unknown link '{veh.link}'")
        if veh.link in has_pred:
            raise ValueError(
                f"{where}.link: '{veh.link}' is not an entry link (vehicles depart on links "
                "that no other link leads into)"
            )
        if veh.lane is not None and veh.lane >= lanes_of[veh.link]:
            raise ValueError(
                f"{where}.lane: link '{veh.link}' has {lanes_of[veh.link]} lane(s), no lane "
                f"{veh.lane}"
            )
    for k, e in enumerate(scenario.demand.entries):
        if e.link not in link_ids:
            raise ValueError(f"demand.entries[{k}].link: unknown link '{e.link}'")
    movements = find_movements(inters, links, n_gen, scenario.demand)
    exp = Expanded(inters, links, chains, movements)
    scenario._expanded = (key, exp)
    return exp


def _fingerprint(scenario: Any) -> tuple:
    """Identity of the parts the expansion reads: a copy with any of them replaced misses."""
    return tuple(
        id(getattr(scenario, f)) for f in ("intersections", "corridors", "links", "grid", "demand")
    )
