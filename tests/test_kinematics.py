"""Arrival time with a speed change, and its closed-form inverse."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import arrival_time

from greenwave.kinematics import arrival_time_s, speed_for_arrival_ms

speeds = st.floats(0.0, 25.0)
dists = st.floats(1.0, 2000.0)
rates = st.floats(0.3, 3.0)


@settings(max_examples=500, deadline=None)
@given(dists, speeds, st.floats(0.5, 25.0), rates, rates)
def test_forward_matches_reference(d, v0, v, a, b):
    got = float(arrival_time_s(d, v0, v, a, b))
    ref = arrival_time(d, v0, v, a, b)
    assert math.isclose(got, ref, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=500, deadline=None)
@given(dists, speeds, st.floats(0.5, 25.0), rates, rates)
def test_inverse_roundtrip(d, v0, v, a, b):
    t = arrival_time(d, v0, v, a, b)
    got = float(speed_for_arrival_ms(d, v0, t, a, b))
    if math.isinf(got):
        # Only where T is flat: v beyond what can be reached before the line.
        reach_up = math.sqrt(v0 * v0 + 2 * a * d)
        reach_dn = math.sqrt(max(v0 * v0 - 2 * b * d, 0.0))
        assert v >= reach_up - 1e-6 or v <= reach_dn + 1e-6
    else:
        # Recomputed arrival time agrees (speeds on a flat piece of T are equivalent).
        assert math.isclose(arrival_time(d, v0, got, a, b), t, rel_tol=1e-7, abs_tol=1e-7)


def test_monotone_non_increasing():
    v = np.linspace(0.5, 25, 500)
    for v0 in (0.0, 5.0, 12.0, 20.0):
        t = arrival_time_s(300.0, v0, v, 1.0, 1.5)
        assert np.all(np.diff(t) <= 1e-12)


def test_holding_speed_is_d_over_v():
    assert math.isclose(float(arrival_time_s(480.0, 12.5, 12.5, 1.0, 1.5)), 38.4)


def _follow_paced(d, v0, v_exit, t, a, b, v_min=0.0, dt=0.005, replan_s=None):
    """Drive a paced plan with rate-limited speed changes (no reaction time): plan once (or
    re-plan every ``replan_s``), then change towards the command at ``a``/``b`` and, at the
    point where accelerating to ``v_exit`` at ``a`` ends at the line, accelerate."""
    from greenwave.kinematics import paced_speed_ms

    x, v, tt, cmd, nxt = 0.0, v0, 0.0, None, 0.0
    while x < d:
        if cmd is None or (replan_s is not None and tt >= nxt):
            u = float(paced_speed_ms(d - x, v, v_exit, t - tt, a, b, v_min))
            if math.isnan(u) and cmd is None:
                return None
            # A re-plan in the last metres may find no profile (NaN): keep the plan.
            cmd, nxt = (cmd if math.isnan(u) else u), tt + (replan_s or 0.0)
        if d - x <= (v_exit * v_exit - v * v) / (2 * a) + 1e-9:  # final acceleration
            cmd = v_exit
        v += float(np.clip(cmd - v, -b * dt, a * dt))
        x += v * dt
        tt += dt
    return tt, v


@settings(max_examples=200, deadline=None)
@given(
    st.floats(150.0, 500.0),
    st.floats(3.0, 16.0),
    st.floats(8.0, 16.0),
    st.floats(1.0, 1.6),
    rates,
    rates,
)
@pytest.mark.slow
def test_paced_profile_arrives_at_t_at_exit_speed(d, v0, v_exit, stretch, a, b):
    """Slowing to the cruise speed returned, holding it and accelerating to ``v_exit`` just in
    time reaches the line at ``t`` with ``v_exit`` (a fine-step drive of the profile), whether
    planned once or re-planned every second."""
    from greenwave.kinematics import paced_speed_ms

    t = stretch * float(arrival_time_s(d, v0, v_exit, a, b))
    u = float(paced_speed_ms(d, v0, v_exit, t, a, b))
    if math.isnan(u):  # no room to slow down and accelerate back: test_paced_speed_cases
        return
    assert u <= v_exit + 1e-9
    for replan in (None, 1.0):
        got = _follow_paced(d, v0, v_exit, t, a, b, replan_s=replan)
        assert got is not None
        t_arr, v_arr = got
        assert t_arr == pytest.approx(t, abs=0.1 + 0.02 * t * (replan is not None))
        # (v_exit itself unless the line comes first when changing speed all the way)
        reach = (math.sqrt(max(v0 * v0 - 2 * b * d, 0.0)), math.sqrt(v0 * v0 + 2 * a * d))
        assert v_arr == pytest.approx(float(np.clip(v_exit, *reach)), abs=0.05)


def test_paced_speed_cases():
    from greenwave.kinematics import paced_speed_ms

    # Accelerating to v_exit now arrives after t: drive v_exit.
    assert float(paced_speed_ms(300.0, 10.0, 15.0, 5.0, 1.5, 2.0)) == 15.0
    # Worked example: d = 300 m, v0 = v_exit = 15 m/s, t = 40 s, a = 1.5, b = 2 m/s².
    # c2 = (1/1.5 + 1/2)/2 = 7/12, c0 = 225/4 + 225/3 - 300 = -168.75, A = 7.5 + 10 = 17.5:
    # (A - t)² - 4 c2 c0 = 506.25 + 393.75 = 900, so
    # u = (A - t + sqrt((A - t)² - 4 c2 c0)) / (2 c2) = (-22.5 + 30) / (7/6) = 45/7.
    u = float(paced_speed_ms(300.0, 15.0, 15.0, 40.0, 1.5, 2.0))
    assert u == pytest.approx(45.0 / 7.0)
    # Time of that profile, leg by leg: brake 15 → u, cruise, accelerate u → 15.
    t_dec, t_acc = (15 - u) / 2.0, (15 - u) / 1.5
    cruise = 300.0 - (15**2 - u**2) / 4.0 - (15**2 - u**2) / 3.0
    assert t_dec + cruise / u + t_acc == pytest.approx(40.0)
    # Below the floor: no profile (NaN), the caller keeps a constant band speed.
    assert math.isnan(float(paced_speed_ms(300.0, 15.0, 15.0, 40.0, 1.5, 2.0, v_min_ms=8.0)))
    # Slower than needed now: speed up to a cruise speed between v0 and v_exit.
    u = float(paced_speed_ms(300.0, 5.0, 15.0, 30.0, 1.5, 2.0))
    assert 5.0 < u < 15.0
    cruise = 300.0 - (15**2 - 5**2) / 3.0
    assert (15 - 5) / 1.5 + cruise / u == pytest.approx(30.0)
    # Too close to slow down and accelerate back to v_exit before the line.
    assert math.isnan(float(paced_speed_ms(60.0, 15.0, 15.0, 30.0, 1.5, 2.0)))
    # Vectorised.
    out = paced_speed_ms(np.array([300.0, 300.0]), 15.0, 15.0, np.array([40.0, 5.0]), 1.5, 2.0)
    np.testing.assert_allclose(out, [45.0 / 7.0, 15.0])


@pytest.mark.parametrize("together_max", [0, 4096])  # one pass per speed, or one for all
def test_several_speeds_at_once_equal_one_at_a_time_bit_for_bit(monkeypatch, together_max):
    import greenwave.kinematics as kin
    from greenwave.kinematics import arrival_times_s

    monkeypatch.setattr(kin, "_TOGETHER_MAX", together_max)

    rng = np.random.default_rng(7)
    n = 300
    d = np.concatenate([rng.uniform(0.0, 600.0, n - 3), [0.0, -5.0, np.nan]])
    v0 = np.concatenate([rng.uniform(0.0, 20.0, n - 1), [0.0]])
    fast = rng.uniform(1.0, 25.0, n)  # within reach and not: both formulas
    slow = rng.uniform(0.5, 8.0, n)
    with_zero = np.where(rng.random(n) < 0.1, 0.0, fast)  # the general way, alone
    with_nan = np.where(rng.random(n) < 0.1, np.nan, slow)
    speeds = (fast, with_zero, slow, with_nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        got = arrival_times_s(d, v0, speeds, 1.5, 2.0)
        want = [arrival_time_s(d, v0, v, 1.5, 2.0) for v in speeds]
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w, equal_nan=True)


def test_paced_speed_with_the_callers_arrival_time_is_the_same():
    from greenwave.kinematics import paced_speed_ms

    rng = np.random.default_rng(3)
    d, v0 = rng.uniform(50.0, 500.0, 200), rng.uniform(0.0, 16.0, 200)
    ve, t = rng.uniform(8.0, 16.0, 200), rng.uniform(5.0, 80.0, 200)
    t_go = arrival_time_s(d, v0, ve, 1.5, 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = paced_speed_ms(d, v0, ve, t, 1.5, 2.0, 3.0)
        b = paced_speed_ms(d, v0, ve, t, 1.5, 2.0, 3.0, t_go_s=t_go)
    assert np.array_equal(a, b, equal_nan=True) and np.isfinite(a).any()
