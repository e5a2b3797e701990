"""POST /v1/advisory: map matching, the advice fields, and every kind of bad input."""

import asyncio
import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from greenwave.api.advisor import MicroBatcher
from greenwave.api.main import create_app
from greenwave.api.settings import Settings
from greenwave.units import kmh_to_ms

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def fix(svc, link_id, offset_m, reverse=False, **extra):
    net = svc.world.network
    lon, lat, brg = net.point_at(net.link_index[link_id], offset_m)
    body = {
        "lat": lat,
        "lon": lon,
        "heading_deg": (brg + (180.0 if reverse else 0.0)) % 360.0,
        "speed_kmh": 40.0,
    }
    body.update(extra)
    return body


def test_gps_fix_matched_to_the_right_direction(client, svc):
    east = client.post("/v1/advisory", json=fix(svc, "renmin_f3", 200.0)).json()
    west = client.post("/v1/advisory", json=fix(svc, "renmin_f3", 200.0, reverse=True)).json()
    assert east["link_id"] == "renmin_f3"
    assert east["offset_m"] == pytest.approx(200.0, abs=0.5)
    assert west["link_id"].startswith("renmin_b")  # the same street, westbound
    assert east["intersection"]["id"] != west["intersection"]["id"]
    assert east["snapped"]["lat"] == pytest.approx(fix(svc, "renmin_f3", 200.0)["lat"], abs=1e-6)


def test_response_fields(client, svc):
    r = client.post("/v1/advisory", json=fix(svc, "renmin_f1", 150.0, vehicle_id="car-1"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    a = r.json()
    for k in (
        "status",
        "reason",
        "link_id",
        "snapped",
        "intersection",
        "distance_m",
        "signal",
        "band",
        "options",
        "message",
        "speed_limit_kmh",
        "valid_for_s",
        "generated_at",
    ):
        assert k in a
    assert a["vehicle_id"] == "car-1"
    assert a["status"] in ("advice", "proceed", "prepare_to_stop")
    assert a["intersection"]["id"] == "xiwu"
    assert a["distance_m"] == pytest.approx(
        svc.world.network.link_length_m[svc.world.network.link_index["renmin_f1"]] - 150.0, abs=1.0
    )
    assert a["signal"]["state"] in ("red", "amber", "green")
    assert a["speed_limit_kmh"] == pytest.approx(60.0)
    assert set(a["message"]) == {"zh", "en"} and "米" in a["message"]["zh"]
    if a["band"] is not None:
        assert 35.0 - 1e-6 <= a["band"]["min_kmh"] <= a["band"]["max_kmh"] <= 50.0 + 1e-6
        assert a["reason"] is None
    else:
        assert a["reason"]


def test_link_mode_and_timestamp(client, svc):
    t = time.time() + 3600.0
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
    a = client.post(
        "/v1/advisory",
        json={"link_id": "renmin_f4", "offset_m": 300.0, "speed_kmh": 45.0, "timestamp": iso},
    ).json()
    assert a["link_id"] == "renmin_f4" and a["lateral_m"] is None
    assert a["timestamp"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)))
    # The signal seen is the one at the requested time.
    assert a["intersection"]["id"] == "liuquan"
    g = svc.world.timing.plans.group_index("liuquan", "EW")
    state, ttc, *_ = svc.store.timing.state(np.array([g]), np.array([float(int(t))]))
    assert a["signal"]["state"] == ["red", "amber", "green"][int(state[0])]
    assert a["signal"]["time_to_change_s"] == pytest.approx(ttc[0], abs=1e-6)


def test_advice_matches_the_core(client, svc):
    """The API adds no band logic: its band is the core's for the same vehicle."""
    from greenwave.advice import advise

    t = float(int(time.time()))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
    net = svc.world.network
    for link, back, v in (
        ("renmin_f2", 350.0, 30.0),
        ("renmin_b4", 300.0, 50.0),
        ("renmin_f6", 120.0, 10.0),
    ):
        off = float(net.link_length_m[net.link_index[link]]) - back  # within the 500 m range
        a = client.post(
            "/v1/advisory",
            json={"link_id": link, "offset_m": off, "speed_kmh": v, "timestamp": iso},
        ).json()
        adv = advise(
            net,
            svc.store.timing,
            svc.advisor.params,
            np.array([net.link_index[link]]),
            np.array([off]),
            np.array([kmh_to_ms(v)]),
            t,
            3,
        )
        lo = adv.bands.lo_ms[0, 0]
        if np.isnan(lo):
            assert a["band"] is None
        else:
            assert a["band"]["min_kmh"] == pytest.approx(lo * 3.6)
            assert a["band"]["max_kmh"] == pytest.approx(adv.bands.hi_ms[0, 0] * 3.6)


def test_off_network_and_wrong_direction(client, svc):
    far = client.post(
        "/v1/advisory", json={"lat": 36.9, "lon": 118.3, "heading_deg": 90.0, "speed_kmh": 30.0}
    ).json()
    assert far["status"] == "off_network" and "no road within" in far["reason"]
    assert far["link_id"] is None and far["band"] is None and far["options"] == []
    # On the arterial but driving north: no link runs that way.
    north = fix(svc, "renmin_f3", 200.0)
    north["heading_deg"] = 0.0
    a = client.post("/v1/advisory", json=north).json()
    assert a["status"] == "off_network" and "direction of travel" in a["reason"]


def test_exit_link_and_range(client, svc):
    a = client.post(
        "/v1/advisory", json={"link_id": "renmin_f8", "offset_m": 10.0, "speed_kmh": 40.0}
    ).json()
    assert a["status"] == "no_signal_ahead" and a["intersection"] is None and a["reason"]
    # The entry link is 500 m: at 10 m the stop line is 490 m away (inside the 500 m range);
    # on the 610 m link renmin_f2 at 10 m it is 600 m away: no band, but a reason.
    a = client.post(
        "/v1/advisory", json={"link_id": "renmin_f2", "offset_m": 10.0, "speed_kmh": 40.0}
    ).json()
    assert a["status"] == "no_signal_ahead" and "advisory range" in a["reason"]
    assert a["intersection"]["id"] == "xisi" and a["band"] is None


BAD = [
    (b'{"lat": NaN, "lon": 118.02, "heading_deg": 90, "speed_kmh": 40}', ["body", "lat"]),
    (b'{"lat": 36.8, "lon": Infinity, "heading_deg": 90, "speed_kmh": 40}', ["body", "lon"]),
    (
        b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90, "speed_kmh": -Infinity}',
        ["body", "speed_kmh"],
    ),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90, "speed_kmh": 1e999}', ["body", "speed_kmh"]),
    (b'{"lat": 91, "lon": 118.0, "heading_deg": 90, "speed_kmh": 40}', ["body", "lat"]),
    (b'{"lat": 36.8, "lon": -180.5, "heading_deg": 90, "speed_kmh": 40}', ["body", "lon"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 360, "speed_kmh": 40}', ["body", "heading_deg"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": -1, "speed_kmh": 40}', ["body", "heading_deg"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90, "speed_kmh": -1}', ["body", "speed_kmh"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90, "speed_kmh": 400}', ["body", "speed_kmh"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90, "speed_kmh": "40"}', ["body", "speed_kmh"]),
    (b'{"lat": 36.8, "lon": 118.0, "heading_deg": 90}', ["body", "speed_kmh"]),
    (b'{"link_id": "nope", "offset_m": 1, "speed_kmh": 40}', ["body", "link_id"]),
    (b'{"link_id": "renmin_f2", "offset_m": -1, "speed_kmh": 40}', ["body", "offset_m"]),
    (b'{"link_id": "renmin_f2", "offset_m": 5000, "speed_kmh": 40}', ["body", "offset_m"]),
    (
        b'{"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 4, "timestamp": "yesterday"}',
        ["body", "timestamp"],
    ),
    (
        b'{"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 4, "timestamp": "2026-11-23T07:30"}',
        ["body", "timestamp"],
    ),
    (
        b'{"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 4, "timestamp": 1700000000}',
        ["body", "timestamp"],
    ),
    (
        b'{"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 4, '
        b'"timestamp": "1999-01-01T00:00:00Z"}',
        ["body", "timestamp"],
    ),
    (
        b'{"link_id": "renmin_f2", "offset_m": 1, "speed_kmh": 4, "colour": "red"}',
        ["body", "colour"],
    ),
    (b'{"lat": 36.8, "lon": 118.0, "speed_kmh": 40}', ["body"]),
    (
        b'{"lat": 36.8, "lon": 118.0, "heading_deg": 9, "link_id": "renmin_f2", "offset_m": 1, '
        b'"speed_kmh": 40}',
        ["body"],
    ),
    (b'{"link_id": "renmin_f2", "speed_kmh": 40}', ["body"]),
    (b"", ["body"]),
    (b'{"lat": 36.8,', ["body"]),
    (b"[1, 2]", ["body"]),
]


@pytest.mark.parametrize("body,loc", BAD)
def test_bad_input_is_422_with_the_field(client, body, loc):
    r = client.post("/v1/advisory", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail and all({"loc", "msg", "type"} <= set(d) for d in detail)
    assert detail[0]["loc"][: len(loc)] == loc, detail
    assert detail[0]["msg"]


def test_timestamp_window_accepts_past_and_future(client):
    for h in (-23.5, 23.5):
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + h * 3600))
        r = client.post(
            "/v1/advisory",
            json={"link_id": "renmin_f1", "offset_m": 5.0, "speed_kmh": 40.0, "timestamp": iso},
        )
        assert r.status_code == 200
    r = client.post(
        "/v1/advisory",
        json={
            "link_id": "renmin_f1",
            "offset_m": 5.0,
            "speed_kmh": 40.0,
            "timestamp": time.strftime(
                "%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600 + 25 * 3600)
            ),
        },
    )
    assert r.status_code == 422 and "24 h" in r.json()["detail"][0]["msg"]


def test_oversize_body_is_413(client):
    r = client.post(
        "/v1/advisory", content=b" " * 20000 + b"{}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_microbatcher_groups_concurrent_requests(svc):
    """Concurrent calls are answered by fewer core calls, with the same results."""
    calls = []

    def fn(items):
        calls.append(len(items))
        time.sleep(0.01)
        return [x * 2 for x in items]

    async def run():
        mb = MicroBatcher(fn, window_s=0.0, max_items=64)
        try:
            return await asyncio.gather(*(mb.submit(i) for i in range(200)))
        finally:
            mb.close()

    out = asyncio.run(run())
    assert out == [2 * i for i in range(200)]
    assert sum(calls) == 200 and len(calls) < 20 and max(calls) <= 64


def test_microbatched_answers_equal_direct_ones(svc):
    net = svc.world.network
    rng = np.random.default_rng(3)
    links = rng.choice(np.flatnonzero(net.link_group >= 0), 40)
    now = time.time()
    reqs = [
        {
            "link_id": net.link_ids[k],
            "offset_m": float(rng.uniform(0, net.link_length_m[k])),
            "speed_kmh": float(rng.uniform(0, 60)),
        }
        for k in links
    ]
    together = svc.advisor.compute_json([(r, now) for r in reqs])
    alone = [svc.advisor.compute_json([(r, now)])[0] for r in reqs]
    strip = lambda b: {k: v for k, v in json.loads(b).items() if k != "generated_at"}  # noqa: E731
    assert [strip(b) for b in together] == [strip(b) for b in alone]


# --------------------------------------------------------------------------- the fast path
def test_fast_path_answers_like_the_route(tmp_path, svc, monkeypatch):
    """Valid requests are answered by AdvisoryFastPath without the router; with
    fast_path=False the route answers every request, with the same bytes."""
    import greenwave.api.routes.advisory as route

    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
    bodies = [
        fix(svc, "renmin_f2", 120.0, vehicle_id="a", timestamp=t),
        fix(svc, "renmin_f2", 120.0, reverse=True, timestamp=t),
        {"link_id": "renmin_f5", "offset_m": 10.0, "speed_kmh": 0, "timestamp": t},
        {"lat": 36.9, "lon": 118.3, "heading_deg": 90.0, "speed_kmh": 30.0, "timestamp": t},
    ]
    answers = {}
    calls = []
    real_parse = route.parse
    monkeypatch.setattr(route, "parse", lambda *a: calls.append(1) or real_parse(*a))
    for fast in (True, False):
        app = create_app(Settings(state_dir=tmp_path / str(fast), fast_path=fast))
        calls.clear()
        with TestClient(app) as c:
            rs = [c.post("/v1/advisory", json=b) for b in bodies]
            bad = c.post(
                "/v1/advisory", json={"lat": 91, "lon": 0, "heading_deg": 0, "speed_kmh": 1}
            )
            assert all(r.status_code == 200 for r in rs)
            assert {r.headers["content-type"] for r in rs} == {"application/json"}
            assert len(calls) == (1 if fast else len(bodies) + 1)  # the route: errors only
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "lat"]
            answers[fast] = [{k: v for k, v in r.json().items() if k != "generated_at"} for r in rs]
            metrics = c.get("/metrics").text
            assert 'route="/v1/advisory",status="200"} 4.0' in metrics
            assert 'route="/v1/advisory",status="422"} 1.0' in metrics
    assert answers[True] == answers[False]


def test_fast_path_replays_what_it_read(svc):
    """A body in several messages, and a body the fast path does not answer, reach the app
    intact."""
    from greenwave.api.routes.advisory import AdvisoryFastPath

    seen = []

    async def app(scope, receive, send):
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        seen.append(body)

    class State:
        service = svc

    class App:
        state = State()

    async def run(chunks):
        msgs = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent = []

        async def receive():
            return msgs.pop(0)

        async def send(m):
            sent.append(m)

        scope = {"type": "http", "path": "/v1/advisory", "method": "POST", "app": App()}
        await AdvisoryFastPath(app)(scope, receive, send)
        return sent

    good = json.dumps({"link_id": "renmin_f1", "offset_m": 5.0, "speed_kmh": 40.0}).encode()
    sent = asyncio.run(run([good[:10], good[10:20], good[20:]]))
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"])["link_id"] == "renmin_f1"
    assert seen == []
    bad = b'{"link_id": "nope", "offset_m": 5, "speed_kmh": 40}'
    assert asyncio.run(run([bad[:7], bad[7:]])) == [] and seen == [bad]
    big = b" " * 20000
    asyncio.run(run([big[:9000], big[9000:18000], big[18000:]]))
    assert seen[-1] == big


# --------------------------------------------------------------------------- turns
PROTECTED_LEFT = {
    "cycle_s": 90.0,
    "groups": [
        {
            "id": "EW",
            "greens_s": [[0.0, 40.0]],
            "amber_s": 3.0,
            "all_red_s": 2.0,
            "conflicts": ["L", "NS"],
        },
        {
            "id": "L",
            "greens_s": [[45.0, 55.0]],
            "amber_s": 3.0,
            "all_red_s": 2.0,
            "conflicts": ["NS"],
        },
        {"id": "NS", "greens_s": [[62.0, 85.0]], "amber_s": 3.0, "all_red_s": 2.0},
    ],
}


def turns_scenario_file(path):
    """Corridor 'a' (a0, a1) with cross streets and a protected left arrow 'L' for its left
    turns; corridor 'b' (b0, b1), 2 km north, without cross streets: through movements only.
    A 20 km/h band floor, below both turn speeds, so that turners get bands."""
    from greenwave.geo import LocalProjection
    from greenwave.scenario import dumps_scenario, parse_scenario

    proj = LocalProjection(118.0, 36.8)
    two_phase = {
        "cycle_s": 90.0,
        "groups": [
            {"id": "EW", "greens_s": [[0.0, 45.0]], "conflicts": ["NS"]},
            {"id": "NS", "greens_s": [[50.0, 85.0]]},
        ],
    }
    inters = []
    for name, north, plan in (("a", 0.0, PROTECTED_LEFT), ("b", 2000.0, two_phase)):
        for k in range(2):
            lon, lat = proj.to_lonlat(400.0 * k, north)
            inters.append({"id": f"{name}{k}", "lon": float(lon), "lat": float(lat), "plan": plan})
    common = {"forward_group": "EW", "backward_group": "EW", "speed_limit_kmh": 50.0}
    data = {
        "name": "turns",
        "intersections": inters,
        "corridors": [
            {
                "id": "a",
                "intersections": ["a0", "a1"],
                "left_group": "L",
                "cross_streets": True,
                "cross_group": "NS",
                **common,
            },
            {"id": "b", "intersections": ["b0", "b1"], **common},
        ],
        "advisory": {"band_min_kmh": 20.0},
    }
    path.write_text(dumps_scenario(parse_scenario(data)))
    return path


@pytest.fixture(scope="module")
def turns(tmp_path_factory):
    d = tmp_path_factory.mktemp("turns")
    app = create_app(
        Settings(scenario=turns_scenario_file(d / "turns.toml"), state_dir=d / "state")
    )
    with TestClient(app) as c:
        yield c


def test_turn_defaults_to_through_and_is_echoed(client):
    a = client.post("/v1/advisory", json=fix(client.app.state.service, "renmin_f3", 100.0)).json()
    assert a["turn"] == "through" and a["signal_group"] == "EW"
    off = client.post(
        "/v1/advisory",
        json={"lat": 36.9, "lon": 118.3, "heading_deg": 90.0, "speed_kmh": 30.0, "turn": "left"},
    ).json()
    assert off["status"] == "off_network" and off["turn"] == "left" and off["signal_group"] is None


def test_left_turn_is_advised_on_its_arrow(turns):
    """The left turner's advice is the core's for that turn: the arrow's group, a band no faster
    than the turn speed; through on the same approach is advised on EW, as without a turn."""
    from greenwave.advice import advise
    from greenwave.movements import LEFT

    svc = turns.app.state.service
    net = svc.world.network
    t = float(int(time.time()))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
    body = {"link_id": "a_f1", "offset_m": 150.0, "speed_kmh": 35.0, "timestamp": iso}
    straight = turns.post("/v1/advisory", json=body).json()
    through = turns.post("/v1/advisory", json={**body, "turn": "through"}).json()
    assert through == {**straight, "turn": "through", "generated_at": through["generated_at"]}
    assert straight["signal_group"] == "EW" and straight["intersection"]["id"] == "a1"
    left = turns.post("/v1/advisory", json={**body, "turn": "left"}).json()
    assert left["turn"] == "left" and left["signal_group"] == "L"
    assert left["intersection"]["id"] == "a1" and left["distance_m"] == straight["distance_m"]
    link = net.link_index["a_f1"]
    adv = advise(
        net,
        svc.store.timing,
        svc.advisor.params,
        [link],
        [150.0],
        [kmh_to_ms(35.0)],
        t,
        svc.advisor.ahead,
        turn=[LEFT],
    )
    v_turn_kmh = net.movements.turn_speed_ms[adv.movement[0]] * 3.6
    if np.isnan(adv.bands.lo_ms[0, 0]):
        assert left["band"] is None
    else:
        assert left["band"]["min_kmh"] == pytest.approx(adv.bands.lo_ms[0, 0] * 3.6)
        assert left["band"]["max_kmh"] == pytest.approx(adv.bands.hi_ms[0, 0] * 3.6)
        # A band speed may be above the turn speed, with room to brake into the turn.
        d, v0 = adv.dist_m[0, 0], kmh_to_ms(35.0)
        a, b = svc.advisor.params.accel_ms2, svc.advisor.params.decel_ms2
        v_t = v_turn_kmh / 3.6
        top = np.sqrt((2 * a * b * d + b * v0**2 + a * v_t**2) / (a + b))
        assert left["band"]["max_kmh"] <= max(top, v_t) * 3.6 + 1e-6
    if left["plan"] is not None:
        assert left["plan"]["cross_kmh"] <= v_turn_kmh + 1e-3
    # The signal state shown is the arrow's.
    g = svc.world.timing.plans.group_index("a1", "L")
    state, ttc, *_ = svc.store.timing.state(np.array([g]), np.array([t]))
    assert left["signal"]["state"] == ["red", "amber", "green"][int(state[0])]
    assert left["signal"]["time_to_change_s"] == pytest.approx(ttc[0], abs=1e-6)
    # Matched from a GPS fix, the same.
    gps = fix(svc, "a_f1", 150.0, speed_kmh=35.0, timestamp=iso, turn="left")
    by_gps = turns.post("/v1/advisory", json=gps).json()
    assert by_gps["link_id"] == "a_f1" and by_gps["signal_group"] == "L"


def test_turners_get_app_bands_and_the_reason_when_too_close_to_slow(client):
    """With the app's 35 km/h floor a right turner (24 km/h turn) far enough out is told a band
    it holds and then brakes into the turn from; one too close to slow down to the turn speed
    has no band, and the reason says so."""
    now = float(int(time.time()))
    for k in range(30):  # some moment (within two cycles) whose green is reachable
        iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 7.0 * k))
        far = {"link_id": "renmin_f3", "offset_m": 100.0, "speed_kmh": 40.0, "turn": "right"}
        a = client.post("/v1/advisory", json={**far, "timestamp": iso}).json()
        if a["band"] is not None:
            break
    assert a["turn"] == "right" and a["band"]["min_kmh"] >= 35.0 and a["band"]["max_kmh"] > 24.0
    near = {"link_id": "renmin_f3", "offset_m": 370.0, "speed_kmh": 50.0, "turn": "right"}
    a = client.post("/v1/advisory", json=near).json()
    assert a["turn"] == "right" and a["band"] is None and a["options"] == []
    assert "right turn is taken at up to 24 km/h: too close to slow down to it" in a["reason"]


@pytest.mark.parametrize("fast_path", [True, False])
def test_turns_that_do_not_exist_are_422_naming_the_field(tmp_path, fast_path):
    app = create_app(
        Settings(
            scenario=turns_scenario_file(tmp_path / "turns.toml"),
            state_dir=tmp_path / "state",
            fast_path=fast_path,
        )
    )
    with TestClient(app) as c:
        svc = c.app.state.service
        body = {"link_id": "b_f0", "offset_m": 100.0, "speed_kmh": 40.0}
        for turn in ("u-turn", "LEFT", "", None, 1):
            r = c.post("/v1/advisory", json={**body, "turn": turn})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "turn"]
        for bad in (
            {**body, "turn": "left"},
            fix(svc, "b_f0", 100.0, turn="right"),  # a GPS fix: refused after matching
        ):
            r = c.post("/v1/advisory", json=bad)
            assert r.status_code == 422, r.text
            (d,) = r.json()["detail"]
            assert d["loc"] == ["body", "turn"] and d["type"] == "turn_not_available"
            assert "intersection 'b0'" in d["msg"] and "approach 'b_f0'" in d["msg"]
            assert "through onto 'b_f1'" in d["msg"]
        # Other errors come first, as before.
        r = c.post(
            "/v1/advisory",
            json={"link_id": "nope", "offset_m": 1.0, "speed_kmh": 4.0, "turn": "left"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "link_id"]
        ok = c.post("/v1/advisory", json={**body, "turn": "through"})
        assert ok.status_code == 200 and ok.json()["signal_group"] == "EW"
        metrics = c.get("/metrics").text
        assert 'route="/v1/advisory",status="422"} 8.0' in metrics


def test_batch_and_columns_carry_turns_and_refuse_missing_ones(turns):
    svc = turns.app.state.service
    vs = [
        {"link_id": "a_f1", "offset_m": 100.0, "speed_kmh": 40.0, "turn": "left"},
        {"link_id": "a_f1", "offset_m": 100.0, "speed_kmh": 40.0},
        fix(svc, "a_f1", 100.0, turn="right"),
        {"link_id": "b_f0", "offset_m": 10.0, "speed_kmh": 40.0, "turn": "through"},
    ]
    items = turns.post("/v1/advisories/batch", json={"vehicles": vs}).json()["advisories"]
    assert [a["turn"] for a in items] == ["left", "through", "right", "through"]
    assert [a["signal_group"] for a in items] == ["L", "EW", "EW", "EW"]
    cols = turns.post("/v1/advisories/batch?format=columns", json={"vehicles": vs}).json()
    assert cols["columns"]["turn"] == ["left", "through", "right", "through"]
    assert cols["columns"]["signal_group"] == ["L", "EW", "EW", "EW"]
    # The column-wise check and the model read the same turns.
    parsed = svc.advisor.parse_batch(json.dumps({"vehicles": vs}).encode())
    assert parsed.turn.tolist() == [0, 1, 2, 1]
    bad = [*vs, {**vs[3], "turn": "left"}, fix(svc, "b_f1", 50.0, turn="right")]
    r = turns.post("/v1/advisories/batch", json={"vehicles": bad})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [
        ["body", "vehicles", 4, "turn"],
        ["body", "vehicles", 5, "turn"],
    ]
    assert all(d["type"] == "turn_not_available" for d in detail)
    assert "intersection 'b1'" in detail[1]["msg"]
    r = turns.post("/v1/advisories/batch", json={"vehicles": [{**vs[0], "turn": "north"}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "vehicles", 0, "turn"]


def test_stream_refuses_a_missing_turn_and_stays_open(turns):
    with turns.websocket_connect("/v1/advisory/stream") as ws:
        ws.send_text(
            json.dumps({"link_id": "b_f0", "offset_m": 5.0, "speed_kmh": 30.0, "turn": "left"})
        )
        m = ws.receive_json()
        assert m["type"] == "error" and m["status"] == 422
        assert m["detail"][0]["loc"] == ["body", "turn"]
        ws.send_text(
            json.dumps({"link_id": "a_f1", "offset_m": 5.0, "speed_kmh": 30.0, "turn": "left"})
        )
        m = ws.receive_json()
        assert m["type"] == "advisory" and m["advisory"]["signal_group"] == "L"
