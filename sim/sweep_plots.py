"""Plots of a sweep: each measure's change % against each swept key, heat maps for two keys.

Line plots show the mean over seeds with its 95 % confidence band (Student t, as in
:func:`sim.measures.mean_ci`); with two or more keys there is one line per value of the next
key, and any further keys are pooled (said in the title).  Heat maps (two-key sweeps only) show
the mean change of every combination, green where the advisory helps.  Colours, fonts and
resolution from :mod:`sim.plotstyle`.  Agg backend: no display.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from . import plotstyle as ps
from .measures import CHANGE_MEASURES, mean_ci

LABELS = {
    "mean_speed_kmh": "mean speed",
    "travel_time_s": "travel time",
    "stops_per_veh": "stops per vehicle",
    "delay_s": "delay",
    "fuel_l_per_100km": "fuel per km",
    "co2_g_per_km": "CO2 per km",
}
HIGHER_IS_BETTER = {"mean_speed_kmh"}
DPI = ps.DPI


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _label(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _stats(rows, col, match: dict) -> tuple[float, float, float]:
    return mean_ci([r[col] for r in rows if all(r[k] == v for k, v in match.items())])


def line_plot(grid: dict[str, list], rows: list[dict], measure: str, key: str, path: Path):
    """``change_pct_<measure>`` against ``key``: mean and 95 % CI band, a line per next key."""
    col = f"change_pct_{measure}"
    others = [k for k in grid if k != key]
    line_key = others[0] if others else None
    pooled = others[1:]
    xs = list(grid[key])
    numeric = _numeric(xs)
    order = sorted(range(len(xs)), key=lambda i: xs[i]) if numeric else list(range(len(xs)))
    xpos = np.array([xs[i] for i in order], dtype=float) if numeric else np.arange(len(xs))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    lines = grid[line_key] if line_key else [None]
    colours = (
        plt.cm.viridis(np.linspace(0.0, 0.85, len(lines))) if len(lines) > 1 else [ps.EQUIPPED]
    )
    for lv, colour in zip(lines, colours, strict=True):
        stats = np.array(
            [_stats(rows, col, {key: xs[i]} | ({line_key: lv} if line_key else {})) for i in order],
            dtype=float,
        ).reshape(-1, 3)
        label = f"{_label(lv)}" if line_key else "mean over seeds"
        ax.plot(xpos, stats[:, 0], "o-", color=colour, lw=1.6, ms=4, label=label)
        ax.fill_between(xpos, stats[:, 1], stats[:, 2], color=colour, alpha=0.18, lw=0)
    ax.axhline(0.0, color="0.4", lw=0.8)
    if not numeric:
        ax.set_xticks(xpos, [_label(xs[i]) for i in order])
    ax.set_xlabel(key)
    ax.set_ylabel(f"change in {LABELS.get(measure, measure)} (%)")
    title = f"{LABELS.get(measure, measure)}: advisory vs baseline (mean, 95 % CI over seeds)"
    if pooled:
        title += f"\npooled over {', '.join(pooled)}"
    ax.set_title(title)
    ax.legend(title=line_key)
    ax.grid()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def heat_map(grid: dict[str, list], rows: list[dict], measure: str, path: Path):
    """Mean ``change_pct_<measure>`` over the two keys of a two-key sweep, cells annotated."""
    ky, kx = list(grid)
    col = f"change_pct_{measure}"
    ys, xs = grid[ky], grid[kx]
    z = np.array([[_stats(rows, col, {ky: y, kx: x})[0] for x in xs] for y in ys], dtype=float)
    finite = z[np.isfinite(z)]
    lim = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    cmap = "RdYlGn" if measure in HIGHER_IS_BETTER else "RdYlGn_r"
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs) + 1.5, 1.4 + 0.6 * len(ys)))
    im = ax.imshow(
        np.ma.masked_invalid(z), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto", origin="lower"
    )
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = z[i, j]
            ax.text(
                j,
                i,
                "-" if not math.isfinite(v) else f"{v:+.1f}",
                ha="center",
                va="center",
                fontsize=8,
            )
    ax.set_xticks(range(len(xs)), [_label(x) for x in xs])
    ax.set_yticks(range(len(ys)), [_label(y) for y in ys])
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    ax.set_title(f"change in {LABELS.get(measure, measure)} (%), mean over seeds")
    ax.spines[:].set_visible(True)  # a frame round the cells (the house style drops two)
    fig.colorbar(im, ax=ax, label="%")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_sweep_plots(grid: dict[str, list], rows: list[dict], out_dir) -> list[Path]:
    """All plots of a sweep into ``out_dir``: ``change_<measure>_vs_<key>.png`` for every
    measure and key, and ``heatmap_<measure>.png`` when exactly two keys are swept.

    ``rows`` are result rows (:func:`sim.sweep.table_rows`); failed ones are left out.  Keys
    with a single value are fixed overrides, not axes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ok = [r for r in rows if r.get("status") == "ok"]
    grid = {k: v for k, v in grid.items() if len(v) > 1}  # one value: a fixed override
    files = []
    with ps.style():
        for m in CHANGE_MEASURES:
            for k in grid:
                files.append(line_plot(grid, ok, m, k, out / f"change_{m}_vs_{k}.png"))
            if len(grid) == 2:
                files.append(heat_map(grid, ok, m, out / f"heatmap_{m}.png"))
    return files
