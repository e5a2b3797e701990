"""The SUMO bridge with turning traffic (issue 15).

Export: every turning movement becomes SUMO connections, lane by lane as greenwave's vehicles
drive them, each with its own signal link index showing its movement's group (``g`` for a
permitted left while the opposing approach has green); turning demand is written as the very
vehicles greenwave's simulator runs.  Import: SUMO connections become movements (turn from
``dir``, or the geometry in plain files), ``next`` stays the straight connection, a program
with more phases than the approaches gives ``turn_groups``, and the routes give the turning
shares.  Bad input names the file, element and attribute.

The plain-XML tests need no SUMO; those marked ``needs_sumo`` run netconvert, netgenerate and
sumo from the ``[sumo]`` extra.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.movements import LEFT, RIGHT, THROUGH, TURN_NAMES
from greenwave.network import World
from greenwave.scenario import Scenario, parse_scenario
from greenwave.sim.demand import draw_arrivals
from greenwave.sim.engine import Simulation
from greenwave.sumo.export import export_sumo, lane_on
from greenwave.sumo.importer import read_sumo
from greenwave.sumo.tools import find_sumo_tool, tool_env
from greenwave.sumo.xmlio import SumoError
from greenwave.timing import AMBER, GREEN

ROOT = Path(__file__).resolve().parent.parent
# Not a whole number of cycles (nor seconds) after the epoch: a wrong offset would show.
ODD_START = "2026-11-23T07:30:17.5+08:00"
SUMO = find_sumo_tool("sumo")
HAVE_SUMO = (
    SUMO is not None
    and find_sumo_tool("netconvert") is not None
    and importlib.util.find_spec("sumolib") is not None
)
needs_sumo = pytest.mark.skipif(not HAVE_SUMO, reason="SUMO not installed (the [sumo] extra)")
SHARES = {"left": 0.15, "through": 0.7, "right": 0.15}


def turning_grid(left_phase: bool, turning: dict | None = SHARES, duration_s: float = 600.0):
    """A 3 × 3 grid, 2 lanes, 300 m blocks, turning at every approach."""
    demand: dict = {"flow_veh_h_per_lane": 150.0}
    if turning is not None:
        demand["turning"] = turning
    return parse_scenario(
        {
            "name": "turning grid",
            "grid": {
                "rows": 3,
                "cols": 3,
                "lanes": 2,
                "spacing_m": 300.0,
                "entry_length_m": 200.0,
                "left_turn_phase": left_phase,
            },
            "demand": demand,
            "simulation": {"duration_s": duration_s, "warmup_s": 0.0, "start_time": ODD_START},
        }
    )


def tll_connections(path: Path) -> list[tuple[str, int, str, int, str, int]]:
    root = ET.parse(path).getroot()
    return [
        (
            c.get("from"),
            int(c.get("fromLane")),
            c.get("to"),
            int(c.get("toLane")),
            c.get("tl"),
            int(c.get("linkIndex")),
        )
        for c in root.findall("connection")
    ]


def movement_of(world: World) -> dict[tuple[str, str], int]:
    """(from link, to link) → movement row."""
    net = world.network
    mv = net.movements
    return {(net.link_ids[mv.from_link[m]], net.link_ids[mv.to_link[m]]): m for m in range(mv.size)}


def opposing_green(world: World, m: int, t_abs: np.ndarray) -> np.ndarray:
    """Whether a non-left movement of the approach opposing left turn ``m`` is green."""
    mv = world.network.movements
    plans = world.timing.plans
    rows = np.arange(mv.first[mv.opposing_link[m]], mv.first[mv.opposing_link[m] + 1])
    out = np.zeros(t_abs.shape, dtype=bool)
    for r in rows[mv.turn[rows] != LEFT]:
        st, _ = plans.state(np.full(t_abs.shape, mv.group[r]), t_abs)
        out |= st == GREEN
    return out


# ----------------------------------------------------------------------------- export


def test_every_movement_is_connections_lane_by_lane(tmp_path):
    sc = turning_grid(left_phase=True)
    res = export_sumo(sc, tmp_path, build_net=False)
    w = World.build(sc)
    net, mv = w.network, w.network.movements
    want = set()
    for m in range(mv.size):
        a, b, turn = int(mv.from_link[m]), int(mv.to_link[m]), int(mv.turn[m])
        n_a, n_b = int(net.link_lanes[a]), int(net.link_lanes[b])
        lanes = range(n_a) if turn == THROUGH else [n_a - 1 if turn == LEFT else 0]
        for i in lanes:
            want.add((net.link_ids[a], i, net.link_ids[b], lane_on(turn, i, n_b)))
    got = tll_connections(res.files["tls"])
    assert {c[:4] for c in got} == want
    assert len(got) == len(want) == 144  # 36 approaches: 2 through + 1 left + 1 right lane
    # A left turn leaves from the leftmost lane, a right turn from lane 0 (2-lane grid).
    turn_of = {k: int(mv.turn[m]) for k, m in movement_of(w).items()}
    assert {c[1] for c in got if turn_of[c[0], c[2]] == LEFT} == {1}
    assert {c[1] for c in got if turn_of[c[0], c[2]] == RIGHT} == {0}
    # Each connection its own link index, 0..K-1 at every traffic light.
    by_tl: dict[str, list[int]] = {}
    for c in got:
        by_tl.setdefault(c[4], []).append(c[5])
    assert len(by_tl) == 9
    assert all(sorted(ix) == list(range(len(ix))) for ix in by_tl.values())
    # The connection file lists the same pairs; exit links get "no connection" entries.
    cons = ET.parse(res.files["connections"]).getroot().findall("connection")
    pairs = {
        (c.get("from"), int(c.get("fromLane")), c.get("to"), int(c.get("toLane")))
        for c in cons
        if c.get("to")
    }
    assert pairs == want
    none = {c.get("from") for c in cons if c.get("to") is None}
    assert none == {lid for k, lid in enumerate(net.link_ids) if net.link_intersection[k] < 0}


@pytest.mark.parametrize("left_phase", [False, True])
def test_program_shows_each_movements_group_over_a_cycle(tmp_path, left_phase):
    """Phase by phase, every link index shows its movement's group under SUMO's offset rule;
    a left turn is 'g' exactly while the opposing approach has green (permitted)."""
    sc = turning_grid(left_phase)
    res = export_sumo(sc, tmp_path, build_net=False)
    w = World.build(sc)
    plans, mrow = w.timing.plans, movement_of(w)
    mv = w.network.movements
    t = np.arange(0.0, 240.0, 0.25)
    conns = tll_connections(res.files["tls"])
    minor = 0
    for tl in ET.parse(res.files["tls"]).getroot().findall("tlLogic"):
        durs = np.array([float(p.get("duration")) for p in tl.iter("phase")])
        states = np.array([list(p.get("state")) for p in tl.iter("phase")])
        bounds = np.concatenate([[0.0], np.cumsum(durs)])
        k = np.searchsorted(bounds, (t - float(tl.get("offset"))) % bounds[-1], side="right") - 1
        for f, _, to, _, tl_id, idx in conns:
            if tl_id != tl.get("id"):
                continue
            m = mrow[f, to]
            st, _ = plans.state(np.full(t.shape, mv.group[m]), w.epoch_s + t)
            shown = states[k, idx]
            assert np.array_equal(np.isin(shown, ["G", "g"]), st == GREEN), (f, to)
            assert np.array_equal(shown == "y", st == AMBER), (f, to)
            permitted = (mv.turn[m] == LEFT) & opposing_green(w, m, w.epoch_s + t)
            assert np.array_equal(shown == "g", (st == GREEN) & permitted), (f, to)
            minor += int((shown == "g").sum())
    assert (minor > 0) != left_phase  # permitted lefts on two phases, protected on four


def test_turning_demand_is_the_simulators_own_vehicles(tmp_path):
    """One <vehicle> per greenwave arrival: departure, lane, route, speed factor; in time
    order; the simulator with the same seed runs the same arrivals."""
    sc = turning_grid(left_phase=False)
    res = export_sumo(sc, tmp_path, duration_s=600, seed=7, build_net=False)
    w = World.build(sc)
    net = w.network
    arr = draw_arrivals(sc, net, 7, 600.0)
    assert arr.route is not None and arr.route_links is not None
    root = ET.parse(res.files["routes"]).getroot()
    assert root.findall("flow") == []
    routes = {r.get("id"): r.get("edges").split() for r in root.findall("route")}
    vehicles = root.findall("vehicle")
    assert len(vehicles) == arr.count > 300
    departs = [float(v.get("depart")) for v in vehicles]
    assert departs == sorted(departs)
    for v in vehicles:
        k = int(v.get("id")[1:])
        row = arr.route_links[arr.route[k]]
        assert routes[v.get("route")] == [net.link_ids[i] for i in row[row >= 0]]
        assert float(v.get("depart")) == pytest.approx(arr.time_s[k], abs=1e-6)
        assert int(v.get("departLane")) == arr.lane[k]
        assert float(v.get("speedFactor")) == pytest.approx(arr.desired_factor[k], abs=1e-6)
        assert v.get("departSpeed") == "desired" and v.get("departPos") == "base"
    assert len({len(r) for r in routes.values()}) > 1  # some turn (straight on: 4 links)
    sim = Simulation(w, 7, advisory=False, duration_s=600.0, warmup_s=0.0)
    np.testing.assert_array_equal(sim.arr.time_s, arr.time_s)
    np.testing.assert_array_equal(sim.arr.route_links[sim.arr.route], arr.route_links[arr.route])
    assert any("turning demand" in n and "seed 7" in n for n in res.notes)


def test_without_turning_demand_the_flows_stay(tmp_path):
    """Movements nobody takes are still connections, but the demand stays one flow per
    entry on its straight route."""
    sc = turning_grid(left_phase=False, turning=None)
    res = export_sumo(sc, tmp_path, duration_s=600, arrivals="poisson", build_net=False)
    root = ET.parse(res.files["routes"]).getroot()
    assert root.findall("vehicle") == []
    flows = root.findall("flow")
    assert len(flows) == 12 and {f.get("period") for f in flows} == {"exp(0.0833333333)"}
    routes = {r.get("id"): r.get("edges").split() for r in root.findall("route")}
    assert {len(r) for r in routes.values()} == {4}  # entry, 2 blocks, exit: straight on
    assert len(tll_connections(res.files["tls"])) == 144
    vt = root.find("vType")
    assert vt.get("lcStrategic") is None  # lane_change=True: SUMO's own lane changing


def test_no_lane_change_keeps_strategic_changes_for_turning_routes(tmp_path):
    keys = ("lcStrategic", "lcCooperative", "lcSpeedGain", "lcKeepRight")
    vts = {}
    for name, turning in (("turning", SHARES), ("straight", None)):
        sc = turning_grid(left_phase=False, turning=turning)
        res = export_sumo(sc, tmp_path / name, lane_change=False, build_net=False)
        vt = ET.parse(res.files["routes"]).getroot().find("vType")
        vts[name] = [vt.get(k) for k in keys]
    assert vts["straight"] == ["-1", "-1", "0", "0"]  # nobody changes lanes
    assert vts["turning"] == [None, "-1", "0", "0"]  # only where the route needs it


@pytest.fixture(scope="module", params=[False, True], ids=["two_phase", "left_phase"])
def sumo_run(request, tmp_path_factory):
    """A turning grid exported with netconvert and run by SUMO for 300 s, signal states of
    every step saved."""
    if not HAVE_SUMO:
        pytest.skip("SUMO not installed (the [sumo] extra)")
    sc = turning_grid(request.param, duration_s=300.0)
    out = tmp_path_factory.mktemp("turning")
    # SUMO lane-changes only where a route needs it (lane_change=False): its speed-gain
    # changes just before a junction occasionally come closer than minGap, which SUMO counts
    # as a collision (seen once in 300 s here), a matter of its LC2013, not of the export.
    res = export_sumo(sc, out, duration_s=300.0, seed=3, lane_change=False)
    assert res.net_built, res.notes
    add = ET.Element("additional")
    for tl in res.link_index:
        ET.SubElement(add, "timedEvent", {"type": "SaveTLSStates", "source": tl, "dest": "tls.xml"})
    ET.ElementTree(add).write(out / "tls.add.xml")
    proc = subprocess.run(
        [SUMO, "-c", "scenario.sumocfg", "-a", "tls.add.xml", "--vehroute-output", "vr.xml"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        env=tool_env(SUMO),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sc, res, proc


@needs_sumo
def test_sumo_shows_each_connection_its_movements_state(sumo_run):
    """Step by step, SUMO's state of every connection of the built net is greenwave's state
    of the movement's group ('G' or 'g' on green, 'g' only for a permitted left)."""
    import sumolib

    sc, res, _ = sumo_run
    w = World.build(sc)
    plans, mrow = w.timing.plans, movement_of(w)
    mv = w.network.movements
    rows = ET.parse(res.outdir / "tls.xml").getroot().findall("tlsState")
    states: dict[str, list[str]] = {}
    times: dict[str, list[float]] = {}
    for r in rows:
        states.setdefault(r.get("id"), []).append(r.get("state"))
        times.setdefault(r.get("id"), []).append(float(r.get("time")))
    assert len(states) == 9 and all(len(v) == 600 for v in states.values())  # 0.5 s steps
    snet = sumolib.net.readNet(str(res.files["net"]), withPrograms=True)
    n = 0
    for e in snet.getEdges():
        for target, cs in e.getOutgoing().items():
            for c in cs:
                m = mrow[e.getID(), target.getID()]
                tl, idx = c.getTLSID(), c.getTLLinkIndex()
                t_abs = w.epoch_s + np.array(times[tl])
                st, _ = plans.state(np.full(t_abs.shape, mv.group[m]), t_abs)
                got = np.array([s[idx] for s in states[tl]])
                assert np.array_equal(np.isin(got, ["G", "g"]), st == GREEN), (e.getID(), idx)
                assert np.array_equal(got == "y", st == AMBER), (e.getID(), idx)
                permitted = (mv.turn[m] == LEFT) & opposing_green(w, m, t_abs)
                assert np.array_equal(got == "g", (st == GREEN) & permitted), (e.getID(), idx)
                n += 1
    assert n == 144


@needs_sumo
def test_sumo_drives_the_exported_routes_without_collisions(sumo_run):
    sc, res, proc = sumo_run
    assert "collision" not in proc.stderr.lower() and "teleport" not in proc.stderr.lower()
    net = World.build(sc).network
    arr = draw_arrivals(sc, net, 3, 300.0)
    driven = ET.parse(res.outdir / "vr.xml").getroot().findall("vehicle")
    assert len(driven) > 50
    for v in driven:
        k = int(v.get("id")[1:])
        row = arr.route_links[arr.route[k]]
        assert v.find("route").get("edges").split() == [net.link_ids[i] for i in row[row >= 0]]


@needs_sumo
def test_red_light_monitor_checks_each_movements_own_signal(tmp_path):
    """In SUMO, a protected left crosses on its own group's green while the approach's through
    group is red: the controller's red-light monitor judges every crossing by the movement's
    group, so a run without advice counts no red crossings (and some lefts crossed)."""
    from greenwave.sumo.runner import run_sumo

    sc = turning_grid(left_phase=True, duration_s=300.0)
    res = export_sumo(sc, tmp_path, duration_s=300.0, seed=5, lane_change=False)
    w = World.build(sc)
    run = run_sumo(res.files["sumocfg"], seed=5, world=w, glosa={"penetration": 0.0}, tag="monitor")
    ctrl = run.controller
    assert ctrl.crossings > 100
    assert ctrl.red_crossings == 0, ctrl.red_crossing_ids[:5]
    net, mv = w.network, w.network.movements
    left = mv.turn == LEFT
    lefts = ctrl.crossing_groups(mv.from_link[left], mv.to_link[left])
    np.testing.assert_array_equal(lefts, mv.group[left])  # EW_L / NS_L, not EW / NS
    assert not np.array_equal(lefts, net.link_group[mv.from_link[left]])


def test_controller_advice_holds_along_the_path_it_was_given_for():
    """As in the simulator, SUMO's advised drivers keep advice for the stop lines of the path it
    was given for: seen from each link of a route, the next stop line's turn, how many stop
    lines from there on the advice's path shares with the route (straight on up to the next
    turn, or through the turn and on up to the turn after) and the approach link."""
    from types import SimpleNamespace

    from greenwave.sumo.controller import GlosaController

    w = World.build(turning_grid(left_phase=True))
    net = w.network
    ctrl = SimpleNamespace(net=net, _link=dict(net.link_index), _route_cache={})
    # Entry row1_f0, straight over g1_0, left at g1_1 onto col1_f2, straight over g2_1, exit.
    route = ("row1_f0", "row1_f1", "col1_f2", "col1_f3")
    info = GlosaController._stops_along(ctrl, route)
    k = net.link_index
    assert info == {
        k["row1_f0"]: (THROUGH, 1, k["row1_f0"]),  # g1_0 straight, then the turn
        k["row1_f1"]: (LEFT, 2, k["row1_f1"]),  # the left at g1_1, then g2_1 straight on
        k["col1_f2"]: (THROUGH, 1, k["col1_f2"]),  # g2_1 straight, then the exit
    }
    assert GlosaController._stops_along(ctrl, ("row1_f0", "not_a_link")) is None


@needs_sumo
def test_advised_turning_vehicles_run_no_red_light(tmp_path):
    """Every vehicle advised on a left-phase grid: no crossing on red (by its movement's
    group), advice given."""
    from greenwave.sumo.runner import run_sumo

    sc = turning_grid(left_phase=True, duration_s=300.0)
    res = export_sumo(sc, tmp_path, duration_s=300.0, seed=2, lane_change=False)
    run = run_sumo(
        res.files["sumocfg"],
        seed=2,
        world=World.build(sc),
        glosa={"penetration": 1.0, "check_red": True},
        tag="advised",
    )
    ctrl = run.controller
    assert ctrl.log.advised > 100 and ctrl.crossings > 100
    assert ctrl.red_crossings == 0, ctrl.red_crossing_ids[:5]


# ----------------------------------------------------------------------------- import


def test_export_import_keeps_movements_groups_and_turning_volumes(tmp_path, monkeypatch):
    """Through the plain files (no SUMO): the same movements on the same groups (protected
    lefts on EW_L / NS_L), and each approach's shares are the routes' vehicle counts."""
    monkeypatch.setitem(sys.modules, "sumolib", None)
    sc = turning_grid(left_phase=True)
    res = export_sumo(sc, tmp_path, duration_s=900, build_net=False)
    imp = read_sumo(res.files["nodes"], routes=res.files["routes"])
    back = imp.scenario

    def movements(s: Scenario) -> set:
        w = World.build(s)
        net, mv, keys = w.network, w.network.movements, w.timing.plans.group_keys
        return {
            (
                net.link_ids[mv.from_link[m]],
                net.link_ids[mv.to_link[m]],
                int(mv.turn[m]),
                keys[mv.group[m]],
            )
            for m in range(mv.size)
        }

    assert movements(back) == movements(sc)
    links = {ln.id: ln for ln in back.links}
    assert links["row1_f1"].signal_group == "EW" and links["row1_f1"].turn_groups.left == "EW_L"
    assert links["col1_b1"].signal_group == "NS" and links["col1_b1"].turn_groups.left == "NS_L"
    assert links["row1_f1"].next == "row1_f2"  # the through connection, not a turn
    # Turning shares: the route file's own counts of vehicles over each movement.
    root = ET.parse(res.files["routes"]).getroot()
    routes = {r.get("id"): r.get("edges").split() for r in root.findall("route")}
    counts: Counter = Counter()
    for v in root.findall("vehicle"):
        edges = routes[v.get("route")]
        counts.update(itertools.pairwise(edges))
    w = World.build(sc)
    turn_of = {k: TURN_NAMES[w.network.movements.turn[m]] for k, m in movement_of(w).items()}
    assert back.demand.turns
    for entry in back.demand.turns:
        total = sum(n for (a, _), n in counts.items() if a == entry.link)
        for (a, b), n in counts.items():
            if a == entry.link:
                assert getattr(entry, turn_of[a, b]) == pytest.approx(n / total, abs=1e-6)
    assert len(back.demand.vehicles) == len(root.findall("vehicle"))
    assert any("turn at the signals" in n for n in imp.notes)


@needs_sumo
@pytest.mark.skipif(find_sumo_tool("netgenerate") is None, reason="netgenerate not installed")
def test_netgenerate_grid_turns_from_dir_next_straight_no_u_turns(tmp_path):
    """netgenerate's grid (turnarounds included): every imported movement's turn is its
    connection's dir, next is the 's' connection even where most vehicles turn left, and no
    U-turn is a movement."""
    import sumolib

    net_path = tmp_path / "g.net.xml"
    subprocess.run(
        [find_sumo_tool("netgenerate"), "--grid", "--grid.number", "3", "--grid.length", "250",
         "--grid.attach-length", "200", "--default.lanenumber", "2", "--tls.guess", "true",
         "-o", str(net_path)],
        check=True, capture_output=True, env=tool_env(find_sumo_tool("netgenerate")),
    )  # fmt: skip
    (tmp_path / "r.rou.xml").write_text("""<routes>
  <route id="east" edges="left1A1 A1B1 B1C1 C1right1"/>
  <route id="left" edges="left1A1 A1B1 B1B2 B2top1"/>
  <route id="south" edges="top1B2 B2B1 B1B0 B0bottom1"/>
  <route id="west" edges="right1C1 C1B1 B1A1 A1left1"/>
  <flow id="fe" route="east" begin="0" end="900" vehsPerHour="100"/>
  <flow id="fl" route="left" begin="0" end="900" vehsPerHour="300"/>
  <flow id="fs" route="south" begin="0" end="900" vehsPerHour="200"/>
  <flow id="fw" route="west" begin="0" end="900" vehsPerHour="200"/>
</routes>""")
    imp = read_sumo(net_path, routes=tmp_path / "r.rou.xml", origin=(118.0, 36.8))
    sc = imp.scenario
    links = {ln.id: ln for ln in sc.links}
    a1b1 = links["A1B1"]
    assert a1b1.next == "B1C1"  # straight on, though 3 of 4 vehicles turn left
    assert {(m.to_link, m.turn) for m in a1b1.movements} == {
        ("B1C1", "through"),
        ("B1B2", "left"),
        ("B1B0", "right"),
    }
    (shares,) = [t for t in sc.demand.turns if t.link == "A1B1"]
    assert (shares.left, shares.through, shares.right) == (0.75, 0.25, 0.0)
    snet = sumolib.net.readNet(str(net_path))
    want = {"s": "through", "l": "left", "L": "left", "r": "right", "R": "right"}
    n = 0
    for ln in sc.links:
        for m in ln.movements or []:
            conns = snet.getEdge(ln.id).getConnections(snet.getEdge(m.to_link))
            (d,) = {c.getDirection() for c in conns}
            assert want[d] == m.turn, (ln.id, m.to_link)
            n += 1
        # No U-turn: no movement leads back to where the approach came from.
        back = snet.getEdge(ln.id).getFromNode().getID()
        assert all(snet.getEdge(m.to_link).getToNode().getID() != back for m in ln.movements or [])
    assert n >= 6
    w = World.build(sc)  # the movements validate and build
    assert w.network.movements.size >= n


HAND_NODES = """<nodes>
  <location netOffset="0,0" convBoundary="-300,-300,300,300" origBoundary="0,0,0,0"
            projParameter="+proj=eqc +lat_ts=36.8 +lat_0=36.8 +lon_0=118 +R=6371008.8 +units=m"/>
  <node id="C" x="0" y="0" type="traffic_light"/>
  <node id="w" x="-300" y="0"/> <node id="e" x="300" y="0"/>
  <node id="s" x="0" y="-300"/> <node id="n" x="0" y="300"/>
</nodes>"""
HAND_EDGES = (
    """<edges>
"""
    + "".join(
        f'  <edge id="{a}_in" from="{a}" to="C" numLanes="1" speed="13.89"/>\n'
        f'  <edge id="{a}_out" from="C" to="{a}" numLanes="1" speed="13.89"/>\n'
        for a in "wesn"
    )
    + "</edges>"
)
# Per approach: right, through, left (link indices 0-2 w, 3-5 e, 6-8 s, 9-11 n).
HAND_MOVES = {
    "w": ("s", "e", "n"),
    "e": ("n", "w", "s"),
    "s": ("e", "n", "w"),
    "n": ("w", "s", "e"),
}
HAND_CONS = (
    "<connections>\n"
    + "".join(
        f'  <connection from="{a}_in" to="{b}_out" fromLane="0" toLane="0"/>\n'
        for a in "wesn"
        for b in HAND_MOVES[a]
    )
    + "</connections>"
)
# EW through and right 30 s, amber 3; EW lefts protected 10 s, amber 3; NS through, right and
# permitted lefts ('g') 40 s, amber 3; all red 1 s.  The south approach's right turn is free
# ('G' all the time).
HAND_PHASES = [
    (30, "GGrGGr" + "rrrrrr"),
    (3, "yyryyr" + "rrrrrr"),
    (10, "rrGrrG" + "rrrrrr"),
    (3, "rryrry" + "rrrrrr"),
    (40, "rrrrrr" + "GGgGGg"),
    (3, "rrrrrr" + "yyyyyy"),
    (1, "rrrrrr" + "rrrrrr"),
]


def hand_junction(d: Path, free_right: bool = False) -> Path:
    """One hand-made four-arm junction C in plain files with a multi-phase program."""
    (d / "h.nod.xml").write_text(HAND_NODES)
    (d / "h.edg.xml").write_text(HAND_EDGES)
    (d / "h.con.xml").write_text(HAND_CONS)
    phases = []
    for dur, st in HAND_PHASES:
        if free_right:
            st = st[:6] + "G" + st[7:]  # link 6: the south approach's right turn
        phases.append(f'    <phase duration="{dur}" state="{st}"/>\n')
    conns = "".join(
        f'  <connection from="{a}_in" to="{b}_out" fromLane="0" toLane="0" tl="C" '
        f'linkIndex="{3 * i + j}"/>\n'
        for i, a in enumerate("wesn")
        for j, b in enumerate(HAND_MOVES[a])
    )
    (d / "h.tll.xml").write_text(
        '<tlLogics>\n  <tlLogic id="C" type="static" programID="p" offset="0">\n'
        + "".join(phases)
        + "  </tlLogic>\n"
        + conns
        + "</tlLogics>"
    )
    (d / "h.rou.xml").write_text("""<routes>
  <route id="wn" edges="w_in n_out"/> <route id="we" edges="w_in e_out"/>
  <route id="ew" edges="e_in w_out"/> <route id="sn" edges="s_in n_out"/>
  <route id="se" edges="s_in e_out"/> <route id="ns" edges="n_in s_out"/>
  <flow id="f1" route="wn" begin="0" end="600" vehsPerHour="100"/>
  <flow id="f2" route="we" begin="0" end="600" vehsPerHour="300"/>
  <flow id="f3" route="ew" begin="0" end="600" vehsPerHour="300"/>
  <flow id="f4" route="sn" begin="0" end="600" vehsPerHour="200"/>
  <flow id="f5" route="se" begin="0" end="600" vehsPerHour="50"/>
  <flow id="f6" route="ns" begin="0" end="600" vehsPerHour="200"/>
</routes>""")
    return d / "h.nod.xml"


def test_multi_phase_program_gives_turn_groups(tmp_path):
    """A protected left phase is its own group (turn_groups.left), a permitted left ('g' in
    the through phase) shares the through group; turns come from the geometry."""
    nod = hand_junction(tmp_path)
    imp = read_sumo(
        nod, routes=tmp_path / "h.rou.xml", start_time=datetime.fromisoformat(ODD_START)
    )
    sc = imp.scenario
    links = {ln.id: ln for ln in sc.links}
    (plan,) = [it.plan for it in sc.intersections]
    greens = {g.id: g.greens_s for g in plan.groups}
    for a in "we":
        ln = links[f"{a}_in"]
        assert greens[ln.signal_group] == [(0.0, 30.0)]
        assert greens[ln.turn_groups.left] == [(33.0, 43.0)]
        assert ln.turn_groups.right is None and ln.turn_groups.through is None
    for a in "sn":
        ln = links[f"{a}_in"]
        assert greens[ln.signal_group] == [(46.0, 86.0)] and ln.turn_groups is None
    assert {(m.to_link, m.turn) for m in links["w_in"].movements} == {
        ("s_out", "right"),
        ("e_out", "through"),
        ("n_out", "left"),
    }
    assert links["w_in"].next == "e_out" and links["s_in"].next == "n_out"
    (w_turns,) = [t for t in sc.demand.turns if t.link == "w_in"]
    assert (w_turns.left, w_turns.through, w_turns.right) == (0.25, 0.75, 0.0)
    # The simulator takes it: the west approach's left turns wait for their own green.
    w = World.build(sc)
    mv, plans = w.network.movements, w.timing.plans
    m = movement_of(w)["w_in", "n_out"]
    assert plans.group_keys[mv.group[m]] == ("C", links["w_in"].turn_groups.left)


def test_free_right_turn_beside_signalised_movements_is_left_out_and_noted(tmp_path):
    nod = hand_junction(tmp_path, free_right=True)
    imp = read_sumo(
        nod, routes=tmp_path / "h.rou.xml", start_time=datetime.fromisoformat(ODD_START)
    )
    s_in = next(ln for ln in imp.scenario.links if ln.id == "s_in")
    assert {m.to_link for m in s_in.movements} == {"n_out", "w_out"}  # no right onto e_out
    assert any(
        "s_in" in n and "right movement onto 'e_out'" in n and "left out" in n for n in imp.notes
    )


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("file", "old", "new", "match"),
    [
        ("h.con.xml", 'to="n_out" fromLane="0"', 'to="nowhere" fromLane="0"',
         r"h.con.xml: <connection from='w_in' to='nowhere'>: to: edge 'nowhere' is not"),
        ("h.con.xml", 'from="e_in" to="w_out" fromLane="0" toLane="0"',
         'from="e_in" to="w_out" fromLane="0" toLane="3"',
         r"h.con.xml: <connection from='e_in' to='w_out'>: toLane=3: edge 'w_out' has 1 lane"),
        ("h.tll.xml", 'linkIndex="4"', 'linkIndex="-4"',
         r"h.tll.xml: <connection from='e_in' to='w_out'>: linkIndex=-4 must be >= 0"),
    ],
)  # fmt: skip
def test_bad_connections_name_file_element_and_attribute(tmp_path, file, old, new, match):
    nod = hand_junction(tmp_path)
    text = (tmp_path / file).read_text()
    assert old in text
    (tmp_path / file).write_text(text.replace(old, new, 1))
    with pytest.raises(SumoError, match=match):
        read_sumo(nod, routes=tmp_path / "h.rou.xml")
    out = tmp_path / "o.toml"
    assert main(["import-sumo", str(nod), str(out), "--routes", str(tmp_path / "h.rou.xml")]) == 2
    assert not out.exists()


@needs_sumo
def test_route_over_unconnected_edges_is_an_error(tmp_path, capsys):
    """A built net lists every connection: a route turning where there is none is refused,
    naming the vehicle and the two edges, exit 2 (SUMO refuses it too)."""
    sc = turning_grid(left_phase=False, turning=None)
    res = export_sumo(sc, tmp_path, duration_s=60)
    assert res.net_built
    rou = tmp_path / "bad.rou.xml"
    rou.write_text("""<routes>
  <vehicle id="ok" depart="0"><route edges="row1_f0 row1_f1 col1_f2"/></vehicle>
  <vehicle id="jump" depart="5"><route edges="row1_f0 col2_f2"/></vehicle>
</routes>""")
    with pytest.raises(
        SumoError,
        match=r"bad.rou.xml: <vehicle id='jump'>: .*'row1_f0' to edge 'col2_f2'.*no connection",
    ):
        read_sumo(res.files["net"], routes=rou)
    out = tmp_path / "o.toml"
    assert main(["import-sumo", str(res.files["net"]), str(out), "--routes", str(rou)]) == 2
    err = capsys.readouterr().err
    assert "jump" in err and "Traceback" not in err and not out.exists()


# ----------------------------------------------------------------------------- vs_sumo --grid


@needs_sumo
def test_vs_sumo_grid_runs_the_same_trips_in_both():
    script = ROOT / "benchmarks" / "vs_sumo.py"
    argv = ["--grid", "2", "--seeds", "1", "--duration", "240", "--variants", "idm"]
    r = subprocess.run(
        [sys.executable, str(script), *argv, "--grid-cases", "two_phase", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    out = res["results"]["two_phase"]["idm"]
    assert out["greenwave"]["vehicles"]["mean"] == out["sumo"]["vehicles"]["mean"] > 20
    assert out["greenwave"]["unfinished"] == out["sumo"]["unfinished"] == 0
    assert out["sumo"]["collisions"] == 0
    assert set(out["goals"]) == {"travel_time_s", "mean_speed_kmh", "stops_per_veh", "throughput"}
    r = subprocess.run(
        [sys.executable, str(script), "--grid", "1", "--flow-per-lane", "nan"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--grid: 1 must be 2..20" in r.stderr and "--flow-per-lane: nan" in r.stderr


@needs_sumo
def test_glosa_vs_sumo_runs_each_seeds_own_turning_vehicles(tmp_path):
    # The bundled arterial turns: its demand is exported as greenwave's own vehicles, which
    # depend on the seed, so every seed needs its own route file (it used to run the export
    # seed's vehicles for all seeds).
    script = ROOT / "benchmarks" / "glosa_vs_sumo.py"
    argv = ["--seeds", "1,2", "--duration", "120", "--warmup", "0", "--penetrations", "1.0"]
    argv += ["--keep", tmp_path]
    r = subprocess.run(
        [sys.executable, str(script), *map(str, argv), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    depart = {}
    for s in (1, 2):
        routes = ET.parse(tmp_path / f"routes_{s}.rou.xml").getroot()
        depart[s] = {v.get("id"): float(v.get("depart")) for v in routes.iter("vehicle")}
    assert depart[1] != depart[2] and len(depart[1]) > 20
    for s in (1, 2):
        # The trips SUMO finished within the horizon are this seed's vehicles (id and the
        # departure asked for, SUMO's actual departure less its insertion delay).
        trips = list(ET.parse(tmp_path / f"tripinfo_none_s{s}.xml").getroot().iter("tripinfo"))
        assert len(trips) > 10
        for t in trips:
            asked = float(t.get("depart")) - float(t.get("departDelay"))
            assert asked == pytest.approx(depart[s][t.get("id")], abs=0.011)  # 2 decimals
