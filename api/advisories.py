"""What the service answers for N vehicles, as columns: the core's advice as told
(:class:`greenwave.messages.RecordColumns`) plus the service's own fields.

Computed by :class:`api.advisor.Advisor`, written as JSON by :class:`api.encode.Encoder`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenwave.bands import STATUS_NAMES as CORE_STATUS_NAMES
from greenwave.messages import RecordColumns

OFF_NETWORK = len(CORE_STATUS_NAMES)
"""Status code of a vehicle not matched to the network (after the core's codes)."""
STATUS_NAMES = (*CORE_STATUS_NAMES, "off_network")

OFF_NETWORK_MESSAGE = {
    "zh": "当前位置不在路网上,暂无车速建议",
    "en": "Position is not on a mapped road: no speed advice",
}


@dataclass(frozen=True)
class Advisories(RecordColumns):
    """The advisories of N vehicles (the fields of :class:`api.schemas.Advisory`).

    The fields of :class:`~greenwave.messages.RecordColumns` for every vehicle (``status`` codes
    into :data:`STATUS_NAMES`, which adds ``off_network``; off the network and beyond the
    advisory range there is no band, option or plan), plus:

    Attributes
    ----------
    vehicle_id : list of N str or None
    link : (N,) int64, matched link, -1 off the network
    offset_m, lateral_m : (N,) float64 (NaN: null)
    snapped_lat, snapped_lon : (N,) float64, NaN off the network
    timestamp : list of N str, time each advisory is for (ISO 8601)
    valid_for_s : float
    generated_at : str
    turn : (N,) int8, the movement the advice is for (:data:`greenwave.movements.TURN_NAMES`)
    signal_group : (N,) int64, global signal group whose green the advice targets (index into
        ``PlanTable.group_keys``), -1 when no signal is ahead
    refused : dict of row → reason, the vehicles whose ``turn`` the approach at their
        position does not have (their other columns are the straight-on advice and must not be
        sent: the request is a 422, see :class:`api.advisor.Refusal`)
    """

    vehicle_id: list
    link: np.ndarray
    offset_m: np.ndarray
    lateral_m: np.ndarray
    snapped_lat: np.ndarray
    snapped_lon: np.ndarray
    timestamp: list
    valid_for_s: float
    generated_at: str
    turn: np.ndarray
    signal_group: np.ndarray
    refused: dict[int, str]

    def status_counts(self) -> dict[str, int]:
        """Advisories answered per status name (refused vehicles are not answered)."""
        status = self.status
        if self.refused:
            status = np.delete(status, list(self.refused))
        counts = np.bincount(status, minlength=len(STATUS_NAMES)).tolist()
        return {name: c for name, c in zip(STATUS_NAMES, counts, strict=True) if c}


def scatter(c: RecordColumns, rows: np.ndarray, n: int) -> dict:
    """The columns of ``c`` (for ``rows`` of N vehicles) as N-row columns, the other rows off
    the network: status :data:`OFF_NETWORK`, no signal (-1), NaN, no plan and message 0, which
    is :data:`OFF_NETWORK_MESSAGE` (``c``'s messages follow it).  Arrays are not copied when
    ``rows`` are all N."""
    messages = [OFF_NETWORK_MESSAGE, *c.messages]
    if rows.size == n:
        return {
            **c.__dict__,
            "status": c.status.astype(np.int64),
            "message": c.message + 1,
            "messages": messages,
        }

    def put(values, fill):
        out = np.full((n, *values.shape[1:]), fill, dtype=values.dtype)
        out[rows] = values
        return out

    nan = np.nan
    reason = [None] * n
    for i, r in zip(rows.tolist(), c.reason, strict=True):
        reason[i] = r
    return {
        "status": put(c.status.astype(np.int64), OFF_NETWORK),
        "reason": reason,
        "intersection": put(c.intersection, -1),
        "distance_m": put(c.distance_m, nan),
        "signal_state": put(c.signal_state, -1),
        "time_to_change_s": put(c.time_to_change_s, nan),
        "time_to_change_min_s": put(c.time_to_change_min_s, nan),
        "time_to_change_max_s": put(c.time_to_change_max_s, nan),
        "band_min_kmh": put(c.band_min_kmh, nan),
        "band_max_kmh": put(c.band_max_kmh, nan),
        "option_min_kmh": put(c.option_min_kmh, nan),
        "option_max_kmh": put(c.option_max_kmh, nan),
        "message": put(c.message + 1, 0),
        "messages": messages,
        "plan_kind": put(c.plan_kind, 0),
        "plan": {k: put(col, nan) for k, col in c.plan.items()},
    }
