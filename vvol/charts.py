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


def _frame(ax, title: str) -> None:
    ax.set_aspect("equal")
    ax.set_xlabel("easting (m, EPSG:27700)")
    ax.set_ylabel("northing (m, EPSG:27700)")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10)
    _scale_bar(ax)


def locations_map(crimes: pd.DataFrame, locations: pd.DataFrame, top_n: int = 10, zoom_m: float = 600.0) -> bytes:
    """Left: hot spots (circles, area by crimes) and repeat premises (triangles), coloured by score, the top
    ``top_n`` numbered by rank. Right: the crimes within ``zoom_m`` metres of the top-ranked hot spot (of the
    top-ranked location when there is no hot spot)."""
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(13, 6.2), gridspec_kw={"width_ratios": [3, 2]})
    _background(ax, crimes)
    vmax = max(float(locations["score"].max()) if len(locations) else 1.0, 1.0)
    _locations(ax, locations.head(MAP_MAX_LOCATIONS), vmax, size=1.0)
    _limits(ax, crimes)
    for rank, row in enumerate(locations.head(top_n).itertuples(), start=1):
        if np.isfinite(row.easting):
            ax.annotate(str(rank), (row.easting, row.northing), xytext=(4, 4), textcoords="offset points",
                        fontsize=8, weight="bold")
    ax.legend(loc="upper right", fontsize=7)
    shown = min(len(locations), MAP_MAX_LOCATIONS)
    _frame(ax, f"Top {shown} of {len(locations)} repeat locations; top {top_n} numbered by rank")
    located = locations[np.isfinite(locations["easting"])]
    if len(located):
        hot = located[located["kind"] == "hotspot"]
        top = (hot if len(hot) else located).iloc[0]
        rank = int(np.flatnonzero(locations["location_id"].to_numpy() == top["location_id"])[0]) + 1
        cx, cy = float(top["easting"]), float(top["northing"])
        x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
        near = (np.abs(x - cx) <= zoom_m) & (np.abs(y - cy) <= zoom_m)
        zoom.scatter(x[near], y[near], s=10, c="#888888", linewidths=0, label="crimes in the window")
        nearby = located[(np.abs(located["easting"] - cx) <= zoom_m) & (np.abs(located["northing"] - cy) <= zoom_m)]
        _locations(zoom, nearby, vmax, size=0.5)
        if top["kind"] == "hotspot":
            zoom.add_patch(plt.Circle((cx, cy), float(top["radius_m"]), fill=False, ls="--", color="#d62728"))
        zoom.set_xlim(cx - zoom_m, cx + zoom_m)
        zoom.set_ylim(cy - zoom_m, cy + zoom_m)
        zoom.legend(loc="upper right", fontsize=7)
        _frame(zoom, f"Around #{rank} {top['location_id']} ({zoom_m:g} m each way)")
    else:
        zoom.set_axis_off()
    fig.tight_layout()
    return _png(fig)


def _locations(ax, locations: pd.DataFrame, vmax: float, size: float) -> None:
    hot = locations[locations["kind"] == "hotspot"]
    prem = locations[locations["kind"] == "premises"]
    if len(prem):
        ax.scatter(prem["easting"], prem["northing"], s=size * (12 + 4 * prem["crimes_12m"].clip(upper=40)),
                   marker="^", c=prem["score"], cmap="viridis", vmin=0, vmax=vmax, edgecolors="black",
                   linewidths=0.3, label="repeat premises")
    if len(hot):
        ax.scatter(hot["easting"], hot["northing"], s=size * (20 + 6 * hot["crimes_12m"].clip(upper=80)),
                   c=hot["score"], cmap="viridis", vmin=0, vmax=vmax, edgecolors="black", linewidths=0.6,
                   alpha=0.8, label="hot spots (DBSCAN centroid)")


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


def trend_chart(crimes: pd.DataFrame, lists: dict[str, pd.DataFrame], period_days: int, window_days: int) -> bytes:
    """Weekly crimes across the window (this period and the one before shaded) and trend classes per list."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    weeks = np.floor(crimes["days_ago"].to_numpy() / 7).astype(int)
    counts = np.bincount(weeks, minlength=int(np.ceil(window_days / 7)))
    left.bar(-np.arange(len(counts)) * 7 - 3.5, counts, width=6, color="#4c72b0")
    left.axvspan(-period_days, 0, color="#ff7f0e", alpha=0.12, label="this period")
    left.axvspan(-2 * period_days, -period_days, color="#1f77b4", alpha=0.08, label="previous period")
    left.set_xlabel("days before the as-of date")
    left.set_ylabel("crimes per week")
    left.set_title("Crimes in the window, by week", fontsize=10)
    left.legend(fontsize=7)
    names = list(lists)
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
    """Stacked score components of the top ``top_n`` rows of a list, with the flag uplift as the last segment,
    in points (the score is 100 x this total / ``most_points``)."""
    top = frame.head(top_n).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(top), 3) + 1.2))
    left = np.zeros(len(top))
    for column, colour in zip(components, ("#4c72b0", "#55a868", "#c44e52", "#8172b2")):
        ax.barh(top[id_column].astype(str), top[column], left=left, color=colour,
                label=column.removesuffix("_points"))
        left += top[column].to_numpy(float)
    uplift = top["score"].to_numpy(float) * most_points / 100 - left
    ax.barh(top[id_column].astype(str), uplift, left=left, color="#dddddd", hatch="//", edgecolor="#999999",
            label="flag uplift")
    ax.set_xlabel(f"points (score = 100 x points / {most_points:g})")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)
