"""The service's clock: what "now" is, and which request times are accepted.

* ``wall`` (the default): now is the machine's time; times in requests (a fix's ``timestamp``,
  ``?at=``, ``?start=``, SPaT times) must lie within :data:`WALL_WINDOW_S` of it, which lets a
  client replay a recent drive but catches a phone whose clock is off by days.
* ``scenario``: for replaying a scenario and for tests.  Now runs through the scenario's time
  span ``[simulation.start_time, start_time + duration_s)`` at real speed from the moment the
  worker started, and starts again from the beginning at its end; request times anywhere in the
  span (ends included) are accepted, whatever the date on the machine.

Times are seconds since the Unix epoch (UTC), as everywhere in greenwave.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from greenwave.scenario import Scenario

ClockKind = Literal["wall", "scenario"]

WALL_WINDOW_S = 86_400.0
"""With the wall clock, request times are accepted within this many seconds of now (s)."""


def iso(t_s: float) -> str:
    """ISO 8601 UTC text of an absolute time (s), millisecond precision."""
    return (
        datetime.fromtimestamp(t_s, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class Clock:
    """Now, and the window of accepted request times.

    Parameters
    ----------
    kind : ``"wall"`` or ``"scenario"``
    start_s, duration_s : the scenario's time span (s; scenario clock only)
    started_s : machine time at which the scenario clock was at ``start_s`` (s)
    """

    kind: ClockKind = "wall"
    start_s: float = 0.0
    duration_s: float = 0.0
    started_s: float = field(default_factory=time.time)

    @classmethod
    def for_scenario(cls, kind: ClockKind, scenario: Scenario) -> Clock:
        sim = scenario.simulation
        if kind == "wall":
            return cls("wall")
        return cls("scenario", sim.start_time.timestamp(), float(sim.duration_s))

    def now(self) -> float:
        """The current time (s since the epoch)."""
        wall = time.time()
        if self.kind == "wall":
            return wall
        return self.start_s + (wall - self.started_s) % self.duration_s

    def window(self, now_s: float | None = None) -> tuple[float, float]:
        """``(earliest, latest)`` accepted request time (s), ends included."""
        if self.kind == "wall":
            now_s = time.time() if now_s is None else now_s
            return now_s - WALL_WINDOW_S, now_s + WALL_WINDOW_S
        return self.start_s, self.start_s + self.duration_s

    def check(self, t_s: float, now_s: float | None = None) -> None:
        """Raise ValueError (with the accepted window) unless ``t_s`` is accepted."""
        lo, hi = self.window(now_s)
        if lo <= t_s <= hi:
            return
        if self.kind == "wall":
            mid = (lo + hi) / 2
            raise ValueError(
                f"must be within 24 h of server time ({iso(mid)}); it is "
                f"{(t_s - mid) / 3600:+.1f} h away"
            )
        raise ValueError(
            f"must be within the scenario's time, {iso(lo)} to {iso(hi)} (the server runs the "
            f"scenario clock); it is {iso(t_s)}"
        )

    def describe(self) -> str:
        if self.kind == "wall":
            return "within 24 h of server time"
        return "within the scenario's time span"


WALL = Clock("wall")
"""The wall clock (the default wherever no clock is given)."""
