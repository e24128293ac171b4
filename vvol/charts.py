"""Figures of a tasking pack, drawn with matplotlib (no tiles, no network) and returned as PNG bytes.

Maps are in British National Grid metres with a 1 km scale bar; the background is every located crime of the
window, so the maps need no base map to be read.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adjustText import adjust_text  # noqa: E402

from geomatch.core.safe import escape_controls  # noqa: E402
from vvol.score import TRENDS  # noqa: E402

TREND_COLOURS = {"new": "#d62728", "intensifying": "#ff7f0e", "persistent": "#1f77b4", "diminishing": "#2ca02c"}
HEXBIN_ABOVE = 20_000
"""Window crimes above which the background is a hexbin density rather than single points."""
MAP_MAX_LOCATIONS = 300
"""Locations drawn on the overview map (the highest scores); the list holds them all."""


def _limits(ax, crimes: pd.DataFrame) -> None:
    """Overview extent: the middle 99 % of located crimes plus a margin, so a few stray points far outside the
    force area (real exports have them) do not shrink the map."""
    x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return
    (x0, x1), (y0, y1) = np.percentile(x[ok], [0.5, 99.5]), np.percentile(y[ok], [0.5, 99.5])
    margin = 0.05 * max(x1 - x0, y1 - y0, 1000.0)
    ax.set_xlim(x0 - margin, x1 + margin)
    ax.set_ylim(y0 - margin, y1 + margin)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _background(ax, crimes: pd.DataFrame) -> None:
    x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() > HEXBIN_ABOVE:
        ax.hexbin(x[ok], y[ok], gridsize=150, bins="log", cmap="Greys", mincnt=1, linewidths=0, alpha=0.5,
                  vmin=0.5)
    else:
        ax.scatter(x[ok], y[ok], s=2, c="#bbbbbb", linewidths=0, label="all crimes in the window")


def _scale_bar(ax) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = 10 ** np.floor(np.log10(max((x1 - x0) / 4, 1.0)))
    bx, by = x0 + 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="black", lw=3)
    ax.text(bx + length / 2, by + 0.015 * (y1 - y0), f"{length:,.0f} m", ha="center", va="bottom", fontsize=8)


def _frame(ax, title: str, labels: bool = True) -> None:
    ax.set_aspect("equal")
    if labels:
        ax.set_xlabel("easting (m, EPSG:27700)")
        ax.set_ylabel("northing (m, EPSG:27700)")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    if not labels:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(title, fontsize=10 if labels else 8)
    _scale_bar(ax)


def locations_map(crimes: pd.DataFrame, locations: pd.DataFrame, top_n: int = 25, zoom_m: float = 400.0,
                  n_zooms: int = 4) -> bytes:
    """Top: the whole area with hot spots (circles, area by crimes) and repeat premises (triangles), coloured by
    score, the top ``top_n`` numbered by rank (labels moved apart with adjustText, a leader line back to each
    place). Bottom: the crimes within ``zoom_m`` metres of each of the top ``n_zooms`` locations."""
    fig = plt.figure(figsize=(15, 11.5), layout="constrained")
    grid = fig.add_gridspec(2, n_zooms, height_ratios=[2.2, 1.0])
    ax = fig.add_subplot(grid[0, :n_zooms // 2])
    centre = fig.add_subplot(grid[0, n_zooms // 2:])
    _background(ax, crimes)
    vmax = max(float(locations["score"].max()) if len(locations) else 1.0, 1.0)
    drawn = _locations(ax, locations.head(MAP_MAX_LOCATIONS), vmax, size=1.0)
    _limits(ax, crimes)
    top = locations.head(top_n)
    top = top[np.isfinite(top["easting"].to_numpy(float))]
    box = _densest_box(top, CENTRE_M)
    inside = _inside(top, box)
    _label_ranks(ax, top[~inside])
    if box is not None:
        x0, x1, y0, y1 = box
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#d62728", lw=1.2, ls="--"))
        in_box = crimes[(crimes["x"] >= x0) & (crimes["x"] <= x1) & (crimes["y"] >= y0) & (crimes["y"] <= y1)]
        centre.scatter(in_box["x"], in_box["y"], s=3, c="#bbbbbb", linewidths=0)
        _locations(centre, locations.head(MAP_MAX_LOCATIONS), vmax, size=1.0)
        centre.set_xlim(x0, x1)
        centre.set_ylim(y0, y1)
        _label_ranks(centre, top[inside])
        _frame(centre, f"Inside the dashed box: {int(inside.sum())} of the top {len(top)}", labels=False)
    else:
        centre.set_axis_off()
    if drawn is not None:
        fig.colorbar(drawn, ax=[ax, centre], shrink=0.6, label="score", pad=0.01)
    ax.legend(loc="upper right", fontsize=8)
    shown = min(len(locations), MAP_MAX_LOCATIONS)
    _frame(ax, f"Top {shown} of {len(locations)} repeat locations; the top {len(top)} numbered by rank")
    for i in range(n_zooms):
        zoom = fig.add_subplot(grid[1, i])
        if i >= len(top):
            zoom.set_axis_off()
            continue
        row = top.iloc[i]
        cx, cy = float(row["easting"]), float(row["northing"])
        x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
        near = (np.abs(x - cx) <= zoom_m) & (np.abs(y - cy) <= zoom_m)
        zoom.scatter(x[near], y[near], s=8, c="#888888", linewidths=0)
        located = locations[np.isfinite(locations["easting"].to_numpy(float))]
        nearby = located[(np.abs(located["easting"] - cx) <= zoom_m) & (np.abs(located["northing"] - cy) <= zoom_m)]
        _locations(zoom, nearby, vmax, size=0.5)
        if row["kind"] == "hotspot":
            zoom.add_patch(plt.Circle((cx, cy), float(row["radius_m"]), fill=False, ls="--", color="#d62728"))
        zoom.set_xlim(cx - zoom_m, cx + zoom_m)
        zoom.set_ylim(cy - zoom_m, cy + zoom_m)
        _frame(zoom, f"#{int(row['rank'])} {_short(row.get('place', row['location_id']), 34)}", labels=False)
    return _png(fig)


CENTRE_M = 6000.0
"""The second map panel shows where the most top-ranked locations crowd together: those within this many metres of
one another, framed with a margin."""


def _densest_box(top: pd.DataFrame, side: float) -> tuple[float, float, float, float] | None:
    """The ``side``-metre square centred on the top location with the most other top locations within half a side
    of it (None when no two are that close: the overview alone can carry every label)."""
    if len(top) < 2:
        return None
    x, y = top["easting"].to_numpy(float), top["northing"].to_numpy(float)
    near = (np.abs(x[:, None] - x[None, :]) <= side / 2) & (np.abs(y[:, None] - y[None, :]) <= side / 2)
    best = int(np.argmax(near.sum(axis=1)))
    if near[best].sum() < 2:
        return None
    xs, ys = x[near[best]], y[near[best]]
    half = max(xs.max() - xs.min(), ys.max() - ys.min(), 800.0) * 0.65
    cx, cy = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    return cx - half, cx + half, cy - half, cy + half


def _inside(top: pd.DataFrame, box) -> np.ndarray:
    if box is None:
        return np.zeros(len(top), bool)
    x, y = top["easting"].to_numpy(float), top["northing"].to_numpy(float)
    return (x >= box[0]) & (x <= box[1]) & (y >= box[2]) & (y <= box[3])


def _label_ranks(ax, rows: pd.DataFrame) -> None:
    """Rank numbers at their places, moved apart by adjustText with a leader line back to each place."""
    texts = [ax.text(row.easting, row.northing, str(row.rank), fontsize=9, weight="bold", ha="center",
                     va="center", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#333333", "lw": 0.6})
             for row in rows.itertuples()]
    if len(texts) > 1:
        adjust_text(texts, x=rows["easting"].to_numpy(float), y=rows["northing"].to_numpy(float), ax=ax,
                    expand=(1.4, 1.6), arrowprops={"arrowstyle": "-", "color": "#333333", "lw": 0.6})


def _short(text: object, limit: int) -> str:
    """Input text as a chart label: control characters escaped (``\\x07``; a font has no glyph for them), cut to
    ``limit`` characters with an ellipsis."""
    text = escape_controls(str(text))
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _locations(ax, locations: pd.DataFrame, vmax: float, size: float):
    """Premises as triangles, hot spots as circles, coloured by score; returns a drawn collection (for a colour
    bar) or None."""
    hot = locations[locations["kind"] == "hotspot"]
    prem = locations[locations["kind"] == "premises"]
    drawn = None
    if len(prem):
        drawn = ax.scatter(prem["easting"], prem["northing"],
                           s=size * (12 + 4 * prem["crimes_12m"].clip(upper=40)), marker="^", c=prem["score"],
                           cmap="viridis", vmin=0, vmax=vmax, edgecolors="black", linewidths=0.3,
                           label="repeat premises")
    if len(hot):
        drawn = ax.scatter(hot["easting"], hot["northing"], s=size * (20 + 6 * hot["crimes_12m"].clip(upper=80)),
                           c=hot["score"], cmap="viridis", vmin=0, vmax=vmax, edgecolors="black", linewidths=0.6,
                           alpha=0.8, label="hot spots (DBSCAN centroid)")
    return drawn


def clusters_map(crimes: pd.DataFrame, clusters: pd.DataFrame, cluster_crime: tuple[np.ndarray, np.ndarray],
                 ids: np.ndarray, top_n: int = 10) -> bytes:
    """The crimes of the top ``top_n`` linked clusters, one colour each, numbered by rank at their centroid."""
    fig, ax = plt.subplots(figsize=(8, 7))
    _background(ax, crimes)
    _limits(ax, crimes)
    code_of = {cluster_id: code for code, cluster_id in enumerate(ids)}
    colours = plt.get_cmap("tab10")
    code, crime = cluster_crime
    x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    for rank, row in enumerate(clusters.head(top_n).itertuples(), start=1):
        mine = crime[code == code_of[row.cluster_id]]
        ax.scatter(x[mine], y[mine], s=30, color=colours((rank - 1) % 10), edgecolors="black", linewidths=0.4,
                   label=f"{rank}: {row.cluster_id} ({row.crimes_12m} crimes)")
        if np.isfinite(row.easting):
            ax.annotate(str(rank), (row.easting, row.northing), xytext=(5, 5), textcoords="offset points",
                        fontsize=9, weight="bold")
    if len(clusters):
        ax.legend(loc="upper right", fontsize=7)
    _frame(ax, f"Linked clusters: crimes of the top {min(top_n, len(clusters))}")
    return _png(fig)


def trend_chart(crimes: pd.DataFrame, lists: dict[str, pd.DataFrame], period_days: int, window_days: int,
                month_counts: pd.Series | None = None) -> bytes:
    """Crimes across the window, by week (by calendar month when ``month_counts`` is given: month-level dates),
    with this period and the one before shaded, and the trend classes per list."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    if month_counts is not None:
        n = len(month_counts)
        left.bar(np.arange(n), month_counts.to_numpy(), color="#4c72b0")
        left.set_xticks(np.arange(n), month_counts.index, rotation=45, ha="right", fontsize=8)
        months_in_period = int(round(period_days / (365.25 / 12))) or 1
        left.axvspan(n - months_in_period - 0.5, n - 0.5, color="#ff7f0e", alpha=0.12, label="this period")
        left.axvspan(n - 2 * months_in_period - 0.5, n - months_in_period - 0.5, color="#1f77b4", alpha=0.08,
                     label="previous period")
        for i, value in enumerate(month_counts.to_numpy()):
            if value == 0:
                left.annotate("no data", (i, 0), ha="center", va="bottom", fontsize=7, rotation=90, color="#c44e52")
        left.set_ylabel("crimes per month")
        left.set_title("Crimes in the window, by calendar month (dates are months only)", fontsize=10)
    else:
        weeks = np.floor(crimes["days_ago"].to_numpy() / 7).astype(int)
        counts = np.bincount(weeks, minlength=int(np.ceil(window_days / 7)))
        left.bar(-np.arange(len(counts)) * 7 - 3.5, counts, width=6, color="#4c72b0")
        left.axvspan(-period_days, 0, color="#ff7f0e", alpha=0.12, label="this period")
        left.axvspan(-2 * period_days, -period_days, color="#1f77b4", alpha=0.08, label="previous period")
        left.set_xlabel("days before the as-of date")
        left.set_ylabel("crimes per week")
        left.set_title("Crimes in the window, by week", fontsize=10)
    left.legend(fontsize=7)
    names = [n for n in lists if len(lists[n])]
    bottom = np.zeros(len(names))
    for trend in TRENDS:
        values = np.array([(lists[n]["trend"] == trend).sum() for n in names], float)
        right.bar(names, values, bottom=bottom, color=TREND_COLOURS[trend], label=trend)
        bottom += values
    right.set_ylabel("entries")
    right.set_title("Trend against the previous period", fontsize=10)
    right.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def components_chart(frame: pd.DataFrame, id_column: str, components: list[str], most_points: float,
                     top_n: int = 15) -> bytes:
    """Left: stacked score components of the top ``top_n`` rows of a list, with the flag uplift as the last
    segment, in points (the score is 100 x this total / ``most_points``). Right: the harm and crimes in the window,
    uncapped, which order rows whose points reach the same caps."""
    top = frame.head(top_n).iloc[::-1]
    labels = ("#" + top["rank"].astype(str) + " " + top[id_column].map(lambda v: _short(v, 45))).to_numpy()
    fig, (ax, facts) = plt.subplots(1, 2, figsize=(12, 0.32 * max(len(top), 3) + 1.3), sharey=True,
                                    gridspec_kw={"width_ratios": [3, 2]})
    left = np.zeros(len(top))
    for column, colour in zip(components, ("#4c72b0", "#55a868", "#c44e52", "#8172b2")):
        ax.barh(labels, top[column], left=left, color=colour, label=column.removesuffix("_points"))
        left += top[column].to_numpy(float)
    uplift = top["score"].to_numpy(float) * most_points / 100 - left
    ax.barh(labels, uplift, left=left, color="#dddddd", hatch="//", edgecolor="#999999", label="flag uplift")
    ax.set_xlabel(f"points (score = 100 x points / {most_points:g})")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="lower right")
    facts.barh(labels, top["harm_12m"], color="#c44e52", alpha=0.6)
    for i, (harm, crimes) in enumerate(zip(top["harm_12m"], top["crimes_12m"])):
        facts.annotate(f" {crimes:,} crimes", (harm, i), va="center", fontsize=7)
    facts.set_xlabel("harm in the window (orders equal scores)")
    facts.margins(x=0.25)
    facts.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)
