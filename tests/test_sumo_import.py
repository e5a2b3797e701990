"""``greenwave import-sumo`` of a user's SUMO files (issue 11): signal programs from additional
files as SUMO chooses them, demand from vehicles, trips, flows and route distributions, vTypes
mapped or reported as dropped, projection from ``<location>``, the corridor detected from the
routes, export → import → export round trip, bad input (exit 2 naming the element), and
``benchmarks/vs_sumo.py --net``.

The plain-XML tests need no SUMO; those marked ``needs_sumo`` run netconvert and sumo.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.coordination import corridor_timing
from greenwave.network import World
from greenwave.scenario import dumps_scenario, load_scenario, parse_scenario
from greenwave.sumo.importer import read_sumo
from greenwave.sumo.tools import find_sumo_tool
from greenwave.sumo.xmlio import SumoError

ROOT = Path(__file__).resolve().parent.parent
START = datetime.fromisoformat("2026-01-01T08:00:00+08:00")
HAVE_SUMO = (
    find_sumo_tool("sumo") is not None
    and find_sumo_tool("netconvert") is not None
    and importlib.util.find_spec("sumolib") is not None
)
needs_sumo = pytest.mark.skipif(not HAVE_SUMO, reason="SUMO not installed (the [sumo] extra)")

LOCATION = (
    '<location netOffset="0,0" convBoundary="0,-200,1100,200" origBoundary="0,0,0,0" '
    'projParameter="+proj=eqc +lat_ts=36.8 +lat_0=36.8 +lon_0=118 +R=6371008.8 +units=m"/>'
)


def _plain_net(d: Path, location: str = LOCATION, in_lanes: int = 1) -> Path:
    """Two signals J1, J2 on an east-west road w → e (edges in, mid, out; 'in' has ``in_lanes``
    lanes, the connections leave from lane 0), a side street s → J1 → n, and a net program '0'
    at each signal (2 link indices: the road, the side)."""
    (d / "n.nod.xml").write_text(f"""<nodes>{location}
  <node id="w" x="0" y="0"/> <node id="J1" x="400" y="0" type="traffic_light"/>
  <node id="J2" x="800" y="0" type="traffic_light"/> <node id="e" x="1100" y="0"/>
  <node id="s" x="400" y="-200"/> <node id="n" x="400" y="200"/>
</nodes>""")
    (d / "n.edg.xml").write_text(f"""<edges>
  <edge id="in" from="w" to="J1" numLanes="{in_lanes}" speed="13.89"/>
  <edge id="mid" from="J1" to="J2" numLanes="1" speed="13.89"/>
  <edge id="out" from="J2" to="e" numLanes="1" speed="13.89"/>
  <edge id="side" from="s" to="J1" numLanes="1" speed="11.11"/>
  <edge id="north" from="J1" to="n" numLanes="1" speed="11.11"/>
</edges>""")
    (d / "n.con.xml").write_text("""<connections>
  <connection from="in" to="mid" fromLane="0" toLane="0"/>
  <connection from="mid" to="out" fromLane="0" toLane="0"/>
  <connection from="side" to="north" fromLane="0" toLane="0"/>
</connections>""")
    (d / "n.tll.xml").write_text("""<tlLogics>
  <tlLogic id="J1" type="static" programID="0" offset="0">
    <phase duration="42" state="Gr"/> <phase duration="3" state="yr"/>
    <phase duration="42" state="rG"/> <phase duration="3" state="ry"/>
  </tlLogic>
  <tlLogic id="J2" type="static" programID="0" offset="0">
    <phase duration="42" state="G"/> <phase duration="3" state="y"/>
    <phase duration="45" state="r"/>
  </tlLogic>
  <connection from="in" to="mid" fromLane="0" toLane="0" tl="J1" linkIndex="0"/>
  <connection from="side" to="north" fromLane="0" toLane="0" tl="J1" linkIndex="1"/>
  <connection from="mid" to="out" fromLane="0" toLane="0" tl="J2" linkIndex="0"/>
</tlLogics>""")
    return d / "n.nod.xml"


ADD = """<additional>
  <tlLogic id="J1" type="static" programID="fixed" offset="10">
    <phase duration="30" state="Gr"/> <phase duration="4" state="yr"/>
    <phase duration="1" state="rr"/> <phase duration="25" state="rG"/>
    <phase duration="4" state="ry"/> <phase duration="1" state="rr"/>
  </tlLogic>
  <tlLogic id="J1" type="static" programID="evening" offset="0">
    <phase duration="50" state="Gr"/> <phase duration="3" state="yr"/>
    <phase duration="34" state="rG"/> <phase duration="3" state="ry"/>
  </tlLogic>
</additional>"""

ROUTES = """<routes>
  <vType id="krauss" accel="2.0" decel="4.0" sigma="0.5" tau="1.2" minGap="2.5" length="4.5"
         speedDev="0.1" lcStrategic="-1" color="1,0,0"/>
  <vType id="slow" accel="1.0" speedFactor="0.8"/>
  <route id="main" edges="in mid out"/>
  <routeDistribution id="sides">
    <route id="s1" edges="side north" probability="3"/>
    <route id="s2" edges="side north" probability="1"/>
  </routeDistribution>
  <vehicle id="v0" type="krauss" route="main" depart="0"/>
  <vehicle id="v1" type="krauss" route="main" depart="10"/>
  <vehicle id="v2" type="slow" depart="20"><route edges="in mid out"/></vehicle>
  <trip id="t0" type="krauss" depart="30" from="in" to="out"/>
  <flow id="f0" type="krauss" route="sides" begin="0" end="600" vehsPerHour="120"/>
  <flow id="f1" type="krauss" route="main" begin="0" end="600" period="exp(0.05)"/>
  <person id="p0" depart="0"><walk edges="in mid"/></person>
</routes>"""


@pytest.fixture
def net(tmp_path) -> Path:
    return _plain_net(tmp_path)


def _write(d: Path, name: str, text: str) -> Path:
    (d / name).write_text(text)
    return d / name


# ----------------------------------------------------------------------------- signal programs


def test_additional_programs_chosen_as_sumo_chooses(net, tmp_path):
    add = _write(tmp_path, "a.add.xml", ADD)
    res = read_sumo(net, additional=[add], start_time=START, corridor_edges=["in", "mid", "out"])
    plans = {it.id: it.plan for it in res.scenario.intersections}
    assert plans["J1"].cycle_s == 90 and plans["J1"].groups[0].greens_s == [(0.0, 50.0)]
    # The program loaded last runs; J2 has only the net's program: a warning names it.
    assert len(res.warnings) == 1 and "J2" in res.warnings[0] and "J1" not in res.warnings[0]
    res = read_sumo(
        net,
        additional=[add],
        program="fixed",
        start_time=START,
        corridor_edges=["in", "mid", "out"],
    )
    j1 = next(it.plan for it in res.scenario.intersections if it.id == "J1")
    assert j1.cycle_s == 65 and j1.groups[0].greens_s == [(0.0, 30.0)]
    assert j1.groups[0].amber_s == 4.0 and j1.groups[0].all_red_s == 1.0
    assert j1.offset_s == pytest.approx((10 + START.timestamp()) % 65)
    assert any("--program fixed: not defined for J2" in n for n in res.notes)
    with pytest.raises(SumoError, match=r"--program nope: no traffic light.*evening, fixed"):
        read_sumo(net, additional=[add], program="nope", corridor_edges=["in", "mid", "out"])


def test_without_additional_files_every_signal_is_named(net):
    res = read_sumo(net, corridor_edges=["in", "mid", "out"])
    assert "J1, J2" in res.warnings[0] and "net alone" in res.warnings[0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (ADD.replace("fixed", "0"), "program '0' of 'J1' is also in n.tll.xml"),
        (
            ADD.replace('duration="25" state="rG"', 'duration="25" state="r"'),
            "junction 'J1'.*2 link indices",
        ),
        (
            ADD.replace('id="J1" type="static" programID="evening"', 'id="JX" programID="e"'),
            "no traffic light 'JX'",
        ),
    ],
)
def test_programs_that_do_not_fit_the_net_are_errors(net, tmp_path, text, match):
    add = _write(tmp_path, "bad.add.xml", text)
    with pytest.raises(SumoError, match=match):
        read_sumo(net, additional=[add], corridor_edges=["in", "mid", "out"])


def test_longer_state_strings_are_a_note(net, tmp_path):
    add = _write(tmp_path, "long.add.xml", ADD.replace('state="Gr"', 'state="Grr"'))
    res = read_sumo(net, additional=[add], corridor_edges=["in", "mid", "out"])
    assert any("states longer than the 2 link indices of junction 'J1'" in n for n in res.notes)


# ----------------------------------------------------------------------------- demand and drivers


def test_demand_from_vehicles_trips_flows_and_distributions(net, tmp_path):
    rou = _write(tmp_path, "r.rou.xml", ROUTES)
    res = read_sumo(net, routes=[rou])
    sc = res.scenario
    entries = {e.link: e for e in sc.demand.entries}
    assert set(entries) == {"in", "side"}
    # The flows stay rates; the vehicles and the trip stay explicit departures.
    assert entries["in"].flow_veh_h == pytest.approx(180.0) and entries["in"].profile is None
    assert entries["side"].flow_veh_h == pytest.approx(120.0)  # both routes of the distribution
    assert [(v.link, v.depart_s) for v in sc.demand.vehicles] == [
        ("in", 0.0),
        ("in", 10.0),
        ("in", 20.0),
        ("in", 30.0),
    ]
    assert sc.simulation.duration_s == 600 and sc.simulation.warmup_s == 0
    notes = "\n".join(res.notes)
    assert "4 explicit departures (<vehicle>/<trip>) written as demand.vehicles" in notes
    assert "Poisson" not in notes.split("<flow>s kept as rates")[0]  # only the flows are rates
    assert "2 <flow>s kept as rates per entry link" in notes
    assert "are trips (from/to)" in notes and "1 × <person>" in notes
    # 'slow' has speedFactor 0.8 without speedDev: SUMO's normc(0.8, 0.1), drawn, not fixed.
    assert "1 × vType 'slow': normc(0.8,0.1,0.2,2)" in notes
    # Drivers: the vType most vehicles use, every attribute mapped or dropped with the reason.
    drv = sc.drivers
    assert (drv.accel_ms2, drv.decel_ms2, drv.time_headway_s) == (2.0, 4.0, 1.2)
    assert (drv.min_gap_m, drv.length_m, drv.desired_speed_factor_sd) == (2.5, 4.5, 0.1)
    assert (drv.car_following, drv.sigma) == ("krauss", 0.5)
    assert "sigma=0.5 → drivers.sigma (Krauss dawdling)" in notes
    assert "lcStrategic=-1: greenwave's vehicles keep their lane" in notes
    assert "tau=1.2 → drivers.time_headway_s (IDM time gap T / Krauss reaction time tau)" in notes
    assert "'slow' (1)" in notes  # the other vType's vehicle, approximated
    assert "color" not in notes  # display only


VEHICLES = """<routes>
  <vType id="car" speedDev="0" accel="2.0"/>
  <vType id="fast" speedFactor="1.2" speedDev="0"/>
  <vType id="drawn" speedFactor="1.1"/>
  <vTypeDistribution id="mix" vTypes="car fast"/>
  <route id="main" edges="in mid out"/>
  <vehicle id="a" type="car" route="main" depart="0.5" departLane="1" departSpeed="desired"/>
  <vehicle id="b" type="fast" route="main" depart="00:01:05" departLane="0"/>
  <vehicle id="c" type="drawn" route="main" depart="70" speedFactor="0.9" departLane="free"/>
  <vehicle id="d" type="drawn" route="main" depart="70"/>
  <trip id="e" type="mix" depart="begin" from="side" to="north" departLane="best"/>
  <vehicle id="f" type="car" route="main" depart="triggered"/>
  <vehicle id="g" type="car" route="main" depart="1:00:00:00"/>
</routes>"""


def test_vehicles_import_as_exactly_those_departures(tmp_path):
    """A route file of individual vehicles becomes demand.vehicles: the same departures on
    their entry links, lanes where departLane is a number, speed factors where fixed (the
    vehicle's own, or a vType without deviation); greenwave then runs exactly those vehicles."""
    from greenwave.sim.demand import draw_arrivals
    from greenwave.sim.engine import Simulation

    net = _plain_net(tmp_path, in_lanes=2)
    rou = _write(tmp_path, "v.rou.xml", VEHICLES)
    res = read_sumo(net, routes=[rou])
    sc = res.scenario
    got = [v.model_dump(exclude_none=True) for v in sc.demand.vehicles]
    assert got == [
        {"link": "side", "depart_s": 0.0},  # depart="begin"; a vType distribution: drawn
        {"link": "in", "depart_s": 0.5, "lane": 1, "desired_speed_factor": 1.0},
        {"link": "in", "depart_s": 65.0, "lane": 0, "desired_speed_factor": 1.2},
        {"link": "in", "depart_s": 70.0, "desired_speed_factor": 0.9},  # the vehicle's own
        {"link": "in", "depart_s": 70.0},  # normc(1.1, 0.1): drawn
    ]
    assert sc.demand.entries == []  # no flows: no Poisson arrivals at all
    # One SUMO step past the last departure, so that greenwave draws it too; no warm-up.
    assert (sc.simulation.duration_s, sc.simulation.warmup_s) == (71.0, 0.0)
    notes = "\n".join(res.notes)
    assert "left out: 1 × <vehicle> with depart='triggered'" in notes
    assert "left out: 1 × <vehicle> departing at or after 86400 s" in notes
    assert "approximated: 1 × depart='begin' read as 0 s" in notes
    assert "lane from departLane for 2, fixed speed factor for 3" in notes
    # Lane rules are noted where the entry has a choice (not on the one-lane side street).
    assert "departLane 'free' × 1, 'default' × 1" in notes and "'best'" not in notes
    assert "1 × vType distribution 'mix'" in notes
    assert "1 × vType 'drawn': normc(1.1,0.1,0.2,2)" in notes
    assert "approximated: 4 × departSpeed absent" in notes  # all but vehicle a
    # The simulator's arrivals are exactly these vehicles, and every one of them runs.
    world = World.build(sc)
    arr = draw_arrivals(sc, world.network, 3, sc.simulation.duration_s)
    entry_ids = [world.network.link_ids[int(li)] for li in arr.entry_links]
    rows = sorted(
        (entry_ids[e], t, lane) for e, t, lane in zip(arr.entry, arr.time_s, arr.lane, strict=True)
    )
    assert [(r[0], r[1]) for r in rows] == sorted((v["link"], v["depart_s"]) for v in got)
    on_in = arr.entry == entry_ids.index("in")
    fixed = {0.5: (1, 1.0), 65.0: (0, 1.2)}
    for t, (lane, factor) in fixed.items():
        k = np.flatnonzero(on_in & (arr.time_s == t))
        assert k.size == 1 and arr.lane[k[0]] == lane and arr.desired_factor[k[0]] == factor
    sim = Simulation(world, 3, advisory=False, duration_s=71.0, warmup_s=0.0, drain_s=600.0)
    out = sim.run().vehicles
    assert out["completed"].sum() == 5
    assert np.all(out["t_enter"] >= arr.time_s - 1e-9)


def test_route_distribution_over_entries_is_spread_in_its_proportions(net, tmp_path):
    rou = _write(
        tmp_path,
        "d.rou.xml",
        """<routes><routeDistribution id="two">
  <route id="r_in" edges="in mid out" probability="3"/>
  <route id="r_side" edges="side north" probability="1"/>
</routeDistribution>"""
        + "".join(f'<vehicle id="v{k}" route="two" depart="{10 * k}"/>' for k in range(8))
        + "</routes>",
    )
    res = read_sumo(net, routes=[rou])
    links = [v.link for v in res.scenario.demand.vehicles]
    assert links.count("in") == 6 and links.count("side") == 2  # 3 : 1, deterministic
    assert any("8 vehicles draw their route from a distribution" in n for n in res.notes)
    # Vehicles with the same embedded distribution (duarouter's alternatives) share it too.
    nested = (
        '<routeDistribution><route edges="in mid out" probability="0.75"/>'
        '<route edges="side north" probability="0.25"/></routeDistribution>'
    )
    rou.write_text(
        "<routes>"
        + "".join(f'<vehicle id="v{k}" depart="{k}">{nested}</vehicle>' for k in range(4))
        + "</routes>"
    )
    links = [v.link for v in read_sumo(net, routes=[rou]).scenario.demand.vehicles]
    assert sorted(links) == ["in", "in", "in", "side"]


def test_flow_lanes_are_noted_where_the_entry_has_a_choice(tmp_path):
    net = _plain_net(tmp_path, in_lanes=2)
    rou = _write(
        tmp_path,
        "f.rou.xml",
        """<routes><route id="main" edges="in mid out"/>
  <flow id="f0" route="main" begin="0" end="600" number="20" departLane="0"/>
  <flow id="f1" route="main" begin="0" end="600" number="20" departLane="random"/>
  <flow id="f2" begin="0" end="600" number="20" from="side" to="north"/>
</routes>""",
    )
    res = read_sumo(net, routes=[rou])
    notes = "\n".join(res.notes)
    assert "1 × <flow> with departLane '0': greenwave draws each of its vehicles' lanes" in notes
    assert "departLane absent" not in notes  # f2 enters on the one-lane side street
    assert res.scenario.demand.vehicles == []
    assert {e.link: e.flow_veh_h for e in res.scenario.demand.entries} == pytest.approx(
        {"in": 240.0, "side": 120.0}
    )


def test_cli_writes_the_vehicles_and_they_load_back(tmp_path, capsys):
    net = _plain_net(tmp_path, in_lanes=2)
    rou = _write(tmp_path, "v.rou.xml", VEHICLES)
    out = tmp_path / "v.toml"
    assert main(["import-sumo", str(net), str(out), "--routes", str(rou)]) == 0
    capsys.readouterr()
    back = load_scenario(out)
    assert back.demand.vehicles == read_sumo(net, routes=[rou]).scenario.demand.vehicles
    assert len(back.demand.vehicles) == 5


def test_absent_vtype_attributes_take_sumo_defaults(net, tmp_path):
    rou = _write(
        tmp_path,
        "r.rou.xml",
        '<routes><flow id="f" from="in" to="out" begin="0" end="900" number="90"/></routes>',
    )
    res = read_sumo(net, routes=[rou])
    drv = res.scenario.drivers
    assert (drv.accel_ms2, drv.decel_ms2, drv.min_gap_m) == (2.6, 4.5, 2.5)  # SUMO's defaults
    assert res.scenario.demand.entries[0].flow_veh_h == pytest.approx(360.0)
    assert any("accel=2.6 (SUMO default)" in n for n in res.notes)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '<routes><vehicle id="v" depart="0"><route edges="in nowhere"/></vehicle></routes>',
            "<vehicle id='v'>: edge 'nowhere' is not in the network",
        ),
        ('<routes><trip id="t" depart="0" from="in" to="gone"/></routes>', "edge 'gone'"),
        ('<routes><vehicle id="v" depart="0" route="r9"/></routes>', "unknown route 'r9'"),
        ('<routes><vType id="car"/></routes>', "no usable demand"),
        (
            '<routes><flow id="f" route="x" begin="0" end="9"/><route id="x" edges="in"/></routes>',
            "no vehsPerHour, perHour, period",
        ),
        (
            '<routes><vehicle id="v" depart="now"><route edges="in"/></vehicle></routes>',
            "<vehicle id='v'>: depart='now' is not a time .*TraCI",
        ),
        ('<routes><trip id="t" depart="soon" from="in" to="out"/></routes>', "depart='soon'"),
        (
            '<routes><vehicle id="v" depart="1" departLane="1"><route edges="in"/></vehicle>'
            "</routes>",
            r"<vehicle id='v'>: departLane='1': edge 'in' has 1 lane\(s\)",
        ),
        (
            '<routes><trip id="t" depart="1" departLane="left" from="in" to="out"/></routes>',
            "departLane='left' is not a lane number",
        ),
        (
            '<routes><vehicle id="v" depart="1" speedFactor="-1"><route edges="in"/></vehicle>'
            "</routes>",
            "speedFactor='-1' <= 0",
        ),
        ('<routes><trip id="t" from="in" to="out"/></routes>', "<trip id='t'>: no depart"),
        (
            '<routes><vehicle id="v" depart="triggered"><route edges="in"/></vehicle></routes>',
            "no usable demand",
        ),
    ],
)
def test_bad_routes_are_errors_naming_the_element(net, tmp_path, text, match):
    rou = _write(tmp_path, "bad.rou.xml", text)
    with pytest.raises(SumoError, match=match):
        read_sumo(net, routes=[rou])


def test_cli_bad_input_exit_2_and_warnings_on_stderr(net, tmp_path, capsys):
    out = tmp_path / "o.toml"
    bad = _write(tmp_path, "bad.rou.xml", '<routes><trip id="t" from="x" to="in"/></routes>')
    assert main(["import-sumo", str(net), str(out), "--routes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "edge 'x' is not in the network" in err and "Traceback" not in err
    assert not out.exists()
    add = _write(tmp_path, "a.add.xml", ADD)
    rou = _write(tmp_path, "r.rou.xml", ROUTES)
    argv = ["import-sumo", str(net), str(out), "--routes", str(rou), "--additional", str(add)]
    assert main([*argv, "--program", "fixed"]) == 0
    captured = capsys.readouterr()
    assert "warning: signal programs from the net alone" in captured.err
    assert "note: vType 'krauss' dropped" in captured.err
    assert load_scenario(out).intersections[0].plan.cycle_s == 65


# ----------------------------------------------------------------------------- projection


def test_projection_from_location_without_origin(tmp_path):
    pytest.importorskip("pyproj")
    utm = LOCATION.replace('netOffset="0,0"', 'netOffset="-499600.00,-4070000.00"').replace(
        "+proj=eqc +lat_ts=36.8 +lat_0=36.8 +lon_0=118 +R=6371008.8 +units=m",
        "+proj=utm +zone=50 +ellps=WGS84 +datum=WGS84 +units=m +no_defs",
    )
    sc = read_sumo(_plain_net(tmp_path, utm), corridor_edges=["in", "mid", "out"]).scenario
    j1 = next(it for it in sc.intersections if it.id == "J1")
    # x = 400 m, y = 0 is UTM 50N easting 500000, the zone's central meridian 117° E
    # (SUMO: x = easting + netOffset), northing 4070000 (about 36.8° N).
    assert j1.lon == pytest.approx(117.0, abs=1e-9)
    assert 36.7 < j1.lat < 36.8
    w = World.build(sc)
    assert w.network.link_length_m[w.network.link_index["mid"]] == pytest.approx(400.0, rel=2e-3)


def test_no_location_and_no_origin_is_a_clear_error(tmp_path):
    bare = LOCATION.replace(
        "+proj=eqc +lat_ts=36.8 +lat_0=36.8 +lon_0=118 +R=6371008.8 +units=m", "!"
    )
    with pytest.raises(SumoError, match="no geo-projection: give --origin LON,LAT"):
        read_sumo(_plain_net(tmp_path, bare), corridor_edges=["in", "mid", "out"])


# ----------------------------------------------------------------------------- round trip


def test_export_import_export_keeps_plans_offsets_geometry_and_demand(tmp_path, capsys):
    scen = ROOT / "scenarios" / "zibo_arterial.toml"
    a, c = tmp_path / "a", tmp_path / "c"
    assert main(["export-sumo", str(scen), str(a), "--no-netconvert", "--duration", "1800"]) == 0
    back = tmp_path / "b.toml"
    argv = ["import-sumo", str(a / "scenario.nod.xml"), str(back)]
    assert main([*argv, "--routes", str(a / "scenario.rou.xml")]) == 0
    assert main(["export-sumo", str(back), str(c), "--no-netconvert"]) == 0
    capsys.readouterr()
    for suffix in ("tll", "rou", "con"):  # programs, offsets, demand, connections: identical
        name = f"scenario.{suffix}.xml"
        assert (a / name).read_bytes() == (c / name).read_bytes(), name
    for suffix, tag in (("nod", "node"), ("edg", "edge")):  # geometry within 1 cm
        ea = ET.parse(a / f"scenario.{suffix}.xml").getroot().findall(tag)
        ec = ET.parse(c / f"scenario.{suffix}.xml").getroot().findall(tag)
        assert [e.get("id") for e in ea] == [e.get("id") for e in ec]
        for x, y in zip(ea, ec, strict=True):
            if x.get("length"):
                assert float(x.get("length")) == pytest.approx(float(y.get("length")), abs=0.01)
            for k in ("x", "y"):
                if x.get(k):
                    assert float(x.get(k)) == pytest.approx(float(y.get(k)), abs=0.01)
            if x.get("shape"):
                px = [float(v) for p in x.get("shape").split() for v in p.split(",")]
                py = [float(v) for p in y.get("shape").split() for v in p.split(",")]
                assert px == pytest.approx(py, abs=0.01)
    # The corridor came back, so greenwave optimize works on the import.
    sc = load_scenario(back)
    assert [c.id for c in sc.corridors] == ["renmin"]
    ct = corridor_timing(World.build(sc))
    assert len(ct.intersection_ids) == 8 and ct.backward is not None


def test_foreign_corridor_is_detected_but_kept_as_links(net, tmp_path):
    rou = _write(tmp_path, "r.rou.xml", ROUTES)
    res = read_sumo(net, routes=[rou])
    assert res.corridors == [
        "corridor: signals J1, J2 from 'in' (one direction), 34 of 54 vehicles enter on it"
    ]
    assert res.scenario.corridors == []
    assert any("kept as [[links]] because its link ids are not in_f0" in n for n in res.notes)


# ----------------------------------------------------------------------------- with SUMO


@pytest.fixture(scope="module")
def corridor(tmp_path_factory):
    if not HAVE_SUMO:
        pytest.skip("SUMO not installed (the [sumo] extra)")
    from greenwave.sumo.corridorgen import generate_corridor

    d = tmp_path_factory.mktemp("gen")
    generate_corridor(14, d, duration_s=600)
    return d


@needs_sumo
def test_generated_corridor_imports_as_its_scenario(corridor, tmp_path):
    net, rou, add = (
        corridor / f for f in ("corridor.net.xml", "corridor.rou.xml", "corridor.tll.add.xml")
    )
    want = load_scenario(corridor / "corridor.toml")
    res = read_sumo(net, routes=[rou], additional=[add])
    got = res.scenario
    assert res.warnings == []
    assert {i.id: i.plan for i in got.intersections} == {i.id: i.plan for i in want.intersections}
    assert [c.intersections for c in got.corridors] == [c.intersections for c in want.corridors]
    assert {e.link: e.flow_veh_h for e in got.demand.entries} == pytest.approx(
        {e.link: e.flow_veh_h for e in want.demand.entries}
    )
    # Without the additional file the signals run netconvert's default programs: warned.
    res = read_sumo(net, routes=[rou])
    assert "J0" in res.warnings[0]
    assert {i.id: i.plan for i in res.scenario.intersections} != {
        i.id: i.plan for i in want.intersections
    }


@needs_sumo
def test_vehicles_expanded_by_duarouter_import_as_the_same_departures(corridor, tmp_path):
    """duarouter writes the generated corridor's flows as individual vehicles; the import runs
    exactly those departures on their entry links (the same vehicles as SUMO)."""
    from greenwave.sim.demand import draw_arrivals
    from greenwave.sumo.tools import tool_env

    exe = find_sumo_tool("duarouter")
    if exe is None:
        pytest.skip("duarouter not installed")
    veh = tmp_path / "vehicles.rou.xml"
    net = corridor / "corridor.net.xml"
    cmd = [exe, "-n", str(net), "--route-files", str(corridor / "corridor.rou.xml")]
    cmd += ["-o", str(veh), "--seed", "5", "--no-step-log", "true"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env=tool_env(exe))
    want = sorted(
        (v.find("route").get("edges").split()[0], float(v.get("depart")))
        for v in ET.parse(veh).getroot().iter("vehicle")
    )
    assert len(want) > 50
    res = read_sumo(net, routes=[veh], additional=[corridor / "corridor.tll.add.xml"])
    sc = res.scenario
    assert sc.demand.entries == []
    assert sorted((v.link, v.depart_s) for v in sc.demand.vehicles) == want
    assert sc.simulation.duration_s == pytest.approx(max(t for _, t in want) + 1.0)
    world = World.build(sc)
    arr = draw_arrivals(sc, world.network, 1, sc.simulation.duration_s)
    ids = [world.network.link_ids[int(li)] for li in arr.entry_links]
    assert sorted((ids[e], float(t)) for e, t in zip(arr.entry, arr.time_s, strict=True)) == want
    assert [c.id for c in sc.corridors] == ["art"]  # the corridor is still detected


@needs_sumo
def test_vs_sumo_net_counts_every_trip(corridor, tmp_path):
    script = ROOT / "benchmarks" / "vs_sumo.py"
    files = ["--net", corridor / "corridor.net.xml", "--routes", corridor / "corridor.rou.xml"]
    files += ["--additional", corridor / "corridor.tll.add.xml"]
    r = subprocess.run(
        [sys.executable, str(script), *map(str, files), "--seeds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for side in ("sumo", "greenwave"):
        for k in ("travel_time_s", "mean_speed_kmh", "stops_per_veh", "fuel_l_per_100km"):
            assert math.isfinite(out[side][k]["mean"]), (side, k)
        assert out[side]["unfinished"] == 0
    for k in ("travel_time_s", "mean_speed_kmh", "stops_per_veh"):
        assert out["ratio"][k] == pytest.approx(
            out["greenwave"][k]["mean"] / out["sumo"][k]["mean"]
        )
    # Bad input: a route over an edge the net does not have, exit 2 naming it.
    bad = tmp_path / "bad.rou.xml"
    bad.write_text('<routes><trip id="t" depart="0" from="art_f0" to="nowhere"/></routes>')
    r = subprocess.run(
        [
            sys.executable,
            str(script),
            "--net",
            str(corridor / "corridor.net.xml"),
            "--routes",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "edge 'nowhere'" in r.stderr and "Traceback" not in r.stderr


def test_explicit_vehicles_export_and_import_as_the_same_vehicles(tmp_path, capsys):
    """demand.vehicles go out as <vehicle>s (in departure order, with the flows) and come back
    as the same departures, lanes and speed factors."""
    sc = load_scenario(ROOT / "scenarios" / "zibo_arterial.toml")
    entry = sc.corridors[0].id + "_f0"
    data = sc.model_dump(mode="json", exclude_none=True)
    given = [
        {"link": entry, "depart_s": 30.0, "lane": 1, "desired_speed_factor": 1.05},
        {"link": entry, "depart_s": 7.5},
        {"link": entry, "depart_s": 999.0},
    ]
    data["demand"] = {"vehicles": given}  # no flows: exactly these vehicles
    src = tmp_path / "v.toml"
    src.write_text(dumps_scenario(parse_scenario(data)))
    out = tmp_path / "x"
    assert main(["export-sumo", str(src), str(out), "--no-netconvert", "--duration", "1800"]) == 0
    rou = ET.parse(out / "scenario.rou.xml").getroot()
    vehs = rou.findall("vehicle")
    assert [float(v.get("depart")) for v in vehs] == [7.5, 30.0, 999.0]
    assert rou.findall("flow") == []
    back = tmp_path / "b.toml"
    argv = ["import-sumo", str(out / "scenario.nod.xml"), str(back)]
    assert main([*argv, "--routes", str(out / "scenario.rou.xml")]) == 0
    capsys.readouterr()
    got = sorted(
        (v.link, v.depart_s, v.lane, v.desired_speed_factor)
        for v in load_scenario(back).demand.vehicles
    )
    assert got == [(entry, 7.5, None, None), (entry, 30.0, 1, 1.05), (entry, 999.0, None, None)]
