"""/healthz, /v1/ping, /metrics and the OpenAPI document."""

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(Settings(state_dir=tmp_path_factory.mktemp("s")))) as c:
        yield c


def test_healthz(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["scenario"] == "zibo_arterial"
    # 2 × 9 arterial links, 4 cross-street links at each of the 8 signals
    assert h["intersections"] == 8 and h["links"] == 18 + 4 * 8
    assert h["plans_updated_at"] is None and h["plans_age_s"] >= 0
    assert h["state"]["ok"] is True and h["state"]["file"].endswith("zibo_arterial.state.json")


def test_ping(client):
    assert client.get("/v1/ping").json() == {"ok": True}


def test_metrics_count_requests_per_route(client):
    for _ in range(3):
        client.post(
            "/v1/advisory", json={"link_id": "renmin_f1", "offset_m": 1.0, "speed_kmh": 30.0}
        )
    client.get("/v1/intersections/xisi")
    client.get("/v1/intersections/nope")
    text = client.get("/metrics").text
    assert (
        'greenwave_http_requests_total{method="POST",route="/v1/advisory",status="200"} 3.0' in text
    )
    assert 'route="/v1/intersections/{intersection_id}",status="404"' in text
    assert (
        'greenwave_http_request_duration_seconds_bucket{le="0.005",method="POST",'
        'route="/v1/advisory"}' in text
    )
    assert "greenwave_microbatch_size_count" in text
    assert "greenwave_plans_age_seconds" in text


def test_openapi_documents_bodies_and_examples(client):
    doc = client.get("/openapi.json").json()
    ops = doc["paths"]
    body = ops["/v1/advisory"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][name]
    assert {"lat", "lon", "heading_deg", "speed_kmh", "link_id", "offset_m", "timestamp"} <= set(
        schema["properties"]
    )
    assert schema["examples"]
    for path in (
        "/v1/advisories/batch",
        "/v1/intersections/{intersection_id}/plan",
        "/v1/intersections/{intersection_id}/spat",
    ):
        op = ops[path].get("post") or ops[path].get("put")
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    assert "401" in ops["/v1/intersections/{intersection_id}/plan"]["put"]["responses"]
    assert client.get("/docs").status_code == 200
