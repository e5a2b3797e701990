"""Property-based API test: schemathesis generates requests from ``/openapi.json`` (bounded
examples per operation) and runs every check it has, not only "no 5xx": responses conform to
the documented status codes, content types, headers and schemas; requests the schema allows are
accepted and requests it forbids are rejected; undocumented methods get 405 with a complete
``Allow``; writes enforce their bearer token.

Two rules cannot be written in a static JSON Schema and are given to the generator instead,
through schemathesis's own extension points: a ``date-time`` must lie in the server clock's
window (24 h around now; documented in each time field), and a link's ``offset_m`` must lie on
*that* link (documented in ``offset_m``; the schema's ``link_id`` is any id of
``GET /v1/network``).  Everything else the generator draws from the schema alone.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis")
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta, timezone  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from greenwave.api.main import create_app  # noqa: E402
from greenwave.api.settings import Settings  # noqa: E402
from greenwave.network import World  # noqa: E402
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario  # noqa: E402

_STATE = tempfile.mkdtemp(prefix="greenwave-schemathesis-")
APP = create_app(Settings(state_dir=_STATE, token="schema-token", max_batch=50))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# Times the wall clock accepts: within 23 h of now (a margin for the test's own duration), in
# the offsets and precisions phones and controllers send.
_NOW = datetime.fromtimestamp(time.time(), tz=UTC).replace(tzinfo=None)
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])


def _rfc3339(t: datetime) -> str:
    text = t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")
    return text.replace("+00:00", "Z")


schemathesis.openapi.format(
    "date-time",
    st.builds(
        lambda t, zone: _rfc3339(t.replace(tzinfo=UTC).astimezone(zone)),
        st.datetimes(min_value=_NOW - timedelta(hours=23), max_value=_NOW + timedelta(hours=23)),
        _ZONES,
    ),
)

_NET = World.build(load_scenario(DEFAULT_SCENARIO)).network
_LENGTH = dict(zip(_NET.link_ids, _NET.link_length_m.tolist(), strict=True))


def _on_the_link(vehicle):
    """A positive case's vehicle on a link: a real link, the offset folded onto it."""
    if isinstance(vehicle, dict) and "link_id" in vehicle and "offset_m" in vehicle:
        vehicle = dict(vehicle)
        if vehicle["link_id"] not in _LENGTH:
            vehicle["link_id"] = _NET.link_ids[len(vehicle["link_id"]) % _NET.n_links]
        length = _LENGTH[vehicle["link_id"]]
        if isinstance(vehicle["offset_m"], (int, float)) and vehicle["offset_m"] > length:
            vehicle["offset_m"] = vehicle["offset_m"] % length
    return vehicle


@schemathesis.hook
def map_case(ctx, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    if case.path == "/v1/advisory":
        case.body = _on_the_link(case.body)
    elif case.path == "/v1/advisories/batch" and isinstance(case.body.get("vehicles"), list):
        case.body = {**case.body, "vehicles": [_on_the_link(v) for v in case.body["vehicles"]]}
    return case


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms(case):
    case.call_and_validate()


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_with_token(case):
    """Writes with the right token reach body validation and the store."""
    case.call_and_validate(headers={"Authorization": "Bearer schema-token"})
