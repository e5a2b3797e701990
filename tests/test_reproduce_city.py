"""``benchmarks/reproduce_claims.py --city``: the grid city's before/after on the same arrivals.

Checked on small sub-grids: the before timing is uncoordinated and the after plan gives two-way
bands on every arterial with the loops closed; the cycle-only control keeps the before offsets
at the plan's cycle; every case of a seed drives the same vehicles, all of them to the end;
the parts (axes, directions, arterials) partition the vehicles; bad flags exit 2.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from simkit import load_script

from greenwave.netband import grid_blocks, loop_residuals_s
from greenwave.network import World
from greenwave.scenario import parse_scenario

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "reproduce_claims.py"


@pytest.fixture(scope="module")
def rc():
    return load_script("reproduce_claims")


@pytest.fixture(scope="module")
def small(rc):
    return rc.city_before_after((3, 3))


def _sc(text):
    return parse_scenario(tomllib.loads(text), "<test>")


def test_before_uncoordinated_after_two_way_bands(rc, small):
    texts, how, plan = small
    assert set(texts) == {"before", "after", "cycle_only", "own_wave"}
    assert plan["signals"] == 9 and plan["arterials"] == 6 and plan["grid"] == [3, 3]
    assert 60.0 <= plan["cycle_s"] <= 150.0 and plan["cycle_before_s"] == 120.0
    for k in ("forward", "backward"):
        assert plan["band_s"][k][0] > 0.3 * plan["cycle_s"]  # every arterial, both ways
        assert plan["band_before_s"][k][1] < plan["band_s"][k][1]
    after = _sc(texts["after"])
    np.testing.assert_allclose(loop_residuals_s(after, grid_blocks(after)), 0.0, atol=1e-6)
    before, cyc = _sc(texts["before"]), _sc(texts["cycle_only"])
    for b, c in zip(before.intersections, cyc.intersections, strict=True):
        assert b.plan.cycle_s == 120.0 and c.plan.cycle_s == plan["cycle_s"]
        assert c.plan.offset_s == pytest.approx(b.plan.offset_s % plan["cycle_s"])
    # Random offsets before, the scenario's own diagonal wave for the sweep.
    own = {it.plan.offset_s for it in _sc(texts["own_wave"]).intersections}
    assert own != {it.plan.offset_s for it in before.intersections}
    assert "random offsets" in how and f"cycle {plan['cycle_s']:g} s" in how


def test_parts_partition_the_vehicles(rc, small):
    texts, _, _ = small
    out = rc.run_city_seed(texts, 904, 420.0, 3600.0, cases=("before", "after"))
    n = out["before"]["all"]["vehicles"]
    assert n > 50
    for case in ("before", "after"):
        parts = out[case]
        assert abs(parts["all"]["vehicles"] - n) <= 2 and parts["all"]["incomplete"] == 0
        n_case = parts["all"]["vehicles"]
        for group in (
            ("E–W", "N–S"),
            ("eastbound", "westbound", "northbound", "southbound"),
            ("forward", "backward"),
            tuple(f"{a}{i}" for a in ("row", "col") for i in range(3)),
        ):
            assert sum(parts[k]["vehicles"] for k in group) == n_case, group
    # Rows run east–west: their vehicles are the E–W ones.
    world = World.build(_sc(texts["after"]))
    parts = rc.city_parts(world)
    rows = np.concatenate([parts[f"row{i}"] for i in range(3)])
    assert set(rows.tolist()) == set(parts["E–W"].tolist())


@pytest.mark.slow
def test_city_run_end_to_end(tmp_path):
    out = tmp_path / "plots"
    cmd = [sys.executable, str(SCRIPT), "--city", "--grid", "2x3", "--seeds", "2"]
    cmd += ["--first-seed", "904", "--duration", "420", "--no-sensitivity", "--workers", "1"]
    cmd += ["--out", str(out), "--json"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert "no turning or side-street traffic" in text
    obj = json.loads(text.strip().splitlines()[-1])
    city = obj["city"]
    assert city["seeds"] == [904, 905] and city["turning_traffic"] is False
    # The same arrivals in every case; a vehicle queued at its entry around the end of the
    # warm-up may enter on either side of it, so the counted ones may differ by a vehicle or two.
    counts = np.array([lv["vehicles"] for lv in city["levels"].values()])
    assert counts.size == 5 and np.ptp(counts) <= 2
    for comp in ("system", "coordination_only", "advice_only", "cycle_only"):
        for name in ("speed", "fuel", "co2"):
            d = city[comp][f"{name}_change_pct"]
            assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
        assert {"E–W", "N–S", "eastbound", "row0", "col2"} <= set(city[comp]["by_part"])
    assert obj["speed_change_pct"] == city["system"]["speed_change_pct"]
    for name in ("city_by_part.png", "city_by_arterial.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--city", "scenarios/zibo_arterial.toml"], "give no SCENARIO"),
        (["--city", "--grid", "40x3"], "35x34"),
        (["--city", "--grid", "twelve"], "expected RxC"),
        (["--city", "--grid", "1x5"], "2..200"),
        (["--drain", "-1"], "--drain"),
        (["--city", "--sensitivity-only", "--no-sensitivity"], "exclude each other"),
    ],
)
def test_bad_flags_exit_2(rc, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        rc.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
