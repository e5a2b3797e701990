"""POST /v1/advisories/batch: ten thousand vehicles through one core call."""

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

import api.advisor
from api.main import create_app
from api.settings import Settings


@pytest.fixture(scope="module")
def city(tmp_path_factory, root):
    app = create_app(Settings(scenario=root / "scenarios" / "zibo_city.toml",
                              state_dir=tmp_path_factory.mktemp("state"), max_batch=12_000))
    with TestClient(app) as c:
        yield c


def vehicles(svc, n, seed=1):
    net = svc.world.network
    rng = np.random.default_rng(seed)
    link = rng.integers(0, net.n_links, n)
    off = rng.uniform(0.05, 0.95, n) * net.link_length_m[link]
    lon, lat, brg = svc.advisor.matcher.locate(link, off)
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append({"link_id": net.link_ids[link[i]], "offset_m": float(off[i]),
                        "speed_kmh": float(rng.uniform(0, 60)), "vehicle_id": f"v{i}"})
        else:
            out.append({"lat": float(lat[i]), "lon": float(lon[i]),
                        "heading_deg": float(brg[i]) % 360.0,
                        "speed_kmh": float(rng.uniform(0, 60)), "vehicle_id": f"v{i}"})
    return out


def test_ten_thousand_vehicles_in_one_core_call(city, monkeypatch):
    svc = city.app.state.service
    calls = []
    real = api.advisor.advise

    def counting(*args, **kw):
        calls.append(len(args[3]))
        return real(*args, **kw)

    monkeypatch.setattr(api.advisor, "advise", counting)
    vs = vehicles(svc, 10_000)
    r = city.post("/v1/advisories/batch", json={"vehicles": vs})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 10_000 and len(body["advisories"]) == 10_000
    assert calls == [10_000]  # one vectorised call, not a loop
    assert [a["vehicle_id"] for a in body["advisories"]] == [v["vehicle_id"] for v in vs]
    statuses = {a["status"] for a in body["advisories"]}
    assert {"advice", "prepare_to_stop"} <= statuses
    assert all(a["status"] != "off_network" for a in body["advisories"])


def test_batch_equals_single(city):
    svc = city.app.state.service
    vs = vehicles(svc, 30, seed=5)
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
    for v in vs:
        v["timestamp"] = ts
    batch = city.post("/v1/advisories/batch", json={"vehicles": vs}).json()["advisories"]
    for v, b in zip(vs, batch):
        s = city.post("/v1/advisory", json=v).json()
        s.pop("generated_at"), b.pop("generated_at")
        assert s == b


def test_oversize_batch_is_413(tmp_path, root):
    app = create_app(Settings(state_dir=tmp_path, max_batch=5))
    with TestClient(app) as c:
        v = {"link_id": "renmin_f1", "offset_m": 1.0, "speed_kmh": 30.0}
        assert c.post("/v1/advisories/batch", json={"vehicles": [v] * 5}).status_code == 200
        r = c.post("/v1/advisories/batch", json={"vehicles": [v] * 6})
        assert r.status_code == 413 and "maximum of 5" in r.json()["detail"]
        r = c.post("/v1/advisories/batch", content=b"[" + b" " * 3_000_000 + b"]")
        assert r.status_code == 413


@pytest.mark.parametrize("vehicles_json,loc", [
    ('[]', ["body", "vehicles"]),
    ('[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, {"lat": NaN, "lon": 118, '
     '"heading_deg": 1, "speed_kmh": 3}]', ["body", "vehicles", 1, "lat"]),
    ('[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, {"link_id": "x", "offset_m": 1, '
     '"speed_kmh": 3}]', ["body", "vehicles", 1, "link_id"]),
    ('[{"link_id": "renmin_f1", "offset_m": 9999, "speed_kmh": 3}]',
     ["body", "vehicles", 0, "offset_m"]),
    ('"nope"', ["body", "vehicles"]),
])
def test_batch_errors_name_the_vehicle(tmp_path, vehicles_json, loc):
    app = create_app(Settings(state_dir=tmp_path))
    with TestClient(app) as c:
        r = c.post("/v1/advisories/batch", content=f'{{"vehicles": {vehicles_json}}}',
                   headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == loc
        json.dumps(r.json(), allow_nan=False)  # the error body itself is valid JSON
