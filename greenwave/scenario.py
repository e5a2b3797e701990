"""The scenario file: network, signal plans, demand, drivers, advisory and run settings.

A scenario is a TOML file validated by the pydantic models below.  Errors name the file and the
field path, e.g. ``zibo.toml: intersections[2] (id 'xiwu').plan.cycle_s: Input should be greater
than 0``.  Speeds are km/h in the file (the edge) and m/s everywhere after
:meth:`Scenario.band_params` and :func:`greenwave.network.build_network`.

The network can be written out link by link (``[[links]]``), or generated: a ``[[corridors]]``
entry chains links through a list of intersections in both directions, and a ``[grid]`` section
generates a whole grid city (see :mod:`greenwave.grid`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import importlib.resources
import tomllib
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .bands import BandParams
from .elements import (  # noqa: F401  (re-exported: the scenario file's element models)
    CorridorModel,
    GridModel,
    Id,
    IntersectionModel,
    Lat,
    LinkModel,
    Lon,
    _Strict,
)
from .expand import expand_links
from .movements import SHARE_TOLERANCE
from .timing import FiniteFloat
from .units import kmh_to_ms

# The bundled scenarios are the package data of greenwave.scenarios (the repository's scenarios/
# folder, mapped in pyproject.toml), read through importlib.resources so that they are found in a
# wheel as in an editable install.  SCENARIO_DIR (a Traversable) and DEFAULT_SCENARIO (a Path) are
# resolved on first use, see __getattr__ at the end of the module.
SCENARIO_PACKAGE = "greenwave.scenarios"
DEFAULT_SCENARIO_NAME = "zibo_arterial.toml"


class DemandEntry(_Strict):
    link: Id
    flow_veh_h: FiniteFloat = Field(ge=0.0, le=4000.0)
    profile: list[tuple[FiniteFloat, FiniteFloat]] | None = Field(
        None,
        description="Piecewise-constant factor over simulation time: [[t_s, factor], ...], "
        "first t_s = 0, increasing",
    )

    @field_validator("profile")
    @classmethod
    def _profile(cls, prof):
        if prof is None:
            return prof
        if not prof or prof[0][0] != 0.0:
            raise ValueError("profile must start at t_s = 0")
        for i in range(1, len(prof)):
            if prof[i][0] <= prof[i - 1][0]:
                raise ValueError(f"profile times must increase (entry {i})")
        for i, (_, f) in enumerate(prof):
            if f < 0:
                raise ValueError(f"profile factor {i} must be >= 0")
        return prof


class VehicleEntry(_Strict):
    """One vehicle with an explicit departure (e.g. a SUMO ``<vehicle>`` or ``<trip>``), so that
    the same vehicles run in greenwave and in another simulator."""

    link: Id = Field(description="Entry link it departs on")
    depart_s: FiniteFloat = Field(ge=0.0, le=86400.0, description="Arrival at the entry (s)")
    lane: int | None = Field(None, ge=0, le=7, description="Lane (default: drawn uniformly)")
    desired_speed_factor: FiniteFloat | None = Field(
        None, gt=0.2, le=3.0, description="Desired speed / limit (default: drawn as the drivers')"
    )


class TurningShares(_Strict):
    """Shares of the left, through and right movements at every approach (sum 1)."""

    left: FiniteFloat = Field(0.0, ge=0.0, le=1.0)
    through: FiniteFloat = Field(0.0, ge=0.0, le=1.0)
    right: FiniteFloat = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sum_one(self):
        total = self.left + self.through + self.right
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"the shares sum to {total:.9g}, not 1 (left + through + right)")
        return self


class TurnEntry(_Strict):
    """The turning shares of one approach link, replacing ``demand.turning`` there.

    The shares are plain numbers here and checked when the scenario validates
    (:func:`greenwave.movements.find_movements`), so that a message can name the link's
    intersection and the movements it has.
    """

    link: Id = Field(description="Approach link (ends at an intersection)")
    left: float = 0.0
    through: float = 0.0
    right: float = 0.0


class DemandModel(_Strict):
    """Traffic entering the network and what it does at the stop lines.

    Without ``turning`` and ``turns`` every vehicle goes straight through; see
    :mod:`greenwave.movements` for how shares apply where a movement is missing.
    """

    scale: FiniteFloat = Field(1.0, ge=0.0, le=10.0, description="Multiplies every flow")
    flow_veh_h_per_lane: FiniteFloat = Field(
        0.0, ge=0.0, le=2000.0, description="Default flow on each entry link not listed"
    )
    entries: list[DemandEntry] = Field(default_factory=list)
    vehicles: list[VehicleEntry] = Field(
        default_factory=list,
        description="Vehicles with explicit departures, in addition to the flows (not scaled)",
    )
    turning: TurningShares | None = Field(
        None,
        description="Turning shares at every approach with movements, renormalised over the "
        "movements an approach has (default: straight through)",
    )
    turns: list[TurnEntry] = Field(
        default_factory=list, description="Turning shares of single approaches (sum 1 each)"
    )


IDM_MAX_DT_S = 0.5
"""Longest physics step for IDM drivers (ballistic update; Treiber & Kanagaraj 2015 find
larger steps distort it)."""
KRAUSS_MAX_DT_S = 1.0
"""Longest physics step for Krauss drivers: SUMO's default step."""


def max_dt_s(car_following: str) -> float:
    """Longest physics step (s) for a car-following model (``drivers.car_following``)."""
    return KRAUSS_MAX_DT_S if car_following == "krauss" else IDM_MAX_DT_S


class DriversModel(_Strict):
    """Driver population. Desired speed = factor × speed limit, factor ~ truncated normal."""

    desired_speed_factor_mean: FiniteFloat = Field(1.0, gt=0.2, le=2.0)
    desired_speed_factor_sd: FiniteFloat = Field(0.1, ge=0.0, le=0.5)
    desired_speed_factor_min: FiniteFloat = Field(0.7, gt=0.1, le=2.0)
    desired_speed_factor_max: FiniteFloat = Field(1.3, gt=0.1, le=3.0)
    car_following: Literal["idm", "krauss"] = Field(
        "idm",
        description="Car-following model: 'idm' (Treiber et al. 2000) or 'krauss' (Krauss 1998, "
        "SUMO's default); both read accel_ms2, decel_ms2, time_headway_s and min_gap_m",
    )
    accel_ms2: FiniteFloat = Field(
        1.5, gt=0.1, le=5.0, description="Maximum acceleration (IDM a, Krauss a)"
    )
    decel_ms2: FiniteFloat = Field(
        2.0, gt=0.1, le=6.0, description="Comfortable deceleration (IDM b, Krauss b)"
    )
    time_headway_s: FiniteFloat = Field(
        1.0, gt=0.1, le=5.0, description="Time gap (IDM T, Krauss reaction time tau)"
    )
    min_gap_m: FiniteFloat = Field(2.0, ge=0.0, le=10.0, description="Jam distance s0 (minGap)")
    sigma: FiniteFloat = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Krauss driver imperfection (dawdling; SUMO's sigma); 0 with 'idm'",
    )
    length_m: FiniteFloat = Field(5.0, gt=1.0, le=20.0)
    compliance: FiniteFloat = Field(1.0, ge=0.0, le=1.0, description="Share that follows advice")
    reaction_s: FiniteFloat = Field(1.0, ge=0.0, le=10.0, description="Delay to act on advice")
    option_max_signals: int | None = Field(
        None,
        ge=1,
        le=10,
        description="Advised drivers take the joint band covering the most stop lines, up to this "
        "many (default: all the advisory gives)",
    )
    option_min_speed_ratio: FiniteFloat = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="... but not one whose speed is below this share of the next stop line's "
        "band speed (0: always the longest)",
    )
    policy: Literal["plan", "band"] = Field(
        "plan",
        description="How advised drivers use the advice: 'plan' follows the approach plan "
        "(slow down, speed up again, cross at cruise speed; eco-approach when no green is "
        "reachable), 'band' holds one speed of the band to the line (the app's literal advice)",
    )
    turn_lateral_accel_ms2: FiniteFloat = Field(
        5.5,
        gt=0.5,
        le=10.0,
        description="Lateral acceleration on a junction curve: turning speed = sqrt(a R); "
        "5.5 m/s² is SUMO netconvert's junctions.limit-turn-speed default",
    )
    turn_radius_right_m: FiniteFloat = Field(
        8.0,
        gt=1.0,
        le=200.0,
        description="Radius of a right turn (assumed: a typical urban curb-return radius; SUMO "
        "computes it from the junction geometry)",
    )
    turn_radius_left_m: FiniteFloat = Field(
        15.0,
        gt=1.0,
        le=200.0,
        description="Radius of a left turn (assumed: a left turn sweeps around the junction "
        "centre, about twice a right turn's; SUMO computes it from the junction geometry)",
    )
    lane_changing: bool = Field(
        True,
        description="Drivers going straight on change lanes on multi-lane links by MOBIL "
        "(Kesting, Treiber & Helbing 2007); false: every driver keeps the lane it was given "
        "at the junction",
    )
    hold_on_stop: bool = Field(
        False,
        description="When the next stop line says 'prepare to stop', keep the last advice "
        "instead of driving normally (speeding up towards the red light)",
    )

    @model_validator(mode="after")
    def _range(self):
        if not self.desired_speed_factor_min <= self.desired_speed_factor_max:
            raise ValueError("desired_speed_factor_min must be <= desired_speed_factor_max")
        if self.sigma > 0.0 and self.car_following != "krauss":
            raise ValueError("sigma: driver imperfection is part of car_following = 'krauss'")
        return self


class AdvisoryModel(_Strict):
    penetration: FiniteFloat = Field(1.0, ge=0.0, le=1.0, description="Share of equipped vehicles")
    range_m: FiniteFloat = Field(500.0, gt=0.0, le=5000.0)
    update_interval_s: FiniteFloat = Field(1.0, gt=0.0, le=60.0)
    band_min_kmh: FiniteFloat = Field(35.0, gt=0.0, le=150.0)
    band_max_kmh: FiniteFloat = Field(50.0, gt=0.0, le=150.0)
    safety_margin_s: FiniteFloat = Field(2.0, ge=0.0, le=30.0)
    min_band_width_kmh: FiniteFloat = Field(2.0, ge=0.0, le=50.0)
    accel_ms2: FiniteFloat = Field(
        1.5,
        gt=0.0,
        le=5.0,
        description="Acceleration the advice assumes (default = the drivers' IDM a, so advised "
        "drivers pull away from a queue as everyone else does)",
    )
    decel_ms2: FiniteFloat = Field(1.5, gt=0.0, le=6.0, description="Comfortable decel in advice")
    n_windows: int = Field(3, ge=1, le=16)
    intersections_ahead: int = Field(3, ge=1, le=10)
    queue_aware: bool = True
    advise_turners: bool = Field(
        False,
        description="The simulators advise a driver who turns at the next signal on that "
        "movement (its group, braking into the turn: the API's 'turn'); false (default): "
        "straight-on movements only, turners drive normally up to their turn (on the Zibo "
        "arterial advising turners cost 5.6 % speed and 1.8 % fuel, 3 seeds, 2026-12-03)",
    )
    max_speed_factor: FiniteFloat = Field(
        1.0,
        ge=1.0,
        le=2.0,
        description="Approach plans may speed up to this × the speed limit to catch a green "
        "(never above band_max_kmh); SUMO's device.glosa allows 1.1",
    )
    eco_decel_ms2: FiniteFloat = Field(
        1.0,
        gt=0.0,
        le=3.0,
        description="Deceleration of the eco-approach when no green is reachable without "
        "stopping (m/s²)",
    )
    plan_start_margin_s: FiniteFloat = Field(
        2.0,
        ge=0.0,
        le=10.0,
        description="Approach plans aim this long after the green start (after the queue "
        "ahead has discharged); 2 s chosen on training corridors (glosa_generated.py)",
    )
    plan_start_margin_horizon_s: FiniteFloat = Field(
        10.0,
        ge=0.0,
        le=120.0,
        description="The start margin shrinks in proportion as the green start comes closer "
        "than this (s; 0: the whole margin always); 10 s chosen on training corridors "
        "1001-1008 among 0, 10, 20 (glosa_generated.py)",
    )
    plan_hold_clear_m: FiniteFloat = Field(
        150.0,
        ge=0.0,
        le=1000.0,
        description="While a queue is still discharging over the stop line behind them, the "
        "simulators' drivers start no hold for a later green within this distance past that "
        "line (m; 0: off): slowing there slows the discharge (sim/driver.py); 150 m chosen on "
        "training corridors 1001-1008 and 8 oversaturated ones (2002-2033) among 0, 150, 300",
    )

    @model_validator(mode="after")
    def _band(self):
        if not self.band_min_kmh < self.band_max_kmh:
            raise ValueError("band_min_kmh must be < band_max_kmh")
        return self

    def band_params(self) -> BandParams:
        return BandParams(
            band_min_ms=kmh_to_ms(self.band_min_kmh),
            band_max_ms=kmh_to_ms(self.band_max_kmh),
            safety_margin_s=self.safety_margin_s,
            min_width_ms=kmh_to_ms(self.min_band_width_kmh),
            accel_ms2=self.accel_ms2,
            decel_ms2=self.decel_ms2,
            n_windows=self.n_windows,
            max_speed_factor=self.max_speed_factor,
            eco_decel_ms2=self.eco_decel_ms2,
            plan_start_margin_s=self.plan_start_margin_s,
            plan_start_margin_horizon_s=self.plan_start_margin_horizon_s,
        )


class SimulationModel(_Strict):
    start_time: AwareDatetime = Field(
        datetime.fromisoformat("2026-11-23T07:30:00+08:00"),
        description="Absolute time of simulation second 0 (ISO 8601 with offset)",
    )
    duration_s: FiniteFloat = Field(3600.0, gt=0.0, le=86400.0)
    warmup_s: FiniteFloat = Field(600.0, ge=0.0, le=86400.0)
    dt_s: FiniteFloat = Field(
        0.5,
        gt=0.0,
        le=KRAUSS_MAX_DT_S,
        description="Physics step (s); up to 0.5 with IDM, up to 1 with Krauss (SUMO's default)",
    )
    seed: int = Field(1, ge=0)
    fuel_model: Literal["vtmicro", "hbefa3"] = Field(
        "vtmicro",
        description="Fuel and CO2 model of the simulator: VT-Micro (Ahn et al. 2002), or "
        "HBEFA3 PC_G_EU4 as fitted in SUMO (for comparisons with SUMO runs)",
    )

    @model_validator(mode="after")
    def _warmup_before_end(self):
        if self.warmup_s >= self.duration_s:
            raise ValueError(
                f"warmup_s ({self.warmup_s:g}) must be less than duration_s "
                f"({self.duration_s:g}): only trips entering after the warm-up are counted"
            )
        return self

    @property
    def epoch_s(self) -> float:
        return self.start_time.timestamp()


class Scenario(_Strict):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    intersections: list[IntersectionModel] = Field(default_factory=list)
    corridors: list[CorridorModel] = Field(default_factory=list)
    links: list[LinkModel] = Field(default_factory=list)
    grid: GridModel | None = None
    demand: DemandModel = Field(default_factory=DemandModel)
    drivers: DriversModel = Field(default_factory=DriversModel)
    advisory: AdvisoryModel = Field(default_factory=AdvisoryModel)
    simulation: SimulationModel = Field(default_factory=SimulationModel)
    _expanded: Any = PrivateAttr(None)  # (fingerprint, expand.Expanded), see expand_links

    @model_validator(mode="after")
    def _references(self):
        if not self.intersections and self.grid is None:
            raise ValueError("intersections: a scenario needs intersections or a [grid]")
        if self.simulation.dt_s > max_dt_s(self.drivers.car_following):
            raise ValueError(
                f"simulation.dt_s: above {IDM_MAX_DT_S:g} s only with drivers.car_following = "
                f"'krauss' (SUMO's step is 1 s; IDM needs <= {IDM_MAX_DT_S:g} s)"
            )
        expand_links(self)  # raises ValueError naming the field path on a bad reference
        return self

    def band_params(self) -> BandParams:
        return self.advisory.band_params()

    def content_hash(self) -> str:
        """SHA-256 of the validated content (stable across formatting of the file)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class ScenarioError(ValueError):
    """A scenario failed to load; ``errors`` lists ``(path, message)`` pairs."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = [f"{source}: {p}: {m}" if p else f"{source}: {m}" for p, m in errors]
        super().__init__("\n".join(lines))


def format_loc(loc: tuple, data: Any) -> str:
    """Render a pydantic error location as ``a[2] (id 'x').b``, naming list items by id."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            try:
                node = node[part]
                if isinstance(node, dict) and "id" in node:
                    out += f" (id '{node['id']}')"
            except (IndexError, KeyError, TypeError):
                node = None
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def validation_errors(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    out = []
    for e in exc.errors():
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append((format_loc(tuple(e["loc"]), data), msg))
    return out


def parse_scenario(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a scenario from a dict; raise :class:`ScenarioError` naming the fields."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, validation_errors(exc, data)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), [("", f"cannot read file: {exc.strerror}")]) from None
    return loads_scenario(text, str(path))


def loads_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario from TOML text (used by workers that get content, not a path)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"invalid TOML: {exc}")]) from None
    return parse_scenario(data, source)


def dumps_scenario(scenario: Scenario) -> str:
    """TOML text of a scenario (comments of the original file are not kept)."""
    import tomli_w

    data = scenario.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(_drop_empty(data))


def _drop_empty(obj):
    if isinstance(obj, dict):
        return {k: _drop_empty(v) for k, v in obj.items() if v != [] and v is not None}
    if isinstance(obj, list):
        return [_drop_empty(v) for v in obj]
    return obj


def apply_override(data: dict, dotted: str, value: Any) -> dict:
    """Return a copy of scenario ``data`` with ``a.b.c`` set to ``value`` (for sweeps, CLI)."""
    import copy

    out = copy.deepcopy(data)
    node = out
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise KeyError(dotted)
    node[parts[-1]] = value
    return out


# --------------------------------------------------------------------------- bundled scenarios
_resource_files = contextlib.ExitStack()  # temporary copies, only for a zip-imported package
atexit.register(_resource_files.close)


def scenario_dir() -> Traversable:
    """The bundled scenarios (``importlib.resources.files("greenwave.scenarios")``)."""
    return importlib.resources.files(SCENARIO_PACKAGE)


@functools.cache
def bundled_scenario(name: str) -> Path:
    """Path of the bundled scenario file ``name`` (e.g. ``"zibo_city.toml"``).

    Installed packages are directories, so this is the file itself; a package imported from a
    zip archive gets a temporary copy that lives until the interpreter exits.
    """
    res = scenario_dir().joinpath(name)
    if not res.is_file():
        bundled = sorted(r.name for r in scenario_dir().iterdir() if r.name.endswith(".toml"))
        raise ScenarioError(
            name,
            [("", f"no bundled scenario of that name (bundled: {', '.join(bundled) or 'none'})")],
        )
    return _resource_files.enter_context(importlib.resources.as_file(res))


def __getattr__(name: str):
    # Module constants resolved on first use: importing this module never needs the data.
    if name == "SCENARIO_DIR":
        return scenario_dir()
    if name == "DEFAULT_SCENARIO":
        return bundled_scenario(DEFAULT_SCENARIO_NAME)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
