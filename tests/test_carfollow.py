"""IDM and the safe-speed bound against the published formulas."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwave.sim.carfollow import ballistic_step, idm_accel, safe_accel, safe_speed

# Highway parameter set of Treiber, Hennecke & Helbing (2000), Table I.
V0, T, A, B, S0 = 120 / 3.6, 1.6, 0.73, 1.67, 2.0


def test_idm_matches_published_formula():
    # Hand evaluation of Eq. (2)-(3): v = 80 km/h, closing in at 10 km/h on a leader 50 m ahead.
    v, dv, s = 80 / 3.6, 10 / 3.6, 50.0
    s_star = S0 + v * T + v * dv / (2 * math.sqrt(A * B))
    expected = A * (1 - (v / V0) ** 4 - (s_star / s) ** 2)
    got = float(idm_accel(v, V0, A, B, T, S0, gap=np.array(s), dv=np.array(dv)))
    assert math.isclose(got, expected, rel_tol=1e-12)
    # s* = 2 + 35.56 + 27.95 = 65.51 m; 0.73 (1 - 0.1975 - 1.7166) = -0.6673 m/s²
    assert math.isclose(expected, -0.6673, abs_tol=1e-4)


def test_free_road_limits_and_equilibrium():
    assert float(idm_accel(0.0, V0, A, B, T, S0)) == A
    assert abs(float(idm_accel(V0, V0, A, B, T, S0))) < 1e-12
    # Equilibrium gap s_e(v) = (s0 + vT) / sqrt(1 - (v/v0)^4) gives zero acceleration.
    for v in (5.0, 15.0, 25.0):
        s_e = (S0 + v * T) / math.sqrt(1 - (v / V0) ** 4)
        acc = float(idm_accel(v, V0, A, B, T, S0, gap=np.array(s_e), dv=np.array(0.0)))
        assert abs(acc) < 1e-9


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 25.0), st.floats(0.0, 120.0), st.floats(0.0, 25.0))
def test_safe_speed_can_always_stop(v, gap, v_leader):
    dt, b = 0.5, 9.0
    vs = float(safe_speed(v, gap, v_leader, dt, b))
    # Ballistic step to vs, then braking at b, ends within the gap plus the leader's stop.
    travelled = (v + vs) / 2 * dt + vs * vs / (2 * b)
    room = gap + v_leader**2 / (2 * b)
    if v * dt / 2 <= room:
        assert travelled <= room + 1e-6
    # The acceleration bound never lets the step overshoot a standing obstacle.
    a = float(safe_accel(v, gap, 0.0, dt, b))
    if -a <= 1e6:
        x, v1, _ = ballistic_step(np.array(0.0), np.array(v), np.array(a), dt)
        assert float(x) + float(v1) ** 2 / (2 * b) <= gap + 1e-6


def test_ballistic_stop_inside_step():
    x, v, _a = ballistic_step(np.array([0.0]), np.array([2.0]), np.array([-8.0]), 0.5)
    assert v[0] == 0.0 and math.isclose(x[0], 2.0**2 / 16.0)
