"""Instantaneous fuel-consumption and CO2 emission rates for the microsimulator.

The simulator needs a fuel rate and a CO2 rate for every vehicle at every tick (0.5 s).
:func:`fuel_rate_l_s` [L/s], :func:`co2_rate_g_s` [g/s] and :func:`fuel_co2_rates` (both in one
pass, the cheapest way to get the pair) take numpy arrays of speed [m/s] and acceleration
[m/s^2], broadcast the two against each other, and return float64 arrays of the broadcast shape.
``model`` picks one model family; use the same family for fuel and CO2, because families
disagree about what a change in driving costs (a VT-Micro / HBEFA3 mix gave about 1,730 g CO2
per litre).  :data:`MODEL_INFO` names the source of every model and constant.

* ``model="vtmicro"`` (default): VT-Micro light-duty vehicle fuel and CO2 models, Ahn, K.,
  Rakha, H., Trani, A., Van Aerde, M. (2002), "Estimating vehicle fuel consumption and emissions
  based on instantaneous speed and acceleration levels", *Journal of Transportation Engineering*
  128(2):182-190, doi:10.1061/(ASCE)0733-947X(2002)128:2(182); fitted to ORNL dynamometer data.
  ``F [L/s] = exp(sum_{i,j=0..3} K_ij v^i a^j)`` and ``CO2 [mg/s]`` the same with the CO2
  matrices, v in km/h, a in km/h/s, K = L if a >= 0, M if a < 0 (:data:`VTMICRO_L`,
  :data:`VTMICRO_M`, :data:`VTMICRO_CO2_L`, :data:`VTMICRO_CO2_M`; CO2 is returned in g/s).
  Inputs of both surfaces are clipped to the calibration envelope (a model-domain clip, not
  input validation): 0 <= v <= :data:`VTMICRO_SPEED_MAX_KMH` (120 km/h) and
  :data:`VTMICRO_ACCEL_MIN_MS2` (-1.5 m/s^2) <= a <= min(:data:`VTMICRO_ACCEL_MAX_MS2`
  (3.7 m/s^2), :data:`VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG` (60 W/kg) / v); the power ceiling is
  a greenwave choice, not part of the published model.
* ``model="hbefa3"``: HBEFA3 PC_G_EU4 (petrol passenger car, Euro 4) as fitted in Eclipse SUMO,
  Krajzewicz, D., Behrisch, M., Wagner, P., Luz, R., Krumnow, M. (2015), "Second generation of
  pollutant emission models for SUMO", in *Modeling Mobility with Open Data*, Lecture Notes in
  Mobility, Springer, pp. 203-221.  Coefficients from eclipse-sumo/sumo
  ``src/utils/emissions/HelpersHBEFA3.cpp`` (:data:`HBEFA3_PC_G_EU4_CO2_G_PER_H`,
  :data:`HBEFA3_PC_G_EU4_FUEL_G_PER_H`), formula from ``HelpersHBEFA3.h``:
  ``E [mg/s] = max((c0 + cav1 a v + cav2 a^2 v + c1 v + c2 v^2 + c3 v^3) / 3.6, 0)``, v in m/s,
  a in m/s^2.  As in SUMO: the idle value at v <= 0.5 m/s, zero while moving and decelerating
  harder than the car coasts (fuel cut-off, :func:`hbefa3_coasting_decel_ms2`), fuel volume =
  fuel mass / 742 g/L.
* :data:`CO2_G_PER_L_PETROL` = 2350 g/L (US EPA, EPA-420-F-11-041, 2011) only checks the pairs.

Derivations and history: docs/fuel_models.md (where the coefficients were read and how they were
cross-checked, the CO2 unit, the calibration envelope, plausibility tables and drive cycles).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CO2_G_PER_L_PETROL",
    "CO2_MODELS",
    "FUEL_MODELS",
    "HBEFA3_COAST_DECEL_COEFFS",
    "HBEFA3_COAST_MIN_SPEED_MS",
    "HBEFA3_PC_G_EU4_CO2_G_PER_H",
    "HBEFA3_PC_G_EU4_FUEL_G_PER_H",
    "HBEFA3_PETROL_DENSITY_G_PER_L",
    "HBEFA3_ZERO_SPEED_MS",
    "MODEL_INFO",
    "VTMICRO_ACCEL_MAX_MS2",
    "VTMICRO_ACCEL_MIN_MS2",
    "VTMICRO_CO2_L",
    "VTMICRO_CO2_M",
    "VTMICRO_L",
    "VTMICRO_M",
    "VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG",
    "VTMICRO_SPEED_MAX_KMH",
    "co2_rate_g_s",
    "fuel_co2_rates",
    "fuel_rate_l_s",
    "hbefa3_coasting_decel_ms2",
]

_KMH_PER_MS: Final = 3.6
"""km/h per m/s; the same factor converts m/s^2 to km/h/s."""

# --------------------------------------------------------------------------
# VT-Micro light-duty vehicle models.
# Rows: power of speed (v^0..v^3, v in km/h); columns: power of acceleration
# (a^0..a^3, a in km/h/s).  Values as in the reproduced copies named in the docstrings below
# (cross-checks: docs/fuel_models.md).
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
"""VT-Micro fuel coefficients L_ij for a >= 0, shape (4, 4); ln(L/s), km/h and km/h/s.

Ahn et al. (2002), the widely reproduced composite light-duty vehicle set, read from a MATLAB
``VT_Micro`` function and agreeing digit for digit with an independent Python copy
(``fuel_calculate.py``, which rounds L_03 to 9.77e-5); idle exp(L_00) = 1.575 L/h.
"""

VTMICRO_M: Final[np.ndarray] = np.array(
    [
        [-7.73452, -0.01799, -0.00427, 0.00018829],
        [0.02804, 0.00772, 0.00083744, -3.387e-05],
        [-0.00021988, -5.219e-05, -7.44e-06, 2.77e-07],
        [1.08e-06, 2.47e-07, 4.87e-08, 3.79e-10],
    ],
    dtype=np.float64,
)
"""VT-Micro fuel coefficients M_ij for a < 0, shape (4, 4); ln(L/s), km/h and km/h/s.

Same sources as :data:`VTMICRO_L`, plus three C++ eco-driving copies of this matrix (one credits
Alsabaan, Naik, Khalifa & Nayak (2012), InTech).
"""

VTMICRO_CO2_L: Final[np.ndarray] = np.array(
    [
        [6.914935279, 0.2173, 0.00023538, -0.00036388],
        [0.02754, 0.00968, -0.00175, 8.35e-05],
        [-0.00020699, -0.00010138, 1.966e-05, -1.02e-06],
        [9.80e-07, 3.66e-07, -1.08e-07, 8.50e-09],
    ],
    dtype=np.float64,
)
"""VT-Micro CO2 coefficients L_ij for a >= 0, shape (4, 4); ln(mg/s), km/h and km/h/s.

Ahn et al. (2002), read from the MATLAB ``VT_Micro`` function (five significant digits, mg/s);
cross-checked against a TypeScript green-wave demo (three significant figures) and
hamzah-07/UXsim-Emissions-Extension ``data/emission_factors/vt_micro_co2_coefficients.csv``
(whose three flipped signs were not adopted).  The constant is 0.00718 + ln(1000).
"""

VTMICRO_CO2_M: Final[np.ndarray] = np.array(
    [
        [6.914935279, -0.03203, -0.00917, -0.0002886],
        [0.02843, 0.00853, 0.00115, -3.06e-06],
        [-0.00022659, -6.594e-05, -1.289e-05, -2.68e-07],
        [1.11e-06, 3.20e-07, 7.56e-08, 2.95e-09],
    ],
    dtype=np.float64,
)
"""VT-Micro CO2 coefficients M_ij for a < 0, shape (4, 4); ln(mg/s), km/h and km/h/s.

Same sources as :data:`VTMICRO_CO2_L`.
"""

# Published tables must not be mutated by callers.
for _table in (VTMICRO_L, VTMICRO_M, VTMICRO_CO2_L, VTMICRO_CO2_M):
    _table.setflags(write=False)
del _table

VTMICRO_SPEED_MAX_KMH: Final = 120.0
"""Upper end of the ORNL speed range the model was fitted on [km/h]."""

VTMICRO_ACCEL_MIN_MS2: Final = -1.5
"""Strongest deceleration in the ORNL data [m/s^2]; harder braking is clipped to it."""

VTMICRO_ACCEL_MAX_MS2: Final = 3.7
"""Strongest (low-speed) acceleration in the ORNL data [m/s^2]."""

VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG: Final = 60.0
"""greenwave's speed-dependent acceleration ceiling a*v <= this [W/kg = m^2/s^3].

Not part of the published model: it stands in for the falling high-speed edge
of the ORNL envelope and keeps the fitted surfaces monotone in acceleration.
"""

# --------------------------------------------------------------------------
# HBEFA3 PC_G_EU4 (SUMO HelpersHBEFA3.cpp), order (c0, cav1, cav2, c1, c2, c3),
# bracket in g/h with v in m/s and a in m/s^2.
# --------------------------------------------------------------------------
HBEFA3_PC_G_EU4_CO2_G_PER_H: Final = (9449.0, 938.4, 0.0, -467.1, 28.26, 0.0)
"""SUMO HBEFA3 PC_G_EU4 "CO2(total)" coefficients (c0, cav1, cav2, c1, c2, c3).

Krajzewicz et al. (2015); eclipse-sumo/sumo ``src/utils/emissions/HelpersHBEFA3.cpp``, array
``myFunctionParameter``, entry ``// PC_G_EU4`` (same in the 2019 and 2023 versions).
"""

HBEFA3_PC_G_EU4_FUEL_G_PER_H: Final = (3014.0, 299.3, 0.0, -149.0, 9.014, 0.0)
"""SUMO HBEFA3 PC_G_EU4 "mKr" (fuel mass) coefficients (c0, cav1, cav2, c1, c2, c3).

Same source as :data:`HBEFA3_PC_G_EU4_CO2_G_PER_H`, whose row is 3.135 x this one.
"""

HBEFA3_PETROL_DENSITY_G_PER_L: Final = 742.0
"""Petrol density SUMO uses to turn HBEFA3 fuel mass into volume [g/L]."""

HBEFA3_ZERO_SPEED_MS: Final = 0.5
"""SUMO ``ZERO_SPEED_ACCURACY``: at or below this speed a vehicle counts as standing [m/s]."""

HBEFA3_COAST_DECEL_COEFFS: Final = (0.1079, 0.01298)
"""Coasting deceleration ``c0 + c1 v`` [m/s^2] of SUMO's HBEFA3 PC_G_EU4 car at v >= 10 km/h:
decelerating harder than this, a moving car coasts with its fuel cut off.  SUMO computes it from
the car's driving resistances (``PollutantsInterface::Helper::getCoastingDecel``; SUMO docs
"Models/Emissions", *Coasting vehicles*); read off SUMO 1.28's ``emissionsMap`` for
HBEFA3/PC_G_EU4 on a 0.2 m/s × 0.001 m/s² grid over 2.8–30 m/s (linear fit, largest residual
0.0005 m/s²).  Below 10 km/h it shrinks linearly to 0 at standstill, as SUMO scales it."""

HBEFA3_COAST_MIN_SPEED_MS: Final = 10.0 / 3.6
"""Below this speed SUMO scales the coasting deceleration down in proportion to the speed."""

CO2_G_PER_L_PETROL: Final = 2350.0
"""Tailpipe CO2 per litre of petrol burnt [g/L] (EPA-420-F-11-041); for checks only."""

FUEL_MODELS: Final = ("vtmicro", "hbefa3")
"""Accepted values of ``model`` in :func:`fuel_rate_l_s`; the first is the default."""

CO2_MODELS: Final = ("vtmicro", "hbefa3")
"""Accepted values of ``model`` in :func:`co2_rate_g_s`; the first is the default."""

_AHN_2002: Final = (
    "Ahn, Rakha, Trani, Van Aerde (2002), Estimating vehicle fuel consumption and "
    "emissions based on instantaneous speed and acceleration levels, "
    "J. Transp. Eng. 128(2):182-190"
)
_KRAJZEWICZ_2015: Final = (
    "Krajzewicz, Behrisch, Wagner, Luz, Krumnow (2015), Second generation of pollutant "
    "emission models for SUMO, in Modeling Mobility with Open Data, Springer, 203-221"
)
_VTMICRO_DOMAIN: Final = (
    "0-120 km/h; -1.5 m/s^2 <= a <= min(3.7 m/s^2, 60 W/kg / v); inputs clipped "
    "(same clip for fuel and CO2)"
)
_HBEFA3_DOMAIN: Final = (
    "v >= 0; zero while moving and decelerating harder than coasting (fuel cut-off), idle "
    "value at standstill"
)

MODEL_INFO: Final[dict[str, dict[str, str]]] = {
    "default_pair": {
        "name": "VT-Micro fuel + VT-Micro CO2 (default of fuel_rate_l_s, co2_rate_g_s, "
        "fuel_co2_rates)",
        "reference": _AHN_2002,
        "coefficients": (
            "one model family for both rates, so that driving changes move fuel and CO2 "
            "consistently; CO2/fuel 2,297-2,321 g/L at steady 0-70 km/h and 2,190-2,330 g/L "
            "over whole drive cycles (carbon balance 2,350 g/L). Mixing VT-Micro fuel with "
            "HBEFA3 CO2 gave about 1,730 g/L on an urban arterial"
        ),
        "units": "fuel L/s, CO2 g/s",
        "domain": _VTMICRO_DOMAIN,
    },
    "fuel_vtmicro": {
        "name": "VT-Micro light-duty vehicle fuel model (default fuel model)",
        "reference": _AHN_2002,
        "coefficients": (
            "widely reproduced VT-Micro fuel set (L for a>=0, M for a<0), read from "
            "independent open-source copies (MATLAB VT_Micro, Python fuel_calculate.py, "
            "C++ eco-driving code) that agree digit for digit"
        ),
        "units": "L/s; model evaluated in km/h and km/h/s",
        "domain": _VTMICRO_DOMAIN,
    },
    "co2_vtmicro": {
        "name": "VT-Micro light-duty vehicle CO2 model (default CO2 model)",
        "reference": _AHN_2002,
        "coefficients": (
            "VT-Micro CO2 set (L for a>=0, M for a<0) as in the MATLAB VT_Micro function "
            "(5 significant digits, mg/s); cross-checked against a TypeScript green-wave "
            "demo (3 s.f., all signs and 31 of 32 values agree; L_00 printed 6.916 vs "
            "6.914935279, 0.11 % in rate) and hamzah-07/UXsim-Emissions-Extension "
            "data/emission_factors/vt_micro_co2_coefficients.csv (magnitudes agree; three "
            "sign flips there, not adopted)"
        ),
        "units": "g/s (model output mg/s / 1000); model evaluated in km/h and km/h/s",
        "domain": _VTMICRO_DOMAIN,
    },
    "fuel_hbefa3": {
        "name": "HBEFA3 PC_G_EU4 (petrol passenger car, Euro 4), fuel, as fitted in SUMO",
        "reference": _KRAJZEWICZ_2015,
        "coefficients": "eclipse-sumo/sumo src/utils/emissions/HelpersHBEFA3.cpp, PC_G_EU4, mKr",
        "units": "L/s (fuel mass / 742 g/L, as SUMO); model evaluated in m/s and m/s^2",
        "domain": _HBEFA3_DOMAIN,
    },
    "co2_hbefa3": {
        "name": "HBEFA3 PC_G_EU4 (petrol passenger car, Euro 4), CO2, as fitted in SUMO",
        "reference": _KRAJZEWICZ_2015,
        "coefficients": (
            "eclipse-sumo/sumo src/utils/emissions/HelpersHBEFA3.cpp, PC_G_EU4, CO2(total)"
        ),
        "units": "g/s; model evaluated in m/s and m/s^2",
        "domain": _HBEFA3_DOMAIN,
    },
    "co2_per_litre_cross_check": {
        "name": "tailpipe CO2 per litre of petrol (carbon balance; checks only)",
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
_LN_MG_PER_G: Final = math.log(1000.0)


def _vtmicro_si_columns(*surfaces: tuple[np.ndarray, np.ndarray, float]) -> tuple[np.ndarray, ...]:
    """Rescale VT-Micro matrix pairs to SI inputs and stack them for Horner.

    Each surface is ``(L, M, log_offset)``; ``log_offset`` is added to the
    constant term, which scales the rate by ``exp(log_offset)`` (used to turn
    the CO2 model's mg/s into g/s).  K_ij v_kmh^i a_kmhs^j = (K_ij 3.6^(i+j))
    v_ms^i a_ms2^j, so rescaling the coefficients once at import saves two
    array multiplies per call.

    The result is four arrays ``C[i]`` of shape (8 S, 1) for S surfaces: entry
    ``8 s + 4 m + j`` is the coefficient of v^i a^j of surface ``s`` in matrix
    ``m`` (0 = L, 1 = M).  ``sum_i C[i] * v**i`` then evaluates all 8 S speed
    polynomials in one pass of (8 S, N) ufuncs.
    """
    powers = np.arange(4)
    scale = _KMH_PER_MS ** (powers[:, None] + powers[None, :])  # 3.6^(i+j), shape (4, 4)
    blocks = []
    for l_mat, m_mat, log_offset in surfaces:
        for k in (l_mat, m_mat):
            k_si = k * scale
            k_si[0, 0] += log_offset
            blocks.append(k_si)
    stacked = np.concatenate(blocks, axis=1)  # (4, 8 S)
    return tuple(np.ascontiguousarray(stacked[i][:, None]) for i in range(4))


_FUEL_SURFACE: Final = (VTMICRO_L, VTMICRO_M, 0.0)
_CO2_SURFACE: Final = (VTMICRO_CO2_L, VTMICRO_CO2_M, -_LN_MG_PER_G)  # mg/s -> g/s
_VTMICRO_FUEL_COLUMNS: Final = _vtmicro_si_columns(_FUEL_SURFACE)
_VTMICRO_CO2_COLUMNS: Final = _vtmicro_si_columns(_CO2_SURFACE)
_VTMICRO_PAIR_COLUMNS: Final = _vtmicro_si_columns(_FUEL_SURFACE, _CO2_SURFACE)

_VTMICRO_BLOCK_VALUES: Final = 1 << 18
"""Values per (8 S, block) Horner temporary (2 MiB of float64) before splitting into blocks."""

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


def _check_model(model: str, accepted: tuple[str, ...], what: str) -> None:
    if model not in accepted:
        raise ValueError(f"unknown {what} model {model!r}; expected one of {accepted}")


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
        al. 2002).  Inputs are clipped to the calibration envelope given in
        the module docstring (derivation: docs/fuel_models.md).
        ``"hbefa3"``: SUMO's HBEFA3 PC_G_EU4 fuel fit.  It is exactly
        proportional to ``co2_rate_g_s(..., model="hbefa3")``.

    Returns
    -------
    numpy.ndarray of float64, shape = broadcast(speed_ms, accel_ms2)
        Fuel rate [L/s], >= 0 (NaN inputs propagate to NaN).

    Raises
    ------
    ValueError
        If `model` is not one of :data:`FUEL_MODELS`.

    See Also
    --------
    fuel_co2_rates : fuel and CO2 of the same model family in one pass.
    """
    _check_model(model, FUEL_MODELS, "fuel")
    speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
    if model == "vtmicro":
        return _vtmicro_rates(speed, accel, _VTMICRO_FUEL_COLUMNS)[0].reshape(shape)
    return _hbefa3_rate(speed, accel, _HBEFA3_FUEL_L_S).reshape(shape)


def co2_rate_g_s(
    speed_ms: ArrayLike, accel_ms2: ArrayLike, *, model: str = "vtmicro"
) -> np.ndarray:
    """Instantaneous tailpipe CO2 emission rate of a petrol passenger car.

    Parameters
    ----------
    speed_ms : array_like of float, any shape
        Vehicle speed [m/s].
    accel_ms2 : array_like of float, broadcastable with `speed_ms`
        Longitudinal acceleration [m/s^2]; negative while braking.
    model : {"vtmicro", "hbefa3"}, optional, keyword-only
        ``"vtmicro"`` (default): VT-Micro light-duty vehicle CO2 model (Ahn et
        al. 2002), the same family as the default fuel model, with inputs
        clipped to the same calibration envelope.  Idle is 1.007 g/s; while
        braking the rate stays near idle, like VT-Micro fuel.
        ``"hbefa3"``: SUMO's HBEFA3 PC_G_EU4 CO2 fit.  At standstill
        (v <= 0.5 m/s) it is the idle rate 9449/3600 = 2.62 g/s; while moving
        and decelerating harder than the car coasts it is 0 (fuel cut-off, as
        in SUMO: :func:`hbefa3_coasting_decel_ms2`).

    Returns
    -------
    numpy.ndarray of float64, shape = broadcast(speed_ms, accel_ms2)
        CO2 rate [g/s], >= 0 (NaN inputs propagate to NaN).

    Raises
    ------
    ValueError
        If `model` is not one of :data:`CO2_MODELS`.

    Notes
    -----
    The VT-Micro CO2 rate is its own fitted surface, not fuel x constant.  Use
    the same `model` for fuel and CO2: docs/fuel_models.md explains why a
    VT-Micro / HBEFA3 mix gives an inconsistent CO2/fuel ratio.

    See Also
    --------
    fuel_co2_rates : fuel and CO2 of the same model family in one pass.
    """
    _check_model(model, CO2_MODELS, "CO2")
    speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
    if model == "vtmicro":
        return _vtmicro_rates(speed, accel, _VTMICRO_CO2_COLUMNS)[0].reshape(shape)
    return _hbefa3_rate(speed, accel, _HBEFA3_CO2_G_S).reshape(shape)


def fuel_co2_rates(
    speed_ms: ArrayLike, accel_ms2: ArrayLike, *, model: str = "vtmicro"
) -> tuple[np.ndarray, np.ndarray]:
    """Fuel [L/s] and CO2 [g/s] rates of one model family, computed together.

    Equal to ``(fuel_rate_l_s(v, a, model=model), co2_rate_g_s(v, a,
    model=model))`` but cheaper: the inputs are converted, broadcast and
    clipped once, and for VT-Micro the four surfaces (fuel L/M, CO2 L/M) are
    evaluated in one stacked Horner pass over the same v and a arrays.  This
    is the function the simulator's per-tick loop should call.

    Parameters
    ----------
    speed_ms : array_like of float, any shape
        Vehicle speed [m/s].
    accel_ms2 : array_like of float, broadcastable with `speed_ms`
        Longitudinal acceleration [m/s^2]; negative while braking.
    model : {"vtmicro", "hbefa3"}, optional, keyword-only
        Model family for both rates; ``"vtmicro"`` is the default pair.

    Returns
    -------
    (fuel_l_s, co2_g_s) : tuple of numpy.ndarray of float64
        Both of shape broadcast(speed_ms, accel_ms2), >= 0 (NaN inputs
        propagate to NaN).

    Raises
    ------
    ValueError
        If `model` is not one of :data:`FUEL_MODELS`.
    """
    _check_model(model, FUEL_MODELS, "fuel/CO2")
    speed, accel, shape = _as_flat_float_arrays(speed_ms, accel_ms2)
    if model == "vtmicro":
        both = _vtmicro_rates(speed, accel, _VTMICRO_PAIR_COLUMNS)
        return both[0].reshape(shape), both[1].reshape(shape)
    return (
        _hbefa3_rate(speed, accel, _HBEFA3_FUEL_L_S).reshape(shape),
        _hbefa3_rate(speed, accel, _HBEFA3_CO2_G_S).reshape(shape),
    )


# --------------------------------------------------------------------------
# Kernels (inputs: 1-D float64 arrays of equal length, treated as read-only)
# --------------------------------------------------------------------------
def _vtmicro_clip(speed: np.ndarray, accel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip SI speed and acceleration to the VT-Micro calibration envelope.

    The single clipping rule for every VT-Micro surface (fuel and CO2); see the
    module docstring.  Returns fresh contiguous arrays, so callers may work in
    place on them without touching the caller's data.
    """
    v = np.maximum(speed, 0.0)
    np.minimum(v, _VTMICRO_SPEED_MAX_MS, out=v)
    a_ceiling = np.maximum(v, _VTMICRO_POWER_KNEE_MS)
    np.divide(VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG, a_ceiling, out=a_ceiling)
    a = np.maximum(accel, VTMICRO_ACCEL_MIN_MS2)
    np.minimum(a, a_ceiling, out=a)
    return v, a


def _vtmicro_rates(
    speed: np.ndarray, accel: np.ndarray, columns: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Rates of the S VT-Micro surfaces stacked in `columns`, shape (S, N).

    Row ``s`` is exp(P_s(v, a)) with P_s the L polynomial where the clipped
    a >= 0 and the M polynomial where a < 0.  Each row is contiguous.
    """
    v, a = _vtmicro_clip(speed, accel)
    n_rows = columns[0].shape[0]  # 8 S
    # Large fleets are evaluated in blocks so that the (8 S, block) Horner
    # temporaries stay in cache: at 100k vehicles this makes the fuel + CO2
    # pair ~25 % faster.  Up to 16,384 vehicles (pair) or 32,768 (one
    # surface) it is a single block with no copy.
    block = max(1, _VTMICRO_BLOCK_VALUES // n_rows)
    if v.size <= block:
        return _vtmicro_block(v, a, columns)
    out = np.empty((n_rows // 8, v.size))
    for start in range(0, v.size, block):
        stop = start + block
        out[:, start:stop] = _vtmicro_block(v[start:stop], a[start:stop], columns)
    return out


def _vtmicro_block(v: np.ndarray, a: np.ndarray, columns: tuple[np.ndarray, ...]) -> np.ndarray:
    """Rates (S, n) of one block of clipped vehicles; each row contiguous."""
    c0, c1, c2, c3 = columns
    # All 8 S speed polynomials at once, Horner in v.  This is one (8 S, n)
    # temporary, not an (n, 4, 4) coefficient gather.
    p = c3 * v
    p += c2
    p *= v
    p += c1
    p *= v
    p += c0
    p = p.reshape(c0.shape[0] // 8, 2, 4, -1)  # (surface, matrix L/M, power of a, vehicle)

    # Horner in a for every surface and both matrices, then pick L or M per
    # vehicle.  Evaluating both keeps every pass contiguous.  Timed
    # alternatives (10k vehicles): a boolean split/scatter was no faster (and
    # 1.5-2x slower for fuel alone); an (n, 4, 4) coefficient gather with
    # einsum was 14-19x slower; a BLAS matmul over an explicit (16, n) basis of
    # v^i a^j was ~1.6x faster at 10k but 2x slower and erratic from 30k
    # vehicles on (BLAS threading), so it is not used.
    r = p[:, :, 3] * a
    r += p[:, :, 2]
    r *= a
    r += p[:, :, 1]
    r *= a
    r += p[:, :, 0]
    out = np.where(a < 0.0, r[:, 1], r[:, 0])  # fresh; 2x faster than copyto(where=)
    return np.exp(out, out=out)


def hbefa3_coasting_decel_ms2(speed_ms: np.ndarray) -> np.ndarray:
    """Deceleration (positive, m/s^2) beyond which SUMO's HBEFA3 car coasts with its fuel cut
    off, at speeds ``speed_ms`` (any shape): :data:`HBEFA3_COAST_DECEL_COEFFS`, scaled by
    ``v / (10 km/h)`` below 10 km/h."""
    v = np.asarray(speed_ms, dtype=float)
    c0, c1 = HBEFA3_COAST_DECEL_COEFFS
    vm = HBEFA3_COAST_MIN_SPEED_MS
    return np.where(v >= vm, c0 + c1 * v, (c0 + c1 * vm) * np.maximum(v, 0.0) / vm)


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
    coasting &= accel < -hbefa3_coasting_decel_ms2(v)
    np.copyto(inner, 0.0, where=coasting)
    return inner
