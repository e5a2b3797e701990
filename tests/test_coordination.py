"""Green bandwidth and offset optimisation (greenwave.coordination, `greenwave optimize`)."""

import itertools

import numpy as np
import pytest

from greenwave.cli import main
from greenwave.coordination import (
    Approach,
    CoordinationError,
    CorridorTiming,
    bandwidth,
    best_offsets,
    corridor_bands,
    corridor_timing,
    credited,
    optimize_offsets,
    with_offsets,
)
from greenwave.network import World
from greenwave.scenario import dumps_scenario, load_scenario, loads_scenario, parse_scenario
from greenwave.timing import GREEN

V45 = 45 / 3.6


@pytest.fixture(scope="module")
def scenario(root):
    return load_scenario(root / "scenarios" / "zibo_arterial.toml")


@pytest.fixture(scope="module")
def renmin(scenario):
    return corridor_timing(World.build(scenario))


# ----------------------------------------------------------------------------- bandwidth
def test_bandwidth_by_hand():
    # C = 100 s, stop lines at 0, 300, 500 m, 10 m/s: travel 0, 30, 50 s.  Shifted windows:
    # A [0, 50), B 20 + [0, 40) − 30 = [−10, 30), C 40 + [10, 60) − 50 = [0, 50) → band [0, 30).
    gs, ge = [[0.0], [0.0], [10.0]], [[50.0], [40.0], [60.0]]
    b = bandwidth(gs, ge, [0.0, 20.0, 40.0], 100.0, [0.0, 300.0, 500.0], 10.0)
    assert b.bandwidth_s == pytest.approx(30.0)
    assert b.efficiency == pytest.approx(0.30)
    assert b.entry_s == pytest.approx(0.0)
    np.testing.assert_allclose(b.start_s, [0.0, 30.0, 50.0])
    # All offsets +80 s: the band [80, 110) wraps past the cycle end.
    b = bandwidth(gs, ge, [80.0, 0.0, 20.0], 100.0, [0.0, 300.0, 500.0], 10.0)
    assert b.bandwidth_s == pytest.approx(30.0) and b.entry_s == pytest.approx(80.0)
    # B half a cycle later: its shifted window [40, 80) misses the others' common [0, 30)...
    b = bandwidth(gs, ge, [0.0, 70.0, 40.0], 100.0, [0.0, 300.0, 500.0], 10.0)
    assert b.bandwidth_s == pytest.approx(10.0) and b.entry_s == pytest.approx(40.0)
    # ... and with C's window moved to 90 + [10, 60) − 50 = [50, 100) the common part of A and B,
    # [40, 50), only touches it: no band.
    b = bandwidth(gs, ge, [0.0, 70.0, 90.0], 100.0, [0.0, 300.0, 500.0], 10.0)
    assert b.bandwidth_s == 0.0 and np.isnan(b.entry_s)


def test_bandwidth_two_greens_and_wrap():
    # A: greens [0, 20) and [90, 100) of a 100 s cycle merge into [90, 120);
    # B (100 m on at 10 m/s, offset 10): greens [0, 15) and [85, 100) → [85, 115).  Band [90, 115).
    nan = np.nan
    b = bandwidth(
        [[0.0, 90.0], [0.0, 85.0]],
        [[20.0, 100.0], [15.0, 100.0]],
        [0.0, 10.0],
        100.0,
        [0.0, 100.0],
        10.0,
    )
    assert b.bandwidth_s == pytest.approx(25.0) and b.entry_s == pytest.approx(90.0)
    # NaN padding (a group with fewer greens) is ignored.
    b = bandwidth(
        [[10.0, nan], [0.0, 50.0]], [[40.0, nan], [20.0, 70.0]], [0.0, 0.0], 100.0, [0.0, 0.0], 10.0
    )
    assert b.bandwidth_s == pytest.approx(10.0) and b.entry_s == pytest.approx(10.0)


def _sampled_bandwidth(world, ct, name, speed_ms, dt=0.01):
    """Reference: sample entry times, ask PlanTable.state whether each signal shows green."""
    ap = ct.approaches[name]
    plans = world.timing.plans
    ids = [ct.intersection_ids[i] for i in ap.stops]
    groups = np.array([plans.group_index(i, g) for i, g in zip(ids, ap.group_ids, strict=True)])
    t = np.arange(0.0, ct.cycle_s, dt) + 1.7e9  # absolute times over one cycle
    ok = np.ones(t.size, dtype=bool)
    for g, x in zip(groups, ap.distance_m, strict=True):
        state, _ = plans.state(np.full(t.size, g), t + x / speed_ms)
        ok &= state == GREEN
    if ok.all():
        return ct.cycle_s
    ok = np.roll(ok, -int(np.argmin(ok)))  # start on red: runs do not wrap
    edges = np.diff(np.concatenate([[0], ok.astype(int), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return runs.max(initial=0) * dt


@pytest.mark.parametrize("offsets", ["current", "random"])
def test_bandwidth_matches_sampled_signals(scenario, offsets):
    sc = scenario
    if offsets == "random":
        rng = np.random.default_rng(7)
        ids = [it.id for it in sc.intersections]
        sc = with_offsets(sc, dict(zip(ids, np.round(rng.uniform(0, 120, len(ids))), strict=True)))
        # Retimed for equal bands both ways at 40 km/h, from a random first offset.
        sc = optimize_offsets(sc, speed_ms=40 / 3.6, target_ratio=1.0).scenario
    world = World.build(sc)
    ct = corridor_timing(world)
    for speed in (V45, 40 / 3.6):
        bands = corridor_bands(ct, speed)
        for name, band in bands.items():
            ref = _sampled_bandwidth(world, ct, name, speed)
            assert band.bandwidth_s == pytest.approx(ref, abs=0.02), (name, speed)


def test_default_arterial_current_band(renmin):
    # The bundled offsets make an eastbound wave at 45 km/h: a band close to the shortest green.
    bands = corridor_bands(renmin, V45)
    assert bands["forward"].intersection_ids[0] == "xiliu"
    assert bands["backward"].intersection_ids[0] == "jinjing"
    assert 50.0 < bands["forward"].bandwidth_s <= 56.0
    assert bands["forward"].efficiency == pytest.approx(bands["forward"].bandwidth_s / 120.0)
    assert bands["backward"].bandwidth_s == 0.0


# ----------------------------------------------------------------------------- optimiser
def _corridor(greens_f, greens_b, dist, offsets, cycle=120.0):
    """Hand-made corridor: greens (K, W) NaN-padded per direction; dist (K,) forward."""
    n = len(dist)
    dist = np.asarray(dist, dtype=float)
    fw = Approach(np.arange(n), dist, *greens_f)
    bw = None
    if greens_b is not None:
        bw = Approach(np.arange(n)[::-1], dist[-1] - dist[::-1], *greens_b)
    return CorridorTiming(
        "t", "", tuple(f"i{k}" for k in range(n)), cycle, np.asarray(offsets, dtype=float), fw, bw
    )


def _random_greens(rng, n, cycle=120.0):
    gs = np.full((n, 2), np.nan)
    ge = np.full((n, 2), np.nan)
    for k in range(n):
        if rng.random() < 0.6:
            s, ln = rng.integers(0, cycle), rng.integers(20, 90)
            gs[k, 0], ge[k, 0] = s, min(s + ln, cycle)
        else:  # two greens per cycle
            s, ln = rng.integers(0, 30), rng.integers(10, 40)
            s2 = rng.integers(s + ln + 5, 100)
            gs[k] = [s, s2]
            ge[k] = [s + ln, rng.integers(s2 + 5, cycle + 1)]
    return gs, ge


def test_one_way_optimum_is_shortest_green():
    # Integer travel times (100 m steps at 10 m/s): the aligned greens give min(g) exactly.
    greens = (np.array([[0.0], [30.0], [5.0], [50.0]]), np.array([[60.0], [70.0], [50.0], [105.0]]))
    ct = _corridor(greens, None, [0.0, 300.0, 700.0, 1200.0], [0.0, 17.0, 93.0, 41.0])
    assert corridor_bands(ct, 10.0)["forward"].bandwidth_s < 40.0
    off = best_offsets(ct, 10.0, "one")
    assert corridor_bands(ct, 10.0, off)["forward"].bandwidth_s == pytest.approx(40.0)
    assert off[0] == 0.0  # the first intersection keeps its offset


def test_one_way_default_arterial(scenario):
    res = optimize_offsets(scenario, speed_ms=V45, direction="one")
    shortest = 56.0  # liuquan's EW green
    assert shortest - 1.0 < res.after["forward"].bandwidth_s <= shortest + 1e-9
    assert res.after["forward"].bandwidth_s >= res.before["forward"].bandwidth_s
    assert res.objective_after_s == res.after["forward"].bandwidth_s


@pytest.mark.parametrize("seed", range(6))
def test_two_way_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 3 + seed % 2
    dist = np.concatenate([[0.0], np.cumsum(rng.uniform(250.0, 700.0, n - 1))])
    ct = _corridor(_random_greens(rng, n), _random_greens(rng, n), dist, rng.uniform(0, 120, n))
    speed, step = 12.5, 10.0  # a 12-value offset grid: 12^(n-1) plans to enumerate
    w = float(rng.choice([0.5, 1.0, 2.0]))
    ratio = [None, 1.0, 0.6][seed % 3]

    def score(off):
        b = corridor_bands(ct, speed, off)
        return credited(b["forward"].bandwidth_s, b["backward"].bandwidth_s, w, ratio)

    best = score(ct.offset_s)  # the optimiser never returns worse than the current plan
    for rest in itertools.product(range(12), repeat=n - 1):
        best = max(best, score((ct.offset_s[0] + step * np.array((0, *rest))) % 120.0))
    got = score(best_offsets(ct, speed, "both", w, step, target_ratio=ratio))
    assert got == pytest.approx(best, abs=1e-6)
    # One way: the analytic alignment is the grid optimum of the forward band.
    fwd = max(
        corridor_bands(ct, speed, (ct.offset_s[0] + step * np.array((0, *rest))) % 120)[
            "forward"
        ].bandwidth_s
        for rest in itertools.product(range(12), repeat=n - 1)
    )
    one = corridor_bands(ct, speed, best_offsets(ct, speed, "one", step_s=step))
    assert one["forward"].bandwidth_s >= fwd - 1e-6


def test_two_way_default_arterial(scenario):
    res = optimize_offsets(scenario, speed_ms=V45, direction="both")
    assert res.objective_after_s >= res.objective_before_s
    # Equal bands (MAXBAND target ratio 1) cost total bandwidth on this uneven spacing.
    eq = optimize_offsets(scenario, speed_ms=V45, direction="both", target_ratio=1.0)
    f, b = eq.after["forward"].bandwidth_s, eq.after["backward"].bandwidth_s
    assert f > 10.0 and b > 10.0 and min(f, b) == pytest.approx(eq.objective_after_s / 2)
    assert f + b <= res.objective_after_s + 1e-9


def test_optimised_scenario_round_trips(scenario):
    res = optimize_offsets(scenario, speed_ms=40 / 3.6, direction="both", target_ratio=1.0)
    back = loads_scenario(dumps_scenario(res.scenario), "optimised.toml")
    old, new = scenario.model_dump(), back.model_dump()
    for it_old, it_new in zip(old["intersections"], new["intersections"], strict=True):
        it_new["plan"]["offset_s"] = it_old["plan"]["offset_s"]
    assert new == old  # only offsets changed
    got = {it.id: it.plan.offset_s for it in back.intersections}
    assert got == pytest.approx(res.offsets)
    assert any(
        got[i] != it.plan.offset_s for i, it in zip(got, scenario.intersections, strict=True)
    )
    after = corridor_bands(corridor_timing(World.build(back)), 40 / 3.6)
    assert after["forward"].bandwidth_s == pytest.approx(res.after["forward"].bandwidth_s)


def test_errors(scenario):
    with pytest.raises(CoordinationError, match="valid corridors: 'renmin'"):
        optimize_offsets(scenario, "nope", speed_ms=V45)
    ct = _corridor((np.array([[0.0]] * 2), np.array([[50.0]] * 2)), None, [0.0, 400.0], [0, 0])
    with pytest.raises(CoordinationError, match="one-way"):
        best_offsets(ct, 10.0, "both")
    with pytest.raises(CoordinationError, match="divide the cycle"):
        best_offsets(ct, 10.0, "one", step_s=7.0)
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["intersections"][2]["plan"]["cycle_s"] = 125.0
    mixed = parse_scenario(data)
    with pytest.raises(CoordinationError, match="common cycle"):
        optimize_offsets(mixed, speed_ms=V45)


def test_uncoordinated_scenario(root, scenario):
    unc = load_scenario(root / "scenarios" / "zibo_arterial_uncoordinated.toml")
    a, b = scenario.model_dump(), unc.model_dump()
    for key in ("name", "description"):
        a.pop(key), b.pop(key)
    for it in a["intersections"] + b["intersections"]:
        it["plan"].pop("offset_s")
    assert a == b
    bands = corridor_bands(corridor_timing(World.build(unc)), V45)
    assert bands["forward"].bandwidth_s == 0.0 and bands["backward"].bandwidth_s == 0.0


# ----------------------------------------------------------------------------- CLI
def test_cli_optimize_writes_scenario(root, tmp_path, capsys):
    out = tmp_path / "after.toml"
    src = root / "scenarios" / "zibo_arterial_uncoordinated.toml"
    assert (
        main(["optimize", str(src), "--speed-kmh", "45", "--direction", "one", "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "eff %" in text
    assert "forward xiliu → jinjing" in text and "wrote" in text
    written = out.read_text(encoding="utf-8")
    assert written.startswith("# greenwave scenario written by `greenwave optimize`")
    sc = load_scenario(out)
    bands = corridor_bands(corridor_timing(World.build(sc)), V45)
    assert bands["forward"].bandwidth_s > 55.0


def test_cli_optimize_json(root, tmp_path, capsys):
    import json

    out = tmp_path / "after.toml"
    assert (
        main(["optimize", "--speed-kmh", "40", "--target-ratio", "1", "--json", "--out", str(out)])
        == 0
    )
    obj = json.loads(capsys.readouterr().out)
    assert obj["corridor"] == "renmin" and obj["weight_backward"] == 1.0
    f, b = obj["bands"]["forward"]["after"], obj["bands"]["backward"]["after"]
    assert f["bandwidth_s"] == pytest.approx(b["bandwidth_s"]) and f["bandwidth_s"] > 15
    assert len(f["start_s"]) == 8 and len(obj["offsets"]) == 8


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--speed-kmh", "5"], "must be >= 10"),
        (["--speed-kmh", "inf"], "must be finite"),
        (["--speed-kmh", "abc"], "not a number"),
        (["--speed-kmh", "45", "--corridor", "nope"], "valid corridors: 'renmin'"),
        (["--speed-kmh", "45", "--direction", "one", "--target-ratio", "1"], "both only"),
        (["--speed-kmh", "45", "--cycle-range", "15:20"], "--cycle-range: no cycle in 15–20 s"),
        (["--speed-kmh", "45", "--cycle-range", "150:60"], "need 0 < LO <= HI"),
        (["--speed-kmh", "45", "--cycle-range", "60:abc"], "expected LO:HI"),
        (["--speed-kmh", "45", "--cycle-range", "nan:90"], "must be finite"),
        (["--speed-kmh", "45", "--cycle-range", "60:900"], "above 600 s"),
        (
            ["--speed-kmh", "45", "--speed-tolerance-kmh", "0"],
            "--speed-tolerance-kmh: 0 must be > 0",
        ),
        (["--speed-kmh", "45", "--speed-tolerance-kmh", "-2"], "must be > 0"),
        (["--speed-kmh", "45", "--speed-tolerance-kmh", "42"], "--speed-tolerance-kmh 42: V − T"),
        (
            ["--speed-kmh", "45", "--direction", "one", "--queue-clearance-s", "58"],
            "--queue-clearance-s: queue clearance 58 s: the bandwidth program is infeasible",
        ),
    ],
)
def test_cli_optimize_bad_input(tmp_path, capsys, argv, message):
    out = tmp_path / "x.toml"
    try:
        code = main(["optimize", *argv, "--out", str(out)])
    except SystemExit as exc:  # argparse rejects a bad flag value
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_to_overwrite_source(root, capsys):
    src = root / "scenarios" / "zibo_arterial.toml"
    before = src.read_bytes()
    assert main(["optimize", str(src), "--speed-kmh", "45", "--out", str(src)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_cli_optimize_cycle_and_speed_choice(root, tmp_path, capsys):
    import json

    out = tmp_path / "two_way.toml"
    src = root / "scenarios" / "zibo_arterial_uncoordinated.toml"
    argv = ["optimize", str(src), "--speed-kmh", "45", "--out", str(out)]
    argv += ["--cycle-range", "60:150", "--speed-tolerance-kmh", "5", "--target-ratio", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "cycle 120 → " in text and "att %" in text and "speed km/h" in text
    assert "± 5" in text and "cycle chosen in 60–150 s" in text
    assert main([*argv, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert 60 <= obj["cycle_s"] <= 150 and obj["cycle_before_s"] == 120
    assert obj["program"]["optimal"]
    f, b = obj["bands"]["forward"], obj["bands"]["backward"]
    assert f["after"]["bandwidth_s"] == pytest.approx(b["after"]["bandwidth_s"], abs=1e-4)
    for d in (f, b):
        assert d["after"]["bandwidth_s"] == pytest.approx(d["program_bandwidth_s"], abs=1e-4)
        assert 0 < d["attainability"] <= 1 and d["attainability_before"] == 0
        assert all(40 - 1e-6 <= v <= 50 + 1e-6 for v in d["speed_kmh"])
    sc = load_scenario(out)
    assert {it.plan.cycle_s for it in sc.intersections} == {obj["cycle_s"]}


def test_cli_optimize_one_signal_corridor(root, tmp_path, capsys):
    text = (root / "scenarios" / "zibo_arterial.toml").read_text(encoding="utf-8")
    text = text.replace(
        'intersections = ["xiliu", "xiwu", "xisi", "xier", "liuquan", "gongqingtuan", '
        '"zhongxin", "jinjing"]',
        'intersections = ["xiliu"]',
    )
    src = tmp_path / "one.toml"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.toml"
    assert main(["optimize", str(src), "--speed-kmh", "45", "--out", str(out)]) == 2
    assert "a corridor needs at least 2 intersections" in capsys.readouterr().err
    assert not out.exists()
