"""Service settings: one pydantic-settings class, from flags (via ``greenwave serve``) or the
environment (``GREENWAVE_*``; the write token is ``GREENWAVE_TOKEN``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from greenwave.scenario import DEFAULT_SCENARIO

try:
    from importlib.metadata import PackageNotFoundError, version

    VERSION = version("greenwave")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0.0.0"


_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#]+")


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/greenwave`` (default ``~/.local/state/greenwave``)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "greenwave"


class Settings(BaseSettings):
    """Everything the service reads at start-up.

    Every field can be set as an environment variable ``GREENWAVE_<NAME>`` (e.g.
    ``GREENWAVE_SCENARIO``, ``GREENWAVE_STATE_DIR``, ``GREENWAVE_MAX_BATCH``); the write token is
    ``GREENWAVE_TOKEN``.
    """

    model_config = SettingsConfigDict(env_prefix="GREENWAVE_", extra="ignore")

    scenario: Path = Field(DEFAULT_SCENARIO, description="Scenario TOML file")
    token: SecretStr | None = Field(
        None, description="Bearer token for plan and SPaT writes; no token = writes refused"
    )
    state_dir: Path = Field(
        default_factory=default_state_dir, description="Where accepted plans and SPaT are persisted"
    )
    max_batch: int = Field(
        10_000, ge=1, le=1_000_000, description="Largest batch of vehicles in one request"
    )
    advisory_range_m: float | None = Field(
        None,
        gt=0.0,
        le=100_000.0,
        allow_inf_nan=False,
        description="No speed band for stop lines farther than this (default: the scenario's "
        "advisory.range_m)",
    )
    match_radius_m: float = Field(
        40.0,
        gt=0.0,
        le=500.0,
        allow_inf_nan=False,
        description="Largest distance of a GPS fix from its road",
    )
    max_match_radius_m: float = Field(
        100.0,
        gt=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="Largest distance of a GPS fix from its road when the fix reports a poor "
        "accuracy_m (the radius is accuracy_m + 10 m, at least match_radius_m)",
    )
    heading_tolerance_deg: float = Field(
        60.0,
        gt=0.0,
        lt=90.0,
        allow_inf_nan=False,
        description="Largest difference between heading and road bearing when map matching",
    )
    valid_for_s: float | None = Field(
        None,
        gt=0.0,
        le=60.0,
        allow_inf_nan=False,
        description="valid_for_s of every advisory (default: the scenario's "
        "advisory.update_interval_s)",
    )
    batch_window_ms: float = Field(
        0.0,
        ge=0.0,
        le=50.0,
        allow_inf_nan=False,
        description="Extra time single advisories wait to be answered together (0: only "
        "requests that arrive while the previous group is computed are grouped)",
    )
    fast_path: bool = Field(
        True,
        description="Answer valid single advisories without FastAPI's routing "
        "(greenwave.api.routes.advisory.AdvisoryFastPath; same responses)",
    )
    max_microbatch: int = Field(
        512, ge=1, le=10_000, description="Largest group of single advisories per core call"
    )
    max_body_bytes: int | None = Field(
        None,
        ge=1024,
        description="Largest request body (default: 400 bytes per vehicle of max_batch + 64 KiB)",
    )
    max_streams: int = Field(
        10_000, ge=1, le=1_000_000, description="Largest number of open advisory streams per worker"
    )
    state_poll_s: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        allow_inf_nan=False,
        description="How often a worker looks for plans written by another worker",
    )

    clock: Literal["wall", "scenario"] = Field(
        "wall",
        description="`wall`: now is the machine's time and request times must be within 24 h of "
        "it; `scenario`: now runs through the scenario's time span (from its start_time, "
        "looping), and request times anywhere in that span are accepted (replay, tests)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins of web pages allowed to call the API from a browser (CORS), comma "
        "separated (GREENWAVE_CORS_ORIGINS=https://a.example,https://b.example), or * for any; "
        "default none: same origin only, no CORS headers",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v):
        if isinstance(v, str):
            v = [o.strip() for o in v.split(",")]
        if not isinstance(v, (list, tuple)):
            raise ValueError("a comma-separated list of origins")
        out = []
        for o in v:
            if not isinstance(o, str):
                raise ValueError(f"origin {o!r} is not a string")
            o = o.strip().rstrip("/")
            if not o:
                continue
            if o != "*" and not _ORIGIN.fullmatch(o):
                raise ValueError(
                    f"'{o}' is not an origin: scheme://host[:port], e.g. https://maps.example.com"
                )
            out.append(o)
        return out

    @model_validator(mode="after")
    def _radii(self):
        if self.max_match_radius_m < self.match_radius_m:
            raise ValueError(
                f"max_match_radius_m ({self.max_match_radius_m:g}) is below match_radius_m "
                f"({self.match_radius_m:g})"
            )
        return self

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, v):
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return v

    @property
    def body_limit(self) -> int:
        return self.max_body_bytes or 400 * self.max_batch + 65536
