"""Speed bands: every advised speed arrives on green, checked against scalar references."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import arrival_time, in_any, windows_scalar

from greenwave.bands import (
    ADVICE,
    NO_SIGNAL,
    PROCEED,
    STOP,
    BandParams,
    queue_discharge_delay_s,
    speed_bands,
)
from greenwave.spat import SignalTiming, SpatMessage
from greenwave.timing import PlanTable, SignalPlan
from greenwave.units import kmh_to_ms

TOL_S = 1e-6


@st.composite
def corridors(draw, max_m=4):
    m = draw(st.integers(1, max_m))
    plans = []
    for _ in range(m):
        cycle = draw(st.sampled_from([60.0, 75.0, 90.0, 100.0, 120.0, 150.0]))
        g0 = draw(st.floats(0.0, cycle * 0.6))
        g1 = min(draw(st.floats(g0 + 5.0, cycle)), g0 + cycle - 5.0)
        plans.append(
            SignalPlan(
                cycle_s=cycle,
                offset_s=draw(st.floats(0, cycle - 0.01)),
                groups=[{"id": "A", "greens_s": [[round(g0, 2), round(g1, 2)]]}],
            )
        )
    gaps = draw(st.lists(st.floats(30.0, 700.0), min_size=m, max_size=m))
    dist = np.cumsum(gaps)
    limits = draw(st.lists(st.sampled_from([40.0, 50.0, 60.0, 70.0]), min_size=m, max_size=m))
    return plans, dist, kmh_to_ms(np.array(limits))


params_st = st.builds(
    BandParams,
    band_min_ms=st.sampled_from([kmh_to_ms(20.0), kmh_to_ms(35.0)]),
    band_max_ms=st.sampled_from([kmh_to_ms(50.0), kmh_to_ms(60.0)]),
    safety_margin_s=st.sampled_from([0.0, 2.0, 4.0]),
    min_width_ms=st.sampled_from([0.0, kmh_to_ms(2.0)]),
    accel_ms2=st.floats(0.5, 2.0),
    decel_ms2=st.floats(0.8, 3.0),
    n_windows=st.just(3),
)


def _compute(plans, dist, limits, v0, t, params, queue_delay=None):
    tab = PlanTable.from_plans([(f"I{j}", p) for j, p in enumerate(plans)])
    m = len(plans)
    b = speed_bands(
        dist[None, :],
        np.array([v0]),
        t,
        np.arange(m)[None, :],
        limits[None, :],
        tab,
        params,
        None if queue_delay is None else np.array([queue_delay]),
    )
    return b


def _ref_windows(plan, t):
    g = plan.groups[0]
    return windows_scalar(plan.cycle_s, plan.offset_s, g.greens_s, t, t + 2000.0)


def _arrives_on_green(plan, d, v0, v, t, p, qd=0.0):
    t_arr = t + arrival_time(d, v0, v, p.accel_ms2, p.decel_ms2)
    wins = [(max(s, t) + qd if qd else s, e) for s, e in _ref_windows(plan, t)]
    return in_any(t_arr, [(s - TOL_S, e + TOL_S) for s, e in wins], p.safety_margin_s)


def _samples(lo, hi, rng):
    return [lo, hi, 0.5 * (lo + hi), *list(rng.uniform(lo, hi, 4))]


@settings(max_examples=400, deadline=None)
@given(corridors(), st.floats(0.0, 20.0), st.floats(0.0, 1e7), params_st, st.integers(0, 2**31))
def test_band_speeds_arrive_on_green(corr, v0, t, p, seed):
    plans, dist, limits = corr
    b = _compute(plans, dist, limits, v0, t, p)
    rng = np.random.default_rng(seed)
    vmax = np.minimum.accumulate(limits)
    for j, plan in enumerate(plans):
        lo, hi = b.lo_ms[0, j], b.hi_ms[0, j]
        if math.isnan(lo):
            assert b.status[0, j] == STOP
            continue
        assert b.status[0, j] in (ADVICE, PROCEED)
        # Never outside [band min, min(band max, limit so far)].
        assert p.band_min_ms <= lo <= hi <= min(p.band_max_ms, vmax[j])
        assert hi - lo >= p.min_width_ms - 1e-9
        for v in _samples(lo, hi, rng):
            assert _arrives_on_green(plan, dist[j], v0, v, t, p), (j, v)
        if b.status[0, j] == PROCEED:
            assert lo <= v0 <= hi


@settings(max_examples=300, deadline=None)
@given(corridors(), st.floats(0.0, 20.0), st.floats(0.0, 1e7), params_st, st.integers(0, 2**31))
def test_joint_band_passes_every_intersection(corr, v0, t, p, seed):
    plans, dist, limits = corr
    b = _compute(plans, dist, limits, v0, t, p)
    rng = np.random.default_rng(seed)
    ok = ~np.isnan(b.joint_lo_ms[0])
    # Nested: a band for m stop lines exists only if one for m - 1 does.
    assert np.all(ok[: ok.sum()]) and not np.any(ok[ok.sum() :])
    np.testing.assert_array_equal(b.joint_lo_ms[0, :1], b.lo_ms[0, :1])
    for m in range(len(plans)):
        lo, hi = b.joint_lo_ms[0, m], b.joint_hi_ms[0, m]
        if math.isnan(lo):
            continue
        assert p.band_min_ms <= lo <= hi <= min(p.band_max_ms, limits[: m + 1].min())
        for v in _samples(lo, hi, rng):
            for j in range(m + 1):
                assert _arrives_on_green(plans[j], dist[j], v0, v, t, p), (m, j, v)


@settings(max_examples=200, deadline=None)
@given(
    corridors(max_m=1),
    st.floats(0.0, 20.0),
    st.floats(0.0, 1e6),
    st.sampled_from([0.0, 2.0]),
    st.floats(0.6, 2.0),
    st.floats(0.8, 3.0),
)
@pytest.mark.slow
def test_no_feasible_speed_agrees_with_brute_force(corr, v0, t, margin, acc, dec):
    plans, dist, limits = corr
    assume(dist[0] <= 1000.0)
    # Enough windows to cover every arrival time the band allows (d <= 1 km, v >= 20 km/h).
    p = BandParams(
        band_min_ms=kmh_to_ms(20.0),
        band_max_ms=kmh_to_ms(60.0),
        safety_margin_s=margin,
        min_width_ms=kmh_to_ms(1.0),
        accel_ms2=acc,
        decel_ms2=dec,
        n_windows=8,
    )
    b = _compute(plans, dist, limits, v0, t, p)
    vmax = min(p.band_max_ms, limits[0])
    step = 0.002
    speeds = np.arange(p.band_min_ms, vmax + 1e-12, step)
    ok = np.array([_arrives_on_green(plans[0], dist[0], v0, v, t, p) for v in speeds])
    # Longest run of consecutive feasible speeds.
    best, run = 0, 0
    for f in ok:
        run = run + 1 if f else 0
        best = max(best, run)
    width = (best - 1) * step if best else -1.0
    if b.status[0, 0] == STOP:
        assert width < p.min_width_ms + 2 * step
    else:
        assert width >= p.min_width_ms - 2 * step


@st.composite
def spat_cases(draw):
    t0 = 1_000_000.0
    n = draw(st.integers(1, 4))
    first = draw(st.sampled_from(["red", "green"]))
    states = [first if i % 2 == 0 else ("green" if first == "red" else "red") for i in range(n)]
    events, lo = [], t0
    for s in states:
        mn = lo + draw(st.floats(0.5, 40.0))
        mx = mn + draw(st.floats(0.0, 25.0))
        lk = draw(st.floats(mn, mx))
        events.append({"state": s, "min_end_s": mn, "likely_end_s": lk, "max_end_s": mx})
        lo = mx
    actual_frac = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    return SpatMessage(timestamp_s=t0, events=events), actual_frac


@settings(max_examples=300, deadline=None)
@given(spat_cases(), st.floats(30.0, 500.0), st.floats(3.0, 17.0), st.floats(0.0, 20.0))
def test_spat_band_valid_for_any_switch_time(case, d, v0, dt):
    msg, frac = case
    plan = SignalPlan(cycle_s=90.0, offset_s=7.0, groups=[{"id": "A", "greens_s": [[0, 40]]}])
    tab = PlanTable.from_plans([("I", plan)])
    timing = SignalTiming(tab).with_spat({0: msg})
    t = msg.timestamp_s + dt
    assume(t < msg.horizon_s)
    p = BandParams(band_min_ms=kmh_to_ms(10.0), band_max_ms=kmh_to_ms(60.0), min_width_ms=0.0)
    b = speed_bands(
        np.array([[d]]),
        np.array([v0]),
        t,
        np.array([[0]]),
        np.array([[kmh_to_ms(60.0)]]),
        timing,
        p,
    )
    # One actual switching sequence inside the announced [min, max] ranges.
    ends, prev = [], msg.timestamp_s
    for ev, f in zip(msg.events, frac, strict=True):
        e = max(ev.min_end_s + f * (ev.max_end_s - ev.min_end_s), prev)
        ends.append(e)
        prev = e
    actual, start = [], msg.timestamp_s - 1e9
    for ev, e in zip(msg.events, ends, strict=True):
        if ev.state == "green":
            actual.append((start, e))
        start = e
    # After the last actual switch the plan governs again.
    plan_w = windows_scalar(90.0, 7.0, [(0, 40)], ends[-1], ends[-1] + 3000)
    if msg.events[-1].state == "green":
        actual += [(s, e) for s, e in plan_w if s >= ends[-1]]
    else:
        actual += [(max(s, ends[-1]), e) for s, e in plan_w]
    lo, hi = b.lo_ms[0, 0], b.hi_ms[0, 0]
    if math.isnan(lo):
        return
    for v in np.linspace(lo, hi, 7):
        t_arr = t + arrival_time(d, v0, v, p.accel_ms2, p.decel_ms2)
        assert in_any(t_arr, [(s - TOL_S, e + TOL_S) for s, e in actual], p.safety_margin_s), v


def test_spat_conservative_window_and_expiry():
    plan = SignalPlan(cycle_s=90.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 40]]}])
    tab = PlanTable.from_plans([("I", plan)])
    msg = SpatMessage(
        timestamp_s=100.0,
        events=[
            {"state": "red", "min_end_s": 110.0, "likely_end_s": 112.0, "max_end_s": 115.0},
            {"state": "green", "min_end_s": 140.0, "max_end_s": 150.0},
        ],
    )
    timing = SignalTiming(tab).with_spat({0: msg})
    ws, we = timing.green_windows(np.array([0, 0]), np.array([105.0, 200.0]), 2)
    assert ws[0, 0] == 115.0 and we[0, 0] == 140.0  # latest start, earliest end
    assert ws[0, 1] >= 150.0  # plan only after the horizon, and never before the green ended
    np.testing.assert_allclose(ws[1], [180.0, 270.0])  # message expired: plan windows
    state, ttc, tmin, tmax = timing.state(np.array([0]), np.array([105.0]))
    assert state[0] == 0 and ttc[0] == 7.0 and tmin[0] == 5.0 and tmax[0] == 10.0


def test_statuses_and_limit():
    plan = SignalPlan(cycle_s=100.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 50]]}])
    tab = PlanTable.from_plans([("I", plan)])
    p = BandParams()
    # 480 m ahead at t = 60 s (red until 100 s): arrival 34.6–49.4 s at 35–50 km/h → [94.6,109.4]
    dist = np.array([[480.0], [480.0], [480.0], [np.nan], [480.0]])
    v0 = np.array([kmh_to_ms(45.0), kmh_to_ms(30.0), kmh_to_ms(45.0), 10.0, kmh_to_ms(45.0)])
    t = np.array([60.0, 60.0, 5.0, 0.0, 60.0])
    grp = np.array([[0], [0], [0], [-1], [0]])
    lim = np.array([[60.0], [60.0], [60.0], [60.0], [40.0]]) / 3.6
    b = speed_bands(dist, v0, t, grp, lim, tab, p)
    assert b.status[0, 0] == ADVICE and b.window_start_s[0, 0] == 100.0
    assert b.status[1, 0] == ADVICE
    assert b.status[2, 0] == PROCEED  # 45 km/h from t=5 arrives at 43.4 s: green until 50
    assert b.status[3, 0] == NO_SIGNAL and np.isnan(b.lo_ms[3, 0])
    assert b.hi_ms[4, 0] <= 40 / 3.6  # never above the link's limit
    assert b.time_to_green_s[0, 0] == 40.0 and b.time_to_red_s[0, 0] == 90.0


def test_queue_delay_shifts_window_start():
    plan = SignalPlan(cycle_s=100.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 50]]}])
    tab = PlanTable.from_plans([("I", plan)])
    p = BandParams(band_min_ms=kmh_to_ms(20), band_max_ms=kmh_to_ms(60), safety_margin_s=0.0)
    qd = float(queue_discharge_delay_s(10))
    assert qd == pytest.approx(2.0 + 10 * 3600 / 1900)
    b0 = speed_bands(
        np.array([[300.0]]), np.array([10.0]), 80.0, np.array([[0]]), np.array([[20.0]]), tab, p
    )
    b1 = speed_bands(
        np.array([[300.0]]),
        np.array([10.0]),
        80.0,
        np.array([[0]]),
        np.array([[20.0]]),
        tab,
        p,
        queue_delay_s=np.array([[qd]]),
    )
    assert b1.hi_ms[0, 0] < b0.hi_ms[0, 0]
    t_arr = 80.0 + arrival_time(300.0, 10.0, b1.hi_ms[0, 0], p.accel_ms2, p.decel_ms2)
    assert t_arr >= 100.0 + qd - 1e-6


def test_params_reject_bad_values():
    with pytest.raises(ValueError, match="band_min_ms"):
        BandParams(band_min_ms=20.0, band_max_ms=10.0)
    with pytest.raises(ValueError, match="finite"):
        BandParams(safety_margin_s=float("nan"))


def test_inputs_are_not_modified():
    plan = SignalPlan(cycle_s=100.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 50]]}])
    tab = PlanTable.from_plans([("I", plan)])
    for dist in (np.array([[np.nan]]), np.array([[300.0, np.nan]]), np.array([[np.nan], [5.0]])):
        before = dist.copy()
        n, m = dist.shape
        speed_bands(
            dist, np.full(n, 10.0), 0.0, np.zeros((n, m), dtype=int), np.full((n, m), 15.0), tab
        )
        np.testing.assert_array_equal(dist, before)


def test_windows_counted_from_the_first_reachable_one():
    # Green now (until 20 s) but 1 km away: the first reachable green is the next cycle's.
    plan = SignalPlan(cycle_s=60.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 20]]}])
    tab = PlanTable.from_plans([("I", plan)])
    p = BandParams(n_windows=1, safety_margin_s=2.0)
    b = speed_bands(
        np.array([[1000.0]]),
        np.array([12.0]),
        0.0,
        np.array([[0]]),
        np.array([[kmh_to_ms(50.0)]]),
        tab,
        p,
    )
    assert b.status[0, 0] == ADVICE
    assert b.window_start_s[0, 0] == 60.0 and b.window_end_s[0, 0] == 80.0
    # Time to green / red still describe the current green.
    assert b.time_to_green_s[0, 0] == 0.0 and b.time_to_red_s[0, 0] == 20.0
    t_arr = arrival_time(1000.0, 12.0, b.lo_ms[0, 0], p.accel_ms2, p.decel_ms2)
    assert 60.0 <= t_arr <= 78.0 + TOL_S


@st.composite
def multi_green_plans(draw):
    """Plans with one or two greens per cycle, sometimes one wrapping over the cycle end."""
    cycle = float(draw(st.sampled_from([60, 80, 90, 120])))
    n = draw(st.integers(1, 2))
    cuts = sorted(
        draw(st.lists(st.integers(0, int(cycle)), min_size=2 * n, max_size=2 * n, unique=True))
    )
    if draw(st.booleans()):
        cuts[0], cuts[-1] = 0, int(cycle)
    greens = [(float(cuts[2 * i]), float(cuts[2 * i + 1])) for i in range(n)]
    if sum(e - s for s, e in greens) >= cycle:
        greens = [(0.0, cycle / 2)]
    offset = float(draw(st.integers(0, int(cycle) - 1)))
    return SignalPlan(cycle_s=cycle, offset_s=offset, groups=[{"id": "A", "greens_s": greens}])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(multi_green_plans(), min_size=1, max_size=3),
    st.floats(0.0, 20.0),
    st.floats(0.0, 1e7),
    params_st,
    st.integers(0, 2**31),
    st.data(),
)
def test_multi_green_band_speeds_arrive_on_green(plans, v0, t, p, seed, data):
    m = len(plans)
    dist = np.cumsum(data.draw(st.lists(st.floats(30.0, 600.0), min_size=m, max_size=m)))
    limits = np.full(m, kmh_to_ms(60.0))
    b = _compute(plans, dist, limits, v0, t, p)
    rng = np.random.default_rng(seed)
    for j, plan in enumerate(plans):
        lo, hi = b.lo_ms[0, j], b.hi_ms[0, j]
        if math.isnan(lo):
            assert b.status[0, j] == STOP
            continue
        assert p.band_min_ms <= lo <= hi <= p.band_max_ms
        assert b.window_start_s[0, j] < b.window_end_s[0, j]
        for v in _samples(lo, hi, rng):
            assert _arrives_on_green(plan, dist[j], v0, v, t, p), (j, v)
    for m_ in range(m):
        lo, hi = b.joint_lo_ms[0, m_], b.joint_hi_ms[0, m_]
        if not math.isnan(lo):
            for v in _samples(lo, hi, rng):
                assert all(_arrives_on_green(plans[j], dist[j], v0, v, t, p) for j in range(m_ + 1))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(multi_green_plans(), st.floats(30.0, 1000.0), st.floats(0.0, 20.0), st.floats(0.0, 1e6))
def test_multi_green_no_feasible_speed_agrees_with_brute_force(plan, d, v0, t):
    p = BandParams(
        band_min_ms=kmh_to_ms(20.0),
        band_max_ms=kmh_to_ms(60.0),
        min_width_ms=kmh_to_ms(1.0),
        n_windows=8,
    )
    b = _compute([plan], np.array([d]), np.array([kmh_to_ms(60.0)]), v0, t, p)
    step = 0.002
    speeds = np.arange(p.band_min_ms, p.band_max_ms + 1e-12, step)
    ok = np.array([_arrives_on_green(plan, d, v0, v, t, p) for v in speeds])
    best, run = 0, 0
    for f in ok:
        run = run + 1 if f else 0
        best = max(best, run)
    width = (best - 1) * step if best else -1.0
    if b.status[0, 0] == STOP:
        assert width < p.min_width_ms + 2 * step
    else:
        assert width >= p.min_width_ms - 2 * step


def _mixed_batch(n=400, m=4, seed=7):
    """A batch mixing one-green plans, a two-green plan, live SPaT, unsignalised and missing
    stop lines, on one timing."""
    one = SignalPlan(
        cycle_s=90.0,
        offset_s=13.0,
        groups=[
            {"id": "A", "greens_s": [[0, 40]], "conflicts": ["B"]},
            {"id": "B", "greens_s": [[45, 85]]},
        ],
    )
    two = SignalPlan(
        cycle_s=120.0, offset_s=5.0, groups=[{"id": "A", "greens_s": [[0, 25], [60, 90]]}]
    )
    wrap = SignalPlan(
        cycle_s=75.0, offset_s=40.0, groups=[{"id": "A", "greens_s": [[0, 10], [50, 75]]}]
    )
    tab = PlanTable.from_plans([("one", one), ("two", two), ("wrap", wrap)])
    t0 = 1.7e9
    msg = SpatMessage(
        timestamp_s=t0,
        events=[
            {
                "state": "red",
                "min_end_s": t0 + 12.0,
                "likely_end_s": t0 + 14.0,
                "max_end_s": t0 + 18.0,
            },
            {"state": "green", "min_end_s": t0 + 45.0, "max_end_s": t0 + 52.0},
            {"state": "red", "min_end_s": t0 + 80.0, "max_end_s": t0 + 95.0},
        ],
    )
    timing = SignalTiming(tab).with_spat({0: msg})
    rng = np.random.default_rng(seed)
    dist = np.cumsum(rng.uniform(20.0, 600.0, (n, m)), axis=1)
    dist[rng.random(n) < 0.1, 2:] = np.nan  # paths that end early
    group = rng.integers(-1, tab.n_groups, (n, m))
    group[np.isnan(dist)] = -1
    limit = kmh_to_ms(rng.choice([40.0, 50.0, 60.0], (n, m)))
    v0 = rng.uniform(0.0, 18.0, n)
    t = t0 + rng.uniform(-30.0, 120.0, n)  # some vehicles see the SPaT message, some do not
    qd = np.where(rng.random((n, m)) < 0.3, rng.uniform(0.0, 15.0, (n, m)), 0.0)
    return dist, v0, t, group, limit, timing, qd


def _assert_same_bands(x, y):
    for f in (
        "lo_ms",
        "hi_ms",
        "status",
        "window_start_s",
        "window_end_s",
        "time_to_green_s",
        "time_to_red_s",
        "joint_lo_ms",
        "joint_hi_ms",
    ):
        np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f)


@pytest.mark.parametrize("with_queue", [False, True])
def test_batch_equals_one_vehicle_at_a_time(monkeypatch, with_queue):
    """Mixed batches (SPaT and plan rows, several greens per cycle, unsignalised and missing
    stop lines) give every vehicle the bands it gets alone, whatever the block size."""
    import greenwave.bands as bands_mod

    dist, v0, t, group, limit, timing, qd = _mixed_batch()
    qd = qd if with_queue else None
    p = BandParams(band_min_ms=kmh_to_ms(20.0), band_max_ms=kmh_to_ms(60.0), n_windows=3)
    whole = speed_bands(dist, v0, t, group, limit, timing, p, qd)  # small: fresh arrays
    monkeypatch.setattr(bands_mod, "_SMALL", 0)  # from here on the block allocator
    monkeypatch.setattr(bands_mod, "_BLOCK", 37)
    _assert_same_bands(speed_bands(dist, v0, t, group, limit, timing, p, qd), whole)
    for i in range(0, len(v0), 7):
        one = speed_bands(
            dist[i : i + 1],
            v0[i : i + 1],
            t[i : i + 1],
            group[i : i + 1],
            limit[i : i + 1],
            timing,
            p,
            None if qd is None else qd[i : i + 1],
        )
        for f in (
            "lo_ms",
            "hi_ms",
            "status",
            "window_start_s",
            "window_end_s",
            "time_to_green_s",
            "time_to_red_s",
            "joint_lo_ms",
            "joint_hi_ms",
        ):
            np.testing.assert_array_equal(
                getattr(one, f)[0], getattr(whole, f)[i], err_msg=f"{f}, vehicle {i}"
            )
    assert {NO_SIGNAL, ADVICE, STOP} <= set(np.unique(whole.status))


def test_fast_and_generic_windows_agree(monkeypatch):
    """The one-green-per-cycle arithmetic and the general window lookup give the same bands."""
    import greenwave.bands as bands_mod

    plans = [
        SignalPlan(cycle_s=c, offset_s=o, groups=[{"id": "A", "greens_s": [[s, e]]}])
        for c, o, s, e in [(60, 0, 0, 25), (90, 31, 10, 50), (120, 77, 60, 120), (75, 3, 0, 40)]
    ]
    tab = PlanTable.from_plans([(f"I{j}", pl) for j, pl in enumerate(plans)])
    rng = np.random.default_rng(3)
    n, m = 2000, 4
    dist = np.cumsum(rng.uniform(20.0, 700.0, (n, m)), axis=1)
    group = rng.integers(0, 4, (n, m))
    limit = np.full((n, m), kmh_to_ms(60.0))
    v0 = rng.uniform(0.0, 18.0, n)
    t = 1e6 + rng.uniform(0.0, 600.0, n)
    p = BandParams(band_min_ms=kmh_to_ms(20.0), band_max_ms=kmh_to_ms(60.0))
    fast = speed_bands(dist, v0, t, group, limit, tab, p)
    monkeypatch.setattr(
        bands_mod, "_generic_pairs", lambda timing, g, t, signal: np.flatnonzero(signal)
    )
    slow = speed_bands(dist, v0, t, group, limit, tab, p)
    for f in (
        "lo_ms",
        "hi_ms",
        "window_start_s",
        "window_end_s",
        "time_to_green_s",
        "time_to_red_s",
        "joint_lo_ms",
        "joint_hi_ms",
    ):
        np.testing.assert_allclose(getattr(fast, f), getattr(slow, f), rtol=0, atol=1e-6, err_msg=f)
    np.testing.assert_array_equal(fast.status, slow.status)


@pytest.mark.parametrize("allocator", ["_Scratch", "_Fresh"])
def test_mixed_batch_is_valid_and_reads_no_stale_scratch(monkeypatch, allocator):
    """Scratch memory handed out by the block allocator (or, for small calls, fresh arrays),
    or handed back by a stage, is filled with garbage: results must not change (nothing reads
    memory it did not write, or after releasing it), and plan-driven bands of a mixed batch
    arrive on green by the scalar reference."""
    import greenwave.bands as bands_mod

    dist, v0, t, group, limit, timing, qd = _mixed_batch(n=300, seed=11)
    p = BandParams(band_min_ms=kmh_to_ms(20.0), band_max_ms=kmh_to_ms(60.0), n_windows=3)
    clean = speed_bands(dist, v0, t, group, limit, timing, p, qd)
    rng = np.random.default_rng(0)
    # 4 stop lines x 300 vehicles: below the fresh-array threshold unless it is lowered.
    monkeypatch.setattr(bands_mod, "_SMALL", 0 if allocator == "_Scratch" else 10**9)
    cls = getattr(bands_mod, allocator)
    take = cls.__call__
    used = []

    def poisoned(self, shape, dtype=np.float64):
        a = take(self, shape, dtype)
        a.view(np.uint8)[...] = rng.integers(0, 256, a.nbytes, dtype=np.uint8).reshape(
            a.view(np.uint8).shape
        )
        if a.dtype == np.float64:
            a[...] = rng.uniform(-200.0, 400.0, a.shape)
        used.append(a.size)
        return a

    def release(self, mark):  # what a stage hands back is garbage too
        state = self.mark()
        self._release(mark)
        spent = [(c, 0 if c != mark[0] else mark[1]) for c in range(mark[0], state[0] + 1)]
        for c, start in spent:
            chunk = self._chunks[c][0]
            stop = state[1] if c == state[0] else chunk.size
            chunk[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8)

    monkeypatch.setattr(cls, "__call__", poisoned)
    if allocator == "_Scratch":
        monkeypatch.setattr(cls, "_release", cls.release, raising=False)
        monkeypatch.setattr(cls, "release", release)
    monkeypatch.setattr(bands_mod, "_BLOCK", 64)
    _assert_same_bands(speed_bands(dist, v0, t, group, limit, timing, p, qd), clean)
    assert len(used) > 20  # the poisoned allocator served the call

    tab = timing.plans
    live = timing.spat.active(np.maximum(group, 0), t[:, None])
    checked = 0
    for i, j in zip(*np.nonzero(~np.isnan(clean.lo_ms)), strict=True):
        g = group[i, j]
        if live[i, j]:
            continue
        plan = tab.plans[tab.group_keys[g][0]]
        greens = next(gr.greens_s for gr in plan.groups if gr.id == tab.group_keys[g][1])
        wins = windows_scalar(plan.cycle_s, plan.offset_s, greens, t[i], t[i] + 3000.0)
        wins = [(max(s, t[i]) + qd[i, j], e) for s, e in wins]
        for v in (clean.lo_ms[i, j], clean.hi_ms[i, j]):
            t_arr = t[i] + arrival_time(dist[i, j], v0[i], v, p.accel_ms2, p.decel_ms2)
            assert in_any(t_arr, [(s - TOL_S, e + TOL_S) for s, e in wins], p.safety_margin_s)
        checked += 1
    assert checked > 100


def test_missing_stop_line_does_not_cap_later_ones():
    plan = SignalPlan(cycle_s=100.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 90]]}])
    tab = PlanTable.from_plans([("I", plan)])
    p = BandParams(band_min_ms=kmh_to_ms(20.0), band_max_ms=kmh_to_ms(60.0), min_width_ms=0.0)
    dist = np.array([[300.0, np.nan, 900.0]])
    limit = kmh_to_ms(np.array([[60.0, 20.0, 60.0]]))  # the 20 km/h belongs to no stop line
    b = speed_bands(dist, np.array([12.0]), 0.0, np.array([[0, 0, 0]]), limit, tab, p)
    assert b.status[0, 1] == NO_SIGNAL
    assert b.hi_ms[0, 2] > kmh_to_ms(20.0)


@pytest.mark.parametrize("n, m", [(0, 3), (3, 0), (0, 0)])
def test_empty_batches(n, m):
    plan = SignalPlan(cycle_s=90.0, offset_s=0.0, groups=[{"id": "A", "greens_s": [[0, 40]]}])
    tab = PlanTable.from_plans([("I", plan)])
    b = speed_bands(
        np.full((n, m), 100.0),
        np.full(n, 10.0),
        0.0,
        np.zeros((n, m), dtype=int),
        np.full((n, m), 15.0),
        tab,
    )
    assert b.lo_ms.shape == b.status.shape == b.joint_hi_ms.shape == (n, m)


def _joint(rows):
    """A Bands whose joint bands are ``rows`` (N, M) of (lo, hi) in m/s or None."""
    from greenwave.bands import Bands

    n, m = len(rows), len(rows[0])
    lo = np.array([[np.nan if c is None else c[0] for c in r] for r in rows])
    hi = np.array([[np.nan if c is None else c[1] for c in r] for r in rows])
    z = np.zeros((n, m))
    return Bands(lo.copy(), hi.copy(), np.full((n, m), ADVICE, np.int8), z, z, z, z, lo, hi)


def test_choose_joint_is_the_drivers_option():
    b = _joint(
        [
            [(8.0, 16.0), (8.0, 12.0), (5.0, 6.0)],  # 3 signals only at a crawl
            [(8.0, 16.0), (9.0, 15.0), (10.0, 14.0)],
            [(8.0, 16.0), None, None],
            [None, None, None],
        ]
    )
    desired = np.array([15.0, 15.0, 15.0, 15.0])
    lo, hi, n = b.choose_joint(desired)
    np.testing.assert_array_equal(n, [3, 3, 1, 0])
    for got, want in zip((lo, hi, n), b.longest_joint(), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(b.choose_joint(desired, max_signals=2)[2], [2, 2, 1, 0])
    np.testing.assert_array_equal(b.choose_joint(desired, max_signals=1)[2], [1, 1, 1, 0])
    # Speeds chosen: 15, 12, 6 (row 0); 15, 15, 14 (row 1).  Half of 15 excludes 6 only.
    lo, hi, n = b.choose_joint(desired, min_speed_ratio=0.5)
    np.testing.assert_array_equal(n, [2, 3, 1, 0])
    assert (lo[0], hi[0]) == (8.0, 12.0)
    # 0.9 × 15 = 13.5: row 0 keeps only its next signal, row 1 all three (14 >= 13.5).
    np.testing.assert_array_equal(b.choose_joint(desired, min_speed_ratio=0.9)[2], [1, 3, 1, 0])
    # A driver slower than the bands is raised to lo: 8, 8, 5 → 5 < 0.9 × 8 drops the third.
    np.testing.assert_array_equal(
        b.choose_joint(np.full(4, 4.0), min_speed_ratio=0.9)[2], [2, 3, 1, 0]
    )
