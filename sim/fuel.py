"""Instantaneous fuel-consumption and CO2 emission rates for the microsimulator.

The simulator calls :func:`fuel_rate_l_s` and :func:`co2_rate_g_s` once per
tick (0.5 s) for every vehicle, passing numpy arrays of speed and acceleration
in SI units.  Both functions are vectorised, broadcast their two inputs against
each other, and return float64 arrays of the broadcast shape.

Fuel and CO2 deliberately come from two *different* published models, so that a
change in driving (e.g. following a speed advisory) can move fuel and CO2 by
different amounts, as real measurements do.  CO2 is **not** computed as
fuel x constant; :data:`CO2_G_PER_L_PETROL` exists only as a cross-check.

Fuel: VT-Micro (default, ``model="vtmicro"``)
----------------------------------------------
Ahn, K., Rakha, H., Trani, A., Van Aerde, M. (2002). "Estimating vehicle fuel
consumption and emissions based on instantaneous speed and acceleration
levels." *Journal of Transportation Engineering* 128(2):182-190,
doi:10.1061/(ASCE)0733-947X(2002)128:2(182).  The model was fitted to Oak
Ridge National Laboratory (ORNL) dynamometer data for 5 light-duty vehicles
and 3 light-duty trucks.  The coefficients used here are the widely reproduced
VT-Micro fuel set, attributed to the paper's composite light-duty vehicle.
The paper itself could not be opened while this module was written, so its
table number is not given, and the copies below do not name the vehicle.

    F [L/s] = exp( sum_{i=0..3} sum_{j=0..3} K_ij * v^i * a^j )
    v in km/h, a in km/h/s,  K = L if a >= 0,  K = M if a < 0.

Row ``i`` of each matrix holds the coefficients of ``v**i``; column ``j``
those of ``a**j``.  Where the coefficients were read, and how they were
cross-checked (values agree digit for digit unless noted):

* a MATLAB ``VT_Micro(speed, acc, dec)`` function holding full L and M
  matrices for fuel, CO2, HC, CO and NOx (two stored versions in the public
  code index);
* an independent Python eco-driving module ``fuel_calculate.py``
  (``vt_micro_fuel``) that writes out both the L and the M fuel polynomials as
  literals.  It agrees with the MATLAB copy on all 32 coefficients; it only
  rounds L_03 to 9.77e-5 where the MATLAB copy has 9.773e-5 (kept here);
* three C++ eco-driving / trajectory-optimisation files holding the M
  (deceleration) matrix only.  One of them credits Alsabaan, Naik, Khalifa &
  Nayak (2012), *Applying vehicular networks for reduced vehicle fuel
  consumption and CO2 emissions*, InTech, for the values.

The index behind the public code search did not name the repositories of
these copies.  Check against the secondary note "idle = exp(-7.73452)
~ 4.4e-4 L/s": the idle rate here is exp(L_00) = 4.3746e-4 L/s = 1.575 L/h.

Calibration envelope (a documented model-domain clip, not input validation).
ORNL measured the vehicles from standstill up to about 120 km/h, and from
about -1.5 m/s^2 (hard braking was not mapped) up to each vehicle's maximum
acceleration (about 3.7 m/s^2 at low speed, falling with speed).  These
envelope figures are as commonly quoted for VT-Micro; they were not
re-checked against the paper.  The cubic surfaces misbehave outside the
envelope.  At 50 km/h and -4 m/s^2 the M surface gives 0.044 L/s (100 x
idle).  Above about 100 km/h the L surface falls as ``a`` grows (at
120 km/h, 3.7 m/s^2 costs less than cruising).  Inputs are therefore clipped
to:

* speed: 0 <= v <= :data:`VTMICRO_SPEED_MAX_KMH` (120 km/h);
* deceleration: a >= :data:`VTMICRO_ACCEL_MIN_MS2` (-1.5 m/s^2).  Harder
  braking is charged the rate at -1.5 m/s^2.  That rate is near the minimum of
  the M surface and close to idle, which matches a closed throttle;
* acceleration: a <= min(:data:`VTMICRO_ACCEL_MAX_MS2`,
  :data:`VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG` / v).  The second term is a
  **greenwave choice** that stands in for the speed-dependent ceiling of the
  ORNL envelope: a constant specific inertial power a*v <= 60 W/kg (it binds
  above 58 km/h; 2.2 m/s^2 at 100 km/h, 1.8 m/s^2 at 120 km/h).  60 W/kg is a
  plausible peak for the 1990s test fleet.  It also keeps the fitted surface
  non-decreasing in ``a`` over the whole clipped domain: the L surface turns
  over at 2.8 / 2.3 / 2.05 / 1.9 m/s^2 at 105 / 110 / 115 / 120 km/h.

Fuel alternative and CO2: HBEFA3 PC_G_EU4, as fitted in Eclipse SUMO
---------------------------------------------------------------------
Passenger car, petrol, Euro 4.  SUMO's continuous reformulation of the
Handbook Emission Factors for Road Transport (HBEFA) v3.1 is described in
Krajzewicz, D., Behrisch, M., Wagner, P., Luz, R., Krumnow, M. (2015).
"Second generation of pollutant emission models for SUMO."  In: Behrisch, M.,
Weber, M. (eds.) *Modeling Mobility with Open Data*, Lecture Notes in
Mobility, Springer, pp. 203-221.  The fitted coefficients are not printed in a
journal table; they were read from the SUMO source, repository
eclipse-sumo/sumo, ``src/utils/emissions/HelpersHBEFA3.cpp``, array
``myFunctionParameter``, entry ``// PC_G_EU4``.  The rows "CO2(total)" and
"mKr" (fuel mass) are identical in the 2019 and 2023 versions of that file.
The formula comes from ``HelpersHBEFA3.h``, ``compute()``:

    E [mg/s] = max( (c0 + cav1*a*v + cav2*a^2*v + c1*v + c2*v^2 + c3*v^3) / 3.6, 0 )
    v in m/s, a in m/s^2; the bracket is in g/h, and / 3.6 turns g/h into mg/s.

SUMO's handling of special cases, reproduced here:

* Standstill (v <= 0.5 m/s, SUMO's ``ZERO_SPEED_ACCURACY``) emits the idle
  value c0 / 3.6 whatever the acceleration.
* Moving and decelerating: SUMO returns zero emissions when
  v > ZERO_SPEED_ACCURACY and a < getCoastingDecel(...) (engine fuel
  cut-off while coasting).  Older SUMO versions simply returned zero for any
  a < 0.  The current threshold depends on the vehicle's mass, frontal area
  and slope.  That code could not be checked, so this module uses 0
  (:data:`HBEFA3_COASTING_DECEL_MS2`), the value SUMO's API documentation
  gives for the base class's default ``getCoastingDecel``.  Any deceleration while moving
  therefore emits 0 g/s.  This under-counts gentle deceleration with a
  partly open throttle.
* Volumetric fuel: SUMO divides the fuel mass by 742 g/L for petrol
  (:data:`HBEFA3_PETROL_DENSITY_G_PER_L`).

Within HBEFA3 PC_G_EU4 the CO2 row is 3.135 x the fuel-mass row, term by
term.  ``model="hbefa3"`` fuel and :func:`co2_rate_g_s` are therefore exactly
proportional (2326 g CO2 per litre, about 1 % below the EPA value in the next
section).  Fuel and CO2 changes differ only with the default VT-Micro fuel
model.

Cross-check constant
--------------------
:data:`CO2_G_PER_L_PETROL` = 2350 g/L comes from US EPA, "Greenhouse Gas
Emissions from a Typical Passenger Vehicle", EPA-420-F-11-041 (2011):
8,887 g CO2 per US gallon of gasoline / 3.785 L = 2,348 g/L, rounded.

Plausibility at steady speed (a = 0), as computed by this module:

========  ======================  ===================  ====================
speed     VT-Micro fuel           HBEFA3 fuel          HBEFA3 CO2
========  ======================  ===================  ====================
idle      1.57 L/h                4.06 L/h             9.45 kg/h
30 km/h   10.2 L/100 km           10.8 L/100 km        251 g/km
50 km/h   8.4 L/100 km            7.2 L/100 km         168 g/km
70 km/h   7.8 L/100 km            6.8 L/100 km         158 g/km
========  ======================  ===================  ====================
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CO2_G_PER_L_PETROL",
    "FUEL_MODELS",
    "HBEFA3_COASTING_DECEL_MS2",
    "HBEFA3_PC_G_EU4_CO2_G_PER_H",
    "HBEFA3_PC_G_EU4_FUEL_G_PER_H",
    "HBEFA3_PETROL_DENSITY_G_PER_L",
    "HBEFA3_ZERO_SPEED_MS",
    "MODEL_INFO",
    "VTMICRO_ACCEL_MAX_MS2",
    "VTMICRO_ACCEL_MIN_MS2",
    "VTMICRO_L",
    "VTMICRO_M",
    "VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG",
    "VTMICRO_SPEED_MAX_KMH",
    "co2_rate_g_s",
    "fuel_rate_l_s",
]

_KMH_PER_MS: Final = 3.6
"""km/h per m/s; the same factor converts m/s^2 to km/h/s."""

# --------------------------------------------------------------------------
# VT-Micro light-duty vehicle fuel model [L/s].
# Rows: power of speed (v^0..v^3, v in km/h); columns: power of acceleration
# (a^0..a^3, a in km/h/s).  Values exactly as published (see module docstring).
# --------------------------------------------------------------------------
VTMICRO_L: Final[np.ndarray] = np.array(
    [
        [-7.73452, 0.22946, -0.00561, 9.773e-05],
        [0.02799, 0.0068, -0.00077221, 8.38e-06],
        [-0.0002228, -4.402e-05, 7.90e-07, 8.17e-07],
        [1.09e-06, 4.80e-08, 3.27e-08, -7.79e-09],
    ],
    dtype=np.float64,
)
"""VT-Micro fuel coefficients L_ij for a >= 0, shape (4, 4), km/h and km/h/s units."""

VTMICRO_M: Final[np.ndarray] = np.array(
    [
        [-7.73452, -0.01799, -0.00427, 0.00018829],
        [0.02804, 0.00772, 0.00083744, -3.387e-05],
        [-0.00021988, -5.219e-05, -7.44e-06, 2.77e-07],
        [1.08e-06, 2.47e-07, 4.87e-08, 3.79e-10],
    ],
    dtype=np.float64,
)
"""VT-Micro fuel coefficients M_ij for a < 0, shape (4, 4), km/h and km/h/s units."""

# Published tables must not be mutated by callers.
VTMICRO_L.setflags(write=False)
VTMICRO_M.setflags(write=False)

VTMICRO_SPEED_MAX_KMH: Final = 120.0
"""Upper end of the ORNL speed range the model was fitted on [km/h]."""

VTMICRO_ACCEL_MIN_MS2: Final = -1.5
"""Strongest deceleration in the ORNL data [m/s^2]; harder braking is clipped to it."""

VTMICRO_ACCEL_MAX_MS2: Final = 3.7
"""Strongest (low-speed) acceleration in the ORNL data [m/s^2]."""

VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG: Final = 60.0
"""greenwave's speed-dependent acceleration ceiling a*v <= this [W/kg = m^2/s^3].

Not part of the published model: it stands in for the falling high-speed edge
of the ORNL envelope and keeps the fitted surface monotone in acceleration.
"""

# --------------------------------------------------------------------------
# HBEFA3 PC_G_EU4 (SUMO HelpersHBEFA3.cpp), order (c0, cav1, cav2, c1, c2, c3),
# bracket in g/h with v in m/s and a in m/s^2.
# --------------------------------------------------------------------------
HBEFA3_PC_G_EU4_CO2_G_PER_H: Final = (9449.0, 938.4, 0.0, -467.1, 28.26, 0.0)
"""SUMO HBEFA3 PC_G_EU4 "CO2(total)" coefficients (c0, cav1, cav2, c1, c2, c3)."""

HBEFA3_PC_G_EU4_FUEL_G_PER_H: Final = (3014.0, 299.3, 0.0, -149.0, 9.014, 0.0)
"""SUMO HBEFA3 PC_G_EU4 "mKr" (fuel mass) coefficients (c0, cav1, cav2, c1, c2, c3)."""

HBEFA3_PETROL_DENSITY_G_PER_L: Final = 742.0
"""Petrol density SUMO uses to turn HBEFA3 fuel mass into volume [g/L]."""

HBEFA3_ZERO_SPEED_MS: Final = 0.5
"""SUMO ``ZERO_SPEED_ACCURACY``: at or below this speed a vehicle counts as standing [m/s]."""

HBEFA3_COASTING_DECEL_MS2: Final = 0.0
"""Deceleration below which a moving vehicle is coasting with fuel cut off [m/s^2]."""

CO2_G_PER_L_PETROL: Final = 2350.0
"""Tailpipe CO2 per litre of petrol burnt [g/L] (EPA-420-F-11-041); cross-check only."""

FUEL_MODELS: Final = ("vtmicro", "hbefa3")
"""Accepted values of ``model`` in :func:`fuel_rate_l_s`; the first is the default."""

MODEL_INFO: Final[dict[str, dict[str, str]]] = {
    "fuel_vtmicro": {
        "name": "VT-Micro light-duty vehicle fuel model (default fuel model)",
        "reference": (
            "Ahn, Rakha, Trani, Van Aerde (2002), Estimating vehicle fuel consumption and "
            "emissions based on instantaneous speed and acceleration levels, "
            "J. Transp. Eng. 128(2):182-190"
        ),
        "coefficients": (
            "widely reproduced VT-Micro fuel set (L for a>=0, M for a<0), read from "
            "independent open-source copies (MATLAB VT_Micro, Python fuel_calculate.py, "
            "C++ eco-driving code) that agree digit for digit"
        ),
        "units": "L/s; model evaluated in km/h and km/h/s",
        "domain": "0-120 km/h; -1.5 m/s^2 <= a <= min(3.7 m/s^2, 60 W/kg / v); inputs clipped",
    },
    "fuel_hbefa3": {
        "name": "HBEFA3 PC_G_EU4 (petrol passenger car, Euro 4), fuel, as fitted in SUMO",
        "reference": (
            "Krajzewicz, Behrisch, Wagner, Luz, Krumnow (2015), Second generation of pollutant "
            "emission models for SUMO, in Modeling Mobility with Open Data, Springer, 203-221"
        ),
        "coefficients": "eclipse-sumo/sumo src/utils/emissions/HelpersHBEFA3.cpp, PC_G_EU4, mKr",
        "units": "L/s (fuel mass / 742 g/L, as SUMO); model evaluated in m/s and m/s^2",
        "domain": "v >= 0; zero while moving with a < 0 (fuel cut-off), idle value at standstill",
    },
    "co2_hbefa3": {
        "name": "HBEFA3 PC_G_EU4 (petrol passenger car, Euro 4), CO2, as fitted in SUMO",
        "reference": (
            "Krajzewicz, Behrisch, Wagner, Luz, Krumnow (2015), Second generation of pollutant "
            "emission models for SUMO, in Modeling Mobility with Open Data, Springer, 203-221"
        ),
        "coefficients": (
            "eclipse-sumo/sumo src/utils/emissions/HelpersHBEFA3.cpp, PC_G_EU4, CO2(total)"
        ),
        "units": "g/s; model evaluated in m/s and m/s^2",
        "domain": "v >= 0; zero while moving with a < 0 (fuel cut-off), idle value at standstill",
    },
    "co2_per_litre_cross_check": {
        "name": "tailpipe CO2 per litre of petrol (cross-check constant only)",
        "reference": (
            "US EPA (2011), Greenhouse Gas Emissions from a Typical Passenger Vehicle, "
            "EPA-420-F-11-041: 8,887 g CO2 per gallon"
        ),
        "coefficients": "2350 g/L (8887 g / 3.785 L = 2348 g/L, rounded)",
        "units": "g/L",
        "domain": "n/a",
    },
}
"""Where each model and constant comes from, keyed by role."""


# --------------------------------------------------------------------------
# Precomputed hot-path tables.
# --------------------------------------------------------------------------
def _vtmicro_si_columns() -> tuple[np.ndarray, ...]:
    """Rescale both VT-Micro matrices to SI inputs and stack them for Horner.

    K_ij v_kmh^i a_kmhs^j = (K_ij 3.6^(i+j)) v_ms^i a_ms2^j, so rescaling the
    coefficients once at import saves two array multiplies per call.  The
    result is four arrays ``C[i]`` of shape (8, 1): entry ``j`` (0..3) is
    L'_ij and entry ``4 + j`` is M'_ij, so ``sum_i C[i] * v**i`` evaluates all
    eight speed polynomials (four accel powers x two matrices) in one pass of
    (8, N) ufuncs instead of 16 separate (N,) passes.
    """
    powers = np.arange(4)
    scale = _KMH_PER_MS ** (powers[:, None] + powers[None, :])  # 3.6^(i+j), shape (4, 4)
    stacked = np.concatenate([VTMICRO_L * scale, VTMICRO_M * scale], axis=1)  # (4, 8)
    return tuple(np.ascontiguousarray(stacked[i][:, None]) for i in range(4))


_VTMICRO_C0, _VTMICRO_C1, _VTMICRO_C2, _VTMICRO_C3 = _vtmicro_si_columns()

_VTMICRO_SPEED_MAX_MS: Final = VTMICRO_SPEED_MAX_KMH / _KMH_PER_MS
# Below this speed the specific-power ceiling is looser than the flat 3.7 m/s^2
# cap.  Using it as a floor in the division gives
# min(3.7, P/v) == P / max(v, P/3.7) with one maximum and one divide, and no
# division by zero at standstill.
_VTMICRO_POWER_KNEE_MS: Final = VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG / VTMICRO_ACCEL_MAX_MS2


def _hbefa3_scaled(coeffs: tuple[float, ...], divisor: float) -> tuple[float, ...]:
    """Divide HBEFA3 g/h coefficients by ``divisor`` once, at import."""
    return tuple(c / divisor for c in coeffs)


# g/h -> g/s is / 3600 (SUMO's "/ 3.6 -> mg/s" followed by mg -> g).
_HBEFA3_CO2_G_S: Final = _hbefa3_scaled(HBEFA3_PC_G_EU4_CO2_G_PER_H, 3600.0)
# g/h -> L/s is / 3600 / density.
_HBEFA3_FUEL_L_S: Final = _hbefa3_scaled(
    HBEFA3_PC_G_EU4_FUEL_G_PER_H, 3600.0 * HBEFA3_PETROL_DENSITY_G_PER_L
)


def _as_flat_float_arrays(
    speed_ms: ArrayLike, accel_ms2: ArrayLike
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Convert both inputs to float64, broadcast them, and flatten them to 1-D.

    Returns the two 1-D arrays (views where numpy allows, never written to)
    and the broadcast shape to restore at the end.  Working on 1-D data keeps
    0-d inputs as arrays (ufuncs on 0-d arrays return scalars, which cannot
    be used as ``out=``).
    """
    speed = np.asarray(speed_ms, dtype=np.float64)
    accel = np.asarray(accel_ms2, dtype=np.float64)
    if speed.shape != accel.shape:
        speed, accel = np.broadcast_arrays(speed, accel)
    return speed.reshape(-1), accel.reshape(-1), speed.shape


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------
def fuel_rate_l_s(
    speed_ms: ArrayLike, accel_ms2: ArrayLike, *, model: str = "vtmicro"
) -> np.ndarray:
    """Instantaneous fuel consumption rate of a petrol passenger car.

    Parameters
    ----------
    speed_ms : array_like of float, any shape
        Vehicle speed [m/s].
    accel_ms2 : array_like of float, broadcastable with `speed_ms`
        Longitudinal acceleration [m/s^2]; negative while braking.
    model : {"vtmicro", "hbefa3"}, optional, keyword-only
        ``"vtmicro"`` (default): VT-Micro light-duty vehicle fuel model (Ahn et
        al. 2002).  Inputs are clipped to the calibration envelope described in
        the module docstring.
        ``"hbefa3"``: SUMO's HBEFA3 PC_G_EU4 fuel fit.  It is exactly
        proportional to :func:`co2_rate_g_s`.

    Returns
    -------
    numpy.ndarray of float64, shape = broadcast(speed_ms, accel_ms2)
        Fuel rate [L/s], >= 0 (NaN inputs propagate to NaN).

    Raises
    ------
    ValueError
        If `model` is not one of :data:`FUEL_MODELS`.

    Notes
    -----
    Cost for N vehicles: a handful of (N,) and (8, N) float64 ufunc passes and
    one ``exp``, with no Python loop over vehicles.
    """
    if model == "vtmicro":
        speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
        return _vtmicro_fuel_l_s(speed, accel).reshape(shape)
    if model == "hbefa3":
        speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
        return _hbefa3_rate(speed, accel, _HBEFA3_FUEL_L_S).reshape(shape)
    raise ValueError(f"unknown fuel model {model!r}; expected one of {FUEL_MODELS}")


def co2_rate_g_s(speed_ms: ArrayLike, accel_ms2: ArrayLike) -> np.ndarray:
    """Instantaneous tailpipe CO2 emission rate of a petrol passenger car (HBEFA3 PC_G_EU4).

    Parameters
    ----------
    speed_ms : array_like of float, any shape
        Vehicle speed [m/s]; negative values are treated as 0.
    accel_ms2 : array_like of float, broadcastable with `speed_ms`
        Longitudinal acceleration [m/s^2]; negative while braking.

    Returns
    -------
    numpy.ndarray of float64, shape = broadcast(speed_ms, accel_ms2)
        CO2 rate [g/s], >= 0 (NaN inputs propagate to NaN).  At standstill
        (v <= 0.5 m/s) the value is the idle rate 9449/3600 = 2.62 g/s.  While
        moving with a < 0 it is 0 (coasting fuel cut-off, as in SUMO).

    Notes
    -----
    This is a separate model from the default VT-Micro fuel rate, not fuel x
    constant; see the module docstring.
    """
    speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
    return _hbefa3_rate(speed, accel, _HBEFA3_CO2_G_S).reshape(shape)


# --------------------------------------------------------------------------
# Kernels (inputs: 1-D float64 arrays of equal length, treated as read-only)
# --------------------------------------------------------------------------
def _vtmicro_fuel_l_s(speed: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """VT-Micro fuel rate [L/s] for 1-D float64 SI arrays of equal length."""
    # Clip to the calibration envelope (SI).  Each of these creates a fresh
    # contiguous array, so the in-place ops never touch the caller's data.
    v = np.maximum(speed, 0.0)
    np.minimum(v, _VTMICRO_SPEED_MAX_MS, out=v)
    a_ceiling = np.maximum(v, _VTMICRO_POWER_KNEE_MS)
    np.divide(VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG, a_ceiling, out=a_ceiling)
    a = np.maximum(accel, VTMICRO_ACCEL_MIN_MS2)
    np.minimum(a, a_ceiling, out=a)

    # Eight speed polynomials at once, Horner in v: rows 0-3 are the a^0..a^3
    # coefficients from L, rows 4-7 the same from M.  This is one (8, N)
    # temporary, not an (N, 4, 4) coefficient gather.
    p = _VTMICRO_C3 * v
    p += _VTMICRO_C2
    p *= v
    p += _VTMICRO_C1
    p *= v
    p += _VTMICRO_C0
    p = p.reshape(2, 4, -1)  # (matrix L/M, power of a, vehicle)

    # Horner in a for both matrices together, then pick L or M per vehicle.
    # Evaluating both keeps every pass contiguous.  Timed alternatives (10k
    # vehicles): a boolean split/scatter was ~1.5-2x slower; an (N, 4, 4)
    # coefficient gather with einsum was 14-19x slower; a BLAS (8, 4) @ (4, N)
    # matmul was ~1.3x faster at 10k but ~4x slower at 100k vehicles.
    r = p[:, 3] * a
    r += p[:, 2]
    r *= a
    r += p[:, 1]
    r *= a
    r += p[:, 0]
    exponent = np.where(a < 0.0, r[1], r[0])
    return np.exp(exponent, out=exponent)


def _hbefa3_rate(speed: np.ndarray, accel: np.ndarray, coeffs: tuple[float, ...]) -> np.ndarray:
    """SUMO HBEFA3 rate for 1-D float64 SI arrays of equal length, in the units of `coeffs`.

    ``coeffs`` = (c0, cav1, cav2, c1, c2, c3), already divided to the output
    unit.  Horner form of SUMO's polynomial:
    c0 + v * (c1 + a * (cav1 + cav2 * a) + v * (c2 + c3 * v)).
    """
    c0, cav1, cav2, c1, c2, c3 = coeffs
    # Negative speed has no meaning for the fit; treat it as standing.
    v = np.maximum(speed, 0.0)
    inner = accel * cav2
    inner += cav1
    inner *= accel
    inner += c1
    quad = v * c3
    quad += c2
    quad *= v
    inner += quad
    inner *= v
    inner += c0
    np.maximum(inner, 0.0, out=inner)
    # SUMO: a moving vehicle decelerating harder than the coasting threshold
    # has its fuel cut off, so it emits nothing; at standstill it idles.
    coasting = v > HBEFA3_ZERO_SPEED_MS
    coasting &= accel < HBEFA3_COASTING_DECEL_MS2
    np.copyto(inner, 0.0, where=coasting)
    return inner
