"""``benchmarks/glosa_vs_sumo.py --net``: greenwave vs SUMO's device.glosa on any SUMO network.

With SUMO (the ``[sumo]`` extra; skipped otherwise): on a generated corridor
(:func:`greenwave.sumo.corridorgen.generate_corridor`, 600 s of departures) one seed at 100 %
penetration gives the JSON on the last line with every key and finite measures, and every trip
is counted — the same number of vehicles in all three runs, equal to the trips of the baseline's
tripinfo and to SUMO's inserted vehicles, none left running, some arriving after the departure
horizon.  Bad input exits with code 2 and a message naming it: a missing file, a net without
signals, routes over edges the net lacks, seeds that are not integers, a penetration outside
[0, 1].
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from greenwave.sumo.tools import find_sumo_tool, tool_env

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "glosa_vs_sumo.py"
NETCONVERT = find_sumo_tool("netconvert")
HAVE_SUMO = (
    find_sumo_tool("sumo") is not None
    and NETCONVERT is not None
    and any(importlib.util.find_spec(m) is not None for m in ("libsumo", "traci"))
)
pytestmark = pytest.mark.skipif(
    not HAVE_SUMO, reason="SUMO not installed (pip install 'greenwave[sumo]'; CI installs it)"
)

RUNS = ("baseline", "device_glosa", "greenwave")
PAIRS = ("greenwave_vs_device_pct", "greenwave_vs_baseline_pct", "device_vs_baseline_pct")
METRICS = ("stops_per_veh", "fuel_l_per_100km", "travel_time_s")
COUNTS = ("vehicles", "red_light_crossings", "collisions", "teleports")
DURATION = 600


def _run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def corridor(tmp_path_factory):
    from greenwave.sumo.corridorgen import generate_corridor

    d = tmp_path_factory.mktemp("corridor")
    generate_corridor(14, d, duration_s=DURATION)  # 5 signals, light traffic
    return d


def _files(d: Path) -> list:
    return [
        "--net",
        d / "corridor.net.xml",
        "--routes",
        d / "corridor.rou.xml",
        "--additional",
        d / "corridor.tll.add.xml",
    ]


def test_corridor_every_trip_counted(corridor, tmp_path):
    before = {p.name: p.read_bytes() for p in corridor.iterdir()}
    work = tmp_path / "work"
    r = _run(
        *_files(corridor),
        "--scenario",
        corridor / "corridor.toml",
        "--seeds",
        "1",
        "--penetration",
        "1.0",
        "--duration",
        DURATION,
        "--work",
        work,
        "--json",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for key in (*RUNS, *PAIRS):
        assert key in out, key
    for run in RUNS:
        for m in METRICS:
            v = out[run][m]
            assert len(v["per_seed"]) == 1 and math.isfinite(v["per_seed"][0]), (run, m, v)
            assert math.isfinite(v["mean"]) and len(v["ci95"]) == 2  # one seed: no interval
        for c in COUNTS:
            assert out[run][c]["per_seed"][0] >= 0, (run, c)
        assert out[run]["unfinished"]["total"] == 0, run
    for pair in PAIRS:
        for m in METRICS:
            d = out[pair][m]
            assert math.isfinite(d["mean"]) and math.isfinite(d["per_seed"][0]), (pair, m)
            assert d["significant"] is False  # one seed: no interval, never significant
    # Every trip: the same vehicles in all three runs, all of the baseline's tripinfo, all
    # that SUMO inserted, and some arrived after the last departure (the run drained).
    n = {run: out[run]["vehicles"]["per_seed"][0] for run in RUNS}
    trips = ET.parse(work / "tripinfo_baseline_s1.xml").getroot().findall("tripinfo")
    inserted = re.findall(r"Inserted: (\d+)", (work / "baseline_s1.log").read_text())
    assert n["baseline"] == n["device_glosa"] == n["greenwave"] == len(trips) > 100, n
    assert int(inserted[-1]) == len(trips)
    assert max(float(t.get("arrival")) for t in trips) > DURATION
    assert max(float(t.get("depart")) for t in trips) <= DURATION
    # 100 %: every vehicle carried SUMO's device, and greenwave advised.
    assert out["device_glosa"]["equipped"]["per_seed"] == [n["device_glosa"]]
    assert out["greenwave"]["equipped"]["per_seed"] == [n["greenwave"]]
    assert out["greenwave"]["advised_vehicle_updates"]["per_seed"][0] > 0
    assert not [s for s in out["notes"] if s.startswith("WARNING")], out["notes"]
    # The user's files are untouched.
    assert {p.name: p.read_bytes() for p in corridor.iterdir()} == before


def test_missing_file(corridor, tmp_path):
    missing = tmp_path / "nothere.rou.xml"
    r = _run(
        "--net",
        corridor / "corridor.net.xml",
        "--routes",
        missing,
        "--seeds",
        "1",
        "--penetration",
        "1.0",
        "--json",
    )
    assert r.returncode == 2
    assert str(missing) in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.stderr


def test_net_without_signals(tmp_path):
    (tmp_path / "n.nod.xml").write_text(
        '<nodes><node id="a" x="0" y="0"/><node id="b" x="200" y="0"/></nodes>'
    )
    (tmp_path / "n.edg.xml").write_text(
        '<edges><edge id="e" from="a" to="b" numLanes="1" speed="13.89"/></edges>'
    )
    subprocess.run(
        [NETCONVERT, "-n", "n.nod.xml", "-e", "n.edg.xml", "-o", "n.net.xml"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env=tool_env(NETCONVERT),
    )
    (tmp_path / "r.rou.xml").write_text(
        '<routes><flow id="f" from="e" to="e" begin="0" end="60" period="10"/></routes>'
    )
    r = _run(
        "--net",
        tmp_path / "n.net.xml",
        "--routes",
        tmp_path / "r.rou.xml",
        "--seeds",
        "1",
        "--penetration",
        "1.0",
        "--json",
    )
    assert r.returncode == 2
    assert "n.net.xml has no signals" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("case", ["edges", "seeds", "penetration"])
def test_bad_input(corridor, tmp_path, case):
    routes = corridor / "corridor.rou.xml"
    seeds, pen = "1", "1.0"
    if case == "edges":
        routes = tmp_path / "bad.rou.xml"
        routes.write_text(
            '<routes><route id="r" edges="art_f0 nope zz"/>'
            '<vehicle id="v" route="r" depart="0"/></routes>'
        )
    elif case == "seeds":
        seeds = "1,x"
    else:
        pen = "1.5"
    r = _run(
        "--net",
        corridor / "corridor.net.xml",
        "--routes",
        routes,
        "--additional",
        corridor / "corridor.tll.add.xml",
        "--seeds",
        seeds,
        "--penetration",
        pen,
        "--json",
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    expect = {"edges": "'nope', 'zz'", "seeds": "--seeds", "penetration": "--penetration"}
    assert expect[case] in r.stderr, r.stderr


@pytest.mark.slow
def test_no_collision_where_a_queue_spills_back_over_a_junction(tmp_path):
    """Regression: on fresh corridor 1004 (seed 1, the app's band) a vehicle held at its
    advised speed ran into a queue that spilled back over the junction ahead (t = 1837 s).
    The controller now looks for leaders across the junction; no run may collide, teleport or
    cross on red."""
    from greenwave.sumo.corridorgen import generate_corridor

    d = tmp_path / "c1004"
    generate_corridor(1004, d, sigma=0.0, duration_s=1800.0)
    r = _run(
        *_files(d),
        "--scenario",
        d / "corridor.toml",
        "--seeds",
        "1",
        "--min-speed-kmh",
        "35",
        "--max-speedfactor",
        "1.0",
        "--device-range",
        "500",
        "--jobs",
        "1",
        "--work",
        tmp_path / "runs",
        "--json",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for run in RUNS:
        for c in ("red_light_crossings", "collisions", "teleports"):
            assert out[run][c]["per_seed"] == [0], (run, c, out[run][c])
