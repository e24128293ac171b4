"""Routine places from a subject's own trail: stay points, home, and how often the trail passes a point.

Definitions (metres in the trail's metric CRS, UK local calendar days and hours):

* A fix is *still* when the trail moved little, net, over a fixed span of time after it or before it (see
  :func:`still_fixes`); this does not depend on how often the tag samples, whereas speeds between consecutive
  fixes do (GPS wander of a few metres between fixes a second apart reads as walking pace). A *stay point* is a
  run of still fixes (see :func:`runs`: a moving stretch of at most ``stop_bridge_s`` does not end it, a gap of
  more than ``stay_max_gap_s`` does) lasting at least ``stay_min_s``; its place is the mean position of its still
  fixes and it counts for the UK day it began and the day it ended.
* *Home* is where nights are spent: the median, over nights, of each night's median position between
  ``night_start_h`` and ``night_end_h`` local time, when at least ``min_home_nights`` nights lie within
  ``home_radius_m`` of it.
* A *pass* near a point is any fix, or any point on the straight path between two fixes at most
  ``interp_max_gap_s`` apart, within a given distance of it (exact point-to-segment distances).

Routine is learnt per hit over whole UK days: the ``lookback_days`` days before the first day the crime window
touches and the ``lookahead_days`` days after the last; the window's own days are left out, so the crime
itself never makes its scene look routine.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geomatch.core.arrays import read_only
from geomatch.scoring._kernels import (box_pyramid, home_kernel, night_medians, passing_kernel, run_starts,
                                       stay_days_kernel, still_kernel)
from geomatch.scoring.config import ScoreConfig

NS = 1_000_000_000
DAY_NS = 86_400 * NS


@dataclass(frozen=True)
class SubjectTrail:
    """One subject's fixes in time order: UTC ``t`` (int64 ns), ``x``/``y`` (m), UK local ``day`` (day number
    since 1970-01-01), ``hour`` (0-23) and ``accuracy`` (m, the 68 % radius; the default where a fix gives none)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    accuracy: np.ndarray

    def __post_init__(self) -> None:
        for name in ("t", "x", "y", "day", "hour", "accuracy"):  # views or copies alike: one type for the kernels
            object.__setattr__(self, name, read_only(getattr(self, name)))

    @cached_property
    def day_start(self) -> np.ndarray:
        """Where each UK day's fixes start, then the number of fixes (UK days never go back in time order)."""
        return np.append(np.flatnonzero(np.r_[True, self.day[1:] != self.day[:-1]]), len(self.t)) \
            if len(self.t) else np.zeros(1, dtype=np.int64)

    @cached_property
    def days(self) -> np.ndarray:
        """The UK days with fixes, in order."""
        return self.day[self.day_start[:-1]]

    @cached_property
    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """The bounding boxes of blocks of fixes (:func:`geomatch.scoring._kernels.box_pyramid`), shared by every
        walk that skips fixes far from a scene."""
        return box_pyramid(self.x, self.y)


@dataclass(frozen=True)
class Stays:
    """Stay points of one subject: mean position (m), first and last fix time (ns) and their UK days."""

    x: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    day0: np.ndarray
    day1: np.ndarray


@dataclass(frozen=True)
class Scenes:
    """The hits of one subject as queries: scene ``cx``/``cy`` (m), zone radius ``r`` (m), window ``ws``/``we``
    (UTC ns), the window's first and last UK day ``dws``/``dwe``, and how many days before and after them the
    routine period reaches (``lookback``, ``lookahead``)."""

    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray
    ws: np.ndarray
    we: np.ndarray
    dws: np.ndarray
    dwe: np.ndarray
    lookback: int
    lookahead: int

    def take(self, rows: np.ndarray) -> "Scenes":
        """The scenes of ``rows`` only."""
        return Scenes(self.cx[rows], self.cy[rows], self.r[rows], self.ws[rows], self.we[rows], self.dws[rows],
                      self.dwe[rows], self.lookback, self.lookahead)

    def routine(self, days: np.ndarray) -> np.ndarray:
        """(hits x days) whether each UK day belongs to each hit's routine period: one of the ``lookback`` days
        before the window's first day or the ``lookahead`` days after its last."""
        day = np.asarray(days)[None, :]
        first, last = self.dws[:, None], self.dwe[:, None]
        return ((day < first) & (day >= first - self.lookback)) | ((day > last) & (day <= last + self.lookahead))


def still_reach(trail: SubjectTrail, config: ScoreConfig) -> np.ndarray:
    """Per fix, the time (ns) to the nearer of the first fix at least ``still_span_s`` after it and the last fix
    at least that long before it that lies within ``max(stay_radius_m, still_accuracy_factor * hypot(accuracy
    of both))`` of it, never more than ``still_max_m`` (the int64 maximum when neither does): see
    :func:`still_fixes`, for which one pass serves every reach."""
    return still_kernel(trail.t, trail.x, trail.y, trail.accuracy, round(config.still_span_s * NS),
                        config.stay_radius_m, config.still_accuracy_factor, config.still_max_m)


def still_fixes(trail: SubjectTrail, config: ScoreConfig, reach_s: float,
                reach: np.ndarray | None = None) -> np.ndarray:
    """Whether each fix is still: the first fix at least ``still_span_s`` after it, or the last fix at least that
    long before it, lies within ``max(stay_radius_m, still_accuracy_factor * hypot(accuracy of both))`` of it,
    never more than ``still_max_m``, and at most ``still_span_s + reach_s`` seconds away (beyond that the trail
    says nothing about the time between). Either side will do, so the first and last fixes of a stay are still
    too (arriving, the span after is spent there; leaving, the span before). ``reach``: :func:`still_reach` of
    the trail, when already at hand."""
    reach = still_reach(trail, config) if reach is None else reach
    return reach <= round(config.still_span_s * NS) + round(reach_s * NS)


def runs(t: np.ndarray, index: np.ndarray, max_gap_s: float, bridge_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Runs of the qualifying fixes ``index`` (increasing positions in the time-ordered ``t``): the first and last
    position in ``index`` of each run.

    Two qualifying fixes in a row are in one run unless the trail between them has a step longer than
    ``max_gap_s`` (a gap), or the fixes between them that do not qualify cover more than ``bridge_s`` seconds. A
    fix's time is half the step before it and half the step after it, so that stretch is the time between the
    two qualifying fixes less half a step at either end: one stray fix at 120 s sampling covers as long as 120
    fixes at 1 s, and the rule means the same at every rate.
    """
    first = np.flatnonzero(run_starts(t, index, round(max_gap_s * NS), bridge_s * NS))
    last = np.append(first[1:], len(index)) - 1
    return first, last


def find_stays(trail: SubjectTrail, config: ScoreConfig, still: np.ndarray | None = None) -> Stays:
    """Stay points of one subject (see the module docstring); ``still``: its :func:`still_fixes` for a reach of
    ``stay_max_gap_s``, when already at hand."""
    if len(trail.t) < 2:
        return _no_stays()
    still = still_fixes(trail, config, config.stay_max_gap_s) if still is None else still
    index = np.flatnonzero(still)
    first, last = runs(trail.t, index, config.stay_max_gap_s, config.stop_bridge_s)
    if len(first) == 0:
        return _no_stays()
    t0, t1 = trail.t[index[first]], trail.t[index[last]]
    keep = t1 - t0 >= round(config.stay_min_s * NS)
    size = (last - first + 1).astype(float)
    mean_x = np.add.reduceat(trail.x[index], first) / size
    mean_y = np.add.reduceat(trail.y[index], first) / size
    return Stays(mean_x[keep], mean_y[keep], t0[keep], t1[keep], trail.day[index[first]][keep],
                 trail.day[index[last]][keep])


def _no_stays() -> Stays:
    """No stay points, typed as found ones are (days int32, as :func:`geomatch.scoring._kernels.local_day_hour`
    gives them), so that the kernels they go to see one signature, the one the warm-up compiles."""
    none, never, no_day = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return Stays(none, none, never, never, no_day, no_day)


def home_positions(trail: SubjectTrail, scenes: Scenes, config: ScoreConfig) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Each hit's home (x, y in m, NaN when none) and the number of nights spent within ``home_radius_m`` of it.

    Nights are UK local days' fixes between ``night_start_h`` and ``night_end_h``; only nights in the hit's
    routine period count.
    """
    m = len(scenes.cx)
    days, night_x, night_y = night_medians(trail.day, trail.hour, trail.x, trail.y, config.night_start_h,
                                           config.night_end_h)
    if len(days) == 0:
        nan = np.full(m, np.nan)
        return nan, nan, np.zeros(m, dtype=np.int64)
    # hits with the same window days share a routine period
    periods, period_of_hit = np.unique(scenes.dws.astype(np.int64) << 32 | scenes.dwe, return_inverse=True)
    home_x, home_y, nights = home_kernel(night_x, night_y, days, periods >> 32, periods & 0xFFFFFFFF,
                                         scenes.lookback, scenes.lookahead, config.home_radius_m)
    found = nights >= config.min_home_nights
    home_x, home_y = np.where(found, home_x, np.nan), np.where(found, home_y, np.nan)
    return home_x[period_of_hit], home_y[period_of_hit], nights[period_of_hit]


def days_with_stays(stays: Stays, scenes: Scenes) -> np.ndarray:
    """Per hit, the number of distinct UK days in its routine period with a stay point inside its zone (one that
    began or ended that day)."""
    return stay_days_kernel(stays.x, stays.y, stays.day0, stays.day1, scenes.cx, scenes.cy, scenes.r, scenes.dws,
                            scenes.dwe, scenes.lookback, scenes.lookahead)


def days_passing(trail: SubjectTrail, scenes: Scenes, interp_max_gap_s: float) -> np.ndarray:
    """Per hit, the number of distinct UK days in its routine period on which the trail comes inside its zone:
    a fix, or the straight path from a fix to the next one at most ``interp_max_gap_s`` later (it counts for the
    day of its first fix), within the zone's radius (exact point-to-segment distances; a compiled walk over
    each day's fixes per hit that skips days and blocks of fixes far from the scene and stops at the first
    pass)."""
    m, n = len(scenes.cx), len(trail.t)
    if m == 0 or n == 0:
        return np.zeros(m, dtype=np.int64)
    passed = passing_kernel(trail.t, trail.x, trail.y, trail.day_start, round(interp_max_gap_s * NS), *trail.boxes,
                            scenes.cx, scenes.cy, scenes.r, scenes.routine(trail.days))
    return passed.sum(axis=1).astype(np.int64)


def routine_days(trail: SubjectTrail, scenes: Scenes) -> np.ndarray:
    """Per hit, the number of distinct UK days with any fix in its routine period (how much routine there is)."""
    return scenes.routine(trail.days).sum(axis=1).astype(np.int64)
