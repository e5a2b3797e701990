"""Random corridors (:mod:`greenwave.sumo.corridorgen`, ``greenwave generate-corridor``).

Without SUMO: the draws (reproducible, inside their documented ranges over 50 seeds, different
between seeds), the scenario TOML (validates, carries the drawn plans, lengths and flows) and the
CLI.  With SUMO (the ``[sumo]`` extra; skipped otherwise): the built files are byte-identical for
one seed, the net has junction-internal lanes and through connections only, SUMO's signal equals
greenwave's plan at every second of two cycles for every link of every signal (from the
additional file and from the merged net), greenwave's own importer reads the same plans back, and
600 s of traffic run without teleports or collisions.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.sumo import corridorgen as cg
from greenwave.sumo.importer import import_sumo
from greenwave.sumo.tools import find_sumo_tool, tool_env
from greenwave.timing import AMBER, GREEN

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(50)

SUMO = find_sumo_tool("sumo")
NETCONVERT = find_sumo_tool("netconvert")
HAVE_SUMO = (
    SUMO is not None
    and NETCONVERT is not None
    and importlib.util.find_spec("sumolib") is not None
    and importlib.util.find_spec("traci") is not None
)
needs_sumo = pytest.mark.skipif(
    not HAVE_SUMO, reason="SUMO not installed (pip install 'greenwave[sumo]'; CI installs it)"
)


def _first_seed(pred) -> int:
    return next(s for s in range(1000) if pred(cg.draw_params(s)))


# One corridor of each kind: a green wave, random offsets with a common cycle, and random
# offsets with per-signal cycles.
KINDS = {
    "wave": _first_seed(lambda p: p.coordinated and p.wave_direction == "west"),
    "random": _first_seed(lambda p: not p.coordinated and not p.per_signal_cycles),
    "per_signal": _first_seed(lambda p: p.per_signal_cycles),
}


# ----------------------------------------------------------------------------- draws


def test_same_seed_same_params_different_seeds_differ():
    assert cg.draw_params(7) == cg.draw_params(7)
    keys = set()
    for s in SEEDS:
        p = cg.draw_params(s)
        keys.add(
            (
                p.n_signals,
                tuple(p.spacing_m),
                tuple(p.cycle_s),
                tuple(p.offsets_s),
                p.flow_east_veh_h,
                p.flow_west_veh_h,
            )
        )
    assert len(keys) == len(SEEDS)


def test_params_inside_documented_ranges():
    seen = {"coordinated": set(), "per_signal": set(), "direction": set(), "lanes": set()}
    for s in SEEDS:
        p = cg.draw_params(s)
        n = p.n_signals
        assert 4 <= n <= 10 and p.signal_ids == [f"J{k}" for k in range(n)]
        assert len(p.spacing_m) == n - 1 and all(250 <= d <= 800 for d in p.spacing_m)
        assert len(p.cycle_s) == n
        assert all(60 <= c <= 140 and c % 5 == 0 for c in p.cycle_s)
        if not p.per_signal_cycles:
            assert len(set(p.cycle_s)) == 1
        if p.coordinated:
            assert not p.per_signal_cycles
        for c, f, g in zip(p.cycle_s, p.green_split, p.main_green_s, strict=True):
            assert 0.35 <= f <= 0.65
            assert 0.35 * c <= g <= 0.65 * c and abs(g - f * c) < 1.0  # rounded, kept inside
            assert c - g - 2 * (3 + 2) >= 11  # the cross street's green
        assert 40.0 <= p.progression_kmh <= 50.0
        assert all(0 <= o < c and o == int(o) for o, c in zip(p.offsets_s, p.cycle_s, strict=True))
        assert p.lanes in (1, 2)
        assert 300 <= p.flow_east_veh_h <= 900 and 300 <= p.flow_west_veh_h <= 900
        assert len(p.side_flows_veh_h) == n
        assert all(50 <= q <= 250 for pair in p.side_flows_veh_h for q in pair)
        assert (p.amber_s, p.all_red_s) == (3.0, 2.0)
        assert (p.speed_arterial_kmh, p.speed_side_kmh) == (50.0, 40.0)
        assert (p.entry_length_m, p.exit_length_m, p.stub_length_m) == (300.0, 300.0, 200.0)
        seen["coordinated"].add(p.coordinated)
        seen["per_signal"].add(p.per_signal_cycles)
        seen["direction"].add(p.wave_direction)
        seen["lanes"].add(p.lanes)
    assert all(len(v) == 2 for v in seen.values()), seen  # both outcomes of every coin


def test_green_wave_offsets():
    """Coordinated: the main green starts when a car at the progression speed arrives."""
    for s in SEEDS:
        p = cg.draw_params(s, coordinated=True)
        c = p.cycle_s[0]
        x = p.positions_m if p.wave_direction == "east" else p.positions_m[-1] - p.positions_m
        travel = x / (p.progression_kmh / 3.6)
        err = (np.array(p.offsets_s) - travel + c / 2) % c - c / 2
        assert np.all(np.abs(err) <= 0.5 + 1e-9), s


def test_forcing_the_mode_changes_only_the_timing():
    timing = {"coordinated", "per_signal_cycles", "cycle_s", "main_green_s", "offsets_s"}
    for s in range(10):
        a = cg.draw_params(s, coordinated=True).__dict__
        b = cg.draw_params(s, coordinated=False).__dict__
        assert {k for k in a if a[k] != b[k]} <= timing
        drawn = cg.draw_params(s).__dict__
        assert drawn == (a if drawn["coordinated"] else b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        cg.draw_params(1, sigma=1.5)
    with pytest.raises(ValueError, match="duration"):
        cg.draw_params(1, duration_s=0)


# ----------------------------------------------------------------------------- greenwave scenario


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_scenario_carries_the_drawn_corridor(tmp_path, kind):
    seed = KINDS[kind]
    p = cg.generate_corridor(seed, tmp_path, build_net=False)
    assert p == cg.draw_params(seed)
    assert json.loads((tmp_path / "params.json").read_text())["offsets_s"] == p.offsets_s
    sc = load_scenario(tmp_path / "corridor.toml")
    w = World.build(sc)
    net, plans = w.network, w.timing.plans
    assert [it.id for it in sc.intersections] == p.signal_ids
    for k, it in enumerate(sc.intersections):
        plan = it.plan
        assert plan.cycle_s == p.cycle_s[k]
        assert plan.offset_s == pytest.approx((p.offsets_s[k] + w.epoch_s) % p.cycle_s[k])
        ew, ns = (g for g in plan.groups)
        assert (ew.id, ns.id) == ("EW", "NS")
        assert ew.greens_s == [(0.0, p.main_green_s[k])]
        assert ns.greens_s == [(p.main_green_s[k] + 5.0, p.cycle_s[k] - 5.0)]
        # Simulation second offsets_s[k] is the start of the main green.
        g = plans.group_index(it.id, "EW")
        st, _ = plans.state(np.array([g, g]), w.epoch_s + p.offsets_s[k] + np.array([-0.5, 0.0]))
        assert st.tolist() == [0, GREEN]
    corr = sc.corridors[0]
    assert corr.intersections == p.signal_ids and corr.lanes == p.lanes
    assert (corr.progression_kmh is not None) == p.coordinated
    length = dict(zip(net.link_ids, net.link_length_m, strict=True))
    spacing = [length[f"art_f{k}"] for k in range(1, p.n_signals)]
    assert np.allclose(spacing, p.spacing_m, atol=0.01)
    assert np.allclose(
        [length[f"art_b{k}"] for k in range(1, p.n_signals)], spacing[::-1], atol=0.01
    )
    for lid in ("art_f0", "art_b0", f"art_f{p.n_signals}", f"art_b{p.n_signals}"):
        assert length[lid] == pytest.approx(300.0, abs=0.01)
    assert length["J0_nb0"] == pytest.approx(200.0, abs=0.01)
    flows = {e.link: e.flow_veh_h for e in sc.demand.entries}
    assert sc.demand.flow_veh_h_per_lane == 0.0
    assert flows.pop("art_f0") == p.flow_east_veh_h and flows.pop("art_b0") == p.flow_west_veh_h
    assert flows == {
        f"J{k}_{d}b0": q
        for k, pair in enumerate(p.side_flows_veh_h)
        for d, q in zip("ns", pair, strict=True)
    }
    entries = {net.link_ids[int(k)] for k in net.entry_links}
    assert entries == set(flows) | {"art_f0", "art_b0"}
    for k, lid in enumerate(net.link_ids):
        assert net.link_speed_limit_ms[k] * 3.6 == pytest.approx(
            50.0 if lid.startswith("art_") else 40.0
        )


def test_drivers_and_advisory_are_zibo_s():
    zibo = load_scenario(ROOT / "scenarios" / "zibo_arterial.toml")
    sc = cg.corridor_scenario(cg.draw_params(1))
    assert sc.drivers == zibo.drivers
    want = zibo.advisory.model_dump()
    want["band_max_kmh"] = min(want["band_max_kmh"], 50.0)
    assert sc.advisory.model_dump() == want


def test_cli_without_netconvert(tmp_path, capsys):
    out = tmp_path / "c"
    assert (
        main(
            [
                "generate-corridor",
                "--seed",
                "11",
                "--out",
                str(out),
                "--uncoordinated",
                "--sigma",
                "0.2",
                "--duration",
                "900",
                "--no-netconvert",
            ]
        )
        == 0
    )
    assert "uncoordinated" in capsys.readouterr().out
    p = json.loads((out / "params.json").read_text())
    assert p["coordinated"] is False and p["sigma"] == 0.2 and p["duration_s"] == 900.0
    vt = ET.parse(out / "corridor.rou.xml").getroot().find("vType")
    assert vt.get("sigma") == "0.2" and vt.get("carFollowModel") == "Krauss"
    assert ET.parse(out / "corridor.sumocfg").getroot().find("time/end").get("value") == "900"
    assert main(["validate", str(out / "corridor.toml")]) == 0
    first = {f: (out / f).read_bytes() for f in cg.FILES if (out / f).exists()}
    assert (
        main(
            [
                "generate-corridor",
                "--seed",
                "11",
                "--out",
                str(out),
                "--uncoordinated",
                "--sigma",
                "0.2",
                "--duration",
                "900",
                "--no-netconvert",
            ]
        )
        == 0
    )
    assert {f: (out / f).read_bytes() for f in first} == first
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "generate-corridor",
                "--seed",
                "1",
                "--out",
                str(out),
                "--coordinated",
                "--uncoordinated",
            ]
        )
    assert exc.value.code == 2


# ----------------------------------------------------------------------------- with SUMO


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The three corridors of KINDS, built with netconvert."""
    if not HAVE_SUMO:
        pytest.skip("SUMO not installed (pip install 'greenwave[sumo]'; CI installs it)")
    out = {}
    for kind, seed in KINDS.items():
        d = tmp_path_factory.mktemp(kind)
        out[kind] = (cg.generate_corridor(seed, d), d)
    return out


@needs_sumo
def test_built_files_are_identical_for_one_seed(built, tmp_path):
    p, d = built["wave"]
    cg.generate_corridor(p.seed, tmp_path)
    for name in cg.FILES:
        assert (tmp_path / name).read_bytes() == (d / name).read_bytes(), name


@needs_sumo
def test_net_has_internal_lanes_and_through_connections(built):
    for p, d in built.values():
        root = ET.parse(d / "corridor.net.xml").getroot()
        lanes = [ln.get("id") for ln in root.iter("lane")]
        assert any(lid.startswith(":J") for lid in lanes)  # junction-internal lanes
        conns = [
            (c.get("from"), c.get("to"), c.get("tl"))
            for c in root.iter("connection")
            if not c.get("from").startswith(":")
        ]
        expect = set()
        for tag in "fb":
            expect |= {(f"art_{tag}{k}", f"art_{tag}{k + 1}", None) for k in range(p.n_signals)}
        for j in p.signal_ids:
            expect |= {(f"{j}_nb0", f"{j}_nb1", None), (f"{j}_sb0", f"{j}_sb1", None)}
        assert {(a, b) for a, b, _ in conns} == {(a, b) for a, b, _ in expect}
        assert all(tl for _, _, tl in conns)  # every connection passes a signal
        assert len(conns) == 2 * p.n_signals * p.lanes + 2 * p.n_signals
        merged = ET.parse(d / "corridor.merged.net.xml").getroot()
        progs = {(t.get("id"), t.get("programID")) for t in merged.iter("tlLogic")}
        assert {(j, cg.PROGRAM_ID) for j in p.signal_ids} <= progs


@needs_sumo
def test_stop_lines_are_as_far_apart_in_sumo_as_in_greenwave(built):
    # Greenwave's junctions have no width; SUMO puts an internal lane between two edges.  Along
    # every route the stop lines (edge ends) must be where greenwave's are: the distance from
    # one stop line to the next is the internal lane plus the next edge, greenwave's link.
    from greenwave.network import build_network

    for p, d in built.values():
        net, _ = build_network(cg.corridor_scenario(p))
        gw = {lid: float(net.link_length_m[k]) for k, lid in enumerate(net.link_ids)}
        root = ET.parse(d / "corridor.net.xml").getroot()
        edge_len = {
            e.get("id"): float(next(e.iter("lane")).get("length"))
            for e in root.iter("edge")
            if e.get("function") != "internal"
        }
        into = cg.internal_lengths(d / "corridor.net.xml")
        assert set(edge_len) == set(gw)
        assert all(v > 5.0 for v in into.values())  # the net does have internal lanes
        for lid, length in gw.items():
            assert edge_len[lid] + into.get(lid, 0.0) == pytest.approx(length, abs=0.02), lid


def _states(cmd: list[str], tls: list[str], end_s: int) -> tuple[np.ndarray, dict]:
    """SUMO's signal strings at every simulation second ``0 .. end_s - 1`` (TraCI).

    After ``simulationStep()`` TraCI reports the state the step used, i.e. the one SUMO showed
    at the step's own time (the time read before the step).
    """
    import traci

    label = f"gc{id(cmd)}"
    traci.start(cmd, label=label, stdout=subprocess.DEVNULL)
    conn = traci.getConnection(label)
    times, states = [], {tl: [] for tl in tls}
    try:
        for _ in range(end_s):
            times.append(conn.simulation.getTime())
            conn.simulationStep()
            for tl in tls:
                states[tl].append(conn.trafficlight.getRedYellowGreenState(tl))
    finally:
        conn.close()
    return np.array(times), states


@needs_sumo
@pytest.mark.parametrize("which", ["additional", "merged"])
def test_sumo_signals_equal_greenwave_plan(built, which):
    for p, d in built.values():
        w = World.build(load_scenario(d / "corridor.toml"))
        plans = w.timing.plans
        end = 2 * max(p.cycle_s) + 1
        if which == "additional":
            cmd = [SUMO, "-c", str(d / "corridor.sumocfg")]
        else:
            cmd = [
                SUMO,
                "-n",
                str(d / "corridor.merged.net.xml"),
                "-r",
                str(d / "corridor.rou.xml"),
                "--step-length",
                "1",
            ]
        cmd += [
            "--no-step-log",
            "true",
            "--tripinfo-output",
            str(d / f"trip_{which}.xml"),
            "--end",
            str(end),
        ]
        times, states = _states(cmd, p.signal_ids, end)
        assert np.array_equal(times, np.arange(end))
        tll = ET.parse(d / "corridor.tll.add.xml").getroot()
        for tl in tll.iter("tlLogic"):
            jid = tl.get("id")
            meta = {
                g: json.loads(tl.find(f"param[@key='greenwave.group.{g}']").get("value"))
                for g in ("EW", "NS")
            }
            got = np.array([list(s) for s in states[jid]])
            for gid, m in meta.items():
                st, _ = plans.state(np.full(end, plans.group_index(jid, gid)), w.epoch_s + times)
                want = np.where(st == GREEN, "G", np.where(st == AMBER, "y", "r"))
                for i in m["links"]:
                    bad = times[got[:, i] != want]
                    assert bad.size == 0, (p.seed, which, jid, gid, i, bad[:5])
            # Both groups occur: the main street is green, the side street green later.
            assert set(got[:, meta["EW"]["links"][0]]) == {"G", "y", "r"}
            assert set(got[:, meta["NS"]["links"][0]]) == {"G", "y", "r"}


@needs_sumo
def test_import_sumo_reads_the_same_plans(built):
    for p, d in built.values():
        sc = cg.corridor_scenario(p)
        edges = [f"art_{t}{k}" for t in "fb" for k in range(p.n_signals + 1)]
        back, _ = import_sumo(
            d / "corridor.merged.net.xml", routes=d / "corridor.rou.xml", corridor_edges=edges
        )
        want = {it.id: it.plan for it in sc.intersections}
        assert {it.id: it.plan for it in back.intersections} == want
        flows = {e.link: e.flow_veh_h for e in back.demand.entries}
        assert flows == pytest.approx({"art_f0": p.flow_east_veh_h, "art_b0": p.flow_west_veh_h})


@needs_sumo
def test_sumo_runs_600_s_without_teleports_or_collisions(built):
    for p, d in built.values():
        # SUMO's default teleport time (the .sumocfg switches teleporting off, as greenwave
        # never teleports) so that a jam would show, and collisions checked on junctions too.
        proc = subprocess.run(
            [
                SUMO,
                "-c",
                "corridor.sumocfg",
                "--end",
                "600",
                "--time-to-teleport",
                "300",
                "--collision.check-junctions",
                "true",
                "--tripinfo-output",
                "trip600.xml",
                "--tripinfo-output.write-unfinished",
                "true",
            ],
            cwd=d,
            capture_output=True,
            text=True,
            timeout=120,
            env=tool_env(SUMO),
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-2000:]
        assert "teleport" not in log.lower() and "collision" not in log.lower(), log[-2000:]
        trips = ET.parse(d / "trip600.xml").getroot().findall("tripinfo")  # + unfinished
        entries = {t.get("id").rsplit(".", 1)[0] for t in trips}
        assert {"art_f0", "art_b0"} <= entries
        assert len(trips) >= 0.5 * 600 / 3600 * (p.flow_east_veh_h + p.flow_west_veh_h)
        assert all(t.find("emissions") is not None for t in trips)  # emission device on
        assert not math.isnan(float(trips[0].find("emissions").get("fuel_abs")))
