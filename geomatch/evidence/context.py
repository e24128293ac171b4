"""What one pack shows: the hit, its crime and the subject's fixes around the window, with derived columns.

Every part of a pack (maps, timeline, table, statement) reads the same :class:`PackData`, so sequence numbers,
distances and speeds agree across them. Distances in metres (grid), speeds in m/s, directions in degrees
clockwise from grid north, times UTC.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from geomatch.match.config import MatchConfig
from geomatch.core.times import utc_ns
from geomatch.evidence.prism import Prism, reachable_areas
from geomatch.evidence.text import zone_names

_NS = 1_000_000_000


@dataclass(frozen=True)
class EvidenceOptions:
    """How packs are drawn.

    Attributes:
        context_s: trail shown either side of the padded window (s).
        vicinity_m: fixes in the window (and the fix just before and after it) within this distance of the scene
            (m) are the "points in the vicinity": numbered on the map and listed in the table. The fixes either
            side of the closest approach, and at both ends of a gap during the window, are always listed.
        basemap: local basemap files drawn under both maps (:mod:`geomatch.evidence.basemap`: vector files of
            roads, buildings and water; MBTiles, PMTiles and GeoTIFF rasters); one path or several, kept as a tuple
            (``None`` when there are none).
        tiles: a tile URL template (``https://.../{z}/{x}/{y}.png``); used only when given (needs contextily).
        crs: the metric CRS of the fixes' ``x``/``y`` (named on the maps and in the statement); ``None`` takes it
            from the trails given to :func:`geomatch.evidence.make_packs` (``Validated.crs``).
        dpi: resolution of the PNG exhibits.
    """

    context_s: float = 1800.0
    vicinity_m: float = 500.0
    basemap: Path | tuple[Path, ...] | None = None
    tiles: str | None = None
    crs: str | None = None
    dpi: int = 150

    def __post_init__(self) -> None:
        basemap = self.basemap
        paths = ((Path(basemap),) if isinstance(basemap, (str, Path))
                 else tuple(Path(p) for p in basemap or ()))
        object.__setattr__(self, "basemap", paths or None)


@dataclass(frozen=True)
class PackData:
    """One hit ready to draw.

    Attributes:
        hit: the hit row (``geomatch.match.matcher.HIT_COLUMNS``, plus ``score``/``reasons`` when scored).
        crime: the crime row (``geomatch.ingest.crimes`` columns).
        fixes: the subject's fixes from ``context_s`` before the window to ``context_s`` after it, in time order,
            with ``seq`` (1-based), ``distance_m``, ``speed_mps``, ``direction_deg``, ``in_window``, ``in_zone``,
            ``vicinity`` and ``gap_after`` (the interval to the next fix is a gap).
        gaps: intervals between consecutive fixes longer than ``interp_max_gap_s``: ``start``, ``end``,
            ``duration_s``, ``in_window`` (overlaps the padded window).
        interp_max_gap_s: the longest interval (s) joined by a straight path.
        prisms: for a ``possible`` hit, the reachable area of each gap that made it possible
            (:mod:`geomatch.evidence.prism`); empty for other hits.
    """

    hit: Mapping[str, Any]
    crime: Mapping[str, Any]
    fixes: pd.DataFrame
    gaps: pd.DataFrame
    interp_max_gap_s: float
    prisms: tuple[Prism, ...] = ()

    @cached_property
    def vicinity(self) -> pd.DataFrame:
        """The points in the vicinity (see :class:`EvidenceOptions`), selected on first use and kept (the maps,
        the table and the statement read them some ten times a pack)."""
        return self.fixes[self.fixes["vicinity"]]

    @cached_property
    def zones(self) -> str:
        """The UK local offsets of the fixes' times (:func:`geomatch.evidence.text.zone_names`), found once a pack
        for the timeline and ``map.html``."""
        return zone_names(self.fixes["timestamp"])

    @cached_property
    def source_rows(self) -> tuple[tuple[str, np.ndarray], ...]:
        """Each fix source (as text, in sorted order) with the rows of ``fixes`` it holds, in order: what
        ``fixes.groupby(source, sort=True)`` gives, found once a pack (the maps and the timeline each draw the
        sources in turn)."""
        codes, names = pd.factorize(self.fixes["source"].astype(str), sort=True)
        return tuple((str(name), np.flatnonzero(codes == k)) for k, name in enumerate(names))

    @cached_property
    def path_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`path_steps` of the pack, made on first use and kept (read-only arrays)."""
        fixes = self.fixes
        on_path = (fixes["quality"].astype(str).eq("ok").to_numpy() if "quality" in fixes
                   else np.ones(len(fixes), bool))
        rows = np.flatnonzero(on_path)
        gap_after = np.zeros(len(fixes), dtype=bool)
        gap_after[rows[:-1]] = np.diff(utc_ns(fixes["timestamp"])[rows]) / 1e9 > self.interp_max_gap_s
        on_path.flags.writeable = gap_after.flags.writeable = False
        return on_path, gap_after


def path_steps(data: PackData) -> tuple[np.ndarray, np.ndarray]:
    """The trail as the matcher joins it, for drawing: which fixes form the path (quality ``ok``; every fix when
    the trails carry no quality flags: fallback and outlier fixes stand alone), and for each fix on it whether the
    step to the next fix on it is a gap (longer than ``interp_max_gap_s``; False for the last). Both are boolean
    masks over ``data.fixes``, made once per pack (the static map, the page's thinning and its flags share them)."""
    return data.path_steps


def trail_slices(hits: pd.DataFrame, trails: pd.DataFrame, context_s: float) -> Iterator[pd.DataFrame]:
    """For each hit in order, the subject's fixes from ``context_s`` before the window to ``context_s`` after it,
    plus the one fix before and after that span (so a gap across its edge shows).

    ``trails`` are accepted fixes sorted by ``subject_id`` then ``timestamp`` (as :func:`load_trails` returns
    them).
    """
    subjects = trails["subject_id"].astype(str).to_numpy()
    t = utc_ns(trails["timestamp"])
    change = np.flatnonzero(subjects[1:] != subjects[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(subjects)]])
    span = {subjects[s]: (s, e) for s, e in zip(starts, ends)} if len(subjects) else {}
    pad = round(context_s * _NS)
    lo_t = utc_ns(hits["window_start"]) - pad
    hi_t = utc_ns(hits["window_end"]) + pad
    for subject, lo, hi in zip(hits["subject_id"].astype(str), lo_t, hi_t):
        start, end = span.get(subject, (0, 0))
        times = t[start:end]
        first = max(int(np.searchsorted(times, lo, side="left")) - 1, 0)
        last = min(int(np.searchsorted(times, hi, side="right")) + 1, len(times))
        yield trails.iloc[start + first: start + last]


def pack_data(hit: Mapping[str, Any], crime: Mapping[str, Any], fixes: pd.DataFrame, config: MatchConfig,
              options: EvidenceOptions) -> PackData:
    """Derive everything a pack shows from the hit, its crime and the subject's fixes around the window."""
    fixes = fixes.reset_index(drop=True)
    t = utc_ns(fixes["timestamp"])
    x = fixes["x"].to_numpy(float)
    y = fixes["y"].to_numpy(float)
    ws, we = pd.Timestamp(hit["window_start"]).value, pd.Timestamp(hit["window_end"]).value
    distance = np.hypot(x - float(crime["x"]), y - float(crime["y"]))

    dt = np.diff(t) / _NS
    dx, dy = np.diff(x), np.diff(y)
    step = np.hypot(dx, dy)
    is_segment = (dt <= config.interp_max_gap_s) & (dt > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_speed = np.where(is_segment, step / dt, np.nan)
    before = np.concatenate([[np.nan], seg_speed])
    after = np.concatenate([seg_speed, [np.nan]])
    both = np.stack([before, after])
    n_known = np.isfinite(both).sum(axis=0)
    speed = np.where(n_known > 0, np.nansum(both, axis=0) / np.maximum(n_known, 1), np.nan)

    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    moving = is_segment & (step > 0)
    leaving = np.concatenate([np.where(moving, bearing, np.nan), [np.nan]])
    arriving = np.concatenate([[np.nan], np.where(moving, bearing, np.nan)])
    direction = np.where(np.isfinite(leaving), leaving, arriving)

    in_window = (t >= ws) & (t <= we)
    radius = float(hit["radius_m"])
    last_before = np.flatnonzero(t < ws)[-1:]
    first_after = np.flatnonzero(t > we)[:1]
    window_span = in_window.copy()
    window_span[np.concatenate([last_before, first_after]).astype(int)] = True
    closest = pd.Timestamp(hit["closest_time"]).value
    around_closest = np.zeros(len(t), dtype=bool)
    around_closest[np.flatnonzero(t <= closest)[-1:]] = True
    around_closest[np.flatnonzero(t >= closest)[:1]] = True
    gap_after = np.concatenate([dt > config.interp_max_gap_s, [False]])
    gap_rows = np.flatnonzero(gap_after)
    gap_in_window = (t[gap_rows] <= we) & (t[gap_rows + 1] >= ws)
    gap_ends = np.zeros(len(t), dtype=bool)
    gap_ends[gap_rows[gap_in_window]] = True
    gap_ends[gap_rows[gap_in_window] + 1] = True
    vicinity = (window_span & (distance <= options.vicinity_m)) | around_closest | gap_ends

    out = fixes.assign(
        seq=np.arange(1, len(fixes) + 1), distance_m=distance, speed_mps=speed, direction_deg=direction,
        in_window=in_window, in_zone=in_window & (distance <= radius), vicinity=vicinity, gap_after=gap_after,
    )
    gaps = pd.DataFrame({
        "start": fixes["timestamp"].iloc[gap_rows].to_numpy(),
        "end": fixes["timestamp"].iloc[gap_rows + 1].to_numpy(),
        "duration_s": dt[gap_rows] if len(gap_rows) else np.zeros(0),
        "in_window": gap_in_window,
    })
    for column in ("start", "end"):
        gaps[column] = pd.to_datetime(gaps[column], utc=True)
    scene = (float(crime["x"]), float(crime["y"]))
    prisms = (reachable_areas(t, x, y, out["seq"].to_numpy(), fixes["timestamp"], scene, radius, (ws, we), config)
              if str(hit["presence"]) == "possible" else ())
    return PackData(dict(hit), dict(crime), out, gaps, float(config.interp_max_gap_s), prisms)
