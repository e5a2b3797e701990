"""SUMO interoperability: export a scenario as SUMO input, import a SUMO corridor as a scenario.

Export (:func:`export_sumo`) writes SUMO plain XML (``scenario.nod.xml``, ``.edg.xml``,
``.con.xml``, ``.tll.xml``), a netconvert configuration, routes with one ``<flow>`` per entry
link and a ``.sumocfg``; it builds ``scenario.net.xml`` with netconvert when one is found.
Import (:func:`import_sumo`) reads a built ``.net.xml`` with sumolib, or the plain files with the
standard library (no SUMO needed), and returns a validated :class:`~greenwave.scenario.Scenario`.

Conventions of the mapping:

* every greenwave link is one SUMO edge with the same id, lanes, speed (m/s), shape and an
  explicit ``length`` (greenwave's great-circle length); netconvert runs without internal links
  (:data:`NETCONVERT_OPTIONS`), so a path's length is the sum of its links' lengths;
* coordinates are greenwave's :class:`greenwave.geo.LocalProjection` (x east, y north, metres),
  written as the network's ``projParameter`` (PROJ ``eqc``, :func:`eqc_proj_string`);
* each intersection is one static ``tlLogic`` (programID :data:`PROGRAM_ID`); every connection
  from a signalised link has its own link index whose state follows its group (``G``/``y``/``r``,
  :func:`signal_program`); what the phases cannot carry (start time, group names, all-red,
  conflicts) travels in ``greenwave.*`` ``<param>`` elements;
* SUMO second ``t`` is absolute time ``epoch + t`` (``epoch`` the scenario's ``start_time``) and
  the tlLogic offset is ``(offset_s - epoch) mod C`` (:func:`sumo_offset`); the import inverts it;
* one ``<flow>`` per entry link and piece of its demand profile (:func:`entry_flows`), equally
  spaced or Poisson (``arrivals``); with ``lane_change=False``, :data:`NO_LANE_CHANGE` keeps
  every vehicle in its lane.

Helpers used by the SUMO tools: :func:`find_sumo_tool`, :func:`tool_env`; errors are
:class:`SumoError`.

Derivations and history: docs/sumo_bridge.md.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .expand import expand_links
from .geo import EARTH_RADIUS_M, LocalProjection
from .network import build_network
from .scenario import Scenario, SimulationModel, parse_scenario
from .timing import AMBER, GREEN, PlanTable, SignalPlan
from .units import kmh_to_ms, ms_to_kmh

PREFIX = "scenario"
"""Stem of every exported file (``scenario.nod.xml``, ``scenario.net.xml``, ...)."""

PROGRAM_ID = "greenwave"
PARAM = "greenwave."
VTYPE_ID = "greenwave"
STEP_LENGTH_S = 0.5

NETCONVERT_OPTIONS = {
    "no-internal-links": "true",
    "no-turnarounds": "true",
    "offset.disable-normalization": "true",
}

PLAIN_SUFFIXES = (".nod.xml", ".edg.xml", ".con.xml", ".tll.xml")

NO_LANE_CHANGE = {
    "lcStrategic": "-1",
    "lcCooperative": "-1",
    "lcSpeedGain": "0",
    "lcKeepRight": "0",
}
"""vType attributes that keep every vehicle in its departure lane (``lane_change=False``)."""

# SUMO signal characters (sumo.dlr.de/docs/Simulation/Traffic_Lights.html#signal_state_definitions)
_GREEN_CHARS = set("Gg")
_AMBER_CHARS = set("yY")
_RED_CHARS = set("rsu")  # red, right-turn-on-red (stop first), red+amber before green
_SUMO_CHAR = {GREEN: "G", AMBER: "y"}  # anything else: "r"

# Driver parameters that SUMO vTypes may push outside greenwave's validated ranges.
_DRIVER_BOUNDS = {
    "length_m": (1.01, 20.0),
    "min_gap_m": (0.0, 10.0),
    "accel_ms2": (0.11, 5.0),
    "decel_ms2": (0.11, 6.0),
    "time_headway_s": (0.11, 5.0),
    "desired_speed_factor_mean": (0.21, 2.0),
    "desired_speed_factor_sd": (0.0, 0.5),
    "desired_speed_factor_min": (0.11, 2.0),
    "desired_speed_factor_max": (0.11, 3.0),
}


class SumoError(ValueError):
    """A SUMO file cannot be written, read or converted (the CLI turns it into exit code 2)."""


def _attr(el: ET.Element, name: str, default: str | None = None) -> str:
    """Attribute ``name`` of a SUMO XML element; SumoError naming the element if it is missing."""
    v = el.get(name, default)
    if v is None:
        raise SumoError(f"<{el.tag} id='{el.get('id', '?')}'>: no '{name}' attribute")
    return v


def _float(el: ET.Element, name: str, default: str | None = None) -> float:
    """Attribute ``name`` as a number; SumoError naming the element if missing or not one."""
    v = _attr(el, name, default)
    try:
        return float(v)
    except ValueError:
        raise SumoError(
            f"<{el.tag} id='{el.get('id', '?')}'>: {name}='{v}' is not a number"
        ) from None


def _xy(text: str) -> tuple[float, float]:
    """``"x,y[,z]"`` → (x, y); SumoError if it is not two numbers."""
    try:
        x, y = (float(v) for v in text.split(",")[:2])
    except ValueError:
        raise SumoError(f"'{text}' is not a position 'x,y'") from None
    return x, y


def _int(el: ET.Element, name: str, default: str | None = None) -> int:
    """Attribute ``name`` as an integer; SumoError naming the element if missing or not one."""
    v = _attr(el, name, default)
    try:
        return int(v)
    except ValueError:
        raise SumoError(
            f"<{el.tag} id='{el.get('id', '?')}'>: {name}='{v}' is not an integer"
        ) from None


# ----------------------------------------------------------------------------- tools


def find_sumo_tool(name: str) -> str | None:
    """Path of a SUMO executable (``sumo``, ``netconvert``, ...), or None.

    Looks in the ``eclipse-sumo`` package (the ``[sumo]`` extra), then on ``PATH``, then in
    ``$SUMO_HOME/bin``.
    """
    exe = name + (".exe" if os.name == "nt" else "")
    try:
        import sumo  # the eclipse-sumo wheel

        cand = Path(sumo.SUMO_HOME) / "bin" / exe
        if cand.is_file():
            return str(cand)
    except ImportError:
        pass
    found = shutil.which(name)
    if found:
        return found
    home = os.environ.get("SUMO_HOME")
    if home and (Path(home) / "bin" / exe).is_file():
        return str(Path(home) / "bin" / exe)
    return None


def tool_env(exe: str) -> dict[str, str]:
    """Environment for running a SUMO executable: ``SUMO_HOME`` (XML validation against the
    bundled schemas) and PROJ's data directory, when not set already."""
    env = dict(os.environ)
    home = Path(exe).resolve().parent.parent
    if "SUMO_HOME" not in env and (home / "data").is_dir():
        env["SUMO_HOME"] = str(home)
    proj = Path(env.get("SUMO_HOME", home)) / "data" / "proj"
    if not env.get("PROJ_DATA") and not env.get("PROJ_LIB") and proj.is_dir():
        env["PROJ_DATA"] = env["PROJ_LIB"] = str(proj)
    return env


def _num(x: float, nd: int = 3) -> str:
    """Compact decimal text: ``62.0`` → ``"62"``, ``16.666666`` → ``"16.667"`` (nd decimals)."""
    text = f"{float(x):.{nd}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _write_xml(root: ET.Element, path: Path) -> None:
    ET.indent(root, space="    ")
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def _xsd(root_tag: str, xsd: str) -> ET.Element:
    return ET.Element(
        root_tag,
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": f"http://sumo.dlr.de/xsd/{xsd}",
        },
    )


# ----------------------------------------------------------------------------- projection


def eqc_proj_string(proj: LocalProjection) -> str:
    """PROJ definition equal to greenwave's :class:`LocalProjection` (spherical ``eqc``)."""
    return (
        f"+proj=eqc +lat_ts={proj.lat0!r} +lat_0={proj.lat0!r} +lon_0={proj.lon0!r} "
        f"+x_0=0 +y_0=0 +R={EARTH_RADIUS_M!r} +units=m +no_defs"
    )


def _parse_proj(text: str) -> dict[str, str]:
    out = {}
    for tok in text.split():
        tok = tok.lstrip("+")
        key, _, val = tok.partition("=")
        out[key] = val
    return out


def _xy_to_lonlat_factory(
    proj_parameter: str, net_offset: tuple[float, float], origin: tuple[float, float] | None
) -> tuple[Callable, str]:
    """A function ``(x, y) -> (lon, lat)`` for network coordinates, and how it was found.

    Spherical ``eqc`` (what :func:`export_sumo` writes) is inverted here; any other PROJ
    definition needs pyproj; a network without projection needs ``origin`` (lon/lat of the
    network point x = 0, y = 0).
    """
    ox, oy = net_offset
    p = _parse_proj(proj_parameter or "!")
    if p.get("proj") == "eqc":
        lat_ts = float(p.get("lat_ts", "0"))
        lat0 = float(p.get("lat_0", "0"))
        lon0 = float(p.get("lon_0", "0"))
        radius = float(p.get("R", p.get("a", "6378137")))
        x0, y0 = float(p.get("x_0", "0")), float(p.get("y_0", "0"))
        kx = math.radians(1.0) * radius * math.cos(math.radians(lat_ts))
        ky = math.radians(1.0) * radius

        def eqc(x, y):
            x = np.asarray(x, dtype=float) - ox - x0
            y = np.asarray(y, dtype=float) - oy - y0
            return lon0 + x / kx, lat0 + y / ky

        return eqc, "projection +proj=eqc (inverted directly)"
    if proj_parameter and proj_parameter != "!":
        try:
            import pyproj
        except ImportError:
            if origin is None:
                raise SumoError(
                    f"the network's projection '{proj_parameter}' needs pyproj "
                    "(pip install pyproj), or give --origin LON,LAT for the point x=0, y=0"
                ) from None
        else:
            inv = pyproj.Proj(proj_parameter)

            def geo(x, y):
                lon, lat = inv(np.asarray(x, float) - ox, np.asarray(y, float) - oy, inverse=True)
                return np.asarray(lon), np.asarray(lat)

            return geo, f"projection {proj_parameter} (pyproj)"
    if origin is None:
        raise SumoError(
            "the network has no geo-projection: give --origin LON,LAT "
            "(the lon/lat of the network point x=0, y=0)"
        )
    local = LocalProjection(*origin)
    return (
        lambda x, y: local.to_lonlat(np.asarray(x, float), np.asarray(y, float)),
        f"no projection: x=0, y=0 placed at {origin[0]}, {origin[1]}",
    )


# ----------------------------------------------------------------------------- signals


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


# ----------------------------------------------------------------------------- export


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
        SUMO's Krauss with ``sigma=0`` (no dawdling; deterministic like greenwave) or SUMO's IDM
        with greenwave's IDM parameters.
    lane_change : bool
        False: vehicles keep their departure lane (:data:`NO_LANE_CHANGE`), like greenwave's
        single-file streams.
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
    net, _plans = build_network(scenario)
    proj = net.projection
    res = SumoExport(out, {}, None)

    # -- nodes: intersections, then the free ends of links (coincident ends share a node)
    inter_xy = {}
    for it in exp.intersections:
        x, y = proj.to_xy(it.lon, it.lat)
        inter_xy[it.id] = (float(x), float(y))
    link_xy = {lid: net.link_xy[k] for k, lid in enumerate(net.link_ids)}
    pred_to = {}
    for ln in exp.links:
        if ln.next is not None:
            pred_to[ln.next] = ln.to
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
        start = pred_to.get(ln.id) or node_at(xy[0, 0], xy[0, 1])
        if start is None:
            start = free_node(xy[0, 0], xy[0, 1], f"{ln.id}.start")
        end = ln.to if ln.to is not None else free_node(xy[-1, 0], xy[-1, 1], f"{ln.id}.end")
        if start == end:
            raise SumoError(f"link '{ln.id}' starts and ends at node '{start}'")
        ends[ln.id] = (start, end)

    # -- connections and signal link indices per intersection
    lanes = {ln.id: ln.lanes for ln in exp.links}
    conns = []  # (from, from_lane, to, to_lane, tl, link_index)
    tl_links: dict[str, list[str | None]] = {it.id: [] for it in exp.intersections}
    for ln in exp.links:
        if ln.next is None or ln.to is None:
            continue
        for i in range(ln.lanes):
            j = min(i, lanes[ln.next] - 1)
            k = len(tl_links[ln.to])
            tl_links[ln.to].append(ln.signal_group)
            conns.append((ln.id, i, ln.next, j, ln.to, k))
    controlled = {iid for iid, lst in tl_links.items() if lst}
    for it in exp.intersections:
        if it.id not in controlled:
            res.notes.append(
                f"intersection '{it.id}' controls no through connection: it is written as a "
                "plain node and its plan is not in the SUMO network"
            )

    start_iso = sim.start_time.isoformat()
    nodes = _xsd("nodes", "nodes_file.xsd")
    lon_ll = np.concatenate([p[:, 0] for p in net.link_lonlat] + [net.intersection_lonlat[:, 0]])
    lat_ll = np.concatenate([p[:, 1] for p in net.link_lonlat] + [net.intersection_lonlat[:, 1]])
    all_xy = np.concatenate([*list(net.link_xy), np.array(list(inter_xy.values())).reshape(-1, 2)])
    ET.SubElement(
        nodes,
        "location",
        {
            "netOffset": "0.00,0.00",
            "convBoundary": ",".join(_num(v, 2) for v in (*all_xy.min(0), *all_xy.max(0))),
            "origBoundary": ",".join(
                _num(v, 7) for v in (lon_ll.min(), lat_ll.min(), lon_ll.max(), lat_ll.max())
            ),
            "projParameter": eqc_proj_string(proj),
        },
    )
    for it in exp.intersections:
        x, y = inter_xy[it.id]
        attrs = {"id": it.id, "x": _num(x), "y": _num(y)}
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
            {"id": nid, "x": _num(kx / 100, 2), "y": _num(ky / 100, 2), "type": "priority"},
        )

    edges = _xsd("edges", "edges_file.xsd")
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
                "speed": _num(kmh_to_ms(ln.speed_limit_kmh), 6),
                "length": _num(net.link_length_m[k], 3),
                "shape": " ".join(f"{_num(px)},{_num(py)}" for px, py in xy),
            },
        )

    cons = _xsd("connections", "connections_file.xsd")
    for ln in exp.links:
        if ln.next is None:
            ET.SubElement(cons, "connection", {"from": ln.id})  # no successor: guess nothing
    for f, fl, t, tlane, _, _ in conns:
        ET.SubElement(
            cons, "connection", {"from": f, "to": t, "fromLane": str(fl), "toLane": str(tlane)}
        )

    tlls = _xsd("tlLogics", "tllogic_file.xsd")
    epoch = sim.epoch_s
    for it in exp.intersections:
        if it.id not in controlled:
            continue
        plan = it.plan
        sig = tl_links[it.id]
        linked = [g.id for g in plan.groups if g.id in set(sig)]
        bounds, colours = signal_program(plan, linked)
        tl = ET.SubElement(
            tlls,
            "tlLogic",
            {
                "id": it.id,
                "type": "static",
                "programID": PROGRAM_ID,
                "offset": _num(sumo_offset(plan, epoch)),
            },
        )
        for p in range(len(bounds) - 1):
            state = "".join(
                _SUMO_CHAR.get(int(colours[g][p]), "r") if g is not None else "G" for g in sig
            )
            ET.SubElement(
                tl, "phase", {"duration": _num(bounds[p + 1] - bounds[p]), "state": state}
            )
        res.link_index[it.id] = {
            g.id: [k for k, s in enumerate(sig) if s == g.id] for g in plan.groups
        }
        params = {
            "start_time": start_iso,
            "offset_s": _num(plan.offset_s),
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
    _write_xml(nodes, files["nodes"])
    _write_xml(edges, files["edges"])
    _write_xml(cons, files["connections"])
    _write_xml(tlls, files["tls"])

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
    _write_xml(netcfg, files["netccfg"])

    _write_routes(scenario, exp, files["routes"], duration, arrivals, car_following, lane_change)
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
            _run_netconvert(exe, out, res)
    return res


def _run_netconvert(exe: str, out: Path, res: SumoExport) -> None:
    proc = subprocess.run(
        [exe, "-c", f"{PREFIX}.netccfg"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=600,
        env=tool_env(exe),
    )
    msgs = [
        ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.startswith(("Warning", "Error"))
    ]
    if proc.returncode != 0 or not (out / f"{PREFIX}.net.xml").is_file():
        tail = "\n".join(msgs[-10:]) or proc.stderr.strip()[-2000:]
        raise SumoError(f"netconvert failed (exit {proc.returncode}):\n{tail}")
    res.netconvert = exe
    res.files["net"] = out / f"{PREFIX}.net.xml"
    res.notes += [f"netconvert: {m}" for m in msgs]


def _write_routes(
    scenario: Scenario,
    exp,
    path: Path,
    duration: float,
    arrivals: str,
    car_following: str,
    lane_change: bool = True,
) -> None:
    drv = scenario.drivers
    routes = _xsd("routes", "routes_file.xsd")
    vt = {
        "id": VTYPE_ID,
        "vClass": "passenger",
        "length": _num(drv.length_m),
        "minGap": _num(drv.min_gap_m),
        "accel": _num(drv.accel_ms2),
        "decel": _num(drv.decel_ms2),
        "tau": _num(drv.time_headway_s),
        "speedFactor": "normc({},{},{},{})".format(
            *(
                _num(v, 4)
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
        vt.update(carFollowModel="Krauss", sigma="0")
    if not lane_change:
        vt.update(NO_LANE_CHANGE)
    ET.SubElement(routes, "vType", vt)
    nxt = {ln.id: ln.next for ln in exp.links}
    flows = []
    for lid, (flow, prof) in entry_flows(scenario).items():
        chain, seen = [lid], {lid}
        while nxt[chain[-1]] is not None and nxt[chain[-1]] not in seen:
            chain.append(nxt[chain[-1]])
            seen.add(chain[-1])
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
                "begin": _num(t0),
                "end": _num(t1),
            }
            if arrivals == "poisson":
                attrs["period"] = f"exp({rate / 3600.0:.9g})"
            else:
                attrs["vehsPerHour"] = _num(rate, 4)
            attrs.update(departLane="random", departSpeed="desired", departPos="base")
            flows.append((t0, fid, attrs))
    for _, _, attrs in sorted(flows, key=lambda f: (f[0], f[1])):
        ET.SubElement(routes, "flow", attrs)
    _write_xml(routes, path)


def _write_sumocfg(path: Path, duration: float, seed: int) -> None:
    cfg = _xsd("configuration", "sumoConfiguration.xsd")
    inp = ET.SubElement(cfg, "input")
    ET.SubElement(inp, "net-file", {"value": f"{PREFIX}.net.xml"})
    ET.SubElement(inp, "route-files", {"value": f"{PREFIX}.rou.xml"})
    tm = ET.SubElement(cfg, "time")
    ET.SubElement(tm, "begin", {"value": "0"})
    ET.SubElement(tm, "end", {"value": _num(duration)})
    ET.SubElement(tm, "step-length", {"value": _num(STEP_LENGTH_S)})
    proc = ET.SubElement(cfg, "processing")
    ET.SubElement(proc, "time-to-teleport", {"value": "-1"})  # greenwave never teleports
    ET.SubElement(ET.SubElement(cfg, "random_number"), "seed", {"value": str(seed)})
    ET.SubElement(ET.SubElement(cfg, "output"), "tripinfo-output", {"value": "tripinfo.xml"})
    rep = ET.SubElement(cfg, "report")
    ET.SubElement(rep, "duration-log.statistics", {"value": "true"})
    ET.SubElement(rep, "no-step-log", {"value": "true"})
    _write_xml(cfg, path)


# ----------------------------------------------------------------------------- import model


@dataclass
class _Edge:
    id: str
    from_node: str
    to_node: str
    lanes: int
    speed_ms: float
    shape: list[tuple[float, float]]


@dataclass
class _Conn:
    from_edge: str
    from_lane: int
    to_edge: str
    to_lane: int
    direction: str | None  # None in plain files
    tl: str | None
    link_index: int


@dataclass
class _Program:
    tl: str
    program_id: str
    offset: float
    type: str
    phases: list[tuple[float, str]]
    params: dict[str, str]


@dataclass
class _Net:
    nodes: dict[str, tuple[float, float, str, str]]  # id → (x, y, type, name)
    edges: dict[str, _Edge]
    conns: list[_Conn]
    programs: dict[str, _Program]
    node_tl: dict[str, str]
    proj_parameter: str
    net_offset: tuple[float, float]


def _is_tl_type(node_type: str) -> bool:
    return node_type.startswith("traffic_light")


def _read_net_xml(path: Path) -> _Net:
    """A built network, read with sumolib."""
    try:
        import sumolib
    except ImportError:
        raise SumoError(
            "reading a .net.xml needs sumolib: pip install 'greenwave[sumo]' (or import the "
            "plain files, e.g. scenario.nod.xml, which needs no SUMO)"
        ) from None
    try:
        snet = sumolib.net.readNet(str(path), withPrograms=True)
    except Exception as exc:  # sumolib raises whatever the SAX parser or its own code raise
        raise SumoError(f"{path}: cannot read SUMO network: {exc}") from None
    names = {}
    for _, el in ET.iterparse(path):
        if el.tag == "junction" and el.get("name"):
            names[el.get("id")] = el.get("name")
        el.clear()
    nodes = {
        n.getID(): (*n.getCoord()[:2], n.getType(), names.get(n.getID(), ""))
        for n in snet.getNodes()
    }
    edges = {}
    conns = []
    for e in snet.getEdges(withInternal=False):
        if e.getFunction():
            continue
        edges[e.getID()] = _Edge(
            e.getID(),
            e.getFromNode().getID(),
            e.getToNode().getID(),
            e.getLaneNumber(),
            max(ln.getSpeed() for ln in e.getLanes()),
            [tuple(p[:2]) for p in e.getRawShape()],
        )
        for targets in e.getOutgoing().values():
            for c in targets:
                conns.append(
                    _Conn(
                        e.getID(),
                        c.getFromLane().getIndex(),
                        c.getTo().getID(),
                        c.getToLane().getIndex(),
                        c.getDirection(),
                        c.getTLSID() or None,
                        c.getTLLinkIndex(),
                    )
                )
    programs = {}
    for tls in snet.getTrafficLights():
        progs = list(tls.getPrograms().values())
        if not progs:
            continue
        p = progs[-1]  # SUMO runs the program loaded last
        programs[tls.getID()] = _Program(
            tls.getID(),
            p._id,
            float(p.getOffset()),
            p.getType(),
            [(float(ph.duration), ph.state) for ph in p.getPhases()],
            dict(p.getParams()),
        )
    node_tl: dict[str, str] = {}
    for c in conns:
        if c.tl:
            node_tl.setdefault(edges[c.from_edge].to_node, c.tl)
    loc = snet._location
    off = _xy(loc.get("netOffset", "0,0"))
    return _Net(nodes, edges, conns, programs, node_tl, loc.get("projParameter", "!"), off)


def _plain_prefix(path: Path) -> Path:
    name = path.name
    for suf in PLAIN_SUFFIXES:
        if name.endswith(suf):
            return path.with_name(name[: -len(suf)])
    raise SumoError(f"{path}: expected a .net.xml or a plain file ({', '.join(PLAIN_SUFFIXES)})")


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except OSError as exc:
        raise SumoError(f"{path}: cannot read file: {exc.strerror}") from None
    except ET.ParseError as exc:
        raise SumoError(f"{path}: invalid XML: {exc}") from None


def _read_plain(path: Path) -> _Net:
    """SUMO plain XML files (``PREFIX.nod.xml`` etc.), read with the standard library."""
    prefix = _plain_prefix(path)
    need = {suf: Path(str(prefix) + suf) for suf in PLAIN_SUFFIXES}
    for suf in (".nod.xml", ".edg.xml"):
        if not need[suf].is_file():
            raise SumoError(
                f"{need[suf]}: missing (plain import needs {prefix.name}.nod.xml "
                "and .edg.xml; .con.xml and .tll.xml are read when present)"
            )
    nod = _parse_xml(need[".nod.xml"])
    nodes: dict[str, tuple[float, float, str, str]] = {}
    node_tl: dict[str, str] = {}
    proj_param, net_offset = "!", (0.0, 0.0)
    for el in nod:
        if el.tag == "location":
            proj_param = el.get("projParameter", "!")
            net_offset = _xy(_attr(el, "netOffset", "0,0"))
        elif el.tag == "node":
            nid = _attr(el, "id")
            ntype = el.get("type", "priority")
            nodes[nid] = (_float(el, "x"), _float(el, "y"), ntype, el.get("name", ""))
            if _is_tl_type(ntype):
                node_tl[nid] = el.get("tl", nid)
    edges: dict[str, _Edge] = {}
    for el in _parse_xml(need[".edg.xml"]):
        if el.tag != "edge":
            continue
        eid, a, b = _attr(el, "id"), _attr(el, "from"), _attr(el, "to")
        if a not in nodes or b not in nodes:
            raise SumoError(f"{need['.edg.xml']}: edge '{eid}' refers to an unknown node")
        lane_speeds = [_float(ln, "speed") for ln in el.findall("lane") if ln.get("speed")]
        speed = max([*lane_speeds, _float(el, "speed", "13.89")])
        if el.get("shape"):
            shape = [_xy(p) for p in _attr(el, "shape").split()]
        else:
            shape = [nodes[a][:2], nodes[b][:2]]
        edges[eid] = _Edge(eid, a, b, _int(el, "numLanes", "1"), speed, shape)
    conns: list[_Conn] = []
    programs: dict[str, _Program] = {}
    tl_index: dict[tuple[str, int, str, int], tuple[str, int]] = {}
    if need[".tll.xml"].is_file():
        for el in _parse_xml(need[".tll.xml"]):
            if el.tag == "tlLogic":
                tid = _attr(el, "id")
                programs[tid] = _Program(
                    tid,
                    _attr(el, "programID", "0"),
                    _float(el, "offset", "0"),
                    _attr(el, "type", "static"),
                    [(_float(ph, "duration"), _attr(ph, "state")) for ph in el.findall("phase")],
                    {_attr(p, "key"): _attr(p, "value", "") for p in el.findall("param")},
                )
            elif el.tag == "connection":
                key = (_attr(el, "from"), _int(el, "fromLane"), _attr(el, "to"), _int(el, "toLane"))
                tl_index[key] = (_attr(el, "tl"), _int(el, "linkIndex"))
    if need[".con.xml"].is_file():
        for el in _parse_xml(need[".con.xml"]):
            if el.tag != "connection" or el.get("to") is None:
                continue
            key = (
                _attr(el, "from"),
                _int(el, "fromLane", "0"),
                _attr(el, "to"),
                _int(el, "toLane", "0"),
            )
            tl, k = tl_index.get(key, (None, -1))
            conns.append(_Conn(*key, None, tl, k))
    return _Net(nodes, edges, conns, programs, node_tl, proj_param, net_offset)


# ----------------------------------------------------------------------------- import logic


def _angle_change(a: _Edge, b: _Edge) -> float:
    (x0, y0), (x1, y1) = a.shape[-2], a.shape[-1]
    (x2, y2), (x3, y3) = b.shape[0], b.shape[1]
    h1 = math.atan2(y1 - y0, x1 - x0)
    h2 = math.atan2(y3 - y2, x3 - x2)
    return abs((math.degrees(h2 - h1) + 180.0) % 360.0 - 180.0)


def _successors(snet: _Net) -> dict[str, str]:
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


def _signalised(snet: _Net, eid: str) -> bool:
    return any(c.from_edge == eid and c.tl for c in snet.conns) or (
        snet.edges[eid].to_node in snet.node_tl
    )


def _chains(succ: dict[str, str], edges: Iterable[str]) -> list[list[str]]:
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


def _heading(e: _Edge, at_end: bool) -> float:
    (x0, y0), (x1, y1) = (e.shape[-2], e.shape[-1]) if at_end else (e.shape[0], e.shape[1])
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _one_corridor(snet: _Net, chains: list[list[str]], tl_seqs: list[list[str]]) -> bool:
    """One chain, or two that are the two directions of one road: the same signals in
    opposite order, approached from opposite sides (headings more than 135° apart)."""
    if len(chains) == 1:
        return True
    a, b = tl_seqs
    if a != b[::-1]:
        return False
    appr = [
        {snet.edges[e].to_node: snet.edges[e] for e in c if _signalised(snet, e)} for c in chains
    ]
    for node in a:
        d = abs(
            (_heading(appr[0][node], True) - _heading(appr[1][node], True) + 180.0) % 360.0 - 180.0
        )
        if d < 135.0:
            return False
    return True


def _select_edges(
    snet: _Net, succ: dict[str, str], corridor_edges: list[str] | None, notes: list[str]
) -> list[str]:
    if corridor_edges:
        missing = [e for e in corridor_edges if e not in snet.edges]
        if missing:
            raise SumoError(f"--corridor-edges: unknown edge(s) {', '.join(missing)}")
        return list(dict.fromkeys(corridor_edges))
    chains = [c for c in _chains(succ, snet.edges) if any(_signalised(snet, e) for e in c)]
    if not chains:
        raise SumoError("no chain of edges passes a traffic light: nothing to import")
    tl_seqs = [[snet.edges[e].to_node for e in c if _signalised(snet, e)] for c in chains]
    tl_sets = [frozenset(q) for q in tl_seqs]
    if len(chains) > 2 or not _one_corridor(snet, chains, tl_seqs):
        listing = "; ".join(
            f"{c[0]} … {c[-1]} ({len(s)} signals)"
            for c, s in zip(chains[:8], tl_sets[:8], strict=True)
        )
        raise SumoError(
            f"{len(chains)} signalised chains of edges found ({listing}"
            f"{'; …' if len(chains) > 8 else ''}): choose the corridor with "
            "--corridor-edges E1,E2,..."
        )
    out = []
    for c in chains:
        sig = [k for k, e in enumerate(c) if _signalised(snet, e)]
        lo, hi = sig[0], min(sig[-1] + 2, len(c))  # approach to the first … exit of the last
        if lo > 0 or hi < len(c):
            notes.append(
                f"chain {c[0]} … {c[-1]}: kept {c[lo]} … {c[hi - 1]} (from the "
                "approach of the first signal to the exit of the last)"
            )
        out += c[lo:hi]
    return out


def _norm_colour(ch: str, where: str) -> str:
    if ch in _GREEN_CHARS:
        return "G"
    if ch in _AMBER_CHARS:
        return "y"
    if ch in _RED_CHARS:
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


def _r3(x: float) -> float:
    return round(float(x), 3)


def _group_timing(colours: list[str], bounds: np.ndarray, where: str, notes: list[str]):
    """Green intervals and amber of one signal column: ``(greens_s, amber_s)``."""
    cycle = float(bounds[-1])
    runs = _runs(colours, bounds)
    greens, ambers = [], set()
    for k, (c, s, e) in enumerate(runs):
        if c == "G":
            nc, ns, ne = runs[(k + 1) % len(runs)]
            ambers.add(_r3(ne - ns) if nc == "y" and len(runs) > 1 else 0.0)
            if e > cycle + 1e-9:
                greens += [(s, cycle), (0.0, e - cycle)]
            else:
                greens.append((s, e))
        elif c == "y" and runs[(k - 1) % len(runs)][0] != "G":
            notes.append(f"{where}: amber not after a green at cycle second {s:g}, read as red")
    greens = sorted((_r3(s), _r3(e)) for s, e in greens if e - s > 1e-9)
    if len(ambers) > 1:
        notes.append(f"{where}: amber times differ {sorted(ambers)}, using the longest")
    return [list(g) for g in greens], max(ambers) if ambers else 0.0


def _all_red_after(prog: _Program, bounds: np.ndarray, greens, amber: float) -> float:
    """Time everything is red after the group's amber (the shortest over its greens)."""
    cycle = float(bounds[-1])
    red = [all(ch in _RED_CHARS for ch in st) for _, st in prog.phases]
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
    return _r3(min(best or 0.0, 10.0))


def _plan_from_program(prog: _Program, epoch_s: float, notes: list[str]):
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
    offset = _r3((prog.offset + epoch_s) % cycle)
    if offset >= cycle:
        offset = 0.0
    return {"cycle_s": _r3(cycle), "offset_s": offset, "groups": groups}, index_group


def _start_time(snet: _Net, start_time: datetime | None) -> datetime:
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
    snet = _read_net_xml(path) if path.name.endswith(".net.xml") else _read_plain(path)
    notes: list[str] = []
    to_lonlat, how = _xy_to_lonlat_factory(snet.proj_parameter, snet.net_offset, origin)
    notes.append(f"coordinates: {how}")
    succ = _successors(snet)
    chosen = _select_edges(snet, succ, corridor_edges, notes)
    chosen_set = set(chosen)
    # Chain order (heads first), so that edges are joined from the start of each chain.
    chosen = [
        e
        for c in _chains(
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
                plans[tl], index_group[tl] = _plan_from_program(snet.programs[tl], epoch, notes)
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
        demand, drivers, end = _read_routes(Path(routes), link_of, links, notes)
        data["demand"] = demand
        if drivers:
            data["drivers"] = drivers
        if end is not None:
            data["simulation"]["duration_s"] = end
    if not inters:
        raise SumoError("the selected edges end at no traffic light")
    return parse_scenario(data, str(path)), notes


# ----------------------------------------------------------------------------- routes


def _flow_rate_veh_h(el: ET.Element, begin: float, end: float, where: str) -> float:
    if el.get("vehsPerHour") is not None:
        return _float(el, "vehsPerHour")
    period = el.get("period")
    if period is not None:
        m = re.fullmatch(r"\s*exp\(\s*([^)]+)\)\s*", period)
        if m:
            return float(m.group(1)) * 3600.0
        return 3600.0 / float(period)
    if el.get("probability") is not None:
        return _float(el, "probability") * 3600.0
    if el.get("number") is not None and end > begin:
        return _float(el, "number") * 3600.0 / (end - begin)
    raise SumoError(f"{where}: no vehsPerHour, period, probability or number")


def _parse_speed_factor(text: str) -> dict[str, float]:
    m = re.fullmatch(r"\s*norm(c?)\(([^)]*)\)\s*", text)
    if m:
        vals = [float(v) for v in m.group(2).split(",")]
        out = {"desired_speed_factor_mean": vals[0], "desired_speed_factor_sd": vals[1]}
        lo, hi = (vals[2], vals[3]) if len(vals) >= 4 else (0.2, 2.0)  # SUMO's default bounds
        out.update(desired_speed_factor_min=lo, desired_speed_factor_max=hi)
        return out
    v = float(text)
    return {
        "desired_speed_factor_mean": v,
        "desired_speed_factor_sd": 0.0,
        "desired_speed_factor_min": v,
        "desired_speed_factor_max": v,
    }


def _drivers_from_vtype(vt: ET.Element, notes: list[str]) -> dict:
    src = {
        "length": "length_m",
        "minGap": "min_gap_m",
        "accel": "accel_ms2",
        "decel": "decel_ms2",
        "tau": "time_headway_s",
    }
    out = {dst: _float(vt, a) for a, dst in src.items() if vt.get(a) is not None}
    if vt.get("speedFactor"):
        try:
            out.update(_parse_speed_factor(_attr(vt, "speedFactor")))
        except (ValueError, IndexError):
            notes.append(
                f"vType '{vt.get('id')}': speedFactor '{vt.get('speedFactor')}' "
                "not understood, drivers keep greenwave's default"
            )
    elif vt.get("speedDev") is not None:
        out["desired_speed_factor_sd"] = _float(vt, "speedDev")
    for key, (lo, hi) in _DRIVER_BOUNDS.items():
        if key in out and not lo <= out[key] <= hi:
            notes.append(f"vType '{vt.get('id')}': {key} {out[key]:g} clipped to [{lo:g}, {hi:g}]")
            out[key] = min(max(out[key], lo), hi)
    if "desired_speed_factor_min" in out:
        out["desired_speed_factor_min"] = min(
            out["desired_speed_factor_min"], out["desired_speed_factor_max"]
        )
    return out


def _read_routes(path: Path, link_of: dict[str, str], links: list[dict], notes: list[str]):
    """``(demand dict, drivers dict, duration or None)`` from a SUMO routes file."""
    root = _parse_xml(path)
    route_edges = {
        r.get("id"): r.get("edges", "").split() for r in root.iter("route") if r.get("id")
    }
    vtypes = {v.get("id"): v for v in root.iter("vType")}
    link_next = {ln["id"]: ln.get("next") for ln in links}
    has_pred = {n for n in link_next.values() if n}
    pieces: dict[str, list[tuple[float, float, float]]] = {}
    types_used = []
    skipped = 0
    flows: list[tuple[ET.Element, ET.Element | None]] = [(el, None) for el in root.findall("flow")]
    for iv in root.findall("interval"):
        flows += [(el, iv) for el in iv.findall("flow")]
    for el, interval in flows:
        fid = el.get("id", "?")
        where = f"{path.name}: flow '{fid}'"
        b_default = interval.get("begin") if interval is not None else None
        e_default = interval.get("end") if interval is not None else None
        begin = float(el.get("begin", b_default or "0"))
        end = float(el.get("end", e_default or "86400"))
        try:
            rate = _flow_rate_veh_h(el, begin, end, where)
        except ValueError as exc:
            raise SumoError(f"{where}: {exc}") from None
        if el.get("route") is not None:
            edges = route_edges.get(el.get("route"))
            if edges is None:
                raise SumoError(f"{where}: unknown route '{el.get('route')}'")
        elif (nested := el.find("route")) is not None:
            edges = nested.get("edges", "").split()
        elif (origin := el.get("from")) is not None:
            dest = el.get("to")
            edges = [origin, *el.get("via", "").split(), *([dest] if dest else [])]
        else:
            raise SumoError(f"{where}: no route, from or nested <route>")
        if not edges or edges[0] not in link_of:
            skipped += 1
            continue
        lid = link_of[edges[0]]
        if lid in has_pred:
            notes.append(f"{where}: starts on '{edges[0]}', not an entry of the corridor; left out")
            continue
        chain: set[str] = set()
        cur: str | None = lid
        while cur:
            chain.add(cur)
            cur = link_next.get(cur)
        off = [e for e in edges if e in link_of and link_of[e] not in chain]
        unknown = [e for e in edges if e not in link_of]
        if off or unknown:
            notes.append(
                f"{where}: its route leaves the corridor (at "
                f"'{(off or unknown)[0]}'); greenwave drives it straight through"
            )
        pieces.setdefault(lid, []).append((begin, end, rate))
        types_used.append(el.get("type", "DEFAULT_VEHTYPE"))
    if skipped:
        notes.append(f"{path.name}: {skipped} flow(s) start outside the imported edges, left out")
    n_veh = len(root.findall("vehicle")) + len(root.findall("trip"))
    if n_veh:
        notes.append(f"{path.name}: {n_veh} single vehicle(s)/trip(s) left out (flows only)")
    entries, max_end = [], None
    for lid, ps in pieces.items():
        cuts = sorted({0.0} | {t for b, e, _ in ps for t in (b, e)})
        rates = [sum(r for b, e, r in ps if b <= t0 < e) for t0 in cuts]
        prof = [(t, r) for t, r in zip(cuts, rates, strict=True)]
        merged = [prof[0]]
        for t, r in prof[1:]:
            if abs(r - merged[-1][1]) > 1e-9:
                merged.append((t, r))
        # Drop the trailing zero after the last flow ends (the run simply ends there).
        if len(merged) > 1 and merged[-1][1] == 0.0:
            merged.pop()
        last_end = max(e for _, e, _ in ps)
        max_end = last_end if max_end is None else max(max_end, last_end)
        base = merged[0][1] if merged[0][1] > 0 else max(r for _, r in merged)
        entry = {"link": lid, "flow_veh_h": round(base, 4)}
        if len(merged) > 1:
            entry["profile"] = [[_r3(t), round(r / base, 6)] for t, r in merged]
        entries.append(entry)
    drivers = {}
    used = [t for t in dict.fromkeys(types_used) if t in vtypes]
    if used:
        drivers = _drivers_from_vtype(vtypes[used[0]], notes)
        if len(set(types_used)) > 1:
            notes.append(f"{path.name}: several vTypes used, drivers from '{used[0]}'")
    duration = None
    if max_end is not None:
        duration = min(max_end, 86400.0)
    return ({"scale": 1.0, "flow_veh_h_per_lane": 0.0, "entries": entries}, drivers, duration)
