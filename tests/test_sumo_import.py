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
from test_sumo_io import through_arterial_file

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
    # Through traffic (flows): a turning scenario's routes come back as shares, redrawn.
    scen = through_arterial_file(tmp_path)
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


def test_foreign_corridor_is_declared_over_its_links(net, tmp_path):
    rou = _write(tmp_path, "r.rou.xml", ROUTES)
    res = read_sumo(net, routes=[rou])
    # 34 vehicles drive in → mid → out (the trip from 'in' to 'out' straight on), crossing
    # J1 and J2; the side street crosses one signal only.
    assert res.corridors == [
        "corridor 'J1-J2': signals J1, J2 from 'in' (one direction), 34 vehicles on average "
        "cross each stop line along it"
    ]
    (c,) = res.scenario.corridors
    assert (c.id, c.links_forward, c.links_backward) == ("J1-J2", ["in", "mid", "out"], None)
    assert any("declared as [[corridors]] over its imported links" in n for n in res.notes)
    assert any("1 chain(s) passing a single signal, not declared" in n for n in res.notes)
    ct = corridor_timing(World.build(res.scenario))
    assert ct.intersection_ids == ("J1", "J2") and ct.backward is None
    assert ct.forward.distance_m[1] == pytest.approx(400.0, abs=15.0)


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


# ------------------------------------------------------------------ corridors of foreign nets
def _line_links(spec: list[tuple[str, float, float, str | None, str | None]]) -> dict:
    """A scenario dict of straight [[links]] ``(id, x0_m, x1_m, to, next)`` on an east-west
    line (y = 0 eastwards, y = 20 m westwards); every ``to`` is a signal (group EW)."""
    from greenwave.geo import LocalProjection

    proj = LocalProjection(118.0, 36.8)

    def ll(x: float, y: float) -> list[float]:
        lon, lat = proj.to_lonlat(x, y)
        return [float(lon), float(lat)]

    sigs = sorted({to for *_, to, _ in spec if to}, key=lambda s: s)
    x_of = {to: x1 for _, _, x1, to, _ in spec if to}
    plan = {
        "cycle_s": 90.0,
        "groups": [{"id": "EW", "greens_s": [[0.0, 40.0]]}, {"id": "NS", "greens_s": [[45, 85]]}],
    }
    inters = [
        {"id": s, "lon": ll(x_of[s], 0)[0], "lat": ll(x_of[s], 0)[1], "plan": plan} for s in sigs
    ]
    links = []
    for lid, x0, x1, to, nxt in spec:
        y = 0.0 if x1 > x0 else 20.0
        ln = {"id": lid, "polyline": [ll(x0, y), ll(x1, y)], "speed_limit_kmh": 50.0}
        if to:
            ln.update(to=to, signal_group="EW")
        if nxt:
            ln["next"] = nxt
        links.append(ln)
    return {"name": "t", "intersections": inters, "links": links}


def test_two_directions_pair_over_the_signals_both_drive():
    """Eastwards A … E; westwards only E, D, C (then the road turns off): two-way over C … E,
    and A, B one way (with the link on to C leaving B)."""
    from greenwave.sumo.corridors import detect_corridors

    east = [("e0", -300, 0, "A", "e1"), ("e1", 0, 300, "B", "e2"), ("e2", 300, 700, "C", "e3")]
    east += [
        ("e3", 700, 900, "D", "e4"),
        ("e4", 900, 1400, "E", "e5"),
        ("e5", 1400, 1600, None, None),
    ]
    west = [
        ("w0", 1600, 1400, "E", "w1"),
        ("w1", 1400, 900, "D", "w2"),
        ("w2", 900, 700, "C", "w3"),
    ]
    west += [("w3", 700, 500, None, None)]
    data = _line_links(east + west)
    passes = {("e0", "e1"): 10.0, ("e1", "e2"): 10.0, ("e2", "e3"): 10.0, ("e3", "e4"): 10.0}
    passes |= {("e4", "e5"): 10.0, ("w0", "w1"): 5.0, ("w1", "w2"): 5.0, ("w2", "w3"): 5.0}
    notes: list[str] = []
    out, descs = detect_corridors(data, passes, notes)
    two, one = out["corridors"]
    assert two == {
        "id": "C-E",
        "name": "C – E",
        "links_forward": ["e2", "e3", "e4", "e5"],
        "links_backward": ["w0", "w1", "w2", "w3"],
    }
    assert one == {"id": "A-B", "name": "A – B", "links_forward": ["e0", "e1", "e2"]}
    assert descs[0].startswith("corridor 'C-E': signals C, D, E from 'e2' and back from 'w0'")
    sc = parse_scenario(out)  # valid as written
    assert [c for c, _, _ in World.build(sc).network.corridors] == ["C-E_f", "C-E_b", "A-B_f"]


def test_merging_chains_follow_the_busier_predecessor_and_rings_open():
    """Two links lead into m1: the chain continues from the one more vehicles come from.  A
    ring of three signals is opened where the fewest vehicles drive on."""
    from greenwave.sumo.corridors import detect_corridors

    spec = [("a0", -300, 0, "A", "m1"), ("s0", 200, 0, "A", "m1"), ("m1", 0, 400, "B", "m2")]
    spec += [("m2", 400, 800, "C", "m3"), ("m3", 800, 1000, None, None)]
    data = _line_links(spec)
    passes = {("a0", "m1"): 3.0, ("s0", "m1"): 9.0, ("m1", "m2"): 12.0, ("m2", "m3"): 12.0}
    out, _ = detect_corridors(data, passes, [])
    (c,) = out["corridors"]
    assert c["links_forward"] == ["s0", "m1", "m2", "m3"]
    # The ring: r0 → r1 → r2 → r0 through signals A, B, C; fewest drive from r2 on to r0.
    ring = [("r0", 0, 400, "B", "r1"), ("r1", 400, 800, "C", "r2"), ("r2", 800, 0, "A", "r0")]
    data = _line_links(ring)
    passes = {("r0", "r1"): 8.0, ("r1", "r2"): 6.0, ("r2", "r0"): 2.0}
    notes: list[str] = []
    out, _ = detect_corridors(data, passes, notes)
    (c,) = out["corridors"]
    # Opened before r0: signals B, C, and r2 leaves C (on to A, where the ring closes).
    assert (c["id"], c["links_forward"]) == ("B-C", ["r0", "r1", "r2"])
    assert any("1 ring(s) of links opened" in n for n in notes)


def _run_tool(name: str, args: list[str], cwd: Path) -> None:
    from greenwave.sumo.tools import tool_env

    exe = find_sumo_tool(name)
    if exe is None:
        pytest.skip(f"{name} not installed")
    r = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=tool_env(exe)
    )
    assert r.returncode == 0, r.stderr[-2000:]


def _optimize_and_compare(imported: Path, tmp_path: Path, capsys, corridor: str) -> dict:
    """``optimize`` (the first corridor both ways, then --network) and ``compare`` of the result
    against the import: exit 0 all along; returns the compare JSON."""
    out = tmp_path / "opt.toml"
    argv = ["optimize", str(imported), "--speed-kmh", "50", "--out", str(out), "--json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["corridor"] == corridor
    assert set(res["bands"]) == {"forward", "backward"}
    total = {
        k: sum(b[k]["bandwidth_s"] for b in res["bands"].values()) for k in ("before", "after")
    }
    assert total["after"] > total["before"]
    assert load_scenario(out).corridors == load_scenario(imported).corridors
    net_out = tmp_path / "net.toml"
    argv = ["optimize", str(imported), "--speed-kmh", "50", "--network", "--out", str(net_out)]
    assert main(argv) == 0
    capsys.readouterr()
    assert load_scenario(net_out).corridors == load_scenario(imported).corridors
    argv = ["compare", str(out), "--before", str(imported), "--seeds", "1", "--json"]
    assert main(argv) == 0
    cmp = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for run in ("before", "retiming_only", "after"):
        assert cmp[run]["vehicles"] > 50 and math.isfinite(cmp[run]["mean_speed_kmh"])
    return cmp


GRID_ROUTES = """<routes>
  <route id="east" edges="left1A1 A1B1 B1C1 C1D1 D1right1"/>
  <route id="west" edges="right1D1 D1C1 C1B1 B1A1 A1left1"/>
  <route id="north" edges="bottom1B0 B0B1 B1B2 B2B3 B3top1"/>
  <route id="south" edges="top1B3 B3B2 B2B1 B1B0 B0bottom1"/>
  <route id="turn" edges="left2A2 A2B2 B2B1 B1B0 B0bottom1"/>
  <flow id="fe" route="east" begin="0" end="900" vehsPerHour="500"/>
  <flow id="fw" route="west" begin="0" end="900" vehsPerHour="400"/>
  <flow id="fn" route="north" begin="0" end="900" vehsPerHour="250"/>
  <flow id="fs" route="south" begin="0" end="900" vehsPerHour="200"/>
  <flow id="ft" route="turn" begin="0" end="900" vehsPerHour="60"/>
</routes>"""


@needs_sumo
def test_netgenerate_grid_imports_with_corridors_that_optimize(tmp_path, capsys):
    """A 4 × 4 grid of netgenerate's fixed-time signals, flows through row 1 and column B
    (and a few turning at B2): both streets come back as two-way corridors over SUMO's own
    edge ids, busiest first, and optimize → compare runs on the import."""
    args = ["--grid", "--grid.number", "4", "--grid.length", "250", "--grid.attach-length"]
    args += ["200", "--default.lanenumber", "2", "--tls.guess", "-o", "grid.net.xml"]
    _run_tool("netgenerate", args, tmp_path)
    rou = _write(tmp_path, "grid.rou.xml", GRID_ROUTES)
    imported = tmp_path / "grid.toml"
    argv = ["import-sumo", str(tmp_path / "grid.net.xml"), str(imported), "--routes", str(rou)]
    assert main([*argv, "--origin", "118,36.8"]) == 0
    out = capsys.readouterr().out
    assert "corridor 'A1-D1': signals A1, B1, C1, D1 from 'left1A1' and back from" in out
    sc = load_scenario(imported)
    row, col, *rest = sc.corridors
    assert row.links_forward == ["left1A1", "A1B1", "B1C1", "C1D1", "D1right1"]
    assert row.links_backward == ["right1D1", "D1C1", "C1B1", "B1A1", "A1left1"]
    assert (col.id, col.links_forward[0], col.links_backward[0]) == ("B0-B3", "bottom1B0", "top1B3")
    # The turning vehicles enter row 2 at A2 and turn right at B2 onto column B: a movement
    # of link A2B2, not a corridor (A2B2's next is B2C2, straight on, which nobody drives;
    # its movements are onto the imported links leaving B2).
    assert rest == []
    a2b2 = next(ln for ln in sc.links if ln.id == "A2B2")
    assert a2b2.next is None and [(m.to_link, m.turn) for m in a2b2.movements] == [
        ("B2B3", "left"),
        ("B2B1", "right"),
    ]
    assert [(t.link, t.right) for t in sc.demand.turns] == [("A2B2", 1.0)]
    ct = corridor_timing(World.build(sc))
    np.testing.assert_allclose(np.diff(ct.forward.distance_m), 250.0, atol=15.0)
    _optimize_and_compare(imported, tmp_path, capsys, "A1-D1")


PLAIN_NODES = """<nodes>
  <node id="westgate" x="0" y="0"/>
  <node id="sig.market" x="180" y="0" type="traffic_light"/>
  <node id="sig.church" x="600" y="12" type="traffic_light"/>
  <node id="sig.station" x="860" y="20" type="traffic_light"/>
  <node id="sig.park" x="1390" y="0" type="traffic_light"/>
  <node id="eastgate" x="1640" y="0"/>
  <node id="m.s" x="180" y="-200"/> <node id="m.n" x="180" y="200"/>
  <node id="c.s" x="600" y="-200"/> <node id="c.n" x="600" y="220"/>
  <node id="s.s" x="860" y="-180"/> <node id="s.n" x="860" y="200"/>
  <node id="p.s" x="1390" y="-200"/> <node id="p.n" x="1390" y="200"/>
</nodes>"""

PLAIN_EDGES = """<edges>
  <edge id="HighSt.in" from="westgate" to="sig.market" numLanes="1" speed="13.89"/>
  <edge id="HighSt.1e" from="sig.market" to="sig.church" numLanes="2" speed="13.89"
        shape="180,0 400,30 600,12"/>
  <edge id="HighSt.2e" from="sig.church" to="sig.station" numLanes="2" speed="16.67"/>
  <edge id="HighSt.3e" from="sig.station" to="sig.park" numLanes="1" speed="13.89"/>
  <edge id="HighSt.out" from="sig.park" to="eastgate" numLanes="1" speed="13.89"/>
  <edge id="HighSt.in-w" from="eastgate" to="sig.park" numLanes="1" speed="13.89"/>
  <edge id="HighSt.3w" from="sig.park" to="sig.station" numLanes="1" speed="13.89"/>
  <edge id="HighSt.2w" from="sig.station" to="sig.church" numLanes="2" speed="16.67"/>
  <edge id="HighSt.1w" from="sig.church" to="sig.market" numLanes="2" speed="13.89"
        shape="600,12 400,30 180,0"/>
  <edge id="HighSt.out-w" from="sig.market" to="westgate" numLanes="1" speed="13.89"/>
  <edge id="MarketRd.n" from="m.s" to="sig.market" numLanes="1" speed="11.11"/>
  <edge id="MarketRd.n2" from="sig.market" to="m.n" numLanes="1" speed="11.11"/>
  <edge id="ChurchLn.n" from="c.s" to="sig.church" numLanes="1" speed="11.11"/>
  <edge id="ChurchLn.n2" from="sig.church" to="c.n" numLanes="1" speed="11.11"/>
  <edge id="StationAve.s" from="s.n" to="sig.station" numLanes="1" speed="11.11"/>
  <edge id="StationAve.s2" from="sig.station" to="s.s" numLanes="1" speed="11.11"/>
  <edge id="ParkWay.n" from="p.s" to="sig.park" numLanes="1" speed="11.11"/>
  <edge id="ParkWay.n2" from="sig.park" to="p.n" numLanes="1" speed="11.11"/>
</edges>"""

PLAIN_ROUTES = """<routes>
  <route id="east" edges="HighSt.in HighSt.1e HighSt.2e HighSt.3e HighSt.out"/>
  <route id="west" edges="HighSt.in-w HighSt.3w HighSt.2w HighSt.1w HighSt.out-w"/>
  <flow id="fe" route="east" begin="0" end="900" vehsPerHour="450"/>
  <flow id="fw" route="west" begin="0" end="900" vehsPerHour="300"/>
  <route id="mkt" edges="MarketRd.n MarketRd.n2"/>
  <route id="chu" edges="ChurchLn.n ChurchLn.n2"/>
  <route id="sta" edges="StationAve.s StationAve.s2"/>
  <route id="prk" edges="ParkWay.n ParkWay.n2"/>
  <flow id="fm" route="mkt" begin="0" end="900" vehsPerHour="120"/>
  <flow id="fc" route="chu" begin="0" end="900" vehsPerHour="120"/>
  <flow id="fs" route="sta" begin="0" end="900" vehsPerHour="120"/>
  <flow id="fp" route="prk" begin="0" end="900" vehsPerHour="120"/>
</routes>"""


@needs_sumo
def test_netconvert_corridor_with_foreign_names_optimizes_and_round_trips(tmp_path, capsys):
    """A corridor netconvert built from plain files: edge names of its own, uneven spacing
    (420, 260, 530 m), 1–2 lanes and two speed limits, a bend, netconvert's default programs
    (all offsets 0): declared over its links, retimed for a two-way band, and the retiming
    speeds its traffic up in the simulator.  Export → import gives the same corridor back."""
    _write(tmp_path, "main.nod.xml", PLAIN_NODES)
    _write(tmp_path, "main.edg.xml", PLAIN_EDGES)
    _run_tool(
        "netconvert", ["-n", "main.nod.xml", "-e", "main.edg.xml", "-o", "main.net.xml"], tmp_path
    )
    rou = _write(tmp_path, "main.rou.xml", PLAIN_ROUTES)
    imported = tmp_path / "main.toml"
    argv = ["import-sumo", str(tmp_path / "main.net.xml"), str(imported), "--routes", str(rou)]
    assert main([*argv, "--origin", "118,36.8"]) == 0
    assert "1 corridor(s)" in capsys.readouterr().out
    sc = load_scenario(imported)
    (c,) = sc.corridors
    assert c.id == "sig.market-sig.park"
    assert c.links_forward == ["HighSt.in", "HighSt.1e", "HighSt.2e", "HighSt.3e", "HighSt.out"]
    assert c.links_backward == [
        "HighSt.in-w",
        "HighSt.3w",
        "HighSt.2w",
        "HighSt.1w",
        "HighSt.out-w",
    ]
    ct = corridor_timing(World.build(sc))
    np.testing.assert_allclose(np.diff(ct.forward.distance_m), [430, 260, 530], atol=20.0)
    cmp = _optimize_and_compare(imported, tmp_path, capsys, c.id)
    assert cmp["change_pct_retiming_only"]["mean_speed_kmh"] > 0
    # Export → import: the corridor comes back over the same links.
    assert main(["export-sumo", str(imported), str(tmp_path / "x"), "--no-netconvert"]) == 0
    back = tmp_path / "back.toml"
    argv = ["import-sumo", str(tmp_path / "x" / "scenario.nod.xml"), str(back)]
    assert main([*argv, "--routes", str(tmp_path / "x" / "scenario.rou.xml")]) == 0
    capsys.readouterr()
    assert load_scenario(back).corridors == sc.corridors


@pytest.fixture(scope="module")
def random_grid(tmp_path_factory) -> Path:
    """netgenerate's 4 × 4 grid (12 fixed-time signals, 2 lanes) with 450 randomTrips.py
    vehicles (seed 1), imported; the corridors are wherever the random routes go."""
    if not HAVE_SUMO:
        pytest.skip("SUMO not installed (the [sumo] extra)")
    import sumo

    script = Path(sumo.SUMO_HOME) / "tools" / "randomTrips.py"
    if not script.is_file():
        pytest.skip("randomTrips.py not installed")
    d = tmp_path_factory.mktemp("random_grid")
    args = ["--grid", "--grid.number", "4", "--grid.length", "250"]
    _run_tool(
        "netgenerate", [*args, "--default.lanenumber", "2", "--tls.guess", "-o", "g.net.xml"], d
    )
    cmd = [sys.executable, str(script), "-n", "g.net.xml", "-o", "trips.xml", "-r", "g.rou.xml"]
    r = subprocess.run(
        [*cmd, "--seed", "1", "-e", "900", "-p", "2"], cwd=d, capture_output=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = read_sumo(d / "g.net.xml", routes=[d / "g.rou.xml"], origin=(118.0, 36.8))
    assert len(res.scenario.corridors) >= 2 and len(res.corridors) == len(res.scenario.corridors)
    (d / "g.toml").write_text(dumps_scenario(res.scenario))
    return d / "g.toml"


@needs_sumo
def test_random_trips_on_a_grid_give_corridors_that_optimize(random_grid, tmp_path, capsys):
    sc = load_scenario(random_grid)
    assert all(c.links_forward for c in sc.corridors)  # SUMO's edge ids: declared over links
    first = sc.corridors[0].id
    out = tmp_path / "o.toml"
    assert main(["optimize", str(random_grid), "--speed-kmh", "50", "--out", str(out)]) == 0
    assert f"corridor '{first}'" in capsys.readouterr().out
    argv = ["optimize", str(random_grid), "--speed-kmh", "50", "--network", "--out", str(out)]
    assert main(argv) == 0
    assert f"{len(sc.corridors)} arterials" in capsys.readouterr().out


@needs_sumo
def test_compare_runs_on_corridors_inside_the_network(random_grid, capsys):
    """The random grid's corridors start at links inside the network (not entry links)."""
    sc = load_scenario(random_grid)
    net = World.build(sc).network
    entries = {net.link_ids[i] for i in net.entry_links}
    assert sc.corridors[0].links_forward[0] not in entries
    assert main(["compare", str(random_grid), "--seeds", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["baseline"]["vehicles"] > 0 and res["advisory"]["vehicles"] > 0
