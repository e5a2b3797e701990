"""Random signalised corridors that nobody has tuned to, in SUMO's and greenwave's formats.

One integer seed (``numpy.random.default_rng(seed)``) draws every parameter of an east–west
arterial with two-phase fixed-time signals and straight side streets (:func:`draw_params`, a
:class:`CorridorParams`); :func:`generate_corridor` writes the same corridor as a SUMO network
with its programs, routes and configuration, and as a greenwave scenario (:func:`scenario_toml`,
:func:`corridor_scenario`), so that advice policies can be judged on networks that were not used
to develop them.  One seed gives byte-identical files.

Ranges (the module constants :data:`N_SIGNALS` to :data:`FLOW_SIDE_VEH_H`): 4–10 signals
250–800 m apart; coordinated (p = 0.5): a one-way green wave at 40–50 km/h, east or west, else
random offsets; cycles 60–140 s in 5 s steps, one common cycle (per-signal cycles with p = 0.5 when
uncoordinated); main-street green 35–65 % of the cycle, 3 s amber and 2 s all-red after every
green; 1–2 arterial lanes per direction; 300–900 veh/h per arterial direction and 50–250 veh/h
per side-street approach, all through traffic.  Fixed: 50 km/h arterial, 40 km/h side streets.
Every draw is made for every seed in the same order, so ``--coordinated`` and
``--uncoordinated`` runs of one seed share everything but offsets and cycles.  Offsets are
simulation seconds (SUMO tlLogic offsets); :attr:`CorridorParams.plan_offsets_s` are greenwave's.

Files (:data:`FILES`): SUMO plain XML and ``corridor.net.xml`` (netconvert; edge ids are
greenwave's link ids, and stop lines are as far apart as greenwave's: an edge is its link less
the junction-internal lane SUMO puts before it, :func:`internal_lengths`; with
``build_net=False`` the plain edges keep the links' full lengths), ``corridor.tll.add.xml``
(one static ``tlLogic`` per signal) and ``corridor.merged.net.xml`` (the net with the
programs), ``corridor.rou.xml`` (Poisson flows per entry link), ``corridor.sumocfg``,
``corridor.toml`` (the greenwave scenario) and ``params.json`` (the parameters, plan offsets
and degree of saturation; some seeds are oversaturated).

Derivations and history: docs/corridor_generator.md.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from greenwave.geo import LocalProjection
from greenwave.scenario import Scenario, loads_scenario
from greenwave.timing import AMBER, GREEN, RED
from greenwave.units import kmh_to_ms

from .xmlio import num_text, write_xml

N_SIGNALS = (4, 10)
SPACING_M = (250, 800)
CYCLE_S = (60, 140)
CYCLE_STEP_S = 5
GREEN_SPLIT = (0.35, 0.65)
AMBER_S = 3.0
ALL_RED_S = 2.0
PROGRESSION_KMH = (40.0, 50.0)
P_COORDINATED = 0.5
P_PER_SIGNAL_CYCLES = 0.5
LANES = (1, 2)
FLOW_ARTERIAL_VEH_H = (300, 900)
FLOW_SIDE_VEH_H = (50, 250)
SPEED_ARTERIAL_KMH = 50.0
SPEED_SIDE_KMH = 40.0
ENTRY_LENGTH_M = 300.0
EXIT_LENGTH_M = 300.0
STUB_LENGTH_M = 200.0

ORIGIN_LONLAT = (118.05, 36.81)
"""Where the corridor's midpoint lies (Zhangdian, Zibo, like the bundled scenarios)."""
START_TIME = "2026-11-23T07:30:00+08:00"
"""Absolute time of simulation second 0 (the bundled scenarios' start time)."""

PREFIX = "corridor"
CORRIDOR_ID = "art"
MAIN_GROUP, SIDE_GROUP = "EW", "NS"
PROGRAM_ID = "gw"
STEP_LENGTH_S = 1.0
PARAM = "greenwave."  # tlLogic parameter prefix read by greenwave.sumo_io.import_sumo

VTYPE = {
    "id": "car",
    "vClass": "passenger",
    "carFollowModel": "Krauss",
    "tau": "1",
    "accel": "2.6",
    "decel": "4.5",
    "length": "5",
    "minGap": "2.5",
    "speedDev": "0.1",
    "emissionClass": "HBEFA3/PC_G_EU4",
}
"""SUMO's passenger-car defaults (Krauss); ``sigma`` is added per corridor."""

DRIVERS = {
    "desired_speed_factor_mean": 0.95,
    "desired_speed_factor_sd": 0.12,
    "desired_speed_factor_min": 0.7,
    "desired_speed_factor_max": 1.25,
    "accel_ms2": 1.5,
    "decel_ms2": 2.0,
    "time_headway_s": 1.0,
    "min_gap_m": 2.0,
    "length_m": 5.0,
    "compliance": 1.0,
    "reaction_s": 1.0,
}
"""``[drivers]`` of ``scenarios/zibo_arterial.toml`` (kept here: generated files must not change
when that file does)."""

ADVISORY = {
    "penetration": 1.0,
    "range_m": 500.0,
    "update_interval_s": 1.0,
    "band_min_kmh": 35.0,
    "band_max_kmh": min(50.0, SPEED_ARTERIAL_KMH),
    "safety_margin_s": 2.0,
    "min_band_width_kmh": 2.0,
    "accel_ms2": 1.5,
    "decel_ms2": 1.5,
    "n_windows": 3,
    "intersections_ahead": 3,
    "queue_aware": True,
}
"""``[advisory]`` of ``scenarios/zibo_arterial.toml``, the band capped at the speed limit."""

FILES = (
    "corridor.nod.xml",
    "corridor.edg.xml",
    "corridor.con.xml",
    "corridor.net.xml",
    "corridor.tll.add.xml",
    "corridor.merged.net.xml",
    "corridor.rou.xml",
    "corridor.sumocfg",
    "corridor.toml",
    "params.json",
)


@dataclass(frozen=True)
class CorridorParams:
    """Every parameter of one generated corridor (ranges: docs/corridor_generator.md).

    Lists run over the signals from west to east (``signal_ids``); offsets are simulation
    seconds (SUMO's tlLogic offsets), see :attr:`plan_offsets_s` for greenwave's.
    """

    seed: int
    n_signals: int
    spacing_m: list[int]
    coordinated: bool
    per_signal_cycles: bool
    cycle_s: list[int]
    green_split: list[float]
    main_green_s: list[int]
    progression_kmh: float
    wave_direction: str
    offsets_s: list[int]
    lanes: int
    flow_east_veh_h: int
    flow_west_veh_h: int
    side_flows_veh_h: list[tuple[int, int]]  # (northbound, southbound) per signal
    sigma: float = 0.5
    duration_s: float = 3600.0
    amber_s: float = AMBER_S
    all_red_s: float = ALL_RED_S
    speed_arterial_kmh: float = SPEED_ARTERIAL_KMH
    speed_side_kmh: float = SPEED_SIDE_KMH
    entry_length_m: float = ENTRY_LENGTH_M
    exit_length_m: float = EXIT_LENGTH_M
    stub_length_m: float = STUB_LENGTH_M
    origin_lonlat: tuple[float, float] = ORIGIN_LONLAT
    start_time: str = START_TIME
    signal_ids: list[str] = field(default_factory=list)

    @property
    def positions_m(self) -> np.ndarray:
        """Distance of each signal from the first, (n,) float64."""
        return np.concatenate([[0.0], np.cumsum(self.spacing_m, dtype=float)])

    @property
    def epoch_s(self) -> float:
        return datetime.fromisoformat(self.start_time).timestamp()

    @property
    def plan_offsets_s(self) -> list[float]:
        """greenwave plan offsets: cycle second 0 at absolute time ``offset_s`` (mod C)."""
        return [
            float((o + self.epoch_s) % c) for o, c in zip(self.offsets_s, self.cycle_s, strict=True)
        ]

    def degree_of_saturation(self, sat_flow_veh_h_lane: float = 1800.0) -> float:
        """Largest flow / capacity over all approaches (green + amber − 2 s lost per phase)."""
        worst = 0.0
        for k, c in enumerate(self.cycle_s):
            g_main = self.main_green_s[k] + self.amber_s - 2.0
            g_side = c - self.main_green_s[k] - 2 * (self.amber_s + self.all_red_s)
            g_side += self.amber_s - 2.0
            cap_main = sat_flow_veh_h_lane * self.lanes * g_main / c
            cap_side = sat_flow_veh_h_lane * g_side / c
            worst = max(
                worst,
                self.flow_east_veh_h / cap_main,
                self.flow_west_veh_h / cap_main,
                max(self.side_flows_veh_h[k]) / cap_side,
            )
        return worst

    def to_json(self) -> str:
        data = asdict(self)
        data["plan_offsets_s"] = self.plan_offsets_s  # derived, for reading the TOML
        data["degree_of_saturation"] = round(self.degree_of_saturation(), 4)  # derived
        return json.dumps(data, indent=2) + "\n"


def _cycle_values() -> np.ndarray:
    return np.arange(CYCLE_S[0], CYCLE_S[1] + 1, CYCLE_STEP_S)


def draw_params(
    seed: int, *, coordinated: bool | None = None, sigma: float = 0.5, duration_s: float = 3600.0
) -> CorridorParams:
    """Draw a corridor's parameters from one seed (pure Python, no files, no SUMO).

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.
    coordinated : bool, optional
        Force a green wave (True) or random offsets (False); None draws it (p = 0.5).
    sigma : float
        Krauss driver imperfection of SUMO's vType, in [0, 1].
    duration_s : float
        Simulated seconds (end of the flows and of the SUMO run).

    Returns
    -------
    CorridorParams

    Examples
    --------
    >>> p = draw_params(3)
    >>> 4 <= p.n_signals <= 10
    True
    """
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], not {sigma}")
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0, not {duration_s}")
    rng = np.random.default_rng(int(seed))
    cycles = _cycle_values()
    n = int(rng.integers(N_SIGNALS[0], N_SIGNALS[1] + 1))
    spacing = rng.integers(SPACING_M[0], SPACING_M[1] + 1, size=n - 1)
    coord_draw = bool(rng.random() < P_COORDINATED)
    common = int(rng.choice(cycles))
    per_signal_draw = bool(rng.random() < P_PER_SIGNAL_CYCLES)
    own = rng.choice(cycles, size=n)
    split = rng.uniform(*GREEN_SPLIT, size=n)
    v_kmh = round(float(rng.uniform(*PROGRESSION_KMH)), 1)
    direction = "east" if rng.random() < 0.5 else "west"
    u_offset = rng.random(size=n)
    lanes = int(rng.integers(LANES[0], LANES[1] + 1))
    flows = rng.integers(FLOW_ARTERIAL_VEH_H[0], FLOW_ARTERIAL_VEH_H[1] + 1, size=2)
    side = rng.integers(FLOW_SIDE_VEH_H[0], FLOW_SIDE_VEH_H[1] + 1, size=(n, 2))

    coord = coord_draw if coordinated is None else bool(coordinated)
    per_signal = per_signal_draw and not coord
    cyc = [int(c) for c in own] if per_signal else [common] * n
    green = []
    for c, s in zip(cyc, split, strict=True):
        lo, hi = math.ceil(GREEN_SPLIT[0] * c), math.floor(GREEN_SPLIT[1] * c)
        green.append(int(min(max(round(s * c), lo), hi)))
    pos = np.concatenate([[0.0], np.cumsum(spacing, dtype=float)])
    if coord:
        x = pos if direction == "east" else pos[-1] - pos
        offsets = [round(xi / kmh_to_ms(v_kmh)) % c for xi, c in zip(x, cyc, strict=True)]
    else:
        offsets = [math.floor(u * c) % c for u, c in zip(u_offset, cyc, strict=True)]
    return CorridorParams(
        seed=int(seed),
        n_signals=n,
        spacing_m=[int(s) for s in spacing],
        coordinated=coord,
        per_signal_cycles=per_signal,
        cycle_s=cyc,
        green_split=[round(float(s), 4) for s in split],
        main_green_s=green,
        progression_kmh=v_kmh,
        wave_direction=direction,
        offsets_s=offsets,
        lanes=lanes,
        flow_east_veh_h=int(flows[0]),
        flow_west_veh_h=int(flows[1]),
        side_flows_veh_h=[(int(a), int(b)) for a, b in side],
        sigma=float(sigma),
        duration_s=float(duration_s),
        signal_ids=[f"J{k}" for k in range(n)],
    )


# ----------------------------------------------------------------------------- geometry


def _projection(p: CorridorParams) -> LocalProjection:
    return LocalProjection(*p.origin_lonlat)


def _signal_xy(p: CorridorParams) -> np.ndarray:
    """(n, 2) metres in the projection about the corridor's midpoint."""
    pos = p.positions_m
    return np.stack([pos - pos[-1] / 2.0, np.zeros_like(pos)], axis=1)


def _side_links(p: CorridorParams):
    """``(link id, from xy, to xy, to signal or None, next or None, flow or None)``."""
    out = []
    for k, (jid, (x, y)) in enumerate(zip(p.signal_ids, _signal_xy(p), strict=True)):
        south, north = (x, y - p.stub_length_m), (x, y + p.stub_length_m)
        nb, sb = p.side_flows_veh_h[k]
        out += [
            (f"{jid}_nb0", south, (x, y), jid, f"{jid}_nb1", nb),
            (f"{jid}_nb1", (x, y), north, None, None, None),
            (f"{jid}_sb0", north, (x, y), jid, f"{jid}_sb1", sb),
            (f"{jid}_sb1", (x, y), south, None, None, None),
        ]
    return out


def _arterial_ids(p: CorridorParams, tag: str) -> list[str]:
    return [f"{CORRIDOR_ID}_{tag}{k}" for k in range(p.n_signals + 1)]


# ----------------------------------------------------------------------------- greenwave


def _f(x: float) -> str:
    return repr(float(x))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if isinstance(v, int) else _f(v)


def scenario_toml(p: CorridorParams) -> str:
    """The greenwave scenario of the corridor, as TOML text."""
    proj = _projection(p)
    lon, lat = proj.to_lonlat(*_signal_xy(p).T)
    plan_off = p.plan_offsets_s
    wave = (
        f"{p.wave_direction}bound green wave at {p.progression_kmh:g} km/h"
        if p.coordinated
        else "uncoordinated offsets"
    )
    cyc = (
        f"cycles {', '.join(map(str, p.cycle_s))} s"
        if len(set(p.cycle_s)) > 1
        else f"{p.cycle_s[0]} s cycle"
    )
    lines = [
        f"# Generated by greenwave.corridorgen (greenwave generate-corridor --seed {p.seed}).",
        "# A random corridor nobody has tuned to; the same corridor is in corridor.net.xml &",
        "# co. for SUMO, every drawn parameter in params.json.  Side streets are [[links]]",
        "# (approach, exit) with their own demand entries; all traffic goes straight through.",
        "",
        f'name = "corridor_seed{p.seed}"',
        f'description = "Generated corridor (seed {p.seed}): {p.n_signals} signals, '
        f'{p.positions_m[-1]:.0f} m, {cyc}, {wave}, {p.lanes} lane(s) per direction"',
        "",
        "[[corridors]]",
        f'id = "{CORRIDOR_ID}"',
        'name = "arterial"',
        "intersections = [" + ", ".join(f'"{j}"' for j in p.signal_ids) + "]",
        f'forward_group = "{MAIN_GROUP}"',
        f'backward_group = "{MAIN_GROUP}"',
        f"speed_limit_kmh = {_f(p.speed_arterial_kmh)}",
        f"lanes = {p.lanes}",
        f"entry_length_m = {_f(p.entry_length_m)}",
        f"exit_length_m = {_f(p.exit_length_m)}",
    ]
    if p.coordinated:
        lines.append(f"progression_kmh = {_f(p.progression_kmh)}")
    lines += ["", "[demand]", "scale = 1.0", "flow_veh_h_per_lane = 0.0"]
    entries = [(f"{CORRIDOR_ID}_f0", p.flow_east_veh_h), (f"{CORRIDOR_ID}_b0", p.flow_west_veh_h)]
    entries += [(lid, fl) for lid, _, _, _, _, fl in _side_links(p) if fl is not None]
    for lid, fl in entries:
        lines += ["[[demand.entries]]", f'link = "{lid}"', f"flow_veh_h = {_f(fl)}"]
    for section, values in (("drivers", DRIVERS), ("advisory", ADVISORY)):
        lines += ["", f"[{section}]"]
        for key, val in values.items():
            lines.append(f"{key} = {_toml_value(val)}")
    lines += [
        "",
        "[simulation]",
        f'start_time = "{p.start_time}"',
        f"duration_s = {_f(p.duration_s)}",
        f"warmup_s = {_f(min(600.0, p.duration_s / 2))}",
        "dt_s = 0.5",
        f"seed = {p.seed}",
    ]
    for k, jid in enumerate(p.signal_ids):
        c, g = p.cycle_s[k], p.main_green_s[k]
        clear = p.amber_s + p.all_red_s
        lines += [
            "",
            "[[intersections]]",
            f'id = "{jid}"',
            f'name = "signal {k + 1} (x = {p.positions_m[k]:.0f} m)"',
            f"lon = {_f(lon[k])}",
            f"lat = {_f(lat[k])}",
            "  [intersections.plan]",
            f"  cycle_s = {_f(c)}",
            f"  offset_s = {_f(plan_off[k])}   # main green starts at simulation second "
            f"{p.offsets_s[k]} (mod {c})",
            "  [[intersections.plan.groups]]",
            f'  id = "{MAIN_GROUP}"',
            f"  greens_s = [[0.0, {_f(g)}]]",
            f"  amber_s = {_f(p.amber_s)}",
            f"  all_red_s = {_f(p.all_red_s)}",
            f'  conflicts = ["{SIDE_GROUP}"]',
            "  [[intersections.plan.groups]]",
            f'  id = "{SIDE_GROUP}"',
            f"  greens_s = [[{_f(g + clear)}, {_f(c - clear)}]]",
            f"  amber_s = {_f(p.amber_s)}",
            f"  all_red_s = {_f(p.all_red_s)}",
        ]
    for lid, a, b, to, nxt, _ in _side_links(p):
        (lon_a, lon_b), (lat_a, lat_b) = proj.to_lonlat(
            np.array([a[0], b[0]]), np.array([a[1], b[1]])
        )
        lines += [
            "",
            "[[links]]",
            f'id = "{lid}"',
            f"polyline = [[{_f(lon_a)}, {_f(lat_a)}], [{_f(lon_b)}, {_f(lat_b)}]]",
            f"speed_limit_kmh = {_f(p.speed_side_kmh)}",
            "lanes = 1",
        ]
        if to is not None:
            lines += [f'to = "{to}"', f'signal_group = "{SIDE_GROUP}"', f'next = "{nxt}"']
    return "\n".join(lines) + "\n"


def corridor_scenario(p: CorridorParams) -> Scenario:
    """The validated greenwave scenario of the corridor."""
    return loads_scenario(scenario_toml(p), f"corridor_seed{p.seed}")


# ----------------------------------------------------------------------------- SUMO


def _plain_files(p: CorridorParams, sc: Scenario, out: Path) -> None:
    """``corridor.nod.xml``, ``.edg.xml`` and ``.con.xml``."""
    from greenwave.network import build_network

    from .projection import eqc_proj_string

    net, _ = build_network(sc)
    length = {lid: float(net.link_length_m[k]) for k, lid in enumerate(net.link_ids)}
    proj = _projection(p)
    sxy = _signal_xy(p)
    west = (sxy[0, 0] - p.entry_length_m, 0.0)
    east = (sxy[-1, 0] + p.exit_length_m, 0.0)
    nodes = ET.Element("nodes")
    xs = [west[0], east[0]]
    ys = [-p.stub_length_m, p.stub_length_m]
    lon, lat = proj.to_lonlat(np.array(xs), np.array(ys))
    ET.SubElement(
        nodes,
        "location",
        {
            "netOffset": "0.00,0.00",
            "convBoundary": ",".join(num_text(v, 2) for v in (xs[0], ys[0], xs[1], ys[1])),
            "origBoundary": ",".join(num_text(v, 7) for v in (lon[0], lat[0], lon[1], lat[1])),
            "projParameter": eqc_proj_string(proj),
        },
    )
    pt = {"W": west, "E": east}
    for jid, (x, y) in zip(p.signal_ids, sxy, strict=True):
        pt[jid] = (x, y)
        pt[f"{jid}_n"] = (x, y + p.stub_length_m)
        pt[f"{jid}_s"] = (x, y - p.stub_length_m)
    for nid, (x, y) in pt.items():
        attrs = {"id": nid, "x": num_text(x, 2), "y": num_text(y, 2)}
        attrs["type"] = "traffic_light" if nid in p.signal_ids else "dead_end"
        if nid in p.signal_ids:
            attrs["tl"] = nid
        ET.SubElement(nodes, "node", attrs)

    ends = {}  # link id → (from node, to node, lanes, speed km/h)
    east_seq = ["W", *p.signal_ids, "E"]
    for tag, seq in (("f", east_seq), ("b", east_seq[::-1])):
        for k, lid in enumerate(_arterial_ids(p, tag)):
            ends[lid] = (seq[k], seq[k + 1], p.lanes, p.speed_arterial_kmh)
    for lid, _, _, to, _nxt, _ in _side_links(p):
        jid = lid.split("_")[0]
        north_bound = "_nb" in lid
        a, b = (f"{jid}_s", f"{jid}_n") if north_bound else (f"{jid}_n", f"{jid}_s")
        ends[lid] = (
            (a, jid, 1, p.speed_side_kmh) if to is not None else (jid, b, 1, p.speed_side_kmh)
        )
    edges = ET.Element("edges")
    for lid, (a, b, lanes, v) in ends.items():
        ET.SubElement(
            edges,
            "edge",
            {
                "id": lid,
                "from": a,
                "to": b,
                "priority": "2" if lid.startswith(CORRIDOR_ID) else "1",
                "numLanes": str(lanes),
                "speed": num_text(kmh_to_ms(v), 6),
                "length": num_text(length[lid], 3),
            },
        )
    cons = ET.Element("connections")
    nexts: dict[str, str] = {}
    for tag in ("f", "b"):
        ids = _arterial_ids(p, tag)
        nexts.update(itertools.pairwise(ids))
    nexts.update({lid: nxt for lid, _, _, _, nxt, _ in _side_links(p) if nxt})
    for lid, (_, _, lanes, _) in ends.items():
        if lid in nexts:
            for i in range(lanes):
                ET.SubElement(
                    cons,
                    "connection",
                    {"from": lid, "to": nexts[lid], "fromLane": str(i), "toLane": str(i)},
                )
        else:
            ET.SubElement(cons, "connection", {"from": lid})  # exit: no connection at all
    write_xml(nodes, out / f"{PREFIX}.nod.xml")
    write_xml(edges, out / f"{PREFIX}.edg.xml")
    write_xml(cons, out / f"{PREFIX}.con.xml")


_DATE = re.compile(r"generated on \S+ by")


def internal_lengths(net_file: Path) -> dict[str, float]:
    """Per edge of a SUMO net (m): the length of the junction-internal lanes a vehicle drives
    just before entering it (the longest over its incoming connections, ``via`` chains
    followed; edges entered from no junction are left out)."""
    root = ET.parse(net_file).getroot()
    lane_len = {
        ln.get("id", ""): float(ln.get("length", "0"))
        for e in root.iter("edge")
        if e.get("function") == "internal"
        for ln in e.iter("lane")
    }
    via_next: dict[str, str] = {}  # an internal lane -> the internal lane after it
    for c in root.iter("connection"):
        frm = c.get("from", "")
        if frm.startswith(":") and c.get("via"):
            via_next[f"{frm}_{c.get('fromLane')}"] = c.get("via", "")
    into: dict[str, float] = {}
    for c in root.iter("connection"):
        via, to = c.get("via"), c.get("to", "")
        if not via or c.get("from", "").startswith(":"):
            continue
        total, lane, seen = 0.0, via, set()
        while lane and lane not in seen:
            seen.add(lane)
            total += lane_len.get(lane, 0.0)
            lane = via_next.get(lane, "")
        into[to] = max(into.get(to, 0.0), total)
    return into


def _shorten_edges(edg_file: Path, by_m: dict[str, float]) -> None:
    """Shorten the ``length`` of the edges in a plain edge file by ``by_m`` (m)."""
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    root = ET.parse(edg_file).getroot()
    for e in root.iter("edge"):
        cut = by_m.get(e.get("id", ""), 0.0)
        if cut > 0.0:
            length = float(e.get("length", "nan")) - cut
            if not length > 1.0:
                raise ValueError(f"edge {e.get('id')}: shorter than its junction ({cut:.1f} m)")
            e.set("length", num_text(length, 3))
    write_xml(root, edg_file)


def _netconvert(exe: str, out: Path, args: list[str], target: str) -> None:
    from .tools import run_netconvert

    run_netconvert(
        exe, out, [*args, "--offset.disable-normalization", "true", "-o", target], target
    )
    path = out / target
    text = path.read_text(encoding="utf-8")
    path.write_text(_DATE.sub("generated by", text, count=1), encoding="utf-8")


def _tll_additional(p: CorridorParams, sc: Scenario, out: Path) -> None:
    """``corridor.tll.add.xml`` from the link indices of the built ``corridor.net.xml``."""
    from .signals import signal_program, sumo_offset

    index: dict[str, dict[int, str]] = {j: {} for j in p.signal_ids}
    for el in ET.parse(out / f"{PREFIX}.net.xml").getroot().iter("connection"):
        tl_id = el.get("tl")
        if tl_id:
            src = el.get("from", "")
            group = MAIN_GROUP if src.startswith(CORRIDOR_ID + "_") else SIDE_GROUP
            index[tl_id][int(el.get("linkIndex", "-1"))] = group
    plans = {it.id: it.plan for it in sc.intersections}
    epoch = sc.simulation.epoch_s
    root = ET.Element("additional")
    for jid in p.signal_ids:
        links = index[jid]
        n = max(links) + 1
        if sorted(links) != list(range(n)) or set(links.values()) != {MAIN_GROUP, SIDE_GROUP}:
            raise RuntimeError(f"netconvert gave '{jid}' unexpected link indices {links}")
        plan = plans[jid]
        bounds, colours = signal_program(plan, [MAIN_GROUP, SIDE_GROUP])
        offset = sumo_offset(plan, epoch)
        if abs(offset - p.offsets_s[p.signal_ids.index(jid)]) > 1e-6:  # a bug, not bad input
            raise RuntimeError(f"'{jid}': SUMO offset {offset} is not the drawn offset")
        tl = ET.SubElement(
            root,
            "tlLogic",
            {"id": jid, "type": "static", "programID": PROGRAM_ID, "offset": num_text(offset)},
        )
        char = {RED: "r", AMBER: "y", GREEN: "G"}
        for k in range(len(bounds) - 1):
            state = "".join(char[int(colours[links[i]][k])] for i in range(n))
            ET.SubElement(
                tl, "phase", {"duration": num_text(bounds[k + 1] - bounds[k]), "state": state}
            )
        params = {
            "start_time": p.start_time,
            "offset_s": num_text(plan.offset_s),
            "groups": " ".join(g.id for g in plan.groups),
        }
        for g in plan.groups:
            params[f"group.{g.id}"] = json.dumps(
                {
                    "links": [i for i in range(n) if links[i] == g.id],
                    "greens_s": [[float(s), float(e)] for s, e in g.greens_s],
                    "amber_s": g.amber_s,
                    "all_red_s": g.all_red_s,
                    "conflicts": g.conflicts,
                },
                separators=(",", ":"),
            )
        for key, value in params.items():
            ET.SubElement(tl, "param", {"key": PARAM + key, "value": value})
    write_xml(root, out / f"{PREFIX}.tll.add.xml")


def _routes(p: CorridorParams, out: Path) -> None:
    root = ET.Element("routes")
    ET.SubElement(root, "vType", {**VTYPE, "sigma": num_text(p.sigma, 4)})
    chains = [
        (_arterial_ids(p, "f"), p.flow_east_veh_h),
        (_arterial_ids(p, "b"), p.flow_west_veh_h),
    ]
    chains += [([lid, nxt], fl) for lid, _, _, _, nxt, fl in _side_links(p) if fl is not None]
    for edges, _ in chains:
        ET.SubElement(root, "route", {"id": f"r_{edges[0]}", "edges": " ".join(edges)})
    for edges, flow in chains:
        ET.SubElement(
            root,
            "flow",
            {
                "id": edges[0],
                "type": VTYPE["id"],
                "route": f"r_{edges[0]}",
                "begin": "0",
                "end": num_text(p.duration_s),
                "period": f"exp({flow / 3600.0:.9g})",
                "departLane": "random",
                "departSpeed": "desired",
                "departPos": "base",
            },
        )
    write_xml(root, out / f"{PREFIX}.rou.xml")


def _sumocfg(p: CorridorParams, out: Path) -> None:
    cfg = ET.Element("configuration")
    inp = ET.SubElement(cfg, "input")
    ET.SubElement(inp, "net-file", {"value": f"{PREFIX}.net.xml"})
    ET.SubElement(inp, "route-files", {"value": f"{PREFIX}.rou.xml"})
    ET.SubElement(inp, "additional-files", {"value": f"{PREFIX}.tll.add.xml"})
    tm = ET.SubElement(cfg, "time")
    ET.SubElement(tm, "begin", {"value": "0"})
    ET.SubElement(tm, "end", {"value": num_text(p.duration_s)})
    ET.SubElement(tm, "step-length", {"value": num_text(STEP_LENGTH_S)})
    ET.SubElement(ET.SubElement(cfg, "processing"), "time-to-teleport", {"value": "-1"})
    ET.SubElement(ET.SubElement(cfg, "random_number"), "seed", {"value": str(p.seed)})
    ET.SubElement(ET.SubElement(cfg, "output"), "tripinfo-output", {"value": "tripinfo.xml"})
    ET.SubElement(ET.SubElement(cfg, "emissions"), "device.emissions.probability", {"value": "1"})
    rep = ET.SubElement(cfg, "report")
    ET.SubElement(rep, "duration-log.statistics", {"value": "true"})
    ET.SubElement(rep, "no-step-log", {"value": "true"})
    write_xml(cfg, out / f"{PREFIX}.sumocfg")


def generate_corridor(
    seed: int,
    out: str | Path,
    *,
    coordinated: bool | None = None,
    sigma: float = 0.5,
    duration_s: float = 3600.0,
    build_net: bool = True,
) -> CorridorParams:
    """Draw a corridor from ``seed`` and write it into ``out`` (created) in both formats.

    Parameters
    ----------
    seed, coordinated, sigma, duration_s
        As :func:`draw_params`.
    out : path
        Output directory; the files are :data:`FILES`.
    build_net : bool
        Run netconvert (needs the ``[sumo]`` extra).  False writes everything that needs no
        SUMO: plain XML, routes, ``.sumocfg``, ``corridor.toml`` and ``params.json``.

    Returns
    -------
    CorridorParams

    Raises
    ------
    greenwave.sumo_io.SumoError
        netconvert is missing (with ``build_net``) or fails.
    """
    from .tools import find_sumo_tool
    from .xmlio import SumoError

    p = draw_params(seed, coordinated=coordinated, sigma=sigma, duration_s=duration_s)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = scenario_toml(p)
    sc = loads_scenario(text, str(out / f"{PREFIX}.toml"))
    (out / f"{PREFIX}.toml").write_text(text, encoding="utf-8")
    (out / "params.json").write_text(p.to_json(), encoding="utf-8")
    _plain_files(p, sc, out)
    _routes(p, out)
    _sumocfg(p, out)
    if build_net:
        exe = find_sumo_tool("netconvert")
        if exe is None:
            raise SumoError(
                "netconvert not found: pip install 'greenwave[sumo]' (or pass "
                "build_net=False for the files that need no SUMO)"
            )
        plain = ["-n", f"{PREFIX}.nod.xml", "-e", f"{PREFIX}.edg.xml", "-x", f"{PREFIX}.con.xml"]
        _netconvert(exe, out, plain, f"{PREFIX}.net.xml")
        # Greenwave's junctions have no width: a link runs from stop line to stop line.  SUMO
        # adds a junction-internal lane between its edges; shorten every edge by the internal
        # lane that leads into it, so that stop lines are as far apart in both (built twice:
        # the internal lanes' lengths are netconvert's).
        into = internal_lengths(out / f"{PREFIX}.net.xml")
        _shorten_edges(out / f"{PREFIX}.edg.xml", into)
        _netconvert(exe, out, plain, f"{PREFIX}.net.xml")
        again = internal_lengths(out / f"{PREFIX}.net.xml")
        if any(abs(again.get(e, 0.0) - v) > 0.01 for e, v in into.items()):
            raise SumoError("netconvert changed the junction-internal lanes with the edge lengths")
        _tll_additional(p, sc, out)
        _netconvert(
            exe,
            out,
            ["-s", f"{PREFIX}.net.xml", "-i", f"{PREFIX}.tll.add.xml"],
            f"{PREFIX}.merged.net.xml",
        )
    return p
