"""The real server: ``greenwave serve`` (uvicorn) on a free 127.0.0.1 port, queried with httpx."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uvicorn_serves_and_stops(tmp_path):
    port = free_port()
    env = dict(os.environ, GREENWAVE_TOKEN="tok", GREENWAVE_STATE_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenwave", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as c:
            a = c.post(
                "/v1/advisory", json={"link_id": "renmin_f3", "offset_m": 200.0, "speed_kmh": 40.0}
            )
            assert a.status_code == 200 and a.json()["link_id"] == "renmin_f3"
            assert (
                c.post(
                    "/v1/advisory",
                    content=b'{"lat": NaN}',
                    headers={"content-type": "application/json"},
                ).status_code
                == 422
            )
            assert c.put("/v1/intersections/xisi/plan", json={}).status_code == 401
            assert c.get("/v1/network").json()["type"] == "FeatureCollection"
            # HEAD through uvicorn: the GET's headers, no body (the keep-alive connection is
            # then reused: a stray body would corrupt the next answer).
            head = c.head("/v1/network")
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) == len(c.get("/v1/network").content)
            assert c.head("/").status_code == 200 and c.head("/healthz").status_code == 200
            assert "greenwave_http_requests_total" in c.get("/metrics").text
            assert c.options("/v1/advisory").headers["allow"] == "OPTIONS, POST"
        _stream_through_uvicorn(port)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode is not None


def _stream_through_uvicorn(port):
    """The WebSocket stream through uvicorn's own WebSocket protocol (the websockets package),
    which the TestClient does not use."""
    import asyncio
    import json

    from websockets.asyncio.client import connect

    async def talk():
        async with connect(f"ws://127.0.0.1:{port}/v1/advisory/stream") as ws:
            await ws.send(json.dumps({"link_id": "renmin_f3", "offset_m": 200.0, "speed_kmh": 40}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"speed_kmh": -1}))
            second = json.loads(await ws.recv())
        return first, second

    first, second = asyncio.run(talk())
    assert first["type"] == "advisory" and first["advisory"]["link_id"] == "renmin_f3"
    assert second["type"] == "error" and second["seq"] == 2


def test_serve_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[grid]\nrows = 1\ncols = 3\n')
    r = subprocess.run(
        [sys.executable, "-m", "greenwave", "serve", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "grid.rows" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "greenwave",
                "serve",
                "--port",
                str(port),
                "--state-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2 and "cannot listen" in r.stderr


@pytest.mark.parametrize(
    "args", [["--port", "70000"], ["--workers", "0"], ["--advisory-range-m", "nan"]]
)
def test_serve_bad_flags(args):
    r = subprocess.run(
        [sys.executable, "-m", "greenwave", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
