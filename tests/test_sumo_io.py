"""SUMO export and import: round trips, SUMO runs of the export, CLI errors.

The round trip through the plain XML files needs no SUMO.  The tests marked ``needs_sumo`` run
netconvert and sumo from the ``[sumo]`` extra (CI installs it) and compare, at every simulation
step, the signal SUMO shows with :meth:`PlanTable.state`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.geo import haversine_m
from greenwave.network import World
from greenwave.scenario import (
    Scenario,
    dumps_scenario,
    load_scenario,
    loads_scenario,
    parse_scenario,
)
from greenwave.sumo.export import export_sumo
from greenwave.sumo.importer import import_sumo
from greenwave.sumo.tools import find_sumo_tool, tool_env
from greenwave.sumo.xmlio import SumoError
from greenwave.timing import AMBER, GREEN

ROOT = Path(__file__).resolve().parent.parent
# An instant that is not a whole number of cycles after the epoch (nor of seconds), so that a
# wrong offset conversion shows.
ODD_START = datetime.fromisoformat("2026-11-23T07:30:17.5+08:00")

SUMO = find_sumo_tool("sumo")
NETCONVERT = find_sumo_tool("netconvert")
NETGENERATE = find_sumo_tool("netgenerate")
HAVE_SUMOLIB = importlib.util.find_spec("sumolib") is not None
needs_sumo = pytest.mark.skipif(
    SUMO is None or NETCONVERT is None or not HAVE_SUMOLIB,
    reason="SUMO not installed (pip install 'greenwave[sumo]'; CI installs the extra)",
)


def through_arterial_data() -> dict:
    """The bundled arterial as a corridor without cross streets and turning demand: these
    tests check the straight export (connections, programs, flows); turning is
    tests/test_sumo_turning.py.  The same dict whatever the bundled file adds."""
    data = load_scenario(ROOT / "scenarios" / "zibo_arterial.toml").model_dump(mode="json")
    for c in data["corridors"]:
        c.update(cross_streets=False, cross_group=None, cross_speed_limit_kmh=None)
        c.update(left_group=None)
    data["demand"].update(turning=None, turns=[])
    entries, data["demand"]["entries"] = data["demand"]["entries"], []
    links = set(World.build(parse_scenario(data)).network.link_ids)
    data["demand"]["entries"] = [e for e in entries if e["link"] in links]
    return data


def through_arterial_file(d: Path) -> Path:
    """:func:`through_arterial_data` as a scenario file in ``d``."""
    path = d / "through_arterial.toml"
    path.write_text(dumps_scenario(parse_scenario(through_arterial_data())))
    return path


def _arterial(start: datetime = ODD_START, **demand) -> Scenario:
    """The through arterial with another start time and demand settings."""
    data = through_arterial_data()
    data["simulation"]["start_time"] = start.isoformat()
    data["demand"].update(demand)
    return parse_scenario(data)


def assert_same_network(a: Scenario, b: Scenario) -> None:
    """Same plans (0.1 s), links (length ±1 m, limits, lanes, topology), positions (±1 m)."""
    wa, wb = World.build(a), World.build(b)
    na, nb = wa.network, wb.network
    assert sorted(na.intersection_ids) == sorted(nb.intersection_ids)
    for iid in na.intersection_ids:
        pa, pb = wa.timing.plans.plans[iid], wb.timing.plans.plans[iid]
        assert pb.cycle_s == pytest.approx(pa.cycle_s, abs=0.1)
        d_off = (pb.offset_s - pa.offset_s + pa.cycle_s / 2) % pa.cycle_s - pa.cycle_s / 2
        assert abs(d_off) <= 0.1, iid
        assert [g.id for g in pb.groups] == [g.id for g in pa.groups]
        for ga, gb in zip(pa.groups, pb.groups, strict=True):
            assert np.allclose(gb.greens_s, ga.greens_s, atol=0.1), (iid, ga.id)
            assert gb.amber_s == pytest.approx(ga.amber_s, abs=0.1)
            assert gb.all_red_s == pytest.approx(ga.all_red_s, abs=0.1)
            assert gb.conflicts == ga.conflicts
        ia, ib = na.intersection_index[iid], nb.intersection_index[iid]
        (lon1, lat1), (lon2, lat2) = na.intersection_lonlat[ia], nb.intersection_lonlat[ib]
        assert haversine_m(lon1, lat1, lon2, lat2) < 1.0
    assert sorted(na.link_ids) == sorted(nb.link_ids)
    for lid in na.link_ids:
        ka, kb = na.link_index[lid], nb.link_index[lid]
        assert abs(na.link_length_m[ka] - nb.link_length_m[kb]) < 1.0, lid
        assert nb.link_speed_limit_ms[kb] * 3.6 == pytest.approx(
            na.link_speed_limit_ms[ka] * 3.6, abs=0.1
        )
        assert nb.link_lanes[kb] == na.link_lanes[ka]
        nxt_a, nxt_b = na.link_next[ka], nb.link_next[kb]
        assert (na.link_ids[nxt_a] if nxt_a >= 0 else None) == (
            nb.link_ids[nxt_b] if nxt_b >= 0 else None
        )
        ga, gb = na.link_group[ka], nb.link_group[kb]
        key_a = wa.timing.plans.group_keys[ga] if ga >= 0 else None
        key_b = wb.timing.plans.group_keys[gb] if gb >= 0 else None
        assert key_a == key_b, lid


# ----------------------------------------------------------------------------- without SUMO


def test_round_trip_plain_files_without_sumo(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sumolib", None)  # import sumolib → ImportError
    sc = _arterial(
        scale=1.5,
        entries=[{"link": "renmin_f0", "flow_veh_h": 800.0, "profile": [[0.0, 1.0], [900.0, 0.5]]}],
    )
    res = export_sumo(sc, tmp_path, duration_s=1800, build_net=False)
    assert not res.net_built and res.netconvert is None
    for kind in ("nodes", "edges", "connections", "tls", "routes", "sumocfg", "netccfg"):
        assert res.files[kind].is_file()
    back, _notes = import_sumo(res.files["nodes"], routes=res.files["routes"])
    assert_same_network(sc, back)
    assert back.simulation.start_time == ODD_START
    assert back.simulation.duration_s == 1800
    # Demand: flow × scale, the profile kept; the unlisted entry gets 600 veh/h/lane × 2 × 1.5.
    entries = {e.link: e for e in back.demand.entries}
    assert entries["renmin_f0"].flow_veh_h == pytest.approx(1200.0)
    assert entries["renmin_f0"].profile == [(0.0, 1.0), (900.0, 0.5)]
    assert entries["renmin_b0"].flow_veh_h == pytest.approx(1800.0)
    assert entries["renmin_b0"].profile is None
    assert back.drivers.desired_speed_factor_mean == sc.drivers.desired_speed_factor_mean
    assert back.drivers.time_headway_s == sc.drivers.time_headway_s
    # The TOML written by the CLI validates to the same scenario.
    assert loads_scenario(dumps_scenario(back)).content_hash() == back.content_hash()


def test_exported_program_follows_plan(tmp_path):
    """Phase by phase, the tlLogic shows PlanTable.state under SUMO's offset rule."""
    sc = _arterial()
    res = export_sumo(sc, tmp_path, build_net=False)
    w = World.build(sc)
    plans = w.timing.plans
    t = np.arange(0.0, 600.0, 0.25)
    root = ET.parse(res.files["tls"]).getroot()
    tls = root.findall("tlLogic")
    assert len(tls) == 8
    for tl in tls:
        durs = np.array([float(p.get("duration")) for p in tl.iter("phase")])
        states = np.array([list(p.get("state")) for p in tl.iter("phase")])
        bounds = np.concatenate([[0.0], np.cumsum(durs)])
        offset = float(tl.get("offset"))
        links = res.link_index[tl.get("id")]["EW"]
        assert len(links) == 4  # two lanes each way
        st, _ = plans.state(np.full(len(t), plans.group_index(tl.get("id"), "EW")), w.epoch_s + t)
        want = np.where(st == GREEN, "G", np.where(st == AMBER, "y", "r"))

        def shown(tau, bounds=bounds, states=states, links=links):
            k = np.searchsorted(bounds, tau, side="right") - 1
            return states[k][:, links]

        # SUMO: program second (t - offset) mod cycle at simulation second t.
        assert np.all(shown((t - offset) % bounds[-1]) == want[:, None]), tl.get("id")
        if offset % 60:  # the opposite sign convention would not match (the test can fail)
            assert not np.all(shown((t + offset) % bounds[-1]) == want[:, None])


def _write_plain_foreign(d: Path) -> Path:
    """A one-signal SUMO corridor in plain XML without greenwave parameters."""
    (d / "f.nod.xml").write_text("""<nodes>
  <location netOffset="0,0" convBoundary="0,0,700,0" origBoundary="0,0,0,0" projParameter="!"/>
  <node id="w" x="0" y="0"/> <node id="J" x="400" y="0" type="traffic_light"/>
  <node id="e" x="700" y="0"/> <node id="n" x="400" y="200"/>
</nodes>""")
    (d / "f.edg.xml").write_text("""<edges>
  <edge id="in" from="w" to="J" numLanes="2" speed="13.89"/>
  <edge id="out" from="J" to="e" numLanes="1" speed="11.11"/>
  <edge id="side" from="n" to="J" numLanes="1" speed="8.33"/>
</edges>""")
    (d / "f.con.xml").write_text("""<connections>
  <connection from="in" to="out" fromLane="0" toLane="0"/>
  <connection from="in" to="out" fromLane="1" toLane="0"/>
  <connection from="side" to="out" fromLane="0" toLane="0"/>
</connections>""")
    # Cycle 90: 'in' is green from 80 to 30 (wrapping), amber 3, then 2 s all red; 'side' is
    # green 35..75, amber 4, then red until 80.
    (d / "f.tll.xml").write_text("""<tlLogics>
  <tlLogic id="J" type="static" programID="p" offset="17">
    <phase duration="30" state="GGr"/>
    <phase duration="3" state="yyr"/>
    <phase duration="2" state="rrr"/>
    <phase duration="40" state="rrG"/>
    <phase duration="4" state="rry"/>
    <phase duration="1" state="rrr"/>
    <phase duration="10" state="GGr"/>
  </tlLogic>
  <connection from="in" to="out" fromLane="0" toLane="0" tl="J" linkIndex="0"/>
  <connection from="in" to="out" fromLane="1" toLane="0" tl="J" linkIndex="1"/>
  <connection from="side" to="out" fromLane="0" toLane="0" tl="J" linkIndex="2"/>
</tlLogics>""")
    return d / "f.edg.xml"


def test_import_foreign_plain_program(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sumolib", None)
    start = datetime.fromisoformat("2026-01-01T08:00:05+08:00")
    edg = _write_plain_foreign(tmp_path)
    with pytest.raises(SumoError, match="2 signalised chains"):  # main street or side street?
        import_sumo(edg, start_time=start, origin=(118.0, 36.8))
    sc, _notes = import_sumo(
        edg, start_time=start, origin=(118.0, 36.8), corridor_edges=["in", "out"]
    )
    plan = sc.intersections[0].plan
    assert plan.cycle_s == 90
    assert plan.offset_s == pytest.approx((17 + start.timestamp()) % 90)
    by_id = {g.id: g for g in plan.groups}
    assert set(by_id) == {"sg0", "sg2"}
    assert by_id["sg0"].greens_s == [(0.0, 30.0), (80.0, 90.0)]
    assert (by_id["sg0"].amber_s, by_id["sg0"].all_red_s) == (3.0, 2.0)
    assert by_id["sg2"].greens_s == [(35.0, 75.0)]
    assert (by_id["sg2"].amber_s, by_id["sg2"].all_red_s) == (4.0, 1.0)
    links = {ln.id: ln for ln in sc.links}
    assert set(links) == {"in", "out"}  # the side street is not on the corridor
    assert links["in"].signal_group == "sg0" and links["in"].next == "out"
    assert links["in"].lanes == 2 and links["out"].lanes == 1
    assert links["in"].speed_limit_kmh == pytest.approx(50.0)
    assert links["out"].speed_limit_kmh == pytest.approx(40.0)
    w = World.build(sc)
    assert w.network.link_length_m[w.network.link_index["in"]] == pytest.approx(400.0, abs=0.5)
    # SUMO shows program second (t - 17) mod 90 at its second t; greenwave at the same instant:
    g = w.timing.plans.group_index("J", "sg0")
    for t in np.arange(0.0, 400.0, 0.5):
        tau = (t - 17.0) % 90.0
        sumo_green = tau < 30.0 or tau >= 80.0
        sumo_amber = 30.0 <= tau < 33.0
        st, _ = w.timing.plans.state(np.array([g]), start.timestamp() + t)
        assert (int(st[0]) == GREEN) == sumo_green and (int(st[0]) == AMBER) == sumo_amber, t


def test_import_needs_origin_without_projection(tmp_path):
    with pytest.raises(SumoError, match="--origin"):
        import_sumo(_write_plain_foreign(tmp_path))


def test_cli_errors_exit_2(tmp_path, capsys, monkeypatch):
    assert main(["export-sumo", str(tmp_path / "missing.toml"), str(tmp_path / "o")]) == 2
    assert main(["import-sumo", str(tmp_path / "missing.net.xml"), str(tmp_path / "o.toml")]) == 2
    bad = tmp_path / "bad.nod.xml"
    bad.write_text("<nodes><node id=")
    (tmp_path / "bad.edg.xml").write_text("<edges/>")
    assert main(["import-sumo", str(bad), str(tmp_path / "o.toml")]) == 2
    assert "invalid XML" in capsys.readouterr().err
    (tmp_path / "x.net.xml").write_text("<net/>")
    monkeypatch.setitem(sys.modules, "sumolib", None)
    assert main(["import-sumo", str(tmp_path / "x.net.xml"), str(tmp_path / "o.toml")]) == 2
    assert "greenwave[sumo]" in capsys.readouterr().err
    assert main(["import-sumo", str(bad), str(tmp_path / "o.toml"), "--origin", "x"]) == 2
    assert not (tmp_path / "o.toml").exists()


def test_cli_export_import_plain(tmp_path, capsys):
    out = tmp_path / "sumo"
    scen = through_arterial_file(tmp_path)
    assert (
        main(
            [
                "export-sumo",
                str(scen),
                str(out),
                "--duration",
                "900",
                "--seed",
                "3",
                "--arrivals",
                "poisson",
                "--no-netconvert",
            ]
        )
        == 0
    )
    assert "netconvert -c scenario.netccfg" in capsys.readouterr().out
    cfg = ET.parse(out / "scenario.sumocfg").getroot()
    assert cfg.find("time/end").get("value") == "900"
    assert cfg.find("random_number/seed").get("value") == "3"
    flows = ET.parse(out / "scenario.rou.xml").getroot().findall("flow")
    assert {f.get("period") for f in flows} == {"exp(0.333333333)"}  # 1200 veh/h
    assert (
        main(
            [
                "import-sumo",
                str(out / "scenario.tll.xml"),
                "--routes",
                str(out / "scenario.rou.xml"),
                str(tmp_path / "back.toml"),
            ]
        )
        == 0
    )
    back = load_scenario(tmp_path / "back.toml")
    assert_same_network(load_scenario(scen), back)
    assert [e.flow_veh_h for e in back.demand.entries] == pytest.approx([1200.0, 1200.0])


def test_no_lane_change_option(tmp_path):
    scen = through_arterial_file(tmp_path)
    assert main(["export-sumo", str(scen), str(tmp_path / "lc"), "--no-netconvert"]) == 0
    assert (
        main(
            [
                "export-sumo",
                str(scen),
                str(tmp_path / "nolc"),
                "--no-netconvert",
                "--car-following",
                "idm",
                "--no-lane-change",
            ]
        )
        == 0
    )
    keys = ("lcStrategic", "lcCooperative", "lcSpeedGain", "lcKeepRight")
    vt = ET.parse(tmp_path / "lc" / "scenario.rou.xml").getroot().find("vType")
    assert all(vt.get(k) is None for k in keys)  # SUMO's own lane changing by default
    vt = ET.parse(tmp_path / "nolc" / "scenario.rou.xml").getroot().find("vType")
    assert [vt.get(k) for k in keys] == ["-1", "-1", "0", "0"]
    assert vt.get("carFollowModel") == "IDM"
    back, _ = import_sumo(
        tmp_path / "nolc" / "scenario.nod.xml", routes=tmp_path / "nolc" / "scenario.rou.xml"
    )
    assert_same_network(load_scenario(scen), back)


# ----------------------------------------------------------------------------- with SUMO


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The default arterial (odd start time) exported with netconvert."""
    if SUMO is None or NETCONVERT is None or not HAVE_SUMOLIB:
        pytest.skip("SUMO not installed (pip install 'greenwave[sumo]'; CI installs the extra)")
    sc = _arterial()
    res = export_sumo(sc, tmp_path_factory.mktemp("sumo"), duration_s=600, arrivals="poisson")
    assert res.net_built, res.notes
    return sc, res


def _run_sumo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [SUMO, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=tool_env(SUMO)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _tls_states(cwd: Path, tls_ids) -> dict[str, list[tuple[float, str]]]:
    add = ET.Element("additional")
    for tid in tls_ids:
        ET.SubElement(
            add, "timedEvent", {"type": "SaveTLSStates", "source": tid, "dest": "tls.xml"}
        )
    ET.ElementTree(add).write(cwd / "tls.add.xml")
    return add


@needs_sumo
def test_sumo_runs_export_and_signals_match(built):
    import sumolib

    sc, res = built
    out = res.outdir
    _tls_states(out, res.link_index)
    proc = _run_sumo(out, "-c", "scenario.sumocfg", "-a", "tls.add.xml")
    assert "UPS" in proc.stdout  # --duration-log.statistics
    trips = ET.parse(out / "tripinfo.xml").getroot().findall("tripinfo")
    assert len(trips) >= 20
    w = World.build(sc)
    net, plans = w.network, w.timing.plans
    full = net.link_length_m[[net.link_index[f"renmin_f{k}"] for k in range(9)]].sum()
    lengths = np.array([float(t.get("routeLength")) for t in trips])
    assert np.all(np.abs(lengths - full) < 10.0)  # whole corridor; SUMO measures from the rear
    # The signal of each connection follows the group of its link, at every step.
    snet = sumolib.net.readNet(str(res.files["net"]), withPrograms=True)
    expect_conns = {
        (ln, i, net.link_ids[net.link_next[k]])
        for k, ln in enumerate(net.link_ids)
        if net.link_next[k] >= 0
        for i in range(int(net.link_lanes[k]))
    }
    got_conns = set()
    index_group = {}
    for e in snet.getEdges():
        for targets in e.getOutgoing().values():
            for c in targets:
                got_conns.add((e.getID(), c.getFromLane().getIndex(), c.getTo().getID()))
                k = net.link_index[e.getID()]
                index_group[(c.getTLSID(), c.getTLLinkIndex())] = int(net.link_group[k])
    assert got_conns == expect_conns
    rows = ET.parse(out / "tls.xml").getroot().findall("tlsState")
    assert len(rows) == 8 * 1200  # every 0.5 s step of 600 s, 8 signals
    t = np.array([float(r.get("time")) for r in rows])
    for (tl, idx), g in index_group.items():
        sel = [k for k, r in enumerate(rows) if r.get("id") == tl]
        st, _ = plans.state(np.full(len(sel), g), w.epoch_s + t[sel])
        want = np.where(st == GREEN, "G", np.where(st == AMBER, "y", "r"))
        got = np.array([rows[k].get("state")[idx] for k in sel])
        assert np.array_equal(got, want), (tl, idx, t[sel][got != want][:5])


@needs_sumo
def test_round_trip_through_netconvert(built):
    sc, res = built
    back, _notes = import_sumo(res.files["net"], routes=res.files["routes"])
    assert_same_network(sc, back)
    assert back.simulation.start_time == ODD_START
    assert sorted(e.link for e in back.demand.entries) == ["renmin_b0", "renmin_f0"]


@needs_sumo
@pytest.mark.skipif(NETGENERATE is None, reason="netgenerate not installed")
def test_import_foreign_net_matches_sumo(tmp_path):
    """A netgenerate grid (no greenwave parameters): imported timing equals SUMO's signals."""
    import sumolib

    net = tmp_path / "grid.net.xml"
    subprocess.run(
        [
            NETGENERATE,
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "1",
            "--grid.length",
            "300",
            "--grid.attach-length",
            "200",
            "--default.lanenumber",
            "2",
            "--tls.guess",
            "true",
            "--no-turnarounds",
            "--offset.disable-normalization",
            "true",
            "-o",
            str(net),
        ],
        check=True,
        capture_output=True,
        env=tool_env(NETGENERATE),
    )
    text = net.read_text()
    for tl, off in (("A0", "0"), ("B0", "17.5"), ("C0", "61")):
        text = text.replace(
            f'<tlLogic id="{tl}" type="static" programID="0" offset="0">',
            f'<tlLogic id="{tl}" type="static" programID="0" offset="{off}">',
        )
    net.write_text(text)
    with pytest.raises(SumoError, match="--corridor-edges"):
        import_sumo(net, origin=(118.0, 36.8))
    row = ["left0A0", "A0B0", "B0C0", "C0right0"]
    start = datetime.fromisoformat("2026-11-23T07:30:07+08:00")
    sc, _ = import_sumo(net, corridor_edges=row, origin=(118.0, 36.8), start_time=start)
    assert [ln.id for ln in sc.links] == row
    assert [it.id for it in sc.intersections] == ["A0", "B0", "C0"]
    w = World.build(sc)
    plans = w.timing.plans
    snet = sumolib.net.readNet(str(net), withPrograms=True)
    checks = {}
    for lid in row[:-1]:
        e = snet.getEdge(lid)
        c = e.getConnections(snet.getEdge(row[row.index(lid) + 1]))[0]
        checks[(c.getTLSID(), c.getTLLinkIndex())] = int(
            w.network.link_group[w.network.link_index[lid]]
        )
    _tls_states(tmp_path, {tl for tl, _ in checks})
    _run_sumo(
        tmp_path,
        "-n",
        net.name,
        "-a",
        "tls.add.xml",
        "--end",
        "300",
        "--step-length",
        "0.5",
        "--no-step-log",
    )
    rows = ET.parse(tmp_path / "tls.xml").getroot().findall("tlsState")
    for (tl, idx), g in checks.items():
        sel = [r for r in rows if r.get("id") == tl]
        t = np.array([float(r.get("time")) for r in sel])
        st, _ = plans.state(np.full(len(sel), g), start.timestamp() + t)
        want = np.where(st == GREEN, "G", np.where(st == AMBER, "y", "r"))
        got = np.array(["G" if r.get("state")[idx] in "Gg" else r.get("state")[idx] for r in sel])
        assert np.array_equal(got, want), (tl, t[got != want][:5])


@needs_sumo
def test_no_lane_change_keeps_lanes_in_sumo(tmp_path):
    """With lane_change=False no vehicle changes lanes (SUMO's lane-change output is empty)."""
    sc = _arterial()
    counts = {}
    for lc in (True, False):
        out = tmp_path / f"lc{int(lc)}"
        res = export_sumo(
            sc, out, duration_s=300, arrivals="poisson", car_following="idm", lane_change=lc
        )
        assert res.net_built, res.notes
        _run_sumo(out, "-c", "scenario.sumocfg", "--lanechange-output", "lc.xml")
        counts[lc] = len(ET.parse(out / "lc.xml").getroot().findall("change"))
    assert counts[True] > 0  # keep-right changes from the random departure lane
    assert counts[False] == 0
