"""Spatial hot spots: DBSCAN on crime locations in metres (British National Grid).

Crimes at the same point (to the metre) are merged into one weighted point first, so data snapped to a fixed set of
map points (police.uk) or recorded at one premises costs one point, not thousands: a point is a core point when
the crimes within ``hotspot_eps_m`` metres of it, itself included, number at least ``hotspot_min_crimes``. The
input is sorted, so the clusters are the same on every run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN

from vvol.config import VvolConfig
from vvol.repeats import Window


@dataclass(frozen=True)
class Hotspots:
    """Hot spot membership of window crimes.

    Attributes:
        label: hot spot code per window crime (-1: not in a hot spot), aligned to ``window.crimes``.
        ids: hot spot code -> ``location_id`` (``H:<easting>-<northing>`` of its centroid, to 10 m).
        centroid: (n, 2) mean easting/northing of each hot spot's crimes, metres.
        radius_m: distance from the centroid to its farthest crime, metres.
    """

    label: np.ndarray
    ids: np.ndarray
    centroid: np.ndarray
    radius_m: np.ndarray


def find_hotspots(window: Window, config: VvolConfig) -> Hotspots:
    """Cluster the window's located crimes with DBSCAN (``eps`` and ``min_samples`` from ``config``)."""
    crimes = window.crimes
    x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    located = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    label = np.full(len(crimes), -1, dtype=np.int64)
    if len(located) == 0:
        return Hotspots(label, np.array([], dtype=object), np.zeros((0, 2)), np.zeros(0))
    key = np.round(x[located]).astype(np.int64) * 2_000_000 + np.round(y[located]).astype(np.int64)
    points, inverse, weight = np.unique(key, return_inverse=True, return_counts=True)
    xy = np.column_stack([points // 2_000_000, points % 2_000_000]).astype(float)
    candidate = _may_cluster(xy, weight, config.hotspot_eps_m, config.hotspot_min_crimes)
    point_label = np.full(len(xy), -1, dtype=np.int64)
    if candidate.any():
        model = DBSCAN(eps=config.hotspot_eps_m, min_samples=config.hotspot_min_crimes, algorithm="kd_tree")
        point_label[candidate] = model.fit_predict(xy[candidate], sample_weight=weight[candidate])
    label[located] = point_label[inverse]
    n = int(point_label.max()) + 1
    members = label >= 0
    counts = np.bincount(label[members], minlength=n)
    cx = np.bincount(label[members], weights=x[members], minlength=n) / np.maximum(counts, 1)
    cy = np.bincount(label[members], weights=y[members], minlength=n) / np.maximum(counts, 1)
    distance = np.hypot(x[members] - cx[label[members]], y[members] - cy[label[members]])
    radius = np.zeros(n)
    np.maximum.at(radius, label[members], distance)
    ids = np.array([f"H:{round(a, -1):06.0f}-{round(b, -1):07.0f}" for a, b in zip(cx, cy)], dtype=object)
    ids = _unique_ids(ids)
    return Hotspots(label, ids, np.column_stack([cx, cy]), radius)


def _may_cluster(xy: np.ndarray, weight: np.ndarray, eps: float, min_crimes: int) -> np.ndarray:
    """Points that could be core or border points of DBSCAN; the rest are certainly noise and are dropped
    before DBSCAN, which gives exactly the same clusters far faster on sparse data.

    With square cells of side ``eps``, a point's ``eps`` neighbourhood lies inside its 3 x 3 block of cells, so a
    point whose block holds fewer than ``min_crimes`` crimes cannot be a core point. A border point has a core
    point within ``eps``, hence inside its block. A dropped point is therefore noise, and no core point is within
    ``eps`` of it, so dropping it changes no other point's core status either.
    """
    cell = np.floor(xy / eps).astype(np.int64)
    span = 1 << 21  # cells per axis in the key (British National Grid at eps >= 1 m fits easily)
    key = (cell[:, 0] + 1) * span + (cell[:, 1] + 1)
    cells, cell_of = np.unique(key, return_inverse=True)
    cell_weight = np.bincount(cell_of, weights=weight)
    neighbours = []  # (cell index, index of its neighbour cell at one offset) for every occupied neighbour
    for offset in (dx * span + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
        at = np.minimum(np.searchsorted(cells, cells + offset), len(cells) - 1)
        found = np.flatnonzero(cells[at] == cells + offset)
        neighbours.append((found, at[found]))
    block = np.zeros(len(cells))
    for own, other in neighbours:
        block[own] += cell_weight[other]
    core_cell = block >= min_crimes
    near_core = np.zeros(len(cells), bool)
    for own, other in neighbours:
        near_core[own] |= core_cell[other]
    return near_core[cell_of]


def _unique_ids(ids: np.ndarray) -> np.ndarray:
    """Add ``.2``, ``.3`` ... to repeated ids (two hot spots with centroids in the same 10 m square)."""
    seen: dict[str, int] = {}
    out = ids.copy()
    for i, value in enumerate(ids):
        seen[value] = seen.get(value, 0) + 1
        if seen[value] > 1:
            out[i] = f"{value}.{seen[value]}"
    return out
