"""One look for every plot: colours, fonts, resolution, titles, route names and file names.

Used by :mod:`sim.plots` (time–space diagrams, speed profiles) and :mod:`sim.sweep_plots`.
Nothing here draws; :func:`style` is a matplotlib ``rc_context`` to draw under.

Names from the scenario (intersections, corridors) may be written in any script; matplotlib
draws only what its installed fonts cover, so :func:`plot_label` falls back to the ASCII id when
a name would come out as empty boxes (e.g. Chinese names on a machine without a CJK font).
"""

from __future__ import annotations

import functools
import re
import unicodedata

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from greenwave.geo import bearing_deg
from greenwave.network import World
from greenwave.timing import AMBER, GREEN, RED

# ----------------------------------------------------------------------------------- colours
SIGNAL_GREEN = "#2ca02c"
SIGNAL_AMBER = "#ffb000"
SIGNAL_RED = "#d62728"
STATE_COLOURS = {GREEN: SIGNAL_GREEN, AMBER: SIGNAL_AMBER, RED: SIGNAL_RED}
STATE_NAMES = {GREEN: "green", AMBER: "amber", RED: "red"}

BASELINE = "#4a4a4a"  # every vehicle of the no-advice run
EQUIPPED = "#1f6fb4"  # equipped (advised) vehicles of the advisory run
UNEQUIPPED = "#a0a0a0"  # vehicles without the app in the advisory run
TRAJECTORY_LW = 0.45
TRAJECTORY_ALPHA = 0.55

DESIGN_BAND_FILL = "#2ca02c"  # the corridor's design green band (time–space diagrams)
DESIGN_BAND_EDGE = "#0b5d0b"
DESIGN_BAND_ALPHA = 0.22
ADVICE_BAND_FILL = "#7b3fa0"  # the advisory speed band (speed profiles)
ADVICE_BAND_ALPHA = 0.12
SPEED_LIMIT = "#b22222"
STOP_LINE = "#333333"

# ------------------------------------------------------------------------------ fonts, sizes
DPI = 110
FONT_SIZE = 9
TITLE_SIZE = 10
SUPTITLE_SIZE = 12
# Preferred families, first found wins per glyph (matplotlib >= 3.6 falls back along the list);
# the CJK ones make Chinese intersection names readable where such a font is installed.
FONT_CANDIDATES = (
    "DejaVu Sans",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Arial Unicode MS",
)


@functools.cache
def font_families() -> tuple[str, ...]:
    """The installed families of :data:`FONT_CANDIDATES` (asking for missing ones only warns)."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    found = tuple(f for f in FONT_CANDIDATES if f in have)
    return found or ("sans-serif",)


@functools.cache
def _codepoints() -> frozenset[int]:
    """Code points that :func:`font_families` can draw."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    cps: set[int] = set()
    for fam in font_families():
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=fam), fallback_to_default=False
            )
            cps.update(FT2Font(path).get_charmap())
        except (ValueError, RuntimeError, OSError):
            continue
    return frozenset(cps)


def drawable(text: str) -> bool:
    """True when every character of ``text`` has a glyph in the plot fonts."""
    cps = _codepoints()
    return all(c.isspace() or ord(c) in cps for c in text)


def plot_label(name: str, fallback: str) -> str:
    """``name`` if the plot fonts can draw it, else ``fallback`` (an id)."""
    return name if name and drawable(name) else fallback


def style():
    """``with style(): ...`` draws in the house style (an ``rc_context``; nothing global)."""
    return plt.rc_context(
        {
            "font.family": list(font_families()),
            "font.size": FONT_SIZE,
            "axes.titlesize": TITLE_SIZE,
            "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE - 0.5,
            "ytick.labelsize": FONT_SIZE - 0.5,
            "legend.fontsize": FONT_SIZE - 0.5,
            "figure.titlesize": SUPTITLE_SIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.axisbelow": True,
            "grid.color": "0.85",
            "grid.linewidth": 0.6,
            "legend.frameon": False,
        }
    )


# ------------------------------------------------------------------------------------ titles
def time_window(t0: float, t1: float) -> str:
    """``t = 600–1500 s`` (simulation seconds)."""
    return f"t = {t0:g}–{t1:g} s"


def figure_title(
    scenario: str,
    what: str,
    *,
    route: str | None = None,
    seed: int | None = None,
    window: tuple[float, float] | None = None,
) -> str:
    """A figure's suptitle: ``zibo_arterial — time–space diagram, eastbound — seed 1,
    t = 600–1500 s``; parts that are ``None`` are left out."""
    head = f"{scenario} — {what}" + (f", {route}" if route else "")
    tail = []
    if seed is not None:
        tail.append(f"seed {seed}")
    if window is not None:
        tail.append(time_window(*window))
    return head + (" — " + ", ".join(tail) if tail else "")


# ------------------------------------------------------------------------------ route naming
COMPASS = ("northbound", "eastbound", "southbound", "westbound")


def compass(bearing: float) -> str:
    """Travel direction of a compass bearing (0 = north, clockwise): four 90° sectors."""
    return COMPASS[int(((float(bearing) + 45.0) % 360.0) // 90.0)]


def route_links(world: World, entry_link: int) -> list[int]:
    """Links of the straight-through route that starts at ``entry_link``, in order."""
    nxt = world.network.link_next
    chain, seen = [int(entry_link)], {int(entry_link)}
    while nxt[chain[-1]] >= 0 and int(nxt[chain[-1]]) not in seen:
        chain.append(int(nxt[chain[-1]]))
        seen.add(chain[-1])
    return chain


def route_corridor(world: World, entry_link: int) -> tuple[str, str] | None:
    """``(corridor id, corridor name)`` of the corridor direction starting at ``entry_link``."""
    for cid, name, links in world.network.corridors:
        if len(links) and int(links[0]) == int(entry_link):
            base = cid[:-2] if cid[-2:] in ("_f", "_b") else cid
            return base, name
    return None


def direction_name(world: World, entry_link: int) -> str:
    """Name of a route's direction: ``eastbound``, ``westbound``, ``northbound`` or
    ``southbound`` from the bearing between its entry point and its exit point.

    A route that ends where it starts (a ring) has no direction: it is named after its
    corridor (the scenario's name for it, else its id), else after its entry link.
    """
    net = world.network
    chain = route_links(world, entry_link)
    a = net.link_xy[chain[0]][0]
    b = net.link_xy[chain[-1]][-1]
    dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
    if np.hypot(dx, dy) < 1.0:
        cor = route_corridor(world, entry_link)
        if cor is not None:
            return cor[1] or cor[0]
        return net.link_ids[int(entry_link)]
    return compass(float(bearing_deg(dx, dy)))


def route_label(world: World, entry_link: int, *, for_plot: bool = True) -> str:
    """A route as people say it: ``人民路 eastbound`` (corridor name and direction); the
    corridor id stands in for a name the plot fonts cannot draw (``for_plot``)."""
    d = direction_name(world, entry_link)
    cor = route_corridor(world, entry_link)
    if cor is None:
        return d
    cid, name = cor
    shown = plot_label(name, cid) if for_plot else (name or cid)
    return d if shown == d else f"{shown} {d}"


def slug(text: str, fallback: str = "route") -> str:
    """A file-name part: lower-case ASCII letters, digits and ``_`` (``fallback`` if empty)."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return s or fallback


def route_file_names(world: World, entry_links) -> dict[int, str]:
    """File-name stems of routes by entry link: their direction (``eastbound``), with the
    corridor id (or entry link id) in front where two routes share a direction."""
    entry_links = [int(e) for e in entry_links]
    base = {e: slug(direction_name(world, e)) for e in entry_links}
    out = {}
    for e in entry_links:
        if sum(1 for v in base.values() if v == base[e]) == 1:
            out[e] = base[e]
            continue
        cor = route_corridor(world, e)
        who = cor[0] if cor is not None else world.network.link_ids[e]
        out[e] = f"{slug(who)}_{base[e]}"
    # Still equal (same corridor id twice cannot happen; hand-written links might): number them.
    seen: dict[str, int] = {}
    for e in entry_links:
        n = seen.get(out[e], 0)
        seen[out[e]] = n + 1
        if n:
            out[e] = f"{out[e]}_{n + 1}"
    return out
