"""Accepted plans survive a restart; a corrupt state file is reported, never fatal."""

import json
import os
import time

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

AUTH = {"Authorization": "Bearer tok"}
PLAN = {
    "cycle_s": 100.0,
    "offset_s": 7.0,
    "groups": [
        {"id": "EW", "greens_s": [[0.0, 50.0]], "conflicts": ["NS"]},
        {"id": "NS", "greens_s": [[55.0, 95.0]]},
    ],
}


def app(state_dir):
    return create_app(Settings(state_dir=state_dir, token="tok"))


def test_plan_survives_restart(tmp_path):
    with TestClient(app(tmp_path)) as c:
        assert c.put("/v1/intersections/liuquan/plan", json=PLAN, headers=AUTH).status_code == 200
        spat = {
            "groups": [
                {
                    "signal_group": "EW",
                    "events": [{"state": "green", "min_end_in_s": 600.0, "max_end_in_s": 620.0}],
                }
            ]
        }
        assert c.post("/v1/intersections/xiwu/spat", json=spat, headers=AUTH).status_code == 200
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["zibo_arterial.state.json", "zibo_arterial.state.json.lock"]  # no temp left
    with TestClient(app(tmp_path)) as c:
        d = c.get("/v1/intersections/liuquan").json()
        assert d["plan"]["cycle_s"] == 100.0 and d["plan"]["offset_s"] == 7.0
        assert d["plan_source"] == "api"
        assert c.get("/v1/intersections/xiwu").json()["groups"][0]["source"] == "spat"
        h = c.get("/healthz").json()
        assert h["status"] == "ok" and h["state"]["plans_from_api"] == 1
        assert h["state"]["spat_groups"] == 1 and h["plans_updated_at"]
        # Reset, restart: the scenario's plan again.
        assert c.delete("/v1/intersections/liuquan/plan", headers=AUTH).status_code == 200
    with TestClient(app(tmp_path)) as c:
        assert c.get("/v1/intersections/liuquan").json()["plan_source"] == "scenario"


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"format": "other"}',
        b'{"format": "greenwave-state", "version": 99}',
        b"\xff\xfe garbage",
    ],
)
def test_corrupt_state_file_is_reported_and_scenario_plans_used(tmp_path, content, caplog):
    (tmp_path / "zibo_arterial.state.json").write_bytes(content)
    with TestClient(app(tmp_path)) as c:
        h = c.get("/healthz").json()
        assert h["status"] == "degraded" and h["state"]["ok"] is False
        assert "corrupt" in h["state"]["error"]
        assert c.get("/v1/intersections/liuquan").json()["plan_source"] == "scenario"
        assert (
            c.post(
                "/v1/advisory", json={"link_id": "renmin_f1", "offset_m": 1.0, "speed_kmh": 30.0}
            ).status_code
            == 200
        )
        # The next write replaces it and keeps the bad file aside.
        assert c.put("/v1/intersections/liuquan/plan", json=PLAN, headers=AUTH).status_code == 200
        assert c.get("/healthz").json()["status"] == "ok"
    assert (tmp_path / "zibo_arterial.state.json.corrupt").read_bytes() == content
    assert any("corrupt" in r.message for r in caplog.records)


def test_entries_that_no_longer_fit_are_skipped(tmp_path):
    doc = {
        "format": "greenwave-state",
        "version": 1,
        "plans": {
            "nowhere": {"plan": PLAN},
            "liuquan": {"plan": PLAN, "updated_at_s": 1.0},
            "xisi": {"plan": {**PLAN, "groups": PLAN["groups"][:1]}},
        },
        "spat": [{"bad": 1}],
    }
    (tmp_path / "zibo_arterial.state.json").write_text(json.dumps(doc))
    with TestClient(app(tmp_path)) as c:
        h = c.get("/healthz").json()
        assert h["status"] == "degraded" and "nowhere" in h["state"]["error"]
        assert c.get("/v1/intersections/liuquan").json()["plan_source"] == "api"
        assert c.get("/v1/intersections/xisi").json()["plan_source"] == "scenario"


def test_unwritable_state_dir_refuses_the_change(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with TestClient(app(blocker / "sub")) as c:  # a directory under a file: cannot be made
        r = c.put("/v1/intersections/liuquan/plan", json=PLAN, headers=AUTH)
        assert r.status_code == 503
        assert c.get("/v1/intersections/liuquan").json()["plan_source"] == "scenario"


def test_workers_share_writes_through_the_file(tmp_path):
    """Two apps on one state directory (two workers): neither loses the other's write."""
    with TestClient(app(tmp_path)) as a, TestClient(app(tmp_path)) as b:
        assert a.put("/v1/intersections/liuquan/plan", json=PLAN, headers=AUTH).status_code == 200
        assert b.put("/v1/intersections/xisi/plan", json=PLAN, headers=AUTH).status_code == 200
        assert a.app.state.service.store.refresh() is True
        for c in (a, b):
            for iid in ("liuquan", "xisi"):
                assert c.get(f"/v1/intersections/{iid}").json()["plan_source"] == "api"
    doc = json.loads((tmp_path / "zibo_arterial.state.json").read_text())
    assert set(doc["plans"]) == {"liuquan", "xisi"}


def test_expired_spat_is_dropped_on_write(tmp_path):
    with TestClient(app(tmp_path)) as c:
        now = time.time()
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 100))
        old = {
            "groups": [
                {
                    "signal_group": "EW",
                    "timestamp": iso,
                    "events": [{"state": "red", "min_end_in_s": 5.0, "max_end_in_s": 8.0}],
                }
            ]
        }
        assert c.post("/v1/intersections/xiwu/spat", json=old, headers=AUTH).status_code == 200
        new = {
            "groups": [
                {
                    "signal_group": "NS",
                    "events": [{"state": "red", "min_end_in_s": 5.0, "max_end_in_s": 8.0}],
                }
            ]
        }
        assert c.post("/v1/intersections/xisi/spat", json=new, headers=AUTH).status_code == 200
    doc = json.loads((tmp_path / "zibo_arterial.state.json").read_text())
    assert [(s["intersection_id"], s["signal_group"]) for s in doc["spat"]] == [("xisi", "NS")]
    assert os.stat(tmp_path / "zibo_arterial.state.json").st_size > 0


def test_stale_temporary_files_are_removed_at_start_up(tmp_path, caplog):
    """Writes killed between mkstemp and rename leave temp files: old ones go at start-up."""
    old = time.time() - 3600
    stale = [
        tmp_path / "zibo_arterial.state.json.k3j_x9.tmp",
        tmp_path / "zibo_arterial.state.json.a.tmp",
    ]
    for p in stale:
        p.write_bytes(b'{"format": "greenwave-state", "ver')  # cut short by the kill
        os.utime(p, (old, old))
    fresh = tmp_path / "zibo_arterial.state.json.inflight.tmp"  # maybe another worker's write
    fresh.write_bytes(b"{")
    others = [tmp_path / "zibo_city.state.json.x1.tmp", tmp_path / "notes.tmp"]
    for p in others:
        p.write_bytes(b"x")
        os.utime(p, (old, old))
    with TestClient(app(tmp_path)) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.put("/v1/intersections/liuquan/plan", json=PLAN, headers=AUTH).status_code == 200
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in others)
    assert any("interrupted state writes" in r.message for r in caplog.records)


@pytest.mark.slow
def test_no_acknowledged_write_is_lost_under_kill_9(tmp_path):
    """Writers PUT plans with increasing offsets to a real server (2 workers) that is killed
    with SIGKILL mid-write, several times: after each restart every intersection has the plan of
    its last acknowledged write, or of the one in flight when the server died."""
    import random
    import signal
    import socket
    import subprocess
    import sys
    import threading

    import httpx

    intersections = ["xiliu", "xiwu", "xisi", "xier"]
    acked = dict.fromkeys(intersections, -1)
    sent = dict.fromkeys(intersections, -1)
    rng = random.Random(7)

    def serve():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, GREENWAVE_TOKEN="tok", GREENWAVE_STATE_DIR=str(tmp_path))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "greenwave",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline, "server did not start"
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return proc, base
            except httpx.TransportError:
                time.sleep(0.1)

    def writer(base, iid, stop):
        with httpx.Client(base_url=base, timeout=5) as c:
            while not stop.is_set():
                k = sent[iid] + 1
                sent[iid] = k
                plan = {**PLAN, "offset_s": float(k % 100), "cycle_s": 130.0 + k // 100}
                try:
                    r = c.put(f"/v1/intersections/{iid}/plan", json=plan, headers=AUTH)
                except httpx.TransportError:
                    return  # killed mid-request: not acknowledged
                if r.status_code == 200:
                    acked[iid] = k

    def in_force(base, iid):
        p = httpx.get(f"{base}/v1/intersections/{iid}", timeout=5).json()["plan"]
        if p["cycle_s"] == 120.0:  # still the scenario's plan: no write of ours
            return -1
        return round((p["cycle_s"] - 130.0) * 100 + p["offset_s"])

    for _ in range(3):
        proc, base = serve()
        for iid in intersections:  # what the previous run left is what was acknowledged
            assert acked[iid] <= in_force(base, iid) <= sent[iid], iid
        before = sum(acked.values())
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(base, i, stop)) for i in intersections]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.5, 1.5))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        assert sum(acked.values()) > before + 10  # the writers got writes through each time
    proc, base = serve()
    try:
        for iid in intersections:
            assert acked[iid] <= in_force(base, iid) <= sent[iid], iid
        assert httpx.get(base + "/healthz", timeout=5).json()["status"] == "ok"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
