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


class LinkModel(_Strict):
    """A directed approach link ending at the stop line of ``to`` (or leaving the network)."""

    id: Id
    to: Id | None = Field(None, description="Intersection at the downstream stop line")
    signal_group: str | None = Field(None, description="Group controlling the stop line")
    polyline: list[tuple[Lon, Lat]] = Field(min_length=2, description="[[lon, lat], ...]")
    speed_limit_kmh: FiniteFloat = Field(gt=0.0, le=150.0)
    lanes: int = Field(1, ge=1, le=8)
    next: Id | None = Field(None, description="Straight-through successor link")

    @model_validator(mode="after")
    def _group_needs_intersection(self):
        if self.signal_group is not None and self.to is None:
            raise ValueError("signal_group given but no intersection 'to'")
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
    """

    id: Id
    name: str = ""
    intersections: list[Id] = Field(default_factory=list)
    forward_group: str | None = Field(
        None, description="Signal group serving the forward direction"
    )
    backward_group: str | None = Field(None, description="Group for the backward direction")
    both_directions: bool = True
    speed_limit_kmh: FiniteFloat | None = Field(None, gt=0.0, le=150.0)
    lanes: int = Field(1, ge=1, le=8)
    entry_length_m: FiniteFloat = Field(300.0, gt=0.0, le=5000.0)
    exit_length_m: FiniteFloat = Field(200.0, gt=0.0, le=5000.0)
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
)


class GridModel(_Strict):
    """A generated grid city: ``rows`` east–west and ``cols`` north–south two-way streets."""

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
