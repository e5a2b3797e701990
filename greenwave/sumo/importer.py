"""Import: a SUMO network, its additional files and routes as a greenwave scenario.

:func:`read_sumo` reads the network (:mod:`~greenwave.sumo.netread`), takes the signal programs
SUMO would run from the net and the additional files (:func:`~greenwave.sumo.signals.
choose_programs`), the demand and drivers from the route files (:mod:`~greenwave.sumo.demand`),
the edges the routes' vehicles drive (or, without routes, the one corridor of signalised
chains), joins edges into links over unsignalised nodes, places everything with the net's
``<location>`` (:mod:`~greenwave.sumo.projection`) and declares the signalised chains the
vehicles drive as corridors (:mod:`~greenwave.sumo.corridors`).  Every approximation and
everything left out is reported in :attr:`SumoImport.notes`, every signal whose program came
from the net alone in :attr:`SumoImport.warnings`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from greenwave.movements import THROUGH, TURN_NAMES
from greenwave.scenario import Scenario, SimulationModel, parse_scenario
from greenwave.units import ms_to_kmh

from .corridors import chains, detect_corridors, select_edges, successors
from .demand import (
    Stream,
    check_connected,
    demand_entries,
    drivers_from_vtypes,
    edge_use,
    read_route_files,
    route_successors,
)
from .netread import read_net_xml, read_plain
from .projection import xy_to_lonlat
from .signals import PARAM, Program, choose_programs, plan_from_program, read_additional_programs
from .turns import Movement, approach_movements, turning_shares
from .xmlio import SumoError


@dataclass
class SumoImport:
    """What :func:`read_sumo` made of the SUMO files.

    Attributes
    ----------
    scenario : Scenario
        Validated.
    notes : list of str
        Everything approximated or left out.
    warnings : list of str
        Signals whose program came from the net alone (no additional file defines one).
    corridors : list of str
        The corridors declared (the signalised chains the routes' vehicles drive), one
        sentence each, busiest first.
    """

    scenario: Scenario
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    corridors: list[str] = field(default_factory=list)


def _start_time(programs: Iterable[Program], start_time: datetime | None) -> datetime:
    if start_time is not None:
        return start_time
    for prog in programs:
        text = prog.params.get(PARAM + "start_time")
        if text:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                raise SumoError(f"tlLogic '{prog.tl}': bad {PARAM}start_time '{text}'") from None
    return SimulationModel().start_time


def _paths(value: str | Path | Iterable[str | Path] | None) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [Path(value)]
    return [Path(v) for v in value]


def link_passes(
    streams: Iterable[Stream], link_of: dict[str, str], link_next: dict[str, str | None]
) -> dict[tuple[str, str], float]:
    """``(link a, link b)`` → vehicles whose route drives link ``a`` and then link ``b``.

    ``link_of`` maps each imported edge to its link; edges outside the import break a route.
    A trip lists only its from, via and to edges: between them it drives straight on along
    ``link_next``, as greenwave drives it.
    """
    out: dict[tuple[str, str], float] = {}

    def add(a: str, b: str, n: float) -> None:
        out[a, b] = out.get((a, b), 0.0) + n

    for s in streams:
        prev = None
        for e in s.edges:
            lid = link_of.get(e)
            if prev is not None and lid is not None and lid != prev:
                path = [prev]
                while s.trip and path[-1] != lid and len(path) <= len(link_next):
                    nxt = link_next.get(path[-1])
                    if nxt is None or nxt in path:
                        break
                    path.append(nxt)
                if path[-1] != lid:
                    path = [prev, lid]
                for a, b in itertools.pairwise(path):
                    add(a, b, s.vehicles)
            prev = lid
    return out


def _signal_groups(
    link: dict[str, Any], mvs: list[Movement], conns: list[Any], notes: list[str]
) -> list[Movement]:
    """Set the approach ``link``'s ``signal_group`` (its through movement's group, else the
    group most of its movements have), ``turn_groups`` (turns on other groups) and, when it
    turns, ``movements``; returns the movements kept.

    A movement without a group beside signalised ones (its link indices are always green, a
    free turn, or never green) is left out, noted: greenwave signalises an approach's
    movements all or none.  An approach without any group is unsignalised (noted)."""
    lid, node = link["id"], link["to"]
    grouped = [m for m in mvs if m.group is not None]
    if not grouped:
        if any(c.tl for c in conns):
            notes.append(
                f"link '{lid}': its signal is always green or never green at '{node}', "
                "imported as unsignalised"
            )
    else:
        for m in mvs:
            if m.group is None:
                notes.append(
                    f"link '{lid}': its {TURN_NAMES[m.turn]} movement onto '{m.to_link}' at "
                    f"'{node}' is always or never green in SUMO (greenwave signalises all "
                    "movements of an approach or none): left out"
                )
                if m.turn == THROUGH:
                    link.pop("next", None)
        mvs = grouped
        through = [m.group for m in mvs if m.turn == THROUGH]
        group = through[0] if through else Counter(m.group for m in mvs).most_common(1)[0][0]
        link["signal_group"] = group
        other = {TURN_NAMES[m.turn]: m.group for m in mvs if m.group != group}
        if other:
            link["turn_groups"] = other
    if any(m.turn != THROUGH for m in mvs):
        link["movements"] = [{"to_link": m.to_link, "turn": TURN_NAMES[m.turn]} for m in mvs]
    return mvs


def read_sumo(
    path: str | Path,
    *,
    additional: str | Path | Iterable[str | Path] | None = None,
    routes: str | Path | Iterable[str | Path] | None = None,
    program: str | None = None,
    corridor_edges: list[str] | None = None,
    start_time: datetime | None = None,
    origin: tuple[float, float] | None = None,
    name: str | None = None,
) -> SumoImport:
    """Read a SUMO network (and its additional and route files) as a greenwave scenario.

    Parameters
    ----------
    path : path
        A ``.net.xml`` (read with sumolib) or one of the plain files ``PREFIX.nod.xml``,
        ``.edg.xml``, ``.con.xml``, ``.tll.xml`` (read with the standard library).
    additional : path or paths, optional
        SUMO additional files; their ``<tlLogic>`` programs are loaded after the net's, in
        order, and SUMO runs the one loaded last (or ``program``).
    routes : path or paths, optional
        SUMO route files: ``<vehicle>``, ``<trip>``, ``<flow>``, ``<route>``,
        ``<routeDistribution>`` become the demand, the vType most vehicles use the drivers, and
        the edges the vehicles drive the imported network.
    program : str, optional
        Program id to run where a traffic light has it (SUMO's ``programID``).
    corridor_edges : list of str, optional
        Edges to import (default: the edges the routes use; without routes the only corridor
        of signalised edge chains).
    start_time : datetime, optional
        Absolute time of SUMO second 0 (default: stored by ``export-sumo``, else greenwave's
        default start time).  Offsets are converted with it.
    origin : (lon, lat), optional
        Where the network point x = 0, y = 0 lies, for networks without a geo-projection.
    name : str, optional
        Scenario name (default: the file name).

    Raises
    ------
    SumoError
        Bad input, naming the file, element and reason (see the issue list in
        docs/sumo_bridge.md): a route over an unknown edge, a program that does not fit its
        junction, route files without usable demand, a net without projection or ``origin``.
    """
    path = Path(path)
    for p in [path, *_paths(additional), *_paths(routes)]:
        if not p.is_file():
            raise SumoError(f"{p}: no such file")
    snet = read_net_xml(path) if path.name.endswith(".net.xml") else read_plain(path)
    notes: list[str] = []
    to_lonlat, how = xy_to_lonlat(snet.proj_parameter, snet.net_offset, origin)
    notes.append(f"coordinates: {how}")

    # Signal programs as SUMO chooses them.
    loaded = list(snet.loaded)
    net_sources = {p.source for p in loaded}
    for add in _paths(additional):
        loaded += read_additional_programs(add)
    links_of: dict[str, int] = {}
    junctions_of: dict[str, list[str]] = {}
    for c in snet.conns:
        if c.tl:
            links_of[c.tl] = max(links_of.get(c.tl, 0), c.link_index + 1)
            node = snet.edges[c.from_edge].to_node
            if node not in junctions_of.setdefault(c.tl, []):
                junctions_of[c.tl].append(node)
    for tl in set(snet.node_tl.values()):
        links_of.setdefault(tl, 0)
    programs = choose_programs(loaded, links_of, junctions_of, program, notes)

    # Demand first: the routes say which edges matter and which successor is straight on.
    demand = None
    route_paths = _paths(routes)
    if route_paths:
        demand = read_route_files(route_paths, {e: snet.edges[e].lanes for e in snet.edges})
        notes += demand.notes
        if path.name.endswith(".net.xml"):
            # A built net lists every connection (plain files may leave some to netconvert).
            check_connected(demand.streams, {(c.from_edge, c.to_edge) for c in snet.conns})
        if not demand.streams:
            raise SumoError(
                f"{', '.join(p.name for p in route_paths)}: no usable demand (no <vehicle>, "
                "<trip> or <flow> with a route and a departure time)"
            )
    succ = successors(snet)
    if demand is not None:
        # Where greenwave joins edges into one link (nodes without a traffic light) the link
        # follows the edge most vehicles drive next; at a traffic light the through
        # connection stays the successor and the turns become the approach's movements.
        by_route = route_successors(demand.streams)
        joins = {a: b for a, b in by_route.items() if snet.edges[a].to_node not in snet.node_tl}
        changed = sum(1 for a, b in joins.items() if succ.get(a) not in (None, b))
        succ.update(joins)
        if changed:
            notes.append(
                f"successors: on {changed} edge(s) ending at a node without a traffic light "
                "most vehicles do not go straight on; greenwave's links follow the vehicles"
            )
    if corridor_edges:
        chosen = select_edges(snet, succ, corridor_edges, notes)
    elif demand is not None:
        use = edge_use(demand.streams)
        chosen = [e for e in snet.edges if use.get(e, 0.0) > 0]
    else:
        chosen = select_edges(snet, succ, None, notes)
    chosen_set = set(chosen)
    # Chain order (heads first), so that edges are joined from the start of each chain.
    chosen = [
        e
        for c in chains(
            {a: b for a, b in succ.items() if a in chosen_set and b in chosen_set}, chosen
        )
        for e in c
    ]

    # Links: runs of chosen edges joined over nodes without a traffic light.
    link_of: dict[str, str] = {}
    runs: list[list[str]] = []
    # A run starts at an edge no chosen edge continues over such a node (one leaving a traffic
    # light, an entry), so that a ring of streets through signals (a grid's border, joined at
    # its corners) is cut at its signals; a ring without any is an error below.
    joined = {
        b
        for a, b in succ.items()
        if a in chosen_set and b in chosen_set and snet.edges[a].to_node not in snet.node_tl
    }
    for eid in [e for e in chosen if e not in joined] + chosen:
        if eid in link_of:
            continue
        run = [eid]
        link_of[eid] = eid
        while True:
            e = snet.edges[run[-1]]
            nx = succ.get(run[-1])
            if nx is None or nx not in chosen_set or e.to_node in snet.node_tl or nx in link_of:
                break
            run.append(nx)
            link_of[nx] = eid
        runs.append(run)
    tl_node = snet.node_tl
    conns_from: dict[str, list[Any]] = {}
    for c in snet.conns:
        conns_from.setdefault(c.from_edge, []).append(c)
    start = _start_time(programs.values(), start_time)
    epoch = start.timestamp()
    plans, index_group = {}, {}
    links: list[dict[str, Any]] = []
    inters: dict[str, dict[str, Any]] = {}
    for run in runs:
        first, last = snet.edges[run[0]], snet.edges[run[-1]]
        if len(run) > 1:
            speeds = {snet.edges[e].speed_ms for e in run}
            lanes_set = {snet.edges[e].lanes for e in run}
            notes.append(
                f"link '{run[0]}' joins edges {', '.join(run)} over unsignalised nodes"
                + (
                    " (lowest speed and lane count kept)"
                    if len(speeds) > 1 or len(lanes_set) > 1
                    else ""
                )
            )
        shape = list(first.shape)
        for eid in run[1:]:
            pts = snet.edges[eid].shape
            shape += pts[1:] if pts and shape and np.allclose(pts[0], shape[-1]) else pts
        xs, ys = zip(*shape, strict=True)
        lon, lat = to_lonlat(np.array(xs), np.array(ys))
        poly = [[round(float(a), 8), round(float(b), 8)] for a, b in zip(lon, lat, strict=True)]
        nx = succ.get(run[-1])
        nxt = link_of.get(nx) if nx in chosen_set else None
        to_node = last.to_node
        link: dict[str, Any] = {
            "id": run[0],
            "polyline": poly,
            # SUMO writes lane speeds in 0.01 m/s (0.036 km/h): 0.1 km/h recovers round limits
            "speed_limit_kmh": round(float(ms_to_kmh(min(snet.edges[e].speed_ms for e in run))), 1),
            "lanes": min(snet.edges[e].lanes for e in run),
        }
        if to_node in tl_node:
            tl = tl_node[to_node]
            if tl not in programs:
                raise SumoError(f"traffic light '{tl}' of node '{to_node}' has no program")
            if tl not in plans:
                plans[tl], index_group[tl] = plan_from_program(programs[tl], epoch, notes)
            link["to"] = to_node
            x, y, _, nname = snet.nodes[to_node]
            nlon, nlat = to_lonlat(np.array([x]), np.array([y]))
            inters[to_node] = {
                "id": to_node,
                "name": nname,
                "lon": round(float(nlon[0]), 8),
                "lat": round(float(nlat[0]), 8),
                "plan": plans[tl],
            }
        elif nxt is not None:
            raise SumoError(
                f"edges {', '.join(run)} form a ring without a traffic light: "
                "greenwave cannot represent it"
            )
        if nxt is not None:
            link["next"] = nxt
        links.append(link)

    # Movements and signal groups of the approaches, counting the vehicles on each.
    streams = demand.streams if demand is not None else []
    passes = link_passes(streams, link_of, {ln["id"]: ln.get("next") for ln in links})
    link_heads = {run[0]: run[0] for run in runs}
    approaches: dict[str, list[Movement]] = {}
    for run, link in zip(runs, links, strict=True):
        if "to" in link:
            tl = tl_node[link["to"]]
            out_conns = conns_from.get(run[-1], [])
            mvs = approach_movements(
                link["id"],
                run[-1],
                link.get("next"),
                out_conns,
                link_heads,
                snet.edges,
                tl,
                index_group[tl],
                passes,
                notes,
            )
            approaches[link["id"]] = _signal_groups(link, mvs, out_conns, notes)
    used_tls = {tl for tl in plans}
    from_net = sorted(tl for tl in used_tls if programs[tl].source in net_sources)
    warnings = []
    if from_net:
        ours = [tl for tl in from_net if PARAM + "groups" in programs[tl].params]
        warnings.append(
            "signal programs from the net alone (no --additional file defines them; a net "
            "built by netconvert holds its default program): "
            + ", ".join(from_net)
            + (f" ({len(ours)} of them written by greenwave export-sumo)" if ours else "")
        )
    if not inters:
        raise SumoError("the selected edges end at no traffic light")
    data: dict[str, Any] = {
        "name": name or path.name.split(".")[0],
        "description": f"Imported from SUMO network {path.name} by greenwave import-sumo",
        "intersections": list(inters.values()),
        "links": links,
        "simulation": {"start_time": start.isoformat()},
    }
    if demand is not None:
        link_next: dict[str, str | None] = {ln["id"]: ln.get("next") for ln in links}
        link_lanes = {ln["id"]: int(ln["lanes"]) for ln in links}
        turns_to = {a: {m.to_link for m in mvs} for a, mvs in approaches.items()}
        imported = demand_entries(
            demand.streams, link_of, link_next, link_lanes, notes, turns_to=turns_to
        )
        if not imported.entries and not imported.vehicles:
            raise SumoError(
                f"{', '.join(p.name for p in route_paths)}: no usable demand on the imported "
                "links (every vehicle starts outside them or inside a link chain)"
            )
        data["demand"] = {
            "scale": 1.0,
            "flow_veh_h_per_lane": 0.0,
            "entries": imported.entries,
            "vehicles": imported.vehicles,
        }
        turns = turning_shares(approaches)
        if turns:
            data["demand"]["turns"] = turns
            notes.append(
                f"demand: turning shares of {len(turns)} approach(es) from the vehicles the "
                "routes send over each movement (demand.turns); greenwave draws every vehicle's "
                "turns from them, so it runs these turning volumes, not each SUMO vehicle's own "
                "route (a scenario's vehicles carry no route)"
            )
        drivers, sim = drivers_from_vtypes(demand.streams, demand.vtypes, demand.vtype_dists, notes)
        if drivers:
            data["drivers"] = drivers
        data["simulation"].update(sim)
        end = imported.horizon_s
        if end is not None and end > 0:
            # Every trip counts, as in SUMO's tripinfo: no warm-up.
            data["simulation"].update(duration_s=end, warmup_s=0.0)
    corridor_text: list[str] = []
    if demand is not None or corridor_edges is None:
        data, corridor_text = detect_corridors(data, passes, notes)
    return SumoImport(parse_scenario(data, str(path)), notes, warnings, corridor_text)


def import_sumo(path: str | Path, **kwargs: Any) -> tuple[Scenario, list[str]]:
    """:func:`read_sumo` as ``(scenario, warnings + notes)``."""
    res = read_sumo(path, **kwargs)
    return res.scenario, [*res.warnings, *res.notes]
