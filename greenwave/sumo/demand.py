"""SUMO demand as greenwave demand: routes, route distributions, vehicles, trips, flows, vTypes.

:func:`read_route_files` reads every departure of SUMO route files into :class:`Stream` s (one
per vehicle, trip or flow and route it may take), checking that every edge exists;
:func:`route_successors` gives the edge most vehicles drive after each edge (the importer's
straight-through successors); :func:`demand_entries` turns the streams into greenwave's
``[demand]`` on the imported links and :func:`drivers_from_vtypes` the vTypes into its
``[drivers]``, each reporting what it approximated or left out.

Explicit departures (``<vehicle>``, ``<trip>``) stay explicit: each becomes one
``demand.vehicles`` entry (entry link, departure time, the lane when ``departLane`` is a number,
the speed factor when it is fixed), so that the same vehicles run in both simulators.  Flows
stay Poisson rates per entry link (``demand.entries``): SUMO draws or spaces a flow's vehicles
itself, and greenwave's scenario describes flows by their rate.
"""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .xmlio import SumoError, parse_xml, r3

DEFAULT_END_S = 86400.0
"""End of a flow without ``end`` or ``number`` (SUMO runs such flows to its own end); also
greenwave's longest run, so later departures are left out."""
INSERT_STEP_S = 1.0
"""SUMO's default step: a vehicle departing at ``t`` is inserted at the first step at or after
``t``.  The imported run lasts one step past the last departure (greenwave draws the arrivals of
``[0, duration_s)``)."""
SUMO_DEFAULT_SPEED_DEV = 0.1
"""``speedDev`` of a vType that does not give one (passenger cars): a plain ``speedFactor="x"``
is ``normc(x, 0.1, 0.2, 2)`` in SUMO, a distribution, not a fixed factor."""
SPEED_FACTOR_BOUNDS = (0.2, 2.0)
"""SUMO's default cut-offs of the speed factor distribution."""
VEHICLE_FACTOR_RANGE = (0.2, 3.0)
"""``demand.vehicles[].desired_speed_factor`` must lie in ``(0.2, 3]`` (the scenario model)."""
# depart values that are not times: why such a vehicle cannot be imported.
DEPART_WORDS = {
    "triggered": "departs when a person boards; greenwave has no persons",
    "containerTriggered": "departs when a container is loaded; greenwave has no containers",
    "split": "departs when split off a train; greenwave has no trains",
}
# departLane rules; 'random' is greenwave's uniform draw too.
LANE_RULES = {"random", "free", "allowed", "first", "best", "best_prob"}
# departSpeed values greenwave reproduces: it enters vehicles at their desired speed (speed
# factor × limit), or what the gap to the vehicle ahead allows, as SUMO's 'desired' and 'max'.
SAME_DEPART_SPEED = {"desired", "max"}

# SUMO's passenger-car defaults (sumo.dlr.de/docs/Vehicle_Type_Parameter_Defaults.html), used
# for the vType attributes a file leaves out: the imported drivers are SUMO's drivers.
SUMO_DEFAULTS = {
    "length": "5",
    "minGap": "2.5",
    "accel": "2.6",
    "decel": "4.5",
    "tau": "1",
    "sigma": "0.5",
    "carFollowModel": "Krauss",
}

# vType attribute → greenwave driver field, and what the mapping means.
MAPPED = {
    "length": ("length_m", "vehicle length"),
    "minGap": ("min_gap_m", "jam distance s0"),
    "accel": ("accel_ms2", "maximum acceleration a"),
    "decel": ("decel_ms2", "comfortable deceleration b"),
    "tau": ("time_headway_s", "IDM time gap T / Krauss reaction time tau"),
}
# Attributes greenwave has no use for; listed so that nothing is dropped silently.
DISPLAY_ONLY = {"color", "guiShape", "imgFile", "width", "height", "osgFile", "boardingDuration"}
DROPPED_WHY = {
    "sigma": "greenwave's IDM drivers have no driver imperfection (Krauss dawdling)",
    "emergencyDecel": "greenwave's safe-speed bound brakes at up to 9 m/s² (SUMO's default)",
    "apparentDecel": "greenwave's drivers have no apparent deceleration",
    "maxSpeed": "desired speeds come from the speed limit × the speed factor",
    "vClass": "greenwave models passenger cars only",
    "emissionClass": "greenwave's fuel models are VT-Micro and HBEFA3 PC_G_EU4 only",
    "carFollowModel": "greenwave's drivers follow IDM or Krauss",
    "actionStepLength": "greenwave's drivers act every tick",
    "laneChangeModel": "greenwave's vehicles keep their lane",
    "speedDev": "",  # handled with speedFactor
    "id": "",
}
# Driver parameters that SUMO vTypes may push outside greenwave's validated ranges.
DRIVER_BOUNDS = {
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

DEPART_TAGS = ("vehicle", "trip")
FLOW_TAGS = ("flow",)
PERSON_TAGS = ("person", "personFlow", "container", "containerFlow")


@dataclass
class Stream:
    """Vehicles that enter on one route: one vehicle, trip or flow (or its share of a route
    distribution).

    Attributes
    ----------
    where : str
        ``file: <tag id='...'>`` for messages.
    edges : list of str
        The route (a trip's from, via and to edges).
    weight : float
        Share of the element's vehicles on this route (1 without a distribution).
    vtype : str
    departs_s : list of float
        Explicit departure times (vehicles and trips).
    pieces : list of (begin_s, end_s, veh_per_h)
        Flow rates.
    trip : bool
        The route is a trip's from/via/to (SUMO routes it; greenwave drives it straight).
    vehicle : int
        Index of the explicit vehicle or trip (its route options share it); -1 for flows.
    choice : str
        The route distribution the vehicle's route is drawn from (its options are spread over
        the vehicles of one distribution), else ``where``.
    lane : int or None
        ``departLane`` when it is a lane number.
    lane_rule : str
        ``departLane`` when it is a rule (``'default'`` when absent: SUMO's
        ``--default.departlane``).
    speed_factor : float or None
        The vehicle's speed factor when it is fixed (its own ``speedFactor``, or a vType
        without deviation), else None (drawn).
    factor_from : str
        Where the speed factor comes from: ``'vehicle'``, ``"vType 'id'"``, or the
        distribution ``"vType 'id': normc(...)"`` it is drawn from.
    """

    where: str
    edges: list[str]
    weight: float
    vtype: str
    departs_s: list[float] = field(default_factory=list)
    pieces: list[tuple[float, float, float]] = field(default_factory=list)
    trip: bool = False
    vehicle: int = -1
    choice: str = ""
    lane: int | None = None
    lane_rule: str = ""
    speed_factor: float | None = None
    factor_from: str = ""

    @property
    def vehicles(self) -> float:
        """Expected number of vehicles."""
        return self.weight * (
            len(self.departs_s) + sum((e - b) * r / 3600.0 for b, e, r in self.pieces)
        )


@dataclass
class RouteDemand:
    """Everything the route files hold that greenwave can use."""

    streams: list[Stream]
    vtypes: dict[str, ET.Element]
    vtype_dists: dict[str, list[tuple[str, float]]]
    notes: list[str]


def _num(el: ET.Element, name: str, where: str) -> float | None:
    text = el.get(name)
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        raise SumoError(f"{where}: {name}='{text}' is not a number") from None
    if not math.isfinite(v):
        raise SumoError(f"{where}: {name}='{text}' is not a finite number")
    return v


def _flow_piece(el: ET.Element, parent: ET.Element, where: str) -> tuple[float, float, float]:
    """``(begin_s, end_s, veh_per_h)`` of a ``<flow>``."""
    begin = _num(el, "begin", where)
    if begin is None:
        begin = _num(parent, "begin", where) if parent.tag == "interval" else 0.0
    begin = begin or 0.0
    end = _num(el, "end", where)
    if end is None and parent.tag == "interval":
        end = _num(parent, "end", where)
    number = _num(el, "number", where)
    rate = None  # veh/s
    for key in ("vehsPerHour", "perHour"):
        v = _num(el, key, where)
        if v is not None:
            rate = v / 3600.0
    period = el.get("period")
    if period is not None:
        m = re.fullmatch(r"\s*exp\(\s*([^)]+)\)\s*", period)
        try:
            p = float(m.group(1)) if m else float(period)
        except ValueError:
            raise SumoError(f"{where}: period='{period}' is not a number or exp(RATE)") from None
        if not (math.isfinite(p) and p > 0):
            raise SumoError(f"{where}: period='{period}' must be positive")
        rate = p if m else 1.0 / p
    prob = _num(el, "probability", where)
    if prob is not None:
        rate = prob  # per second (SUMO's default 1 s step)
    if rate is None and number is None:
        raise SumoError(f"{where}: no vehsPerHour, perHour, period, probability or number")
    if end is None:
        end = begin + number / rate if number is not None and rate else DEFAULT_END_S
    if rate is None:
        rate = number / (end - begin) if number is not None and end > begin else 0.0
    elif number is not None and rate > 0:
        end = min(end, begin + number / rate)
    if end < begin:
        raise SumoError(f"{where}: end {end:g} is before begin {begin:g}")
    return begin, end, rate * 3600.0


def sumo_time_s(text: str) -> float:
    """A SUMO time: seconds (``"90.5"``) or ``"HH:MM:SS"`` / ``"D:HH:MM:SS"`` (seconds may have
    decimals), as SUMO's ``string2time``.  ValueError if it is none of these."""
    parts = text.strip().split(":")
    if len(parts) == 1:
        return float(parts[0])
    if len(parts) not in (3, 4):
        raise ValueError(text)
    vals = [float(v) for v in parts]
    weights = (86400.0, 3600.0, 60.0, 1.0)[-len(vals) :]
    return sum(v * w for v, w in zip(vals, weights, strict=True))


def _depart(el: ET.Element, where: str, dropped: Counter, approx: Counter) -> float | None:
    """Departure time (s) of a ``<vehicle>``/``<trip>``, or None when it cannot be imported
    (counted in ``dropped``).  SumoError for values SUMO itself rejects."""
    text = el.get("depart")
    if text is None:
        raise SumoError(f"{where}: no depart attribute")
    if text == "begin":
        # SUMO's begin time; SUMO second 0 is the scenario's start (sumocfg begin 0).
        approx["depart='begin' read as 0 s (SUMO's default --begin)"] += 1
        return 0.0
    if text in DEPART_WORDS:
        dropped[f"<{el.tag}> with depart='{text}' ({DEPART_WORDS[text]})"] += 1
        return None
    try:
        v = sumo_time_s(text)
    except ValueError:
        hint = " ('now' is for vehicles added through TraCI)" if text == "now" else ""
        raise SumoError(
            f"{where}: depart='{text}' is not a time (s or HH:MM:SS) nor one of "
            f"begin, {', '.join(DEPART_WORDS)}{hint}"
        ) from None
    if not math.isfinite(v) or v < 0:
        raise SumoError(f"{where}: depart='{text}' is not a time >= 0")
    if v >= DEFAULT_END_S:
        dropped[
            f"<{el.tag}> departing at or after {DEFAULT_END_S:g} s (greenwave runs one day)"
        ] += 1
        return None
    return v


def _depart_lane(el: ET.Element, where: str, first_edges: list[str], lanes: Mapping[str, int]):
    """``(lane number or None, rule)`` of ``departLane`` (rule ``"default"`` when absent: SUMO's
    ``--default.departlane``); SumoError for a lane the first edge does not have (SUMO refuses
    it too) or an unknown rule."""
    text = el.get("departLane")
    if text is None:
        return None, "default"
    if text in LANE_RULES:
        return None, text
    try:
        lane = int(text)
    except ValueError:
        raise SumoError(
            f"{where}: departLane='{text}' is not a lane number nor one of "
            f"{', '.join(sorted(LANE_RULES))}"
        ) from None
    for e in first_edges:
        if not 0 <= lane < lanes[e]:
            raise SumoError(f"{where}: departLane='{text}': edge '{e}' has {lanes[e]} lane(s)")
    return lane, ""


def speed_factor_spec(attrs: Mapping[str, str]) -> tuple[float, float, float, float]:
    """``(mean, sd, min, max)`` of the speed factor SUMO gives a vType's vehicles.

    ``speedFactor`` may be a distribution (``norm``/``normc(mean, sd[, min, max])``) or a
    number; a number is the mean of ``normc(x, speedDev, 0.2, 2)`` with ``speedDev`` 0.1 when
    absent, as in SUMO (only ``speedDev="0"`` or a zero-deviation distribution fix it).
    ValueError if it cannot be read."""
    text = attrs.get("speedFactor")
    dev_text = attrs.get("speedDev")
    dev = SUMO_DEFAULT_SPEED_DEV if dev_text is None else float(dev_text)
    lo, hi = SPEED_FACTOR_BOUNDS
    if text is None:
        return 1.0, dev, lo, hi
    m = re.fullmatch(r"\s*norm(c?)\(([^)]*)\)\s*", text)
    if m:
        vals = [float(v) for v in m.group(2).split(",")]
        if len(vals) >= 4:
            lo, hi = vals[2], vals[3]
        return vals[0], vals[1], lo, hi
    return float(text), dev, lo, hi


def fixed_speed_factor(attrs: Mapping[str, str]) -> float | None:
    """The vType's speed factor when SUMO gives all its vehicles the same one, else None."""
    mean, sd, lo, hi = speed_factor_spec(attrs)
    return min(max(mean, lo), hi) if sd == 0 or lo == hi else None


def read_route_files(paths: list[Path], edge_lanes: Mapping[str, int]) -> RouteDemand:
    """Every departure of the route files, as :class:`Stream` s.

    ``edge_lanes`` gives the lane count of every edge of the network.  Raises SumoError naming
    the element and the edge when a route uses an edge the network does not have, and for
    malformed numbers and times, unknown route ids and departure lanes the first edge does not
    have.
    """
    routes: dict[str, list[str]] = {}
    dists: dict[str, list[tuple[list[str], float]]] = {}
    vtypes: dict[str, ET.Element] = {}
    vtype_dists: dict[str, list[tuple[str, float]]] = {}
    streams: list[Stream] = []
    dropped: Counter = Counter()
    approx: Counter = Counter()
    roots = [(p, parse_xml(p)) for p in paths]

    def check(edges: list[str], where: str) -> list[str]:
        if not edges:
            raise SumoError(f"{where}: empty route")
        for e in edges:
            if e not in edge_lanes:
                raise SumoError(f"{where}: edge '{e}' is not in the network")
        return edges

    def dist_of(el: ET.Element, where: str) -> list[tuple[list[str], float]]:
        out = []
        for r in el.findall("route"):
            if r.get("refId") is not None:
                if r.get("refId") not in routes:
                    raise SumoError(f"{where}: unknown route '{r.get('refId')}'")
                edges = routes[r.get("refId", "")]
            else:
                edges = check(r.get("edges", "").split(), where)
            p = _num(r, "probability", where)
            out.append((edges, 1.0 if p is None else p))
        total = sum(p for _, p in out)
        if not out or total <= 0:
            raise SumoError(f"{where}: a route distribution without routes or probabilities")
        return [(e, p / total) for e, p in out]

    # Definitions first (SUMO reads them before the vehicles that use them, in any file).
    for path, root in roots:
        for el in root.iter("route"):
            if el.get("id") and el.get("edges") is not None:
                where = f"{path.name}: <route id='{el.get('id')}'>"
                routes[el.get("id", "")] = check(el.get("edges", "").split(), where)
        for el in root.iter("vType"):
            vtypes[el.get("id", "")] = el
    for path, root in roots:
        for el in root.iter("routeDistribution"):
            if el.get("id"):
                where = f"{path.name}: <routeDistribution id='{el.get('id')}'>"
                dists[el.get("id", "")] = dist_of(el, where)
        for el in root.iter("vTypeDistribution"):
            if el.get("id"):
                members = [(v.get("id", ""), float(v.get("probability", "1"))) for v in el]
                if el.get("vTypes"):
                    members = [(v, 1.0) for v in el.get("vTypes", "").split()]
                vtype_dists[el.get("id", "")] = members

    type_factors: dict[str, tuple[float | None, str]] = {}

    def type_factor(vtype: str) -> tuple[float | None, str]:
        """The speed factor all vehicles of a vType (or vType distribution) share, else None
        and the distribution they draw from."""
        if vtype not in type_factors:
            found: list[tuple[float | None, str]] = []
            for member, _ in vtype_dists.get(vtype, [(vtype, 1.0)]):
                el = vtypes.get(member)
                attrs = dict(el.attrib) if el is not None else {}
                try:
                    mean, sd, lo, hi = speed_factor_spec(attrs)
                    found.append(
                        (
                            fixed_speed_factor(attrs),
                            f"vType '{member}': normc({mean:g},{sd:g},{lo:g},{hi:g})",
                        )
                    )
                except (ValueError, IndexError):
                    text = attrs.get("speedFactor")
                    found.append((None, f"vType '{member}': speedFactor='{text}' not understood"))
            values = {f for f, _ in found}
            if len(values) == 1 and None not in values:
                type_factors[vtype] = (found[0][0], f"vType '{vtype}'")
            else:
                type_factors[vtype] = (
                    None,
                    "; ".join(dict.fromkeys(w for f, w in found if f is None))
                    or f"vType distribution '{vtype}'",
                )
        return type_factors[vtype]

    n_vehicles = 0
    for path, root in roots:
        for parent in [root, *root.findall("interval")]:
            for el in parent:
                tag = el.tag
                if tag in PERSON_TAGS:
                    dropped[f"<{tag}> (greenwave has no persons or containers)"] += 1
                    continue
                if tag not in DEPART_TAGS + FLOW_TAGS:
                    continue
                where = f"{path.name}: <{tag} id='{el.get('id', '?')}'>"
                trip = False
                choice = where
                if el.get("route") is not None:
                    rid = el.get("route", "")
                    if rid in routes:
                        options = [(routes[rid], 1.0)]
                    elif rid in dists:
                        options = dists[rid]
                        choice = f"routeDistribution '{rid}'"
                    else:
                        raise SumoError(f"{where}: unknown route '{rid}'")
                elif (nested := el.find("route")) is not None:
                    options = [(check(nested.get("edges", "").split(), where), 1.0)]
                elif (nested := el.find("routeDistribution")) is not None:
                    options = dist_of(nested, where)
                    # Vehicles with the same embedded distribution (duarouter's alternatives)
                    # share it.
                    choice = repr([(tuple(e), p) for e, p in options])
                elif el.get("from") is not None:
                    edges = [el.get("from", ""), *el.get("via", "").split()]
                    if el.get("to"):
                        edges.append(el.get("to", ""))
                    options = [(check(edges, where), 1.0)]
                    trip = True
                else:
                    why = (
                        "junctions or TAZ as origin"
                        if el.get("fromJunction") or el.get("fromTaz")
                        else "no route"
                    )
                    dropped[f"<{tag}> with {why}"] += 1
                    continue
                vtype = el.get("type", "DEFAULT_VEHTYPE")
                if tag in DEPART_TAGS:
                    t = _depart(el, where, dropped, approx)
                    if t is None:
                        continue
                    lane, rule = _depart_lane(el, where, [e[0] for e, _ in options], edge_lanes)
                    own = _num(el, "speedFactor", where)
                    if own is not None and own <= 0:
                        raise SumoError(f"{where}: speedFactor='{el.get('speedFactor')}' <= 0")
                    factor, factor_from = (
                        (own, "vehicle") if own is not None else type_factor(vtype)
                    )
                    for edges, w in options:
                        streams.append(
                            Stream(
                                where,
                                edges,
                                w,
                                vtype,
                                departs_s=[t],
                                trip=trip,
                                vehicle=n_vehicles,
                                choice=choice,
                                lane=lane,
                                lane_rule=rule,
                                speed_factor=factor,
                                factor_from=factor_from,
                            )
                        )
                    n_vehicles += 1
                else:
                    piece = _flow_piece(el, parent, where)
                    for edges, w in options:
                        streams.append(Stream(where, edges, w, vtype, pieces=[piece], trip=trip))
                    lane_text = el.get("departLane")
                    if lane_text != "random" and any(edge_lanes[e[0]] > 1 for e, _ in options):
                        what = (
                            "absent (SUMO's --default.departlane)"
                            if lane_text is None
                            else (f"'{lane_text}'")
                        )
                        approx[
                            f"<flow> with departLane {what}: greenwave draws each of its "
                            "vehicles' lanes uniformly"
                        ] += 1
                _depart_details(el, tag, approx)
    notes = [f"left out: {n} × {what}" for what, n in dropped.items()]
    notes += [f"approximated: {n} × {what}" for what, n in approx.items()]
    return RouteDemand(streams, vtypes, vtype_dists, notes)


def _depart_details(el: ET.Element, tag: str, approx: Counter) -> None:
    """Count the insertion details greenwave does not reproduce (``departSpeed``, ``departPos``,
    stops) in ``approx``."""
    speed = el.get("departSpeed")
    if speed not in SAME_DEPART_SPEED:
        what = "given speeds" if _is_number(speed or "") else f"'{speed}'"
        if speed is None:
            what = "absent (SUMO's --default.departspeed)"
        approx[
            f"departSpeed {what}: greenwave enters vehicles at their desired speed, or what "
            "the gap to the vehicle ahead allows"
        ] += 1
    pos = el.get("departPos", "base")
    if pos != "base":
        what = "given positions" if _is_number(pos) else f"'{pos}'"
        approx[f"departPos {what}: greenwave enters vehicles at the start of the link"] += 1
    nested = el.find("route")
    if el.find("stop") is not None or (nested is not None and nested.find("stop") is not None):
        approx[f"<{tag}> with <stop>s: greenwave's vehicles drive through"] += 1


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_connected(streams: list[Stream], connected: set[tuple[str, str]]) -> None:
    """Every route drives from each edge onto the next over a connection of the network, as
    SUMO requires (a trip's from/via/to edges are routed by SUMO and not checked); SumoError
    naming the element and the two edges otherwise."""
    for s in streams:
        if s.trip:
            continue
        for a, b in itertools.pairwise(s.edges):
            if (a, b) not in connected:
                raise SumoError(
                    f"{s.where}: route goes from edge '{a}' to edge '{b}', but the network has "
                    "no connection between them (SUMO refuses such a route)"
                )


def route_successors(streams: list[Stream]) -> dict[str, str]:
    """The edge most vehicles drive after each edge (vehicle-weighted over the routes)."""
    counts: dict[str, dict[str, float]] = {}
    for s in streams:
        w = s.vehicles
        for a, b in zip(s.edges, s.edges[1:], strict=False):
            nxt = counts.setdefault(a, {})
            nxt[b] = nxt.get(b, 0.0) + w
    return {a: max(c, key=lambda b: c[b]) for a, c in counts.items()}


def edge_use(streams: list[Stream]) -> dict[str, float]:
    """Expected vehicles over each edge."""
    use: dict[str, float] = {}
    for s in streams:
        for e in dict.fromkeys(s.edges):
            use[e] = use.get(e, 0.0) + s.vehicles
    return use


@dataclass
class ImportedDemand:
    """Greenwave's ``[demand]`` from the route files, on the imported links.

    Attributes
    ----------
    entries : list of dict
        ``demand.entries``: the flows as rates (veh/h, profile) per entry link.
    vehicles : list of dict
        ``demand.vehicles``: one per explicit departure, in time order.
    horizon_s : float or None
        End of the last flow or one SUMO step past the last departure (None without any).
    """

    entries: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    horizon_s: float | None


def demand_entries(
    streams: list[Stream],
    link_of: dict[str, str],
    link_next: dict[str, str | None],
    link_lanes: dict[str, int],
    notes: list[str],
    turns_to: Mapping[str, set[str]] | None = None,
) -> ImportedDemand:
    """Greenwave's demand on the imported links.

    A stream enters on the link of its first edge if that link is an entry (no link leads
    into it straight on).  Greenwave drives its vehicles straight on and turns them by the
    approaches' turning shares (``turns_to``: the links each approach's movements lead to),
    so a route that greenwave's links and movements cannot follow is approximated, and the
    vehicles that turn drive SUMO's turning volumes but not each their own route (both
    counted in notes).  Streams that start elsewhere are left out (noted).  Explicit
    departures become ``demand.vehicles`` (:func:`_explicit_vehicles`), flows
    ``demand.entries`` (:func:`_flow_entries`).
    """
    turns_to = turns_to or {}
    has_pred = {n for n in link_next.values() if n}

    def entry_of(s: Stream) -> str | None:
        lid = link_of.get(s.edges[0])
        return lid if lid is not None and lid not in has_pred else None

    off_net = not_entry = leave = turned = trips = 0.0
    ends: list[float] = []
    for s in streams:
        lid = link_of.get(s.edges[0])
        if lid is None:
            off_net += s.vehicles
            continue
        if lid in has_pred:
            not_entry += s.vehicles
            continue
        driven = [link_of.get(e) for e in s.edges]
        steps = [(a, b) for a, b in itertools.pairwise(driven) if a != b]
        if s.trip:
            # from/via/to: SUMO routes between them, greenwave drives straight on
            chain = []
            cur: str | None = lid
            while cur is not None and cur not in chain:
                chain.append(cur)
                cur = link_next.get(cur)
            if any(d is None or d not in chain for d in driven):
                leave += s.vehicles
        elif any(a is None or b is None for a, b in steps):
            leave += s.vehicles
        else:
            known = [(str(a), str(b)) for a, b in steps]
            if any(link_next.get(a) != b and b not in turns_to.get(a, ()) for a, b in known):
                leave += s.vehicles
            elif any(link_next.get(a) != b for a, b in known):
                turned += s.vehicles
        if s.trip:
            trips += s.vehicles
        ends += [t + INSERT_STEP_S for t in s.departs_s] + [e for _, e, _ in s.pieces]
    total = sum(s.vehicles for s in streams)

    def share(x: float) -> str:
        return f"{x:.0f} of {total:.0f} vehicles ({100 * x / total:.1f} %)"

    if off_net:
        notes.append(f"demand: {share(off_net)} start on edges outside the import, left out")
    if not_entry:
        notes.append(
            f"demand: {share(not_entry)} start inside a link chain (greenwave enters vehicles "
            "only on entry links), left out"
        )
    if leave:
        notes.append(
            f"demand: {share(leave)} leave greenwave's links and movements in SUMO (a turn "
            "where edges are joined into one link, onto an edge not imported, or a U-turn); "
            "greenwave drives them on by the turning shares"
        )
    if turned:
        notes.append(
            f"demand: {share(turned)} turn at the signals; greenwave turns its vehicles by "
            "each approach's shares (demand.turns), not each by its own route"
        )
    if trips:
        notes.append(
            f"demand: {share(trips)} are trips (from/to): SUMO routes them, greenwave drives "
            "them straight through from their first edge"
        )
    vehicles = _explicit_vehicles(
        [s for s in streams if s.vehicle >= 0], entry_of, link_lanes, notes
    )
    entries = _flow_entries([s for s in streams if s.vehicle < 0], entry_of, notes)
    horizon = min(max(ends), DEFAULT_END_S) if ends else None
    return ImportedDemand(entries, vehicles, horizon)


def _explicit_vehicles(
    streams: list[Stream],
    entry_of: Callable[[Stream], str | None],
    link_lanes: dict[str, int],
    notes: list[str],
) -> list[dict[str, Any]]:
    """``demand.vehicles``: each explicit vehicle or trip on its entry link at its departure
    time, with its lane when ``departLane`` is a number and its speed factor when fixed.

    A vehicle whose route is drawn from a distribution over routes that start on different
    entry links (or partly outside the import) cannot be the same vehicle in both simulators:
    the vehicles of one distribution are spread over the outcomes in its proportions by smooth
    weighted round-robin (deterministic; every outcome within one vehicle of its share)."""
    by_vehicle: dict[int, list[Stream]] = {}
    for s in streams:
        by_vehicle.setdefault(s.vehicle, []).append(s)
    credit: dict[str, dict[str | None, float]] = {}
    spread = 0
    out: list[dict[str, Any]] = []
    lanes_given = lanes_kept = factors_given = 0
    rules: Counter = Counter()
    drawn_from: Counter = Counter()
    bad_factor: Counter = Counter()
    for options in by_vehicle.values():
        odds: dict[str | None, float] = {}
        for s in options:
            lid = entry_of(s)
            odds[lid] = odds.get(lid, 0.0) + s.weight
        if len(odds) == 1:
            lid = next(iter(odds))
        else:
            spread += 1
            # Smooth weighted round-robin: every vehicle adds the odds to its distribution's
            # credits and takes the outcome with the largest credit, which pays one vehicle.
            cr = credit.setdefault(options[0].choice, {})
            for k, p in odds.items():
                cr[k] = cr.get(k, 0.0) + p
            lid = max(cr, key=lambda k: cr[k])
            cr[lid] -= 1.0
        if lid is None:
            continue  # outside the import or inside a chain: counted in the notes above
        s = options[0]
        veh: dict[str, Any] = {"link": lid, "depart_s": r3(s.departs_s[0])}
        if s.lane is not None:
            lanes_given += 1
            if s.lane < link_lanes[lid]:
                veh["lane"] = s.lane
            else:
                lanes_kept += 1
        elif s.lane_rule != "random" and link_lanes[lid] > 1:
            rules[s.lane_rule] += 1
        if s.speed_factor is None:
            drawn_from[s.factor_from] += 1
        elif VEHICLE_FACTOR_RANGE[0] < s.speed_factor <= VEHICLE_FACTOR_RANGE[1]:
            veh["desired_speed_factor"] = round(s.speed_factor, 6)
            factors_given += 1
        else:
            bad_factor[f"{s.speed_factor:g}"] += 1
        out.append(veh)
    if not out:
        return out
    out.sort(key=lambda v: v["depart_s"])  # stable: file order within one time
    notes.append(
        f"demand: {len(out)} explicit departures (<vehicle>/<trip>) written as demand.vehicles: "
        "the same entry links and departure times as in SUMO (inserted at greenwave's next tick, "
        f"SUMO's next step); lane from departLane for {lanes_given - lanes_kept}, fixed speed "
        f"factor for {factors_given}; greenwave draws the others' lanes uniformly and speed "
        "factors from [drivers]"
    )
    if spread:
        notes.append(
            f"demand: {spread} vehicles draw their route from a distribution over different "
            "entry links in SUMO; greenwave spreads them over those entries in the "
            "distribution's proportions, so those are other vehicles than SUMO runs"
        )
    if rules:
        what = ", ".join(f"'{r}' × {n}" for r, n in rules.items())
        notes.append(
            f"demand: departLane {what} (rule 'default' = SUMO's --default.departlane): SUMO "
            "picks those lanes by its rule and changes lanes later; greenwave draws each "
            "uniformly and keeps it"
        )
    if lanes_kept:
        notes.append(
            f"demand: {lanes_kept} departLane numbers beyond the lanes of their link (joined over "
            "unsignalised nodes, it keeps the lowest lane count): drawn instead"
        )
    if drawn_from:
        what = "; ".join(f"{n} × {src}" for src, n in drawn_from.items())
        notes.append(
            "demand: speed factors drawn, not fixed (a distribution in SUMO; each simulator "
            f"draws its own, greenwave from [drivers]): {what}"
        )
    if bad_factor:
        what = ", ".join(f"{f} × {n}" for f, n in bad_factor.items())
        notes.append(
            "demand: speed factors outside greenwave's ({:g}, {:g}]: ".format(*VEHICLE_FACTOR_RANGE)
            + f"{what}, drawn from [drivers] instead"
        )
    return out


def _flow_entries(
    streams: list[Stream], entry_of: Callable[[Stream], str | None], notes: list[str]
) -> list[dict[str, Any]]:
    """``demand.entries``: the flows' rates summed per entry link, as a piecewise-constant
    profile."""
    pieces: dict[str, list[tuple[float, float, float]]] = {}
    flows = set()
    for s in streams:
        lid = entry_of(s)
        if lid is None:
            continue
        flows.add(s.where)
        for b, e, r in s.pieces:
            pieces.setdefault(lid, []).append((b, e, r * s.weight))
    if flows:
        notes.append(
            f"demand: {len(flows)} <flow>s kept as rates per entry link: SUMO spaces their "
            "vehicles equally (vehsPerHour, period, number) or draws them (exp(), probability), "
            "greenwave draws Poisson arrivals at the same rate, so other vehicles than SUMO's"
        )
    entries = []
    for lid, raw in pieces.items():
        ps = [(b, min(e, DEFAULT_END_S), r) for b, e, r in raw if r > 0 and e > b]
        if not ps:
            continue
        cuts = sorted({0.0} | {t for b, e, _ in ps for t in (b, e)})
        rates = [sum(r for b, e, r in ps if b <= t0 < e) for t0 in cuts]
        merged = [(cuts[0], rates[0])]
        for t0, r in zip(cuts[1:], rates[1:], strict=True):
            if abs(r - merged[-1][1]) > 1e-9:
                merged.append((t0, r))
        if len(merged) > 1 and merged[-1][1] == 0.0:
            merged.pop()  # after the last departure the run simply has no arrivals
        base = merged[0][1] if merged[0][1] > 0 else max(r for _, r in merged)
        if base > 4000.0:
            scale_note = f"demand: entry '{lid}' peaks at {base:.0f} veh/h"
            raise SumoError(f"{scale_note}, above greenwave's 4000 veh/h per entry")
        entry: dict[str, Any] = {"link": lid, "flow_veh_h": round(base, 4)}
        if len(merged) > 1:
            entry["profile"] = [[r3(t0), round(r / base, 6)] for t0, r in merged]
        entries.append(entry)
    return entries


def drivers_from_vtypes(
    streams: list[Stream],
    vtypes: dict[str, ET.Element],
    vtype_dists: dict[str, list[tuple[str, float]]],
    notes: list[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``([drivers], [simulation] settings)`` from the vType most vehicles use.

    Every attribute is reported as mapped (to which greenwave parameter) or dropped (why);
    attributes the vType leaves out take SUMO's passenger-car defaults
    (:data:`SUMO_DEFAULTS`), so that the drivers are SUMO's."""
    use: dict[str, float] = {}
    for s in streams:
        for member, p in vtype_dists.get(s.vtype, [(s.vtype, 1.0)]):
            use[member] = use.get(member, 0.0) + s.vehicles * p
    if not use:
        return {}, {}
    ranked = sorted(use.items(), key=lambda kv: -kv[1])
    main, n_main = ranked[0]
    total = sum(use.values())
    if len(use) > 1:
        others = ", ".join(f"'{t}' ({n:.0f})" for t, n in ranked[1:])
        notes.append(
            f"vTypes: greenwave has one driver population; {n_main:.0f} of {total:.0f} "
            f"vehicles use '{main}', whose parameters all drivers get; approximated: {others}"
        )
    el = vtypes.get(main)
    attrs = dict(el.attrib) if el is not None else {}
    if el is None and main != "DEFAULT_VEHTYPE":
        notes.append(f"vType '{main}' is not defined in the route files: SUMO's defaults used")
    given = set(attrs)
    factor_attrs: dict[str, str] = {k: attrs[k] for k in ("speedFactor", "speedDev") if k in attrs}
    for key, value in SUMO_DEFAULTS.items():
        attrs.setdefault(key, value)
    out: dict[str, Any] = {}
    mapped, dropped = [], []

    def src(k: str) -> str:
        return f"{k}={attrs[k]}" + ("" if k in given else " (SUMO default)")

    for key, (dst, meaning) in MAPPED.items():
        try:
            out[dst] = float(attrs[key])
        except ValueError:
            raise SumoError(f"vType '{main}': {key}='{attrs[key]}' is not a number") from None
        mapped.append(f"{src(key)} → drivers.{dst} ({meaning})")
    try:
        spec = speed_factor_spec(factor_attrs)
    except (ValueError, IndexError):
        what = ", ".join(f"{k}='{v}'" for k, v in factor_attrs.items())
        dropped.append(f"{what} not understood (greenwave's default speed factors kept)")
    else:
        keys = ("mean", "sd", "min", "max")
        out.update({f"desired_speed_factor_{k}": v for k, v in zip(keys, spec, strict=True)})
        text = factor_attrs.get("speedFactor", "")
        if text.strip().startswith("norm"):
            what = f"speedFactor={text}"
        else:  # a number or nothing: SUMO's normc around it with speedDev
            what = ", ".join(f"{k}={v}" for k, v in factor_attrs.items()) or "(neither given)"
            if "speedDev" not in factor_attrs:
                what += f", speedDev {SUMO_DEFAULT_SPEED_DEV:g} (SUMO default)"
            what += " → normc({:g},{:g},{:g},{:g})".format(*spec)
        mapped.append(f"{what} → drivers.desired_speed_factor_*")
    sim: dict[str, Any] = {}
    if attrs.get("emissionClass", "").startswith("HBEFA3/PC_G_EU4"):
        sim["fuel_model"] = "hbefa3"
        mapped.append(f"{src('emissionClass')} → simulation.fuel_model = 'hbefa3'")
    cf = attrs.get("carFollowModel", "Krauss")
    if cf == "IDM" and attrs.get("delta", "4") in ("4", "4.0"):
        out["car_following"] = "idm"
        mapped.append("carFollowModel=IDM, delta=4 → drivers.car_following = 'idm'")
    elif cf == "Krauss":
        out["car_following"] = "krauss"
        mapped.append(f"{src('carFollowModel')} → drivers.car_following = 'krauss'")
        try:
            sigma = float(attrs["sigma"])
        except ValueError:
            raise SumoError(f"vType '{main}': sigma='{attrs['sigma']}' is not a number") from None
        if not 0.0 <= sigma <= 1.0:
            raise SumoError(f"vType '{main}': sigma={sigma:g} is outside SUMO's [0, 1]")
        out["sigma"] = sigma
        mapped.append(f"{src('sigma')} → drivers.sigma (Krauss dawdling)")
    else:
        dropped.append(f"{src('carFollowModel')}: greenwave's drivers follow IDM (default)")
    if "delta" in given and attrs["delta"] not in ("4", "4.0"):
        dropped.append(f"delta={attrs['delta']}: greenwave's IDM has delta 4")
    if cf != "Krauss" and "sigma" in given:
        dropped.append(f"{src('sigma')}: {DROPPED_WHY['sigma']}")
    done = {"speedFactor", "sigma", "delta", "carFollowModel", *(["emissionClass"] if sim else [])}
    for key in sorted(given - set(MAPPED) - done):
        if key in DISPLAY_ONLY or key in ("id", "speedDev"):
            continue
        why = DROPPED_WHY.get(key) or (
            "greenwave's vehicles keep their lane" if key.startswith("lc") else "no equivalent"
        )
        dropped.append(f"{key}={attrs[key]}: {why}")
    for key, (lo, hi) in DRIVER_BOUNDS.items():
        if key in out and not lo <= out[key] <= hi:
            dropped.append(f"{key} {out[key]:g} outside greenwave's [{lo:g}, {hi:g}]: clipped")
            out[key] = min(max(out[key], lo), hi)
    if "desired_speed_factor_min" in out:
        out["desired_speed_factor_min"] = min(
            out["desired_speed_factor_min"], out["desired_speed_factor_max"]
        )
    notes.append(f"vType '{main}' mapped: " + "; ".join(mapped))
    if dropped:
        notes.append(f"vType '{main}' dropped: " + "; ".join(dropped))
    return out, sim
