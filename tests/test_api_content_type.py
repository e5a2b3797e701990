"""JSON bodies must be declared JSON: other types are 415; a missing type only if it is JSON."""

import json

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

AUTH = {"Authorization": "Bearer tok"}
FIX = {"link_id": "renmin_f2", "offset_m": 120.0, "speed_kmh": 38.0}
PLAN = {
    "cycle_s": 100.0,
    "offset_s": 7.0,
    "groups": [
        {"id": "EW", "greens_s": [[0.0, 50.0]], "conflicts": ["NS"]},
        {"id": "NS", "greens_s": [[55.0, 95.0]]},
    ],
}
SPAT = {
    "groups": [
        {"signal_group": "EW", "events": [{"state": "red", "min_end_in_s": 5, "max_end_in_s": 8}]}
    ]
}
BODIES = [
    ("POST", "/v1/advisory", FIX),
    ("POST", "/v1/advisories/batch", {"vehicles": [FIX]}),
    ("POST", "/v1/advisories/batch?format=columns", {"vehicles": [FIX]}),
    ("PUT", "/v1/intersections/liuquan/plan", PLAN),
    ("POST", "/v1/intersections/xisi/spat", SPAT),
]
IDS = [f"{m} {p}" for m, p, _ in BODIES]


@pytest.fixture(scope="module", params=[True, False], ids=["fast_path", "route_only"])
def client(tmp_path_factory, request):
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("state"), token="tok", fast_path=request.param
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("method,path,body", BODIES, ids=IDS)
@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "json",
    ],
)
def test_other_types_are_415(client, method, path, body, ctype):
    r = client.request(
        method, path, content=json.dumps(body), headers={**AUTH, "content-type": ctype}
    )
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["detail"]


@pytest.mark.parametrize("method,path,body", BODIES, ids=IDS)
@pytest.mark.parametrize(
    "ctype",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/vnd.greenwave+json",
        None,  # missing, and the body is JSON
    ],
)
def test_json_types_and_a_missing_type_are_accepted(client, method, path, body, ctype):
    headers = dict(AUTH) if ctype is None else {**AUTH, "content-type": ctype}
    r = client.request(method, path, content=json.dumps(body).encode(), headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("method,path,body", BODIES, ids=IDS)
def test_missing_type_and_not_json_is_415(client, method, path, body):
    r = client.request(method, path, content=b"speed_kmh=38&link_id=renmin_f2", headers=AUTH)
    assert r.status_code == 415
    assert "not JSON" in r.json()["detail"]


def test_json_with_errors_is_still_422(client):
    r = client.post("/v1/advisory", json={"speed_kmh": "fast"})
    assert r.status_code == 422
    r = client.post("/v1/advisory", content=b'{"speed_kmh": 1}')  # no type: JSON, invalid
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


def test_token_is_checked_before_the_type(client):
    """401 without the token, whatever the body and its type (as before)."""
    r = client.put(
        "/v1/intersections/liuquan/plan", content=b"x=1", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 401
