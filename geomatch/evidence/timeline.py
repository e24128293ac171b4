"""Exhibit: ``timeline.png``, the distance from the crime location against time.

Shaded: the committed window (hatched) inside the padded window (light); the match radius is a dashed line;
gaps in the trail are cross-hatched bands with their length written on them. Times in UK local time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.lines import Line2D

from geomatch.evidence.axes import draw_axis, nice_ticks, number_labels
from geomatch.evidence.context import EvidenceOptions, PackData
from geomatch.evidence.style import (PRISM_EDGE, PRISM_FILL, boxes_near_view, kept_figure, kept_markers,
                                     marker_for, markers, render_with_legend, segments, steps_near_view,
                                     write_png)
from geomatch.evidence.text import fmt_duration, fmt_fixes, fmt_m, mpl_text, time_ticks
from geomatch.core.times import UK_TZ

_BLACK, _WHITE = np.array([0.0, 0.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0, 1.0])
"""RGBA of the fixes in the window (filled) and outside it (hollow): an array, not a name per fix."""


def _num(times) -> np.ndarray:
    """UTC times as matplotlib date numbers: as ``date2num`` gives them for the times as Python datetimes (which
    it reads to the microsecond), without making a Python object per time."""
    utc = pd.DatetimeIndex(pd.Series(times)).tz_convert("UTC").tz_localize(None)
    return mdates.date2num(utc.to_numpy().astype("datetime64[us]"))


def _path_distance(data: PackData, t: np.ndarray, samples: int = 16) -> np.ndarray:
    """For each step between consecutive fixes, ``samples`` points (time, distance from the scene) along the
    straight path at constant speed, plus the path's closest point to the scene, so a path that passes the scene
    between two fixes dips on the chart as it does in the matcher's interpolation. Shape
    ``(steps, samples + 1, 2)``."""
    fixes = data.fixes
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    dx, dy = np.diff(x), np.diff(y)
    ox, oy = x[:-1] - float(data.crime["x"]), y[:-1] - float(data.crime["y"])
    with np.errstate(invalid="ignore", divide="ignore"):
        closest = np.clip(np.nan_to_num(-(ox * dx + oy * dy) / (dx * dx + dy * dy)), 0.0, 1.0)
    u = np.sort(np.column_stack([np.tile(np.linspace(0.0, 1.0, samples), (len(dx), 1)), closest]), axis=1)
    px = x[:-1, None] + u * dx[:, None]
    py = y[:-1, None] + u * dy[:, None]
    pt = t[:-1, None] + u * np.diff(t)[:, None]
    distance = np.hypot(px - float(data.crime["x"]), py - float(data.crime["y"]))
    return np.stack([pt, distance], axis=2)


def _shown_span(data: PackData, context_s: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The chart's time axis: the fixes' span, cut to ``context_s`` either side of the padded window (the fix
    before or after a long gap may be days away)."""
    times = data.fixes["timestamp"]
    pad = pd.Timedelta(seconds=context_s)
    start = max(times.iloc[0], pd.Timestamp(data.hit["window_start"]) - pad)
    end = min(times.iloc[-1], pd.Timestamp(data.hit["window_end"]) + pad)
    return start, max(end, start + pd.Timedelta(seconds=1))


def draw_timeline(data: PackData, path: Path, options: EvidenceOptions) -> Path:
    """Draw ``timeline.png`` for one hit and return its path.

    The distance axis stops at the larger of ``options.vicinity_m``, four radii and 1.5 times the closest
    approach, so the approach to the zone stays readable; farther distances run off the top (and say so).
    """
    hit, crime, fixes = data.hit, data.crime, data.fixes
    fig, ax = kept_figure(("timeline", options.dpi), lambda: _new_figure(options.dpi)).parts
    ws, we = _num([hit["window_start"], hit["window_end"]])
    cf, ct = _num([crime["committed_from"], crime["committed_to"]])
    ax.axvspan(ws, we, facecolor="0.92", edgecolor="none", zorder=0)
    ax.axvspan(cf, ct, facecolor="0.78", edgecolor="none", zorder=0.5)
    radius = float(hit["radius_m"])
    ax.axhline(radius, color="black", ls="--", lw=1.2, zorder=2)

    t = _num(fixes["timestamp"])
    d = fixes["distance_m"].to_numpy(float)
    lo, hi = _num(_shown_span(data, options.context_s))
    farthest = float(np.nanmax(d)) if len(d) else 0.0
    near_scale = max(options.vicinity_m, 4.0 * radius, 1.5 * float(hit["min_distance_m"]))
    top = min(farthest * 1.08, near_scale) if farthest > 2.0 * radius else 2.2 * radius
    view = (lo, hi, 0.0, top)  # what cannot reach it is left out (it would not show)
    gap = fixes["gap_after"].to_numpy()[:-1]
    if (~gap).any():  # empty collections are left out (they draw nothing)
        paths = _path_distance(data, t)[~gap]
        segments(ax, paths[steps_near_view(paths, view)], colors="0.3", lw=1.1, zorder=3)
    if gap.any():
        steps = np.stack([np.column_stack([t[:-1], d[:-1]]), np.column_stack([t[1:], d[1:]])], axis=1)[gap]
        segments(ax, steps[steps_near_view(steps, view)], colors="black", lw=1.0, linestyles=(0, (5, 3)),
                 zorder=3)
    axes_px = 0.895 * 8.27 * options.dpi
    last_end = -np.inf  # right edge (px) of the last gap label: labels never overlap
    for start, end, seconds in zip(_num(data.gaps["start"]), _num(data.gaps["end"]), data.gaps["duration_s"]):
        ax.axvspan(start, end, facecolor="none", edgecolor="0.6", hatch="x", lw=0, zorder=1)
        if end < lo or start > hi:
            continue
        text = f"gap {fmt_duration(seconds)}"
        middle = (max(start, lo) + min(end, hi)) / 2
        centre_px, half_px = (middle - lo) / (hi - lo) * axes_px, (len(text) * 0.62 * 7 + 6) * options.dpi / 144
        if centre_px - half_px < max(last_end, 0.0) or centre_px + half_px > axes_px:
            continue
        last_end = centre_px + half_px
        ax.text(middle, 0.97, text, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7,
                bbox={"facecolor": "white", "edgecolor": "0.5", "pad": 1.5})
    for prism in data.prisms:  # when the zone could have been visited during a gap
        ax.fill_between(_num([prism.zone_from, prism.zone_to]), 0, radius, facecolor=PRISM_FILL,
                        edgecolor=PRISM_EDGE, ls=(0, (6, 3)), lw=1.0, zorder=1.5)
    inside = fixes["in_window"].to_numpy()
    near = boxes_near_view(t, t, d, d, view)
    for source, rows in data.source_rows:
        rows = kept_markers(rows, near)
        markers(ax, t[rows], d[rows], marker_for(source), sizes=np.where(inside[rows], 26, 12),
                facecolors=np.where(inside[rows, None], _BLACK, _WHITE), edgecolors="black", linewidths=0.6,
                zorder=4)
    markers(ax, _num([hit["closest_time"]]), [hit["min_distance_m"]], "X", sizes=110, facecolors="white",
            edgecolors="black", linewidths=1.3, zorder=5)

    ax.set_ylim(0, top)
    notes = [f"distances up to {fmt_m(farthest)} run off the top"] if farthest > top else []
    shown = _shown_span(data, options.context_s)
    ax.set_xlim(lo, hi)
    off = int(((fixes["timestamp"] < shown[0]) | (fixes["timestamp"] > shown[1])).sum())
    if off:
        notes.append(f"{fmt_fixes(off)} beyond {fmt_duration(options.context_s)} of context off the chart")
    if notes:  # on a line of its own under the title (side by side they overlapped)
        ax.annotate("; ".join(notes), xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7)
    ticks, labels = time_ticks(shown[0], shown[1], n=9)
    day = pd.Timestamp(hit["window_start"]).tz_convert(UK_TZ).strftime("%a %d %b %Y")
    draw_axis(ax, "x", _num(ticks), labels,
              title=f"UK local time ({data.zones}), window starting {day}")
    distances = nice_ticks(0.0, top)
    draw_axis(ax, "y", distances, number_labels(distances), title="Distance from crime location (m)",
              grid={"color": "0.85", "lw": 0.5, "zorder": 1.5})
    ax.set_title(f"{mpl_text(hit['crime_ref'], 60)} · subject {mpl_text(hit['subject_id'], 40)} · closest approach "
                 f"{fmt_m(hit['min_distance_m'])}", fontsize=9, loc="left", y=1.0, pad=11 if notes else 6)
    sources = tuple(source for source, _ in data.source_rows)
    pixels = render_with_legend(fig, ("timeline", fig.dpi, radius, sources, bool(data.prisms)),
                                lambda figure: _add_legend(figure, radius, sources, bool(data.prisms)))
    return write_png(pixels, path)


def _new_figure(dpi: float) -> tuple[tuple[Figure, object], tuple[object]]:
    """The timeline's figure and axes (kept per thread: :func:`~geomatch.evidence.style.kept_figure`)."""
    fig = Figure(figsize=(8.27, 4.4), dpi=dpi)
    ax = fig.add_axes((0.085, 0.215, 0.895, 0.71))
    return (fig, ax), (ax,)


def _add_legend(fig: Figure, radius: float, sources: tuple[str, ...], prisms: bool) -> None:
    """The timeline's key, under the chart (black and white, so it prints)."""
    handles = [Patch(facecolor="0.92", edgecolor="0.7", label="Window with padding"),
               Patch(facecolor="0.78", edgecolor="0.5", label="Committed window"),
               Line2D([], [], color="black", ls="--", label=f"Match radius {radius:,.0f} m"),
               Patch(facecolor="white", edgecolor="0.6", hatch="x", label="Gap in trail (no fixes)"),
               *(Line2D([], [], ls="", marker=marker_for(source), mfc="black", mec="black", ms=5,
                        label=f"{source} fix (hollow: outside window)") for source in sources),
               Line2D([], [], ls="", marker="X", mfc="white", mec="black", ms=8, label="Closest approach"),
               *([Patch(facecolor=PRISM_FILL, edgecolor=PRISM_EDGE, ls=(0, (6, 3)),
                        label="Zone reachable during the gap")] if prisms else [])]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=4, fontsize=7, frameon=False)
