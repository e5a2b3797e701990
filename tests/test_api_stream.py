"""GET /v1/advisory/stream (WebSocket): advice per fix, validation errors as frames, and new
advice pushed at once when the timing of the next signal changes (this worker's writes and
another worker's, picked up by the state poll)."""

import json
import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

PATH = "/v1/advisory/stream"
AUTH = {"Authorization": "Bearer tok"}
FIX = {"link_id": "renmin_f2", "offset_m": 120.0, "speed_kmh": 36.0, "vehicle_id": "car-1"}
NEXT = "xisi"  # renmin_f2 ends at xisi's stop line


def spat(red_s, group="EW"):
    return {
        "groups": [
            {
                "signal_group": group,
                "events": [
                    {"state": "red", "min_end_in_s": red_s, "max_end_in_s": red_s + 4},
                    {"state": "green", "min_end_in_s": red_s + 40, "max_end_in_s": red_s + 45},
                ],
            }
        ]
    }


def app(tmp_path, **kw):
    return create_app(Settings(state_dir=tmp_path, token="tok", **kw))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(app(tmp_path_factory.mktemp("state"))) as c:
        yield c


def test_answers_each_fix_like_post(client):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fixes = [{**FIX, "timestamp": now}, {**FIX, "offset_m": 200.0, "timestamp": now}]
    with client.websocket_connect(PATH) as ws:
        for k, body in enumerate(fixes, start=1):
            ws.send_text(json.dumps(body))
            m = ws.receive_json()
            assert (m["type"], m["seq"], m["cause"]) == ("advisory", k, "fix")
            post = client.post("/v1/advisory", json=body).json()
            m["advisory"].pop("generated_at"), post.pop("generated_at")
            assert m["advisory"] == post
        ws.send_bytes(json.dumps(FIX).encode())  # a binary frame of JSON is read the same way
        assert ws.receive_json()["seq"] == 3


def test_bad_fixes_get_error_frames_and_the_stream_stays_open(client):
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({**FIX, "speed_kmh": -3}))
        m = ws.receive_json()
        assert (m["type"], m["seq"], m["status"]) == ("error", 1, 422)
        assert m["detail"][0]["loc"] == ["body", "speed_kmh"]
        ws.send_text(json.dumps({**FIX, "colour": "red"}))
        m = ws.receive_json()
        assert (
            m["detail"][0]["loc"] == ["body", "colour"] and "allowed: lat" in m["detail"][0]["msg"]
        )
        ws.send_text('{"lat": NaN')
        m = ws.receive_json()
        assert m["status"] == 422 and m["detail"][0]["type"] == "json_invalid"
        ws.send_text(json.dumps({**FIX, "vehicle_id": "x" * 20_000}))
        m = ws.receive_json()
        assert m["status"] == 413 and m["seq"] == 4
        ws.send_text(json.dumps(FIX))
        m = ws.receive_json()
        assert (m["type"], m["seq"]) == ("advisory", 5)


def test_spat_of_the_next_intersection_is_pushed_at_once(client):
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps(FIX))
        first = ws.receive_json()
        assert first["advisory"]["intersection"]["id"] == NEXT
        # A write elsewhere changes nothing for this vehicle: no push (the next frame is the
        # answer to the next fix).
        assert client.post("/v1/intersections/jinjing/spat", json=spat(30), headers=AUTH).is_success
        ws.send_text(json.dumps({**FIX, "speed_kmh": 0.0}))
        m = ws.receive_json()
        assert (m["cause"], m["seq"]) == ("fix", 2)
        t0 = time.perf_counter()
        assert client.post(f"/v1/intersections/{NEXT}/spat", json=spat(25), headers=AUTH).is_success
        m = ws.receive_json()
        assert time.perf_counter() - t0 < 2.0
        assert (m["type"], m["cause"], m["seq"]) == ("advisory", "timing", 2)
        sig = m["advisory"]["signal"]
        assert sig["state"] == "red" and 20 < sig["time_to_change_min_s"] <= 25
        assert m["advisory"]["vehicle_id"] == "car-1"
        # At 0 km/h the vehicle has not moved.
        assert m["advisory"]["offset_m"] == pytest.approx(120.0)


def test_plan_write_is_pushed_with_the_position_moved_on(client):
    plan = client.get(f"/v1/intersections/{NEXT}").json()["plan"]
    plan["offset_s"] = (plan["offset_s"] + 30.0) % plan["cycle_s"]
    with client.websocket_connect(PATH) as ws:
        t0 = time.perf_counter()
        ws.send_text(json.dumps(FIX))  # 36 km/h = 10 m/s
        ws.receive_json()
        time.sleep(0.3)
        r = client.put(f"/v1/intersections/{NEXT}/plan", json=plan, headers=AUTH)
        assert r.status_code == 200
        m = ws.receive_json()
        assert m["cause"] == "timing" and m["seq"] == 1
        moved = m["advisory"]["offset_m"] - FIX["offset_m"]
        assert 2.9 <= moved <= 30.0  # 10 m/s × (0.3 s ... a slow machine's couple of seconds)
        time.sleep(0.3)
        assert client.delete(f"/v1/intersections/{NEXT}/plan", headers=AUTH).status_code == 200
        m = ws.receive_json()
        assert m["cause"] == "timing"  # back to the scenario's plan: pushed too
        # Reckoned from the fix again (not from the first push's position): at most 10 m/s ×
        # the time since the fix was sent.
        moved_again = m["advisory"]["offset_m"] - FIX["offset_m"]
        assert moved + 2.9 <= moved_again <= 10.0 * (time.perf_counter() - t0) + 0.1


def test_another_workers_write_is_pushed_when_the_poll_sees_it(tmp_path):
    """Two apps on one state directory stand for two workers."""
    with (
        TestClient(app(tmp_path, state_poll_s=0.1)) as a,
        TestClient(app(tmp_path, state_poll_s=0.1)) as b,
        a.websocket_connect(PATH) as ws,
    ):
        ws.send_text(json.dumps(FIX))
        assert ws.receive_json()["cause"] == "fix"
        t0 = time.perf_counter()
        assert b.post(f"/v1/intersections/{NEXT}/spat", json=spat(28), headers=AUTH).is_success
        m = ws.receive_json()
        assert m["cause"] == "timing"
        assert time.perf_counter() - t0 < 3.0
        assert 20 < m["advisory"]["signal"]["time_to_change_min_s"] <= 28


def test_scenario_clock_moves_the_fix_time_on(tmp_path):
    with TestClient(app(tmp_path, clock="scenario")) as c, c.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({**FIX, "timestamp": "2026-11-23T07:40:00+08:00"}))
        assert ws.receive_json()["advisory"]["timestamp"] == "2026-11-22T23:40:00.000Z"
        time.sleep(0.2)
        assert c.post(f"/v1/intersections/{NEXT}/spat", json=spat(30), headers=AUTH).is_success
        m = ws.receive_json()
        assert m["cause"] == "timing"
        ts = m["advisory"]["timestamp"]
        assert "2026-11-22T23:40:00.2" <= ts < "2026-11-22T23:40:05"


def test_origins_follow_the_cors_settings(tmp_path):
    with TestClient(app(tmp_path)) as c:
        with c.websocket_connect(PATH) as ws:  # no Origin: not a browser
            ws.send_text(json.dumps(FIX))
            assert ws.receive_json()["type"] == "advisory"
        with c.websocket_connect(PATH, headers={"Origin": "http://testserver"}) as ws:
            ws.send_text(json.dumps(FIX))  # a page of the service itself
            assert ws.receive_json()["type"] == "advisory"
        with (
            pytest.raises(WebSocketDisconnect) as e,
            c.websocket_connect(PATH, headers={"Origin": "https://evil.example"}),
        ):
            pass
        assert e.value.code == 1008
    with (
        TestClient(app(tmp_path, cors_origins=["https://maps.example"])) as c,
        c.websocket_connect(PATH, headers={"Origin": "https://maps.example"}) as ws,
    ):
        ws.send_text(json.dumps(FIX))
        assert ws.receive_json()["type"] == "advisory"


def test_streams_per_worker_are_bounded(tmp_path):
    with TestClient(app(tmp_path, max_streams=1)) as c, c.websocket_connect(PATH) as first:
        with pytest.raises(WebSocketDisconnect) as e, c.websocket_connect(PATH) as second:
            second.receive_json()
        assert e.value.code == 1013
        first.send_text(json.dumps(FIX))
        assert first.receive_json()["type"] == "advisory"
        assert "greenwave_stream_connections 1.0" in c.get("/metrics").text


def test_plain_get_is_426_and_metrics_count_messages(client):
    r = client.get(PATH)
    assert r.status_code == 426 and r.headers["upgrade"] == "websocket"
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps(FIX))
        ws.receive_json()
    text = client.get("/metrics").text
    assert 'greenwave_stream_messages_total{direction="in"}' in text
    assert 'greenwave_stream_messages_total{direction="out_fix"}' in text


def test_only_real_timing_changes_count(tmp_path):
    """What triggers pushes: another plan or other SPaT, not the same content written again."""
    from datetime import UTC, datetime

    from greenwave.api.state import changed_intersections

    def at(dt_s):
        return datetime.fromtimestamp(time.time() + dt_s, tz=UTC).isoformat()

    with TestClient(app(tmp_path)) as c:
        store = c.app.state.service.store
        seen = []
        store.subscribe(lambda old, new: seen.append(changed_intersections(old, new)))
        fixed = {
            "groups": [
                {
                    "signal_group": "EW",
                    "events": [{"state": "red", "min_end": at(30), "max_end": at(35)}],
                }
            ]
        }
        for _ in range(2):
            assert c.post("/v1/intersections/xisi/spat", json=fixed, headers=AUTH).is_success
        plan = c.get("/v1/intersections/liuquan").json()["plan"]
        plan["offset_s"] = 1.0
        for _ in range(2):
            assert c.put("/v1/intersections/liuquan/plan", json=plan, headers=AUTH).is_success
        assert seen == [{"xisi"}, set(), {"liuquan"}, set()]
