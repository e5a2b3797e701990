"""Turning movements: found from the geometry (right-hand traffic, no U-turns), listed in the
file, on their signal groups (protected lefts on grids and corridors, cross streets), with
turning shares renormalised where a movement is missing, turn speeds sqrt(a_lat R), the CSR
layout the simulator reads, through-only scenarios unchanged, and every malformed input
refused naming its field and intersection."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simkit import through_only

from greenwave.cli import main
from greenwave.geo import LocalProjection
from greenwave.movements import LEFT, RIGHT, THROUGH, TURN_NAMES
from greenwave.network import World, build_network
from greenwave.scenario import ScenarioError, load_scenario, parse_scenario
from greenwave.timing import SignalPlan

LON0, LAT0 = 118.0, 36.8
PROJ = LocalProjection(LON0, LAT0)
TWO_PHASE = {
    "cycle_s": 90.0,
    "groups": [
        {"id": "EW", "greens_s": [[0.0, 40.0]], "conflicts": ["NS", "EW_L"]},
        {"id": "EW_L", "greens_s": [[45.0, 50.0]], "conflicts": ["NS"]},
        {"id": "NS", "greens_s": [[55.0, 85.0]]},
    ],
}
# Compass directions of the arms: (east, north) unit vectors.
ARMS = {"w": (-1.0, 0.0), "e": (1.0, 0.0), "n": (0.0, 1.0), "s": (0.0, -1.0)}
OPPOSITE = {"w": "e", "e": "w", "n": "s", "s": "n"}


def _pt(east_m: float, north_m: float, turn_deg: float = 0.0) -> list[float]:
    """lon/lat of a point east/north of the junction, the whole picture turned clockwise."""
    a = math.radians(turn_deg)
    x = east_m * math.cos(a) + north_m * math.sin(a)
    y = -east_m * math.sin(a) + north_m * math.cos(a)
    lon, lat = PROJ.to_lonlat(x, y)
    return [float(lon), float(lat)]


def junction(arms: str = "wens", rotate_deg: float = 0.0, length_m: float = 200.0) -> dict:
    """A scenario of one signalised junction 'x' with two-way arms (``{arm}_in`` ends at 'x'
    under EW or NS, ``{arm}_out`` leaves it; an arm's through successor is the opposite arm's
    way out, when that arm exists)."""
    links = []
    for arm in arms:
        dx, dy = ARMS[arm]
        far = _pt(dx * length_m, dy * length_m, rotate_deg)
        centre = _pt(0.0, 0.0, rotate_deg)
        inbound = {
            "id": f"{arm}_in",
            "to": "x",
            "signal_group": "EW" if arm in "we" else "NS",
            "polyline": [far, centre],
            "speed_limit_kmh": 50.0,
        }
        if OPPOSITE[arm] in arms:
            inbound["next"] = f"{OPPOSITE[arm]}_out"
        links.append(inbound)
        links.append({"id": f"{arm}_out", "polyline": [centre, far], "speed_limit_kmh": 50.0})
    centre = _pt(0.0, 0.0, rotate_deg)
    return {
        "name": "junction",
        "intersections": [{"id": "x", "lon": centre[0], "lat": centre[1], "plan": TWO_PHASE}],
        "links": links,
    }


def movements_by_name(sc) -> dict[str, dict[str, str]]:
    """{approach id: {turn name: target link id}} of a scenario's network."""
    net, _ = build_network(sc)
    m = net.movements
    out: dict[str, dict[str, str]] = {}
    for k in range(m.size):
        out.setdefault(net.link_ids[m.from_link[k]], {})[TURN_NAMES[m.turn[k]]] = net.link_ids[
            m.to_link[k]
        ]
    return out


def errors_of(data: dict) -> str:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    return str(exc.value)


# --------------------------------------------------------------------------- geometry
FOUR_WAY = {
    # Right-hand traffic: heading east, the left turn goes north, the right turn south.
    "w_in": {"left": "n_out", "through": "e_out", "right": "s_out"},
    "e_in": {"left": "s_out", "through": "w_out", "right": "n_out"},
    "n_in": {"left": "e_out", "through": "s_out", "right": "w_out"},
    "s_in": {"left": "w_out", "through": "n_out", "right": "e_out"},
}


def test_four_way_junction_left_and_right_for_right_hand_traffic_no_u_turns():
    assert movements_by_name(parse_scenario(junction())) == FOUR_WAY


@settings(max_examples=25, deadline=None)
@given(rotate=st.floats(0.0, 360.0), length=st.floats(20.0, 2000.0))
def test_classification_does_not_depend_on_orientation_or_length(rotate, length):
    assert movements_by_name(parse_scenario(junction("wens", rotate, length))) == FOUR_WAY


def test_t_junction_has_no_left_where_there_is_no_arm():
    got = movements_by_name(parse_scenario(junction("wes")))
    assert got == {
        "w_in": {"through": "e_out", "right": "s_out"},
        "e_in": {"left": "s_out", "through": "w_out"},
        "s_in": {"left": "w_out", "right": "e_out"},
    }


def test_skewed_arms_pick_the_candidate_nearest_the_ideal_angle():
    # Two more ways out, at bearings 60° and 20°.  From the west arm (heading 90°) the first is
    # a heading change of -30° (a through candidate; ``next`` is the through movement anyway),
    # the second -70° (a left candidate, 20° from the ideal -90°, which n_out hits exactly).
    data = junction("wens")
    centre = _pt(0, 0)
    for k, brg in enumerate((60.0, 20.0)):
        b = math.radians(brg)
        far = _pt(200 * math.sin(b), 200 * math.cos(b))
        data["links"].append(
            {"id": f"ne{k}_out", "polyline": [centre, far], "speed_limit_kmh": 50.0}
        )
    got = movements_by_name(parse_scenario(data))["w_in"]
    assert got == {"left": "n_out", "through": "e_out", "right": "s_out"}
    # Without the straight north arm the nearest-to-90° candidate is ne1 (heading change -70°).
    data["links"] = [ln for ln in data["links"] if ln["id"] not in ("n_out", "n_in", "s_in")]
    got = movements_by_name(parse_scenario(data))["w_in"]
    assert got == {"left": "ne1_out", "through": "e_out", "right": "s_out"}
    # Without next the straighter of the two through candidates (e_out at 0°, ne0 at -30°).
    del data["links"][0]["next"]
    got = movements_by_name(parse_scenario(data))["w_in"]
    assert got == {"left": "ne1_out", "through": "e_out", "right": "s_out"}


def test_link_start_is_the_nearest_intersection_within_20_m():
    # (A link 20 m long ending at 'x' does not start there: the orientation test covers it.)
    data = junction("we")
    for ln in data["links"]:
        ln.pop("next", None)  # starts from the geometry only
        if ln["id"] == "e_out":
            ln["polyline"][0] = _pt(15.0, 0.0)
    net = World.build(parse_scenario(data)).network
    x = net.intersection_index["x"]
    starts = dict(zip(net.link_ids, net.link_from_intersection.tolist(), strict=True))
    assert starts == {"w_in": -1, "w_out": x, "e_in": -1, "e_out": x}
    for ln in data["links"]:
        if ln["id"] == "w_out":
            ln["polyline"][0] = _pt(-25.0, 0.0)
    net = World.build(parse_scenario(data)).network
    assert net.link_from_intersection[net.link_index["w_out"]] == -1


def test_explicit_movements_replace_the_geometric_ones_next_stays_through():
    data = junction()
    data["links"][0]["movements"] = [{"to_link": "s_out", "turn": "right"}]
    got = movements_by_name(parse_scenario(data))
    assert got["w_in"] == {"through": "e_out", "right": "s_out"}
    assert got["e_in"] == FOUR_WAY["e_in"]


def test_csr_offsets_sorted_by_link_then_turn():
    data = copy.deepcopy(junction())
    data["demand"] = {"turning": {"left": 0.2, "through": 0.7, "right": 0.1}}
    net = World.build(parse_scenario(data)).network
    m = net.movements
    assert m.first.shape == (net.n_links + 1,) and m.first[0] == 0 and m.first[-1] == m.size
    for link in range(net.n_links):
        rows = m.of(link)
        assert np.all(m.from_link[rows] == link)
        assert np.all(np.diff(m.turn[rows]) > 0)  # one per turn, in turn order
        assert (rows.stop > rows.start) == (net.link_intersection[link] >= 0)
    assert m.turn.dtype == np.int8 and m.from_link.dtype == np.int64
    # Every movement enters a link starting where its approach ends.
    np.testing.assert_array_equal(
        net.link_from_intersection[m.to_link], net.link_intersection[m.from_link]
    )


def test_permitted_left_shares_the_approach_group_and_yields_to_the_opposite_approach():
    data = junction()
    net, plans = build_network(parse_scenario(data))
    m = net.movements
    for k in range(m.size):
        a = net.link_ids[m.from_link[k]]
        assert m.group[k] == net.link_group[m.from_link[k]]
        if m.turn[k] == LEFT:
            assert net.link_ids[m.opposing_link[k]] == f"{OPPOSITE[a[0]]}_in"
        else:
            assert m.opposing_link[k] == -1
    # With turn_groups the left runs on its own arrow.
    data["links"][0]["turn_groups"] = {"left": "EW_L"}
    net, plans = build_network(parse_scenario(data))
    m = net.movements
    w = net.link_index["w_in"]
    groups = {
        TURN_NAMES[m.turn[k]]: plans.group_keys[m.group[k]] for k in range(*m.first[w : w + 2])
    }
    assert groups == {"left": ("x", "EW_L"), "through": ("x", "EW"), "right": ("x", "EW")}


# --------------------------------------------------------------------------- speeds, shares
def test_turn_speeds_are_sqrt_of_lateral_acceleration_times_radius():
    net = World.build(parse_scenario(junction())).network
    m = net.movements
    np.testing.assert_allclose(m.turn_speed_ms[m.turn == LEFT], math.sqrt(5.5 * 15.0))
    np.testing.assert_allclose(m.turn_speed_ms[m.turn == RIGHT], math.sqrt(5.5 * 8.0))
    assert np.all(np.isinf(m.turn_speed_ms[m.turn == THROUGH]))
    data = junction()
    data["drivers"] = {
        "turn_lateral_accel_ms2": 3.0,
        "turn_radius_left_m": 20.0,
        "turn_radius_right_m": 6.0,
    }
    m = World.build(parse_scenario(data)).network.movements
    np.testing.assert_allclose(m.turn_speed_ms[m.turn == LEFT], math.sqrt(60.0))
    np.testing.assert_allclose(m.turn_speed_ms[m.turn == RIGHT], math.sqrt(18.0))


def shares_by_name(data: dict) -> dict[str, dict[str, float]]:
    net = World.build(parse_scenario(data)).network
    m = net.movements
    out: dict[str, dict[str, float]] = {}
    for k in range(m.size):
        out.setdefault(net.link_ids[m.from_link[k]], {})[TURN_NAMES[m.turn[k]]] = float(m.share[k])
    return out


def test_turning_shares_renormalised_where_a_movement_is_missing():
    data = junction("wes")
    data["demand"] = {"turning": {"left": 0.2, "through": 0.6, "right": 0.2}}
    got = shares_by_name(data)
    assert got["w_in"] == pytest.approx({"through": 0.75, "right": 0.25})
    assert got["e_in"] == pytest.approx({"left": 0.25, "through": 0.75})
    assert got["s_in"] == pytest.approx({"left": 0.5, "right": 0.5})
    # An approach with only a through movement goes through whatever the shares say.
    data = junction("we")
    data["demand"] = {"turning": {"left": 0.5, "right": 0.5}}
    assert shares_by_name(data) == {"w_in": {"through": 1.0}, "e_in": {"through": 1.0}}


def test_without_turning_demand_everybody_goes_through():
    got = shares_by_name(junction("wes"))
    assert got["w_in"] == {"through": 1.0, "right": 0.0}
    # The stem of the T has no through movement: its vehicles end their trip there, as before.
    assert got["s_in"] == {"left": 0.0, "right": 0.0}


def test_per_approach_turns_override_and_only_they_turn_without_turning():
    data = junction()
    data["demand"] = {"turns": [{"link": "n_in", "left": 0.3, "through": 0.5, "right": 0.2}]}
    got = shares_by_name(data)
    assert got["n_in"] == pytest.approx({"left": 0.3, "through": 0.5, "right": 0.2})
    assert got["w_in"] == {"left": 0.0, "through": 1.0, "right": 0.0}
    data["demand"]["turning"] = {"left": 0.1, "through": 0.8, "right": 0.1}
    got = shares_by_name(data)
    assert got["n_in"] == pytest.approx({"left": 0.3, "through": 0.5, "right": 0.2})
    assert got["w_in"] == pytest.approx({"left": 0.1, "through": 0.8, "right": 0.1})


# --------------------------------------------------------------------------- through-only
def test_through_only_scenario_keeps_its_links_and_one_through_movement_per_next(arterial):
    net = World.build(through_only(arterial.scenario)).network
    ids = [f"renmin_{d}{k}" for d in "fb" for k in range(9)]
    assert net.link_ids == ids
    m = net.movements
    has_next = np.flatnonzero(net.link_next >= 0)
    assert m.size == has_next.size == 16
    np.testing.assert_array_equal(m.from_link, has_next)
    np.testing.assert_array_equal(m.to_link, net.link_next[has_next])
    assert np.all(m.turn == THROUGH) and np.all(m.share == 1.0)
    np.testing.assert_array_equal(m.group, net.link_group[has_next])
    assert np.all(m.opposing_link == -1)
    # Entry links start nowhere; the others at the intersection their predecessor ends at.
    np.testing.assert_array_equal(
        net.link_from_intersection[net.link_next[has_next]], net.link_intersection[has_next]
    )
    assert np.all(net.link_from_intersection[net.entry_links] == -1)


def test_grid_without_left_phase_keeps_two_phase_plans_and_turns_have_share_0(root):
    sc = parse_scenario({"name": "g", "grid": {"rows": 3, "cols": 4}})
    net, plans = build_network(sc)
    assert [g.id for g in plans.plans["g1_1"].groups] == ["EW", "NS"]
    m = net.movements
    assert np.all(m.share[m.turn == THROUGH] == 1.0) and np.all(m.share[m.turn != THROUGH] == 0)
    # Every approach: exactly one through movement, its next.
    thr = m.turn == THROUGH
    np.testing.assert_array_equal(m.to_link[thr], net.link_next[m.from_link[thr]])
    np.testing.assert_array_equal(
        np.bincount(m.from_link[thr], minlength=net.n_links), (net.link_next >= 0).astype(int)
    )


# --------------------------------------------------------------------------- grid, corridors
def test_grid_with_left_turn_phase_four_phases_lefts_on_their_own_groups():
    grid = {"rows": 3, "cols": 3, "left_turn_phase": True, "cycle_s": 120.0}
    sc = parse_scenario(
        {
            "name": "g",
            "grid": grid,
            "demand": {"turning": {"left": 0.2, "through": 0.7, "right": 0.1}},
        }
    )
    net, plans = build_network(sc)
    for iid, plan in plans.plans.items():
        SignalPlan.model_validate(plan.model_dump())  # the conflict check passes
        names = [g.id for g in plan.groups]
        assert names == ["EW", "EW_L", "NS", "NS_L"], iid
        conflicts = {frozenset((g.id, o)) for g in plan.groups for o in g.conflicts}
        assert len(conflicts) == 6  # every pair: one phase at a time
    ew, ew_l, ns, ns_l = plans.plans["g1_1"].groups
    assert ew.greens_s[0][0] == 0.0 and ns.greens_s[0][0] == 60.0  # through phases as before
    # The left phase takes left_share of the street's 60 s, its clearance inside.
    assert ew_l.greens_s[0] == pytest.approx((45.0, 55.0))
    assert ns_l.greens_s[0] == pytest.approx((105.0, 115.0))
    m = net.movements
    for k in range(m.size):
        iid, grp = plans.group_keys[m.group[k]]
        street = "EW" if net.link_ids[m.from_link[k]].startswith("row") else "NS"
        assert grp == (f"{street}_L" if m.turn[k] == LEFT else street)
    x = net.intersection_index["g1_1"]
    assert (net.link_intersection[m.from_link] == x).sum() == 12  # 4 approaches × 3 turns


def test_grid_left_share_leaving_no_green_is_an_error():
    text = errors_of(
        {"name": "g", "grid": {"rows": 2, "cols": 2, "left_turn_phase": True, "left_share": 0.05}}
    )
    assert "grid" in text and "EW_L" in text and "left_share" in text


def arterial_data(root, **corridor) -> dict:
    sc = through_only(load_scenario(root / "scenarios" / "zibo_arterial.toml"))
    data = sc.model_dump(mode="json", exclude_none=True)
    data["corridors"][0].update(corridor)
    return data


def test_corridor_cross_streets(root):
    data = arterial_data(root, cross_streets=True, cross_lanes=2, cross_speed_limit_kmh=40.0)
    data["demand"]["turning"] = {"left": 0.1, "through": 0.8, "right": 0.1}
    net, plans = build_network(parse_scenario(data))
    n = 8
    assert net.n_links == 2 * (n + 1) + 4 * n
    m = net.movements
    for k, iid in enumerate(parse_scenario(data).corridors[0].intersections):
        x = net.intersection_index[iid]
        n_in, s_in = net.link_index[f"renmin_n{k}"], net.link_index[f"renmin_s{k}"]
        assert plans.group_keys[net.link_group[n_in]] == (iid, "NS")
        assert net.link_next[n_in] == net.link_index[f"renmin_sx{k}"]
        assert net.link_next[s_in] == net.link_index[f"renmin_nx{k}"]
        assert net.link_lanes[n_in] == 2
        assert net.link_speed_limit_ms[n_in] == pytest.approx(40 / 3.6)
        here = net.link_intersection[m.from_link] == x
        assert here.sum() == 12  # corridor both ways and the cross street: 4 × (L, T, R)
        # Eastbound turns left onto the northbound exit ('n' is north of an eastbound road).
        fwd = net.link_index[f"renmin_f{k}"]
        left = m.to_link[(m.from_link == fwd) & (m.turn == LEFT)]
        assert net.link_ids[int(left[0])] == f"renmin_nx{k}"
        _, _, brg = net.point_at(n_in, 10.0)
        assert abs(brg - 180.0) < 5.0  # the arterial runs east–west: n{k} drives south
    assert set(net.entry_links.tolist()) >= {net.link_index[f"renmin_n{k}"] for k in range(n)}


def test_cross_group_required_when_the_plan_does_not_say(root):
    data = arterial_data(root, cross_streets=True)
    for it in data["intersections"][:2]:
        it["plan"]["groups"].append({"id": "PED", "greens_s": [[115.0, 118.0]]})
    text = errors_of(data)
    assert "corridors[0].cross_group" in text and "'xiliu'" in text
    data["corridors"][0]["cross_group"] = "NS"
    assert parse_scenario(data).corridors[0].cross_group == "NS"
    data["corridors"][0]["cross_group"] = "PED"
    text = errors_of(data)
    assert "corridors[0].cross_group" in text and "'PED'" in text and "'xisi'" in text


def test_cross_streets_over_existing_links_are_refused(root):
    text = errors_of(
        {
            "name": "t",
            "intersections": junction()["intersections"],
            "links": junction()["links"],
            "corridors": [{"id": "c", "links_forward": ["w_in", "e_out"], "cross_streets": True}],
        }
    )
    assert "corridors[0]" in text and "cross_streets" in text and "links_forward" in text


def test_corridor_left_group(root):
    data = arterial_data(root, cross_streets=True, left_group="EW_L")
    text = errors_of(data)
    assert "corridors[0].left_group" in text and "'EW_L'" in text and "'xiliu'" in text
    for it in data["intersections"]:
        groups = it["plan"]["groups"]
        ew = groups[0]
        end = ew["greens_s"][0][1]
        ew["greens_s"][0][1] = end - 10.0
        ew["conflicts"] = ["NS", "EW_L"]
        groups.append(
            {
                "id": "EW_L",
                "greens_s": [[end - 5.0, end]],
                "all_red_s": 0.0,
                "amber_s": 0.0,
                "conflicts": ["NS"],
            }
        )
    net, plans = build_network(parse_scenario(data))
    m = net.movements
    for k in range(m.size):
        name = net.link_ids[m.from_link[k]]
        grp = plans.group_keys[m.group[k]][1]
        on_corridor = name[7] in "fb"
        expected = ("EW_L" if m.turn[k] == LEFT else "EW") if on_corridor else "NS"
        assert grp == expected, name


# --------------------------------------------------------------------------- bad input
def with_turns(*entries, turning=None, arms="wens") -> dict:
    data = junction(arms)
    data["demand"] = {"turns": list(entries)}
    if turning is not None:
        data["demand"]["turning"] = turning
    return data


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ({"link": "w_in", "left": 0.2, "through": 0.7}, "demand.turns[0]", "sum to 0.9, not 1"),
        (
            {"link": "w_in", "left": -0.1, "through": 1.1},
            "demand.turns[0].left",
            "finite number >= 0",
        ),
        ({"link": "w_in", "left": math.nan, "through": 1}, "demand.turns[0].left", "not nan"),
        ({"link": "w_in", "right": math.inf}, "demand.turns[0].right", "not inf"),
    ],
)
def test_bad_turning_shares_name_field_and_intersection(entry, field, reason):
    text = errors_of(with_turns(entry))
    assert f"{field}:" in text and "intersection 'x'" in text and reason in text


def test_turn_the_approach_does_not_have():
    text = errors_of(with_turns({"link": "w_in", "left": 0.2, "through": 0.8}, arms="wes"))
    assert (
        "demand.turns[0].left: link 'w_in' has no left turn at intersection 'x' (it has: "
        "through to 'e_out', right to 's_out')"
    ) in text


def test_unknown_exit_and_repeated_links_in_turns():
    text = errors_of(with_turns({"link": "nope", "through": 1.0}))
    assert "demand.turns[0].link: unknown link 'nope'" in text
    text = errors_of(with_turns({"link": "w_out", "through": 1.0}))
    assert "demand.turns[0].link" in text and "ends at no intersection" in text
    text = errors_of(with_turns({"link": "w_in", "through": 1.0}, {"link": "w_in", "through": 1}))
    assert "demand.turns[1].link" in text and "intersection 'x'" in text and "twice" in text


def test_turning_table_that_does_not_sum_to_1():
    text = errors_of(with_turns(turning={"left": 0.1, "through": 0.8}))
    assert "demand.turning" in text and "sum to 0.9" in text
    text = errors_of(with_turns(turning={"left": math.nan, "through": 1.0}))
    assert "demand.turning.left" in text


def explicit(*movements) -> dict:
    data = junction()
    data["links"][0]["movements"] = list(movements)
    return data


@pytest.mark.parametrize(
    ("movements", "field", "reason"),
    [
        ([{"to_link": "nope", "turn": "left"}], "links[0].movements[0].to_link", "unknown link"),
        (
            [{"to_link": "e_out", "turn": "through"}, {"to_link": "w_in", "turn": "left"}],
            "links[0].movements[1].to_link",
            "'w_in' does not start at intersection 'x'",
        ),
        (
            [{"to_link": "n_out", "turn": "left"}, {"to_link": "s_out", "turn": "left"}],
            "links[0].movements[1].turn",
            "already has a left movement",
        ),
        (
            [{"to_link": "e_out", "turn": "left"}],
            "links[0].movements[0]",
            "its through movement",
        ),
    ],
)
def test_bad_explicit_movements(movements, field, reason):
    text = errors_of(explicit(*movements))
    assert f"{field}:" in text and "intersection 'x'" in text and reason in text


def test_turn_group_not_in_the_plan():
    data = junction()
    data["links"][2]["turn_groups"] = {"left": "EW_LEFT"}
    text = errors_of(data)
    assert "links[2].turn_groups.left" in text and "'EW_LEFT'" in text
    assert "intersection 'x'" in text
    data["links"][1]["turn_groups"] = {"left": "EW_L"}  # an exit link: no intersection
    assert "links[1]" in errors_of(data)


def test_movement_without_a_signal_group_beside_signalised_ones():
    data = junction()
    del data["links"][0]["signal_group"]
    data["links"][0]["turn_groups"] = {"left": "EW_L"}
    text = errors_of(data)
    assert "links[0].turn_groups" in text and "intersection 'x'" in text
    assert "through, right movement(s) would have no signal group" in text
    # Wholly unsignalised, or a group for every movement, is fine.
    data["links"][0]["turn_groups"] = {"left": "EW_L", "through": "EW", "right": "EW"}
    assert movements_by_name(parse_scenario(data))["w_in"] == FOUR_WAY["w_in"]
    del data["links"][0]["turn_groups"]
    net = World.build(parse_scenario(data)).network
    assert np.all(net.movements.group[net.movements.of(0)] == -1)


def test_cli_validate_exit_2_on_bad_shares(tmp_path, capsys):
    import tomli_w

    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(with_turns({"link": "w_in", "through": 0.5})))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "demand.turns[0]" in err and "intersection 'x'" in err and "Traceback" not in err
