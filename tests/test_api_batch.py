"""POST /v1/advisories/batch: ten thousand vehicles through one core call."""

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

import greenwave.api.advisor
from greenwave.api.main import create_app
from greenwave.api.settings import Settings


@pytest.fixture(scope="module")
def city(tmp_path_factory, root):
    app = create_app(
        Settings(
            scenario=root / "scenarios" / "zibo_city.toml",
            state_dir=tmp_path_factory.mktemp("state"),
            max_batch=12_000,
        )
    )
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
            out.append(
                {
                    "link_id": net.link_ids[link[i]],
                    "offset_m": float(off[i]),
                    "speed_kmh": float(rng.uniform(0, 60)),
                    "vehicle_id": f"v{i}",
                }
            )
        else:
            out.append(
                {
                    "lat": float(lat[i]),
                    "lon": float(lon[i]),
                    "heading_deg": float(brg[i]) % 360.0,
                    "speed_kmh": float(rng.uniform(0, 60)),
                    "vehicle_id": f"v{i}",
                }
            )
    return out


def test_ten_thousand_vehicles_in_one_core_call(city, monkeypatch):
    svc = city.app.state.service
    calls = []
    real = greenwave.api.advisor.advise

    def counting(*args, **kw):
        calls.append(len(args[3]))
        return real(*args, **kw)

    monkeypatch.setattr(greenwave.api.advisor, "advise", counting)
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
    for v, b in zip(vs, batch, strict=True):
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


@pytest.mark.parametrize(
    "vehicles_json,loc",
    [
        ("[]", ["body", "vehicles"]),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, {"lat": NaN, "lon": 118, '
            '"heading_deg": 1, "speed_kmh": 3}]',
            ["body", "vehicles", 1, "lat"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, '
            '{"link_id": "x", "offset_m": 1, "speed_kmh": 3}]',
            ["body", "vehicles", 1, "link_id"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 9999, "speed_kmh": 3}]',
            ["body", "vehicles", 0, "offset_m"],
        ),
        ('"nope"', ["body", "vehicles"]),
    ],
)
def test_batch_errors_name_the_vehicle(tmp_path, vehicles_json, loc):
    app = create_app(Settings(state_dir=tmp_path))
    with TestClient(app) as c:
        r = c.post(
            "/v1/advisories/batch",
            content=f'{{"vehicles": {vehicles_json}}}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == loc
        json.dumps(r.json(), allow_nan=False)  # the error body itself is valid JSON


def test_columns_format_holds_the_same_advisories(city):
    svc = city.app.state.service
    vs = vehicles(svc, 500, seed=9)
    vs[3] = {"lat": 36.9, "lon": 118.3, "heading_deg": 90.0, "speed_kmh": 30.0}  # off network
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
    for v in vs:
        v["timestamp"] = ts
    items = city.post("/v1/advisories/batch", json={"vehicles": vs}).json()
    r = city.post("/v1/advisories/batch?format=columns", json={"vehicles": vs})
    assert r.status_code == 200
    cols = r.json()
    assert cols["count"] == 500 and len(cols["columns"]["status"]) == 500
    c = cols["columns"]
    for i, a in enumerate(items["advisories"]):
        assert c["status"][i] == a["status"] and c["reason"][i] == a["reason"]
        assert c["vehicle_id"][i] == a["vehicle_id"] and c["link_id"][i] == a["link_id"]
        for f in ("offset_m", "lateral_m", "distance_m", "speed_limit_kmh", "timestamp"):
            assert c[f][i] == a[f], f
        assert c["snapped_lat"][i] == (a["snapped"] or {}).get("lat")
        assert c["intersection_id"][i] == (a["intersection"] or {}).get("id")
        assert c["intersection_name"][i] == (a["intersection"] or {}).get("name")
        sig = a["signal"] or {}
        for f in ("time_to_change_s", "time_to_change_min_s", "time_to_change_max_s"):
            assert c[f][i] == sig.get(f)
        assert c["signal_state"][i] == sig.get("state")
        assert c["band_min_kmh"][i] == (a["band"] or {}).get("min_kmh")
        assert c["band_max_kmh"][i] == (a["band"] or {}).get("max_kmh")
        opts = {o["intersections"]: (o["min_kmh"], o["max_kmh"]) for o in a["options"]}
        for j, (lo, hi) in enumerate(
            zip(c["options_min_kmh"][i], c["options_max_kmh"][i], strict=True)
        ):
            assert opts.get(j + 1, (None, None)) == (lo, hi)
        assert {"zh": c["message_zh"][i], "en": c["message_en"][i]} == a["message"]
    assert cols["valid_for_s"] == items["advisories"][0]["valid_for_s"]
    r = city.post("/v1/advisories/batch?format=rows", json={"vehicles": vs})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "format"]
    # All on the network (no scatter into fresh arrays) and a single vehicle.
    for some in (vs[4:], vs[4:5]):
        r = city.post("/v1/advisories/batch?format=columns", json={"vehicles": some})
        assert r.status_code == 200 and r.json()["count"] == len(some)


def test_fast_check_and_model_agree(city, monkeypatch):
    """Valid batches are read column-wise without the pydantic model, into the same columns."""
    import greenwave.api.columns

    svc = city.app.state.service
    vs = vehicles(svc, 300, seed=3)
    vs[0]["speed_kmh"] = 40  # JSON integers are numbers
    vs[2].update(accuracy_m=7.5, altitude_m=None, bearing_accuracy_deg=3)  # what phones add
    vs[4]["accuracy_m"] = None
    vs[1]["timestamp"] = time.strftime(
        "%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600)
    )
    body = json.dumps({"vehicles": vs}).encode()
    parser = svc.advisor.parse_batch
    fast = parser(body, now_s=1e9 + 0.5)
    calls = []
    monkeypatch.setattr(
        greenwave.api.columns,
        "parse",
        lambda *a: calls.append(1) or pytest.fail("the model was asked about a valid batch"),
    )
    parser(body, now_s=1e9 + 0.5)
    monkeypatch.undo()
    monkeypatch.setattr(parser, "accept", lambda doc, now, clock=None: None)
    slow = parser(body, now_s=1e9 + 0.5)
    for f in ("lat", "lon", "heading_deg", "link", "offset_m", "speed_kmh", "t_s", "accuracy_m"):
        np.testing.assert_array_equal(getattr(fast, f), getattr(slow, f), err_msg=f)
    assert fast.vehicle_id == slow.vehicle_id


PHONE = ("accuracy_m", "altitude_m", "bearing_accuracy_deg")


def _mutations(rng, net):
    """Small batches with one plausible mistake (or none)."""
    ok_link = {"link_id": "renmin_f1", "offset_m": 10.0, "speed_kmh": 30.0}
    ok_gps = {"lat": 36.81, "lon": 118.02, "heading_deg": 90.0, "speed_kmh": 30.0}
    values = [
        None,
        True,
        "5",
        5,
        -1,
        0,
        1e308,
        -0.0,
        359.99,
        360,
        90.5,
        250,
        250.5,
        [],
        {},
        "renmin_f2",
        "",
        "x" * 129,
        "nope",
        180,
        180.5,
        10_000,
        10_000.5,
        -1000,
        -1000.5,
        "2026-01-01T00:00:00Z",
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())),
    ]
    keys = [
        "lat",
        "lon",
        "heading_deg",
        "link_id",
        "offset_m",
        "speed_kmh",
        "timestamp",
        "vehicle_id",
        "accuracy_m",
        "altitude_m",
        "bearing_accuracy_deg",
        "colour",
    ]
    for _ in range(1500):
        vs = [dict(ok_link if rng.random() < 0.5 else ok_gps) for _ in range(3)]
        for w in vs:  # what phones add, valid (null: unknown)
            for k, ok in zip(
                PHONE,
                ([None, 0, 12.5, 10_000], [None, -1000, 61.5], [None, 0, 180, 8]),
                strict=True,
            ):
                if rng.random() < 0.2:
                    w[k] = ok[rng.integers(0, len(ok))]
        v = vs[rng.integers(0, 3)]
        what = rng.integers(0, 4)
        key = keys[rng.integers(0, len(keys))]
        if what == 0:
            v.pop(key, None)
        elif what == 1:
            v[key] = values[rng.integers(0, len(values))]
        elif what == 2:
            v[key] = float(rng.uniform(-400, 400))
        yield {"vehicles": vs}


@pytest.fixture(scope="module")
def arterial(tmp_path_factory):
    app = create_app(Settings(state_dir=tmp_path_factory.mktemp("state")))
    with TestClient(app) as c:
        yield c


def test_fast_check_never_accepts_what_the_model_rejects(arterial):
    from fastapi.exceptions import RequestValidationError

    from greenwave.api.columns import Vehicles
    from greenwave.api.errors import parse
    from greenwave.api.schemas import BATCH

    svc = arterial.app.state.service
    parser = svc.advisor.parse_batch
    rng = np.random.default_rng(11)
    accepted = rejected = phone = 0
    now = time.time()
    for doc in _mutations(rng, svc.world.network):
        body = json.dumps(doc).encode()
        fast = parser.accept(json.loads(body), now)
        try:
            model = parse(BATCH, body, svc.context)
        except RequestValidationError:
            model = None
        if model is None:
            rejected += 1
            assert fast is None, body
        elif fast is not None:
            accepted += 1
            assert fast.vehicle_id == [v.get("vehicle_id") for v in model["vehicles"]]
            np.testing.assert_array_equal(
                fast.speed_kmh, [v["speed_kmh"] for v in model["vehicles"]]
            )
            slow = Vehicles.from_requests(model["vehicles"], [now] * 3, svc.world.network)
            for f in ("lat", "lon", "heading_deg", "link", "offset_m", "t_s", "accuracy_m"):
                np.testing.assert_array_equal(getattr(fast, f), getattr(slow, f), err_msg=f)
            phone += any(k in v for v in doc["vehicles"] for k in PHONE)
    assert accepted > 200 and rejected > 200 and phone > 20


@pytest.mark.parametrize(
    "vehicles_json,loc",
    [
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": Infinity}]',
            ["body", "vehicles", 0, "speed_kmh"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 1e999}]',
            ["body", "vehicles", 0, "speed_kmh"],
        ),
        (
            (
                '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, '
                '{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3, "colour": "red"}]'
            ),
            ["body", "vehicles", 1, "colour"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": null}]',
            ["body", "vehicles", 0, "speed_kmh"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": true}]',
            ["body", "vehicles", 0, "speed_kmh"],
        ),
        (
            '[{"lat": 36.8, "lon": 118.0, "heading_deg": 360, "speed_kmh": 3}]',
            ["body", "vehicles", 0, "heading_deg"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3, "vehicle_id": "'
            + "x" * 129
            + '"}]',
            ["body", "vehicles", 0, "vehicle_id"],
        ),
        (
            '[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3, "timestamp": "soon"}]',
            ["body", "vehicles", 0, "timestamp"],
        ),
        ('[{"link_id": "renmin_f1", "offset_m": 1, "speed_kmh": 3}, 7]', ["body", "vehicles", 1]),
    ],
)
def test_more_batch_errors_name_the_vehicle(arterial, vehicles_json, loc):
    r = arterial.post(
        "/v1/advisories/batch",
        content=f'{{"vehicles": {vehicles_json}}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc
    json.dumps(r.json(), allow_nan=False)
