"""Throughput and latency of the advisory service under load, on the grid city.

Starts ``greenwave serve`` (uvicorn) on 127.0.0.1 with 1 and then 2 workers and loads it from a
separate process: a small keep-alive HTTP/1.1 load generator on asyncio streams (``--client``
mode of this script), a bounded number of requests over a fixed number of connections.  For each
server it measures, in the same run:

* ``GET /v1/ping`` — a trivial endpoint, the framework's own ceiling;
* ``POST /v1/advisory`` — random GPS fixes (position, heading, speed) on the city;
* ``GET /v1/advisory/stream`` — the same fixes over WebSockets, one per connection in flight
  (the same number of connections and messages as the single advisories);
* ``POST /v1/advisories/batch`` — 10,000 vehicles per request (vehicles/s), in the default
  per-vehicle format and as ``?format=columns``.

and prints req/s, p50/p99 latency and the ratios against the goals (single ≥ 70 % of the trivial
endpoint's req/s; p99 ≤ 15 ms at 64 connections with 2 workers; WebSocket p99 no worse than the
single advisory's at the same load; batch ≥ 200k vehicles/s).

``--page-loads N`` (default 10; 0: none) then loads the web client ``/`` from each idle server in
headless Chromium (the system's ``chromium``, driven by playwright with ``executable_path``; the
row is skipped with the reason when either is missing): N cold loads (each in a fresh browser
context, so an empty cache) and N warm ones (reloads in one context), each timed by the page
itself from navigation start to the network drawn (``window.greenwave.loadMs``: the map painted,
routes and controls ready).  Goal: usable in < 1 s from the loopback server.

``--soak S`` then loads the last server with single advisories (distinct fixes on the whole city)
for S seconds and samples each worker's resident memory (``VmRSS``) every ``--soak-every``
seconds: the goal is a flat RSS (±10 %) after the first minute of warm-up.

The load generator runs on the same machine and shares its cores with the server, so the CPU time
of both sides is measured too (Linux ``/proc``; the server's summed over its worker processes):
``srv µs/req`` is what a request costs the server whatever else the machine is doing, and
``gen %`` the share of the wall time the load generator itself kept a core busy.  The generator
is one asyncio (uvloop) process that writes pre-built requests and only finds the end of each
response (status line and ``content-length``), without parsing or keeping the body.

    python benchmarks/bench_api.py [--requests 20000] [--connections 64] [--soak 300] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CITY = ROOT / "scenarios" / "zibo_city.toml"
GOALS = {
    "single_vs_trivial": 0.70,
    "p99_ms_2_workers": 15.0,
    "batch_vehicles_per_s": 200_000,
    "ws_p99_vs_http_p99": 1.0,
    "rss_growth_after_warmup": 0.10,
    "page_load_ms": 1000.0,
}
PAGE_VIEWPORT = {"width": 390, "height": 844}  # a phone, as the client is meant for


# --------------------------------------------------------------------------- request bodies
def advisory_bodies(n: int, seed: int) -> list[bytes]:
    """``n`` single-advisory bodies: GPS fixes on random links of the city (3 m noise)."""
    from greenwave.mapmatch import MapMatcher
    from greenwave.network import World
    from greenwave.scenario import load_scenario

    net = World.build(load_scenario(CITY)).network
    rng = np.random.default_rng(seed)
    link = rng.integers(0, net.n_links, n)
    off = rng.uniform(0.05, 0.95, n) * net.link_length_m[link]
    lon, lat, brg = MapMatcher(net).locate(link, off)
    lon, lat = net.projection.offset_lonlat(lon, lat, rng.normal(0, 3, n), rng.normal(0, 3, n))
    heading = (brg + rng.normal(0, 5, n)) % 360.0
    speed = rng.uniform(0, 60, n)
    return [
        json.dumps(
            {
                "lat": round(float(a), 7),
                "lon": round(float(b), 7),
                "heading_deg": round(float(h), 1) % 360.0,
                "speed_kmh": round(float(v), 1),
                "vehicle_id": f"v{i}",
            }
        ).encode()
        for i, (a, b, h, v) in enumerate(zip(lat, lon, heading, speed, strict=True))
    ]


def batch_body(n: int, seed: int) -> bytes:
    items = [json.loads(b) for b in advisory_bodies(n, seed)]
    return json.dumps({"vehicles": items}).encode()


# --------------------------------------------------------------------------- load generator
def _request(method: str, path: str, body: bytes | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


class _Conn(asyncio.Protocol):
    """One keep-alive connection, one request in flight; reads just enough HTTP/1.1 to find
    where each response ends (the body is counted, not kept)."""

    def __init__(self, load: _Load):
        self.load = load
        self.head = b""
        self.body_left = 0  # bytes of the current body still to come
        self.status = 0
        self.size = 0
        self.t0 = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        req = self.load.next()
        if req is None:
            self.transport.close()
            return
        self.t0 = time.perf_counter()
        self.transport.write(req)

    def data_received(self, data):
        while data:
            if self.body_left:
                if len(data) < self.body_left:
                    self.body_left -= len(data)
                    return
                data = data[self.body_left :]
                self.body_left = 0
                self._complete()
                continue
            head = self.head + data if self.head else data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self.head = head
                return
            self.head = b""
            self.status = int(head[9:12])
            k = head.find(b"content-length:", 0, end)
            if k < 0:
                k = head.lower().find(b"content-length:", 0, end)
            length = int(head[k + 15 : head.find(b"\r\n", k)]) if k >= 0 else 0
            self.size = end + 4 + length
            data = head[end + 4 :]
            if len(data) < length:
                self.body_left = length - len(data)
                return
            data = data[length:]
            self._complete()

    def _complete(self):
        self.load.record(time.perf_counter() - self.t0, self.status, self.size)
        self._send()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


class _Load:
    def __init__(self, requests, total, until=None):
        self.requests, self.total, self.until = requests, total, until
        self.sent = 0
        self.lat: list[float] = []
        self.statuses: dict[int, int] = {}
        self.bytes_in = 0

    def next(self):
        if self.sent >= self.total or (self.until and time.perf_counter() > self.until):
            return None
        self.sent += 1
        return self.requests[self.sent % len(self.requests)]

    def record(self, seconds, status, nbytes):
        self.lat.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.bytes_in += nbytes


async def _load(port, requests, total, connections, warmup, ready=None, duration=None):
    if warmup:
        await _load(port, requests, warmup, connections, 0)
    if ready is not None:
        ready()
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    load = _Load(requests, total, t0 + duration if duration else None)
    c0 = time.process_time()
    conns = [
        (await loop.create_connection(lambda: _Conn(load), "127.0.0.1", port))[1]
        for _ in range(connections)
    ]
    await asyncio.gather(*(c.done for c in conns))
    return _stats(load, time.perf_counter() - t0, time.process_time() - c0)


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client WebSocket frame (RFC 6455: FIN, masked).  The benchmark masks with a fixed key
    so that frames can be built before the load; the server unmasks whatever the key."""
    key = b"\x37\xfa\x21\x3d"
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    masked = (
        np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(key, np.uint8), n)
    ).tobytes()
    return head + key + masked


class _WSConn(asyncio.Protocol):
    """One WebSocket stream, one fix in flight: the counterpart of :class:`_Conn` (frames
    built beforehand, each answer found by its frame header, the payload counted, not kept)."""

    def __init__(self, load: _Load, port: int):
        self.load = load
        self.port = port
        self.buf = b""
        self.open = False
        self.t0 = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(
            b"GET /v1/advisory/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % self.port
        )

    def _send(self):
        frame = self.load.next()
        if frame is None:
            self.transport.write(ws_frame(b"\x03\xe8", 0x8))  # close, 1000
            self.transport.close()
            return
        self.t0 = time.perf_counter()
        self.transport.write(frame)

    def data_received(self, data):
        buf = self.buf + data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if buf[9:12] != b"101":
                raise RuntimeError(f"handshake refused: {buf[:end]!r}")
            self.open, buf = True, buf[end + 4 :]
            self._send()
        while len(buf) >= 2:
            opcode, n, k = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, k = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, k = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < k + n:
                break
            payload, buf = buf[k : k + n], buf[k + n :]
            if opcode == 0x9:  # ping: answer it
                self.transport.write(ws_frame(payload, 0xA))
            elif opcode == 0x1:
                ok = payload.startswith(b'{"type":"advisory"')
                self.load.record(time.perf_counter() - self.t0, 200 if ok else 422, k + n)
                self._send()
        self.buf = buf

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


async def _load_ws(port, frames, total, connections, warmup, ready=None):
    """The same as :func:`_load` over WebSocket streams: ``connections`` streams, each with
    one fix in flight (send, wait for its advisory frame, send the next)."""
    if warmup:
        await _load_ws(port, frames, warmup, connections, 0)
    if ready is not None:
        ready()
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    load = _Load(frames, total)
    c0 = time.process_time()
    conns = [
        (await loop.create_connection(lambda: _WSConn(load, port), "127.0.0.1", port))[1]
        for _ in range(connections)
    ]
    await asyncio.gather(*(c.done for c in conns))
    return _stats(load, time.perf_counter() - t0, time.process_time() - c0)


def _stats(load, wall, cpu) -> dict:
    lat_ms = np.array(load.lat) * 1e3
    return {
        "requests": len(load.lat),
        "seconds": wall,
        "req_per_s": len(load.lat) / wall,
        "client_cpu_s": cpu,
        "p50_ms": float(np.percentile(lat_ms, 50)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "statuses": {str(k): v for k, v in load.statuses.items()},
        "bytes_in": load.bytes_in,
    }


def client_main(a) -> None:
    """``--client`` mode: run one load and print its stats as JSON."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if a.kind == "ws":
        frames = [ws_frame(b) for b in advisory_bodies(4096, a.seed)]
        stats = asyncio.run(
            _load_ws(
                a.port,
                frames,
                a.requests,
                a.connections,
                a.warmup,
                ready=lambda: print("ready", flush=True),
            )
        )
        print(json.dumps(stats))
        return
    if a.kind == "ping":
        reqs = [_request("GET", "/v1/ping", None)]
    elif a.kind in ("single", "soak"):
        n = 4096 if a.kind == "single" else 50_000  # soak: many distinct fixes and messages
        reqs = [_request("POST", "/v1/advisory", b) for b in advisory_bodies(n, a.seed)]
    else:
        path = "/v1/advisories/batch" + ("?format=columns" if a.kind == "columns" else "")
        reqs = [_request("POST", path, batch_body(a.batch, a.seed + k)) for k in range(2)]
    stats = asyncio.run(
        _load(
            a.port,
            reqs,
            a.requests,
            a.connections,
            a.warmup,
            ready=lambda: print("ready", flush=True),
            duration=a.duration or None,
        )
    )
    print(json.dumps(stats))


def run_client(
    port,
    kind,
    requests,
    connections,
    warmup,
    batch=10_000,
    seed=1,
    server=None,
    duration=0.0,
    while_loading=None,
) -> dict:
    """Run one load in a separate process; with ``server`` (its pid), also the server's CPU
    time over the load (the client reports when it starts loading: its first output line)."""
    cmd = [
        sys.executable,
        __file__,
        "--client",
        kind,
        "--port",
        str(port),
        "--requests",
        str(requests),
        "--connections",
        str(connections),
        "--warmup",
        str(warmup),
        "--batch",
        str(batch),
        "--seed",
        str(seed),
        "--duration",
        str(duration),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()  # bodies built, warm-up done
        cpu0 = server_cpu_s(server) if ready and server else None
        if while_loading is not None:
            while_loading(proc)
        out = proc.stdout.read()
        cpu1 = server_cpu_s(server) if cpu0 is not None else None
        if proc.wait(timeout=900 + duration) != 0:
            raise RuntimeError(f"load generator failed ({kind})")
    finally:
        if proc.poll() is None:
            proc.kill()
    stats = json.loads(out.strip().splitlines()[-1])
    if cpu0 is not None and cpu1 is not None:
        stats["server_cpu_s"] = cpu1 - cpu0
    return stats


def server_cpu_s(pid: int) -> float | None:
    """User + system CPU time (s) of a process and its live descendants (Linux), or None."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total, todo = 0.0, [pid]
        while todo:
            p = todo.pop()
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        return total
    except (OSError, ValueError, IndexError):
        return None


def worker_pids(pid: int) -> list[int]:
    """The uvicorn worker processes of a server: its children with several workers (not
    multiprocessing's resource tracker), the server process itself with one."""
    try:
        kids = [k for k in _children(pid) if _is_worker(k)]
    except OSError:
        return []
    return kids or [pid]


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (MB, Linux ``VmRSS``), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def soak(port, server_pid, seconds, every, connections, warmup_s) -> dict:
    """Single advisories for ``seconds`` while sampling every worker's RSS (MB)."""
    samples: list[tuple[float, list[float | None]]] = []

    def sample(proc):
        pids = sorted(worker_pids(server_pid))
        t0 = time.perf_counter()
        while proc.poll() is None:
            samples.append((time.perf_counter() - t0, [rss_mb(p) for p in pids]))
            deadline = time.perf_counter() + every
            while proc.poll() is None and time.perf_counter() < deadline:
                time.sleep(0.2)

    stats = run_client(
        port, "soak", 10**9, connections, 2000, duration=seconds, while_loading=sample
    )
    rows = [(t, r) for t, r in samples if all(x is not None for x in r)]
    after = [r for t, r in rows if t >= warmup_s]
    growth = None
    if len(after) >= 2:
        first, last = np.array(after[0], dtype=float), np.array(after[-1], dtype=float)
        growth = float(np.max((last - first) / first))
    stats["rss_samples"] = [{"t_s": round(t, 1), "rss_mb": r} for t, r in rows]
    stats["rss_growth_after_warmup"] = growth
    stats["warmup_s"] = warmup_s
    return stats


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return b"resource_tracker" not in cmd


# --------------------------------------------------------------------------- page load
def page_loads(port: int, n: int) -> dict:
    """Load the web client ``n`` times cold and ``n`` times warm in headless Chromium; the time
    from navigation start to the network drawn (ms), as the page measures it.

    Cold: each load in a new browser context (its own empty HTTP cache).  Warm: reloads in one
    context after a first load (files revalidated by ETag, the network from the cache).  One
    load before the measured ones is discarded: it starts the browser's own processes."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"skipped": "no chromium on PATH (Debian: apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed (pip install -e '.[dev]')"}
    url = f"http://127.0.0.1:{port}/?mute=1&lang=en"
    ready = "() => window.greenwave && (window.greenwave.ready || window.greenwave.errors.length)"

    def load(page, reload=False) -> float:
        if reload:
            page.reload()
        else:
            page.goto(url)
        page.wait_for_function(ready, timeout=60_000)
        state = page.evaluate("({ms: window.greenwave.loadMs, errors: window.greenwave.errors})")
        if state["errors"] or state["ms"] is None:
            raise RuntimeError(f"the web client did not load: {state['errors']}")
        return float(state["ms"])

    cold: list[float] = []
    warm: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            for k in range(n + 1):
                ctx = browser.new_context(viewport=PAGE_VIEWPORT)
                try:
                    ms = load(ctx.new_page())
                finally:
                    ctx.close()
                if k:  # the first load starts the browser's processes: not counted
                    cold.append(ms)
            ctx = browser.new_context(viewport=PAGE_VIEWPORT)
            try:
                page = ctx.new_page()
                load(page)
                warm = [load(page, reload=True) for _ in range(n)]
            finally:
                ctx.close()
        finally:
            browser.close()

    def summary(values: list[float]) -> dict:
        return {
            "median": float(np.median(values)),
            "max": float(np.max(values)),
            "all": [round(v, 1) for v in values],
        }

    return {"loads": n, "cold_ms": summary(cold), "warm_ms": summary(warm)}


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, port: int, state_dir: str) -> subprocess.Popen:
    env = dict(os.environ, GREENWAVE_STATE_DIR=state_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GREENWAVE_TOKEN", None)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: a chatty server never blocks
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "greenwave",
            "serve",
            "--scenario",
            str(CITY),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.time() + 120
    import urllib.request

    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                # all workers up: several answers in a row
                time.sleep(1.0 + workers)
                return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("server did not start within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def bench(a) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as state:
        for workers in a.workers:
            port = free_port()
            proc = start_server(workers, port, state)
            try:
                r = {}
                pid = proc.pid
                r["trivial"] = run_client(
                    port, "ping", a.requests, a.connections, a.warmup, server=pid
                )
                r["single"] = run_client(
                    port, "single", a.requests, a.connections, a.warmup, server=pid
                )
                r["stream"] = run_client(
                    port, "ws", a.requests, a.connections, a.warmup, server=pid
                )
                for kind in ("batch", "columns"):
                    r[kind] = run_client(
                        port,
                        kind,
                        a.batch_requests,
                        a.batch_connections,
                        2,
                        batch=a.batch_size,
                        server=pid,
                    )
                    r[kind]["vehicles_per_s"] = r[kind]["req_per_s"] * a.batch_size
                r["single_vs_trivial"] = r["single"]["req_per_s"] / r["trivial"]["req_per_s"]
                r["ws_p99_vs_http_p99"] = r["stream"]["p99_ms"] / r["single"]["p99_ms"]
                if a.page_loads > 0:
                    r["page"] = page_loads(port, a.page_loads)
                if a.soak and workers == a.workers[-1]:
                    r["soak"] = soak(
                        port, pid, a.soak, a.soak_every, a.connections, min(60.0, a.soak / 3)
                    )
                results[str(workers)] = r
            finally:
                stop_server(proc)
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000, help="per endpoint (default 20000)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--batch-requests", type=int, default=30)
    ap.add_argument("--batch-connections", type=int, default=4)
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        help="then load the last server for this many seconds and sample worker RSS (default 0: "
        "no soak)",
    )
    ap.add_argument("--soak-every", type=float, default=10.0, help="RSS sample interval (s)")
    ap.add_argument(
        "--page-loads",
        type=_count,
        default=10,
        help="cold and warm loads of the web client in headless Chromium per server (default "
        "10; 0: none)",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--client",
        choices=["ping", "single", "ws", "batch", "columns", "soak"],
        help=argparse.SUPPRESS,
    )
    ap.add_argument("--duration", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=10_000, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.client:
        a.kind = a.client
        client_main(a)
        return
    res = bench(a)
    print(
        f"greenwave API load test: grid city (1190 intersections), {a.connections} "
        f"connections, {a.requests} requests per endpoint; batch {a.batch_size} vehicles × "
        f"{a.batch_requests} requests over {a.batch_connections} connections"
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; the load "
        "generator runs on the same cores"
    )
    print(
        f"{'workers':>7} {'endpoint':<30} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'vehicles/s':>10} {'srv µs/req':>10} {'gen %':>6} {'non-200':>7}"
    )
    rows = (
        ("GET /v1/ping", "trivial"),
        ("POST /v1/advisory", "single"),
        ("WS /v1/advisory/stream", "stream"),
        ("POST /v1/advisories/batch", "batch"),
        ("  ...?format=columns", "columns"),
    )
    for w, r in res.items():
        for name, key in rows:
            s = r[key]
            bad = sum(v for k, v in s["statuses"].items() if k != "200")
            vps = f"{s['vehicles_per_s']:>10.0f}" if "vehicles_per_s" in s else f"{'':>10}"
            srv = s.get("server_cpu_s")
            srv = f"{srv / s['requests'] * 1e6:>10.0f}" if srv is not None else f"{'':>10}"
            gen = 100 * s["client_cpu_s"] / s["seconds"]
            print(
                f"{w:>7} {name:<30} {s['req_per_s']:>8.0f} {s['p50_ms']:>7.2f} "
                f"{s['p99_ms']:>7.2f} {vps} {srv} {gen:>6.0f} {bad:>7}"
            )
    pages = {w: r["page"] for w, r in res.items() if "page" in r}
    if pages:
        print(
            f"web client page load, navigation start → network drawn (headless Chromium, "
            f"{a.page_loads} loads each):"
        )
        print(f"{'workers':>7} {'load':<30} {'median ms':>10} {'max ms':>8}")
        for w, page in pages.items():
            if "skipped" in page:
                print(f"{w:>7} not measured: {page['skipped']}")
                continue
            for name, key in (("cold (new context)", "cold_ms"), ("warm (reload)", "warm_ms")):
                print(f"{w:>7} {name:<30} {page[key]['median']:>10.0f} {page[key]['max']:>8.0f}")
    print("goals:")
    summary = {}
    for w, r in res.items():
        ratio = r["single_vs_trivial"]
        cpu = ""
        if "server_cpu_s" in r["single"] and "server_cpu_s" in r["trivial"]:
            per = {k: r[k]["server_cpu_s"] / r[k]["requests"] for k in ("single", "trivial")}
            cpu = f" (server CPU per request: {per['trivial'] / per['single']:.2f})"
        print(
            f"  {w} worker(s): single/trivial req/s = {ratio:.2f}{cpu} (goal >= "
            f"{GOALS['single_vs_trivial']:.2f}); single p99 = {r['single']['p99_ms']:.1f} ms"
            f"{' (goal <= 15 ms)' if w == '2' else ''}; batch = "
            f"{r['batch']['vehicles_per_s'] / 1000:.0f}k vehicles/s, columns "
            f"{r['columns']['vehicles_per_s'] / 1000:.0f}k (goal >= 200k)"
        )
        print(
            f"  {w} worker(s): WebSocket p99 = {r['stream']['p99_ms']:.1f} ms, "
            f"{r['ws_p99_vs_http_p99']:.2f} × the single advisory's at the same load (goal <= "
            f"{GOALS['ws_p99_vs_http_p99']:.2f})"
        )
        page = r.get("page")
        if page is not None and "skipped" not in page:
            worst = max(page["cold_ms"]["max"], page["warm_ms"]["max"])
            print(
                f"  {w} worker(s): web client usable after {worst:.0f} ms at worst of "
                f"{2 * page['loads']} loads (goal < {GOALS['page_load_ms']:.0f} ms)"
            )
        if "soak" in r:
            k = r["soak"]
            growth = k["rss_growth_after_warmup"]
            first = k["rss_samples"][0]["rss_mb"] if k["rss_samples"] else []
            last = k["rss_samples"][-1]["rss_mb"] if k["rss_samples"] else []
            print(
                f"  {w} worker(s), soak {a.soak:.0f} s of single advisories at "
                f"{k['req_per_s']:.0f} req/s: worker RSS {_mb(first)} → {_mb(last)} MB; growth "
                f"after {k['warmup_s']:.0f} s warm-up: "
                + ("n/a" if growth is None else f"{100 * growth:+.1f} %")
                + f" (goal within ±{100 * GOALS['rss_growth_after_warmup']:.0f} %)"
            )
        summary[w] = {
            "single_vs_trivial": ratio,
            "single_p99_ms": r["single"]["p99_ms"],
            "ws_p99_ms": r["stream"]["p99_ms"],
            "ws_p99_vs_http_p99": r["ws_p99_vs_http_p99"],
            "batch_vehicles_per_s": r["batch"]["vehicles_per_s"],
            "columns_vehicles_per_s": r["columns"]["vehicles_per_s"],
            "rss_growth_after_warmup": r.get("soak", {}).get("rss_growth_after_warmup"),
            "page_cold_median_ms": _page(r, "cold_ms", "median"),
            "page_cold_max_ms": _page(r, "cold_ms", "max"),
            "page_warm_median_ms": _page(r, "warm_ms", "median"),
            "page_warm_max_ms": _page(r, "warm_ms", "max"),
        }
    if a.json:
        print(
            json.dumps(
                {
                    "benchmark": "api",
                    "connections": a.connections,
                    "requests": a.requests,
                    "goals": GOALS,
                    "results": res,
                    "summary": summary,
                }
            )
        )


def _count(text: str) -> int:
    """A whole number >= 0 (argparse type: anything else exits 2 naming the flag)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _page(r: dict, kind: str, stat: str) -> float | None:
    page = r.get("page") or {}
    return page[kind][stat] if kind in page else None


def _mb(values) -> str:
    return "/".join(f"{v:.0f}" for v in values if v is not None) or "?"


if __name__ == "__main__":
    main()
