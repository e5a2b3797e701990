"""The engineer's report (sim.report): one self-contained HTML file whose tables match the
comparison it reports, for ``compare`` and ``compare_before_after`` results."""

from __future__ import annotations

import base64
import math
import shlex
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import simpy
from simkit import corridor

from greenwave.network import World
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario
from greenwave.sim.compare import compare, compare_before_after
from greenwave.sim.measures import CHANGE_MEASURES
from greenwave.sim.plots import write_plots
from greenwave.sim.report import caption, write_report

LEVELS = {  # measure -> format of its level (as the report's ROWS)
    "vehicles": "{:.0f}",
    "incomplete": "{:.0f}",
    "mean_speed_kmh": "{:.2f}",
    "travel_time_s": "{:.1f}",
    "stops_per_veh": "{:.3f}",
    "stopped_time_s": "{:.1f}",
    "delay_s": "{:.1f}",
    "fuel_l_per_100km": "{:.3f}",
    "co2_g_per_km": "{:.1f}",
}


class Doc(HTMLParser):
    """Everything the tests look at: tags, URL-bearing attributes, images, table rows."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.images: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}  # data-measure -> rows of cell texts
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._key = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for name in ("src", "href", "action", "poster", "data"):
            if name in a:
                self.urls.append(a[name] or "")
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "tr":
            self._row, self._key = [], a.get("data-measure")
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._key:
                self.rows.setdefault(self._key, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path) -> tuple[str, Doc]:
    raw = path.read_text(encoding="utf-8")
    doc = Doc()
    doc.feed(raw)
    doc.close()
    return raw, doc


def level(key, v) -> str:
    return LEVELS[key].format(v) if v is not None and math.isfinite(v) else "–"


def pct(v) -> str:
    return f"{v:+.2f}"


def interval(ci, f="{:+.2f}") -> str:
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{f.format(lo)}, {f.format(hi)}]"


def assert_self_contained(raw: str, doc: Doc, n_images: int):
    assert raw.startswith("<!DOCTYPE html>")
    assert "script" not in doc.tags and "link" not in doc.tags and "iframe" not in doc.tags
    assert not [u for u in doc.urls if not u.startswith("data:")]  # nothing fetched from elsewhere
    assert "http://" not in raw and "https://" not in raw
    assert "@import" not in raw and "url(" not in raw
    assert len(doc.images) == n_images
    for src in doc.images:
        assert src.startswith("data:image/png;base64,")


@pytest.fixture(scope="module")
def arterial_short():
    """The bundled arterial with a 60 s warm-up and half the demand (quick runs)."""
    sc = load_scenario(DEFAULT_SCENARIO)
    sc = sc.model_copy(
        update={
            "simulation": sc.simulation.model_copy(update={"warmup_s": 60.0}),
            "demand": sc.demand.model_copy(update={"scale": 0.5}),
        }
    )
    return World.build(sc)


def test_compare_report_is_self_contained_and_matches_the_result(arterial_short, tmp_path):
    world = arterial_short
    res = compare(world, [1, 2], duration_s=660.0, record_first=True)
    _, base, adv = res.pop("_runs")[0]
    figures = write_plots(world, base, adv, tmp_path / "plots", window_s=300.0, seed=1)
    argv = ["greenwave", "compare", "--seeds", "2", "--plots", "dir <with> & 'quotes'"]
    out = write_report(
        tmp_path / "r" / "report.html", world=world, result=res, figures=figures, argv=argv
    )
    assert out == tmp_path / "r" / "report.html"
    raw, doc = parse(out)
    assert_self_contained(raw, doc, len(figures))
    for src, p in zip(doc.images, figures, strict=True):  # embedded in order, byte for byte
        assert base64.b64decode(src.split(",", 1)[1]) == p.read_bytes()
    text = "".join(doc.text)
    # Title, scenario and parameters.
    assert f"greenwave report: {world.scenario.name}" in text
    for want in (
        "signalised intersections",
        # (2 entries × 2 lanes × 600 veh/h/lane + 16 cross-street entries × 250 veh/h) × 0.5
        "3,200 veh/h",
        "660 s",
        "60 s",
        "100%",
        "compliance",
        f"numpy{np.__version__}",
        f"simpy{simpy.__version__}",
        "Python",
        "How to read this",
    ):
        assert want.replace(" ", "") in text.replace(" ", ""), want
    assert shlex.join(argv) in text  # the command line, quoted for a shell, escaped in HTML
    assert "&lt;with&gt; &amp;" in raw
    # The results table: levels, their intervals, changes and their intervals.
    for key, f in LEVELS.items():
        (row,) = doc.rows[key]
        assert row[1] == level(key, res["baseline"][key])
        assert row[3] == level(key, res["advisory"][key])
        if key in res["baseline"]["ci95"]:
            assert row[2] == interval(res["baseline"]["ci95"][key], f)
            assert row[4] == interval(res["advisory"]["ci95"][key], f)
        if key in CHANGE_MEASURES:
            assert row[5] == pct(res["change_pct"][key])
            assert row[6] == interval(res["change_ci95"][key])
            assert row[6] != "–"  # two seeds: a real interval
    # Per-seed changes.
    assert [r[0] for r in doc.rows["seed-1"] + doc.rows["seed-2"]] == ["seed 1", "seed 2"]
    # Figure captions name the directions.
    assert "Time–space diagram, eastbound" in text and "Speed profiles, westbound" in text


def test_before_after_report_shows_every_case_and_change(tmp_path):
    kw = dict(n=3, flow=500.0, lanes=2, simulation={"warmup_s": 30.0, "duration_s": 300.0})
    after = corridor(offsets=[0, 29, 58], **kw)
    before = corridor(offsets=[0, 60, 20], **kw)
    res = compare_before_after(after, before, [1, 2])
    out = write_report(tmp_path / "ba.html", world=after, result=res, figures=[], argv=None)
    raw, doc = parse(out)
    assert_self_contained(raw, doc, 0)
    text = "".join(doc.text)
    assert "before/after comparison" in text and "(not recorded)" in text
    cases = ("before", "retiming_only", "advice_only", "after")
    for key, f in LEVELS.items():
        (row,) = [r for r in doc.rows[key] if len(r) == 9]  # the levels table
        for k, case in enumerate(cases):
            assert row[1 + 2 * k] == level(key, res[case][key])
            if key in res[case]["ci95"]:
                assert row[2 + 2 * k] == interval(res[case]["ci95"][key], f)
    for key in CHANGE_MEASURES:
        (row,) = [r for r in doc.rows[key] if len(r) == 7]  # the changes table
        for k, case in enumerate(cases[1:]):
            assert row[1 + 2 * k] == pct(res[f"change_pct_{case}"][key])
            assert row[2 + 2 * k] == interval(res[f"change_ci95_{case}"][key])
        assert row[6] != "–"
    assert [r[0] for r in doc.rows["seed-1"] + doc.rows["seed-2"]] == ["seed 1", "seed 2"]


def test_one_seed_has_no_interval_and_missing_figures_are_named(arterial_short, tmp_path):
    res = {  # a compare result as JSON brings it back: NaN as None, no per-seed runs
        "scenario": "zibo_arterial",
        "seeds": [1],
        "penetration": 0.5,
        "duration_s": 900.0,
        "baseline": {"vehicles": 10, "incomplete": 1, "stops_per_veh": 2.0, "ci95": {}},
        "advisory": {"vehicles": 10, "incomplete": 1, "stops_per_veh": 1.0, "ci95": {}},
        "change_pct": {"stops_per_veh": -50.0},
        "change_ci95": {"stops_per_veh": [None, None]},
    }
    out = write_report(
        tmp_path / "one.html",
        world=arterial_short,
        result=res,
        figures=[tmp_path / "time_space_eastbound.png"],
        argv=["greenwave", "compare", "--compliance", "0.7"],
    )
    raw, doc = parse(out)
    assert_self_contained(raw, doc, 0)
    text = "".join(doc.text)
    (row,) = doc.rows["stops_per_veh"]
    assert row[5] == "-50.00" and row[6] == "–"
    assert "no CI: one seed" in text
    assert "time_space_eastbound.png (not found)" in text
    assert "0.7 (command line" in text
    assert doc.rows["mean_speed_kmh"][0][1] == "–"


def test_captions_follow_the_file_names():
    ts = Path("time_space_renmin_eastbound.png")
    assert caption(ts).startswith("Time–space diagram, renmin eastbound:")
    assert "baseline (left" in caption(ts) and "before (left" in caption(ts, before_after=True)
    assert caption(Path("speed_profiles_westbound.png")).startswith("Speed profiles, westbound")
    assert caption(Path("change_delay_s_vs_advisory.penetration.png")) == (
        "Change in delay against advisory.penetration (mean and 95 % CI over seeds)."
    )
    assert caption(Path("heatmap_fuel_l_per_100km.png")).startswith("Change in fuel per km (%)")
    assert caption(Path("other.png")) == "other"
