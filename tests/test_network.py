"""Scenario files, network expansion and the path ahead of a vehicle."""

import math

import numpy as np
import pytest

from greenwave.network import World
from greenwave.scenario import ScenarioError, load_scenario, loads_scenario, parse_scenario


def test_default_arterial(arterial):
    net = arterial.network
    assert 6 <= len(net.intersection_ids) <= 10
    lengths = net.link_length_m[[net.link_index[f"renmin_f{k}"] for k in range(1, 8)]]
    assert lengths.min() >= 300 and lengths.max() <= 800 and np.ptp(lengths) > 100  # uneven
    cycles = arterial.timing.plans.cycle_s
    assert np.all(cycles == cycles[0])
    lon, lat = net.intersection_lonlat.mean(axis=0)
    assert 117.7 < lon < 118.3 and 36.6 < lat < 37.0  # Zibo
    # Both directions, chained to an exit link that has no signal.
    f0 = net.link_index["renmin_f0"]
    assert net.link_next[f0] == net.link_index["renmin_f1"]
    assert net.link_group[net.link_index["renmin_f8"]] == -1


def test_path_ahead_distances(arterial):
    net = arterial.network
    f0, b3 = net.link_index["renmin_f0"], net.link_index["renmin_b3"]
    dist, group, limit, stop = net.path_ahead(
        np.array([f0, b3, net.link_index["renmin_f8"]]), np.array([100.0, 0.0, 10.0]), 3
    )
    np.testing.assert_allclose(dist[0], [400.0, 830.0, 1440.0], atol=0.5)
    assert stop[0, 1] == net.link_index["renmin_f1"]
    assert np.all(np.isnan(dist[2])) and np.all(group[2] == -1)
    assert dist[1, 0] == pytest.approx(net.link_length_m[b3])
    assert np.all(limit[:2] == pytest.approx(60 / 3.6))


def test_grid_city_size(root):
    w = World.build(load_scenario(root / "scenarios" / "zibo_city.toml"))
    assert len(w.network.intersection_ids) >= 1180
    # Every crossing serves two conflicting directions.
    plan = w.timing.plans.plans[w.network.intersection_ids[0]]
    assert [g.id for g in plan.groups] == ["EW", "NS"] and plan.groups[0].conflicts == ["NS"]
    # Straight-through routes: row corridors end at an exit link.
    net = w.network
    assert (net.link_next < 0).sum() == len(net.entry_links)


BASE = """
name = "t"
[[intersections]]
id = "a"
lon = 118.0
lat = 36.8
  [intersections.plan]
  cycle_s = 90
  [[intersections.plan.groups]]
  id = "EW"
  greens_s = [[0, 40]]
  conflicts = ["NS"]
  [[intersections.plan.groups]]
  id = "NS"
  greens_s = [[45, 85]]
[[intersections]]
id = "b"
lon = 118.005
lat = 36.8
  [intersections.plan]
  cycle_s = CYCLE
  [[intersections.plan.groups]]
  id = "EW"
  greens_s = [[0, 40]]
[[corridors]]
id = "c"
intersections = ["a", "b"]
forward_group = "GROUP"
speed_limit_kmh = 50
"""


def _load(**subs):
    text = BASE.replace("CYCLE", "90").replace("GROUP", "EW")
    for k, v in subs.items():
        text = text.replace(k, v)
    return loads_scenario(text, "t.toml")


def test_scenario_errors_name_file_and_field():
    _load()
    with pytest.raises(ScenarioError) as e:
        tail = (
            '\n  [[intersections.plan.groups]]\n  id = "EW"\n  greens_s = [[0, 40]]\n[[corridors]]'
        )
        _load(**{"cycle_s = 90" + tail: "cycle_s = -1" + tail})
    msg = str(e.value)
    assert "t.toml: intersections[1] (id 'b').plan.cycle_s" in msg and "greater than 0" in msg
    with pytest.raises(ScenarioError, match=r"corridors\[0\]\.forward_group: no signal group 'XX'"):
        text = BASE.replace("CYCLE", "90").replace("GROUP", "XX")
        loads_scenario(text, "t.toml")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        loads_scenario("name = ", "t.toml")
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario("/nonexistent/x.toml")


def test_scenario_rejects_nan_and_unknown_keys():
    with pytest.raises(ScenarioError, match=r"corridors\[0\] \(id 'c'\)\.speed_limit_kmh.*finite"):
        _load(**{"speed_limit_kmh = 50": "speed_limit_kmh = nan"})
    with pytest.raises(ScenarioError, match=r"corridors\[0\] \(id 'c'\)\.colour.*Extra inputs"):
        _load(**{"speed_limit_kmh = 50": "speed_limit_kmh = 50\ncolour = 1"})


def test_demand_entry_must_name_a_link():
    data = {
        "name": "x",
        "grid": {"rows": 2, "cols": 2},
        "demand": {"entries": [{"link": "nope", "flow_veh_h": 100}]},
    }
    with pytest.raises(ScenarioError, match=r"demand\.entries\[0\]\.link: unknown link 'nope'"):
        parse_scenario(data)


def test_point_at_and_geometry(arterial):
    net = arterial.network
    li = net.link_index["renmin_f1"]
    lon0, _lat0, brg = net.point_at(li, 0.0)
    lon1, _lat1, _ = net.point_at(li, net.link_length_m[li])
    assert 80 < brg < 100  # eastbound
    assert math.isclose(lon0, net.intersection_lonlat[0, 0], abs_tol=1e-6)
    assert math.isclose(lon1, net.intersection_lonlat[1, 0], abs_tol=1e-6)


def test_driver_option_policy_is_validated(arterial):
    data = arterial.scenario.model_dump(mode="json")
    assert data["drivers"]["option_max_signals"] is None  # defaults: longest band, no hold
    assert data["drivers"]["option_min_speed_ratio"] == 0.0
    assert data["drivers"]["hold_on_stop"] is False
    for field, bad, why in (
        ("option_max_signals", 0, "greater than or equal to 1"),
        ("option_min_speed_ratio", 1.5, "less than or equal to 1"),
        ("option_min_speed_ratio", float("nan"), "finite"),
        ("hold_on_stop", "sometimes", "valid boolean"),
    ):
        d = arterial.scenario.model_dump(mode="json")
        d["drivers"][field] = bad
        with pytest.raises(ScenarioError, match=rf"drivers\.{field}.*{why}"):
            parse_scenario(d, "t.toml")
