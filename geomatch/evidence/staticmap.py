"""Exhibit: ``map.png``, the breadcrumb trail around the crime location (matplotlib, no network by default).

The main view is centred on the scene and sized to the zone and the closest approach, so a stop at the scene
stays readable; when the points in the vicinity (or the reachable area of a gap) spread wider, an overview inset
shows them with the main view outlined, never wider than :data:`MAX_OVERVIEW_M` (a fix days away is named, not
drawn). Readable at any density: only the fixes that matter are numbered (the fix at the closest approach, the
first and last in the zone, the ends of gaps, then every k-th), each label placed where it overlaps no other
label, the star or the cross, and the star and the cross are drawn over everything. Fixes are shaded by their
time within the padded window; fixes outside it are grey. The map is in the metric CRS of the fixes. It is
drawn on a bare ``Figure`` (Agg, no pyplot state), so workers can draw in parallel, and ``thumb.png`` is cropped
from the same pixels around the zone, before the overview inset is drawn (the inset is drawn last, so no corner
of it shows in the thumbnail).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PatchCollection, PathCollection
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Polygon, Rectangle
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from geomatch.core.errors import InputError
from geomatch.evidence.axes import draw_axis, nice_ticks, number_labels
from geomatch.evidence.basemap import draw_basemap
from geomatch.evidence.context import EvidenceOptions, PackData, path_steps
from geomatch.evidence.index import THUMB_NAME
from geomatch.evidence.prism import Prism
from geomatch.evidence.style import (CMAP, PRISM_EDGE, PRISM_FILL, SOURCE_MARKERS, boxes_near_view, lay_legend,
                                     kept_figure, kept_markers, marker_for, markers, render_rgba, render_with_legend,
                                     segments, steps_near_view, write_png)
from geomatch.core.times import utc_ns
from geomatch.evidence.text import (fmt_duration, fmt_fixes, fmt_m, fmt_time, mpl_text, offence_name, time_ticks,
                                     zone_names)

log = logging.getLogger(__name__)
Extent = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax (metres)
MAX_LABELS = 24
"""Sequence labels on a map at most (every fix is numbered in ``points.csv``)."""
ARROW_GRID = 16
"""Direction arrows: at most one per cell of an ARROW_GRID x ARROW_GRID grid over the main view."""
MAX_CIRCLES = 60
"""Confidence circles drawn at most: the labelled fixes' and every k-th fix's in the window."""
MAX_OVERVIEW_M = 6000.0
"""The overview inset is never wider than this (m); points in the vicinity farther off are named under it."""
THUMB_PX = 240
INSET = 0.33  # the overview inset's side, a fraction of the main view's
LABEL_PT = 7.0
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
_GRID = {"color": "0.85", "lw": 0.5, "zorder": 1.5}  # grid lines over a basemap, under the trail
_TOP = 30  # zorder of the star and the cross: over the trail, the labels and the reachable area


def _square(xs: np.ndarray, ys: np.ndarray, margin: float = 1.12) -> Extent:
    half = max(xs.max() - xs.min(), ys.max() - ys.min()) / 2 * margin
    mx, my = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    return mx - half, mx + half, my - half, my + half


def focus_extent(data: PackData) -> Extent:
    """The main view: a square centred on the scene, two radii across at least, with the closest approach."""
    cx, cy, r = float(data.crime["x"]), float(data.crime["y"]), float(data.hit["radius_m"])
    half = max(2.0 * r, 1.25 * float(data.hit["min_distance_m"]) + 0.5 * r)
    return cx - half, cx + half, cy - half, cy + half


def _far_off(data: PackData) -> np.ndarray:
    """Which points in the vicinity lie farther from the scene than half of :data:`MAX_OVERVIEW_M`."""
    near = data.vicinity
    return np.hypot(near["x"].to_numpy(float) - float(data.crime["x"]),
                    near["y"].to_numpy(float) - float(data.crime["y"])) > MAX_OVERVIEW_M / 2


def map_extent(data: PackData) -> Extent:
    """The overview: a square around the zone, the closest approach, the points in the vicinity and the reachable
    areas, at most :data:`MAX_OVERVIEW_M` across (centred on the scene when it would be wider)."""
    cx, cy, r = float(data.crime["x"]), float(data.crime["y"]), float(data.hit["radius_m"])
    near = data.vicinity[~_far_off(data)]
    rings = [p.outline(32) for p in data.prisms]
    xs = np.concatenate([[cx - 1.5 * r, cx + 1.5 * r, float(data.hit["closest_x"])], near["x"].to_numpy(float),
                         *(ring[:, 0] for ring in rings)])
    ys = np.concatenate([[cy - 1.5 * r, cy + 1.5 * r, float(data.hit["closest_y"])], near["y"].to_numpy(float),
                         *(ring[:, 1] for ring in rings)])
    extent = _square(xs, ys)
    if extent[1] - extent[0] > MAX_OVERVIEW_M:
        half = MAX_OVERVIEW_M / 2
        extent = (cx - half, cx + half, cy - half, cy + half)
    return extent


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten) near a fifth of ``span_m`` metres."""
    target = span_m / 5
    power = 10 ** math.floor(math.log10(target))
    return max(step * power for step in (1, 2, 5) if step * power <= target)


def map_title(data: PackData) -> str:
    """Crime reference, offence, window in UK local time, subject and presence."""
    hit = data.hit
    return (f"{mpl_text(hit['crime_ref'], 60)} · {mpl_text(offence_name(hit['offence']))}\n"
            f"Window (with padding): {fmt_time(hit['window_start'])} to {fmt_time(hit['window_end'])}\n"
            f"Subject {mpl_text(hit['subject_id'], 40)} · {hit['presence']} · closest approach "
            f"{fmt_m(hit['min_distance_m'])} at {fmt_time(hit['closest_time'])}")


def label_rows(data: PackData, extent: Extent, most: int = MAX_LABELS) -> list[int]:
    """Rows of ``data.fixes`` to number on the map, most important first: the fix nearest the closest approach,
    the first and last fixes in the zone, the ends of gaps during the window, then every k-th point in the
    vicinity (k chosen so about ``most`` labels are offered); only fixes inside ``extent``."""
    fixes = data.fixes
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    in_view = (x >= extent[0]) & (x <= extent[1]) & (y >= extent[2]) & (y <= extent[3])
    t = utc_ns(fixes["timestamp"])
    at = int(np.searchsorted(t, pd.Timestamp(data.hit["closest_time"]).value, side="right"))
    around = np.array([row for row in (at - 1, at) if 0 <= row < len(t)], dtype=int)
    around = around[np.argsort(fixes["distance_m"].to_numpy(float)[around], kind="stable")][:1]
    zone = np.flatnonzero(fixes["in_zone"].to_numpy())
    gap_rows = np.flatnonzero(fixes["gap_after"].to_numpy())
    gap_rows = gap_rows[(fixes["in_window"].to_numpy()[gap_rows] | fixes["in_window"].to_numpy()[gap_rows + 1])]
    near = np.flatnonzero(fixes["vicinity"].to_numpy() & in_view)
    step = max(1, math.ceil(len(near) / most))
    order = [*around, *zone[:1], *zone[-1:], *np.sort(np.concatenate([gap_rows, gap_rows + 1])), *near[::step]]
    chosen, seen = [], set()
    for row in order:
        if in_view[row] and row not in seen:
            seen.add(int(row))
            chosen.append(int(row))
    return chosen[: most + 8]


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (pixels)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(anchors: np.ndarray, texts: list[str], obstacles: list[Box], frame: Box,
                 size_px: float) -> list[tuple[int, float, float]]:
    """Greedy label placement in pixels: each label (in order) takes the first of eight positions around its
    anchor, near then farther, whose box overlaps no placed label and no obstacle and lies inside ``frame``;
    a label with no such position is left out. Returns ``(label number, dx, dy)`` offsets of the box's lower-left
    corner from the anchor (pixels, y up)."""
    placed: list[Box] = []
    out = []
    height = size_px * 1.25
    for k, ((ax_, ay), text) in enumerate(zip(anchors, texts)):
        width = size_px * 0.62 * len(text) + 2
        for gap in (5.0, 14.0):
            spots = ((gap, gap * 0.6), (gap, -gap * 0.6 - height), (-gap - width, gap * 0.6),
                     (-gap - width, -gap * 0.6 - height), (-width / 2, gap), (-width / 2, -gap - height),
                     (gap * 1.4, -height / 2), (-gap * 1.4 - width, -height / 2))
            for dx, dy in spots:
                box = (ax_ + dx, ay + dy, ax_ + dx + width, ay + dy + height)
                if (box[0] >= frame[0] and box[2] <= frame[2] and box[1] >= frame[1] and box[3] <= frame[3]
                        and not any(_overlaps(box, other) for other in placed + obstacles)):
                    placed.append(box)
                    out.append((k, dx, dy))
                    break
            else:
                continue
            break
    return out


def window_norm(data: PackData) -> Normalize:
    """Shades of time: seconds from the padded window's start, spanning the window (fixes outside it are
    grey, so a context fix days away never stretches the colour bar)."""
    span = (pd.Timestamp(data.hit["window_end"]) - pd.Timestamp(data.hit["window_start"])).total_seconds()
    return Normalize(0.0, max(span, 1.0))


CORNERS = ((0.015, 0.655), (0.655, 0.015))
"""Where the overview inset may go (axes fractions of its lower-left corner): upper left, lower right."""


def _map_figure(dpi: float) -> tuple[Figure, object, Colorbar, dict]:
    """A figure for a map at ``dpi`` (A4 width, fixed layout: constrained layout costs ~30 %), its main axes, its
    colour bar and an overview inset at each of the :data:`CORNERS` (hidden), kept per thread and resolution
    (:func:`~geomatch.evidence.style.kept_figure`: what the last map added removed; :func:`draw_map` sets the
    view, aspect and title on every map, and the inset's on every map that shows it: building an inset costs a
    fifth of a map). The colour bar runs over the window as a fraction 0..1 (its ticks placed by the map): the
    same gradient for every window, so it is drawn once, not once per map."""
    def build():
        fig = Figure(figsize=(8.27, 10.2), dpi=dpi)
        ax = fig.add_axes((0.1, 0.19, 0.86, 0.71))
        bar = fig.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap=CMAP),
                           cax=fig.add_axes((0.15, 0.115, 0.76, 0.016)), orientation="horizontal")
        bar.ax.yaxis.set_visible(False)
        _set_view(ax, (0.0, 1.0, 0.0, 1.0))  # every map's view is square: the insets are placed in its final box
        ax.apply_aspect()
        insets = {corner: ax.inset_axes((*corner, INSET, INSET), zorder=20) for corner in CORNERS}
        for inset in insets.values():
            inset.set_facecolor("white")
            inset.yaxis.set_visible(False)
        return (fig, ax, bar, insets), (ax, bar.ax, *insets.values())

    kept = kept_figure(("map", dpi), build)
    fig, ax, bar, insets = kept.parts
    for inset in insets.values():
        inset.set_visible(False)
    return fig, ax, bar, insets


def draw_map(data: PackData, path: Path, options: EvidenceOptions) -> Path:
    """Draw ``map.png`` for one hit, and ``thumb.png`` beside it (the map cropped around the zone); return the
    map's path."""
    norm = window_norm(data)
    fig, ax, bar, insets = _map_figure(options.dpi)
    extent = focus_extent(data)
    _set_view(ax, extent)
    ax.apply_aspect()  # the final axes box, so data-to-pixel transforms hold for placing labels
    draw_basemap(ax, options, extent)
    if options.tiles:
        _draw_tiles(ax, options.tiles, options.crs)
    labelled = label_rows(data, extent)
    marks = _draw_trail(ax, data, norm, extent, detail=True, circles=labelled)
    overview = map_extent(data)
    corner = inset = None
    if overview[1] - overview[0] > 1.5 * (extent[1] - extent[0]):
        corner = _inset_corner(data, extent)
        inset = _draw_overview(insets[corner], data, norm, overview, extent)
    furniture = [(0.0, 0.0, 0.17, 0.08), (0.89, 0.79, 1.0, 1.0)]  # scale bar; north arrow (axes fractions)
    furniture += [(corner[0], corner[1], corner[0] + INSET, corner[1] + INSET + 0.03)] if corner else []
    _draw_labels(ax, data, labelled, extent, options.dpi, furniture)

    span = extent[1] - extent[0]
    length = nice_length(span)
    ax.add_artist(AnchoredSizeBar(ax.transData, length, f"{length:,.0f} m", "lower left", pad=0.6, sep=4,
                                  color="black", frameon=True, size_vertical=span / 180))
    ax.annotate("N", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=13, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5, "patchA": None, "shrinkA": 9},
                path_effects=_HALO, zorder=12)
    ax.text(0.95, 0.83, "grid north", transform=ax.transAxes, ha="center", va="top", fontsize=7,
            path_effects=_HALO, zorder=12)
    eastings, northings = nice_ticks(extent[0], extent[1]), nice_ticks(extent[2], extent[3])
    draw_axis(ax, "x", eastings, number_labels(eastings), grid=_GRID,
              title=f"Easting (m, {options.crs})" + _wide_circles_note(data.vicinity, extent))
    draw_axis(ax, "y", northings, number_labels(northings), rotation=90, grid=_GRID,
              title=f"Northing (m, {options.crs})")
    ax.set_title(map_title(data), fontsize=9, loc="left", y=1.0)  # a fixed y: no tight-bbox pass

    ws, we = pd.Timestamp(data.hit["window_start"]), pd.Timestamp(data.hit["window_end"])
    ticks, labels = time_ticks(ws, we)
    draw_axis(bar.ax, "x", (ticks - ws).total_seconds().to_numpy() / norm.vmax, labels,
              title=f"Time of fix within the window, UK local time ({zone_names(pd.Series([ws, we]))}); "
                    f"fixes outside the window grey")
    radius, sources, prisms = float(data.hit["radius_m"]), _sources(data), bool(data.prisms)
    key = ("map", fig.dpi, radius, sources, prisms)

    def add_legend(figure: Figure) -> None:
        figure.legend(handles=_legend_handles(radius, sources, prisms), loc="lower center",
                      bbox_to_anchor=(0.5, 0.005), ncols=3, fontsize=7, frameon=False)

    if inset is not None:  # drawn last, after the thumbnail is cropped from the map under it
        inset.set_visible(False)
    pixels = render_with_legend(fig, key, add_legend)
    write_png(_zone_crop(ax, data, pixels), path.with_name(THUMB_NAME))
    if inset is not None:
        inset.set_visible(True)
        fig.draw_artist(inset)
        box = inset.get_window_extent()
        for mark in marks:  # the star and the cross stay over the inset
            if box.contains(*ax.transData.transform(mark.get_offsets()[0])):
                fig.draw_artist(mark)
        pixels = lay_legend(render_rgba(fig, draw=False), fig, key, add_legend)
    write_png(pixels, path)
    return path


def _zone_crop(ax, data: PackData, pixels: np.ndarray) -> np.ndarray:
    """The rendered map's pixels (opaque RGBA) around the zone (1.6 radii each side, at least 100 px), as a square
    of :data:`THUMB_PX` RGB pixels; where the square runs off the map it is black (as Pillow crops). Pillow reads
    the renderer's buffer in place (as RGBX, so no alpha is premultiplied) and copies only the square."""
    from PIL import Image

    height, width = pixels.shape[:2]
    cx, cy = ax.transData.transform((float(data.crime["x"]), float(data.crime["y"])))
    edge = ax.transData.transform((float(data.crime["x"]) + 1.6 * float(data.hit["radius_m"]),
                                   float(data.crime["y"])))
    half = max(edge[0] - cx, 100.0)
    box = tuple(int(round(v)) for v in (cx - half, height - cy - half, cx + half, height - cy + half))
    image = Image.frombuffer("RGBX", (width, height), np.ascontiguousarray(pixels), "raw", "RGBX", 0, 1)
    thumb = image.crop(box).resize((THUMB_PX, THUMB_PX), Image.Resampling.BOX).convert("RGB")
    return np.asarray(thumb)


def _gap_labels(data: PackData, extent: Extent, most: int = 6) -> list[tuple[float, float, str]]:
    """``(x, y, text)`` for the longest gaps during the window whose middle is in view, longest first."""
    fixes = data.fixes
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    rows = np.flatnonzero(fixes["gap_after"].to_numpy())
    keep = data.gaps["in_window"].to_numpy(bool).copy()  # data.gaps lists the steps flagged gap_after, in order
    mx, my = (x[rows] + x[rows + 1]) / 2, (y[rows] + y[rows + 1]) / 2
    keep &= (mx >= extent[0]) & (mx <= extent[1]) & (my >= extent[2]) & (my <= extent[3])
    seconds = data.gaps["duration_s"].to_numpy(float)
    order = np.flatnonzero(keep)[np.argsort(-seconds[keep], kind="stable")][:most]
    return [(mx[k], my[k], f"gap {fmt_duration(seconds[k])}") for k in order]


def _draw_labels(ax, data: PackData, rows: list[int], extent: Extent, dpi: float,
                 furniture: list[tuple[float, float, float, float]] = ()) -> None:
    """Number the chosen fixes (:func:`label_rows`) and name the longest gaps, where each label collides with
    nothing (:func:`place_labels`): the fix at the closest approach and the zone's first and last fixes first,
    then the gaps, then the rest; the star, the cross and the ``furniture`` (boxes in axes fractions: scale
    bar, north arrow, inset) are obstacles."""
    fixes = data.fixes
    fx, fy = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    numbers = [(fx[row], fy[row], str(int(fixes["seq"].iloc[row]))) for row in rows]
    items = numbers[:3] + _gap_labels(data, extent) + numbers[3:]
    if not items:
        return
    size_px = LABEL_PT * dpi / 72
    anchors = ax.transData.transform(np.array([(x, y) for x, y, _ in items]))
    marks = ax.transData.transform([(float(data.crime["x"]), float(data.crime["y"])),
                                    (float(data.hit["closest_x"]), float(data.hit["closest_y"]))])
    guard = 0.11 * dpi  # the star's and the cross's half-size in pixels
    obstacles = [(mx - guard, my - guard, mx + guard, my + guard) for mx, my in marks]
    for box in furniture:
        (x0, y0), (x1, y1) = ax.transAxes.transform([box[:2], box[2:]])
        obstacles.append((x0, y0, x1, y1))
    frame = tuple(ax.bbox.extents)
    points = 72 / dpi
    for k, dx, dy in place_labels(anchors, [text for _, _, text in items], obstacles, frame, size_px):
        x, y, text = items[k]
        far = math.hypot(dx, dy) > 20
        ax.annotate(text, (x, y), xytext=(dx * points, dy * points), textcoords="offset points",
                    fontsize=LABEL_PT, ha="left", va="bottom", path_effects=_HALO, zorder=25, annotation_clip=True,
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.3", "shrinkA": 0, "shrinkB": 2,
                                "patchA": None}
                    if far else None)


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


def _draw_trail(ax, data: PackData, norm: Normalize, extent: Extent, *, detail: bool,
                circles: list[int] = ()) -> tuple[PathCollection, PathCollection]:
    """Zone, reachable areas, trail, fixes, scene and closest approach; ``detail`` adds confidence circles (of
    the ``circles`` rows and every k-th fix in the window, :data:`MAX_CIRCLES` at most) and arrows (the overview
    inset leaves them out). Returns the closest approach's cross and the crime location's star."""
    fixes, hit, crime = data.fixes, data.hit, data.crime
    cx, cy, r = float(crime["x"]), float(crime["y"]), float(hit["radius_m"])
    ax.add_patch(Circle((cx, cy), r, facecolor=(0, 0, 0, 0.06), edgecolor="black", lw=1.8 if detail else 1.0,
                        zorder=2))
    _draw_prisms(ax, data.prisms, detail)
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    inside = fixes["in_window"].to_numpy()
    if detail:
        acc = fixes["accuracy_m"].to_numpy(float)
        has_acc = inside & np.isfinite(acc) & (acc > 0)
        rows = np.flatnonzero(has_acc)
        rows = np.union1d(rows[:: max(1, math.ceil(len(rows) / MAX_CIRCLES))],
                          np.intersect1d(np.asarray(circles, dtype=int), rows))
        rows = rows[boxes_near_view(x[rows] - acc[rows], x[rows] + acc[rows], y[rows] - acc[rows],
                                    y[rows] + acc[rows], extent)]  # circles that cannot reach the view: left out
        ax.add_collection(PatchCollection([Circle((x[i], y[i]), acc[i]) for i in rows],
                                          facecolor="none", edgecolor="0.35", lw=0.7, linestyle=":", zorder=3),
                          autolim=False)  # the view is set: measuring the circles' extent is wasted
    px, py, gap = _path(data)
    steps = np.stack([np.column_stack([px[:-1], py[:-1]]), np.column_stack([px[1:], py[1:]])], axis=1)
    seen = steps_near_view(steps, extent)  # steps that cannot reach the view draw nothing: left out
    solid, dashed = seen & ~gap, seen & gap
    if solid.any():  # empty collections are left out: each costs a millisecond to build and draws nothing
        segments(ax, steps[solid], colors="0.3", lw=1.1 if detail else 0.6, zorder=4)
    if dashed.any():
        segments(ax, steps[dashed], colors="black", lw=1.3 if detail else 0.8, linestyles=(0, (5, 3)), zorder=4)
    if detail:
        _draw_arrows(ax, px, py, gap, extent)
    seconds = (fixes["timestamp"] - pd.Timestamp(hit["window_start"])).dt.total_seconds().to_numpy()
    scale = 1.0 if detail else 0.35
    near = boxes_near_view(x, x, y, y, extent)
    for source, rows in data.source_rows:
        out_rows, in_rows = kept_markers(rows[~inside[rows]], near), kept_markers(rows[inside[rows]], near)
        if len(out_rows):
            markers(ax, x[out_rows], y[out_rows], marker_for(source), sizes=16 * scale, facecolors="none",
                    edgecolors="0.55", linewidths=0.7 * scale, zorder=5)
        if len(in_rows):
            markers(ax, x[in_rows], y[in_rows], marker_for(source), sizes=46 * scale, values=seconds[in_rows],
                    cmap=CMAP, norm=norm, edgecolors="black", linewidths=0.6 * scale, zorder=6)
    qx, qy = float(hit["closest_x"]), float(hit["closest_y"])
    ax.plot([cx, qx], [cy, qy], color="black", lw=0.8, ls=":", zorder=7)
    cross = markers(ax, [qx], [qy], "X", sizes=170 * scale, facecolors="white", edgecolors="black",
                    linewidths=1.3 * scale, zorder=_TOP)
    star = markers(ax, [cx], [cy], "*", sizes=260 * scale, facecolors="black", edgecolors="white",
                   linewidths=1.0 * scale, zorder=_TOP + 1)
    return cross, star


def _path(data: PackData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trail as the matcher joins it (:func:`geomatch.evidence.context.path_steps`): the x, y of the fixes
    that form the path and, per step between them, whether it is a gap. Fallback and outlier fixes stand alone,
    drawn as markers only."""
    on_path, gap_after = path_steps(data)
    fixes = data.fixes
    return fixes["x"].to_numpy(float)[on_path], fixes["y"].to_numpy(float)[on_path], gap_after[on_path][:-1]


def _draw_prisms(ax, prisms: tuple[Prism, ...], detail: bool) -> None:
    """The reachable area of each gap that made the hit possible: a tinted ellipse with a dashed outline, under
    the trail."""
    for prism in prisms:
        ax.add_patch(Polygon(prism.outline(), closed=True, facecolor=PRISM_FILL, edgecolor=PRISM_EDGE,
                             lw=1.4 if detail else 0.8, ls=(0, (6, 3)), zorder=1.5))


def _inset_corner(data: PackData, focus: Extent) -> tuple[float, float]:
    """Where the overview inset goes (axes fractions of its lower-left corner): the upper-left or the lower-right
    corner of the main view, whichever covers fewer fixes (scale bar and north arrow hold the others)."""
    x = (data.fixes["x"].to_numpy(float) - focus[0]) / (focus[1] - focus[0])
    y = (data.fixes["y"].to_numpy(float) - focus[2]) / (focus[3] - focus[2])
    upper_left = int(((x < 0.36) & (x >= 0) & (y > 0.64) & (y <= 1)).sum())
    lower_right = int(((x > 0.64) & (x <= 1) & (y < 0.36) & (y >= 0)).sum())
    return CORNERS[0] if upper_left <= lower_right else CORNERS[1]


def _draw_overview(inset, data: PackData, norm: Normalize, overview: Extent, focus: Extent):
    """Show every point in the vicinity, with the main view outlined, on the overview ``inset`` (axes, made
    visible); returns it."""
    inset.set_visible(True)
    _set_view(inset, overview)
    _draw_trail(inset, data, norm, overview, detail=False)
    inset.add_patch(Rectangle((focus[0], focus[2]), focus[1] - focus[0], focus[3] - focus[2], fill=False,
                              edgecolor="black", lw=1.0, ls="--", zorder=15))
    inset.set_title(f"Overview, {overview[1] - overview[0]:,.0f} m across", fontsize=6.5, pad=2, y=1.0)
    far = data.vicinity[_far_off(data)]
    note = ""
    if len(far):
        farthest = float(far["distance_m"].max())
        note = (f"{fmt_fixes(len(far))} beyond this view, up to {farthest / 1000:,.1f} km away "
                f"(fix {', '.join(str(s) for s in far['seq'].head(3))}{', …' if len(far) > 3 else ''})")
    inset.apply_aspect()
    draw_axis(inset, "x", [], [], title=note, title_pt=6, title_gap_pt=2)
    return inset


def _draw_arrows(ax, x: np.ndarray, y: np.ndarray, gap: np.ndarray, extent: Extent) -> None:
    """Direction-of-travel arrowheads at the middle of steps long enough to see (not across gaps), at most one
    in each cell of a 16 x 16 grid over the view, so a dense trail gets a few arrows rather than a black band."""
    xmin, xmax, ymin, ymax = extent
    dx, dy = np.diff(x), np.diff(y)
    length = np.hypot(dx, dy)
    mx, my = x[:-1] + dx / 2, y[:-1] + dy / 2
    cell = (xmax - xmin) / ARROW_GRID
    show = (~gap & (length > cell / 3) & (mx > xmin) & (mx < xmax) & (my > ymin) & (my < ymax))
    rows = np.flatnonzero(show)
    cells = np.floor((mx[rows] - xmin) / cell).astype(np.int64) * (ARROW_GRID + 1) \
        + np.floor((my[rows] - ymin) / cell).astype(np.int64)
    rows = rows[np.unique(cells, return_index=True)[1]]
    if len(rows):
        ax.quiver(mx[rows], my[rows], dx[rows] / length[rows], dy[rows] / length[rows], angles="xy",
                  pivot="mid", scale=45, width=0.0025, headwidth=5, headlength=5, headaxislength=4.5,
                  color="0.15", zorder=5)


def _sources(data: PackData) -> tuple[str, ...]:
    """The fix sources the map's key lists: those of the fixes, and GPS always."""
    return tuple(sorted({source for source, _ in data.source_rows} | {"GPS"}))


def _legend_handles(radius: float, sources: tuple[str, ...], prisms: bool = False) -> list[Line2D]:
    """Proxy artists for the map key (black and white, so the key itself prints)."""
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
                Line2D([], [], color="black", lw=1.3, ls=(0, (5, 3)), label="Gap in trail (no good fixes)")]
    if prisms:
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor=PRISM_FILL, edgecolor=PRISM_EDGE, ls=(0, (6, 3)),
                             label="Reachable during the gap (tint)"))
    return handles


def _draw_tiles(ax, url: str, crs: str) -> None:
    """Draw web-map tiles from ``url`` (only when the user asked for it; needs the ``tiles`` extra)."""
    try:
        import contextily
    except ImportError as error:
        raise InputError("--tiles needs contextily: pip install 'geomatch[tiles]'") from error
    log.info("fetching map tiles from %s", url)
    contextily.add_basemap(ax, source=url, crs=crs, zorder=0)
