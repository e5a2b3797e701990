"""JSON encoding of advisories computed as columns (:class:`api.advisories.Advisories`).

Two formats:

* :meth:`Encoder.items` — one JSON object per vehicle (the :class:`api.schemas.Advisory` fields),
  as bytes.  No dict is built per vehicle: every numeric column is formatted by orjson in one call
  (``NaN`` → ``null``) and cut into per-vehicle pieces; strings that repeat (intersections, link
  ids, messages, reasons) are encoded once per distinct value; each object is then one
  ``bytes % (...)`` of a template.  Same JSON values as ``orjson.dumps`` of the dicts of
  :func:`greenwave.messages.records` plus the service's fields (``tests/test_api_records.py``).
* :meth:`Encoder.columns` — ``?format=columns`` of the batch endpoint: one array per field
  (:class:`api.schemas.BatchColumns`), numeric arrays written by orjson straight from numpy.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import orjson

from greenwave.messages import PLAN_FIELDS
from greenwave.movements import TURN_NAMES
from greenwave.plans import PLAN_NAMES
from greenwave.timing import STATE_NAMES
from greenwave.units import ms_to_kmh

from .advisories import Advisories

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_NULL = b"null"
_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # what JSON strings escape
MESSAGES_MAX_BYTES = 8 << 20
"""Memory the cache of encoded messages may hold (bytes: the encoded JSON and its key strings,
as ``sys.getsizeof`` counts them); the cache is emptied when it would grow beyond this.  Messages
carry the distance to the stop line, so a busy city has tens of thousands of distinct ones."""


def exact(text: bytes) -> bytes:
    """An exact-size copy of an ``orjson.dumps`` result, for anything kept for long: orjson's
    bytes keep its whole write buffer (about 4 KiB, however short the text)."""
    return bytes(memoryview(text))


def pieces(values: np.ndarray) -> list[bytes]:
    """orjson's text of each element of a 1-D float array (``null`` for NaN and ±inf).

    Numbers never contain a comma, so the text of the whole array splits into its elements.
    """
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.size == 0:
        return []
    return orjson.dumps(arr, option=_NUMPY)[1:-1].split(b",")


def texts(values: list) -> list[bytes]:
    """JSON text of each str-or-None, each distinct value encoded once."""
    enc = {v: orjson.dumps(v) for v in set(values)}
    return list(map(enc.__getitem__, values))


def strings(values: list) -> list[bytes]:
    """JSON text of each str-or-None of a column of mostly distinct values (vehicle ids).

    A string without a character that JSON escapes (``"``, ``\\``, control characters) is its
    UTF-8 bytes in quotes, which is much cheaper than one ``orjson.dumps`` call per value.
    """
    types = set(map(type, values))
    if types == {str} and _ESCAPED.search("".join(values)) is None:
        return [b'"' + v.encode() + b'"' for v in values]
    if types == {type(None)}:
        return [_NULL] * len(values)
    return texts(values)


def iso_column(t_s: np.ndarray) -> list[str]:
    """ISO 8601 UTC text of each time (s), millisecond precision: :func:`api.schemas.iso` on
    a whole array (rounded to the microsecond half-even, then cut to the millisecond, as
    ``datetime.fromtimestamp(...).isoformat(timespec="milliseconds")``)."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size and (t == t[0]).all():  # one time for all (a batch without timestamps)
        return [_iso_ms(t[:1])[0]] * t.size
    return _iso_ms(t)


def _iso_ms(t: np.ndarray) -> list[str]:
    whole = np.floor(t)
    us = np.rint((t - whole) * 1e6).astype(np.int64)
    ms = whole.astype(np.int64) * 1000 + us // 1000
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
    return [s + "Z" for s in text.tolist()]


def _template(text: bytes) -> bytes:
    return text.replace(b"%", b"%%")


class Encoder:
    """Encodes :class:`api.advisories.Advisories`; holds the network's pre-encoded pieces.

    Parameters
    ----------
    network : Network
    status_names : names of the status codes of :class:`api.advisories.Advisories`
    group_ids : id of each global signal group (``PlanTable.group_keys``), for ``signal_group``
    """

    def __init__(self, network, status_names: tuple[str, ...], group_ids=()):
        self.status_names = status_names
        self._status = [exact(orjson.dumps(s)) for s in status_names]
        # Index -1 (no link / no intersection) picks the trailing null.
        self._link = [exact(orjson.dumps(i)) for i in network.link_ids] + [_NULL]
        self._inter = [
            exact(orjson.dumps({"id": i, "name": n}))
            for i, n in zip(network.intersection_ids, network.intersection_names, strict=True)
        ] + [_NULL]
        limit = np.round(ms_to_kmh(network.link_speed_limit_ms), 6)
        self._limit = [*pieces(limit), _NULL]
        self._limit_kmh = np.append(limit, np.nan)
        self._link_ids = np.array([*list(network.link_ids), None], dtype=object)
        self._inter_ids = np.array([*list(network.intersection_ids), None], dtype=object)
        self._inter_names = np.array([*list(network.intersection_names), None], dtype=object)
        self._states = np.array([*list(STATE_NAMES), None], dtype=object)
        self._turn = [exact(orjson.dumps(t)) for t in TURN_NAMES]
        self._turn_names = np.array(TURN_NAMES, dtype=object)
        # Index -1 (no signal ahead) picks the trailing null.
        self._group = [exact(orjson.dumps(g)) for g in group_ids] + [_NULL]
        self._group_ids = np.array([*list(group_ids), None], dtype=object)
        self._signal = [
            _template(b'{"state":%s,' % orjson.dumps(s))
            + b'"time_to_change_s":%s,"time_to_change_min_s":%s,'
            b'"time_to_change_max_s":%s}'
            for s in STATE_NAMES
        ]
        self._plan_kinds = [exact(orjson.dumps(k)) for k in PLAN_NAMES]
        self._plan_names = np.array([None, *PLAN_NAMES[1:]], dtype=object)  # none → null
        self._plan = b'{"kind":%s' + b"".join(b',"%s":%%s' % k.encode() for k in PLAN_FIELDS) + b"}"
        self._no_plan = b"null" + b"%.0s" * (1 + len(PLAN_FIELDS))
        self._rows: dict[tuple[int, int], bytes] = {}
        self._messages: dict[tuple[str, str], bytes] = {}
        self.messages_bytes = 0  # what the entries of _messages hold (see MESSAGES_MAX_BYTES)

    # ------------------------------------------------------------------ one object per vehicle
    def items(self, a: Advisories) -> list[bytes]:
        """One JSON object per vehicle (``bytes``), in order.

        Every vehicle's pieces go into one ``bytes % (...)``.  The template depends on which
        optional objects the vehicle has (signal state, band, options, plan, snapped position):
        absent ones are written ``null`` (or left out of ``options``) and their pieces swallowed by
        ``%.0s``, so that every row takes the same pieces in the same order.
        """
        n = len(a.status)
        if n == 0:
            return []
        k = a.option_min_kmh.shape[1]
        on = a.link >= 0
        opt_ok = ~np.isnan(a.option_min_kmh)
        has_plan = a.plan_kind > 0
        pattern = np.where(a.signal_state < 0, len(STATE_NAMES), a.signal_state) + (
            len(STATE_NAMES) + 1
        ) * (
            ~np.isnan(a.band_min_kmh)
            + 2 * (on + 2 * (has_plan + 2 * (opt_ok * (1 << np.arange(k))).sum(axis=1)))
        )
        pattern = pattern.tolist()
        tail = (
            b',"valid_for_s":'
            + _template(orjson.dumps(a.valid_for_s))
            + b',"timestamp":%s,"generated_at":'
            + _template(orjson.dumps(a.generated_at))
            + b"}"
        )
        tmpl = {p: self._row_template(k, p) + tail for p in set(pattern)}

        links = a.link.tolist()
        msg_json = self._encode_messages(a.messages)
        cols = [
            list(map(self._status.__getitem__, a.status.tolist())),
            texts(a.reason),
            list(map(self._inter.__getitem__, a.intersection.tolist())),
            list(map(self._turn.__getitem__, a.turn.tolist())),
            list(map(self._group.__getitem__, a.signal_group.tolist())),
            pieces(a.distance_m),
            pieces(a.time_to_change_s),
            pieces(a.time_to_change_min_s),
            pieces(a.time_to_change_max_s),
            pieces(a.band_min_kmh),
            pieces(a.band_max_kmh),
        ]
        for j in range(k):
            cols += [pieces(a.option_min_kmh[:, j]), pieces(a.option_max_kmh[:, j])]
        cols += [list(map(self._plan_kinds.__getitem__, a.plan_kind.tolist()))]
        cols += [pieces(a.plan[f]) for f in PLAN_FIELDS]
        cols += [
            list(map(msg_json.__getitem__, a.message.tolist())),
            strings(a.vehicle_id),
            list(map(self._link.__getitem__, links)),
            pieces(a.offset_m),
            pieces(a.lateral_m),
            pieces(a.snapped_lat),
            pieces(a.snapped_lon),
            list(map(self._limit.__getitem__, links)),
            texts(a.timestamp),
        ]
        return [tmpl[p] % row for p, row in zip(pattern, zip(*cols, strict=True), strict=True)]

    def batch(self, a: Advisories) -> bytes:
        """The batch response (:class:`api.schemas.BatchResponse`)."""
        head = b'{"count":%d,"generated_at":%s,"advisories":[' % (
            len(a.status),
            orjson.dumps(a.generated_at),
        )
        items = self.items(a)
        if not items:
            return head + b"]}"
        items[0] = head + items[0]  # one copy of the whole body: the join
        items[-1] += b"]}"
        return b",".join(items)

    def _encode_messages(self, messages: list[dict]) -> list[bytes]:
        """The JSON of each ``{zh, en}`` message, through a cache bounded in bytes (exact-size
        copies: see :func:`exact`)."""
        cache = self._messages
        out = []
        for m in messages:
            key = (m["zh"], m["en"])
            enc = cache.get(key)
            if enc is None:
                enc = exact(orjson.dumps(m))
                size = sys.getsizeof(enc) + sys.getsizeof(key[0]) + sys.getsizeof(key[1])
                if self.messages_bytes + size > MESSAGES_MAX_BYTES:
                    cache.clear()
                    self.messages_bytes = 0
                cache[key] = enc
                self.messages_bytes += size
            out.append(enc)
        return out

    def _row_template(self, k: int, pattern: int) -> bytes:
        """The template of a vehicle object up to ``speed_limit_kmh`` (see :meth:`items`)."""
        t = self._rows.get((k, pattern))
        if t is not None:
            return t
        n_states = len(STATE_NAMES)
        state, rest = pattern % (n_states + 1), pattern // (n_states + 1)
        has_band, on, has_plan, mask = rest & 1, rest >> 1 & 1, rest >> 2 & 1, rest >> 3
        signal = self._signal[state] if state < n_states else b"null%.0s%.0s%.0s"
        band = b'{"min_kmh":%s,"max_kmh":%s}' if has_band else b"null%.0s%.0s"
        options, seen = [], False
        for j in range(k):
            if mask >> j & 1:
                options.append(
                    (b"," if seen else b"")
                    + b'{"intersections":%d,"min_kmh":%%s,"max_kmh":%%s}' % (j + 1)
                )
                seen = True
            else:
                options.append(b"%.0s%.0s")
        snapped = b'{"lat":%s,"lon":%s}' if on else b"null%.0s%.0s"
        t = self._rows[(k, pattern)] = (
            b'{"status":%s,"reason":%s,"intersection":%s,"turn":%s,"signal_group":%s,'
            b'"distance_m":%s,"signal":'
            + signal
            + b',"band":'
            + band
            + b',"options":['
            + b"".join(options)
            + b'],"plan":'
            + (self._plan if has_plan else self._no_plan)
            + b',"message":%s,'
            b'"vehicle_id":%s,"link_id":%s,"offset_m":%s,"lateral_m":%s,"snapped":'
            + snapped
            + b',"speed_limit_kmh":%s'
        )
        return t

    # ------------------------------------------------------------------ columns
    def columns(self, a: Advisories) -> bytes:
        """The batch response as one array per field (:class:`api.schemas.BatchColumns`)."""
        names = np.array(self.status_names, dtype=object)
        msg_zh = np.array([m["zh"] for m in a.messages], dtype=object)
        msg_en = np.array([m["en"] for m in a.messages], dtype=object)
        band = ~np.isnan(a.band_min_kmh)
        arr = np.ascontiguousarray  # orjson writes C-contiguous arrays only
        cols = {
            "status": names[a.status].tolist(),
            "reason": a.reason,
            "vehicle_id": a.vehicle_id,
            "link_id": self._link_ids[a.link].tolist(),
            "offset_m": arr(a.offset_m),
            "lateral_m": arr(a.lateral_m),
            "snapped_lat": arr(a.snapped_lat),
            "snapped_lon": arr(a.snapped_lon),
            "intersection_id": self._inter_ids[a.intersection].tolist(),
            "intersection_name": self._inter_names[a.intersection].tolist(),
            "turn": self._turn_names[a.turn].tolist(),
            "signal_group": self._group_ids[a.signal_group].tolist(),
            "distance_m": arr(a.distance_m),
            "signal_state": self._states[a.signal_state].tolist(),
            "time_to_change_s": arr(a.time_to_change_s),
            "time_to_change_min_s": arr(a.time_to_change_min_s),
            "time_to_change_max_s": arr(a.time_to_change_max_s),
            "band_min_kmh": arr(a.band_min_kmh),
            "band_max_kmh": arr(np.where(band, a.band_max_kmh, np.nan)),
            "options_min_kmh": arr(a.option_min_kmh),
            "options_max_kmh": arr(np.where(np.isnan(a.option_min_kmh), np.nan, a.option_max_kmh)),
            "plan_kind": self._plan_names[a.plan_kind].tolist(),
            **{"plan_" + f: arr(a.plan[f]) for f in PLAN_FIELDS},
            "message_zh": msg_zh[a.message].tolist(),
            "message_en": msg_en[a.message].tolist(),
            "speed_limit_kmh": arr(self._limit_kmh[a.link]),
            "timestamp": a.timestamp,
        }
        return orjson.dumps(
            {
                "count": len(a.status),
                "generated_at": a.generated_at,
                "valid_for_s": a.valid_for_s,
                "columns": cols,
            },
            option=_NUMPY,
        )
