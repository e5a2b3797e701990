"""GET /v1/network: GeoJSON a client can draw."""

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(Settings(state_dir=tmp_path_factory.mktemp("s")))) as c:
        yield c


def test_geojson(client):
    r = client.get("/v1/network")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    links = [f for f in fc["features"] if f["properties"]["kind"] == "link"]
    points = [f for f in fc["features"] if f["properties"]["kind"] == "intersection"]
    # 2 × 9 arterial links, 4 cross-street links at each of the 8 signals
    assert len(links) == 18 + 4 * 8 and len(points) == 8
    f1 = next(f for f in links if f["id"] == "renmin_f1")
    assert f1["geometry"]["type"] == "LineString" and len(f1["geometry"]["coordinates"]) >= 2
    lon, lat = f1["geometry"]["coordinates"][0]
    assert 117 < lon < 119 and 36 < lat < 37.5
    p = f1["properties"]
    assert p["speed_limit_kmh"] == 60.0 and p["intersection_id"] == "xiwu"
    assert p["signal_group"] == "EW" and p["next_link_id"] == "renmin_f2"
    exit_ = next(f for f in links if f["id"] == "renmin_f8")["properties"]
    assert exit_["intersection_id"] is None and exit_["next_link_id"] is None
    pt = next(f for f in points if f["id"] == "xisi")
    assert pt["geometry"]["type"] == "Point" and pt["properties"]["name"] == "人民路/西四路"


def test_etag(client):
    r = client.get("/v1/network")
    etag = r.headers["etag"]
    r2 = client.get("/v1/network", headers={"If-None-Match": etag})
    assert r2.status_code == 304 and not r2.content
