"""The web client in a real browser: headless Chromium driven by playwright against
``greenwave serve`` (uvicorn) on a free loopback port.

Chromium is the system's (Debian: ``apt-get install chromium``; .ci/run installs it); playwright
(the dev extra) drives it through ``executable_path`` and never downloads a browser.  Without
either, the module is skipped with the reason.  Every request that would leave 127.0.0.1 is
aborted and fails the test, so the pages are checked to work offline.

Screenshots (phone 390×844 in Chinese and English, with a full-page one; desktop 1280×800 during
the whole-route drive) and the measured load times go to ``$GREENWAVE_ARTIFACTS/web-client``
(default: a temporary directory); the path is printed.
"""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from greenwave.messages import round_band_kmh, rounded_distance_m
from greenwave.units import kmh_to_ms

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium on PATH (Debian: apt-get install chromium): browser tests skipped",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)

SIZES = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
RATE = 10  # replay speed: 10 advisory requests (10 s of the car's clock) per second
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
PAGE_BYTES_MAX = 150_000  # the client's own files (HTML, CSS, modules) on a cold load
TOKEN = "web-client-token"  # the server's write token (plan writes in the push test)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``greenwave serve --clock scenario`` on the bundled arterial: the replay starts at the
    scenario's start, whatever the date, and sees the same signals every run."""
    tmp = tmp_path_factory.mktemp("web-server")
    port = _free_port()
    env = dict(os.environ, GREENWAVE_STATE_DIR=str(tmp), GREENWAVE_TOKEN=TOKEN)
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "greenwave", "serve", "--port", str(port)),
            *("--clock", "scenario", "--log-level", "warning"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp / "server.log").read_text()
            try:
                if httpx.get(base + "/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(request, tmp_path_factory):
    base = os.environ.get("GREENWAVE_ARTIFACTS")
    path = Path(base) / "web-client" if base else tmp_path_factory.mktemp("web-client")
    path.mkdir(parents=True, exist_ok=True)
    measured: dict = {}
    yield path, measured
    (path / "measured.json").write_text(json.dumps(measured, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"web client screenshots and load times: {path}"
    if reporter is not None:
        reporter.write_line(line)
    else:  # pragma: no cover - without pytest's terminal
        print(line)


class Tab:
    """A page in a fresh browser context (cold cache) that records what it asked for: requests
    leaving the machine are aborted and listed, as are error answers, script errors and
    console errors."""

    def __init__(self, browser, size, **context):
        self.context = browser.new_context(**SIZES[size], **context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.external: list[str] = []
        self.errors: list[str] = []
        self.answers: list[tuple[int, str]] = []
        self.context.route("**/*", self._route)
        self.page.on("pageerror", lambda e: self.errors.append(f"script: {e}"))
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("response", lambda r: self.answers.append((r.status, r.url)))

    def _route(self, route):
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def failed(self, allowed=()):
        return [(s, u) for s, u in self.answers if s >= 400 and s not in allowed]

    def close(self):
        self.context.close()


def _dom(page) -> dict:
    return page.evaluate(
        """() => {
        const $ = (id) => document.getElementById(id);
        return {
          band: $("band-text").textContent,
          minKmh: $("band").dataset.minKmh,
          maxKmh: $("band").dataset.maxKmh,
          dist: $("dist").textContent,
          signal: $("signal").dataset.state,
          countdown: $("countdown").textContent,
          speed: $("speed").textContent,
          options: [...document.querySelectorAll("#options li b")].map((b) => b.textContent),
          plan: $("plan").hidden ? null : $("plan").dataset.kind,
          message: $("message").textContent,
          label: $("band-label").textContent,
          lang: document.documentElement.lang,
          running: document.body.dataset.running ?? null,
        };
    }"""
    )


def _band_text(band) -> str:
    if band is None:
        return "—"
    r = round_band_kmh(kmh_to_ms(band["min_kmh"]), kmh_to_ms(band["max_kmh"]))
    return "—" if r is None else f"{r[0]}–{r[1]}"


def _js_round(x):
    """JavaScript's Math.round (halves up), as the page rounds speeds and countdowns."""
    return math.floor(x + 0.5)


def _spoken_distance(d):
    """messages.py's rounding of distances (numpy rounds halves to even, as Python does)."""
    step = 5 if d < 100 else 10 if d < 1000 else 50
    return str(int(step * round(d / step)))


def _epoch(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_page_loads_small_and_draws_the_network(server, browser, artifacts):
    tab = Tab(browser, "desktop")
    page = tab.page
    try:
        page.goto(server + "/?lang=en")
        page.wait_for_function("() => window.greenwave?.ready")
        net = httpx.get(server + "/v1/network").json()
        links = sum(f["properties"]["kind"] == "link" for f in net["features"])
        nodes = len(net["features"]) - links
        got = page.evaluate("window.greenwave.network")
        assert got == {"links": links, "intersections": nodes}
        # The map is drawn (pixels on the canvas), and every route of the scenario is offered.
        painted = page.evaluate(
            """() => { const c = document.getElementById("map");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"""
        )
        assert painted > 1000
        routes = page.eval_on_selector_all("#route option", "os => os.map((o) => o.value)")
        # both arterial directions and both sides of the 8 cross streets
        entries = ["renmin_b0", "renmin_f0"] + [f"renmin_{s}{k}" for s in "ns" for k in range(8)]
        assert sorted(routes) == sorted(entries)
        sizes = page.evaluate(
            """() => performance.getEntriesByType("resource")
                .concat(performance.getEntriesByType("navigation"))
                .map((e) => [e.name, e.encodedBodySize])"""
        )
        own = sum(n for url, n in sizes if "/v1/" not in url)
        load_ms = page.evaluate("window.greenwave.loadMs")
        artifacts[1]["cold_load_ms"] = load_ms
        artifacts[1]["client_bytes"] = own
        print(f"page ready (network drawn) {load_ms:.0f} ms after navigation; {own} bytes")
        assert own < PAGE_BYTES_MAX
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        tab.close()


def test_replay_shows_the_apis_answer_for_the_same_instant(server, browser, artifacts):
    """Drive the eastbound route at 10×; stop at an instant with a band on screen; the API
    asked again with the same request (same explicit timestamp) gives the same answer, and the
    screen shows it: band (rounded inwards), distance, signal, countdown, options, plan."""
    path, measured = artifacts
    size = "phone"  # the desktop screenshot is taken during the whole-route drive
    tab = Tab(browser, size, timezone_id="Europe/Berlin")  # not the scenario's zone
    page = tab.page
    try:
        page.goto(f"{server}/?lang=zh&route=renmin_f0&rate={RATE}&mute=1")
        page.wait_for_function("() => window.greenwave?.ready")
        t0 = time.monotonic()
        page.click("#go")
        # Stop from inside the page, in the same task that sees the condition, so the screen
        # cannot move on before it is read.
        page.wait_for_function(
            """() => { const g = window.greenwave;
              if (g.requests.length >= 8 && g.last?.response?.band) {
                document.getElementById("go").click(); return true; }
              return false; }""",
            timeout=20_000,
        )
        elapsed = time.monotonic() - t0
        state = page.evaluate("window.greenwave")
        dom = _dom(page)
        assert dom["running"] is None

        req, shown = state["last"]["request"], state["last"]["response"]
        again = httpx.post(server + "/v1/advisory", json=req).json()
        for key in ("status", "link_id", "intersection", "distance_m", "signal", "band"):
            assert again[key] == shown[key], key
        assert again["options"] == shown["options"] and again["plan"] == shown["plan"]
        assert again["message"] == shown["message"]

        assert dom["band"] == _band_text(again["band"]) != "—"
        assert float(dom["minKmh"]) == again["band"]["min_kmh"]
        assert float(dom["maxKmh"]) == again["band"]["max_kmh"]
        assert dom["dist"] == _spoken_distance(again["distance_m"])
        assert dom["signal"] == again["signal"]["state"]
        assert dom["countdown"] == f"{_js_round(again['signal']['time_to_change_s'])}秒"
        assert dom["speed"] == str(_js_round(req["speed_kmh"]))
        by_n = {o["intersections"]: o for o in again["options"]}
        assert dom["options"] == [_band_text(by_n.get(n)) for n in (1, 2, 3)]
        assert dom["plan"] == (again["plan"]["kind"] if again["plan"] else None)
        assert dom["message"] == again["message"]["zh"]
        # The clock: the scenario's local time (07:30 +08:00 at its start), not the browser's.
        local = datetime.fromisoformat(req["timestamp"].replace("Z", "+00:00")).astimezone(
            timezone(timedelta(hours=8))
        )
        assert page.inner_text("#clock") == f"{local:%H:%M:%S} UTC+8 ×{RATE}"
        assert state["utcOffsetS"] == 8 * 3600

        # The replay clock: one request per second of the car's time, none skipped or repeated,
        # never ahead of RATE × real time; from the scenario's start on the scenario clock.
        times = [_epoch(t) for t in state["requests"]]
        assert [b - a for a, b in pairwise(times)] == [1.0] * (len(times) - 1)
        assert len(times) <= RATE * elapsed + 2
        clock = httpx.get(server + "/healthz").json()["clock"]
        assert clock["kind"] == "scenario" and times[0] == _epoch(clock["accepts_from"])

        # Spoken on entering the first intersection's range, in Chinese (muted: logged only).
        first = state["spoken"][0]
        assert first["moment"] == "enter" and first["lang"] == "zh-CN" and first["muted"]
        assert first["text"].startswith("距离前方路口")
        page.screenshot(path=str(path / f"{size}-zh.png"))
        page.screenshot(path=str(path / f"{size}-zh-full.png"), full_page=True)

        # zh → en: labels, the message and the language of speech follow.
        page.click("#lang")
        dom_en = _dom(page)
        assert dom_en["lang"] == "en-US" and dom_en["message"] == again["message"]["en"]
        assert dom_en["band"] == dom["band"] and dom_en["countdown"].endswith("s")
        page.screenshot(path=str(path / f"{size}-en.png"))
        measured[f"replay_{size}"] = {"requests": len(times), "elapsed_s": round(elapsed, 2)}
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        tab.close()


def test_replay_drives_the_whole_route_and_stops_for_red(server, browser, artifacts):
    """The simulated car drives the westbound route (no green wave that way) to its end at the
    advised speed: it never enters a junction during a red that lasts the whole next second, and
    the driver hears the advice on entering the range of every signal on the way."""
    tab = Tab(browser, "desktop")
    page = tab.page
    try:
        page.goto(f"{server}/?lang=en&route=renmin_b0&rate=100&mute=1&autostart=1")
        # The desktop screenshot: a minute into the drive, with a band on screen.
        page.wait_for_function(
            "() => window.greenwave.drive.length >= 60 && window.greenwave.last?.response?.band"
        )
        page.screenshot(path=str(artifacts[0] / "desktop-en.png"))
        page.wait_for_function("() => window.greenwave?.arrived", timeout=60_000)
        state = page.evaluate("window.greenwave")
        drive = state["drive"]
        route = [f"renmin_b{k}" for k in range(9)]
        assert drive[0]["link"] == "renmin_b0"
        assert sorted({d["link"] for d in drive}) == route
        crossings = 0
        for a, b in pairwise(drive):
            assert _epoch(b["t"]) - _epoch(a["t"]) == 1.0
            if a["link"] == b["link"] or a["signal"] is None or a["matched"] != a["link"]:
                continue
            crossings += 1
            sig = a["signal"]
            red_all_second = sig["state"] == "red" and sig["time_to_change_min_s"] >= 1.0
            assert not red_all_second, (a, b)
        assert crossings >= 6  # of 8 stop lines (a fix at a junction may match either link)
        net = httpx.get(server + "/v1/network").json()["features"]
        signals = {f["properties"]["intersection_id"] for f in net if f["id"] in route} - {None}
        entered = {e["intersection"] for e in state["spoken"] if e["moment"] == "enter"}
        assert len(signals) == 8 and entered == signals
        assert all(e["lang"] == "en-US" and e["muted"] for e in state["spoken"])
        speeds = [d["speed_kmh"] for d in drive]
        artifacts[1]["replay_full_route"] = {
            "sim_s": len(drive),
            "stopped_s": sum(v < 1.0 for v in speeds),
            "stops": sum(a >= 1.0 > b for a, b in pairwise(speeds)),
            "moments": [e["moment"] for e in state["spoken"]],
        }
        assert "End of the route" in page.inner_text("#message")
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        tab.close()


def test_replay_ticks_keep_to_an_absolute_clock(server, browser, artifacts):
    """30 s of replay at 10× (300 ticks, one advisory request each): tick k runs at
    start + k × 100 ms on the page's clock.  Lateness does not accumulate: a chain of
    setTimeout(period) after each answer would be late by the sum of the requests' times (about
    a second here); scheduled against the start, the last ticks are as punctual as the first."""
    rate, wall_s = 10, 30.0
    period_ms = 1000 / rate
    n = int(wall_s * rate)
    tab = Tab(browser, "desktop")
    page = tab.page
    try:
        page.goto(f"{server}/?lang=en&route=renmin_f0&rate={rate}&mute=1")
        page.wait_for_function("() => window.greenwave?.ready")
        page.click("#go")
        page.wait_for_function(
            f"() => window.greenwave.ticks.length >= {n} || window.greenwave.arrived",
            timeout=(wall_s + 30) * 1000,
        )
        page.click("#go")
        ticks = page.evaluate("window.greenwave.ticks")
        times = [_epoch(d["t"]) for d in page.evaluate("window.greenwave.drive")]
    finally:
        tab.close()
    assert len(ticks) >= n, "the route ended before 30 s of replay"
    ticks = ticks[:n]
    due = [t["due_ms"] - ticks[0]["due_ms"] for t in ticks]
    late = sorted(t["ran_ms"] - t["due_ms"] for t in ticks)
    assert due == pytest.approx([k * period_ms for k in range(n)], abs=1e-6)
    assert late[0] >= -2.0  # never early (timers may round by a millisecond)
    head = sorted(t["ran_ms"] - t["due_ms"] for t in ticks[:50])
    tail = sorted(t["ran_ms"] - t["due_ms"] for t in ticks[-50:])
    median_drift_ms = tail[25] - head[25]
    p95_ms = late[int(0.95 * n)]
    last_ms = ticks[-1]["ran_ms"] - ticks[-1]["due_ms"]
    artifacts[1]["replay_ticks_10x_30s"] = {
        "ticks": n,
        "late_median_ms": round(late[n // 2], 1),
        "late_p95_ms": round(p95_ms, 1),
        "late_max_ms": round(late[-1], 1),
        "median_drift_ms": round(median_drift_ms, 1),
    }
    print(f"replay ticks: {artifacts[1]['replay_ticks_10x_30s']}")
    # Tolerances for a loaded 2-core machine: a late tick is caught up by the next ones.
    assert abs(median_drift_ms) < 20.0
    assert p95_ms < period_ms and last_ms < 2 * period_ms
    # The car's clock: one second of scenario time per tick, none skipped or repeated.
    assert [b - a for a, b in pairwise(times[:n])] == [1.0] * (n - 1)


def test_the_page_rounds_as_the_spoken_messages(server, browser):
    """format.js against greenwave.messages: bands inwards to whole km/h (with the same
    tolerance for float noise), distances to 5/10/50 m with halves to even."""
    bands = [(35.0, 50.0), (35.000000000000004, 49.99999999999999), (35.2, 35.8), (34.999, 50.001)]
    dists = [0.0, 2.5, 7.5, 97.5, 99.9, 102.5, 105.0, 995.0, 999.0, 1000.0, 1025.0, 1075.0, 4321.0]
    tab = Tab(browser, "desktop")
    try:
        tab.page.goto(server + "/")
        got = tab.page.evaluate(
            """async ([bands, dists]) => {
                const f = await import("./static/js/format.js");
                return [bands.map(([a, b]) => f.roundBand({min_kmh: a, max_kmh: b})),
                        dists.map((d) => f.roundDistance(d))];
            }""",
            [bands, dists],
        )
    finally:
        tab.close()
    want_bands = [round_band_kmh(kmh_to_ms(a), kmh_to_ms(b)) for a, b in bands]
    assert [tuple(b) if b else None for b in got[0]] == want_bands
    assert got[1] == [float(rounded_distance_m(d)) for d in dists]


def test_speech_at_the_apps_moments(server, browser):
    """speech.js on a made-up sequence of answers: entering an intersection's range, the band
    moving by less and by more than 5 km/h, prepare to stop, the next intersection; in the
    chosen language; nothing said while muted (the moment is still logged)."""

    def adv(iid, status, band=None):
        b = None if band is None else {"min_kmh": band[0], "max_kmh": band[1]}
        msg = {"zh": f"{iid} {status} 中", "en": f"{iid} {status} en"}
        return {"status": status, "intersection": {"id": iid}, "band": b, "message": msg}

    seq = [
        ({"status": "no_signal_ahead", "intersection": {"id": "a"}, "band": None}, "zh"),
        (adv("a", "advice", (35, 50)), "zh"),  # enter
        (adv("a", "advice", (37, 50)), "zh"),  # same band, moved 2 km/h: quiet
        (adv("a", "proceed", (41, 50)), "zh"),  # moved 6 km/h: a new band
        (adv("a", "prepare_to_stop"), "en"),  # prepare to stop
        (adv("a", "prepare_to_stop"), "en"),  # still: quiet
        (adv("b", "advice", (35, 45)), "en"),  # the next intersection: enter
    ]
    tab = Tab(browser, "phone")
    try:
        tab.page.goto(server + "/")
        said, moments = tab.page.evaluate(
            """async (seq) => {
                const said = [];
                window.speechSynthesis.speak = (u) => said.push([u.lang, u.text]);
                const { Speaker } = await import("./static/js/speech.js");
                const s = new Speaker();
                const moments = seq.map(([resp, lang]) => s.update(resp, lang));
                s.setMuted(true);
                moments.push(s.update({status: "advice", intersection: {id: "c"},
                    band: {min_kmh: 35, max_kmh: 50}, message: {zh: "c", en: "c"}}, "zh"));
                return [said, moments];
            }""",
            seq,
        )
    finally:
        tab.close()
    assert moments == [None, "enter", None, "band", "prepare_to_stop", None, "enter", "enter"]
    assert said == [
        ["zh-CN", "a advice 中"],
        ["zh-CN", "a proceed 中"],
        ["en-US", "a prepare_to_stop en"],
        ["en-US", "b advice en"],
    ]


def test_a_refused_request_shows_a_banner_and_stops_the_replay(server, browser, artifacts):
    tab = Tab(browser, "phone")
    page = tab.page
    try:
        page.goto(f"{server}/?lang=en&mute=1&autostart=1&start=2000-01-01T00:00:00Z")
        page.wait_for_selector("#banner:not([hidden])")
        page.screenshot(path=str(artifacts[0] / "phone-422.png"))
        text = page.inner_text("#banner")
        assert "422" in text and "timestamp" in text
        page.wait_for_function("() => !document.body.dataset.running")
        assert page.evaluate("window.greenwave.requests.length") == 0
        assert [s for s, _ in tab.failed()] == [422]

        # A start time that is no time at all is refused by the page itself.
        page.fill("#start", "yesterday")
        page.click("#go")
        page.wait_for_function(
            "() => document.getElementById('banner').textContent.includes('yesterday')"
        )
        assert "Invalid start time" in page.inner_text("#banner")
        assert tab.external == [] and [e for e in tab.errors if "422" not in e] == []
    finally:
        tab.close()


def test_live_mode_sends_the_devices_position(server, browser):
    """Geolocation → POST /v1/advisory: the heading comes from two fixes (a browser reports
    none standing still), and the fix is matched to the eastbound link under it."""
    lon0, lat0 = 118.021886, 36.8105495  # 30 % along renmin_f2 (eastbound)
    tab = Tab(browser, "phone", geolocation={"longitude": lon0, "latitude": lat0, "accuracy": 5})
    page = tab.page
    try:
        tab.context.grant_permissions(["geolocation"])
        page.goto(f"{server}/?lang=en&mute=1&mode=live")
        page.wait_for_function("() => window.greenwave?.ready")
        page.click("#go")
        page.wait_for_function(
            "() => document.getElementById('live-status').textContent.includes('direction')"
        )
        time.sleep(1.0)  # so that the two fixes give a speed
        tab.context.set_geolocation({"longitude": lon0 + 0.00028, "latitude": lat0, "accuracy": 5})
        page.wait_for_function("() => window.greenwave.last?.request?.vehicle_id === 'live'")
        req, shown = page.evaluate(
            "[window.greenwave.last.request, window.greenwave.last.response]"
        )
        assert abs(req["heading_deg"] - 90.0) < 2.0
        assert 20 < req["speed_kmh"] < 200  # 25 m in about a second
        assert shown["link_id"] == "renmin_f2" and shown["intersection"]["id"] == "xisi"
        assert _dom(page)["dist"] == _spoken_distance(shown["distance_m"])
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        tab.close()


def _start_live(tab, server, lon0, lat0):
    """Live mode at (lon0, lat0), then a second fix 25 m east a second later (a heading and a
    speed): the first advice is on screen when this returns."""
    page = tab.page
    tab.context.grant_permissions(["geolocation"])
    page.goto(f"{server}/?lang=en&mute=1&mode=live")
    page.wait_for_function("() => window.greenwave?.ready")
    page.click("#go")
    page.wait_for_function(
        "() => document.getElementById('live-status').textContent.includes('direction')"
    )
    time.sleep(1.0)  # so that the two fixes give a speed
    tab.context.set_geolocation({"longitude": lon0 + 0.00028, "latitude": lat0, "accuracy": 5})
    page.wait_for_function("() => window.greenwave.last?.request?.vehicle_id === 'live'")


def _same_advice(a, b, tol_s=0.002, key=""):
    """Two advisories equal but for when each was generated: a pushed advice is for an instant
    with more digits than its ISO ``timestamp`` (milliseconds), so times may differ by
    ``tol_s`` and what follows from them by as much as 1 ms makes at up to 50 m/s: distances
    by 0.05 m, speeds by 0.01 km/h."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (a.keys() | b.keys()) - {"generated_at"}
        return all(k in a and k in b and _same_advice(a[k], b[k], tol_s, k) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        pairs = zip(a, b, strict=False)
        return len(a) == len(b) and all(_same_advice(x, y, tol_s, key) for x, y in pairs)
    if isinstance(a, float | int) and isinstance(b, float | int):
        tol = 0.05 if key.endswith("_m") else 0.01 if key.endswith("_kmh") else tol_s
        return abs(a - b) <= tol
    return a == b


LIVE_AT = (118.021886, 36.8105495)  # 30 % along renmin_f2 (eastbound), before xisi


def test_live_mode_pushes_a_plan_write_to_the_screen_without_a_new_fix(server, browser, artifacts):
    """Live fixes go over the WebSocket; a plan write for the next intersection reaches the
    screen at once, pushed, with no new fix (the position stays put); so does the reset.  The
    pushed advice is the API's answer for the same request, and the clock shows the scenario's
    local time (UTC+8) in a browser set to another zone."""
    lon0, lat0 = LIVE_AT
    tab = Tab(
        browser,
        "phone",
        geolocation={"longitude": lon0, "latitude": lat0, "accuracy": 5},
        timezone_id="America/New_York",
    )
    page = tab.page
    auth = {"Authorization": f"Bearer {TOKEN}"}
    plan = httpx.get(server + "/v1/intersections/xisi").json()["plan"]
    try:
        _start_live(tab, server, lon0, lat0)
        page.wait_for_function("() => window.greenwave.link === 'open'")
        state = page.evaluate("window.greenwave")
        assert state["fixes"]["ws"] >= 1 and state["fixes"]["http"] == 0
        assert state["last"]["cause"] == "fix"
        assert state["last"]["response"]["intersection"]["id"] == "xisi"
        assert page.inner_text("#link") == "push"
        assert page.eval_on_selector("#link", "e => e.dataset.state") == "open"
        before = _dom(page)
        fixes = state["fixes"]["ws"]

        for k, write in enumerate(("put", "delete"), start=1):
            t0 = time.monotonic()
            if write == "put":  # the same plan half a cycle later: another state or countdown
                shifted = {**plan, "offset_s": (plan["offset_s"] + 60.0) % plan["cycle_s"]}
                r = httpx.put(server + "/v1/intersections/xisi/plan", json=shifted, headers=auth)
            else:  # back to the scenario's plan
                r = httpx.delete(server + "/v1/intersections/xisi/plan", headers=auth)
            assert r.status_code == 200, r.text
            page.wait_for_function(f"() => window.greenwave.pushes >= {k}", timeout=5_000)
            latency = time.monotonic() - t0
            artifacts[1][f"push_{write}_to_screen_s"] = round(latency, 3)
            print(f"plan {write} → screen in {latency * 1000:.0f} ms")
            last = page.evaluate("window.greenwave.last")
            dom = _dom(page)
            assert last["cause"] == "timing" and "timestamp" not in last["request"]
            assert page.evaluate("window.greenwave.fixes.ws") == fixes  # no new fix
            shown = last["response"]
            again = httpx.post(
                server + "/v1/advisory",
                json={
                    "link_id": shown["link_id"],
                    "offset_m": shown["offset_m"],
                    "speed_kmh": last["request"]["speed_kmh"],
                    "timestamp": shown["timestamp"],
                    "vehicle_id": "live",
                },
            ).json()
            diff = {k: (again.get(k), shown.get(k)) for k in again if again.get(k) != shown.get(k)}
            assert _same_advice(again, shown), diff
            sig = shown["signal"]
            assert dom["signal"] == sig["state"]
            assert dom["countdown"] == f"{_js_round(sig['time_to_change_s'])}s"
            assert dom["dist"] == _spoken_distance(shown["distance_m"])
            if write == "put":
                assert (dom["signal"], dom["countdown"]) != (before["signal"], before["countdown"])
                page.screenshot(path=str(artifacts[0] / "phone-live-push.png"))
            # The scenario's local time (UTC+8), not the browser's (New York) nor UTC.
            local = datetime.fromisoformat(shown["timestamp"].replace("Z", "+00:00")).astimezone(
                timezone(timedelta(hours=8))
            )
            assert page.inner_text("#clock") == local.strftime("%H:%M:%S") + " UTC+8"
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        httpx.delete(server + "/v1/intersections/xisi/plan", headers=auth)
        tab.close()


def test_live_mode_falls_back_to_http_and_reconnects(server, browser, artifacts):
    """The stream as a phone may meet it.  A socket that opens but never answers: after 4 s
    the fix goes by HTTP and the page opens a new socket.  A stream refused (the socket closes
    as it opens): fixes go by HTTP and the page says so, retrying with a growing delay.  The
    stream back: the page reconnects by itself, its fixes go over the socket again and pushes
    reach the screen again."""
    lon0, lat0 = LIVE_AT
    tab = Tab(browser, "phone", geolocation={"longitude": lon0, "latitude": lat0, "accuracy": 5})
    page = tab.page
    mode = {"stream": "silent"}
    sockets = []

    def stream(ws):
        sockets.append(ws)
        if mode["stream"] == "refuse":
            ws.close(code=1011, reason="test: the server is away")
        elif mode["stream"] == "pass":
            ws.connect_to_server()
        # "silent": a mocked socket, open, that reads every frame and never answers

    page.route_web_socket("**/v1/advisory/stream", stream)
    try:
        t0 = time.monotonic()
        _start_live(tab, server, lon0, lat0)
        waited = time.monotonic() - t0
        state = page.evaluate("window.greenwave")
        assert state["fixes"]["ws"] >= 1 and state["fixes"]["http"] >= 1
        assert waited > 4.0  # 1 s between the two fixes, then the 4 s answer timeout
        shown = state["last"]["response"]
        assert shown["link_id"] == "renmin_f2" and _dom(page)["dist"] == _spoken_distance(
            shown["distance_m"]
        )
        page.wait_for_function("() => window.greenwave.link === 'open'")
        assert len(sockets) >= 2

        mode["stream"] = "refuse"
        sockets[-1].close(code=1006)  # the silent socket drops; reconnections are refused
        page.wait_for_function("() => window.greenwave.link === 'closed'")
        http = page.evaluate("window.greenwave.fixes.http")
        tab.context.set_geolocation({"longitude": lon0 + 0.00042, "latitude": lat0, "accuracy": 5})
        page.wait_for_function(f"() => window.greenwave.fixes.http > {http}")
        page.wait_for_function("() => window.greenwave.link === 'closed'")
        assert page.inner_text("#link") == "HTTP"
        page.screenshot(path=str(artifacts[0] / "phone-live-http.png"))
        n = len(sockets)
        page.wait_for_timeout(1500)  # (a sleep that lets playwright run the route handler)
        assert len(sockets) > n  # it keeps trying, with a growing delay

        mode["stream"] = "pass"
        page.wait_for_function("() => window.greenwave.link === 'open'", timeout=15_000)
        assert page.inner_text("#link") == "push"
        tab.context.set_geolocation({"longitude": lon0 + 0.00056, "latitude": lat0, "accuracy": 5})
        page.wait_for_function("() => window.greenwave.fixes.ws >= 1")
        page.wait_for_function("() => window.greenwave.last.response.offset_m > 0")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            spat = {
                "groups": [
                    {
                        "signal_group": "EW",
                        "events": [
                            {"state": "red", "min_end_in_s": 40, "max_end_in_s": 44},
                            {"state": "green", "min_end_in_s": 80, "max_end_in_s": 85},
                        ],
                    }
                ]
            }
            r = httpx.post(server + "/v1/intersections/xisi/spat", json=spat, headers=auth)
            assert r.status_code == 200, r.text
            page.wait_for_function("() => window.greenwave.pushes >= 1", timeout=5_000)
            sig = page.evaluate("window.greenwave.last.response.signal")
            assert sig["state"] == "red" and 38 <= sig["time_to_change_min_s"] <= 40
            assert _dom(page)["signal"] == "red"
        finally:
            httpx.delete(server + "/v1/intersections/xisi/plan", headers=auth)  # drops the SPaT
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
    finally:
        tab.close()


def test_docs_pages_render_offline(server, browser):
    """Swagger UI and ReDoc render the service's schema from the vendored assets alone."""
    tab = Tab(browser, "desktop")
    page = tab.page
    title = "greenwave advisory service"
    try:
        page.goto(server + "/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert title in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-summary-path[data-path='/v1/advisory']")
        assert tab.external == [] and tab.errors == [] and tab.failed() == []
        page.goto(server + "/redoc")
        page.wait_for_function(
            f"() => document.querySelector('redoc')?.innerText.includes('{title}')"
        )
        # ReDoc's sidebar credit links an image on its CDN: the page's Content-Security-Policy
        # refuses it before any request (the only error allowed here).
        refused = [e for e in tab.errors if "Content Security Policy" in e and "cdn.redoc.ly" in e]
        assert tab.external == [] and tab.errors == refused and tab.failed() == []
    finally:
        tab.close()
