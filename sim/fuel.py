"""Instantaneous fuel-consumption and CO2 emission rates for the microsimulator.

The simulator needs a fuel rate and a CO2 rate for every vehicle at every tick
(0.5 s).  All public functions take numpy arrays of speed and acceleration in
SI units, broadcast the two against each other, and return float64 arrays of
the broadcast shape.  :func:`fuel_co2_rates` returns both rates from one pass
and is the cheapest way to get the pair.

Default pair: VT-Micro fuel + VT-Micro CO2
------------------------------------------
Fuel and CO2 both come from VT-Micro by default (``model="vtmicro"``), fitted by
the same authors to the same dynamometer data and evaluated on the same
clipped (speed, acceleration) domain.  The two must come from one model family
because a speed advisory changes *how* a car drives, and different families
disagree about how that costs.  An earlier version of this module paired
VT-Micro fuel with HBEFA3 CO2.  HBEFA3 (as fitted in SUMO) cuts fuel to zero
whenever a moving car decelerates, while VT-Micro keeps burning about the idle
rate, so the mixed pair implied only about 1,730 g CO2 per litre on an urban
arterial (carbon balance for petrol: about 2,350 g/L).  It also showed an
advisory run as CO2 -14 % but fuel +0.6 %.  That gap was an artefact of mixing
families, not a property of the driving.  With the VT-Micro pair the
CO2/fuel ratio stays at 2,190-2,330 g/L over whole drive cycles (table below),
so fuel and CO2 move together.

The alternative family is ``model="hbefa3"`` (SUMO's HBEFA3 PC_G_EU4) for both
fuel and CO2.  That pair is consistent too: its CO2 row is 3.135 x its
fuel-mass row, about 2,326 g/L.  Mixing a VT-Micro rate with an HBEFA3 rate is
possible through the ``model`` arguments but is not recommended, for the
reason above.

VT-Micro (default, ``model="vtmicro"``)
---------------------------------------
Ahn, K., Rakha, H., Trani, A., Van Aerde, M. (2002). "Estimating vehicle fuel
consumption and emissions based on instantaneous speed and acceleration
levels." *Journal of Transportation Engineering* 128(2):182-190,
doi:10.1061/(ASCE)0733-947X(2002)128:2(182).  The model was fitted to Oak
Ridge National Laboratory (ORNL) dynamometer data for 5 light-duty vehicles
and 3 light-duty trucks, separately for fuel and for each emission (CO2, HC,
CO, NOx).  The coefficients used here are the widely reproduced VT-Micro fuel
and CO2 sets, attributed to the paper's composite light-duty vehicle.  The
paper itself could not be opened while this module was written, so its table
numbers are not given, and the copies below do not name the vehicle.

    F   [L/s]  = exp( sum_{i=0..3} sum_{j=0..3} K_ij * v^i * a^j )
    CO2 [mg/s] = exp( same double sum with the CO2 matrices )
    v in km/h, a in km/h/s,  K = L if a >= 0,  K = M if a < 0.

This module returns CO2 in g/s (the mg/s value / 1000).  Row ``i`` of each
matrix holds the coefficients of ``v**i``; column ``j`` those of ``a**j``.

Where the fuel coefficients were read, and how they were cross-checked (values
agree digit for digit unless noted):

* a MATLAB ``VT_Micro(speed, acc, dec)`` function holding full L and M
  matrices for fuel, CO2, HC, CO and NOx (two stored versions in the public
  code index, one with all five species and one with fuel and CO2 only; the
  fuel and CO2 matrices are identical in both);
* an independent Python eco-driving module ``fuel_calculate.py``
  (``vt_micro_fuel``) that writes out both the L and the M fuel polynomials as
  literals.  It agrees with the MATLAB copy on all 32 coefficients; it only
  rounds L_03 to 9.77e-5 where the MATLAB copy has 9.773e-5 (kept here);
* three C++ eco-driving / trajectory-optimisation files holding the M
  (deceleration) matrix only.  One of them credits Alsabaan, Naik, Khalifa &
  Nayak (2012), *Applying vehicular networks for reduced vehicle fuel
  consumption and CO2 emissions*, InTech, for the values.

Check against the secondary note "idle = exp(-7.73452) ~ 4.4e-4 L/s": the idle
rate here is exp(L_00) = 4.3746e-4 L/s = 1.575 L/h.

Where the CO2 coefficients were read, and how they were cross-checked:

* the same MATLAB ``VT_Micro`` function (both stored versions), five
  significant digits, output commented as mg/s.  These values are used here;
* a TypeScript green-wave demo (``CO2_POS`` / ``CO2_NEG``, "CO2 in mg/s",
  divided by 1000 for g/s) that prints all 32 coefficients to three
  significant figures.  All 32 signs agree with the MATLAB copy, and 31 values
  agree after rounding.  The exception is the constant of the L matrix, printed
  6.916 against 6.914935279 (the M constant is printed 6.915, which agrees);
* ``data/emission_factors/vt_micro_co2_coefficients.csv`` of the public
  repository hamzah-07/UXsim-Emissions-Extension (four significant figures,
  said there to match the table reproduced in Mao, Li & Zhang (2021),
  *Sustainability* 13(9):5170).  Its magnitudes agree with the MATLAB copy;
  M_03 and M_20 look truncated rather than rounded (-2.88e-4 for -2.886e-4,
  -2.26e-4 for -2.2659e-4), and its constants are 6.916 / 6.915 as in the
  TypeScript copy.  It flips three signs (L_10, L_11, M_02).  With a negative
  L_10 the CO2 rate at a steady 50 km/h is six times lower than at idle
  (12 g/km), which is not physical; that repository's own note reports 57 g/km
  on a town-centre network.  Its signs were therefore not adopted.

On the constant: the MATLAB constants of all four species equal a five-decimal
number plus ln(1000) = 6.907755279 (CO2: 0.00718 + ln 1000; HC -7.81683, CO
-6.37164, NOx -7.98804, each + ln 1000).  That is what a g/s fit converted to
mg/s looks like, and it supports mg/s as the unit.  The 6.916 of the rounded
copies differs by 0.0011 in the exponent, i.e. 0.11 % in the CO2 rate, which
does not matter here.

Units, checked for plausibility against the fuel model and the carbon balance
(:data:`CO2_G_PER_L_PETROL`): read as mg/s, idle is exp(6.9149) = 1,007 mg/s =
1.007 g/s = 3.6 kg/h against 1.57 L/h of fuel, i.e. 2,302 g CO2 per litre.  Read
as g/s, idle would be 1 kg of CO2 per second (2.3 million g/L).  The fitted CO2
surface is therefore in mg/s, and with fuel it gives 2,297-2,321 g/L at steady
speeds up to 70 km/h.

Calibration envelope (a documented model-domain clip, not input validation).
ORNL measured the vehicles from standstill up to about 120 km/h, and from
about -1.5 m/s^2 (hard braking was not mapped) up to each vehicle's maximum
acceleration (about 3.7 m/s^2 at low speed, falling with speed).  These
envelope figures are as commonly quoted for VT-Micro; they were not
re-checked against the paper.  The cubic surfaces misbehave outside the
envelope.  At 50 km/h and -4 m/s^2 the M fuel surface gives 0.044 L/s (100 x
idle).  Above about 100 km/h the L fuel surface falls as ``a`` grows (at
120 km/h, 3.7 m/s^2 costs less than cruising), and the L CO2 surface shoots up
instead (at 110 km/h and 3 m/s^2 it implies 26,000 g CO2 per litre of fuel).
Fuel and CO2 inputs are therefore clipped, by the same helper, to:

* speed: 0 <= v <= :data:`VTMICRO_SPEED_MAX_KMH` (120 km/h);
* deceleration: a >= :data:`VTMICRO_ACCEL_MIN_MS2` (-1.5 m/s^2).  Harder
  braking is charged the rate at -1.5 m/s^2.  That rate is near the minimum of
  the M surfaces (which lies at about -1.2 m/s^2) and, up to 70 km/h, within
  1.6 x idle for both fuel and CO2, which matches a closed throttle;
* acceleration: a <= min(:data:`VTMICRO_ACCEL_MAX_MS2`,
  :data:`VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG` / v).  The second term is a
  **greenwave choice** that stands in for the speed-dependent ceiling of the
  ORNL envelope: a constant specific inertial power a*v <= 60 W/kg (it binds
  above 58 km/h; 2.2 m/s^2 at 100 km/h, 1.8 m/s^2 at 120 km/h).  60 W/kg is a
  plausible peak for the 1990s test fleet.  It also keeps both fitted surfaces
  non-decreasing in ``a`` over the whole clipped domain: the L fuel surface
  turns over at 2.8 / 2.3 / 2.05 / 1.9 m/s^2 at 105 / 110 / 115 / 120 km/h.

Inside the clipped domain the instantaneous CO2/fuel ratio of the VT-Micro
pair is not constant, because the two surfaces were fitted separately.  It
ranges from about 1,370 g/L (120 km/h, 1.4 m/s^2) to about 2,500 g/L (16 km/h,
3.7 m/s^2).  With |a| <= 0.5 m/s^2 it is 2,280-2,360 g/L up to 70 km/h
(2,040-2,360 g/L up to 120 km/h).  What matters for a run is the ratio of the
integrals over a drive cycle, which stays within 2,190-2,330 g/L (table
below).

Alternative: HBEFA3 PC_G_EU4, as fitted in Eclipse SUMO (``model="hbefa3"``)
---------------------------------------------------------------------------
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
term, so HBEFA3 fuel and HBEFA3 CO2 are exactly proportional (2,326 g CO2 per
litre, about 1 % below the EPA value in the next section).

Carbon-balance constant
-----------------------
:data:`CO2_G_PER_L_PETROL` = 2350 g/L comes from US EPA, "Greenhouse Gas
Emissions from a Typical Passenger Vehicle", EPA-420-F-11-041 (2011):
8,887 g CO2 per US gallon of gasoline / 3.785 L = 2,348 g/L, rounded.  It is
used only to check the model pairs; no rate is computed from it.

Plausibility
------------
Steady speed (a = 0), as computed by this module.  "Ratio" is VT-Micro CO2 /
VT-Micro fuel, the default pair:

========  ============  ===========  ==========  ============  ===========
speed     VT-Micro      VT-Micro     ratio       HBEFA3 fuel   HBEFA3 CO2
          fuel          CO2          (g/L)
========  ============  ===========  ==========  ============  ===========
idle      1.57 L/h      3.63 kg/h    2,302       4.06 L/h      9.45 kg/h
30 km/h   10.2 L/100km  235 g/km     2,297       10.8 L/100km  251 g/km
50 km/h   8.4 L/100km   194 g/km     2,310       7.2 L/100km   168 g/km
70 km/h   7.8 L/100km   181 g/km     2,321       6.8 L/100km   158 g/km
========  ============  ===========  ==========  ============  ===========

Drive cycles, ratio of the integrals (integral CO2 dt) / (integral fuel dt) for
the default pair, integrated at 0.1 s (the test suite checks 2,100-2,600 g/L):

* steady 50 km/h: 2,310 g/L;
* accelerating 0 -> 50 km/h at 1.5 m/s^2: 2,190 g/L;
* decelerating 50 -> 0 km/h at 2 m/s^2 (charged at -1.5 m/s^2): 2,328 g/L;
* stop-and-go, 4 x (10 s idle, 0 -> 50 km/h at 1.5 m/s^2, 10 s at 50 km/h,
  50 -> 0 km/h at 2 m/s^2): 2,238 g/L.

Same-distance comparison of braking to a stop (2 m/s^2, 20 s wait, 1.5 m/s^2
back to 50 km/h) with an advised slow-down to 25 km/h: the default pair gives
fuel -25.3 % and CO2 -24.1 %; VT-Micro fuel with HBEFA3 CO2 gives fuel -25.3 %
and CO2 -45.3 %.
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
    "HBEFA3_COASTING_DECEL_MS2",
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
]

_KMH_PER_MS: Final = 3.6
"""km/h per m/s; the same factor converts m/s^2 to km/h/s."""

# --------------------------------------------------------------------------
# VT-Micro light-duty vehicle models.
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
"""VT-Micro fuel coefficients L_ij for a >= 0, shape (4, 4); ln(L/s), km/h and km/h/s."""

VTMICRO_M: Final[np.ndarray] = np.array(
    [
        [-7.73452, -0.01799, -0.00427, 0.00018829],
        [0.02804, 0.00772, 0.00083744, -3.387e-05],
        [-0.00021988, -5.219e-05, -7.44e-06, 2.77e-07],
        [1.08e-06, 2.47e-07, 4.87e-08, 3.79e-10],
    ],
    dtype=np.float64,
)
"""VT-Micro fuel coefficients M_ij for a < 0, shape (4, 4); ln(L/s), km/h and km/h/s."""

VTMICRO_CO2_L: Final[np.ndarray] = np.array(
    [
        [6.914935279, 0.2173, 0.00023538, -0.00036388],
        [0.02754, 0.00968, -0.00175, 8.35e-05],
        [-0.00020699, -0.00010138, 1.966e-05, -1.02e-06],
        [9.80e-07, 3.66e-07, -1.08e-07, 8.50e-09],
    ],
    dtype=np.float64,
)
"""VT-Micro CO2 coefficients L_ij for a >= 0, shape (4, 4); ln(mg/s), km/h and km/h/s."""

VTMICRO_CO2_M: Final[np.ndarray] = np.array(
    [
        [6.914935279, -0.03203, -0.00917, -0.0002886],
        [0.02843, 0.00853, 0.00115, -3.06e-06],
        [-0.00022659, -6.594e-05, -1.289e-05, -2.68e-07],
        [1.11e-06, 3.20e-07, 7.56e-08, 2.95e-09],
    ],
    dtype=np.float64,
)
"""VT-Micro CO2 coefficients M_ij for a < 0, shape (4, 4); ln(mg/s), km/h and km/h/s."""

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
    "v >= 0; zero while moving with a < 0 (fuel cut-off), idle value at standstill"
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
        al. 2002).  Inputs are clipped to the calibration envelope described in
        the module docstring.
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
        with a < 0 it is 0 (coasting fuel cut-off, as in SUMO).

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
    the same `model` for fuel and CO2: the module docstring explains why a
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
