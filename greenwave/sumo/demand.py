"""SUMO demand as greenwave demand: routes, vehicles, trips, flows and vTypes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .xmlio import (
    SumoError,
    attr_float,
    attr_str,
    parse_xml,
    r3,
)

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


def _flow_rate_veh_h(el: ET.Element, begin: float, end: float, where: str) -> float:
    if el.get("vehsPerHour") is not None:
        return attr_float(el, "vehsPerHour")
    period = el.get("period")
    if period is not None:
        m = re.fullmatch(r"\s*exp\(\s*([^)]+)\)\s*", period)
        if m:
            return float(m.group(1)) * 3600.0
        return 3600.0 / float(period)
    if el.get("probability") is not None:
        return attr_float(el, "probability") * 3600.0
    if el.get("number") is not None and end > begin:
        return attr_float(el, "number") * 3600.0 / (end - begin)
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


def drivers_from_vtype(vt: ET.Element, notes: list[str]) -> dict:
    src = {
        "length": "length_m",
        "minGap": "min_gap_m",
        "accel": "accel_ms2",
        "decel": "decel_ms2",
        "tau": "time_headway_s",
    }
    out = {dst: attr_float(vt, a) for a, dst in src.items() if vt.get(a) is not None}
    if vt.get("speedFactor"):
        try:
            out.update(_parse_speed_factor(attr_str(vt, "speedFactor")))
        except (ValueError, IndexError):
            notes.append(
                f"vType '{vt.get('id')}': speedFactor '{vt.get('speedFactor')}' "
                "not understood, drivers keep greenwave's default"
            )
    elif vt.get("speedDev") is not None:
        out["desired_speed_factor_sd"] = attr_float(vt, "speedDev")
    for key, (lo, hi) in DRIVER_BOUNDS.items():
        if key in out and not lo <= out[key] <= hi:
            notes.append(f"vType '{vt.get('id')}': {key} {out[key]:g} clipped to [{lo:g}, {hi:g}]")
            out[key] = min(max(out[key], lo), hi)
    if "desired_speed_factor_min" in out:
        out["desired_speed_factor_min"] = min(
            out["desired_speed_factor_min"], out["desired_speed_factor_max"]
        )
    return out


def read_routes(path: Path, link_of: dict[str, str], links: list[dict], notes: list[str]):
    """``(demand dict, drivers dict, duration or None)`` from a SUMO routes file."""
    root = parse_xml(path)
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
            entry["profile"] = [[r3(t), round(r / base, 6)] for t, r in merged]
        entries.append(entry)
    drivers = {}
    used = [t for t in dict.fromkeys(types_used) if t in vtypes]
    if used:
        drivers = drivers_from_vtype(vtypes[used[0]], notes)
        if len(set(types_used)) > 1:
            notes.append(f"{path.name}: several vTypes used, drivers from '{used[0]}'")
    duration = None
    if max_end is not None:
        duration = min(max_end, 86400.0)
    return ({"scale": 1.0, "flow_veh_h_per_lane": 0.0, "entries": entries}, drivers, duration)
