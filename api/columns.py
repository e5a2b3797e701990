"""Request bodies → one array per field (:class:`Vehicles`), the input of
:class:`api.advisor.Advisor`.

Single advisories are validated by the pydantic model (:data:`api.schemas.ADVISORY`) and turned
into columns by :meth:`Vehicles.from_requests` when the micro-batcher groups them.

A batch of 10,000 vehicles would cost about 20 ms as 10,000 validated dicts, so
:class:`BatchParser` first tries a column-wise check: ``orjson`` parses the body, one list per field
is taken from the vehicles, and numpy checks each field's type, finiteness and range on the whole
column at once (link ids by one dict lookup each).  That check only *accepts*: a body it does not
accept, for whatever reason, goes through the pydantic model (:data:`api.schemas.BATCH`), which is
the authority on what is valid and reports every error with its field path
(``["body", "vehicles", 17, "speed_kmh"]``).  So the check must never accept what the model
rejects; being stricter only costs time (e.g. ``NaN``, which orjson refuses to parse, always takes
the model's path and gets the model's 422).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import orjson
from fastapi import HTTPException

from greenwave.movements import THROUGH, TURN_NAMES
from greenwave.network import Network

from .clock import WALL, Clock
from .errors import parse
from .schemas import BATCH, MAX_ACCURACY_M, MAX_SPEED_KMH, parse_iso

_NAN = float("nan")
_NUMBER = {float, int}  # JSON numbers (the strict models take ints for floats, not bools)
_TEXT = {str, type(None)}
_MAX_TEXT = 128  # max_length of link_id and vehicle_id in AdvisoryRequest
_ABSENT = object()  # a key a vehicle does not have (null is a value)
_NULLABLE = {float, int, type(None), object}  # JSON number or null, or _ABSENT
_TURNS = {str, object}  # a turn's name, or _ABSENT
TURN_CODE = {name: code for code, name in enumerate(TURN_NAMES)}
"""Turn name of a request → :data:`greenwave.movements.LEFT`, ``THROUGH`` or ``RIGHT``."""
_TURN_OR_ABSENT: dict[object, int] = {_ABSENT: THROUGH}
_TURN_OR_ABSENT.update(TURN_CODE)
# AdvisoryRequest's optional numbers that may be null (unknown): their ranges, ends included.
_PHONE_FIELDS = {
    "accuracy_m": (0.0, MAX_ACCURACY_M),
    "altitude_m": (-1000.0, 10_000.0),
    "bearing_accuracy_deg": (0.0, 180.0),
}


@dataclass(frozen=True)
class Vehicles:
    """N vehicles as columns.

    Attributes
    ----------
    lat, lon, heading_deg : (N,) float64, the GPS fix (NaN for vehicles given by link)
    link : (N,) int64, link index for vehicles given by link, else -1
    offset_m : (N,) float64, offset along ``link`` (NaN for GPS fixes)
    speed_kmh : (N,) float64
    t_s : (N,) float64, time of each fix (s since the epoch; server time when not given)
    vehicle_id : list of N str or None
    accuracy_m : (N,) float64, reported accuracy of the fix (NaN: unknown)
    turn : (N,) int8, turn at the next signal (:data:`greenwave.movements.LEFT`, ``THROUGH``,
        ``RIGHT``; THROUGH where not given)
    """

    lat: np.ndarray
    lon: np.ndarray
    heading_deg: np.ndarray
    link: np.ndarray
    offset_m: np.ndarray
    speed_kmh: np.ndarray
    t_s: np.ndarray
    vehicle_id: list
    accuracy_m: np.ndarray
    turn: np.ndarray

    def __len__(self) -> int:
        return len(self.link)

    @classmethod
    def from_requests(
        cls, reqs: Sequence[dict], now_s: Sequence[float], network: Network
    ) -> Vehicles:
        """Validated request dicts (:data:`api.schemas.ADVISORY`); ``now_s`` is the server time
        of each request (the time of a request without ``timestamp``)."""
        nan = _NAN
        link_index = network.link_index
        return cls(
            lat=np.array([r.get("lat", nan) for r in reqs], dtype=float),
            lon=np.array([r.get("lon", nan) for r in reqs], dtype=float),
            heading_deg=np.array([r.get("heading_deg", nan) for r in reqs], dtype=float),
            link=np.array(
                [link_index[r["link_id"]] if "link_id" in r else -1 for r in reqs], dtype=np.int64
            ),
            offset_m=np.array([r.get("offset_m", nan) for r in reqs], dtype=float),
            speed_kmh=np.array([r["speed_kmh"] for r in reqs], dtype=float),
            t_s=np.array(
                [
                    r["timestamp"].timestamp() if "timestamp" in r else t
                    for r, t in zip(reqs, now_s, strict=True)
                ],
                dtype=float,
            ),
            vehicle_id=[r.get("vehicle_id") for r in reqs],
            accuracy_m=np.array([_nan_if_none(r.get("accuracy_m")) for r in reqs], dtype=float),
            turn=np.array([TURN_CODE[r.get("turn", "through")] for r in reqs], dtype=np.int8),
        )


def _nan_if_none(x):
    return _NAN if x is None else x


class BatchParser:
    """Parses batch bodies for one network (see the module docstring).

    Parameters
    ----------
    network : Network
    max_batch : int, more vehicles than this: 413
    """

    def __init__(self, network: Network, max_batch: int):
        self.network = network
        self.max_batch = max_batch
        # Link ids a request may name (the model's 1..128 characters) → link index.
        self.link_index = {k: i for k, i in network.link_index.items() if 1 <= len(k) <= _MAX_TEXT}

    def __call__(self, body: bytes, now_s: float | None = None, clock: Clock = WALL) -> Vehicles:
        """A batch request body → :class:`Vehicles`.

        Raises RequestValidationError (422, with field paths) for an invalid body and
        HTTPException 413 for more than ``max_batch`` vehicles.
        """
        now_s = clock.now() if now_s is None else now_s
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        vehicles = None if doc is None else self.accept(doc, now_s, clock)
        if vehicles is None:  # the model reports the error (or accepts what accept() did not)
            reqs = parse(BATCH, body, {"network": self.network, "clock": clock})["vehicles"]
            self._check_size(len(reqs))
            vehicles = Vehicles.from_requests(reqs, [now_s] * len(reqs), self.network)
        return vehicles

    def _check_size(self, n: int) -> None:
        if n > self.max_batch:
            raise HTTPException(
                413, f"batch of {n} vehicles exceeds the maximum of {self.max_batch}"
            )

    def accept(self, doc, now_s: float, clock: Clock = WALL) -> Vehicles | None:
        """The column-wise check of a parsed batch body: :class:`Vehicles`, or None when
        anything is not plainly valid (the caller then asks the model).  Mirrors
        :class:`api.schemas.AdvisoryRequest` and ``_check_vehicle``; times are checked against
        ``clock``."""
        if type(doc) is not dict or len(doc) != 1 or type(doc.get("vehicles")) is not list:
            return None
        vs = doc["vehicles"]
        n = len(vs)
        if n == 0:
            return None
        self._check_size(n)
        if set(map(type, vs)) != {dict}:
            return None

        def column(key, default):
            return list(map(dict.get, vs, repeat(key, n), repeat(default, n)))

        numbers = {}
        for key in ("lat", "lon", "heading_deg", "offset_m", "speed_kmh"):
            col = column(key, _NAN)
            if not set(map(type, col)) <= _NUMBER:
                return None
            numbers[key] = np.array(col, dtype=np.float64)
        texts = {}
        for key in ("link_id", "timestamp", "vehicle_id"):
            col = column(key, None)
            if not set(map(type, col)) <= _TEXT:
                return None
            texts[key] = col
        accuracy = np.full(n, _NAN)
        keys_phone = 0
        for key, (lo, hi) in _PHONE_FIELDS.items():
            col = column(key, _ABSENT)
            absent = col.count(_ABSENT)
            if absent == n:  # the usual case: checked at C speed
                continue
            if not set(map(type, col)) <= _NULLABLE:
                return None
            keys_phone += n - absent
            values = np.array([x for x in col if x is not _ABSENT and x is not None], dtype=float)
            if values.size and not (np.all(values >= lo) and np.all(values <= hi)):
                return None  # (NaN fails both: orjson never gives one, the check costs nothing)
            if key == "accuracy_m":
                accuracy = np.array(
                    [_NAN if x is _ABSENT or x is None else x for x in col], dtype=np.float64
                )

        turn = np.full(n, THROUGH, dtype=np.int8)
        col = column("turn", _ABSENT)
        keys_turn = n - col.count(_ABSENT)
        if keys_turn:
            if not set(map(type, col)) <= _TURNS:
                return None
            codes = list(map(_TURN_OR_ABSENT.get, col, repeat(-1, n)))
            if min(codes) < 0:  # a name that is no turn: the model says which
                return None
            turn[:] = codes

        lat, lon, heading = numbers["lat"], numbers["lon"], numbers["heading_deg"]
        offset, speed = numbers["offset_m"], numbers["speed_kmh"]
        present = {k: ~np.isnan(v) for k, v in numbers.items()}
        for k, col in texts.items():
            present[k] = np.array(list(map(operator.is_not, col, repeat(None, n))), dtype=bool)
        # An unknown field, or a null where none is allowed, is a key that no column holds.
        keys = sum(int(p.sum()) for p in present.values()) + keys_phone + keys_turn
        if sum(map(len, vs)) != keys:
            return None
        if not present["speed_kmh"].all():
            return None
        gps_any = present["lat"] | present["lon"] | present["heading_deg"]
        gps = present["lat"] & present["lon"] & present["heading_deg"]
        by_link_any = present["link_id"] | present["offset_m"]
        by_link = present["link_id"] & present["offset_m"]
        if not np.all((gps & ~by_link_any) | (by_link & ~gps_any)):
            return None
        with np.errstate(invalid="ignore"):  # NaN marks an absent value: never out of range
            if (
                any(np.isinf(v).any() for v in numbers.values())
                or np.any((lat < -90.0) | (lat > 90.0))
                or np.any((lon < -180.0) | (lon > 180.0))
                or np.any((heading < 0.0) | (heading >= 360.0))
                or np.any(offset < 0.0)
                or np.any((speed < 0.0) | (speed > MAX_SPEED_KMH))
            ):
                return None

        link = np.full(n, -1, dtype=np.int64)
        rows = np.flatnonzero(by_link)
        if rows.size:
            ids = texts["link_id"]
            found = np.fromiter(
                map(
                    self.link_index.get, map(ids.__getitem__, rows.tolist()), repeat(-1, rows.size)
                ),
                dtype=np.int64,
                count=rows.size,
            )
            if (found < 0).any():
                return None
            if np.any(offset[rows] > self.network.link_length_m[found] + 1e-6):
                return None
            link[rows] = found

        vid = texts["vehicle_id"]
        if max(map(len, filter(None, vid)), default=0) > _MAX_TEXT:
            return None

        t = np.full(n, now_s)
        rows = np.flatnonzero(present["timestamp"])
        if rows.size:
            ts = texts["timestamp"]
            given = [ts[i] for i in rows.tolist()]
            try:
                parsed = {s: parse_iso(s, clock).timestamp() for s in set(given)}
            except ValueError:
                return None
            t[rows] = [parsed[s] for s in given]
        return Vehicles(lat, lon, heading, link, offset, speed, t, vid, accuracy, turn)
