"""Plots of paired runs (sim.plots) and the shared plot style (sim.plotstyle): files named by
direction, titles that say what and when, legends that cover no stop line, stop-line markers."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from greenwave.geo import LocalProjection
from greenwave.network import World
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario, parse_scenario
from greenwave.sim import plotstyle as ps
from greenwave.sim.compare import run_pair
from greenwave.sim.plots import (
    RouteView,
    speed_profile_figure,
    time_space_figure,
    write_plots,
)

WARMUP_S = 60.0
DURATION_S = 420.0


@pytest.fixture(scope="module")
def runs():
    """The bundled arterial with a short warm-up and half the demand: one recorded pair."""
    sc = load_scenario(DEFAULT_SCENARIO)
    sc = sc.model_copy(
        update={
            "simulation": sc.simulation.model_copy(update={"warmup_s": WARMUP_S}),
            "demand": sc.demand.model_copy(update={"scale": 0.5}),
        }
    )
    world = World.build(sc)
    base, adv = run_pair(world, 1, duration_s=DURATION_S, record=True)
    return world, base, adv


def _view(world, base, direction: str) -> RouteView:
    entry = base.extra["entry_links"]
    for r in np.unique(base.trajectories["route"]):
        if ps.direction_name(world, int(entry[r])) == direction:
            return RouteView.build(world, entry, int(r))
    raise AssertionError(f"no {direction} route recorded")


def test_files_are_named_by_direction_and_draw_every_glyph(runs, tmp_path):
    world, base, adv = runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = write_plots(world, base, adv, tmp_path, seed=1)
    assert sorted(p.name for p in files) == [
        "speed_profiles_eastbound.png",
        "speed_profiles_westbound.png",
        "time_space_eastbound.png",
        "time_space_westbound.png",
    ]
    for p in files:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Names the fonts cannot draw (the arterial's are Chinese) fall back to ids: no tofu.
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_time_space_title_names_scenario_direction_seed_and_window(runs):
    world, base, adv = runs
    view = _view(world, base, "eastbound")
    t0, t1 = WARMUP_S, DURATION_S
    with ps.style():
        fig = time_space_figure(world, base, adv, view, t0, t1, seed=7)
    try:
        title = fig._suptitle.get_text()
        assert world.scenario.name in title
        assert "eastbound" in title
        assert "seed 7" in title
        assert f"t = {t0:g}–{t1:g} s" in title
        # Intersection names (or ids where the fonts lack the names) at the stop lines.
        ax = fig.axes[0]
        np.testing.assert_allclose(ax.get_yticks(), view.stop_m)
        expected = [
            ps.plot_label(world.network.intersection_names[i], world.network.intersection_ids[i])
            for i in range(len(world.network.intersection_ids))
        ]
        assert [t.get_text() for t in ax.get_yticklabels()] == expected  # eastbound: in order
        legend = fig.legends[0]
        texts = [t.get_text() for t in legend.get_texts()]
        for want in ("signal green", "signal amber", "signal red", "design green band (45 km/h)"):
            assert want in texts
        assert "equipped" in texts and "vehicle (no advice)" in texts
    finally:
        plt.close(fig)


def test_legend_covers_no_stop_line_and_the_band_is_drawn_over_trajectories(runs):
    world, base, adv = runs
    for direction in ("eastbound", "westbound"):
        view = _view(world, base, direction)
        with ps.style():
            fig = time_space_figure(world, base, adv, view, WARMUP_S, DURATION_S, seed=1)
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            legend = fig.legends[0].get_window_extent(renderer)
            for ax in fig.axes[:2]:
                box = ax.get_window_extent(renderer)
                assert not legend.overlaps(box), "legend inside a plotting area"
                for stop in view.stop_m:  # the top stop line in particular
                    y = ax.transData.transform((WARMUP_S, stop))[1]
                    assert not (legend.y0 <= y <= legend.y1 and legend.x0 < box.x1), stop
            if direction == "eastbound":
                ax = fig.axes[0]
                traj = [c for c in ax.collections if c.get_zorder() == 2]
                band = [a for a in [*ax.collections, *ax.patches] if 3 <= a.get_zorder() < 5]
                assert traj and band
                assert min(a.get_zorder() for a in band) > max(c.get_zorder() for c in traj)
            else:  # the arterial's green wave runs eastbound only: said in the legend
                texts = [t.get_text() for t in fig.legends[0].get_texts()]
                assert any(t.startswith("no design green band") for t in texts)
        finally:
            plt.close(fig)


def test_speed_profiles_mark_stop_lines_limit_band_and_sample(runs):
    world, base, adv = runs
    view = _view(world, base, "westbound")
    with ps.style():
        fig = speed_profile_figure(world, base, adv, view, WARMUP_S, DURATION_S, seed=1)
    try:
        band = world.scenario.advisory
        plot_axes = [ax for ax in fig.axes if ax.get_xlabel() == "distance along the route (m)"]
        assert len(plot_axes) == 2
        for ax in plot_axes:
            stops = [ln for ln in ax.lines if ln.get_gid() == "stop-line"]
            assert sorted(float(ln.get_xdata()[0]) for ln in stops) == pytest.approx(
                sorted(view.stop_m)
            )
            levels = {round(float(ln.get_ydata()[0]), 6) for ln in ax.lines if ln.get_gid() is None}
            assert {band.band_min_kmh, band.band_max_kmh} <= levels
            limit = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
            assert limit and np.allclose(limit[0].get_data().values, 60.0)
            assert "sample of " in ax.get_title() and " vehicles" in ax.get_title()
            n = int(ax.get_title().split("sample of ")[1].split()[0])
            assert 0 < n <= 60
            (top,) = ax.child_axes  # the stop lines are named along the top
            np.testing.assert_allclose(top.get_xticks(), view.stop_m)
            assert [t.get_text() for t in top.get_xticklabels()] == view.stop_names
        title = fig._suptitle.get_text()
        assert world.scenario.name in title and "westbound" in title and "t = 60–420 s" in title
    finally:
        plt.close(fig)


def _scenario_with(corridors: list[tuple[str, tuple[float, float], tuple[float, float]]]):
    """Corridors of two signals each, from (x, y) to (x, y) metres: (id, start, end)."""
    proj = LocalProjection(118.0, 36.8)
    inters, cors = [], []
    group = {"id": "G", "greens_s": [[0.0, 40.0]], "amber_s": 3.0, "all_red_s": 2.0}
    for cid, a, b in corridors:
        ids = []
        for k, (x, y) in enumerate((a, b)):
            lon, lat = proj.to_lonlat(x, y)
            ids.append(f"{cid}{k}")
            inters.append(
                {
                    "id": ids[-1],
                    "lon": float(lon),
                    "lat": float(lat),
                    "plan": {"cycle_s": 80.0, "groups": [group]},
                }
            )
        cors.append(
            {"id": cid, "intersections": ids, "forward_group": "G", "speed_limit_kmh": 50.0}
        )
    return World.build(parse_scenario({"name": "t", "intersections": inters, "corridors": cors}))


def test_direction_names_from_geometry_and_unique_file_names():
    world = _scenario_with(
        [
            ("main", (0.0, 0.0), (400.0, 30.0)),  # east, a little north
            ("side", (0.0, 500.0), (400.0, 480.0)),  # east again
            ("cross", (900.0, 0.0), (880.0, 400.0)),  # north
        ]
    )
    entries = {cid: int(links[0]) for cid, _, links in world.network.corridors}
    assert ps.direction_name(world, entries["main_f"]) == "eastbound"
    assert ps.direction_name(world, entries["main_b"]) == "westbound"
    assert ps.direction_name(world, entries["cross_f"]) == "northbound"
    assert ps.direction_name(world, entries["cross_b"]) == "southbound"
    stems = ps.route_file_names(world, list(entries.values()))
    assert stems[entries["main_f"]] == "main_eastbound"
    assert stems[entries["side_f"]] == "side_eastbound"
    assert stems[entries["cross_f"]] == "northbound"  # alone in its direction: no prefix
    assert len(set(stems.values())) == len(stems)


def test_style_helpers():
    assert [ps.compass(b) for b in (0, 44.9, 45.1, 90, 180, 269, 316, 359)] == [
        "northbound",
        "northbound",
        "eastbound",
        "eastbound",
        "southbound",
        "westbound",
        "northbound",
        "northbound",
    ]
    assert ps.slug("Renmin Rd. (east)") == "renmin_rd_east"
    assert ps.slug("人民路") == "route"
    assert ps.figure_title(
        "s", "speed profiles", route="x eastbound", seed=3, window=(600, 1500)
    ) == ("s — speed profiles, x eastbound — seed 3, t = 600–1500 s")
    assert ps.figure_title("s", "plot") == "s — plot"
    assert ps.plot_label("", "id") == "id"
    assert ps.plot_label("xiliu", "id") == "xiliu"
    assert ps.plot_label("人民路", "renmin") == ("人民路" if ps.drawable("人民路") else "renmin")
