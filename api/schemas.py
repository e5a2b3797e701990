"""Request and response models of the HTTP API, with the examples shown in ``/docs``.

Speeds are km/h here (the edge); everything behind is SI (:mod:`greenwave.units`).  Times are
ISO 8601 with a UTC offset on the wire and seconds since the Unix epoch inside
(:mod:`greenwave.timing`).

Request models are strict (``"5"`` is not a number, ``true`` is not a speed) and forbid unknown
fields, so a misspelt field is an error rather than silently ignored.  Checks that need the
network (``link_id`` exists, ``offset_m`` within the link) read it from the validation context
(``model_validate_json(body, context={"network": ...})``), so their errors carry the field path
like every other validation error.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Required

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from greenwave.spat import SpatEvent, SpatMessage

from .clock import WALL, Clock
from .clock import iso as iso  # the service's time format, re-exported

MAX_SPEED_KMH = 250.0
"""Sanest maximum of a reported speed (km/h): above it the fix is rejected as garbage."""

MAX_ACCURACY_M = 10_000.0
"""Largest ``accuracy_m`` of a fix (m): a position from cell towers alone can be kilometres off."""

# RFC 3339 date-time (the JSON Schema ``date-time`` format): seconds required, a UTC offset
# required, ``T``/``Z`` in either case, any number of fraction digits.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)

Finite = Annotated[float, Field(allow_inf_nan=False)]


def parse_iso(v: Any, clock: Clock = WALL) -> datetime:
    """An RFC 3339 date-time (ISO 8601 with seconds and a UTC offset, ``Z`` or ``±hh:mm``) that
    ``clock`` accepts (:meth:`api.clock.Clock.check`) → aware datetime.  A leap second
    (``:60``) is the second after ``:59``."""
    if not isinstance(v, str):
        raise ValueError("must be a string: an ISO 8601 date-time with a UTC offset")
    m = _RFC3339.fullmatch(v) if len(v) <= 64 else None
    if m is None:
        raise ValueError(
            "must be an ISO 8601 date-time with seconds and a UTC offset, e.g. "
            "2026-11-23T07:30:00+08:00"
        )
    date, hh, mm, ss, frac, off = m.groups()
    leap = ss == "60"
    text = f"{date}T{hh}:{mm}:{'59' if leap else ss}{(frac or '')[:7]}{off.upper()}"
    try:
        ts = datetime.fromisoformat(text)
        if leap:
            ts += timedelta(seconds=1)
        t_s = ts.timestamp()
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"'{v}' is not a valid date-time or is out of range") from None
    clock.check(t_s)
    return ts


def _timestamp(v: Any, info: ValidationInfo) -> datetime:
    return parse_iso(v, (info.context or {}).get("clock") or WALL)


TIME_DOC = (
    "RFC 3339 date-time with a UTC offset, e.g. 2026-11-23T07:31:05+08:00; accepted within 24 h "
    "of server time, or, when the server runs the scenario clock (`greenwave serve --clock "
    "scenario`), anywhere in the scenario's time span (see `clock` in /healthz)"
)

Timestamp = Annotated[
    datetime,
    PlainValidator(_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 64}),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --------------------------------------------------------------------------- advisory
Turn = Literal["left", "through", "right"]
"""A movement at the next signalised intersection (:data:`greenwave.movements.TURN_NAMES`)."""


def _check_vehicle(v: dict, info: ValidationInfo) -> dict:
    """Cross-field and network checks of one vehicle (one Python call per vehicle: batches of
    10,000 are validated in a few milliseconds)."""
    has_gps = [k for k in ("lat", "lon", "heading_deg") if k in v]
    has_link = [k for k in ("link_id", "offset_m") if k in v]
    if has_link:
        if has_gps:
            raise ValueError(
                "give either lat, lon and heading_deg, or link_id and offset_m, not both"
            )
        if len(has_link) < 2:
            raise ValueError("link_id and offset_m go together")
        net = (info.context or {}).get("network")
        if net is not None:
            k = net.link_index.get(v["link_id"])
            if k is None:
                raise PydanticCustomError(
                    "unknown_link",
                    "unknown link '{link_id}'",
                    {"field": "link_id", "link_id": v["link_id"][:128]},
                )
            length = float(net.link_length_m[k])
            if v["offset_m"] > length + 1e-6:
                raise PydanticCustomError(
                    "offset_beyond_link",
                    "{offset_m} is beyond the end of link '{link_id}' ({length} m long)",
                    {
                        "field": "offset_m",
                        "offset_m": v["offset_m"],
                        "link_id": v["link_id"],
                        "length": round(length, 1),
                    },
                )
    elif len(has_gps) < 3:
        missing = [k for k in ("lat", "lon", "heading_deg") if k not in v]
        raise ValueError(
            f"missing {', '.join(missing)}: give lat, lon and heading_deg, or link_id and offset_m"
        )
    return v


POSITION_FORMS: list[dict[str, Any]] = [
    {
        "title": "GPS fix",
        "required": ["lat", "lon", "heading_deg"],
        "not": {"anyOf": [{"required": ["link_id"]}, {"required": ["offset_m"]}]},
    },
    {
        "title": "Position on a link",
        "required": ["link_id", "offset_m"],
        "not": {
            "anyOf": [{"required": ["lat"]}, {"required": ["lon"]}, {"required": ["heading_deg"]}]
        },
    },
]
"""The two ways to give a position, as JSON Schema (``oneOf`` of the request schema):
:func:`_check_vehicle` enforces the same."""


ADVISORY_EXAMPLES: list[dict[str, Any]] = [
    {
        "lat": 36.81052,
        "lon": 118.0265,
        "heading_deg": 90.0,
        "speed_kmh": 42.0,
        "vehicle_id": "veh-17",
    },
    {"link_id": "renmin_f2", "offset_m": 120.0, "speed_kmh": 38.0},
    {"link_id": "renmin_f3", "offset_m": 300.0, "speed_kmh": 45.0, "turn": "left"},
    {
        "lat": 36.81052,
        "lon": 118.0265,
        "heading_deg": 88.0,
        "speed_kmh": 41.4,
        "accuracy_m": 12.0,
        "altitude_m": 61.5,
        "bearing_accuracy_deg": 8.0,
        "vehicle_id": "phone-3",
    },
]
"""Request examples (without ``timestamp``: they hold under any clock, on any day)."""


def _advisory_schema(schema: dict[str, Any]) -> None:
    schema["examples"] = ADVISORY_EXAMPLES
    schema["oneOf"] = POSITION_FORMS


class AdvisoryRequest(TypedDict, total=False):
    """One vehicle: a GPS fix (``lat``, ``lon``, ``heading_deg``) or a position on a link
    (``link_id``, ``offset_m``), plus its speed; optionally the ``turn`` it takes at the next
    signal, and what a phone knows besides (``accuracy_m``, used by map matching; ``altitude_m``
    and ``bearing_accuracy_deg``, accepted and not used; ``null`` for any of the three means
    unknown).  No other field is accepted.  Validated as a plain dict (see :data:`ADVISORY`);
    whether the approach has the turn is checked after map matching
    (:meth:`api.advisor.Advisor.compute`)."""

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        extra="forbid",
        strict=True,
        title="AdvisoryRequest",
        json_schema_extra=_advisory_schema,
    )

    lat: Annotated[
        float, Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="Latitude, WGS84 degrees")
    ]
    lon: Annotated[
        float,
        Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="Longitude, WGS84 degrees"),
    ]
    heading_deg: Annotated[
        float,
        Field(
            ge=0.0,
            lt=360.0,
            allow_inf_nan=False,
            description="Direction of travel: 0 = north, clockwise",
        ),
    ]
    link_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            description="Link the vehicle is on (instead of lat/lon): an `id` of a link of "
            "GET /v1/network; an unknown one is a 422 (type `unknown_link`)",
        ),
    ]
    offset_m: Annotated[
        float,
        Field(
            ge=0.0,
            allow_inf_nan=False,
            description="Distance along link_id from its start (m), at most the link's "
            "`length_m` (GET /v1/network); beyond it: 422 (type `offset_beyond_link`)",
        ),
    ]
    speed_kmh: Required[
        Annotated[
            float,
            Field(
                ge=0.0, le=MAX_SPEED_KMH, allow_inf_nan=False, description="Current speed (km/h)"
            ),
        ]
    ]
    timestamp: Annotated[
        Timestamp, Field(description=f"Time of the fix (default: server time). {TIME_DOC}")
    ]
    vehicle_id: Annotated[str, Field(max_length=128, description="Echoed back")]
    turn: Annotated[
        Turn,
        Field(
            description="What the driver does at the next signalised intersection (default "
            "`through`).  A turn is advised on its own signal group (a protected left's arrow), "
            "crossing the stop line no faster than the turn's speed, and the intersections "
            "after it are those of the street turned into.  A `left` or `right` that the "
            "approach at the matched position has no movement for is a 422 (type "
            "`turn_not_available`, naming the intersection, the approach and the movements "
            "there); `through` is always accepted (where the approach has no through "
            "movement, the advice ends at its stop line)",
        ),
    ]
    accuracy_m: Annotated[
        float | None,
        Field(
            ge=0.0,
            le=MAX_ACCURACY_M,
            allow_inf_nan=False,
            description="Horizontal accuracy of the GPS fix (m), as phones report it (W3C "
            "`GeolocationCoordinates.accuracy`, Android `Location.getAccuracy()`). Map matching "
            "looks for the road within accuracy_m + 10 m of the fix, but never less than the "
            "server's match radius (default 40 m) nor more than its maximum (default 100 m). "
            "null or absent: the match radius",
        ),
    ]
    altitude_m: Annotated[
        float | None,
        Field(
            ge=-1000.0,
            le=10_000.0,
            allow_inf_nan=False,
            description="Altitude of the fix (m above the WGS84 ellipsoid); accepted, not used",
        ),
    ]
    bearing_accuracy_deg: Annotated[
        float | None,
        Field(
            ge=0.0,
            le=180.0,
            allow_inf_nan=False,
            description="Accuracy of heading_deg (deg, Android "
            "`Location.getBearingAccuracyDegrees()`); accepted, not used",
        ),
    ]


Vehicle = Annotated[AdvisoryRequest, AfterValidator(_check_vehicle)]


class BatchRequest(TypedDict):
    """Many vehicles answered through one vectorised core call."""

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        extra="forbid",
        strict=True,
        title="BatchRequest",
        json_schema_extra={
            "examples": [
                {
                    "vehicles": [
                        {
                            "lat": 36.81052,
                            "lon": 118.0265,
                            "heading_deg": 90.0,
                            "speed_kmh": 42.0,
                            "vehicle_id": "veh-17",
                        },
                        {
                            "link_id": "renmin_b3",
                            "offset_m": 200.0,
                            "speed_kmh": 30.0,
                            "vehicle_id": "bus-4",
                        },
                    ]
                }
            ]
        },
    )

    vehicles: Annotated[
        list[Vehicle],
        Field(min_length=1, description="Up to the server's max_batch vehicles (default 10,000)"),
    ]


ADVISORY = TypeAdapter(Vehicle)
"""Validates one vehicle: ``ADVISORY.validate_json(body, context={"network": net})``."""
BATCH = TypeAdapter(BatchRequest)


class LatLon(BaseModel):
    lat: float
    lon: float


class IntersectionRef(BaseModel):
    id: str
    name: str


class SignalState(BaseModel):
    state: Literal["red", "amber", "green"]
    time_to_change_s: float = Field(description="Likely seconds until the state changes")
    time_to_change_min_s: float
    time_to_change_max_s: float


class Band(BaseModel):
    min_kmh: float
    max_kmh: float


class Option(BaseModel):
    intersections: int = Field(description="Green through this many stop lines at one speed")
    min_kmh: float
    max_kmh: float


class Message(BaseModel):
    zh: str
    en: str


PlanKind = Literal["cruise", "slow_down", "speed_up", "eco_stop"]

_PLAN_DOC = {
    "kind": "`cruise`: keep the cruise speed (the speed limit), it arrives on green; `slow_down`: "
    "slow to `hold_kmh` now, and `resume_in_m` before the stop line speed up again to "
    "cross it at `cross_kmh` when the light is green; `speed_up`: hold `hold_kmh` (up to "
    "the speed limit × the scenario's max_speed_factor) to make the current green; "
    "`eco_stop`: no green is reachable without stopping — keep going, lift off "
    "`lift_off_m` before the stop line and coast gently to rest `stop_at_m` before it",
    "hold_kmh": "Speed to change to now (km/h; eco_stop: the current speed)",
    "cross_kmh": "Expected speed at the stop line (km/h; eco_stop: 0)",
    "resume_in_m": "Distance before the stop line at which to speed up again from `hold_kmh` to "
    "`cross_kmh` (m); null when there is no re-acceleration",
    "resume_in_s": "Seconds from now until that re-acceleration (s); null when there is none",
    "arrival_in_s": "Expected arrival at the stop line, seconds from now (s); null for eco_stop",
    "lift_off_m": "eco_stop: distance before the stop line at which to start the gentle "
    "deceleration (m); null otherwise",
    "stop_at_m": "eco_stop: distance before the stop line at which to come to rest, the tail of "
    "the standing queue (m); null otherwise",
}


class Plan(BaseModel):
    """The approach plan to the next signalised stop line (:mod:`greenwave.plans`): how to
    reach it inside green and cross it at cruise speed.  Distances are measured back from the
    stop line; times are seconds from the advisory's ``timestamp``."""

    kind: PlanKind = Field(description=_PLAN_DOC["kind"])
    hold_kmh: float = Field(description=_PLAN_DOC["hold_kmh"])
    cross_kmh: float = Field(description=_PLAN_DOC["cross_kmh"])
    resume_in_m: float | None = Field(description=_PLAN_DOC["resume_in_m"])
    resume_in_s: float | None = Field(description=_PLAN_DOC["resume_in_s"])
    arrival_in_s: float | None = Field(description=_PLAN_DOC["arrival_in_s"])
    lift_off_m: float | None = Field(description=_PLAN_DOC["lift_off_m"])
    stop_at_m: float | None = Field(description=_PLAN_DOC["stop_at_m"])


Status = Literal["advice", "proceed", "prepare_to_stop", "no_signal_ahead", "off_network"]


class Advisory(BaseModel):
    """What to tell one driver.  Holding any speed inside ``band`` from here brings the vehicle
    to the next stop line on green (arriving within the conservative window, before the safety
    margin at its end)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "advice",
                    "reason": None,
                    "vehicle_id": "veh-17",
                    "link_id": "renmin_f2",
                    "offset_m": 102.4,
                    "lateral_m": 1.8,
                    "snapped": {"lat": 36.81052, "lon": 118.0265},
                    "intersection": {"id": "xisi", "name": "人民路/西四路"},
                    "turn": "through",
                    "signal_group": "EW",
                    "distance_m": 481.0,
                    "signal": {
                        "state": "red",
                        "time_to_change_s": 21.0,
                        "time_to_change_min_s": 21.0,
                        "time_to_change_max_s": 21.0,
                    },
                    "band": {"min_kmh": 35.0, "max_kmh": 48.2},
                    "options": [
                        {"intersections": 1, "min_kmh": 35.0, "max_kmh": 48.2},
                        {"intersections": 2, "min_kmh": 40.1, "max_kmh": 48.2},
                    ],
                    "plan": {
                        "kind": "slow_down",
                        "hold_kmh": 32.4,
                        "cross_kmh": 50.0,
                        "resume_in_m": 85.0,
                        "resume_in_s": 12.3,
                        "arrival_in_s": 41.0,
                        "lift_off_m": None,
                        "stop_at_m": None,
                    },
                    "message": {
                        "zh": "距离前方路口480米,绿波速度区间35—48公里;"
                        "41—48公里可连续绿灯通过2个路口",
                        "en": "480 m to the next intersection, green-wave speed 35–48 km/h; "
                        "41–48 km/h for green through the next 2 intersections",
                    },
                    "speed_limit_kmh": 60.0,
                    "valid_for_s": 1.0,
                    "timestamp": "2026-11-22T23:31:05.000Z",
                    "generated_at": "2026-11-22T23:31:05.002Z",
                }
            ]
        }
    )

    status: Status
    reason: str | None = Field(description="Why there is no advice, when there is none")
    vehicle_id: str | None = None
    link_id: str | None = Field(description="Matched link (null when off the network)")
    offset_m: float | None = Field(None, description="Distance along the link from its start")
    lateral_m: float | None = Field(None, description="Distance of the fix from the link")
    snapped: LatLon | None = Field(description="The position on the link")
    intersection: IntersectionRef | None
    turn: Turn = Field(
        description="The movement at `intersection` the advice is for: the request's `turn` "
        "(default `through`)"
    )
    signal_group: str | None = Field(
        description="The signal group at `intersection` whose green the advice targets (the "
        "`signal_group` of GET /v1/intersections/{id}): the turn's own group where it has one "
        "(a protected left's arrow), else the approach's; null when no signal is ahead"
    )
    distance_m: float | None = Field(description="Distance to the next stop line (m)")
    signal: SignalState | None
    band: Band | None
    options: list[Option]
    plan: Plan | None = Field(
        description="The approach plan to the next signalised stop line; "
        "null when there is none (no signal ahead, off the "
        "network, or the stop line beyond the advisory range)"
    )
    message: Message
    speed_limit_kmh: float | None
    valid_for_s: float = Field(description="Ask again after this long")
    timestamp: str = Field(description="Time the advice is for (the request's timestamp)")
    generated_at: str


class BatchResponse(BaseModel):
    count: int
    generated_at: str
    advisories: list[Advisory] = Field(description="In the order of the request's vehicles")


class AdvisoryColumns(BaseModel):
    """The fields of :class:`Advisory`, one array per field (element ``i`` is vehicle ``i``).

    Nested objects are flattened (``snapped_lat``, ``intersection_id``, ``plan_hold_kmh``,
    ``message_zh``...);
    ``null`` where the per-vehicle object has none.  ``options_min_kmh[i][j]`` and
    ``options_max_kmh[i][j]`` are the joint band through the next ``j + 1`` stop lines (``null``
    when there is none)."""

    status: list[Status]
    reason: list[str | None]
    vehicle_id: list[str | None]
    link_id: list[str | None]
    offset_m: list[float | None]
    lateral_m: list[float | None]
    snapped_lat: list[float | None]
    snapped_lon: list[float | None]
    intersection_id: list[str | None]
    intersection_name: list[str | None]
    turn: list[Turn]
    signal_group: list[str | None]
    distance_m: list[float | None]
    signal_state: list[Literal["red", "amber", "green"] | None]
    time_to_change_s: list[float | None]
    time_to_change_min_s: list[float | None]
    time_to_change_max_s: list[float | None]
    band_min_kmh: list[float | None]
    band_max_kmh: list[float | None]
    options_min_kmh: list[list[float | None]]
    options_max_kmh: list[list[float | None]]
    plan_kind: list[PlanKind | None] = Field(
        description="`plan.kind`; null: no plan (then every plan_* column is null)"
    )
    plan_hold_kmh: list[float | None] = Field(description=_PLAN_DOC["hold_kmh"])
    plan_cross_kmh: list[float | None] = Field(description=_PLAN_DOC["cross_kmh"])
    plan_resume_in_m: list[float | None] = Field(description=_PLAN_DOC["resume_in_m"])
    plan_resume_in_s: list[float | None] = Field(description=_PLAN_DOC["resume_in_s"])
    plan_arrival_in_s: list[float | None] = Field(description=_PLAN_DOC["arrival_in_s"])
    plan_lift_off_m: list[float | None] = Field(description=_PLAN_DOC["lift_off_m"])
    plan_stop_at_m: list[float | None] = Field(description=_PLAN_DOC["stop_at_m"])
    message_zh: list[str]
    message_en: list[str]
    speed_limit_kmh: list[float | None]
    timestamp: list[str]


class BatchColumns(BaseModel):
    """``?format=columns``: the batch as one array per field (smaller and faster to produce
    and to read into a data frame than one object per vehicle)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 2,
                    "generated_at": "2026-11-22T23:31:05.002Z",
                    "valid_for_s": 1.0,
                    "columns": {
                        "status": ["advice", "off_network"],
                        "reason": [None, "no road within 40 m of the position"],
                        "vehicle_id": ["veh-17", "bus-4"],
                        "link_id": ["renmin_f2", None],
                        "offset_m": [102.4, None],
                        "lateral_m": [1.8, None],
                        "snapped_lat": [36.81052, None],
                        "snapped_lon": [118.0265, None],
                        "intersection_id": ["xisi", None],
                        "intersection_name": ["人民路/西四路", None],
                        "turn": ["through", "through"],
                        "signal_group": ["EW", None],
                        "distance_m": [481.0, None],
                        "signal_state": ["red", None],
                        "time_to_change_s": [21.0, None],
                        "time_to_change_min_s": [21.0, None],
                        "time_to_change_max_s": [21.0, None],
                        "band_min_kmh": [35.0, None],
                        "band_max_kmh": [48.2, None],
                        "options_min_kmh": [[35.0, 40.1, None], [None, None, None]],
                        "options_max_kmh": [[48.2, 48.2, None], [None, None, None]],
                        "plan_kind": ["slow_down", None],
                        "plan_hold_kmh": [32.4, None],
                        "plan_cross_kmh": [50.0, None],
                        "plan_resume_in_m": [85.0, None],
                        "plan_resume_in_s": [12.3, None],
                        "plan_arrival_in_s": [41.0, None],
                        "plan_lift_off_m": [None, None],
                        "plan_stop_at_m": [None, None],
                        "message_zh": [
                            "距离前方路口480米,绿波速度区间35—48公里",
                            "当前位置不在路网上,暂无车速建议",
                        ],
                        "message_en": [
                            "480 m to the next intersection, green-wave speed 35–48 km/h",
                            "Position is not on a mapped road: no speed advice",
                        ],
                        "speed_limit_kmh": [60.0, None],
                        "timestamp": ["2026-11-22T23:31:05.000Z", "2026-11-22T23:31:05.000Z"],
                    },
                }
            ]
        }
    )

    count: int
    generated_at: str
    valid_for_s: float = Field(description="Ask again after this long (every vehicle)")
    columns: AdvisoryColumns


# --------------------------------------------------------------------------- network (GeoJSON)
class Geometry(BaseModel):
    type: Literal["Point", "LineString"]
    coordinates: list[Any] = Field(description="[lon, lat] or [[lon, lat], ...]")


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """Links (``kind: "link"``: LineString with ``id``, ``speed_limit_kmh``, ``intersection_id``,
    ``signal_group``, ``next_link_id``, ``length_m``, ``lanes``) and intersections
    (``kind: "intersection"``: Point with ``id``, ``name``)."""

    type: Literal["FeatureCollection"]
    features: list[Feature]
    name: str | None = None


# --------------------------------------------------------------------------- intersections
class IntersectionSummary(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    cycle_s: float
    offset_s: float
    signal_groups: list[str]
    approaches: list[str] = Field(description="Link ids ending at this intersection's stop line")
    plan_source: Literal["scenario", "api"]


class IntersectionList(BaseModel):
    count: int
    intersections: list[IntersectionSummary]


class GroupState(BaseModel):
    signal_group: str
    state: Literal["red", "amber", "green"]
    time_to_change_s: float
    time_to_change_min_s: float
    time_to_change_max_s: float
    source: Literal["plan", "spat"] = Field(description="Live SPaT or the fixed-time plan")
    approaches: list[str]


class IntersectionDetail(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    plan: dict[str, Any] = Field(description="The fixed-time plan in force (SignalPlan)")
    plan_source: Literal["scenario", "api"]
    plan_updated_at: str | None
    at: str = Field(description="Time the states are for")
    groups: list[GroupState]


class GreenWindow(BaseModel):
    start: str
    end: str


class GroupWindows(BaseModel):
    signal_group: str
    green: list[GreenWindow]


class Windows(BaseModel):
    """Conservative green windows ``[start, end)`` overlapping ``[start, start + horizon_s)``,
    as the advice sees them (live SPaT where announced, the plan elsewhere)."""

    intersection_id: str
    start: str
    horizon_s: float
    signal_groups: list[GroupWindows]


# --------------------------------------------------------------------------- writes
def _given(name: str, json_type: str) -> dict[str, Any]:
    """JSON Schema: ``name`` is present and not null."""
    return {"required": [name], "properties": {name: {"type": json_type}}}


def _spat_event_schema(schema: dict[str, Any]) -> None:
    # SpatEventIn._one_form as JSON Schema: min and max end given in exactly one form each,
    # likely in at most one.
    schema["allOf"] = [
        {"oneOf": [_given(f"{k}_end", "string"), _given(f"{k}_end_in_s", "number")]}
        for k in ("min", "max")
    ] + [{"not": {"allOf": [_given("likely_end", "string"), _given("likely_end_in_s", "number")]}}]


class SpatEventIn(_Request):
    """One movement event.  End times either absolute (date-time) or in seconds after the
    message ``timestamp``; ``min`` and ``max`` are required (in one form each), ``likely``
    defaults to ``min``; ``null`` is the same as leaving a field out."""

    model_config = ConfigDict(json_schema_extra=_spat_event_schema)

    state: Literal["red", "amber", "green"]
    min_end: Timestamp | None = None
    likely_end: Timestamp | None = None
    max_end: Timestamp | None = None
    min_end_in_s: float | None = Field(None, ge=0.0, le=3600.0, allow_inf_nan=False)
    likely_end_in_s: float | None = Field(None, ge=0.0, le=3600.0, allow_inf_nan=False)
    max_end_in_s: float | None = Field(None, ge=0.0, le=3600.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_form(self):
        for name in ("min_end", "likely_end", "max_end"):
            if getattr(self, name) is not None and getattr(self, name + "_in_s") is not None:
                raise ValueError(f"give {name} or {name}_in_s, not both")
        for name in ("min_end", "max_end"):
            if getattr(self, name) is None and getattr(self, name + "_in_s") is None:
                raise ValueError(f"missing {name} (ISO 8601) or {name}_in_s (seconds)")
        return self

    def to_core(self, t0: float) -> SpatEvent:
        def at(name):
            absolute = getattr(self, name)
            rel = getattr(self, name + "_in_s")
            if absolute is not None:
                return absolute.timestamp()
            return None if rel is None else t0 + rel

        return SpatEvent(
            state=self.state,
            min_end_s=at("min_end"),
            likely_end_s=at("likely_end"),
            max_end_s=at("max_end"),
        )


class SpatGroupIn(_Request):
    signal_group: str = Field(min_length=1, max_length=128)
    timestamp: Timestamp | None = Field(
        None, description=f"When the state was observed (default: server time). {TIME_DOC}"
    )
    events: list[SpatEventIn] = Field(min_length=1, max_length=16)

    def to_core(self, now_s: float) -> SpatMessage:
        t0 = now_s if self.timestamp is None else self.timestamp.timestamp()
        return SpatMessage(timestamp_s=t0, events=[e.to_core(t0) for e in self.events])


class SpatIn(_Request):
    """Live timing of some signal groups of one intersection (SAE J2735 MovementState idea: the
    current state first, then the following ones, each with min/likely/max end)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "groups": [
                        {
                            "signal_group": "EW",
                            "events": [
                                {
                                    "state": "red",
                                    "min_end_in_s": 8.0,
                                    "likely_end_in_s": 10.0,
                                    "max_end_in_s": 14.0,
                                },
                                {"state": "green", "min_end_in_s": 50.0, "max_end_in_s": 60.0},
                            ],
                        }
                    ]
                }
            ]
        }
    )

    groups: list[SpatGroupIn] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _distinct(self):
        ids = [g.signal_group for g in self.groups]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"signal group(s) {dup} given more than once")
        return self


class WriteResult(BaseModel):
    intersection_id: str
    updated_at: str
    persisted: bool = Field(description="Written to the state directory")
    detail: str | None = None


# --------------------------------------------------------------------------- health, errors
class StateHealth(BaseModel):
    file: str
    ok: bool = Field(description="False when the state file could not be read or written")
    error: str | None
    plans_from_api: int
    spat_groups: int


class ClockInfo(BaseModel):
    kind: Literal["wall", "scenario"] = Field(
        description="`wall`: the machine's time; `scenario`: the scenario's time span, run at "
        "real speed from the worker's start and started again at its end (greenwave serve --clock)"
    )
    now: str = Field(description="The server's time: what a request without a time is for")
    accepts_from: str = Field(description="Earliest time accepted in requests")
    accepts_until: str = Field(description="Latest time accepted in requests")
    utc_offset_s: int = Field(
        description="The scenario's local time minus UTC (s; +28800 for UTC+08:00), from the UTC "
        "offset of its `simulation.start_time`: clients show times in the scenario's local time"
    )


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    scenario: str
    scenario_sha256: str
    intersections: int
    links: int
    plans_updated_at: str | None = Field(description="Last accepted plan or SPaT change")
    plans_age_s: float = Field(description="Seconds since the plans in force were set")
    writes_enabled: bool
    state: StateHealth
    uptime_s: float
    version: str
    clock: ClockInfo


class Ping(BaseModel):
    ok: bool


class ErrorResponse(BaseModel):
    detail: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ErrorItem]
