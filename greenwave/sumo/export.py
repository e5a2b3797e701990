"""Export: a greenwave scenario as SUMO input (plain XML, netconvert, routes, .sumocfg).

Every link is one SUMO edge with the same id, lanes, speed, shape and an explicit ``length``;
netconvert runs without internal links (:data:`NETCONVERT_OPTIONS`); each intersection is one
static ``tlLogic`` whose offset makes SUMO show greenwave's colour at every step; one ``<flow>``
per entry link and piece of its demand profile.

Derivations: docs/sumo_bridge.md (Export and import).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from greenwave.expand import expand_links
from greenwave.movements import LEFT, RIGHT, THROUGH
from greenwave.network import Network, build_network
from greenwave.scenario import Scenario
from greenwave.sim.demand import draw_arrivals, turns_any
from greenwave.timing import PlanTable
from greenwave.units import kmh_to_ms

from .projection import eqc_proj_string
from .signals import PARAM, link_states, signal_program, sumo_offset
from .tools import find_sumo_tool, run_netconvert
from .xmlio import (
    SumoError,
    num_text,
    write_xml,
    xsd_root,
)

PREFIX = "scenario"
"""Stem of every exported file (``scenario.nod.xml``, ``scenario.net.xml``, ...)."""

PROGRAM_ID = "greenwave"

VTYPE_ID = "greenwave"

STEP_LENGTH_S = 0.5

NETCONVERT_OPTIONS = {
    "no-internal-links": "true",
    "no-turnarounds": "true",
    "offset.disable-normalization": "true",
}

NO_LANE_CHANGE = {
    "lcStrategic": "-1",
    "lcCooperative": "-1",
    "lcSpeedGain": "0",
    "lcKeepRight": "0",
}
"""vType attributes that keep every vehicle in its departure lane (``lane_change=False``)."""

STRATEGIC_ONLY = {
    "lcCooperative": "-1",
    "lcSpeedGain": "0",
    "lcKeepRight": "0",
}
"""vType attributes of ``lane_change=False`` with turning demand: vehicles change lanes only
where their route needs it (LC2013's strategic changes stay on; with them off a vehicle on a
lane without its next turn would wait at the stop line for ever)."""

# SUMO signal characters (sumo.dlr.de/docs/Simulation/Traffic_Lights.html#signal_state_definitions)


@dataclass
class SumoExport:
    """What :func:`export_sumo` wrote.

    Attributes
    ----------
    outdir : Path
    files : dict[str, Path]
        ``nodes, edges, connections, tls, netccfg, routes, sumocfg`` and ``net`` when built.
    netconvert : str or None
        The netconvert that built the net (None: not found or not asked).
    notes : list[str]
        Warnings worth showing (netconvert's warnings, intersections left out of the net, ...).
    link_index : dict[str, dict[str, list[int]]]
        ``intersection → group → SUMO link indices`` of the connections the group drives.
    """

    outdir: Path
    files: dict[str, Path]
    netconvert: str | None
    notes: list[str] = field(default_factory=list)
    link_index: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    @property
    def net_built(self) -> bool:
        return "net" in self.files


def entry_flows(scenario: Scenario) -> dict[str, tuple[float, list[tuple[float, float]]]]:
    """Scaled flow (veh/h) and profile ``[(t_s, factor), ...]`` of every entry link, by id."""
    net, _ = build_network(scenario)
    dem = scenario.demand
    listed = {e.link: e for e in dem.entries}
    out = {}
    for li in net.entry_links:
        lid = net.link_ids[int(li)]
        if lid in listed:
            e = listed[lid]
            flow, prof = e.flow_veh_h, e.profile or [(0.0, 1.0)]
        else:
            flow, prof = dem.flow_veh_h_per_lane * int(net.link_lanes[li]), [(0.0, 1.0)]
        out[lid] = (flow * dem.scale, [(float(t), float(f)) for t, f in prof])
    return out


def export_sumo(
    scenario: Scenario,
    outdir: str | Path,
    *,
    duration_s: float | None = None,
    seed: int | None = None,
    arrivals: Literal["uniform", "poisson"] = "uniform",
    car_following: Literal["krauss", "idm"] = "krauss",
    lane_change: bool = True,
    build_net: bool = True,
) -> SumoExport:
    """Write a scenario as SUMO input into ``outdir`` (created); build the net if possible.

    Parameters
    ----------
    scenario : Scenario
    outdir : path
    duration_s : float, optional
        SUMO end time and end of the flows (default: ``simulation.duration_s``).
    seed : int, optional
        SUMO random seed (default: ``simulation.seed``).
    arrivals : {"uniform", "poisson"}
        ``vehsPerHour`` (equally spaced) or ``period="exp(rate)"`` (Poisson, as greenwave).
    car_following : {"krauss", "idm"}
        SUMO's Krauss (``sigma`` = ``drivers.sigma`` for Krauss drivers, else 0: no dawdling,
        deterministic like greenwave's IDM) or SUMO's IDM
        with greenwave's IDM parameters.
    lane_change : bool
        False: vehicles keep their departure lane (:data:`NO_LANE_CHANGE`), like greenwave's
        drivers without ``drivers.lane_changing``; with turning demand they still change
        lanes where their route needs it (:data:`STRATEGIC_ONLY`).
    build_net : bool
        Run netconvert when it is available.

    Returns
    -------
    SumoExport
    """
    if arrivals not in ("uniform", "poisson"):
        raise ValueError(f"arrivals must be 'uniform' or 'poisson', not {arrivals!r}")
    if car_following not in ("krauss", "idm"):
        raise ValueError(f"car_following must be 'krauss' or 'idm', not {car_following!r}")
    sim = scenario.simulation
    duration = float(sim.duration_s if duration_s is None else duration_s)
    if not duration > 0:
        raise ValueError("duration must be > 0")
    seed = int(sim.seed if seed is None else seed)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    exp = expand_links(scenario)
    net, plans = build_network(scenario)
    proj = net.projection
    res = SumoExport(out, {}, None)

    # -- nodes: intersections, then the free ends of links (coincident ends share a node)
    inter_xy = {}
    for it in exp.intersections:
        x, y = proj.to_xy(it.lon, it.lat)
        inter_xy[it.id] = (float(x), float(y))
    link_xy = {lid: net.link_xy[k] for k, lid in enumerate(net.link_ids)}
    # Where a link starts: the network's answer (the intersection a predecessor ends at, or
    # the one within 20 m of its first point), so that its movements' edges meet there.
    starts_at = {
        lid: net.intersection_ids[int(i)]
        for lid, i in zip(net.link_ids, net.link_from_intersection, strict=True)
        if i >= 0
    }
    free_nodes: dict[tuple[int, int], str] = {}
    used_ids = set(inter_xy)

    def free_node(x: float, y: float, name: str) -> str:
        key = (round(x * 100), round(y * 100))
        if key not in free_nodes:
            nid = name
            while nid in used_ids:
                nid += "_"
            used_ids.add(nid)
            free_nodes[key] = nid
        return free_nodes[key]

    inter_ids = list(inter_xy)
    inter_arr = np.array([inter_xy[i] for i in inter_ids]).reshape(-1, 2)

    def node_at(x: float, y: float) -> str | None:
        """An intersection within 1 m of (x, y)."""
        if not len(inter_arr):
            return None
        d = np.hypot(inter_arr[:, 0] - x, inter_arr[:, 1] - y)
        k = int(np.argmin(d))
        return inter_ids[k] if d[k] < 1.0 else None

    ends = {}
    for ln in exp.links:
        xy = link_xy[ln.id]
        start = starts_at.get(ln.id) or node_at(xy[0, 0], xy[0, 1])
        if start is None:
            start = free_node(xy[0, 0], xy[0, 1], f"{ln.id}.start")
        end = ln.to if ln.to is not None else free_node(xy[-1, 0], xy[-1, 1], f"{ln.id}.end")
        if start == end:
            raise SumoError(f"link '{ln.id}' starts and ends at node '{start}'")
        ends[ln.id] = (start, end)

    # -- connections: one per movement and pair of lanes, each its own signal link index
    conns, tl_links, tl_yields = _connections(net, plans)
    controlled = {iid for iid, lst in tl_links.items() if lst}
    for it in exp.intersections:
        if it.id not in controlled:
            res.notes.append(
                f"intersection '{it.id}' controls no connection: it is written as a plain node "
                "and its plan is not in the SUMO network"
            )

    start_iso = sim.start_time.isoformat()
    nodes = xsd_root("nodes", "nodes_file.xsd")
    lon_ll = np.concatenate([p[:, 0] for p in net.link_lonlat] + [net.intersection_lonlat[:, 0]])
    lat_ll = np.concatenate([p[:, 1] for p in net.link_lonlat] + [net.intersection_lonlat[:, 1]])
    all_xy = np.concatenate([*list(net.link_xy), np.array(list(inter_xy.values())).reshape(-1, 2)])
    ET.SubElement(
        nodes,
        "location",
        {
            "netOffset": "0.00,0.00",
            "convBoundary": ",".join(num_text(v, 2) for v in (*all_xy.min(0), *all_xy.max(0))),
            "origBoundary": ",".join(
                num_text(v, 7) for v in (lon_ll.min(), lat_ll.min(), lon_ll.max(), lat_ll.max())
            ),
            "projParameter": eqc_proj_string(proj),
        },
    )
    for it in exp.intersections:
        x, y = inter_xy[it.id]
        attrs = {"id": it.id, "x": num_text(x), "y": num_text(y)}
        if it.id in controlled:
            attrs.update(type="traffic_light", tl=it.id)
        else:
            attrs["type"] = "priority"
        if it.name:
            attrs["name"] = it.name
        ET.SubElement(nodes, "node", attrs)
    for (kx, ky), nid in free_nodes.items():
        ET.SubElement(
            nodes,
            "node",
            {"id": nid, "x": num_text(kx / 100, 2), "y": num_text(ky / 100, 2), "type": "priority"},
        )

    edges = xsd_root("edges", "edges_file.xsd")
    for k, ln in enumerate(exp.links):
        xy = link_xy[ln.id]
        start, end = ends[ln.id]
        ET.SubElement(
            edges,
            "edge",
            {
                "id": ln.id,
                "from": start,
                "to": end,
                "numLanes": str(ln.lanes),
                "speed": num_text(kmh_to_ms(ln.speed_limit_kmh), 6),
                "length": num_text(net.link_length_m[k], 3),
                "shape": " ".join(f"{num_text(px)},{num_text(py)}" for px, py in xy),
            },
        )

    cons = xsd_root("connections", "connections_file.xsd")
    leads_on = {f for f, *_ in conns} | {ln.id for ln in exp.links if ln.next is not None}
    for ln in exp.links:
        if ln.id not in leads_on:
            ET.SubElement(cons, "connection", {"from": ln.id})  # no successor: guess nothing
    for f, fl, t, tlane, *_ in conns:
        ET.SubElement(
            cons, "connection", {"from": f, "to": t, "fromLane": str(fl), "toLane": str(tlane)}
        )

    tlls = xsd_root("tlLogics", "tllogic_file.xsd")
    epoch = sim.epoch_s
    for it in exp.intersections:
        if it.id not in controlled:
            continue
        plan = it.plan
        sig = tl_links[it.id]
        yields = tl_yields[it.id]
        used = set(sig).union(*yields)
        linked = [g.id for g in plan.groups if g.id in used]
        bounds, colours = signal_program(plan, linked)
        tl = ET.SubElement(
            tlls,
            "tlLogic",
            {
                "id": it.id,
                "type": "static",
                "programID": PROGRAM_ID,
                "offset": num_text(sumo_offset(plan, epoch)),
            },
        )
        for p, state in enumerate(link_states(colours, sig, yields)):
            ET.SubElement(
                tl, "phase", {"duration": num_text(bounds[p + 1] - bounds[p]), "state": state}
            )
        res.link_index[it.id] = {
            g.id: [k for k, s in enumerate(sig) if s == g.id] for g in plan.groups
        }
        params = {
            "start_time": start_iso,
            "offset_s": num_text(plan.offset_s),
            "groups": " ".join(g.id for g in plan.groups),
        }
        for g in plan.groups:
            params[f"group.{g.id}"] = json.dumps(
                {
                    "links": res.link_index[it.id][g.id],
                    "greens_s": [[float(s), float(e)] for s, e in g.greens_s],
                    "amber_s": g.amber_s,
                    "all_red_s": g.all_red_s,
                    "conflicts": g.conflicts,
                },
                separators=(",", ":"),
            )
        for key, value in params.items():
            ET.SubElement(tl, "param", {"key": PARAM + key, "value": value})
    for f, fl, t, tlane, tl_id, k in conns:
        ET.SubElement(
            tlls,
            "connection",
            {
                "from": f,
                "to": t,
                "fromLane": str(fl),
                "toLane": str(tlane),
                "tl": tl_id,
                "linkIndex": str(k),
            },
        )

    files = {
        "nodes": out / f"{PREFIX}.nod.xml",
        "edges": out / f"{PREFIX}.edg.xml",
        "connections": out / f"{PREFIX}.con.xml",
        "tls": out / f"{PREFIX}.tll.xml",
        "netccfg": out / f"{PREFIX}.netccfg",
        "routes": out / f"{PREFIX}.rou.xml",
        "sumocfg": out / f"{PREFIX}.sumocfg",
    }
    write_xml(nodes, files["nodes"])
    write_xml(edges, files["edges"])
    write_xml(cons, files["connections"])
    write_xml(tlls, files["tls"])

    netcfg = ET.Element("configuration")
    inp = ET.SubElement(netcfg, "input")
    for tag, kind in (
        ("node-files", "nodes"),
        ("edge-files", "edges"),
        ("connection-files", "connections"),
        ("tllogic-files", "tls"),
    ):
        ET.SubElement(inp, tag, {"value": files[kind].name})
    ET.SubElement(ET.SubElement(netcfg, "output"), "output-file", {"value": f"{PREFIX}.net.xml"})
    proc = ET.SubElement(netcfg, "processing")
    for key, value in NETCONVERT_OPTIONS.items():
        ET.SubElement(proc, key, {"value": value})
    write_xml(netcfg, files["netccfg"])

    note = write_routes(
        scenario,
        files["routes"],
        duration_s=duration,
        seed=seed,
        arrivals=arrivals,
        car_following=car_following,
        lane_change=lane_change,
        network=net,
    )
    if note:
        res.notes.append(note)
    _write_sumocfg(files["sumocfg"], duration, seed)
    res.files = files

    if build_net:
        exe = find_sumo_tool("netconvert")
        if exe is None:
            res.notes.append(
                "netconvert not found: install the [sumo] extra (pip install 'greenwave[sumo]') "
                f"and run 'netconvert -c {PREFIX}.netccfg' in {out}"
            )
        else:
            msgs = run_netconvert(exe, out, ["-c", f"{PREFIX}.netccfg"], f"{PREFIX}.net.xml")
            res.netconvert = exe
            res.files["net"] = out / f"{PREFIX}.net.xml"
            res.notes += [f"netconvert: {m}" for m in msgs]
    return res


Connection = tuple[str, int, str, int, str, int]
"""``(from edge, from lane, to edge, to lane, traffic light, link index)``."""


def lane_on(turn: int, lane: int, n_lanes: int) -> int:
    """The lane a vehicle coming from ``lane`` takes on a link of ``n_lanes`` lanes whose
    movement at the end is ``turn``: the leftmost before a left turn, the rightmost (0) before a
    right turn, else the same lane if the link has it (else its leftmost).  The simulator's
    rule (``sim.engine.Simulation._lane_on``), so that SUMO's vehicles find their lane where
    greenwave's do."""
    if turn == LEFT:
        return n_lanes - 1
    if turn == RIGHT:
        return 0
    return min(lane, n_lanes - 1)


def _connections(
    net: Network, plans: PlanTable
) -> tuple[list[Connection], dict[str, list[str | None]], dict[str, list[frozenset[str]]]]:
    """Every movement as SUMO connections, lane by lane as greenwave's vehicles drive them.

    A movement is driven from the lanes a vehicle takes for it (:func:`lane_on`: a left turn
    from the leftmost lane, a right turn from lane 0, through from every lane), each onto the
    lane :func:`lane_on` gives on the link it enters for the same turn (through: the same lane
    where it exists).  Greenwave's vehicles pick their lane for the next turn as they enter a
    link; SUMO's change lanes on the link where their route needs it (strategic lane changes,
    which even ``lane_change=False`` keeps for turning demand).  One connection per lane pair
    (not a fan-out onto every lane a vehicle may need: SUMO does not treat two connections
    from one edge into one lane as foes, and two vehicles side by side would enter that lane
    at the same instant).  Each connection has its own link index at the intersection and
    follows its movement's signal group; a left turn yields to the groups of the opposing
    approach's other movements (a permitted left: ``g`` while those are green).

    Returns
    -------
    conns : list of :data:`Connection`, in link order, then turn, then from lane
    link_groups : dict
        Per intersection, the group id of each link index (None: unsignalised approach).
    yields : dict
        Per intersection, the groups each link index yields to.
    """
    mv = net.movements
    link_groups: dict[str, list[str | None]] = {iid: [] for iid in net.intersection_ids}
    yields: dict[str, list[frozenset[str]]] = {iid: [] for iid in net.intersection_ids}
    conns: list[Connection] = []

    def gid(g: int) -> str | None:
        return plans.group_keys[g][1] if g >= 0 else None

    for m in range(mv.size):
        a, b, turn = int(mv.from_link[m]), int(mv.to_link[m]), int(mv.turn[m])
        tl = net.intersection_ids[int(net.link_intersection[a])]
        n_from, n_to = int(net.link_lanes[a]), int(net.link_lanes[b])
        foes: frozenset[str] = frozenset()
        opp = int(mv.opposing_link[m])
        if turn == LEFT and opp >= 0:
            rows = mv.of(opp)
            foes = frozenset(
                name
                for t, g in zip(mv.turn[rows], mv.group[rows], strict=True)
                if t != LEFT and (name := gid(int(g))) is not None
            )
        from_lanes = range(n_from) if turn == THROUGH else [lane_on(turn, 0, n_from)]
        for i in from_lanes:
            j = lane_on(turn, i, n_to)
            conns.append((net.link_ids[a], i, net.link_ids[b], j, tl, len(link_groups[tl])))
            link_groups[tl].append(gid(int(mv.group[m])))
            yields[tl].append(foes)
    return conns, link_groups, yields


def write_routes(
    scenario: Scenario,
    path: str | Path,
    *,
    duration_s: float,
    seed: int,
    arrivals: Literal["uniform", "poisson"] = "uniform",
    car_following: Literal["krauss", "idm"] = "krauss",
    lane_change: bool = True,
    network: Network | None = None,
) -> str | None:
    """Write the scenario's demand as a SUMO route file (see :func:`export_sumo`).

    Without turning demand: one ``<flow>`` per entry link and piece of its profile on the
    straight-through route (``arrivals`` spaces or draws them), and the ``demand.vehicles`` as
    ``<vehicle>`` s.  With turning demand (an approach splits its traffic over its movements):
    the very vehicles greenwave's simulator runs with ``seed``
    (:func:`greenwave.sim.demand.draw_arrivals` over ``[0, duration_s)``), one ``<vehicle>``
    each with its departure time, entry lane, route and speed factor, ids ``a<k>`` with ``k``
    its row in the arrivals (the simulator's vehicle index), so that both simulators run the
    same trips.  Returns a note on what was written for turning demand, else None.
    """
    path = Path(path)
    net = network if network is not None else build_network(scenario)[0]
    routes = xsd_root("routes", "routes_file.xsd")
    turning = turns_any(net.movements)
    ET.SubElement(routes, "vType", _vtype(scenario, car_following, lane_change, turning))
    if turning:
        n = _write_turning_vehicles(scenario, net, routes, duration_s, seed)
        write_xml(routes, path)
        return (
            f"turning demand: {n} vehicles written as greenwave draws them with seed {seed} "
            "(departure, entry lane, route, speed factor), the same trips in both simulators; "
            f"arrivals='{arrivals}' applies to flows only"
        )
    _write_flows(scenario, net, routes, duration_s, arrivals)
    write_xml(routes, path)
    return None


def _vtype(
    scenario: Scenario, car_following: str, lane_change: bool, turning: bool
) -> dict[str, str]:
    """The one vType: greenwave's drivers in SUMO's car-following model."""
    drv = scenario.drivers
    vt = {
        "id": VTYPE_ID,
        "vClass": "passenger",
        "length": num_text(drv.length_m),
        "minGap": num_text(drv.min_gap_m),
        "accel": num_text(drv.accel_ms2),
        "decel": num_text(drv.decel_ms2),
        "tau": num_text(drv.time_headway_s),
        "speedFactor": "normc({},{},{},{})".format(
            *(
                num_text(v, 4)
                for v in (
                    drv.desired_speed_factor_mean,
                    drv.desired_speed_factor_sd,
                    drv.desired_speed_factor_min,
                    drv.desired_speed_factor_max,
                )
            )
        ),
    }
    if car_following == "idm":
        vt.update(carFollowModel="IDM", delta="4")
    else:
        # Greenwave's Krauss drivers keep their dawdling; IDM drivers have none.
        sigma = drv.sigma if drv.car_following == "krauss" else 0.0
        vt.update(carFollowModel="Krauss", sigma=num_text(sigma, 4))
    if not lane_change:
        vt.update(STRATEGIC_ONLY if turning else NO_LANE_CHANGE)
    return vt


def _write_turning_vehicles(
    scenario: Scenario, net: Network, routes: ET.Element, duration_s: float, seed: int
) -> int:
    """Greenwave's arrivals as ``<route>`` s and ``<vehicle>`` s in departure order; returns
    the number of vehicles."""
    arr = draw_arrivals(scenario, net, seed, duration_s)
    assert arr.route is not None and arr.route_links is not None  # turns_any holds
    used = np.unique(arr.route)
    for r in used.tolist():
        row = arr.route_links[r]
        edges = " ".join(net.link_ids[int(k)] for k in row[row >= 0])
        ET.SubElement(routes, "route", {"id": f"r{r}", "edges": edges})
    # SUMO loads route files incrementally: departures in time order (stable: the arrival
    # order breaks ties).
    for k in np.argsort(arr.time_s, kind="stable").tolist():
        ET.SubElement(
            routes,
            "vehicle",
            {
                "id": f"a{k}",
                "type": VTYPE_ID,
                "route": f"r{int(arr.route[k])}",
                # greenwave inserts at its first tick at or after the arrival, SUMO at its
                # first step: 1 µs keeps the two on the same side of every step boundary
                "depart": num_text(arr.time_s[k], 6),
                "departLane": str(int(arr.lane[k])),
                "departSpeed": "desired",
                "departPos": "base",
                "speedFactor": num_text(arr.desired_factor[k], 6),
            },
        )
    return arr.count


def _write_flows(
    scenario: Scenario, net: Network, routes: ET.Element, duration: float, arrivals: str
) -> None:
    """Flows per entry link on the straight-through route, and the explicit vehicles."""
    nxt = {
        lid: (net.link_ids[int(k)] if k >= 0 else None)
        for lid, k in zip(net.link_ids, net.link_next, strict=True)
    }
    flows = []
    for lid, (flow, prof) in entry_flows(scenario).items():
        chain, seen = [lid], {lid}
        while (after := nxt[chain[-1]]) is not None and after not in seen:
            chain.append(after)
            seen.add(after)
        ET.SubElement(routes, "route", {"id": f"r_{lid}", "edges": " ".join(chain)})
        ends = [t for t, _ in prof[1:]] + [duration]
        pieces = [
            (t0, min(t1, duration), f)
            for (t0, f), t1 in zip(prof, ends, strict=True)
            if t0 < duration
        ]
        for k, (t0, t1, f) in enumerate(pieces):
            rate = flow * f
            if rate <= 0 or t1 <= t0:
                continue
            fid = lid if len(pieces) == 1 else f"{lid}.{k}"
            attrs = {
                "id": fid,
                "type": VTYPE_ID,
                "route": f"r_{lid}",
                "begin": num_text(t0),
                "end": num_text(t1),
            }
            if arrivals == "poisson":
                attrs["period"] = f"exp({rate / 3600.0:.9g})"
            else:
                attrs["vehsPerHour"] = num_text(rate, 4)
            attrs.update(departLane="random", departSpeed="desired", departPos="base")
            flows.append((t0, fid, "flow", attrs))
    # Vehicles with explicit departures (demand.vehicles) as <vehicle>s: the same vehicles run.
    for k, veh in enumerate(scenario.demand.vehicles):
        if veh.depart_s >= duration:
            continue
        attrs = {
            "id": f"v{k}",
            "type": VTYPE_ID,
            "route": f"r_{veh.link}",
            "depart": num_text(veh.depart_s),
            "departLane": "random" if veh.lane is None else str(veh.lane),
            "departSpeed": "desired",
            "departPos": "base",
        }
        if veh.desired_speed_factor is not None:
            attrs["speedFactor"] = num_text(veh.desired_speed_factor, 4)
        flows.append((veh.depart_s, attrs["id"], "vehicle", attrs))
    # SUMO loads route files incrementally: departures in time order.
    for _, _, tag, attrs in sorted(flows, key=lambda f: (f[0], f[1])):
        ET.SubElement(routes, tag, attrs)


def _write_sumocfg(path: Path, duration: float, seed: int) -> None:
    cfg = xsd_root("configuration", "sumoConfiguration.xsd")
    inp = ET.SubElement(cfg, "input")
    ET.SubElement(inp, "net-file", {"value": f"{PREFIX}.net.xml"})
    ET.SubElement(inp, "route-files", {"value": f"{PREFIX}.rou.xml"})
    tm = ET.SubElement(cfg, "time")
    ET.SubElement(tm, "begin", {"value": "0"})
    ET.SubElement(tm, "end", {"value": num_text(duration)})
    ET.SubElement(tm, "step-length", {"value": num_text(STEP_LENGTH_S)})
    proc = ET.SubElement(cfg, "processing")
    ET.SubElement(proc, "time-to-teleport", {"value": "-1"})  # greenwave never teleports
    ET.SubElement(ET.SubElement(cfg, "random_number"), "seed", {"value": str(seed)})
    ET.SubElement(ET.SubElement(cfg, "output"), "tripinfo-output", {"value": "tripinfo.xml"})
    rep = ET.SubElement(cfg, "report")
    ET.SubElement(rep, "duration-log.statistics", {"value": "true"})
    ET.SubElement(rep, "no-step-log", {"value": "true"})
    write_xml(cfg, path)
