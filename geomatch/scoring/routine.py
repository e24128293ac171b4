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

import warnings
from dataclasses import dataclass

import numpy as np

from geomatch.scoring._kernels import passing_kernel, still_kernel
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


def still_fixes(trail: SubjectTrail, config: ScoreConfig, reach_s: float) -> np.ndarray:
    """Whether each fix is still: the first fix at least ``still_span_s`` after it, or the last fix at least that
    long before it, lies within ``max(stay_radius_m, still_accuracy_factor * hypot(accuracy of both))`` of it,
    never more than ``still_max_m``, and at most ``still_span_s + reach_s`` seconds away (beyond that the trail
    says nothing about the time between). Either side will do, so the first and last fixes of a stay are still
    too (arriving, the span after is spent there; leaving, the span before)."""
    span = round(config.still_span_s * NS)
    return still_kernel(trail.t, trail.x, trail.y, trail.accuracy, span, span + round(reach_s * NS),
                        config.stay_radius_m, config.still_accuracy_factor, config.still_max_m)


def runs(t: np.ndarray, index: np.ndarray, group: np.ndarray | None, max_gap_s: float,
         bridge_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Runs of the qualifying fixes ``index`` (positions in the time-ordered ``t``, increasing within a group):
    the first and last position in ``index`` of each run.

    Two qualifying fixes in a row (of the same ``group``) are in one run unless the trail between them has a
    step longer than ``max_gap_s`` (a gap), or the fixes between them that do not qualify cover more than
    ``bridge_s`` seconds. A fix's time is half the step before it and half the step after it, so that stretch is
    the time between the two qualifying fixes less half a step at either end: one stray fix at 120 s sampling
    covers as long as 120 fixes at 1 s, and the rule means the same at every rate.
    """
    if len(index) == 0:
        none = np.zeros(0, dtype=np.int64)
        return none, none
    p, q = index[:-1], index[1:]
    steps = np.diff(t)
    big = np.concatenate([[0], np.cumsum(steps > round(max_gap_s * NS))])  # big steps before each position
    between = (t[q] - t[p]) - 0.5 * steps[np.minimum(p, len(steps) - 1)] - 0.5 * steps[np.maximum(q - 1, 0)]
    new_run = np.ones(len(index), dtype=bool)
    new_run[1:] = (big[q] > big[p]) | (between > bridge_s * NS)
    if group is not None:
        new_run[1:] |= group[1:] != group[:-1]
    first = np.flatnonzero(new_run)
    last = np.concatenate([first[1:], [len(index)]]) - 1
    return first, last


def find_stays(trail: SubjectTrail, config: ScoreConfig) -> Stays:
    """Stay points of one subject (see the module docstring)."""
    if len(trail.t) < 2:
        return _no_stays()
    index = np.flatnonzero(still_fixes(trail, config, config.stay_max_gap_s))
    first, last = runs(trail.t, index, None, config.stay_max_gap_s, config.stop_bridge_s)
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
    none, never = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Stays(none, none, never, never, never, never)


def home_positions(trail: SubjectTrail, scenes: Scenes, config: ScoreConfig) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Each hit's home (x, y in m, NaN when none) and the number of nights spent within ``home_radius_m`` of it.

    Nights are UK local days' fixes between ``night_start_h`` and ``night_end_h``; only nights in the hit's
    routine period count.
    """
    m = len(scenes.cx)
    night = (trail.hour >= config.night_start_h) & (trail.hour < config.night_end_h)
    days, first = np.unique(trail.day[night], return_index=True)
    if len(days) == 0:
        nan = np.full(m, np.nan)
        return nan, nan, np.zeros(m, dtype=np.int64)
    bounds = np.concatenate([first, [int(night.sum())]])
    nx, ny = trail.x[night], trail.y[night]
    night_x = np.array([np.median(nx[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    night_y = np.array([np.median(ny[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    periods, period_of_hit = np.unique(np.column_stack([scenes.dws, scenes.dwe]), axis=0, return_inverse=True)
    use = Scenes(*(np.zeros(len(periods)),) * 5, periods[:, 0], periods[:, 1], scenes.lookback,
                 scenes.lookahead).routine(days)  # hits with the same window days share a routine period
    grid_x = np.where(use, night_x[None, :], np.nan)
    grid_y = np.where(use, night_y[None, :], np.nan)
    with warnings.catch_warnings():  # a hit with no nights in its period simply has no home
        warnings.simplefilter("ignore", RuntimeWarning)
        home_x, home_y = np.nanmedian(grid_x, axis=1), np.nanmedian(grid_y, axis=1)
    near = np.hypot(grid_x - home_x[:, None], grid_y - home_y[:, None]) <= config.home_radius_m
    nights = near.sum(axis=1)
    found = nights >= config.min_home_nights
    home_x, home_y = np.where(found, home_x, np.nan), np.where(found, home_y, np.nan)
    period_of_hit = period_of_hit.ravel()
    return home_x[period_of_hit], home_y[period_of_hit], nights.astype(np.int64)[period_of_hit]


def days_with_stays(stays: Stays, scenes: Scenes) -> np.ndarray:
    """Per hit, the number of distinct UK days in its routine period with a stay point inside its zone."""
    m = len(scenes.cx)
    if len(stays.x) == 0 or m == 0:
        return np.zeros(m, dtype=np.int64)
    near = np.hypot(stays.x[None, :] - scenes.cx[:, None], stays.y[None, :] - scenes.cy[:, None]) <= scenes.r[:, None]
    days = np.unique(np.concatenate([stays.day0, stays.day1]))
    on_day = np.zeros((m, len(days)), dtype=bool)
    for_hit, for_stay = np.nonzero(near)
    for stay_day in (stays.day0, stays.day1):
        on_day[for_hit, np.searchsorted(days, stay_day)[for_stay]] = True
    return (on_day & scenes.routine(days)).sum(axis=1).astype(np.int64)


def days_passing(trail: SubjectTrail, scenes: Scenes, interp_max_gap_s: float) -> np.ndarray:
    """Per hit, the number of distinct UK days in its routine period on which the trail comes inside its zone:
    a fix, or the straight path from a fix to the next one at most ``interp_max_gap_s`` later (it counts for the
    day of its first fix), within the zone's radius (exact point-to-segment distances; a compiled walk over
    each day's fixes per hit that skips blocks of fixes far from the scene and stops at the first pass)."""
    m, n = len(scenes.cx), len(trail.t)
    if m == 0 or n == 0:
        return np.zeros(m, dtype=np.int64)
    new_day = np.flatnonzero(np.r_[True, np.diff(trail.day) != 0])  # UK days never go back in a time-ordered trail
    days, day_start = trail.day[new_day], np.r_[new_day, n]
    dt = np.diff(trail.t)
    is_segment = np.r_[(dt > 0) & (dt <= round(interp_max_gap_s * NS)), False]
    passed = passing_kernel(trail.x, trail.y, day_start, is_segment, scenes.cx, scenes.cy, scenes.r,
                            scenes.routine(days))
    return passed.sum(axis=1).astype(np.int64)


def routine_days(trail: SubjectTrail, scenes: Scenes) -> np.ndarray:
    """Per hit, the number of distinct UK days with any fix in its routine period (how much routine there is)."""
    return scenes.routine(np.unique(trail.day)).sum(axis=1).astype(np.int64)
