"""Time–space diagrams of a plan's bands (greenwave.sim.tsdiagram, `greenwave optimize --plots`).

The geometry drawn is checked against the plan's numbers (each band's start and width at every
stop line, its slope against the progression speeds) and, independently of the band
computation, against the signal timing itself: every drawn band crosses every stop line of its
direction while that stop line's group is green.
"""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Polygon

from greenwave import cli_coordination
from greenwave.cli import main
from greenwave.maxband import optimize_corridor
from greenwave.netband import optimize_network
from greenwave.network import World
from greenwave.scenario import dumps_scenario, load_scenario, parse_scenario
from greenwave.sim import plotstyle as ps
from greenwave.sim.tsdiagram import (
    arterial_figure,
    band_polygons,
    plan_arterials,
    window_s,
    write_band_diagrams,
)
from greenwave.timing import GREEN

V45 = 45 / 3.6
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def arterial_plan(root):
    """The bundled arterial's uncoordinated timing retimed two-way with a cycle choice."""
    sc = load_scenario(root / "scenarios" / "zibo_arterial_uncoordinated.toml")
    return optimize_corridor(
        sc, speed_ms=V45, speed_tolerance_ms=5 / 3.6, cycle_range_s=(60.0, 150.0)
    )


@pytest.fixture(scope="module")
def grid_scenario(root):
    data = load_scenario(root / "scenarios" / "zibo_city.toml").model_dump(
        mode="json", exclude_none=True
    )
    data["grid"].update(rows=3, cols=3, offsets="random")
    return parse_scenario(data, "<3x3 grid>")


@pytest.fixture(scope="module")
def network_plan(grid_scenario):
    return optimize_network(grid_scenario, speed_ms=V45, cycle_range_s=(60.0, 150.0))


def _check_geometry(res, world, arts, speed_range_ms):
    """Every band's parallelograms against the plan's numbers and the signal timing."""
    assert arts
    for art in arts:
        t0, t1 = window_s(art)
        for name, band in art.bands.items():
            polys = band_polygons(band, art.stop_pos_m[name], world.epoch_s, t0, t1)
            if band.bandwidth_s == 0:
                assert polys == []
                continue
            assert len(polys) >= 2
            k_stops = len(art.stop_pos_m[name])
            c = art.cycle_s
            for xy in polys:
                lead, trail = xy[:k_stops], xy[k_stops:][::-1]
                # At each stop line: the band's start (mod C) and its width, at that stop's place.
                np.testing.assert_allclose(lead[:, 1], art.stop_pos_m[name])
                np.testing.assert_allclose(trail[:, 1], art.stop_pos_m[name])
                phase = np.mod(lead[:, 0] + world.epoch_s - band.start_s + c / 2, c) - c / 2
                np.testing.assert_allclose(phase, 0.0, atol=1e-6)
                np.testing.assert_allclose(trail[:, 0] - lead[:, 0], band.bandwidth_s)
                # Between stop lines the edges run at the program's speeds (within V ± T).
                v = np.abs(np.diff(lead[:, 1]) / np.diff(lead[:, 0]))
                np.testing.assert_allclose(v, art.speed_ms[name], rtol=1e-6)
                assert np.all(v >= speed_range_ms[0] - 1e-6)
                assert np.all(v <= speed_range_ms[1] + 1e-6)
                # Independent of the band computation: green at every stop line, all band long.
                frac = np.linspace(0.02, 0.98, 9)
                ts = lead[:, 0][:, None] + frac[None, :] * band.bandwidth_s  # (K, 9)
                groups = np.broadcast_to(art.stop_group[name][:, None], ts.shape)
                state = world.timing.state(groups.ravel(), world.epoch_s + ts.ravel())[0]
                assert np.all(state == GREEN), (art.id, name)


def test_corridor_plan_both_bands_match_the_program(arterial_plan):
    res = arterial_plan
    world = World.build(res.scenario)
    arts = plan_arterials(res, world)
    assert [a.id for a in arts] == [res.corridor.id]
    art = arts[0]
    for name, d in res.directions.items():
        assert d.band.bandwidth_s > 0.2 * res.cycle_s  # a two-way plan: both bands exist
        assert art.bands[name].bandwidth_s == d.band.bandwidth_s
        np.testing.assert_allclose(art.bands[name].start_s, d.band.start_s)
    # The backward band runs downwards on the forward axis, from the last intersection.
    assert np.all(np.diff(art.stop_pos_m["forward"]) > 0)
    assert np.all(np.diff(art.stop_pos_m["backward"]) < 0)
    _check_geometry(res, world, arts, res.speed_range_ms)


def test_the_figure_draws_exactly_those_polygons(arterial_plan):
    res = arterial_plan
    world = World.build(res.scenario)
    art = plan_arterials(res, world)[0]
    t0, t1 = window_s(art)
    with ps.style():
        fig = arterial_figure(world, art)
    try:
        drawn = {
            p.get_gid(): p.get_xy()
            for p in fig.axes[0].patches
            if isinstance(p, Polygon) and (p.get_gid() or "").startswith("band:")
        }
        for name, band in art.bands.items():
            expect = band_polygons(band, art.stop_pos_m[name], world.epoch_s, t0, t1)
            got = [v for k, v in drawn.items() if k.startswith(f"band:{name}:")]
            assert len(got) == len(expect) > 0
            for k, xy in enumerate(expect):
                # matplotlib closes the polygon: the first vertex again at the end.
                np.testing.assert_allclose(drawn[f"band:{name}:{k}"][: len(xy)], xy)
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        for name, d in res.directions.items():
            assert any(
                t.startswith(f"{name} band") and f"{d.band.bandwidth_s:.1f} s" in t for t in legend
            )
    finally:
        plt.close(fig)


def test_one_way_plan_draws_no_backward_band(root):
    sc = load_scenario(root / "scenarios" / "zibo_arterial_uncoordinated.toml")
    res = optimize_corridor(sc, speed_ms=V45, direction="one")
    world = World.build(res.scenario)
    art = plan_arterials(res, world)[0]
    assert not art.optimised["backward"] and art.optimised["forward"]
    back = art.bands["backward"]
    polys = band_polygons(back, art.stop_pos_m["backward"], world.epoch_s, *window_s(art))
    assert (back.bandwidth_s == 0) == (polys == [])
    _check_geometry(res, world, [art], (V45, V45))


def test_network_plan_every_arterial(network_plan):
    res = network_plan
    world = World.build(res.scenario)
    arts = plan_arterials(res, world)
    assert sorted(a.id for a in arts) == sorted(a.id for a in res.arterials)
    for art, ar in zip(arts, res.arterials, strict=True):
        for name in ("forward", "backward"):
            assert art.bands[name].bandwidth_s == ar.band[name].bandwidth_s > 0
    _check_geometry(res, world, arts, res.speed_range_ms)


def test_write_band_diagrams_one_png_per_arterial(network_plan, tmp_path):
    paths = write_band_diagrams(network_plan, tmp_path / "plots")
    assert sorted(p.name for p in paths) == sorted(
        f"bands_{a.id}.png" for a in network_plan.arterials
    )
    for p in paths:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 10_000


# ----------------------------------------------------------------------------- CLI
def test_cli_plots_corridor_and_network(root, grid_scenario, tmp_path, capsys):
    src = root / "scenarios" / "zibo_arterial_uncoordinated.toml"
    argv = ["optimize", str(src), "--speed-kmh", "45", "--out", str(tmp_path / "a.toml")]
    assert main([*argv, "--plots", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 time–space diagram(s)" in out and "bands_renmin.png" in out
    assert (tmp_path / "a" / "bands_renmin.png").read_bytes()[:8] == PNG

    grid = tmp_path / "grid.toml"
    grid.write_text(dumps_scenario(grid_scenario), encoding="utf-8")
    argv = ["optimize", str(grid), "--network", "--speed-kmh", "45"]
    argv += ["--out", str(tmp_path / "g.toml"), "--plots", str(tmp_path / "g"), "--json"]
    assert main(argv) == 0
    obj = json.loads(capsys.readouterr().out)
    names = sorted(p.rsplit("/", 1)[-1] for p in obj["plots"])
    assert names == sorted(f"bands_{a['id']}.png" for a in obj["arterials"])
    assert len(names) == 6 and all((tmp_path / "g" / n).exists() for n in names)


def test_cli_plots_bad_input(root, tmp_path, capsys, monkeypatch):
    src = root / "scenarios" / "zibo_arterial_uncoordinated.toml"
    out = tmp_path / "a.toml"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["optimize", str(src), "--speed-kmh", "45", "--out", str(out)]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--plots", str(blocker)])
    assert exc.value.code == 2
    assert "--plots" in capsys.readouterr().err
    # No registered writer: a clear message and exit 2 before anything is solved or written.
    monkeypatch.setattr(cli_coordination, "entry_points", lambda group: [])
    assert main([*argv, "--plots", str(tmp_path / "p")]) == 2
    assert "no plot writer is registered" in capsys.readouterr().err
    assert not out.exists()
