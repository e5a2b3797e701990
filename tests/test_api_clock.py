"""The service's clock: wall (request times within 24 h of now) or scenario (the scenario's
time span, looping), and every OpenAPI example answered under both."""

import json
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from greenwave.api.clock import Clock
from greenwave.api.main import create_app
from greenwave.api.settings import Settings

START = datetime(2026, 11, 23, 7, 30, tzinfo=UTC).timestamp() - 8 * 3600  # 07:30 +08:00
AUTH = {"Authorization": "Bearer tok"}


def iso(t):
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module", params=["wall", "scenario"])
def client(tmp_path_factory, request):
    s = Settings(state_dir=tmp_path_factory.mktemp("state"), token="tok", clock=request.param)
    with TestClient(create_app(s)) as c:
        yield c


@pytest.fixture(scope="module")
def scenario_client(tmp_path_factory):
    s = Settings(state_dir=tmp_path_factory.mktemp("state"), token="tok", clock="scenario")
    with TestClient(create_app(s)) as c:
        yield c


def test_scenario_clock_runs_through_the_span_and_loops(monkeypatch):
    clock = Clock("scenario", START, 3600.0, started_s=1000.0)
    monkeypatch.setattr(time, "time", lambda: 1000.0 + 125.5)
    assert clock.now() == START + 125.5
    monkeypatch.setattr(time, "time", lambda: 1000.0 + 3600.0 + 10.0)
    assert clock.now() == START + 10.0  # started again
    assert clock.window() == (START, START + 3600.0)
    clock.check(START)
    clock.check(START + 3600.0)
    with pytest.raises(ValueError, match="scenario's time"):
        clock.check(START - 0.001)
    wall = Clock("wall")
    wall.check(time.time() + 86_000)
    with pytest.raises(ValueError, match="within 24 h"):
        wall.check(time.time() - 86_500)


def test_scenario_times_are_accepted_anywhere_in_the_span(scenario_client):
    c = scenario_client
    h = c.get("/healthz").json()["clock"]
    assert h["kind"] == "scenario"
    assert h["accepts_from"] == "2026-11-22T23:30:00.000Z"
    assert h["accepts_until"] == "2026-11-23T00:30:00.000Z"
    assert h["utc_offset_s"] == 8 * 3600  # the scenario's start_time is 07:30+08:00
    now = datetime.fromisoformat(h["now"]).timestamp()
    assert START <= now <= START + 3600
    for t in ("2026-11-23T07:30:00+08:00", "2026-11-23T08:29:59.5+08:00", "2026-11-22T23:45:00Z"):
        r = c.post(
            "/v1/advisory",
            json={"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 40, "timestamp": t},
        )
        assert r.status_code == 200, r.text
        assert datetime.fromisoformat(r.json()["timestamp"]) == datetime.fromisoformat(t)
    # Outside the span: 422 naming the span, also when it is the machine's own time.
    for t in ("2026-11-23T08:30:01+08:00", iso(time.time())):
        r = c.post(
            "/v1/advisory",
            json={"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 40, "timestamp": t},
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "timestamp"]
        assert "2026-11-22T23:30:00.000Z" in r.json()["detail"][0]["msg"]
    # Without a timestamp the advice is for the scenario clock's now.
    a = c.post("/v1/advisory", json={"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 40})
    t = datetime.fromisoformat(a.json()["timestamp"]).timestamp()
    assert START <= t <= START + 3600
    assert START <= datetime.fromisoformat(a.json()["generated_at"]).timestamp() <= START + 3600
    # Query times and the batch (column-wise check and model) follow the same clock.
    r = c.get("/v1/intersections/xisi", params={"at": "2026-11-23T07:31:00+08:00"})
    assert r.status_code == 200 and r.json()["at"] == "2026-11-22T23:31:00.000Z"
    r = c.get("/v1/intersections/xisi/windows", params={"start": iso(time.time())})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "start"]
    v = {"link_id": "renmin_f2", "offset_m": 1.0, "speed_kmh": 40.0, "timestamp": iso(START + 60)}
    r = c.post("/v1/advisories/batch", json={"vehicles": [v, {**v, "offset_m": 2}]})
    assert r.status_code == 200
    r = c.post("/v1/advisories/batch", json={"vehicles": [v, {**v, "timestamp": iso(time.time())}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
        "body",
        "vehicles",
        1,
        "timestamp",
    ]


def test_spat_on_the_scenario_clock(scenario_client):
    """Relative SPaT times count from the scenario clock's now, and do not expire at once."""
    c = scenario_client
    spat = {
        "groups": [
            {
                "signal_group": "EW",
                "events": [
                    {"state": "red", "min_end_in_s": 100, "max_end_in_s": 110},
                    {"state": "green", "min_end_in_s": 150, "max_end_in_s": 160},
                ],
            }
        ]
    }
    assert c.post("/v1/intersections/xiwu/spat", json=spat, headers=AUTH).status_code == 200
    other = {
        "groups": [
            {
                "signal_group": "NS",
                "events": [{"state": "green", "min_end_in_s": 20, "max_end_in_s": 30}],
            }
        ]
    }
    assert c.post("/v1/intersections/xisi/spat", json=other, headers=AUTH).status_code == 200
    assert c.get("/healthz").json()["state"]["spat_groups"] == 2
    g = c.get("/v1/intersections/xiwu").json()["groups"]
    ew = next(x for x in g if x["signal_group"] == "EW")
    assert ew["source"] == "spat" and ew["state"] == "red"
    assert 90 < ew["time_to_change_min_s"] <= 100


def test_wall_clock_rejects_the_scenario_date(tmp_path):
    with TestClient(create_app(Settings(state_dir=tmp_path))) as c:
        assert c.get("/healthz").json()["clock"]["kind"] == "wall"
        r = c.post(
            "/v1/advisory",
            json={
                "link_id": "renmin_f2",
                "offset_m": 1,
                "speed_kmh": 40,
                "timestamp": "2020-11-23T07:31:05+08:00",
            },
        )
        assert r.status_code == 422 and "24 h" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T07:31",
        "2026-11-23 07:31:05+08:00",
        "2026-11-23T07:31:05",
        "07:31:05Z",
        "2026-13-23T07:31:05Z",
        "2026-11-23T07:31:05+8:00",
    ],
)
def test_times_must_be_rfc3339(scenario_client, text):
    r = scenario_client.get("/v1/intersections/xisi", params={"at": text})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "at"]


@pytest.mark.parametrize(
    "text,expect",
    [
        ("2026-11-22t23:31:05z", "2026-11-22T23:31:05.000Z"),
        ("2026-11-23T07:31:05.123456789+08:00", "2026-11-22T23:31:05.123Z"),
        ("2026-11-22T23:59:60Z", "2026-11-23T00:00:00.000Z"),  # a leap second
    ],
)
def test_rfc3339_forms_are_accepted(scenario_client, text, expect):
    r = scenario_client.get("/v1/intersections/xisi", params={"at": text})
    assert r.status_code == 200 and r.json()["at"] == expect


# ------------------------------------------------------------------------- OpenAPI examples
def _resolve(doc, js):
    while isinstance(js, dict) and "$ref" in js:
        js = doc["components"]["schemas"][js["$ref"].rsplit("/", 1)[-1]]
    return js


def examples(doc):
    """(method, path, example body) of every example of every operation's request body, and
    (method, path, None) for operations without a body."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if not content:
                yield method, path, op, None
                continue
            for media in content.values():
                found = list(media.get("examples", {}).values())
                found = [e["value"] for e in found] + (
                    [media["example"]] if "example" in media else []
                )
                found += _resolve(doc, media["schema"]).get("examples", [])
                assert found, f"{method.upper()} {path} has no request example"
                for ex in found:
                    yield method, path, op, ex


def test_every_openapi_example_is_answered(client):
    """Post every example of every operation to the server (both clocks): 2xx."""
    doc = client.get("/openapi.json").json()
    seen = 0
    for method, path, op, body in examples(doc):
        params = {}
        for p in op.get("parameters", []):
            if p["in"] == "path":
                params[p["name"]] = p.get("example", "xisi")  # an intersection of the scenario
        url = path.format(**params)
        r = client.request(method, url, json=body, headers=AUTH)
        assert 200 <= r.status_code < 300, (method, url, body, r.text)
        seen += body is not None
    assert seen >= 6


def test_response_examples_are_what_the_service_answers(client):
    """The documented response examples have the fields the service answers with (FastAPI
    leaves the null ones out of the document)."""
    doc = client.get("/openapi.json").json()
    ex = doc["components"]["schemas"]["Advisory"]["examples"][0]
    a = client.post(
        "/v1/advisory", json={"link_id": "renmin_f2", "offset_m": 120.0, "speed_kmh": 38.0}
    ).json()
    fields = set(doc["components"]["schemas"]["Advisory"]["properties"])
    assert set(ex) <= set(a) == fields
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize("clock", ["wall", "scenario"])
def test_healthz_gives_the_scenarios_utc_offset(tmp_path, clock):
    """The offset of the scenario's start_time, under either clock (clients show the scenario's
    local time with it); a scenario west of Greenwich has a negative one."""
    from greenwave.scenario import DEFAULT_SCENARIO

    text = DEFAULT_SCENARIO.read_text()
    assert 'start_time = "2026-11-23T07:30:00+08:00"' in text
    west = tmp_path / "west.toml"
    west.write_text(text.replace("2026-11-23T07:30:00+08:00", "2026-11-22T18:30:00-05:00"))
    s = Settings(state_dir=tmp_path, scenario=west, clock=clock)
    with TestClient(create_app(s)) as c:
        h = c.get("/healthz").json()["clock"]
    assert h["utc_offset_s"] == -5 * 3600
    if clock == "scenario":  # the same instant as the bundled scenario's start
        assert h["accepts_from"] == "2026-11-22T23:30:00.000Z"
