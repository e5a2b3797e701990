"""Corridors declared over existing links (``links_forward`` / ``links_backward``): the same
chains, timing and optimised plans as the generated corridor over the same road, a readable
file that round-trips, and every malformed declaration refused naming corridor and field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from simkit import through_only

from greenwave.cli import main
from greenwave.coordination import CoordinationError, corridor_timing
from greenwave.expand import expand_links
from greenwave.maxband import optimize_corridor
from greenwave.netband import network_problem, optimize_network
from greenwave.network import World
from greenwave.scenario import (
    ScenarioError,
    dumps_scenario,
    load_scenario,
    loads_scenario,
    parse_scenario,
)

V45 = 45 / 3.6


@pytest.fixture(scope="module")
def generated(root):
    """The uncoordinated Zibo arterial: one generated two-way corridor, 8 signals."""
    return through_only(load_scenario(root / "scenarios" / "zibo_arterial_uncoordinated.toml"))


def _rename(lid: str) -> str:
    # Names nobody would generate: edge ids as a foreign tool writes them.
    tag, k = lid.rsplit("_", 1)[1][0], int(lid.rsplit("_", 1)[1][1:])
    return f"{'east' if tag == 'f' else 'west'}:{k * 7 + 3}#0"


def as_links(sc, progression_kmh=None) -> dict:
    """``sc`` with its generated corridor written out as ``[[links]]`` under foreign ids and
    declared again over them."""
    exp = expand_links(sc)
    data = sc.model_dump(mode="json", exclude_none=True)
    links = []
    for ln in exp.links:
        d = ln.model_dump(mode="json", exclude_none=True)
        d["id"] = _rename(d["id"])
        if "next" in d:
            d["next"] = _rename(d["next"])
        links.append(d)
    (_, name, fwd), (_, _, bwd) = exp.corridors
    corridor = {
        "id": "main_road",
        "name": name,
        "links_forward": [_rename(i) for i in fwd],
        "links_backward": [_rename(i) for i in bwd],
    }
    if progression_kmh is not None:
        corridor["progression_kmh"] = progression_kmh
    data["corridors"] = [corridor]
    data["links"] = links
    for e in data["demand"].get("entries", []):
        e["link"] = _rename(e["link"])
    return data


def test_chains_are_the_declared_links_in_order(generated):
    sc = parse_scenario(as_links(generated))
    net = World.build(sc).network
    (fid, _, f), (bid, _, b) = net.corridors
    assert (fid, bid) == ("main_road_f", "main_road_b")
    assert [net.link_ids[i] for i in f] == sc.corridors[0].links_forward
    assert [net.link_ids[i] for i in b] == sc.corridors[0].links_backward


def test_timing_equals_the_generated_corridor(generated):
    a = corridor_timing(World.build(generated))
    b = corridor_timing(World.build(parse_scenario(as_links(generated))))
    assert b.id == "main_road" and a.intersection_ids == b.intersection_ids
    assert a.cycle_s == b.cycle_s
    np.testing.assert_array_equal(a.offset_s, b.offset_s)
    for d in ("forward", "backward"):
        pa, pb = getattr(a, d), getattr(b, d)
        np.testing.assert_array_equal(pa.stops, pb.stops)
        np.testing.assert_allclose(pa.distance_m, pb.distance_m, atol=1e-9)
        np.testing.assert_array_equal(pa.green_start_s, pb.green_start_s)
        np.testing.assert_array_equal(pa.green_end_s, pb.green_end_s)


@pytest.mark.parametrize("direction", ["one", "both"])
def test_maxband_plans_equal_the_generated_corridor(generated, direction):
    kw = dict(speed_ms=V45, direction=direction, cycle_range_s=(80.0, 130.0), cycle_step_s=5.0)
    a = optimize_corridor(generated, **kw)
    b = optimize_corridor(parse_scenario(as_links(generated)), "main_road", **kw)
    assert a.cycle_s == b.cycle_s
    np.testing.assert_allclose(a.offsets_s, b.offsets_s)
    for d in a.directions:
        assert a.directions[d].band.bandwidth_s == pytest.approx(b.directions[d].band.bandwidth_s)
    assert b.directions["forward"].band.bandwidth_s > 0
    # The retimed scenario keeps the declaration.
    assert b.scenario.corridors == parse_scenario(as_links(generated)).corridors


def test_network_plans_equal_the_generated_corridor(generated):
    a = optimize_network(generated, speed_ms=V45)
    b = optimize_network(parse_scenario(as_links(generated)), speed_ms=V45)
    np.testing.assert_allclose(a.offsets_s, b.offsets_s)
    assert a.objective == pytest.approx(b.objective)
    assert [r.id for r in b.arterials] == ["main_road"]


def test_file_round_trip_writes_no_generator_settings(generated):
    sc = parse_scenario(as_links(generated, progression_kmh=45.0))
    text = dumps_scenario(sc)
    block = text[text.index("[[corridors]]") : text.index("[[links]]")]
    for key in ("intersections", "forward_group", "lanes", "entry_length_m", "both_directions"):
        assert key not in block
    assert "links_forward" in block and "progression_kmh = 45.0" in block
    back = loads_scenario(text)
    assert back.corridors == sc.corridors
    assert expand_links(back).corridors == expand_links(sc).corridors


def test_one_direction_and_a_corridor_over_generated_links(generated):
    # links_backward is optional, and the links may be another corridor's: the middle of the
    # generated arterial declared on its own.
    data = generated.model_dump(mode="json", exclude_none=True)
    data["corridors"].append({"id": "middle", "links_forward": [f"renmin_f{k}" for k in (3, 4, 5)]})
    sc = parse_scenario(data)
    ct = corridor_timing(World.build(sc), "middle")
    assert ct.intersection_ids == ("xier", "liuquan") and ct.backward is None
    full = corridor_timing(World.build(sc), "renmin")
    np.testing.assert_allclose(
        ct.forward.distance_m, full.forward.distance_m[3:5] - full.forward.distance_m[3]
    )


def _one_way_demand(sc, extra) -> dict:
    data = sc.model_dump(mode="json", exclude_none=True)
    data["demand"]["entries"] = [
        {"link": "renmin_f0", "flow_veh_h": 900.0},
        {"link": "renmin_b0", "flow_veh_h": 0.0},
    ]
    data["corridors"] += extra
    return data


MIDDLE = {"id": "middle", "links_forward": ["renmin_f3", "renmin_f4", "renmin_f5"]}
IDLE = {"id": "idle", "links_forward": ["renmin_b3", "renmin_b4", "renmin_b5"]}


def test_network_weights_count_what_enters_upstream(root, generated):
    """A corridor over links inside the network carries the flow that enters upstream of it
    (MULTIBAND's V/S); explicit vehicles count as a flow; a corridor nobody drives weighs 0
    and still gets its bands measured."""
    coordinated = through_only(load_scenario(root / "scenarios" / "zibo_arterial.toml"))
    sc = parse_scenario(_one_way_demand(coordinated, [MIDDLE, IDLE]))
    prob = network_problem(sc)
    flows = {a.corridor.id: a.flow_veh_h for a in prob.arterials}
    assert flows == {
        "renmin": {"forward": 900.0, "backward": 0.0},
        "middle": {"forward": 900.0},
        "idle": {"forward": 0.0},
    }
    res = optimize_network(sc, speed_ms=V45)
    idle = next(a for a in res.arterials if a.id == "idle")
    assert idle.objective == 0.0 and np.isfinite(idle.band["forward"].bandwidth_s)
    # Explicit departures only: 60 vehicles in the hour on the westbound entry.
    data = _one_way_demand(generated, [IDLE])
    data["demand"] = {"vehicles": [{"link": "renmin_b0", "depart_s": 60.0 * k} for k in range(60)]}
    prob = network_problem(parse_scenario(data))
    flows = {a.corridor.id: a.flow_veh_h for a in prob.arterials}
    assert flows == {
        "renmin": {"forward": 0.0, "backward": pytest.approx(60.0)},
        "idle": {"forward": pytest.approx(60.0)},
    }
    # Nobody at all: demand weights have nothing to weigh.
    data["demand"] = {"flow_veh_h_per_lane": 0.0}
    with pytest.raises(CoordinationError, match="use --weights equal"):
        network_problem(parse_scenario(data))


def test_network_with_demand_in_one_direction_only(generated):
    optimize_network(parse_scenario(_one_way_demand(generated, [])), speed_ms=V45)


# ------------------------------------------------------------------------------ bad input
def _bad(generated, edit):
    data = as_links(generated)
    edit(data["corridors"][0], data)
    return data


def _set(key, value):
    def edit(c, data):
        c[key] = value(c) if callable(value) else value

    return edit


CASES = [
    (
        _set("links_forward", lambda c: [*c["links_forward"][:2], "nope", *c["links_forward"][3:]]),
        r"corridors\[0\] \(id 'main_road'\)\.links_forward\[2\]: unknown link 'nope'",
    ),
    (
        _set("links_forward", lambda c: [c["links_forward"][0], *c["links_forward"][2:]]),
        r"links_forward\[1\]: link 'east:17#0' does not continue link 'east:3#0' "
        r"\(its next is 'east:10#0'\)",
    ),
    (
        _set("links_forward", lambda c: c["links_forward"][:1]),
        r"\.links_forward: a corridor passes at least one signal",
    ),
    (
        _set("links_backward", lambda c: c["links_backward"][2:]),
        r"\.links_backward: passes the signals gongqingtuan, .*, xiliu; the opposite direction of "
        r"links_forward passes jinjing, zhongxin,",
    ),
    (
        lambda c, data: data["links"][2].pop("signal_group"),
        r"links_forward\[2\]: link 'east:17#0' has no signal_group at intersection 'xisi'",
    ),
    (
        lambda c, data: c.update(links_forward=None),
        r"corridors\[0\] \(id 'main_road'\): links_backward: needs links_forward",
    ),
    (
        _set("lanes", 2),
        r"corridors\[0\] \(id 'main_road'\): lanes: not used with links_forward",
    ),
    (
        lambda c, data: data["corridors"].append(copy.deepcopy(c)),
        r"corridors\[1\] \(id 'main_road'\)\.id: duplicate corridor id 'main_road'",
    ),
    (
        lambda c, data: [c.pop("links_forward"), c.pop("links_backward")],
        r"corridors\[0\] \(id 'main_road'\): intersections, forward_group, speed_limit_kmh: "
        r"required for a corridor generated between intersections",
    ),
    (
        _set("links_forward", [1, 2]),
        r"corridors\[0\] \(id 'main_road'\)\.links_forward\[0\]: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(("edit", "match"), CASES)
def test_bad_declarations_name_corridor_and_field(generated, edit, match):
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(_bad(generated, edit), "t.toml")


def test_a_corridor_through_an_intersection_twice_is_refused(generated):
    # At xiwu the forward links turn back west and pass xiliu again.
    def edit(c, data):
        by_id = {ln["id"]: ln for ln in data["links"]}
        f, b = c["links_forward"], c["links_backward"]
        by_id[f[1]]["next"] = b[-2]
        c["links_forward"] = [f[0], f[1], b[-2], b[-1]]
        del c["links_backward"]

    with pytest.raises(
        ScenarioError,
        match=r"links_forward\[2\]: link 'west:52#0' passes "
        r"intersection 'xiliu' a second time \(also at \[0\]\)",
    ):
        parse_scenario(_bad(generated, edit))


def test_a_ring_lists_a_link_twice(generated):
    # A closed ring xiliu → xiwu → xiliu and the first link again.
    def edit(c, data):
        by_id = {ln["id"]: ln for ln in data["links"]}
        f, b = c["links_forward"], c["links_backward"]
        by_id[f[1]]["next"] = b[-2]
        by_id[b[-2]]["next"] = f[1]
        c["links_forward"] = [f[1], b[-2], f[1]]
        del c["links_backward"]

    with pytest.raises(
        ScenarioError,
        match=r"links_forward\[2\]: link 'east:10#0' is listed "
        r"twice \(also at \[0\]\)",
    ):
        parse_scenario(_bad(generated, edit))


def test_cli_refuses_a_bad_declaration_with_exit_2(generated, tmp_path, capsys):
    import tomli_w

    data = _bad(generated, _set("links_forward", lambda c: c["links_forward"][::-1]))
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "corridors[0] (id 'main_road').links_forward[0]: link 'east:59#0' has no" in err
    assert "Traceback" not in err
    out = tmp_path / "o.toml"
    assert main(["optimize", str(path), "--speed-kmh", "45", "--out", str(out)]) == 2
    assert not out.exists()


def test_cli_optimize_on_a_declared_corridor(generated, tmp_path, capsys):
    import tomli_w

    path = tmp_path / "links.toml"
    path.write_text(tomli_w.dumps(as_links(generated)))
    out = tmp_path / "o.toml"
    argv = ["optimize", str(path), "--speed-kmh", "45", "--direction", "both"]
    assert main([*argv, "--cycle-range", "80:130", "--out", str(out)]) == 0
    assert "main_road" in capsys.readouterr().out
    sc = load_scenario(out)
    assert sc.corridors[0].links_backward is not None
    assert main(["optimize", str(path), "--speed-kmh", "45", "--network", "--out", str(out)]) == 0


def test_progression_above_the_links_limit_is_warned(generated, tmp_path, capsys):
    import tomli_w

    data = as_links(generated)
    ids = set(data["corridors"][0]["links_forward"])
    limit = min(ln["speed_limit_kmh"] for ln in data["links"] if ln["id"] in ids)
    path = tmp_path / "links.toml"
    path.write_text(tomli_w.dumps(data))
    argv = ["optimize", str(path), "--speed-kmh", f"{limit + 5:g}", "--out", str(tmp_path / "o")]
    assert main([*argv, "--speed-tolerance-kmh", "1"]) == 0
    assert f"above the corridor's speed limit {limit:g} km/h" in capsys.readouterr().err
