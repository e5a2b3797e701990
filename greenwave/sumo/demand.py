"""SUMO demand as greenwave demand: routes, route distributions, vehicles, trips, flows, vTypes.

:func:`read_route_files` reads every departure of SUMO route files into :class:`Stream` s (one
per vehicle, trip or flow and route it may take), checking that every edge exists;
:func:`route_successors` gives the edge most vehicles drive after each edge (the importer's
straight-through successors); :func:`demand_entries` turns the streams into greenwave's
``[demand]`` on the imported links and :func:`drivers_from_vtypes` the vTypes into its
``[drivers]``, each reporting what it approximated or left out.

Greenwave's scenario carries demand as Poisson rates per entry link (a piecewise-constant
profile), so explicit departures (``<vehicle>``, ``<trip>``) become rates over
:data:`DEPART_BIN_S` bins (reported as an approximation).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .xmlio import SumoError, parse_xml, r3

DEPART_BIN_S = 300.0
"""Explicit departures become a Poisson rate per entry over bins of this length."""
DEFAULT_END_S = 86400.0
"""End of a flow without ``end`` or ``number`` (SUMO runs such flows to its own end)."""

# SUMO's passenger-car defaults (sumo.dlr.de/docs/Vehicle_Type_Parameter_Defaults.html), used
# for the vType attributes a file leaves out: the imported drivers are SUMO's drivers.
SUMO_DEFAULTS = {
    "length": "5",
    "minGap": "2.5",
    "accel": "2.6",
    "decel": "4.5",
    "tau": "1",
    "speedFactor": "normc(1,0.1,0.2,2)",
    "sigma": "0.5",
    "carFollowModel": "Krauss",
}

# vType attribute → greenwave driver field, and what the mapping means.
MAPPED = {
    "length": ("length_m", "vehicle length"),
    "minGap": ("min_gap_m", "IDM jam distance s0"),
    "accel": ("accel_ms2", "IDM maximum acceleration a"),
    "decel": ("decel_ms2", "IDM comfortable deceleration b"),
    "tau": ("time_headway_s", "IDM time gap T"),
}
# Attributes greenwave has no use for; listed so that nothing is dropped silently.
DISPLAY_ONLY = {"color", "guiShape", "imgFile", "width", "height", "osgFile", "boardingDuration"}
DROPPED_WHY = {
    "sigma": "greenwave's drivers have no driver imperfection (Krauss dawdling)",
    "emergencyDecel": "greenwave's safe-speed bound brakes at up to 9 m/s² (SUMO's default)",
    "apparentDecel": "greenwave's drivers have no apparent deceleration",
    "maxSpeed": "desired speeds come from the speed limit × the speed factor",
    "vClass": "greenwave models passenger cars only",
    "emissionClass": "greenwave's fuel models are VT-Micro and HBEFA3 PC_G_EU4 only",
    "carFollowModel": "greenwave's drivers follow IDM",
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
    """

    where: str
    edges: list[str]
    weight: float
    vtype: str
    departs_s: list[float] = field(default_factory=list)
    pieces: list[tuple[float, float, float]] = field(default_factory=list)
    trip: bool = False

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


def _depart(el: ET.Element, where: str, notes: Counter) -> float | None:
    text = el.get("depart", "0")
    if text == "begin":
        return 0.0
    try:
        v = float(text)
    except ValueError:
        notes[f"depart='{text}' (only times can be imported)"] += 1
        return None
    if not math.isfinite(v) or v < 0:
        raise SumoError(f"{where}: depart='{text}' is not a time >= 0")
    return v


def read_route_files(paths: list[Path], edge_ids: set[str]) -> RouteDemand:
    """Every departure of the route files, as :class:`Stream` s.

    Raises SumoError naming the element and the edge when a route uses an edge the network does
    not have, and for malformed numbers or unknown route ids.
    """
    routes: dict[str, list[str]] = {}
    dists: dict[str, list[tuple[list[str], float]]] = {}
    vtypes: dict[str, ET.Element] = {}
    vtype_dists: dict[str, list[tuple[str, float]]] = {}
    streams: list[Stream] = []
    dropped: Counter = Counter()
    roots = [(p, parse_xml(p)) for p in paths]

    def check(edges: list[str], where: str) -> list[str]:
        if not edges:
            raise SumoError(f"{where}: empty route")
        for e in edges:
            if e not in edge_ids:
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
                if el.get("route") is not None:
                    rid = el.get("route", "")
                    if rid in routes:
                        options = [(routes[rid], 1.0)]
                    elif rid in dists:
                        options = dists[rid]
                    else:
                        raise SumoError(f"{where}: unknown route '{rid}'")
                elif (nested := el.find("route")) is not None:
                    options = [(check(nested.get("edges", "").split(), where), 1.0)]
                elif (nested := el.find("routeDistribution")) is not None:
                    options = dist_of(nested, where)
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
                    t = _depart(el, where, dropped)
                    if t is None:
                        continue
                    for edges, w in options:
                        streams.append(Stream(where, edges, w, vtype, departs_s=[t], trip=trip))
                else:
                    piece = _flow_piece(el, parent, where)
                    for edges, w in options:
                        streams.append(Stream(where, edges, w, vtype, pieces=[piece], trip=trip))
    notes = [f"left out: {n} × {what}" for what, n in dropped.items()]
    return RouteDemand(streams, vtypes, vtype_dists, notes)


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


def demand_entries(
    streams: list[Stream],
    link_of: dict[str, str],
    link_next: dict[str, str | None],
    notes: list[str],
) -> tuple[list[dict[str, Any]], float | None]:
    """``([demand.entries], duration_s or None)`` on the imported links.

    A stream enters on the link of its first edge if that link is an entry (no link leads
    into it); greenwave drives it straight through, so a route that leaves the link chain is
    approximated (counted in a note).  Streams that start elsewhere are left out (noted).
    Explicit departures become rates over :data:`DEPART_BIN_S` bins.
    """
    has_pred = {n for n in link_next.values() if n}
    explicit: dict[str, list[tuple[float, float]]] = {}  # link → [(t, weight)]
    pieces: dict[str, list[tuple[float, float, float]]] = {}
    off_net = not_entry = leave = trips = 0.0
    last = None
    for s in streams:
        lid = link_of.get(s.edges[0])
        if lid is None:
            off_net += s.vehicles
            continue
        if lid in has_pred:
            not_entry += s.vehicles
            continue
        chain = []
        cur: str | None = lid
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = link_next.get(cur)
        driven = [link_of.get(e) for e in s.edges]
        if any(d is None or d not in chain for d in driven):
            leave += s.vehicles
        if s.trip:
            trips += s.vehicles
        for t in s.departs_s:
            explicit.setdefault(lid, []).append((t, s.weight))
        for b, e, r in s.pieces:
            pieces.setdefault(lid, []).append((b, e, r * s.weight))
        ends = [*s.departs_s, *(e for _, e, _ in s.pieces)]
        if ends:
            last = max(ends) if last is None else max(last, *ends)
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
            f"demand: {share(leave)} turn off the straight-through chain in SUMO; greenwave "
            "drives them straight through"
        )
    if trips:
        notes.append(
            f"demand: {share(trips)} are trips (from/to): SUMO routes them, greenwave drives "
            "them straight through from their first edge"
        )
    n_explicit = sum(len(v) for v in explicit.values())
    if n_explicit:
        notes.append(
            f"demand: {n_explicit} explicit departures (<vehicle>/<trip>) approximated as "
            f"Poisson rates per {DEPART_BIN_S:g} s on each entry link (the scenario file has "
            "no explicit arrivals), so greenwave draws other vehicles than SUMO runs"
        )
    horizon = min(last, DEFAULT_END_S) if last is not None else None
    entries = []
    for lid in dict.fromkeys([*explicit, *pieces]):
        ps = list(pieces.get(lid, []))
        if lid in explicit:
            times = np.array([x for x, _ in explicit[lid]])
            wts = np.array([x for _, x in explicit[lid]])
            end = max(float(times.max()) + 1e-9, DEPART_BIN_S)
            edges = np.arange(0.0, end + DEPART_BIN_S, DEPART_BIN_S)
            hist, _ = np.histogram(times, bins=edges, weights=wts)
            ps += [
                (float(a), float(b), float(n) * 3600.0 / DEPART_BIN_S)
                for a, b, n in zip(edges[:-1], edges[1:], hist, strict=True)
                if n > 0
            ]
        ps = [(b, min(e, DEFAULT_END_S), r) for b, e, r in ps if r > 0 and e > b]
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
    return entries, horizon


def _speed_factor(text: str) -> dict[str, float]:
    """SUMO ``speedFactor`` (a number or ``norm``/``normc(mean, sd[, min, max])``)."""
    m = re.fullmatch(r"\s*norm(c?)\(([^)]*)\)\s*", text)
    if m:
        vals = [float(v) for v in m.group(2).split(",")]
        lo, hi = (vals[2], vals[3]) if len(vals) >= 4 else (0.2, 2.0)  # SUMO's default bounds
        return {
            "desired_speed_factor_mean": vals[0],
            "desired_speed_factor_sd": vals[1],
            "desired_speed_factor_min": lo,
            "desired_speed_factor_max": hi,
        }
    v = float(text)
    return {
        "desired_speed_factor_mean": v,
        "desired_speed_factor_sd": 0.0,
        "desired_speed_factor_min": v,
        "desired_speed_factor_max": v,
    }


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
    for key, value in SUMO_DEFAULTS.items():
        attrs.setdefault(key, value)
    if "speedDev" in given and "speedFactor" not in given:
        attrs["speedFactor"] = f"normc(1,{attrs['speedDev']},0.2,2)"
    out: dict[str, float] = {}
    mapped, dropped = [], []

    def src(k: str) -> str:
        if k == "speedFactor" and "speedFactor" not in given and "speedDev" in given:
            return f"speedDev={attrs['speedDev']} (speedFactor {attrs[k]})"
        return f"{k}={attrs[k]}" + ("" if k in given else " (SUMO default)")

    for key, (dst, meaning) in MAPPED.items():
        try:
            out[dst] = float(attrs[key])
        except ValueError:
            raise SumoError(f"vType '{main}': {key}='{attrs[key]}' is not a number") from None
        mapped.append(f"{src(key)} → drivers.{dst} ({meaning})")
    try:
        out.update(_speed_factor(attrs["speedFactor"]))
        mapped.append(f"{src('speedFactor')} → drivers.desired_speed_factor_*")
    except (ValueError, IndexError):
        dropped.append(f"speedFactor='{attrs['speedFactor']}' not understood (default kept)")
    sim: dict[str, Any] = {}
    if attrs.get("emissionClass", "").startswith("HBEFA3/PC_G_EU4"):
        sim["fuel_model"] = "hbefa3"
        mapped.append(f"{src('emissionClass')} → simulation.fuel_model = 'hbefa3'")
    cf = attrs.get("carFollowModel", "Krauss")
    if cf == "IDM" and attrs.get("delta", "4") in ("4", "4.0"):
        mapped.append("carFollowModel=IDM, delta=4: greenwave's IDM")
    else:
        dropped.append(f"{src('carFollowModel')}: greenwave's drivers follow IDM")
    if "delta" in given and attrs["delta"] not in ("4", "4.0"):
        dropped.append(f"delta={attrs['delta']}: greenwave's IDM has delta 4")
    if cf == "Krauss" or "sigma" in given:
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
