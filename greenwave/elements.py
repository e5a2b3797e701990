"""The elements of a scenario's network as the file gives them: intersections, links, corridors
and a generated grid (pydantic models; :mod:`greenwave.scenario` assembles them into a scenario).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from .timing import FiniteFloat, SignalPlan

Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntersectionModel(_Strict):
    id: Id
    name: str = ""
    lon: Lon
    lat: Lat
    plan: SignalPlan


TurnName = Literal["left", "through", "right"]


class TurnGroupsModel(_Strict):
    """Signal groups of a link's turns where they differ from the approach's ``signal_group``
    (e.g. a protected left on its own arrow)."""

    left: str | None = Field(None, min_length=1, description="Group of the left turn")
    through: str | None = Field(None, min_length=1, description="Group of the through movement")
    right: str | None = Field(None, min_length=1, description="Group of the right turn")


class MovementModel(_Strict):
    """One movement from a link's stop line onto a link leaving its intersection."""

    to_link: Id = Field(description="Link the movement enters (starts at the intersection)")
    turn: TurnName


class LinkModel(_Strict):
    """A directed approach link ending at the stop line of ``to`` (or leaving the network).

    Its turning movements are found from the geometry (:mod:`greenwave.movements`) unless
    ``movements`` lists them; ``next`` is always the through movement.
    """

    id: Id
    to: Id | None = Field(None, description="Intersection at the downstream stop line")
    signal_group: str | None = Field(None, description="Group controlling the stop line")
    polyline: list[tuple[Lon, Lat]] = Field(min_length=2, description="[[lon, lat], ...]")
    speed_limit_kmh: FiniteFloat = Field(gt=0.0, le=150.0)
    lanes: int = Field(1, ge=1, le=8)
    next: Id | None = Field(None, description="Straight-through successor link")
    turn_groups: TurnGroupsModel | None = Field(
        None, description="Signal group per turn where it is not signal_group"
    )
    movements: list[MovementModel] | None = Field(
        None,
        description="The movements at the stop line, replacing those found from the geometry",
    )

    @model_validator(mode="after")
    def _group_needs_intersection(self):
        for name in ("signal_group", "turn_groups", "movements"):
            if getattr(self, name) is not None and self.to is None:
                raise ValueError(f"{name} given but no intersection 'to'")
        return self


class CorridorModel(_Strict):
    """A chain of signals that coordination (``greenwave optimize``) retimes as one green wave.

    Two forms, one per corridor:

    - **generated**: ``intersections`` (with ``forward_group`` and ``speed_limit_kmh``); links
      are generated between consecutive intersections, ids ``{id}_{dir}{k}`` with ``dir`` 'f'
      (along ``intersections``) or 'b' (against), ``k = 0`` the entry link before the first
      intersection and the last one the exit link.
    - **over existing links**: ``links_forward`` (and optionally ``links_backward``), ids of
      links the scenario already has (``[[links]]``, or links of other corridors), in driving
      order: the approach to the first signal, the links between signals, and the link leaving
      the last signal.  Each link is the ``next`` of the one before; every link but the last
      ends at a signal (``to`` and ``signal_group``); ``links_backward`` passes the same
      signals in the opposite order.  Checked by :func:`greenwave.expand.expand_links`.

    Either form is written out as the chains ``{id}_f`` (and ``{id}_b``) of link ids.

    A generated corridor may also get **cross streets** (``cross_streets``): at every
    intersection ``k`` a two-way street perpendicular to the local corridor direction, with
    entry links ``{id}_n{k}`` (from the left of the forward direction: north of an eastbound
    corridor) and ``{id}_s{k}`` ending at the intersection under ``cross_group``, and exit links
    ``{id}_nx{k}`` / ``{id}_sx{k}`` leaving it; ``{id}_n{k}`` continues through to
    ``{id}_sx{k}`` and ``{id}_s{k}`` to ``{id}_nx{k}``.  Turns onto and off the corridor follow
    from the geometry (:mod:`greenwave.movements`).  The cross streets are entry links like the
    corridor's first ones, so ``demand.flow_veh_h_per_lane`` feeds them unless
    ``demand.entries`` lists them.  They are not part of the corridor's chains (coordination
    retimes the corridor, not its cross streets).
    """

    id: Id
    name: str = ""
    intersections: list[Id] = Field(default_factory=list)
    forward_group: str | None = Field(
        None, description="Signal group serving the forward direction"
    )
    backward_group: str | None = Field(None, description="Group for the backward direction")
    left_group: str | None = Field(
        None,
        description="Signal group of the left turns off the corridor, both directions (default: "
        "the direction's own group: permitted lefts, yielding to the opposing traffic)",
    )
    both_directions: bool = True
    speed_limit_kmh: FiniteFloat | None = Field(None, gt=0.0, le=150.0)
    lanes: int = Field(1, ge=1, le=8)
    entry_length_m: FiniteFloat = Field(300.0, gt=0.0, le=5000.0)
    exit_length_m: FiniteFloat = Field(200.0, gt=0.0, le=5000.0)
    cross_streets: bool = Field(
        False, description="Generate a two-way cross street at every intersection"
    )
    cross_group: str | None = Field(
        None,
        description="Signal group of the cross streets (default: the one group of each plan "
        "that is not forward_group, backward_group or left_group)",
    )
    cross_length_m: FiniteFloat = Field(300.0, gt=0.0, le=5000.0)
    cross_lanes: int = Field(1, ge=1, le=8)
    cross_speed_limit_kmh: FiniteFloat | None = Field(
        None,
        gt=0.0,
        le=150.0,
        description="Speed limit of the cross streets (default: the corridor's)",
    )
    links_forward: list[Id] | None = Field(
        None, description="Existing link ids along the corridor, in driving order"
    )
    links_backward: list[Id] | None = Field(
        None, description="Existing link ids of the opposite direction, in driving order"
    )
    progression_kmh: FiniteFloat | None = Field(
        None,
        gt=5.0,
        le=120.0,
        description="Design progression speed of the corridor's green wave (drawn on plots)",
    )

    @model_validator(mode="after")
    def _one_form(self):
        if self.links_forward is None:
            if self.links_backward is not None:
                raise ValueError(
                    "links_backward: needs links_forward (the corridor's forward direction over "
                    "existing links)"
                )
            missing = [
                f
                for f in ("intersections", "forward_group", "speed_limit_kmh")
                if f not in self.model_fields_set
            ]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)}: required for a corridor generated between "
                    "intersections (or give links_forward: a corridor over existing links)"
                )
            if len(set(self.intersections)) != len(self.intersections):
                raise ValueError("intersections: a corridor visits each intersection once")
            return self
        if self.cross_streets:
            raise ValueError(
                "cross_streets: only a corridor generated between intersections gets cross "
                "streets; one over existing links (links_forward) has the cross streets its "
                "scenario gives as [[links]] ending at its intersections"
            )
        extra = [f for f in _GENERATOR_FIELDS if f in self.model_fields_set]
        if extra:
            raise ValueError(
                f"{', '.join(extra)}: not used with links_forward (a corridor over existing "
                "links takes intersections, signal groups, lanes and speed limits from its links)"
            )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # The generator's settings mean nothing for a corridor over existing links: writing
        # their defaults out would make the file say something it does not.
        data = handler(self)
        if self.links_forward is not None and isinstance(data, dict):
            for f in _GENERATOR_FIELDS:
                data.pop(f, None)
        return data


_GENERATOR_FIELDS = (
    "intersections",
    "forward_group",
    "backward_group",
    "both_directions",
    "speed_limit_kmh",
    "lanes",
    "entry_length_m",
    "exit_length_m",
    "left_group",
    "cross_streets",
    "cross_group",
    "cross_length_m",
    "cross_lanes",
    "cross_speed_limit_kmh",
)


class GridModel(_Strict):
    """A generated grid city: ``rows`` east–west and ``cols`` north–south two-way streets.

    See :mod:`greenwave.grid` for the plans (two phases, or four with ``left_turn_phase``).
    """

    rows: int = Field(ge=2, le=200)
    cols: int = Field(ge=2, le=200)
    spacing_m: FiniteFloat = Field(500.0, ge=50.0, le=5000.0)
    spacing_jitter_m: FiniteFloat = Field(0.0, ge=0.0, le=200.0)
    origin_lon: Lon = 118.0
    origin_lat: Lat = 36.78
    cycle_s: FiniteFloat = Field(120.0, ge=30.0, le=240.0)
    ew_green_share: FiniteFloat = Field(0.5, gt=0.1, lt=0.9)
    amber_s: FiniteFloat = Field(3.0, ge=0.0, le=6.0)
    all_red_s: FiniteFloat = Field(2.0, ge=0.0, le=6.0)
    speed_limit_kmh: FiniteFloat = Field(50.0, gt=0.0, le=120.0)
    lanes: int = Field(2, ge=1, le=6)
    offsets: Literal["zero", "random", "green_wave"] = "green_wave"
    progression_kmh: FiniteFloat = Field(45.0, gt=5.0, le=120.0)
    seed: int = 0
    entry_length_m: FiniteFloat = Field(300.0, gt=0.0, le=5000.0)
    left_turn_phase: bool = Field(
        False,
        description="Protected left-turn phases EW_L and NS_L after each street's through phase "
        "(otherwise lefts are permitted in the through phase, yielding to opposing traffic)",
    )
    left_share: FiniteFloat = Field(
        0.25,
        gt=0.0,
        lt=1.0,
        description="Share of each street's phase time (with clearance) given to its left-turn "
        "phase when left_turn_phase is on",
    )
