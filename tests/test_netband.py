"""Network coordination (greenwave.netband): loop constraints on every block, brute force on
small grids, bands measured on the written plans, demand weights."""

import itertools
import json

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.coordination import CoordinationError, corridor_bands
from greenwave.netband import (
    expand_grid,
    grid_blocks,
    loop_residuals_s,
    network_problem,
    optimize_network,
)
from greenwave.network import World
from greenwave.scenario import dumps_scenario, load_scenario, loads_scenario, parse_scenario

V45 = 45 / 3.6


@pytest.fixture(scope="module")
def city(root):
    return load_scenario(root / "scenarios" / "zibo_city.toml")


def _grid(city, rows, cols, **kw):
    data = city.model_dump(mode="json", exclude_none=True)
    data["grid"].update(rows=rows, cols=cols, **kw)
    return parse_scenario(data, "<small grid>")


def _weighted(prob, offsets, speed):
    """Σ W b / C over every arterial direction, measured with greenwave.coordination."""
    total = 0.0
    for art in prob.arterials:
        bands = corridor_bands(art.corridor, speed, offsets[art.nodes])
        total += sum(art.weight[k] * bands[k].bandwidth_s for k in art.weight)
    return total / prob.cycle_s


def test_expand_grid_is_the_same_network(city):
    sc = _grid(city, 3, 4, offsets="random")
    flat = expand_grid(sc)
    assert flat.grid is None and len(flat.intersections) == 12 and len(flat.corridors) == 7
    a, b = World.build(sc), World.build(flat)
    assert a.network.link_ids == b.network.link_ids
    assert a.timing.plans.group_keys == b.timing.plans.group_keys
    np.testing.assert_allclose(a.network.link_length_m, b.network.link_length_m)
    np.testing.assert_array_equal(a.timing.plans.offset_s, b.timing.plans.offset_s)
    assert expand_grid(flat) is flat


def test_demand_weights(city):
    sc = _grid(city, 2, 3)
    flat = expand_grid(sc)
    data = flat.model_dump(mode="json", exclude_none=True)
    # Row 0 eastbound: twice the default 300 veh/h/lane × 2 lanes.
    data["demand"]["entries"] = [{"link": "row0_f0", "flow_veh_h": 1200.0}]
    prob = network_problem(parse_scenario(data))
    w = {a.corridor.id: a.weight for a in prob.arterials}
    flows = {a.corridor.id: a.flow_veh_h for a in prob.arterials}
    assert flows["row0"]["forward"] == 1200.0 and flows["row0"]["backward"] == 600.0
    assert w["row0"]["forward"] == 1.0
    assert w["row0"]["backward"] == pytest.approx(0.5)
    # Columns have one link (2 signals), rows two: MULTIBAND's V/S summed over links.
    assert w["col0"]["forward"] == pytest.approx(0.25)
    eq = network_problem(parse_scenario(data), weights="equal")
    assert all(v == 1.0 for a in eq.arterials for v in a.weight.values())


def test_exact_program_equals_brute_force_on_a_block(city):
    # One block (2 × 2 signals, four two-way arterials); offsets on a 10 s grid from the first
    # signal: 12³ plans.  Uneven spacing so that the block is not trivially symmetric.
    sc = _grid(city, 2, 2, offsets="zero", spacing_jitter_m=150.0)
    prob = network_problem(expand_grid(sc))
    step, cyc = 10.0, prob.cycle_s
    best = max(
        _weighted(prob, np.array((0.0, *rest)) * step % cyc, V45)
        for rest in itertools.product(range(12), repeat=3)
    )
    exact = optimize_network(sc, speed_ms=V45, method="exact", step_s=step)
    assert exact.method == "exact" and exact.optimal
    got = _weighted(prob, exact.offsets_s, V45)
    assert got == pytest.approx(best, abs=1e-6)
    assert exact.objective == pytest.approx(got, abs=1e-6)
    free = optimize_network(sc, speed_ms=V45, method="exact", step_s=None)
    assert free.objective >= best - 1e-4
    dec = optimize_network(sc, speed_ms=V45, method="decomposed", step_s=step)
    assert dec.objective <= exact.objective + 1e-6 <= dec.upper_bound + 2e-6


@pytest.mark.slow
def test_decomposition_against_the_exact_program(city):
    # 2 × 3 signals, two blocks: the decomposition is no better than the exact program (which
    # HiGHS proves) and both stay below the bound of the arterials each alone.
    sc = _grid(city, 2, 3, offsets="random", spacing_jitter_m=150.0)
    exact = optimize_network(sc, speed_ms=V45, method="exact", step_s=None)
    dec = optimize_network(sc, speed_ms=V45, method="decomposed", step_s=None)
    assert exact.optimal
    assert dec.objective <= exact.objective + 1e-6
    assert exact.objective <= exact.upper_bound + 1e-6
    assert dec.objective >= 0.9 * exact.objective


def _check_plan(res, speed):
    """Loops closed on every block of the written (and reloaded) plan; program bands are the
    bands measured on it; no arterial beats its own optimum."""
    back = loads_scenario(dumps_scenario(res.scenario), "written.toml")
    blocks = grid_blocks(back)
    assert blocks
    np.testing.assert_allclose(loop_residuals_s(back, blocks), 0.0, atol=1e-6)
    world = World.build(back)
    assert world.timing.plans.cycle_s.min() == world.timing.plans.cycle_s.max() == res.cycle_s
    for art in res.arterials:
        for k, band in art.band.items():
            assert band.bandwidth_s == pytest.approx(art.program_band_s[k], abs=1e-3)
        assert art.objective <= art.upper_bound + 1e-6
    assert res.objective <= res.upper_bound + 1e-9


def test_grid_loops_closed_and_bands_measured(city):
    sc = _grid(city, 4, 5, offsets="random", spacing_jitter_m=120.0)
    res = optimize_network(sc, speed_ms=V45, speed_tolerance_ms=3 / 3.6)
    assert res.method == "decomposed"
    _check_plan(res, V45)
    assert res.gap < 0.02
    first = World.build(sc).timing.plans.offset_s[0]
    assert len(res.offsets_s) == 20 and res.offsets_s[0] == pytest.approx(first)


def test_grid_with_cycle_choice_gives_two_way_bands(city):
    # 500 m blocks at 45 km/h take 40 s: at a 120 s cycle (C/3) one direction per street gets a
    # band; near 80 s (C/2, alternate progression) both do.
    sc = _grid(city, 3, 4, spacing_jitter_m=20.0)
    res = optimize_network(sc, speed_ms=V45, cycle_range_s=(60.0, 150.0))
    assert 74.0 <= res.cycle_s <= 86.0
    _check_plan(res, V45)
    for art in res.arterials:
        assert min(b.bandwidth_s for b in art.band.values()) > 0.3 * res.cycle_s


def test_mixed_cycles_rejected(city):
    flat = expand_grid(_grid(city, 2, 2))
    data = flat.model_dump(mode="json", exclude_none=True)
    data["intersections"][3]["plan"]["cycle_s"] = 100.0
    data["intersections"][3]["plan"]["groups"][1]["greens_s"] = [[60.0, 95.0]]
    with pytest.raises(CoordinationError, match="common cycle"):
        optimize_network(parse_scenario(data), speed_ms=V45)


@pytest.mark.slow
def test_zibo_city(city):
    res = optimize_network(city, speed_ms=V45)
    assert len(res.node_ids) == 1190 and len(res.arterials) == 69
    _check_plan(res, V45)
    assert res.gap < 0.02


# ----------------------------------------------------------------------------- CLI
def test_cli_network(city, tmp_path, capsys):
    src = tmp_path / "grid.toml"
    src.write_text(dumps_scenario(_grid(city, 3, 3, offsets="random")), encoding="utf-8")
    out = tmp_path / "out.toml"
    argv = ["optimize", str(src), "--network", "--speed-kmh", "45", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "9 signals, 6 arterials" in text and "upper bound" in text and "row0" in text
    written = load_scenario(out)
    assert written.grid is None and len(written.intersections) == 9
    np.testing.assert_allclose(loop_residuals_s(written, grid_blocks(written)), 0, atol=1e-6)
    assert main([*argv, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["cycle_s"] == 120.0 and len(obj["arterials"]) == 6 and len(obj["offsets"]) == 9
    assert obj["objective_cycles"] <= obj["upper_bound_cycles"] + 1e-9


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--corridor", "row0"], "--corridor applies to one corridor"),
        (["--target-ratio", "1"], "--target-ratio applies to one corridor"),
        (["--cycle-range", "15:20"], "--cycle-range: no cycle in 15–20 s is feasible"),
    ],
)
def test_cli_network_bad_input(city, tmp_path, capsys, extra, message):
    src = tmp_path / "grid.toml"
    src.write_text(dumps_scenario(_grid(city, 2, 2)), encoding="utf-8")
    out = tmp_path / "out.toml"
    code = main(["optimize", str(src), "--network", "--speed-kmh", "45", "--out", str(out), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
