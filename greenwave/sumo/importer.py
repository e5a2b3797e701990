"""Import: a SUMO network (with its additional files and routes) as a greenwave scenario."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from greenwave.scenario import Scenario, SimulationModel, parse_scenario
from greenwave.units import ms_to_kmh

from .corridors import chains, select_edges, successors
from .demand import read_routes
from .netread import Net, read_net_xml, read_plain
from .projection import xy_to_lonlat
from .signals import PARAM, plan_from_program
from .xmlio import (
    SumoError,
)


def _start_time(snet: Net, start_time: datetime | None) -> datetime:
    if start_time is not None:
        return start_time
    for prog in snet.programs.values():
        text = prog.params.get(PARAM + "start_time")
        if text:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                raise SumoError(f"tlLogic '{prog.tl}': bad {PARAM}start_time '{text}'") from None
    return SimulationModel().start_time


def import_sumo(
    path: str | Path,
    *,
    routes: str | Path | None = None,
    corridor_edges: list[str] | None = None,
    start_time: datetime | None = None,
    origin: tuple[float, float] | None = None,
    name: str | None = None,
) -> tuple[Scenario, list[str]]:
    """Read a SUMO network's signalised corridor as a greenwave scenario.

    Parameters
    ----------
    path : path
        A ``.net.xml`` (read with sumolib) or one of the plain files ``PREFIX.nod.xml``,
        ``.edg.xml``, ``.con.xml``, ``.tll.xml`` (all four are read; no SUMO needed).
    routes : path, optional
        A SUMO routes file: its flows become demand entries (and its vType the drivers).
    corridor_edges : list of str, optional
        Edges to import.  Default: the edges of the only corridor of signalised edge chains
        (one chain, or two that pass the same signals, e.g. both directions of an arterial).
    start_time : datetime, optional
        Absolute time of SUMO second 0 (default: the export's ``greenwave.start_time``
        parameter, else greenwave's default start time).  Offsets are converted with it.
    origin : (lon, lat), optional
        Where the network point x = 0, y = 0 lies, for networks without a geo-projection.
    name : str, optional
        Scenario name (default: the file name).

    Returns
    -------
    scenario : Scenario
        Validated; links are written out one by one (``[[links]]``).
    notes : list of str
        What was approximated or left out.
    """
    path = Path(path)
    if not path.is_file():
        raise SumoError(f"{path}: no such file")
    snet = read_net_xml(path) if path.name.endswith(".net.xml") else read_plain(path)
    notes: list[str] = []
    to_lonlat, how = xy_to_lonlat(snet.proj_parameter, snet.net_offset, origin)
    notes.append(f"coordinates: {how}")
    succ = successors(snet)
    chosen = select_edges(snet, succ, corridor_edges, notes)
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
    for eid in chosen:
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
    start = _start_time(snet, start_time)
    epoch = start.timestamp()
    plans, index_group = {}, {}
    links, inters = [], {}
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
        link = {
            "id": run[0],
            "polyline": poly,
            # SUMO writes lane speeds in 0.01 m/s (0.036 km/h): 0.1 km/h recovers round limits
            "speed_limit_kmh": round(float(ms_to_kmh(min(snet.edges[e].speed_ms for e in run))), 1),
            "lanes": min(snet.edges[e].lanes for e in run),
        }
        if to_node in tl_node:
            tl = tl_node[to_node]
            if tl not in snet.programs:
                raise SumoError(f"traffic light '{tl}' of node '{to_node}' has no program")
            if tl not in plans:
                plans[tl], index_group[tl] = plan_from_program(snet.programs[tl], epoch, notes)
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
            through = [
                c for c in snet.conns if c.from_edge == run[-1] and (nx is None or c.to_edge == nx)
            ]
            grp = [index_group[tl].get(c.link_index) for c in through if c.tl == tl]
            grp = [g for g in grp if g is not None]
            if grp:
                best = max(set(grp), key=grp.count)
                if len(set(grp)) > 1:
                    notes.append(
                        f"link '{run[0]}': lanes follow different signals "
                        f"{sorted(set(grp))}, using '{best}'"
                    )
                link["signal_group"] = best
            elif through and all(c.tl == tl for c in through):
                notes.append(
                    f"link '{run[0]}': its signal is always green or never green at "
                    f"'{to_node}', imported as unsignalised"
                )
        elif nxt is not None:
            raise SumoError(
                f"edges {', '.join(run)} form a ring without a traffic light: "
                "greenwave cannot represent it"
            )
        if nxt is not None:
            link["next"] = nxt
        links.append(link)

    data: dict[str, Any] = {
        "name": name or path.name.split(".")[0],
        "description": f"Imported from SUMO network {path.name} by greenwave import-sumo",
        "intersections": list(inters.values()),
        "links": links,
        "simulation": {"start_time": start.isoformat()},
    }
    if routes is not None:
        demand, drivers, end = read_routes(Path(routes), link_of, links, notes)
        data["demand"] = demand
        if drivers:
            data["drivers"] = drivers
        if end is not None:
            # Every trip counts, as in SUMO's tripinfo: no warm-up.
            data["simulation"].update(duration_s=end, warmup_s=0.0)
    if not inters:
        raise SumoError("the selected edges end at no traffic light")
    return parse_scenario(data, str(path)), notes
