"""The reachable area of a ``possible`` hit: the space-time prism of a gap in the trail.

A gap runs from fix A (time ``t0``) to fix B (``t1``). Moving at no more than the plausible speed ``v``, the
subject can have been at a point P during the gap only if ``|AP| + |PB| <= v (t1 - t0)``: the points of an
ellipse with A and B as its foci and ``v (t1 - t0)`` as its major axis. The speed and the test for the zone are
the matcher's (:mod:`geomatch.match._kernels`, ``_gap_possible``): ``v`` is the faster of the subject's own
speeds on the segments just before and after the gap, at least ``walk_speed_mps`` and at most
``max_speed_mps``; with ``d0``, ``d1`` the distances of A and B beyond the zone, the subject could be in the zone
during ``[t0 + d0/v, t1 - d1/v]``, which must be non-empty and meet the window. Metres in the grid of the fixes,
times UTC.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.match.config import MatchConfig

_NS = 1_000_000_000
REACHABLE_NAME = "reachable.geojson"
"""The pack file holding the reachable areas (:func:`write_prisms`)."""
SPEED_SOURCES = ("the subject's own speed just before or after the gap", "a brisk walk, the lowest speed used",
                 "the highest speed used, the subject having moved faster")


@dataclass(frozen=True)
class Prism:
    """The reachable area during one gap (an ellipse in the metric grid of the fixes).

    Attributes:
        start, end: UTC times of the gap's end fixes A and B.
        start_seq, end_seq: their sequence numbers in the pack.
        x0, y0, x1, y1: positions of A and B (m).
        speed_mps: the plausible speed through the gap (m/s).
        speed_source: which of :data:`SPEED_SOURCES` set it.
        zone_from, zone_to: UTC times between which the zone could have been reached and left again.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    start_seq: int
    end_seq: int
    x0: float
    y0: float
    x1: float
    y1: float
    speed_mps: float
    speed_source: str
    zone_from: pd.Timestamp
    zone_to: pd.Timestamp

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def semi_major_m(self) -> float:
        """Half the largest distance travelled in the gap (m): ``v (t1 - t0) / 2``."""
        return self.speed_mps * self.duration_s / 2.0

    @property
    def semi_minor_m(self) -> float:
        """``sqrt(a^2 - c^2)`` with ``c`` half the distance between A and B (m)."""
        c = math.hypot(self.x1 - self.x0, self.y1 - self.y0) / 2.0
        return math.sqrt(max(self.semi_major_m ** 2 - c ** 2, 0.0))

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0

    @property
    def angle_deg(self) -> float:
        """Direction of the major axis, degrees anticlockwise from grid east."""
        return math.degrees(math.atan2(self.y1 - self.y0, self.x1 - self.x0))

    @property
    def area_m2(self) -> float:
        return math.pi * self.semi_major_m * self.semi_minor_m

    def outline(self, points: int = 96) -> np.ndarray:
        """The ellipse as a closed ring of ``points + 1`` grid coordinates, shape ``(points + 1, 2)``."""
        u = np.linspace(0.0, 2.0 * np.pi, points + 1)
        a, b, angle = self.semi_major_m, self.semi_minor_m, math.radians(self.angle_deg)
        ex, ey = a * np.cos(u), b * np.sin(u)
        cx, cy = self.centre
        ring = np.column_stack([cx + ex * math.cos(angle) - ey * math.sin(angle),
                                cy + ex * math.sin(angle) + ey * math.cos(angle)])
        ring[-1] = ring[0]
        return ring

    def contains(self, x: float, y: float) -> bool:
        """Whether the point could be reached during the gap (on or inside the ellipse)."""
        reach = math.hypot(x - self.x0, y - self.y0) + math.hypot(x - self.x1, y - self.y1)
        return reach <= 2.0 * self.semi_major_m * (1 + 1e-9)


def _segment_speed(t: np.ndarray, x: np.ndarray, y: np.ndarray, a: int, interp_ns: int) -> float:
    """Speed (m/s) on the step from fix ``a`` to ``a + 1`` if it is a segment, else 0 (as the matcher)."""
    if a < 0 or a + 1 >= len(t):
        return 0.0
    dt = int(t[a + 1] - t[a])
    return math.hypot(x[a + 1] - x[a], y[a + 1] - y[a]) / (dt / _NS) if 0 < dt <= interp_ns else 0.0


def reachable_areas(t: np.ndarray, x: np.ndarray, y: np.ndarray, seq: np.ndarray, times: pd.Series,
                    scene: tuple[float, float], radius_m: float, window: tuple[int, int],
                    config: MatchConfig) -> tuple[Prism, ...]:
    """The prisms of the gaps (a subject's fixes in time order: ``t`` UTC ns, ``x``/``y`` m) that overlap the
    window (``(start, end)`` ns) and from which the zone (``radius_m`` around ``scene``) could be reached and
    left again at the plausible speed: the gaps that make a hit ``possible``."""
    interp_ns = round(config.interp_max_gap_s * _NS)
    possible_ns = round(config.possible_max_gap_s * _NS)
    ws, we = window
    cx, cy = scene
    prisms = []
    for i in np.flatnonzero(np.diff(t) > interp_ns):
        dt = int(t[i + 1] - t[i])
        if dt > possible_ns or t[i] > we or t[i + 1] < ws:
            continue
        own = max(_segment_speed(t, x, y, i - 1, interp_ns), _segment_speed(t, x, y, i + 1, interp_ns))
        speed = min(max(config.walk_speed_mps, own), config.max_speed_mps)
        source = SPEED_SOURCES[0 if own >= config.walk_speed_mps and own <= config.max_speed_mps
                               else 1 if own < config.walk_speed_mps else 2]
        arrive = max(math.hypot(x[i] - cx, y[i] - cy) - radius_m, 0.0) / speed * _NS
        depart = dt - max(math.hypot(x[i + 1] - cx, y[i + 1] - cy) - radius_m, 0.0) / speed * _NS
        if not (arrive <= depart and arrive <= we - t[i] and depart >= ws - t[i]):
            continue
        prisms.append(Prism(
            start=times.iloc[i], end=times.iloc[i + 1], start_seq=int(seq[i]), end_seq=int(seq[i + 1]),
            x0=float(x[i]), y0=float(y[i]), x1=float(x[i + 1]), y1=float(y[i + 1]), speed_mps=float(speed),
            speed_source=source, zone_from=pd.Timestamp(int(t[i] + arrive), tz="UTC"),
            zone_to=pd.Timestamp(int(t[i] + depart), tz="UTC")))
    return tuple(prisms)


def prisms_geojson(prisms: tuple[Prism, ...], crs: str | None) -> dict:
    """The prisms as a GeoJSON FeatureCollection of polygons in the grid of the fixes (``crs`` named in each
    feature's properties and a top-level ``crs`` member, as GeoJSON 2008 did; coordinates in metres)."""
    features = [{
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [np.round(p.outline(), 2).tolist()]},
        "properties": {
            "kind": "reachable area during a gap",
            "gap_start_utc": p.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gap_end_utc": p.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "from_sequence": p.start_seq, "to_sequence": p.end_seq,
            "duration_s": round(p.duration_s, 1), "speed_mps": round(p.speed_mps, 3),
            "speed_source": p.speed_source, "semi_major_m": round(p.semi_major_m, 1),
            "semi_minor_m": round(p.semi_minor_m, 1),
            "zone_reachable_from_utc": p.zone_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "zone_reachable_to_utc": p.zone_to.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "crs": crs,
        },
    } for p in prisms]
    collection: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    return collection


def write_prisms(prisms: tuple[Prism, ...], crs: str | None, path: Path) -> Path:
    """Write :func:`prisms_geojson` (sorted keys, so the bytes are stable)."""
    path.write_text(json.dumps(prisms_geojson(prisms, crs), sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return path
