"""Tests for sim.fuel: instantaneous fuel (VT-Micro, HBEFA3) and CO2 (HBEFA3) rates.

Reference values are computed here by hand from the published coefficients,
written out again as literals.  The module's own tables are not imported for
this, so a typo or a transposed matrix in the module makes these tests fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim import fuel
from sim.fuel import co2_rate_g_s, fuel_rate_l_s

KMH = 1.0 / 3.6  # m/s per km/h

# --- VT-Micro composite vehicle, fuel (Ahn, Rakha, Trani, Van Aerde 2002) -------------
# L (a >= 0) and M (a < 0); row i multiplies v^i [km/h], column j multiplies a^j [km/h/s].
VT_L = [
    [-7.73452, 0.22946, -0.00561, 9.773e-05],
    [0.02799, 0.0068, -0.00077221, 8.38e-06],
    [-0.0002228, -4.402e-05, 7.90e-07, 8.17e-07],
    [1.09e-06, 4.80e-08, 3.27e-08, -7.79e-09],
]
VT_M = [
    [-7.73452, -0.01799, -0.00427, 0.00018829],
    [0.02804, 0.00772, 0.00083744, -3.387e-05],
    [-0.00021988, -5.219e-05, -7.44e-06, 2.77e-07],
    [1.08e-06, 2.47e-07, 4.87e-08, 3.79e-10],
]

# --- HBEFA3 PC_G_EU4 as fitted in SUMO (HelpersHBEFA3.cpp), (c0, cav1, cav2, c1, c2, c3) ---
# The bracket is in g/h with v [m/s] and a [m/s^2]; SUMO divides by 3.6 to get mg/s.
HB_CO2 = (9449.0, 938.4, 0.0, -467.1, 28.26, 0.0)
HB_FUEL = (3014.0, 299.3, 0.0, -149.0, 9.014, 0.0)
PETROL_G_PER_L = 742.0


def vtmicro_by_hand(v_kmh: float, a_kmhs: float) -> float:
    """Plain-Python VT-Micro fuel rate [L/s] straight from the published double sum."""
    k = VT_L if a_kmhs >= 0 else VT_M
    return math.exp(sum(k[i][j] * v_kmh**i * a_kmhs**j for i in range(4) for j in range(4)))


def hbefa3_by_hand(c: tuple[float, ...], v: float, a: float) -> float:
    """SUMO's HBEFA3 bracket in mg/s, without the coasting rule."""
    c0, cav1, cav2, c1, c2, c3 = c
    return max((c0 + cav1 * a * v + cav2 * a * a * v + c1 * v + c2 * v**2 + c3 * v**3) / 3.6, 0.0)


def l_per_100km(rate_l_s: float, speed_ms: float) -> float:
    return rate_l_s / speed_ms * 1000.0 * 100.0


def g_per_km(rate_g_s: float, speed_ms: float) -> float:
    return rate_g_s / speed_ms * 1000.0


# ---------------------------------------------------------------------------
# VT-Micro against hand computation
# ---------------------------------------------------------------------------
def test_vtmicro_idle_is_exp_k00():
    idle = float(fuel_rate_l_s(0.0, 0.0))
    assert idle == pytest.approx(math.exp(-7.73452), rel=1e-12)
    # Secondary note: exp(-7.73452) ~ 4.4e-4 L/s (= 1.57 L/h).
    assert idle == pytest.approx(4.3746e-4, rel=1e-4)


def test_vtmicro_cruise_50kmh_hand_computed():
    # a = 0, so only column j = 0 of L contributes:
    # ln F = -7.73452 + 0.02799*50 - 0.0002228*50^2 + 1.09e-6*50^3 = -6.755770
    s = 50.0
    ln_f = -7.73452 + 0.02799 * s - 0.0002228 * s**2 + 1.09e-06 * s**3
    assert ln_f == pytest.approx(-6.75577, abs=1e-9)
    expected = math.exp(ln_f)  # 1.16414e-3 L/s
    assert float(fuel_rate_l_s(50.0 * KMH, 0.0)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.16414e-3, rel=1e-5)


@pytest.mark.parametrize(
    ("v_kmh", "a_ms2"),
    [
        (30.0, 1.0),  # L, all 16 terms active
        (20.0, 2.5),
        (0.0, 3.0),  # start from standstill
        (50.0, -1.0),  # M
        (90.0, -0.5),
        (10.0, -1.5),  # on the deceleration edge of the envelope
    ],
)
def test_vtmicro_full_matrix_hand_computed(v_kmh, a_ms2):
    # Points inside the calibration envelope, so no clipping happens.  Non-zero
    # a and v make every L_ij / M_ij count: a transposed matrix, a sign slip or
    # swapping L and M changes the result by far more than the tolerance.
    expected = vtmicro_by_hand(v_kmh, a_ms2 * 3.6)
    got = float(fuel_rate_l_s(v_kmh * KMH, a_ms2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_vtmicro_clips_to_calibration_envelope():
    # Speed: 0..120 km/h.
    assert fuel_rate_l_s(200.0 * KMH, 0.0) == pytest.approx(vtmicro_by_hand(120.0, 0.0), rel=1e-12)
    assert fuel_rate_l_s(-3.0, 0.0) == pytest.approx(vtmicro_by_hand(0.0, 0.0), rel=1e-12)
    # Deceleration: no harder than -1.5 m/s^2.
    assert fuel_rate_l_s(50.0 * KMH, -6.0) == pytest.approx(
        vtmicro_by_hand(50.0, -1.5 * 3.6), rel=1e-12
    )
    # Acceleration: no more than 3.7 m/s^2 at low speed ...
    assert fuel_rate_l_s(30.0 * KMH, 5.0) == pytest.approx(
        vtmicro_by_hand(30.0, 3.7 * 3.6), rel=1e-12
    )
    # ... and no more than 60 W/kg / v at high speed (100 km/h -> 2.16 m/s^2).
    v = 100.0 * KMH
    assert fuel_rate_l_s(v, 3.0) == pytest.approx(vtmicro_by_hand(100.0, 60.0 / v * 3.6), rel=1e-12)


def test_vtmicro_monotone_in_acceleration_inside_envelope():
    # The raw L surface turns over above ~100 km/h (at 120 km/h, a = 3.7 m/s^2
    # would cost less than cruising); the specific-power ceiling must prevent it.
    v = np.linspace(0.0, 130.0, 131)[:, None] * KMH
    a = np.linspace(0.0, 4.0, 401)[None, :]
    rate = fuel_rate_l_s(v, a)
    assert np.all(np.diff(rate, axis=1) >= -1e-15)


# ---------------------------------------------------------------------------
# HBEFA3 (SUMO) against hand computation
# ---------------------------------------------------------------------------
def test_hbefa3_co2_cruise_50kmh_hand_computed():
    v = 50.0 * KMH
    # (9449 - 467.1*13.889 + 28.26*13.889^2) / 3.6 = 2336.9 mg/s
    expected_g_s = hbefa3_by_hand(HB_CO2, v, 0.0) / 1000.0
    assert float(co2_rate_g_s(v, 0.0)) == pytest.approx(expected_g_s, rel=1e-12)
    assert expected_g_s == pytest.approx(2.3369, rel=1e-4)


def test_hbefa3_co2_accelerating_hand_computed():
    # v = 10 m/s, a = 1 m/s^2: (9449 + 938.4*10 - 4671 + 2826) / 3.6 = 4718.9 mg/s
    assert float(co2_rate_g_s(10.0, 1.0)) == pytest.approx(16988.0 / 3600.0, rel=1e-12)


def test_hbefa3_co2_idle_and_coasting():
    idle = 9449.0 / 3600.0  # c0 / 3.6 mg/s -> g/s
    assert float(co2_rate_g_s(0.0, 0.0)) == pytest.approx(idle, rel=1e-12)
    # Standing still (<= 0.5 m/s), even with a small negative accel: the engine idles.
    assert float(co2_rate_g_s(0.3, -0.5)) == pytest.approx(
        hbefa3_by_hand(HB_CO2, 0.3, -0.5) / 1000.0, rel=1e-12
    )
    # Moving and decelerating: fuel cut-off, zero emissions (SUMO).
    assert float(co2_rate_g_s(10.0, -0.5)) == 0.0
    assert float(co2_rate_g_s(10.0, -3.0)) == 0.0


def test_hbefa3_fuel_hand_computed():
    v = 50.0 * KMH
    # mKr bracket in g/h -> / 3.6 mg/s -> / 742 g/L -> ml/s -> / 1000 L/s
    expected = hbefa3_by_hand(HB_FUEL, v, 0.0) / PETROL_G_PER_L / 1000.0
    assert float(fuel_rate_l_s(v, 0.0, model="hbefa3")) == pytest.approx(expected, rel=1e-12)
    assert float(fuel_rate_l_s(12.0, 0.8, model="hbefa3")) == pytest.approx(
        hbefa3_by_hand(HB_FUEL, 12.0, 0.8) / PETROL_G_PER_L / 1000.0, rel=1e-12
    )
    assert float(fuel_rate_l_s(12.0, -0.8, model="hbefa3")) == 0.0


def test_unknown_fuel_model_rejected():
    with pytest.raises(ValueError, match="unknown fuel model"):
        fuel_rate_l_s(10.0, 0.0, model="copert")


# ---------------------------------------------------------------------------
# Physical sanity
# ---------------------------------------------------------------------------
SPEED_GRID = np.linspace(-5.0, 60.0, 131)[:, None]  # m/s, well beyond the envelope
ACCEL_GRID = np.linspace(-10.0, 10.0, 81)[None, :]  # m/s^2


@pytest.mark.parametrize(
    "rate_fn",
    [
        lambda v, a: fuel_rate_l_s(v, a),
        lambda v, a: fuel_rate_l_s(v, a, model="hbefa3"),
        co2_rate_g_s,
    ],
    ids=["fuel-vtmicro", "fuel-hbefa3", "co2-hbefa3"],
)
def test_rates_non_negative_and_finite_on_grid(rate_fn):
    rate = rate_fn(SPEED_GRID, ACCEL_GRID)
    assert rate.shape == (131, 81)
    assert rate.dtype == np.float64
    assert np.all(np.isfinite(rate))
    assert np.all(rate >= 0.0)


def test_plausibility_at_50kmh_cruise():
    v = 50.0 * KMH
    # Expected: VT-Micro 8.4 L/100 km, HBEFA3 7.2 L/100 km, CO2 168 g/km.
    vt = l_per_100km(float(fuel_rate_l_s(v, 0.0)), v)
    hb = l_per_100km(float(fuel_rate_l_s(v, 0.0, model="hbefa3")), v)
    co2 = g_per_km(float(co2_rate_g_s(v, 0.0)), v)
    assert 4.0 <= vt <= 9.0
    assert 4.0 <= hb <= 9.0
    assert 100.0 <= co2 <= 250.0
    assert vt == pytest.approx(8.38, abs=0.01)
    assert hb == pytest.approx(7.23, abs=0.01)
    assert co2 == pytest.approx(168.3, abs=0.1)


def test_idle_rates_plausible():
    # A petrol car idles at roughly 0.5-5 L/h.  Expected: VT-Micro 1.57 L/h,
    # HBEFA3 4.06 L/h (HBEFA3's fit is high at standstill).
    assert 0.5 <= float(fuel_rate_l_s(0.0, 0.0)) * 3600.0 <= 5.0
    assert 0.5 <= float(fuel_rate_l_s(0.0, 0.0, model="hbefa3")) * 3600.0 <= 5.0


@pytest.mark.parametrize("v_kmh", [10.0, 30.0, 50.0, 70.0, 90.0, 110.0])
@pytest.mark.parametrize("a_ms2", [0.3, 1.0, 1.5])
def test_accelerating_costs_more_than_cruising(v_kmh, a_ms2):
    v = v_kmh * KMH
    assert fuel_rate_l_s(v, a_ms2) > fuel_rate_l_s(v, 0.0)
    assert fuel_rate_l_s(v, a_ms2, model="hbefa3") > fuel_rate_l_s(v, 0.0, model="hbefa3")
    assert co2_rate_g_s(v, a_ms2) > co2_rate_g_s(v, 0.0)


def test_co2_is_not_fuel_times_constant():
    # The two default models must be able to move differently: their ratio
    # changes between cruising, accelerating and braking.
    v = np.array([50.0, 50.0, 50.0]) * KMH
    a = np.array([0.0, 1.5, -1.0])
    ratio = co2_rate_g_s(v, a) / fuel_rate_l_s(v, a)
    assert abs(ratio[1] / ratio[0] - 1.0) > 0.05
    assert ratio[2] == 0.0  # HBEFA3 cuts fuel while braking, VT-Micro keeps burning


def test_co2_cross_check_against_fuel_carbon_balance():
    # EPA-420-F-11-041: 8887 g CO2 per US gallon = 2348 g/L.
    assert fuel.CO2_G_PER_L_PETROL == pytest.approx(8887.0 / 3.785411784, rel=2e-3)
    v = 50.0 * KMH
    # HBEFA3 CO2 vs its own fuel fit: 2326 g/L, within 2 % of the carbon balance.
    implied = float(co2_rate_g_s(v, 0.0) / fuel_rate_l_s(v, 0.0, model="hbefa3"))
    assert implied == pytest.approx(fuel.CO2_G_PER_L_PETROL, rel=0.02)
    # Independent models: HBEFA3 CO2 within 30 % of VT-Micro fuel x 2350 g/L
    # (2.34 g/s vs 2.73 g/s at 50 km/h).
    from_vt = float(fuel_rate_l_s(v, 0.0)) * fuel.CO2_G_PER_L_PETROL
    assert float(co2_rate_g_s(v, 0.0)) == pytest.approx(from_vt, rel=0.30)


# ---------------------------------------------------------------------------
# API behaviour: shapes, broadcasting, purity
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rate_fn",
    [fuel_rate_l_s, lambda v, a: fuel_rate_l_s(v, a, model="hbefa3"), co2_rate_g_s],
    ids=["fuel-vtmicro", "fuel-hbefa3", "co2-hbefa3"],
)
def test_broadcasting_2d_matches_scalar_calls(rate_fn):
    speeds = np.array([[0.0], [5.0], [14.0]])  # (3, 1)
    accels = np.array([[-2.0, -0.2, 0.0, 1.2]])  # (1, 4)
    out = rate_fn(speeds, accels)
    assert out.shape == (3, 4)
    assert out.dtype == np.float64
    for i in range(3):
        for j in range(4):
            assert out[i, j] == pytest.approx(float(rate_fn(speeds[i, 0], accels[0, j])), rel=1e-14)
    # Same-shape 2-D arrays and scalar + array.
    full_v, full_a = np.broadcast_arrays(speeds, accels)
    np.testing.assert_allclose(rate_fn(full_v, full_a), out, rtol=1e-14)
    np.testing.assert_allclose(rate_fn(full_v, 1.2), out[:, [3]].repeat(4, axis=1), rtol=1e-14)
    # Scalars give 0-d arrays; Python ints and lists are accepted.
    assert rate_fn(10, 0).shape == ()
    assert rate_fn([1, 2], [0.5]).shape == (2,)


def test_empty_input_and_non_contiguous_views():
    assert fuel_rate_l_s(np.empty((0, 3)), 0.0).shape == (0, 3)
    assert co2_rate_g_s(np.empty(0), np.empty(0)).shape == (0,)
    v = np.linspace(0.0, 30.0, 20).reshape(4, 5)
    a = np.linspace(-2.0, 2.0, 20).reshape(4, 5)
    np.testing.assert_allclose(fuel_rate_l_s(v.T, a.T), fuel_rate_l_s(v, a).T, rtol=1e-14)


def test_inputs_not_modified():
    v = np.array([-1.0, 10.0, 60.0])
    a = np.array([-5.0, 0.5, 6.0])
    v0, a0 = v.copy(), a.copy()
    fuel_rate_l_s(v, a)
    fuel_rate_l_s(v, a, model="hbefa3")
    co2_rate_g_s(v, a)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(a, a0)


def test_published_tables_are_read_only():
    with pytest.raises(ValueError):
        fuel.VTMICRO_L[0, 0] = 0.0
    with pytest.raises(ValueError):
        fuel.VTMICRO_M[0, 0] = 0.0


def test_model_info_names_sources():
    assert "Ahn" in fuel.MODEL_INFO["fuel_vtmicro"]["reference"]
    assert "HelpersHBEFA3.cpp" in fuel.MODEL_INFO["co2_hbefa3"]["coefficients"]
    assert "EPA-420-F-11-041" in fuel.MODEL_INFO["co2_per_litre_cross_check"]["reference"]


@settings(max_examples=200, deadline=None)
@given(
    arrays=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=5).flatmap(
        lambda bs: st.tuples(
            hnp.arrays(np.float64, bs.input_shapes[0], elements=st.floats(-100.0, 100.0)),
            hnp.arrays(np.float64, bs.input_shapes[1], elements=st.floats(-20.0, 20.0)),
            st.just(bs.result_shape),
        )
    )
)
def test_property_any_broadcastable_input_gives_finite_non_negative(arrays):
    v, a, shape = arrays
    for out in (fuel_rate_l_s(v, a), fuel_rate_l_s(v, a, model="hbefa3"), co2_rate_g_s(v, a)):
        assert out.shape == shape
        assert np.all(np.isfinite(out))
        assert np.all(out >= 0.0)
