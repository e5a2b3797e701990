"""A SUMO network as the importer needs it: nodes, edges, connections, traffic lights.

A built ``.net.xml`` is read with sumolib; the plain files ``PREFIX.nod.xml``, ``.edg.xml``,
``.con.xml``, ``.tll.xml`` with the standard library (no SUMO needed).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .signals import Program, program_from_xml
from .xmlio import (
    SumoError,
    attr_float,
    attr_int,
    attr_str,
    parse_xml,
    parse_xy,
)

PLAIN_SUFFIXES = (".nod.xml", ".edg.xml", ".con.xml", ".tll.xml")


@dataclass
class Edge:
    id: str
    from_node: str
    to_node: str
    lanes: int
    speed_ms: float
    shape: list[tuple[float, float]]


@dataclass
class Conn:
    from_edge: str
    from_lane: int
    to_edge: str
    to_lane: int
    direction: str | None  # None in plain files
    tl: str | None
    link_index: int


@dataclass
class Net:
    nodes: dict[str, tuple[float, float, str, str]]  # id → (x, y, type, name)
    edges: dict[str, Edge]
    conns: list[Conn]
    loaded: list[Program]  # every program of the net, in file order
    node_tl: dict[str, str]
    proj_parameter: str
    net_offset: tuple[float, float]


def _is_tl_type(node_type: str) -> bool:
    return node_type.startswith("traffic_light")


def read_net_xml(path: Path) -> Net:
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
        edges[e.getID()] = Edge(
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
                    Conn(
                        e.getID(),
                        c.getFromLane().getIndex(),
                        c.getTo().getID(),
                        c.getToLane().getIndex(),
                        c.getDirection(),
                        c.getTLSID() or None,
                        c.getTLLinkIndex(),
                    )
                )
    programs = [
        Program(
            tls.getID(),
            p._id,
            float(p.getOffset()),
            p.getType(),
            [(float(ph.duration), ph.state) for ph in p.getPhases()],
            dict(p.getParams()),
            path.name,
        )
        for tls in snet.getTrafficLights()
        for p in tls.getPrograms().values()
    ]
    node_tl: dict[str, str] = {}
    for c in conns:
        if c.tl:
            node_tl.setdefault(edges[c.from_edge].to_node, c.tl)
    loc = snet._location
    off = parse_xy(loc.get("netOffset", "0,0"))
    return Net(nodes, edges, conns, programs, node_tl, loc.get("projParameter", "!"), off)


def _plain_prefix(path: Path) -> Path:
    name = path.name
    for suf in PLAIN_SUFFIXES:
        if name.endswith(suf):
            return path.with_name(name[: -len(suf)])
    raise SumoError(f"{path}: expected a .net.xml or a plain file ({', '.join(PLAIN_SUFFIXES)})")


def read_plain(path: Path) -> Net:
    """SUMO plain XML files (``PREFIX.nod.xml`` etc.), read with the standard library."""
    prefix = _plain_prefix(path)
    need = {suf: Path(str(prefix) + suf) for suf in PLAIN_SUFFIXES}
    for suf in (".nod.xml", ".edg.xml"):
        if not need[suf].is_file():
            raise SumoError(
                f"{need[suf]}: missing (plain import needs {prefix.name}.nod.xml "
                "and .edg.xml; .con.xml and .tll.xml are read when present)"
            )
    nod = parse_xml(need[".nod.xml"])
    nodes: dict[str, tuple[float, float, str, str]] = {}
    node_tl: dict[str, str] = {}
    proj_param, net_offset = "!", (0.0, 0.0)
    for el in nod:
        if el.tag == "location":
            proj_param = el.get("projParameter", "!")
            net_offset = parse_xy(attr_str(el, "netOffset", "0,0"))
        elif el.tag == "node":
            nid = attr_str(el, "id")
            ntype = el.get("type", "priority")
            nodes[nid] = (attr_float(el, "x"), attr_float(el, "y"), ntype, el.get("name", ""))
            if _is_tl_type(ntype):
                node_tl[nid] = el.get("tl", nid)
    edges: dict[str, Edge] = {}
    for el in parse_xml(need[".edg.xml"]):
        if el.tag != "edge":
            continue
        eid, a, b = attr_str(el, "id"), attr_str(el, "from"), attr_str(el, "to")
        if a not in nodes or b not in nodes:
            raise SumoError(f"{need['.edg.xml']}: edge '{eid}' refers to an unknown node")
        lane_speeds = [attr_float(ln, "speed") for ln in el.findall("lane") if ln.get("speed")]
        speed = max([*lane_speeds, attr_float(el, "speed", "13.89")])
        if el.get("shape"):
            shape = [parse_xy(p) for p in attr_str(el, "shape").split()]
        else:
            shape = [nodes[a][:2], nodes[b][:2]]
        edges[eid] = Edge(eid, a, b, attr_int(el, "numLanes", "1"), speed, shape)
    conns: list[Conn] = []
    programs: list[Program] = []
    tl_index: dict[tuple[str, int, str, int], tuple[str, int]] = {}
    if need[".tll.xml"].is_file():
        for el in parse_xml(need[".tll.xml"]):
            if el.tag == "tlLogic":
                programs.append(program_from_xml(el, need[".tll.xml"].name))
            elif el.tag == "connection":
                key = (
                    attr_str(el, "from"),
                    attr_int(el, "fromLane"),
                    attr_str(el, "to"),
                    attr_int(el, "toLane"),
                )
                _check_connection(need[".tll.xml"], key, edges)
                where = f"{need['.tll.xml'].name}: <connection from='{key[0]}' to='{key[2]}'>"
                k = attr_int(el, "linkIndex")
                if k < 0:
                    raise SumoError(f"{where}: linkIndex={k} must be >= 0")
                tl_index[key] = (attr_str(el, "tl"), k)
    if need[".con.xml"].is_file():
        for el in parse_xml(need[".con.xml"]):
            if el.tag != "connection" or el.get("to") is None:
                continue
            key = (
                attr_str(el, "from"),
                attr_int(el, "fromLane", "0"),
                attr_str(el, "to"),
                attr_int(el, "toLane", "0"),
            )
            _check_connection(need[".con.xml"], key, edges)
            tl, k = tl_index.get(key, (None, -1))
            conns.append(Conn(*key, None, tl, k))
    return Net(nodes, edges, conns, programs, node_tl, proj_param, net_offset)


def _check_connection(path: Path, key: tuple[str, int, str, int], edges: dict[str, Edge]) -> None:
    """A plain ``<connection>`` joins edges the network has, on lanes they have; SumoError
    naming the file, the element and the attribute otherwise (netconvert refuses them too)."""
    f, f_lane, t, t_lane = key
    where = f"{path.name}: <connection from='{f}' to='{t}'>"
    for attr, eid in (("from", f), ("to", t)):
        if eid not in edges:
            raise SumoError(f"{where}: {attr}: edge '{eid}' is not in the network")
    for attr, eid, lane in (("fromLane", f, f_lane), ("toLane", t, t_lane)):
        if not 0 <= lane < edges[eid].lanes:
            raise SumoError(f"{where}: {attr}={lane}: edge '{eid}' has {edges[eid].lanes} lane(s)")
