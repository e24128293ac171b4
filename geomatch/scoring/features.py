"""Features of each hit, each with a plain meaning: what the subject did in the window, and whether the place is
part of their routine. :data:`FEATURES` lists the columns this module adds to a hits table."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from geomatch.match.config import MatchConfig
from geomatch.core.arrays import category_codes
from geomatch.core.cores import available_cores
from geomatch.scoring._kernels import in_order, local_day_hour, zone_kernel
from geomatch.scoring.config import ScoreConfig
from geomatch.scoring.routine import (DAY_NS, NS, Scenes, SubjectTrail, days_passing, days_with_stays, find_stays,
                                      home_positions, routine_days, still_fixes, still_reach)
from geomatch.core.times import UK_TZ, utc_ns

#: The feature columns added to a hits table, with their plain meaning.
FEATURES: dict[str, str] = {
    "approach_ratio": "closest approach divided by the accuracy radius of the fix there (1 or less: the scene "
                      "lies within the fix's error)",
    "stop_s": "longest stop inside the zone during the window (s): from the first to the last of consecutive "
              "still fixes in the zone (a fix is still when the trail moved little, net, over 2 min after or "
              "before it; up to 2 min of stray or moving fixes does not end a stop)",
    "speed_near_mps": "median speed where the trail is in the zone (m/s): net displacement over about a minute "
                      "around each fix in the zone, divided by its time; the speed at the closest point when no "
                      "fix lies in the zone",
    "stop_offset_m": "distance from the scene to the centre (median position) of the still fixes of that longest "
                     "stop (m); empty with fewer than 3 fixes",
    "window_s": "length of the hit's time window, padding included (s)",
    "home_distance_m": "distance from the scene to the subject's home, where their nights are spent (m); empty "
                       "when no home was found",
    "home_nights": "nights spent at that home in the routine period",
    "days_passing": "other days in the routine period on which the trail passes through the zone",
    "days_stopped": "other days in the routine period with a stay point (a stop of 5 min or more) in the zone",
    "routine_days": "days of trail in the routine period (the crime window's own days excluded)",
}
FEATURE_DTYPES = {"approach_ratio": float, "stop_s": float, "speed_near_mps": float, "stop_offset_m": float,
                  "window_s": float, "home_distance_m": float, "home_nights": np.int64, "days_passing": np.int64,
                  "days_stopped": np.int64, "routine_days": np.int64}
MIN_OFFSET_FIXES = 3


def hit_features(hits: pd.DataFrame, trails: pd.DataFrame, config: ScoreConfig | None = None,
                 match_config: MatchConfig | None = None, *, progress: bool = False,
                 threads: int | None = None) -> pd.DataFrame:
    """The :data:`FEATURES` of every hit, in the hits' row order. Subjects are measured independently, on
    ``threads`` threads (None: one per available core); the result does not depend on their number.

    Args:
        hits: hits from :func:`geomatch.match.matcher.match_hits` with the scene of their crime in ``scene_x``/``scene_y``
            (see :func:`geomatch.scoring.with_scenes`).
        trails: the accepted fixes they were matched on (sorted by subject and time, ``x``/``y`` in metres in the
            hits' CRS).
        config: routine-place parameters.
        match_config: gives the longest step between fixes that is joined by a straight path.
        progress: show a progress bar over subjects (stderr).
        threads: threads measuring subjects at once (None: :func:`geomatch.core.cores.available_cores`).
    """
    config = config or ScoreConfig()
    interp_max_gap_s = (match_config or MatchConfig()).interp_max_gap_s
    out = pd.DataFrame({name: pd.Series(np.zeros(len(hits)), dtype=dtype, index=hits.index)
                        for name, dtype in FEATURE_DTYPES.items()})
    if hits.empty:
        return out
    accuracy = hits["accuracy_at_closest_m"].fillna(config.default_accuracy_m).clip(lower=1.0)
    out["approach_ratio"] = (hits["min_distance_m"] / accuracy).to_numpy()
    out["window_s"] = ((utc_ns(hits["window_end"]) - utc_ns(hits["window_start"])) / NS).astype(float)

    code, names = pd.factorize(hits["subject_id"].astype(str), sort=True)  # hashing, not sorting, the hits' ids
    fixes = subject_fixes(trails, good_fixes(trails), np.asarray(names), config.default_accuracy_m)
    scenes = _scenes(hits, config)
    closest_speed = hits["speed_at_closest_mps"].to_numpy(float)
    values = {name: np.zeros(len(hits), dtype=dtype) for name, dtype in FEATURE_DTYPES.items()
              if name not in ("approach_ratio", "window_s")}
    order = np.argsort(code, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(code, minlength=len(names)))[:-1])
    with ThreadPoolExecutor(threads or available_cores()) as pool:  # the kernels release the GIL
        tasks = [pool.submit(_measure_subject, fixes, name, scenes, rows, closest_speed, config, interp_max_gap_s)
                 for name, rows in zip(names, groups)]
        for rows, task in tqdm(zip(groups, tasks), total=len(names), desc="routine places", unit="subject",
                               disable=None if progress else True, leave=False):
            for key, column in task.result().items():
                values[key][rows] = column
    for key, column in values.items():
        out[key] = column
    return out


def good_fixes(trails: pd.DataFrame) -> np.ndarray | None:
    """Which fixes scoring measures: those the trail-quality stage marked ``ok`` (None, meaning all of them, when
    the trails carry no ``quality`` column). Fallback fixes and outliers say where the subject was too vaguely
    to tell a stop from a pass."""
    if "quality" not in trails.columns:
        return None
    return (trails["quality"] == "ok").to_numpy()


@dataclass(frozen=True)
class SubjectFixes:
    """Where each subject's fixes lie in the trails, so that one subject's :class:`SubjectTrail` is built when it
    is measured (a copy of one subject's fixes at a time, not of the whole table: a week of 1 s fixes holds 18 M).

    ``t`` (UTC int64 ns), ``x``/``y`` (m) and ``accuracy`` (m, NaN where a fix gives none) are the trails' columns
    (views where pandas allows); ``order`` puts them in subject-then-time order (None: they already are);
    ``keep`` marks the fixes scoring measures (None: all); ``spans`` gives each subject's rows in that order."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    accuracy: np.ndarray
    order: np.ndarray | None
    keep: np.ndarray | None
    spans: dict[str, tuple[int, int]]
    default_accuracy_m: float
    uk_offsets: tuple[np.ndarray, int]

    def trail(self, name: str) -> SubjectTrail | None:
        """The kept fixes of subject ``name`` in time order, with UK local days and hours (None: no fix kept)."""
        span = self.spans.get(name)
        if span is None:
            return None
        a, b = span
        if self.order is None:  # slices are views; a boolean mask then copies only the kept fixes
            kept = None if self.keep is None or self.keep[a:b].all() else self.keep[a:b]
            t, x, y, accuracy = (v[a:b] if kept is None else v[a:b][kept]
                                 for v in (self.t, self.x, self.y, self.accuracy))
        else:
            rows = self.order[a:b]
            if self.keep is not None:
                rows = rows[self.keep[rows]]
            t, x, y, accuracy = (v[rows] for v in (self.t, self.x, self.y, self.accuracy))
        if len(t) == 0:
            return None
        if np.isnan(accuracy).any():
            accuracy = np.where(np.isnan(accuracy), float(self.default_accuracy_m), accuracy)
        day, hour = local_day_hour(t, *self.uk_offsets)
        return SubjectTrail(t, x, y, day, hour, accuracy)


def subject_fixes(trails: pd.DataFrame, good: np.ndarray | None, subjects: np.ndarray,
                  default_accuracy_m: float) -> SubjectFixes:
    """The ``good`` fixes (None: all) of ``subjects``, as a :class:`SubjectFixes` that builds one subject's
    arrays at a time; only the columns scoring reads are taken."""
    subject = trails["subject_id"].astype("category")
    names = np.asarray(subject.cat.categories.astype(str))
    codes = category_codes(subject)
    t = utc_ns(trails["timestamp"])
    accuracy = trails["accuracy_m"].to_numpy(dtype=float) if "accuracy_m" in trails.columns \
        else np.full(len(t), np.nan)
    order = None if in_order(codes, t) else np.lexsort((t, codes))
    sorted_codes = codes if order is None else codes[order]
    every = np.arange(len(names), dtype=sorted_codes.dtype)  # each subject's rows, by bisecting the sorted codes
    first, last = np.searchsorted(sorted_codes, every, "left"), np.searchsorted(sorted_codes, every, "right")
    wanted = set(np.asarray(subjects, dtype=str).tolist())
    spans = {str(name): (int(a), int(b)) for name, a, b in zip(names, first, last) if b > a and str(name) in wanted}
    offsets = _uk_offsets(t) if len(t) else (np.zeros(1, dtype=np.int64), 0)
    return SubjectFixes(t, trails["x"].to_numpy(dtype=float), trails["y"].to_numpy(dtype=float), accuracy, order,
                        good, spans, default_accuracy_m, offsets)


def _uk_offsets(t: np.ndarray) -> tuple[np.ndarray, int]:
    """The UK offset from UTC (ns) of every UTC hour from the one of ``t.min()`` to the one of ``t.max()``, and
    the number of that first hour. UK clocks change on the hour (01:00 UTC), so a table per hour is exact."""
    hour = 3600 * NS
    first, last = int(t.min()) // hour, int(t.max()) // hour
    hours = pd.DatetimeIndex(np.arange(first, last + 1, dtype=np.int64) * hour, tz="UTC")
    return hours.tz_convert(UK_TZ).tz_localize(None).asi8 - hours.asi8, first


def uk_local_ns(t: np.ndarray) -> np.ndarray:
    """UK wall-clock time of UTC instants ``t`` (int64 ns), as int64 ns since 1970-01-01 of that wall clock."""
    if len(t) == 0:
        return t.copy()
    offset, first = _uk_offsets(t)
    return t + offset[t // (3600 * NS) - first]


def _scenes(hits: pd.DataFrame, config: ScoreConfig) -> Scenes:
    ws, we = utc_ns(hits["window_start"]), utc_ns(hits["window_end"])
    return Scenes(cx=hits["scene_x"].to_numpy(float), cy=hits["scene_y"].to_numpy(float),
                  r=hits["radius_m"].to_numpy(float), ws=ws, we=we, dws=uk_local_ns(ws) // DAY_NS,
                  dwe=uk_local_ns(we) // DAY_NS, lookback=int(config.lookback_days),
                  lookahead=int(config.lookahead_days))


def _measure_subject(fixes: SubjectFixes, name: str, scenes: Scenes, rows: np.ndarray, closest_speed: np.ndarray,
                     config: ScoreConfig, interp_max_gap_s: float) -> dict[str, np.ndarray]:
    """:func:`_subject_features` of subject ``name``'s hits ``rows`` (of all hits' ``scenes`` and
    ``closest_speed``), its trail and scenes taken here (in the worker thread) and let go after."""
    return _subject_features(fixes.trail(name), scenes.take(rows), closest_speed[rows], config, interp_max_gap_s)


def _subject_features(trail: SubjectTrail | None, scenes: Scenes, closest_speed: np.ndarray, config: ScoreConfig,
                      interp_max_gap_s: float) -> dict[str, np.ndarray]:
    """The trail-based features of one subject's hits (``closest_speed``: the matcher's speed at the closest
    point of each, m/s)."""
    m = len(scenes.cx)
    if trail is None or len(trail.t) == 0:
        nan, zero = np.full(m, np.nan), np.zeros(m, dtype=np.int64)
        return {"stop_s": np.zeros(m), "speed_near_mps": closest_speed, "stop_offset_m": nan,
                "home_distance_m": nan, "home_nights": zero, "days_passing": zero, "days_stopped": zero,
                "routine_days": zero}
    reach = still_reach(trail, config)  # one pass over the fixes for both reaches below
    stop_s, offset_m, speed = _in_zone(trail, scenes, still_fixes(trail, config, interp_max_gap_s, reach),
                                       interp_max_gap_s, config)
    home_x, home_y, nights = home_positions(trail, scenes, config)
    return {
        "stop_s": stop_s,
        "speed_near_mps": np.where(np.isnan(speed), closest_speed, speed),
        "stop_offset_m": offset_m,
        "home_distance_m": np.hypot(home_x - scenes.cx, home_y - scenes.cy),
        "home_nights": np.where(np.isnan(home_x), 0, nights),
        "days_passing": days_passing(trail, scenes, interp_max_gap_s),
        "days_stopped": days_with_stays(find_stays(trail, config, still_fixes(trail, config, config.stay_max_gap_s,
                                                                              reach)), scenes),
        "routine_days": routine_days(trail, scenes),
    }


def _in_zone(trail: SubjectTrail, scenes: Scenes, still: np.ndarray, interp_max_gap_s: float,
             config: ScoreConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hit: the longest stop in the zone during the window (s), the distance from the scene to the median
    position of that stop's still fixes (m, NaN with fewer than :data:`MIN_OFFSET_FIXES`), and the median speed
    at the fixes in the zone (m/s, NaN when none).

    A stop is a run of ``still`` fixes (:func:`~geomatch.scoring.routine.still_fixes` for a reach of
    ``interp_max_gap_s``) in the zone and the window (the rule of :func:`~geomatch.scoring.routine.runs`: no gap
    longer than ``interp_max_gap_s``, at most ``stop_bridge_s`` of other fixes between two of them). The speed at
    a fix is the net displacement from the last fix at least half of ``speed_span_s`` before it to the first fix
    that long after it, divided by the time between them (when that is at most ``speed_span_s +
    interp_max_gap_s``).
    """
    t = trail.t
    half, gap = round(config.speed_span_s / 2.0 * NS), round(interp_max_gap_s * NS)
    lo = np.searchsorted(t, scenes.ws, side="left")
    hi = np.searchsorted(t, scenes.we, side="right")
    return zone_kernel(t, trail.x, trail.y, still, *trail.boxes, half, 2 * half + gap, lo, hi, scenes.cx, scenes.cy,
                       scenes.r, gap, config.stop_bridge_s * NS, MIN_OFFSET_FIXES)
