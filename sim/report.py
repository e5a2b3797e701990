"""An engineer's report of a comparison: one self-contained HTML file.

:func:`write_report` writes the scenario, the parameters and software versions, the results
with their 95 % confidence intervals and the figures (embedded as ``data:`` URIs) into a single
HTML file with inline CSS: no scripts, fonts or style sheets from elsewhere, so it opens offline,
can be mailed as one attachment and prints on A4.  ``result`` is what
:func:`sim.compare.compare` or :func:`sim.compare.compare_before_after` returns (or their JSON
round trip, where NaN became ``null``).
"""

from __future__ import annotations

import base64
import html
import math
import platform
import re
import shlex
from datetime import datetime
from pathlib import Path

from greenwave.network import World

from .groups import group_rows
from .measures import CHANGE_MEASURES, change_pct

# (key, label, format): the rows of the results tables, in order (as ``greenwave compare``).
ROWS = (
    ("vehicles", "vehicles counted (sum over seeds)", "{:.0f}"),
    ("incomplete", "en route at the end (sum over seeds)", "{:.0f}"),
    ("mean_speed_kmh", "mean speed (km/h)", "{:.2f}"),
    ("travel_time_s", "travel time (s)", "{:.1f}"),
    ("stops_per_veh", "stops per vehicle", "{:.3f}"),
    ("stopped_time_s", "stopped time (s)", "{:.1f}"),
    ("delay_s", "delay (s)", "{:.1f}"),
    ("fuel_l_per_100km", "fuel (L/100 km)", "{:.3f}"),
    ("co2_g_per_km", "CO2 (g/km)", "{:.1f}"),
)
LABELS = {k: label for k, label, _ in ROWS}
NAMES = {  # the change measures in running text and column heads (changes are in %)
    "mean_speed_kmh": "mean speed",
    "travel_time_s": "travel time",
    "stops_per_veh": "stops per vehicle",
    "delay_s": "delay",
    "fuel_l_per_100km": "fuel per km",
    "co2_g_per_km": "CO2 per km",
}
HIGHER_IS_BETTER = {"mean_speed_kmh"}
CHANGE_FMT = "{:+.2f}"  # change % and the bounds of its 95 % CI
BEFORE_AFTER_CASES = (
    ("before", "before (no advice)"),
    ("retiming_only", "retiming only"),
    ("advice_only", "advice only"),
    ("after", "after (retiming + advice)"),
)
GROUP_MEASURES = ("mean_speed_kmh", "travel_time_s", "stops_per_veh", "fuel_l_per_100km")
"""The changes of the group table (all of them are in ``compare --json``)."""
GROUP_NAMES = {
    "arterial": "arterial",
    "arterial_forward": "arterial, forward direction",
    "arterial_backward": "arterial, backward direction",
    "side_street": "side street",
    "turning": "turning",
}
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}

CSS = """
:root { --ink: #1b1b1b; --muted: #5b5b5b; --rule: #d0d0d0; --head: #f2f4f7;
  --better: #e3f3e3; --worse: #fbe3e1; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "Helvetica Neue", Arial, sans-serif; color: var(--ink); line-height: 1.45;
  max-width: 1120px; margin: 2rem auto; padding: 0 1.2rem; font-size: 15px; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--rule);
  padding-bottom: .2rem; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 .4rem; }
p.meta, .muted { color: var(--muted); }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid var(--rule); padding: .28rem .6rem; vertical-align: top; }
th { background: var(--head); text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.better { background: var(--better); }
td.worse { background: var(--worse); }
table.kv th { width: 16rem; }
ul.key li { margin: .15rem 0; }
code, .cmd { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .88rem; }
.cmd { background: #f6f6f6; border: 1px solid var(--rule); padding: .4rem .6rem;
  white-space: pre-wrap; word-break: break-all; }
figure { margin: 1.2rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
.note { background: #f7f7f2; border-left: 4px solid #c9c28a; padding: .5rem .9rem; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
  @page { size: A4; margin: 15mm; }
}
"""


# ------------------------------------------------------------------------------- formatting
def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt(fmt_spec: str, v) -> str:
    """``fmt_spec.format(v)``, or an en dash for a missing or non-finite value."""
    return fmt_spec.format(v) if _finite(v) else "–"


def fmt_ci(fmt_spec: str, ci) -> str:
    """``[lo, hi]`` with both bounds formatted; an en dash when there is no interval
    (a single seed)."""
    if not ci or len(ci) != 2 or not (_finite(ci[0]) and _finite(ci[1])):
        return "–"
    return f"[{fmt_spec.format(ci[0])}, {fmt_spec.format(ci[1])}]"


def _verdict(key: str, mean, ci) -> str:
    """CSS class of a change cell: ``better``/``worse`` when its 95 % CI excludes 0."""
    if not (ci and len(ci) == 2 and _finite(ci[0]) and _finite(ci[1]) and _finite(mean)):
        return ""
    if ci[0] <= 0.0 <= ci[1]:
        return ""
    good = (mean > 0) == (key in HIGHER_IS_BETTER)
    return "better" if good else "worse"


def _table(head: list[str], rows: list[tuple[str, list[tuple[str, str]]]], cls: str = "") -> str:
    """A table; ``rows`` are ``(measure key, [(cell text, css class), ...])``."""
    out = [f'<table class="{_e(cls)}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for key, cells in rows:
        out.append(f'<tr data-measure="{_e(key)}">')
        for k, (text, css) in enumerate(cells):
            tag = "th" if k == 0 else "td"
            attr = f' class="{_e(css)}"' if css else ""
            out.append(f"<{tag}{attr}>{_e(text)}</{tag}>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _kv(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


# ------------------------------------------------------------------------------- the parts
def _argv_value(argv: list[str] | None, flag: str) -> str | None:
    """The value given to ``flag`` on the command line (``--flag V`` or ``--flag=V``)."""
    if not argv:
        return None
    for k, a in enumerate(argv):
        if a == flag and k + 1 < len(argv):
            return argv[k + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _versions() -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(dist: str, fallback: str = "not installed") -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return fallback

    import greenwave

    return [
        ("greenwave", ver("greenwave", f"{greenwave.__version__} (source tree)")),
        ("numpy", ver("numpy")),
        ("simpy", ver("simpy")),
        ("matplotlib", ver("matplotlib")),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("platform", platform.platform()),
    ]


def _scenario_summary(world: World, result: dict, argv: list[str] | None) -> list[tuple]:
    from .demand import entry_flows_veh_h

    sc, net = world.scenario, world.network
    corridors = sorted(
        {cid[:-2] if cid[-2:] in ("_f", "_b") else cid for cid, _, _ in net.corridors}
    )
    names = {c.id: c.name for c in sc.corridors}
    shown = [f"{names[c]} ({c})" if names.get(c) else c for c in corridors[:12]]
    if len(corridors) > 12:
        shown.append(f"… {len(corridors) - 12} more")
    flows = entry_flows_veh_h(sc, net)
    total = sum(f for f, _ in flows.values())
    dem = sc.demand
    demand = (
        f"{total:,.0f} veh/h over {len(flows)} entry links (scale {dem.scale:g}; "
        f"{dem.flow_veh_h_per_lane:g} veh/h/lane where not listed; "
        f"{len(dem.entries)} entries listed"
        + (", with time profiles" if any(e.profile for e in dem.entries) else "")
        + ")"
    )
    duration = result.get("duration_s", sc.simulation.duration_s)
    dur_text = f"{duration:g} s"
    if _finite(duration) and duration != sc.simulation.duration_s:
        dur_text += f" (scenario: {sc.simulation.duration_s:g} s)"
    compliance = _argv_value(argv, "--compliance")
    comp_text = (
        f"{compliance} (command line; scenario {sc.drivers.compliance:g})"
        if compliance is not None
        else f"{sc.drivers.compliance:g}"
    )
    pen = result.get("penetration", sc.advisory.penetration)
    adv = sc.advisory
    pairs = [
        ("scenario", sc.name),
        ("description", sc.description or "–"),
        ("signalised intersections", f"{len(net.intersection_ids)}"),
        ("corridors", f"{len(corridors)}" + (f": {', '.join(shown)}" if shown else "")),
        (
            "links",
            f"{net.n_links} ({float(net.link_length_m.sum()) / 1000:.1f} km of approach links)",
        ),
        ("demand", demand),
        ("simulated time", dur_text),
        ("warm-up (not counted)", f"{sc.simulation.warmup_s:g} s"),
        ("time step", f"{sc.simulation.dt_s:g} s"),
        ("start of the simulated day", sc.simulation.start_time.isoformat()),
        ("penetration (equipped share)", f"{pen:.0%}" if _finite(pen) else "–"),
        ("compliance (of equipped drivers)", comp_text),
        (
            "advisory",
            f"band {adv.band_min_kmh:g}–{adv.band_max_kmh:g} km/h, range {adv.range_m:g} m, "
            f"update every {adv.update_interval_s:g} s, {adv.intersections_ahead} stop lines "
            f"ahead, driver policy '{sc.drivers.policy}'",
        ),
        ("fuel model", sc.simulation.fuel_model),
        ("seeds", ", ".join(str(s) for s in result.get("seeds", [])) or "–"),
        ("scenario content hash", sc.content_hash()[:16]),
    ]
    if "before_scenario" in result:
        pairs.insert(1, ("before scenario (timing)", str(result["before_scenario"])))
    return pairs


def _compare_tables(result: dict) -> str:
    base, adv = result.get("baseline", {}), result.get("advisory", {})
    change, change_ci = result.get("change_pct", {}), result.get("change_ci95", {})
    bci, aci = base.get("ci95", {}), adv.get("ci95", {})
    rows = []
    for key, label, f in ROWS:
        ch = change.get(key) if key in CHANGE_MEASURES else None
        ci = change_ci.get(key) if key in CHANGE_MEASURES else None
        rows.append(
            (
                key,
                [
                    (label, ""),
                    (fmt(f, base.get(key)), "num"),
                    (fmt_ci(f, bci.get(key)) if key in bci else "", "num"),
                    (fmt(f, adv.get(key)), "num"),
                    (fmt_ci(f, aci.get(key)) if key in aci else "", "num"),
                    (
                        fmt(CHANGE_FMT, ch) if key in CHANGE_MEASURES else "",
                        f"num {_verdict(key, ch, ci)}".strip(),
                    ),
                    (
                        fmt_ci(CHANGE_FMT, ci) if key in CHANGE_MEASURES else "",
                        f"num {_verdict(key, ch, ci)}".strip(),
                    ),
                ],
            )
        )
    head = [
        "measure",
        "baseline",
        "95 % CI",
        "advisory",
        "95 % CI",
        "change %",
        "95 % CI of change %",
    ]
    out = [
        "<h3>Baseline (no advice) and advisory, mean over seeds</h3>",
        _table(head, rows, "results"),
    ]
    out.append(_group_table(result, ("baseline", "advisory"), ""))
    per_seed = result.get("per_seed") or {}
    b_runs, a_runs = per_seed.get("baseline") or [], per_seed.get("advisory") or []
    if b_runs and len(b_runs) == len(a_runs):
        out.append("<h3>Change % per seed</h3>")
        out.append(_per_seed_table(result.get("seeds", []), b_runs, a_runs))
    return "".join(out)


def _per_seed_table(seeds, base_runs, other_runs) -> str:
    rows = []
    for k, (b, o) in enumerate(zip(base_runs, other_runs, strict=True)):
        seed = seeds[k] if k < len(seeds) else k
        cells = [(f"seed {seed}", "")]
        for m in CHANGE_MEASURES:
            cells.append((fmt(CHANGE_FMT, change_pct(_num(b.get(m)), _num(o.get(m)))), "num"))
        rows.append((f"seed-{seed}", cells))
    return _table(["seed", *(f"{NAMES[m]} (%)" for m in CHANGE_MEASURES)], rows, "per-seed")


def _num(v) -> float:
    return float(v) if _finite(v) else math.nan


def _before_after_tables(result: dict) -> str:
    level_rows = []
    for key, label, f in ROWS:
        cells = [(label, "")]
        for case, _ in BEFORE_AFTER_CASES:
            r = result.get(case, {})
            cells.append((fmt(f, r.get(key)), "num"))
            ci = r.get("ci95", {})
            cells.append((fmt_ci(f, ci.get(key)) if key in ci else "", "num"))
        level_rows.append((key, cells))
    head = ["measure"]
    for _, name in BEFORE_AFTER_CASES:
        head += [name, "95 % CI"]
    change_rows = []
    for key in CHANGE_MEASURES:
        cells = [(LABELS[key], "")]
        for case, _ in BEFORE_AFTER_CASES[1:]:
            mean = result.get(f"change_pct_{case}", {}).get(key)
            ci = result.get(f"change_ci95_{case}", {}).get(key)
            css = f"num {_verdict(key, mean, ci)}".strip()
            cells.append((fmt(CHANGE_FMT, mean), css))
            cells.append((fmt_ci(CHANGE_FMT, ci), css))
        change_rows.append((key, cells))
    chead = ["measure"]
    for _, name in BEFORE_AFTER_CASES[1:]:
        chead += [f"{name}: change %", "95 % CI"]
    out = [
        "<h3>Each case, mean over seeds</h3>",
        _table(head, level_rows, "results levels"),
        "<h3>Change % against before (no retiming, no advice)</h3>",
        _table(chead, change_rows, "results changes"),
        _group_table(result, ("before", "after"), "_after"),
    ]
    per_seed = result.get("per_seed") or {}
    if per_seed.get("before") and len(per_seed["before"]) == len(per_seed.get("after") or []):
        out.append("<h3>After against before: change % per seed</h3>")
        out.append(_per_seed_table(result.get("seeds", []), per_seed["before"], per_seed["after"]))
    return "".join(out)


GROUP_INTRO = (
    "Vehicles by the street they drive: arterial (along a declared corridor, and each of its "
    "directions, a part of the arterial row above it) and side street (every other vehicle). "
    "Every vehicle drives straight on (no turning traffic is simulated); a group without "
    "counted vehicles is not shown."
)


def _group_table(result: dict, cases: tuple[str, str], suffix: str) -> str:
    """Counted vehicles of ``cases`` and the paired change ``change_pct<suffix>`` (with its
    95 % CI) of every change measure, per vehicle group and subgroup; empty without groups."""
    names = group_rows(result)
    if not names:
        return ""
    rows = []
    for name, block in names:
        cells = [(GROUP_NAMES.get(name, name), "")]
        counts = [fmt("{:.0f}", (block.get(c) or {}).get("vehicles")) for c in cases]
        cells.append((" / ".join(counts), "num"))
        for key in GROUP_MEASURES:
            mean = (block.get(f"change_pct{suffix}") or {}).get(key)
            ci = (block.get(f"change_ci95{suffix}") or {}).get(key)
            ci_text = fmt_ci(CHANGE_FMT, ci)
            text = fmt(CHANGE_FMT, mean) + (f" {ci_text}" if ci_text != "–" else "")
            cells.append((text, f"num {_verdict(key, mean, ci)}".strip()))
        rows.append((name, cells))
    what = "after against before" if suffix else "advisory against baseline"
    head = ["group", f"vehicles ({cases[0]} / {cases[1]})"]
    head += [f"{NAMES[m]}: change % [95 % CI]" for m in GROUP_MEASURES]
    note = ""
    if len(result["groups"]) == 1:
        note = (
            "<p class='muted'>Every counted vehicle is in one group: all its streets are "
            "declared corridors.</p>"
        )
    return (
        f"<h3>By vehicle group: {_e(what)}, change %</h3>"
        f"<p class='muted'>{_e(GROUP_INTRO)}</p>" + _table(head, rows, "results groups") + note
    )


def _key_results(result: dict) -> str:
    """Bullets: the change of every change measure with its interval, in words."""
    if "before_scenario" in result:
        change = result.get("change_pct_after", {})
        change_ci = result.get("change_ci95_after", {})
        what = "After (retiming and advice) against before"
    else:
        change, change_ci = result.get("change_pct", {}), result.get("change_ci95", {})
        what = "Advisory against baseline"
    items = []
    for key in CHANGE_MEASURES:
        mean, ci = change.get(key), change_ci.get(key)
        if not _finite(mean):
            continue
        text = f"{NAMES[key]}: {fmt(CHANGE_FMT, mean)} %"
        ci_text = fmt_ci(CHANGE_FMT, ci)
        text += f" (95 % CI {ci_text})" if ci_text != "–" else " (no CI: one seed)"
        v = _verdict(key, mean, ci)
        if v:
            text += " — better" if v == "better" else " — worse"
        items.append(f"<li>{_e(text)}</li>")
    if not items:
        return ""
    return f"<p>{_e(what)}, paired per seed:</p><ul class='key'>{''.join(items)}</ul>"


_DIRECTION = re.compile(r"^(time_space|speed_profiles)_(.+)$")
_SWEEP_LINE = re.compile(r"^change_(.+)_vs_(.+)$")


def caption(path: Path, before_after: bool = False) -> str:
    """What a figure shows, from its file name (the names :mod:`sim.plots` and
    :mod:`sim.sweep_plots` write); the file name itself for others.  ``before_after``: the
    panels are the before and after runs rather than baseline and advisory."""
    stem = path.stem
    m = _DIRECTION.match(stem)
    if m:
        where = m.group(2).replace("_", " ")
        panels = (
            "before (left: before timing, no advice) and after (right: after timing with advice)"
            if before_after
            else "baseline (left: no advice) and advisory run (right)"
        )
        if m.group(1) == "time_space":
            return (
                f"Time–space diagram, {where}: position along the route against time for every "
                f"vehicle, {panels} on the same arrivals; the bars at each stop line show the "
                "signal (green, amber, red), the shaded parallelograms the corridor's design "
                "green band."
            )
        return (
            f"Speed profiles, {where}: speed against distance of the same sample of vehicles, "
            f"{panels}; dotted lines are the stop lines, the red line the speed limit, the "
            "shaded strip the advisory speed band."
        )
    if stem == "change_by_group":
        what = (
            "retiming only, advice only and both against before"
            if before_after
            else "advisory against baseline"
        )
        return (
            f"Paired change by vehicle group ({what}): mean change % over seeds with its 95 % "
            "CI as whiskers, for all vehicles, the arterial (hatched: each of its directions) "
            "and the side streets."
        )
    m = _SWEEP_LINE.match(stem)
    if m:
        measure = NAMES.get(m.group(1), m.group(1))
        return f"Change in {measure} against {m.group(2)} (mean and 95 % CI over seeds)."
    if stem.startswith("heatmap_"):
        measure = NAMES.get(stem[len("heatmap_") :], stem[len("heatmap_") :])
        return f"Change in {measure} (%) for every combination of the two swept keys."
    return stem


def _figures(figures: list[Path], before_after: bool = False) -> str:
    out = []
    for k, p in enumerate(figures, start=1):
        p = Path(p)
        mime = IMAGE_TYPES.get(p.suffix.lower())
        if mime is None or not p.is_file():
            why = "not found" if not p.is_file() else "not an image type the report embeds"
            out.append(f"<p class='muted'>Figure {k}: {_e(p.name)} ({why}).</p>")
            continue
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        out.append(
            f'<figure><img src="data:{mime};base64,{data}" alt="{_e(p.stem)}">'
            f"<figcaption><b>Figure {k}.</b> {_e(caption(p, before_after))} "
            f"<span class='muted'>({_e(p.name)})</span></figcaption></figure>"
        )
    return "".join(out)


HOW_TO_READ = (
    "Every seed is a pair of runs on the same arrivals and drivers (common random numbers): "
    "one without advice and one with it (for a before/after comparison: the before timing "
    "without advice, and the after timing with and without advice).",
    "Only vehicles that entered after the warm-up and completed their route are counted. "
    "Speed, fuel and CO2 are totals over distance; travel time, stops and delay are means per "
    "vehicle; delay is measured against driving the route at the speed limits.",
    "Change % is (run with the change − reference run) / reference run × 100 (advisory against "
    "baseline; or each case against before), computed per seed and then averaged. "
    "Its 95 % confidence interval (Student t over seeds) reflects the pairing; a change whose "
    "interval excludes 0 is shaded green where it is an improvement and red where it is not. "
    "With one seed there is no interval (–): run more seeds before drawing conclusions.",
    "Lower is better for travel time, stops, stopped time, delay, fuel and CO2; higher is "
    "better for mean speed.",
    "The figures show the first seed only, starting at the end of the warm-up.",
)


# ------------------------------------------------------------------------------------- entry
def write_report(
    path: Path,
    *,
    world,
    result: dict,
    figures: list[Path],
    argv: list[str] | None = None,
) -> Path:
    """Write the HTML report of ``result`` (from :func:`sim.compare.compare` or
    :func:`sim.compare.compare_before_after`) on ``world``'s scenario to ``path``.

    ``figures`` are embedded in order with captions; ``argv`` is the command line shown for
    reproduction.  Returns ``path``.
    """
    path = Path(path)
    before_after = "before_scenario" in result
    name = str(result.get("scenario") or world.scenario.name)
    kind = "before/after comparison" if before_after else "advisory against baseline"
    now = datetime.now().astimezone()
    cmd = shlex.join(str(a) for a in argv) if argv else "(not recorded)"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(f'greenwave report — {name}')}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(f'greenwave report: {name}')}</h1>",
        f"<p class='meta'>{_e(kind)} · written {_e(now.strftime('%Y-%m-%d %H:%M %Z'))}"
        f" ({_e(now.isoformat(timespec='seconds'))})</p>",
        "<h2>Key results</h2>",
        _key_results(result) or "<p class='muted'>No changes to report.</p>",
        "<h2>Scenario</h2>",
        _kv(_scenario_summary(world, result, argv)),
        "<h2>Parameters and versions</h2>",
        "<h3>Command line</h3>",
        f"<div class='cmd'>{_e(cmd)}</div>",
        "<h3>Software</h3>",
        _kv(_versions()),
        "<h2>Results</h2>",
        _before_after_tables(result) if before_after else _compare_tables(result),
        "<h2>How to read this</h2>",
        "<div class='note'><ul>"
        + "".join(f"<li>{_e(t)}</li>" for t in HOW_TO_READ)
        + "</ul></div>",
    ]
    if figures:
        parts += ["<h2>Figures</h2>", _figures(list(figures), before_after)]
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
