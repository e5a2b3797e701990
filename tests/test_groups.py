"""Measures by vehicle group (:mod:`greenwave.sim.groups`): arterial and side-street traffic.

Scenarios: a 2 x 2 grid (every street a corridor), a generated corridor with side streets
(:func:`greenwave.sumo.corridorgen.scenario_toml`, no SUMO needed) and a hand-made network for
the labelling rule itself.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from greenwave.network import World
from greenwave.scenario import loads_scenario, parse_scenario
from greenwave.sim.compare import compare, compare_before_after
from greenwave.sim.groups import GROUPS, SUBGROUPS, route_groups, vehicle_masks
from greenwave.sim.measures import MEASURES

START = "2026-11-23T07:30:00+08:00"
CASES_BA = ("before", "retiming_only", "advice_only", "after")


@pytest.fixture(scope="module")
def grid() -> World:
    sc = parse_scenario(
        {
            "name": "grid_2x2",
            "grid": {"rows": 2, "cols": 2, "spacing_m": 200.0, "lanes": 1, "entry_length_m": 200.0},
            "demand": {"flow_veh_h_per_lane": 500.0},
            "simulation": {"start_time": START, "warmup_s": 0.0, "duration_s": 240.0},
        }
    )
    return World.build(sc)


@pytest.fixture(scope="module")
def side_streets() -> World:
    """Generated corridor seed 27 (4 signals, 1.4 km) with its side streets, no warm-up."""
    from greenwave.sumo import corridorgen as cg

    text = cg.scenario_toml(cg.draw_params(27)).replace("warmup_s = 600.0", "warmup_s = 0.0")
    assert "warmup_s = 0.0" in text
    return World.build(loads_scenario(text, "corridor_seed27"))


@pytest.fixture(scope="module")
def side_result(side_streets) -> dict:
    return compare(side_streets, [1, 2], duration_s=300.0, drain_s=600.0, keep=True)


@pytest.fixture(scope="module")
def grid_result(grid) -> dict:
    return compare(grid, [1, 2], drain_s=300.0)


def _net(next_: list[int], corridors) -> SimpleNamespace:
    """A minimal network: links 100 m at 10 m/s without signals, ``next_`` successors."""
    n = len(next_)
    return SimpleNamespace(
        n_links=n,
        link_next=np.asarray(next_, dtype=np.int64),
        link_length_m=np.full(n, 100.0),
        link_speed_limit_ms=np.full(n, 10.0),
        link_group=np.full(n, -1, dtype=np.int64),
        corridors=[(cid, "", np.asarray(ch, dtype=np.int64)) for cid, ch in corridors],
    )


def test_labelling_rule_two_consecutive_corridor_links():
    # 0 -> 1 -> 2 -> 3 is the route from 0; the corridor c_f declared over 1 -> 2 -> 3 starts
    # inside it.  4 -> 3 touches the corridor on its last link only.  5 -> 6 is c_b.  7 -> 8
    # is nobody's.  9 is a one-link corridor d_f.
    net = _net(
        [1, 2, 3, -1, 3, 6, -1, 8, -1, -1],
        [("c_f", [1, 2, 3]), ("c_b", [5, 6]), ("d_f", [9])],
    )
    group, direction = route_groups(net, [0, 4, 5, 7, 9])
    art, side = GROUPS.index("arterial"), GROUPS.index("side_street")
    assert group.tolist() == [art, side, art, side, art]
    assert direction.tolist() == [0, -1, 1, -1, 0]
    masks = vehicle_masks(net, [0, 4, 5, 7, 9], [0, 0, 4, 5, 7, 9, 9])
    assert masks["arterial"].tolist() == [True, True, False, True, False, True, True]
    assert masks["side_street"].tolist() == [False, False, True, False, True, False, False]
    assert masks["arterial_forward"].tolist() == [True, True, False, False, False, True, True]
    assert masks["arterial_backward"].tolist() == [False, False, False, True, False, False, False]


def test_groups_partition_the_vehicles(side_result, side_streets):
    for _, b, a in side_result["_runs"]:
        for res in (b, a):
            m = vehicle_masks(
                side_streets.network, res.extra["entry_links"], res.vehicles["entry_link"]
            )
            stacked = np.stack([m[g] for g in GROUPS])
            assert np.all(stacked.sum(axis=0) == 1)
            sub = np.stack([m[s] for s in SUBGROUPS])
            assert np.array_equal(sub.sum(axis=0) == 1, m["arterial"])
    for case in ("baseline", "advisory"):
        for key in ("vehicles", "incomplete"):
            whole = side_result[case][key]
            assert sum(g[case][key] for g in side_result["groups"].values()) == whole
            subs = side_result["subgroups"].values()
            assert sum(s[case][key] for s in subs) == side_result["groups"]["arterial"][case][key]


def test_corridor_with_side_streets_has_both_groups(side_result, side_streets):
    assert list(side_result["groups"]) == ["arterial", "side_street"]
    assert list(side_result["subgroups"]) == ["arterial_forward", "arterial_backward"]
    for g in side_result["groups"].values():
        assert g["baseline"]["vehicles"] > 0 and g["advisory"]["vehicles"] > 0
        assert set(g) == {"baseline", "advisory", "change_pct", "change_ci95"}
        assert set(g["baseline"]) == set(side_result["baseline"])
        assert set(g["change_pct"]) == set(side_result["change_pct"])
    # The arterial vehicles are exactly those entering on the corridor's two entry links.
    from greenwave.sumo.corridorgen import CORRIDOR_ID

    net = side_streets.network
    entries = {net.link_index[f"{CORRIDOR_ID}_f0"], net.link_index[f"{CORRIDOR_ID}_b0"]}
    _, b, _ = side_result["_runs"][0]
    m = vehicle_masks(net, b.extra["entry_links"], b.vehicles["entry_link"])
    assert np.array_equal(m["arterial"], np.isin(b.vehicles["entry_link"], list(entries)))
    # Groups differ: side streets are short, so their trips are shorter than the arterial's.
    g = side_result["groups"]
    assert (
        g["side_street"]["baseline"]["travel_time_s"] < g["arterial"]["baseline"]["travel_time_s"]
    )


def test_all_arterial_grid_has_one_group_equal_to_the_whole(grid_result):
    assert list(grid_result["groups"]) == ["arterial"]
    art = grid_result["groups"]["arterial"]
    for case in ("baseline", "advisory"):
        assert art[case]["vehicles"] > 0
        for k in ("vehicles", "incomplete", *MEASURES):
            assert art[case][k] == grid_result[case][k]
        assert art[case]["ci95"] == grid_result[case]["ci95"]
    assert art["change_pct"] == grid_result["change_pct"]
    assert art["change_ci95"] == grid_result["change_ci95"]
    # Both directions of the grid's corridors are driven.
    assert set(grid_result["subgroups"]) == set(SUBGROUPS)


def test_before_after_reports_groups(side_streets):
    res = compare_before_after(side_streets, side_streets, [1], duration_s=200.0, drain_s=600.0)
    assert list(res["groups"]) == ["arterial", "side_street"]
    for g in res["groups"].values():
        assert set(CASES_BA) <= set(g)
        for case in ("retiming_only", "advice_only", "after"):
            assert set(g[f"change_pct_{case}"]) == set(res[f"change_pct_{case}"])
        # Same timing on both sides: retiming alone changes nothing, in every group.
        assert all(v == 0.0 for v in g["change_pct_retiming_only"].values() if math.isfinite(v))
    for case in CASES_BA:
        assert sum(g[case]["vehicles"] for g in res["groups"].values()) == res[case]["vehicles"]


def test_compare_json_has_groups(side_streets, tmp_path, capsys):
    from greenwave.cli import main
    from greenwave.sumo import corridorgen as cg

    text = cg.scenario_toml(cg.draw_params(27)).replace("warmup_s = 600.0", "warmup_s = 0.0")
    scen = tmp_path / "corridor.toml"
    scen.write_text(text, encoding="utf-8")
    argv = ["compare", str(scen), "--seeds", "1", "--duration", "200", "--drain", "600"]
    assert main([*argv, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got["groups"]) == ["arterial", "side_street"]
    assert list(got["subgroups"]) == ["arterial_forward", "arterial_backward"]
    for g in (*got["groups"].values(), *got["subgroups"].values()):
        assert set(g) == {"baseline", "advisory", "change_pct", "change_ci95"}
        assert set(g["baseline"]) == set(got["baseline"])
    # The text table has a block per group.
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "by group" in out and "arterial" in out and "side street" in out


def test_group_plot(side_result, grid_result, tmp_path):
    import matplotlib.pyplot as plt

    from greenwave.sim.plots import GROUP_PLOT_MEASURES, group_change_figure, write_group_plot

    fig = group_change_figure(side_result)
    try:
        # One bar per column (all, arterial, forward, backward, side street) in every panel,
        # each at its group's mean change.
        for ax, (key, _) in zip(fig.axes, GROUP_PLOT_MEASURES, strict=True):
            heights = [p.get_height() for p in ax.patches]
            assert len(heights) == 5
            assert heights[0] == pytest.approx(side_result["change_pct"][key])
            side = side_result["groups"]["side_street"]["change_pct"][key]
            assert heights[-1] == pytest.approx(side)
    finally:
        plt.close(fig)
    files = write_group_plot(grid_result, tmp_path)
    assert [p.name for p in files] == ["change_by_group.png"] and files[0].stat().st_size > 0
    assert write_group_plot({k: v for k, v in grid_result.items() if k != "groups"}, tmp_path) == []


def test_report_shows_the_group_table(side_result, grid_result, side_streets, grid, tmp_path):
    from pathlib import Path

    from greenwave.cli import _nan_to_none
    from greenwave.sim.report import caption, write_report

    res = {k: v for k, v in side_result.items() if k != "_runs"}
    text = write_report(tmp_path / "r.html", world=side_streets, result=res, figures=[]).read_text(
        encoding="utf-8"
    )
    assert "By vehicle group: advisory against baseline" in text
    for name in ("arterial", "arterial_forward", "arterial_backward", "side_street"):
        assert f'data-measure="{name}"' in text
    art = side_result["groups"]["arterial"]
    assert f"{art['baseline']['vehicles']} / {art['advisory']['vehicles']}" in text
    # The JSON round trip (NaN as null) renders too; the grid says it has one group.
    one = write_report(
        tmp_path / "g.html", world=grid, result=_nan_to_none(grid_result), figures=[]
    ).read_text(encoding="utf-8")
    assert 'data-measure="side_street"' not in one and "in one group" in one
    assert caption(Path("change_by_group.png")).startswith("Paired change by vehicle group")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_compare_table_names_the_turning_group(tmp_path, capsys, lang):
    from greenwave.cli import main
    from greenwave.sumo import corridorgen as cg

    text = cg.scenario_toml(cg.draw_params(27)).replace("warmup_s = 600.0", "warmup_s = 0.0")
    text += "\n[demand.turning]\nleft = 0.2\nthrough = 0.6\nright = 0.2\n"
    scen = tmp_path / "turning.toml"
    scen.write_text(text, encoding="utf-8")
    argv = ["compare", str(scen), "--seeds", "1", "--duration", "200", "--drain", "600"]
    assert main([*argv, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert "turning" in got["groups"]
    assert main([*argv, "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert ("turning" if lang == "en" else "转弯车辆") in out
