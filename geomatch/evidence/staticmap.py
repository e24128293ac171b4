"""Exhibit: ``map.png``, the breadcrumb trail around the crime location (matplotlib, no network by default).

The main view is centred on the scene and sized to the zone and the closest approach, so a stop at the scene
stays readable; when the points in the vicinity spread wider, an overview inset shows them with the main view
outlined. The map is in the metric CRS of the fixes (British National Grid metres on the axes). It is drawn
on a bare ``Figure`` (Agg, no pyplot state), so workers can draw in parallel.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle
from matplotlib.ticker import FuncFormatter
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from geomatch.core.errors import InputError
from geomatch.evidence.basemap import draw_basemap
from geomatch.evidence.context import EvidenceOptions, PackData
from geomatch.evidence.style import CMAP, SOURCE_MARKERS, marker_for, save_png
from geomatch.evidence.text import fmt_duration, fmt_m, fmt_time, mpl_text, offence_name, time_ticks, zone_names

log = logging.getLogger(__name__)
Extent = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax (metres)
LABEL_SPACING_PX = 26
"""Sequence labels of fixes closer than this on the page are merged into one label (``61–76, 80``)."""
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def _square(xs: np.ndarray, ys: np.ndarray, margin: float = 1.12) -> Extent:
    half = max(xs.max() - xs.min(), ys.max() - ys.min()) / 2 * margin
    mx, my = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    return mx - half, mx + half, my - half, my + half


def focus_extent(data: PackData) -> Extent:
    """The main view: a square centred on the scene, two radii across at least, with the closest approach."""
    cx, cy, r = float(data.crime["x"]), float(data.crime["y"]), float(data.hit["radius_m"])
    half = max(2.0 * r, 1.25 * float(data.hit["min_distance_m"]) + 0.5 * r)
    return cx - half, cx + half, cy - half, cy + half


def map_extent(data: PackData) -> Extent:
    """The overview: a square around the zone, the closest approach and every point in the vicinity."""
    cx, cy, r = float(data.crime["x"]), float(data.crime["y"]), float(data.hit["radius_m"])
    near = data.vicinity
    xs = np.concatenate([[cx - 1.5 * r, cx + 1.5 * r, float(data.hit["closest_x"])], near["x"].to_numpy(float)])
    ys = np.concatenate([[cy - 1.5 * r, cy + 1.5 * r, float(data.hit["closest_y"])], near["y"].to_numpy(float)])
    return _square(xs, ys)


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten) near a fifth of ``span_m`` metres."""
    target = span_m / 5
    power = 10 ** math.floor(math.log10(target))
    return max(step * power for step in (1, 2, 5) if step * power <= target)


def map_title(data: PackData) -> str:
    """Crime reference, offence, window in UK local time, subject and presence."""
    hit = data.hit
    return (f"{mpl_text(hit['crime_ref'])} · {mpl_text(offence_name(hit['offence']))}\n"
            f"Window (with padding): {fmt_time(hit['window_start'])} to {fmt_time(hit['window_end'])}\n"
            f"Subject {mpl_text(hit['subject_id'])} · {hit['presence']} · closest approach "
            f"{fmt_m(hit['min_distance_m'])} at {fmt_time(hit['closest_time'])}")


def label_groups(near: pd.DataFrame, spacing_m: float) -> list[tuple[float, float, str]]:
    """Sequence labels for the points in the vicinity, merging points within ``spacing_m`` of a label's first
    point: ``(x, y, text)`` with runs written as ranges, e.g. ``61–76, 80``."""
    anchors: list[list] = []  # [x, y, [seq, ...]]
    for x, y, seq in zip(near["x"].to_numpy(float), near["y"].to_numpy(float), near["seq"].to_numpy()):
        for anchor in anchors:
            if math.hypot(x - anchor[0], y - anchor[1]) <= spacing_m:
                anchor[2].append(int(seq))
                break
        else:
            anchors.append([x, y, [int(seq)]])
    return [(x, y, _ranges(seqs)) for x, y, seqs in anchors]


def _ranges(seqs: list[int], most: int = 4) -> str:
    runs: list[list[int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in runs]
    return ", ".join(parts[:most]) + (", …" if len(parts) > most else "")


def draw_map(data: PackData, path: Path, options: EvidenceOptions) -> Path:
    """Draw ``map.png`` for one hit and return its path."""
    fig = Figure(figsize=(8.27, 10.2), dpi=options.dpi)  # fixed layout: constrained layout costs ~30 %
    ax = fig.add_axes((0.1, 0.19, 0.86, 0.71))
    extent = focus_extent(data)
    _set_view(ax, extent)
    draw_basemap(ax, options, extent)
    if options.tiles:
        _draw_tiles(ax, options.tiles, options.crs)
    fixes = data.fixes
    start, end = fixes["timestamp"].iloc[0], fixes["timestamp"].iloc[-1]
    norm = Normalize(0.0, max((end - start).total_seconds(), 1.0))
    _draw_trail(ax, data, norm, extent, detail=True)

    axes_px = 0.86 * 8.27 * options.dpi
    for x, y, text in label_groups(data.vicinity, LABEL_SPACING_PX * (extent[1] - extent[0]) / axes_px):
        ax.annotate(text, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7, path_effects=_HALO,
                    zorder=11, annotation_clip=True)
    overview = map_extent(data)
    if overview[1] - overview[0] > 1.5 * (extent[1] - extent[0]):
        _draw_overview(ax, data, norm, overview, extent)

    span = extent[1] - extent[0]
    length = nice_length(span)
    ax.add_artist(AnchoredSizeBar(ax.transData, length, f"{length:,.0f} m", "lower left", pad=0.6, sep=4,
                                  color="black", frameon=True, size_vertical=span / 180))
    ax.annotate("N", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=13, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5},
                path_effects=_HALO, zorder=12)
    ax.text(0.95, 0.83, "grid north", transform=ax.transAxes, ha="center", va="top", fontsize=7,
            path_effects=_HALO, zorder=12)
    grid = FuncFormatter(lambda v, _: f"{v:,.0f}")
    ax.xaxis.set_major_formatter(grid)
    ax.yaxis.set_major_formatter(grid)
    ax.tick_params(labelsize=7)
    ax.tick_params(axis="y", labelrotation=90)
    ax.grid(True, color="0.85", lw=0.5, zorder=1)
    ax.set_xlabel(f"Easting (m, {options.crs})" + _wide_circles_note(data.vicinity, extent), fontsize=8)
    ax.set_ylabel(f"Northing (m, {options.crs})", fontsize=8)
    ax.set_title(map_title(data), fontsize=9, loc="left")

    ticks, labels = time_ticks(start, end)
    ticks = (ticks - start).total_seconds().to_numpy()
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), cax=fig.add_axes((0.15, 0.115, 0.76, 0.016)),
                       orientation="horizontal")
    bar.set_ticks(ticks, labels=labels, fontsize=7)
    bar.set_label(f"Time of fix, UK local time ({zone_names(fixes['timestamp'])})", fontsize=8)
    fig.legend(handles=_legend_handles(float(data.hit["radius_m"]), fixes), loc="lower center",
               bbox_to_anchor=(0.5, 0.005), ncols=3, fontsize=7, frameon=False)
    return save_png(fig, path)


def _wide_circles_note(near: pd.DataFrame, extent: Extent) -> str:
    """A line naming the points in view whose confidence circle is too wide to show (it lies outside the view);
    empty when there are none."""
    x, y, acc = near["x"].to_numpy(float), near["y"].to_numpy(float), near["accuracy_m"].to_numpy(float)
    in_view = (x >= extent[0]) & (x <= extent[1]) & (y >= extent[2]) & (y <= extent[3])
    wide = in_view & np.isfinite(acc) & (acc > (extent[1] - extent[0]) / 2) & near["in_window"].to_numpy()
    if not wide.any():
        return ""
    listed = ", ".join(f"{seq} ({a:,.0f} m)" for seq, a in zip(near["seq"][wide][:6], acc[wide][:6]))
    more = f" and {wide.sum() - 6} more" if wide.sum() > 6 else ""
    return f"\nConfidence radius wider than this view: fix {listed}{more}"


def _set_view(ax, extent: Extent) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box")


def _draw_trail(ax, data: PackData, norm: Normalize, extent: Extent, *, detail: bool) -> None:
    """Zone, trail, fixes, scene and closest approach; ``detail`` adds confidence circles, arrows and gap
    labels (the overview inset leaves them out)."""
    fixes, hit, crime = data.fixes, data.hit, data.crime
    cx, cy, r = float(crime["x"]), float(crime["y"]), float(hit["radius_m"])
    ax.add_patch(Circle((cx, cy), r, facecolor=(0, 0, 0, 0.06), edgecolor="black", lw=1.8 if detail else 1.0,
                        zorder=2))
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    inside = fixes["in_window"].to_numpy()
    if detail:
        acc = fixes["accuracy_m"].to_numpy(float)
        has_acc = inside & np.isfinite(acc) & (acc > 0)
        ax.add_collection(PatchCollection([Circle((px, py), a) for px, py, a in
                                           zip(x[has_acc], y[has_acc], acc[has_acc])],
                                          facecolor="none", edgecolor="0.35", lw=0.7, linestyle=":", zorder=3))
    steps = np.stack([np.column_stack([x[:-1], y[:-1]]), np.column_stack([x[1:], y[1:]])], axis=1)
    gap = fixes["gap_after"].to_numpy()[:-1]
    ax.add_collection(LineCollection(steps[~gap], colors="0.3", lw=1.1 if detail else 0.6, zorder=4))
    ax.add_collection(LineCollection(steps[gap], colors="black", lw=1.3 if detail else 0.8,
                                     linestyles=(0, (5, 3)), zorder=4))
    if detail:
        _draw_arrows(ax, x, y, gap, extent)
        for row, in_window, seconds in zip(np.flatnonzero(gap), data.gaps["in_window"], data.gaps["duration_s"]):
            if in_window:  # data.gaps lists the steps flagged gap_after, in order
                ax.text((x[row] + x[row + 1]) / 2, (y[row] + y[row + 1]) / 2, f"gap {fmt_duration(seconds)}",
                        fontsize=7, ha="center", va="bottom", path_effects=_HALO, zorder=7, clip_on=True)
    seconds = (fixes["timestamp"] - fixes["timestamp"].iloc[0]).dt.total_seconds().to_numpy()
    scale = 1.0 if detail else 0.35
    for source, group in fixes.groupby(fixes["source"].astype(str), sort=True):
        rows = group.index.to_numpy()
        out_rows, in_rows = rows[~inside[rows]], rows[inside[rows]]
        ax.scatter(x[out_rows], y[out_rows], s=16 * scale, marker=marker_for(source), facecolors="none",
                   edgecolors="0.55", lw=0.7 * scale, zorder=5)
        ax.scatter(x[in_rows], y[in_rows], s=46 * scale, marker=marker_for(source), c=seconds[in_rows],
                   cmap=CMAP, norm=norm, edgecolors="black", lw=0.6 * scale, zorder=6)
    qx, qy = float(hit["closest_x"]), float(hit["closest_y"])
    ax.plot([cx, qx], [cy, qy], color="black", lw=0.8, ls=":", zorder=7)
    ax.scatter([qx], [qy], s=170 * scale, marker="X", c="white", edgecolors="black", lw=1.3 * scale, zorder=9)
    ax.scatter([cx], [cy], s=260 * scale, marker="*", c="black", edgecolors="white", lw=1.0 * scale, zorder=10)


def _draw_overview(ax, data: PackData, norm: Normalize, overview: Extent, focus: Extent) -> None:
    """An inset showing every point in the vicinity, with the main view outlined, in the upper-left or the
    lower-right corner of the main view, whichever covers fewer fixes (scale bar and north arrow hold the
    others)."""
    x = (data.fixes["x"].to_numpy(float) - focus[0]) / (focus[1] - focus[0])
    y = (data.fixes["y"].to_numpy(float) - focus[2]) / (focus[3] - focus[2])
    upper_left = int(((x < 0.36) & (x >= 0) & (y > 0.64) & (y <= 1)).sum())
    lower_right = int(((x > 0.64) & (x <= 1) & (y < 0.36) & (y >= 0)).sum())
    corner = (0.015, 0.655) if upper_left <= lower_right else (0.655, 0.015)
    inset = ax.inset_axes((*corner, 0.33, 0.33), zorder=20)
    _set_view(inset, overview)
    inset.set_facecolor("white")
    inset.set_xticks([])
    inset.set_yticks([])
    _draw_trail(inset, data, norm, overview, detail=False)
    inset.add_patch(Rectangle((focus[0], focus[2]), focus[1] - focus[0], focus[3] - focus[2], fill=False,
                              edgecolor="black", lw=1.0, ls="--", zorder=15))
    inset.set_title(f"Overview, {overview[1] - overview[0]:,.0f} m across", fontsize=6.5, pad=2)


def _draw_arrows(ax, x: np.ndarray, y: np.ndarray, gap: np.ndarray, extent: Extent) -> None:
    """Direction-of-travel arrowheads at the middle of each step long enough to see (not across gaps)."""
    xmin, xmax, ymin, ymax = extent
    dx, dy = np.diff(x), np.diff(y)
    length = np.hypot(dx, dy)
    mx, my = x[:-1] + dx / 2, y[:-1] + dy / 2
    show = (~gap & (length > (xmax - xmin) / 40) & (mx > xmin) & (mx < xmax) & (my > ymin) & (my < ymax))
    if show.any():
        ax.quiver(mx[show], my[show], dx[show] / length[show], dy[show] / length[show], angles="xy",
                  pivot="mid", scale=45, width=0.0025, headwidth=5, headlength=5, headaxislength=4.5,
                  color="0.15", zorder=5)


def _legend_handles(radius: float, fixes: pd.DataFrame) -> list[Line2D]:
    """Proxy artists for the map key (black and white, so the key itself prints)."""
    sources = sorted(set(fixes["source"].astype(str)) | {"GPS"})
    handles = [Line2D([], [], ls="", marker="*", ms=12, mfc="black", mec="white", label="Crime location"),
               Line2D([], [], ls="", marker="o", ms=12, mfc=(0, 0, 0, 0.06), mec="black", mew=1.8,
                      label=f"Match zone ({radius:,.0f} m radius)"),
               Line2D([], [], ls="", marker="X", ms=9, mfc="white", mec="black", label="Closest approach")]
    handles += [Line2D([], [], ls="", marker=SOURCE_MARKERS.get(s, "D"), ms=6, mfc="0.6", mec="black",
                       label=f"{s} fix in window (shade = time)") for s in sources]
    handles += [Line2D([], [], ls="", marker="o", ms=4, mfc="none", mec="0.55", label="Fix outside window"),
                Line2D([], [], ls="", marker="o", ms=10, mfc="none", mec="0.35", mew=0.8,
                       label="Confidence radius (dotted)"),
                Line2D([], [], color="0.3", lw=1.1, marker=">", ms=5, label="Between fixes, direction"),
                Line2D([], [], color="black", lw=1.3, ls=(0, (5, 3)), label="Gap in trail (no fixes)")]
    return handles


def _draw_tiles(ax, url: str, crs: str) -> None:
    """Draw web-map tiles from ``url`` (only when the user asked for it; needs the ``tiles`` extra)."""
    try:
        import contextily
    except ImportError as error:
        raise InputError("--tiles needs contextily: pip install 'geomatch[tiles]'") from error
    log.info("fetching map tiles from %s", url)
    contextily.add_basemap(ax, source=url, crs=crs, zorder=0)
