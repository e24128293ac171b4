"""Compiled kernels of scoring (numba): one pass over a subject's fixes each. The rules are stated in
:mod:`geomatch.scoring.routine`; times are int64 nanoseconds UTC, distances metres."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_kernel = njit(cache=True, error_model="numpy", nogil=True)


NEVER = np.iinfo(np.int64).max
FINE, COARSE = 8, 64  # fixes per block of a trail's box pyramid (COARSE is a multiple of FINE)


@_kernel
def still_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, accuracy: np.ndarray, span: int, radius: float,
                 factor: float, most: float) -> np.ndarray:
    """Per fix, how far in time (ns) the trail reaches while staying near it: the nearer in time of the first fix
    at or after ``t + span`` and the last at or before ``t - span`` that lies within ``min(max(radius, factor *
    hypot(accuracies)), most)`` of it (``NEVER`` when neither does). A fix is still for a reach ``R`` when this is
    at most ``span + R``: one pass serves every reach."""
    n = len(t)
    reach = np.full(n, NEVER, dtype=np.int64)
    lower = min(radius, most)  # within this, near whatever the accuracy; beyond ``most``, never
    # squared distances decide at once where they are clear by far more than their rounding; hypot decides the rest
    surely_near, surely_far = (lower * (1.0 - 1e-9)) ** 2, (most * (1.0 + 1e-9)) ** 2
    after, before = 0, -1
    for i in range(n):
        while after < n and t[after] < t[i] + span:
            after += 1
        while before + 1 < n and t[before + 1] <= t[i] - span:
            before += 1
        for j in (after, before):
            if j < 0 or j >= n or abs(t[j] - t[i]) >= reach[i]:
                continue
            dx, dy = x[j] - x[i], y[j] - y[i]
            square = dx * dx + dy * dy
            if square > surely_far:
                continue
            if square < surely_near:
                reach[i] = abs(t[j] - t[i])
                continue
            d = math.hypot(dx, dy)
            if d <= lower or (d <= most and d <= min(max(radius, factor * math.hypot(accuracy[i], accuracy[j])),
                                                     most)):
                reach[i] = abs(t[j] - t[i])
    return reach


@_kernel
def box_pyramid(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bounding boxes of a trail's blocks of ``FINE`` and of ``COARSE`` fixes (see :func:`_boxes`)."""
    fine = _boxes(x, y, FINE)
    per = COARSE // FINE
    coarse = np.empty(((len(fine) + per - 1) // per, 4))
    for k in range(len(coarse)):
        members = fine[k * per:(k + 1) * per]
        coarse[k, 0], coarse[k, 1] = members[:, 0].min(), members[:, 1].max()
        coarse[k, 2], coarse[k, 3] = members[:, 2].min(), members[:, 3].max()
    return fine, coarse


@_kernel
def _boxes(x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """(blocks x 4) min x, max x, min y, max y of fixes ``k * size`` to ``(k + 1) * size`` inclusive (the last
    one ends the block's last segment)."""
    n = len(x)
    box = np.empty(((n + size - 1) // size, 4))
    for k in range(len(box)):
        first = k * size
        min_x = max_x = x[first]
        min_y = max_y = y[first]
        for i in range(first + 1, min(first + size + 1, n)):
            min_x, max_x = min(min_x, x[i]), max(max_x, x[i])
            min_y, max_y = min(min_y, y[i]), max(max_y, y[i])
        box[k, 0], box[k, 1], box[k, 2], box[k, 3] = min_x, max_x, min_y, max_y
    return box


@_kernel
def _range_boxes(x: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(ranges x 4) the box of fixes ``start[d]`` to ``start[d + 1]`` inclusive (the next range's first fix ends
    the range's last segment)."""
    box = np.empty((len(start) - 1, 4))
    for d in range(len(start) - 1):
        a, b = start[d], min(start[d + 1] + 1, len(x))
        box[d, 0], box[d, 1] = x[a:b].min(), x[a:b].max()
        box[d, 2], box[d, 3] = y[a:b].min(), y[a:b].max()
    return box


@_kernel
def _far(box: np.ndarray, k: int, px: float, py: float, r: float) -> bool:
    """Whether every point of box ``k`` lies farther than ``r`` from ``(px, py)`` (squares compared, with a
    margin far above their rounding, so that no point within ``r`` is ever skipped)."""
    dx = max(box[k, 0] - px, 0.0, px - box[k, 1])
    dy = max(box[k, 2] - py, 0.0, py - box[k, 3])
    limit = r + 1e-6
    return dx * dx + dy * dy > limit * limit


@_kernel
def _within(dx: float, dy: float, r: float) -> bool:
    """``math.hypot(dx, dy) <= r``, the square deciding at once where it is clear by far more than its rounding."""
    square = dx * dx + dy * dy
    if square < (r * (1.0 - 1e-9)) ** 2:
        return True
    return square <= (r * (1.0 + 1e-9)) ** 2 and math.hypot(dx, dy) <= r


@_kernel
def _next_near(fine: np.ndarray, coarse: np.ndarray, i: int, end: int, px: float, py: float, r: float) -> int:
    """The first fix from ``i`` (before ``end``) whose blocks' boxes both come within ``r`` of ``(px, py)``;
    ``end`` when none does. Every fix, and every segment from a fix, within ``r`` lies in such a block."""
    while i < end:
        if _far(coarse, i // COARSE, px, py, r):
            i = (i // COARSE + 1) * COARSE
        elif _far(fine, i // FINE, px, py, r):
            i = (i // FINE + 1) * FINE
        else:
            return i
    return end


@_kernel
def passing_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, day_start: np.ndarray, max_step: int,
                   fine: np.ndarray, coarse: np.ndarray, cx: np.ndarray, cy: np.ndarray, r: np.ndarray,
                   eligible: np.ndarray) -> np.ndarray:
    """(scenes x days): whether the trail comes within ``r`` of each scene on each day it is ``eligible`` for.

    Day ``d`` holds fixes ``day_start[d]:day_start[d + 1]``; each fix counts for its day, and so does the straight
    path to the next fix when that is more than 0 and at most ``max_step`` ns later (the exact distance from the
    scene to that segment). Each scene and
    day skips the day if its box is far, else walks the fixes of the blocks (``fine``/``coarse`` boxes of
    :func:`box_pyramid`) that come near the scene, and stops at the first pass."""
    n = len(x)
    passed = np.zeros(eligible.shape, dtype=np.bool_)
    if n == 0:
        return passed
    days = _range_boxes(x, y, day_start)
    for j in range(len(cx)):
        px, py, rj = cx[j], cy[j], r[j]
        for d in range(len(day_start) - 1):
            if not eligible[j, d] or _far(days, d, px, py, rj):
                continue
            end = day_start[d + 1]
            i = _next_near(fine, coarse, day_start[d], end, px, py, rj)
            while i < end and not passed[j, d]:
                block_end = min(end, (i // FINE + 1) * FINE)
                for k in range(i, block_end):
                    x0, y0 = x[k], y[k]
                    dx, dy = 0.0, 0.0
                    if k + 1 < n and 0 < t[k + 1] - t[k] <= max_step:
                        dx, dy = x[k + 1] - x0, y[k + 1] - y0
                    length2 = dx * dx + dy * dy
                    along = (px - x0) * dx + (py - y0) * dy
                    f = 0.0  # min(max(along / length2, 0), 1), dividing only where that is not an end
                    if along >= length2 > 0.0:
                        f = 1.0
                    elif along > 0.0:
                        f = min(along / length2, 1.0)
                    if _within(x0 + f * dx - px, y0 + f * dy - py, rj):
                        passed[j, d] = True
                        break
                i = _next_near(fine, coarse, block_end, end, px, py, rj)
    return passed


@_kernel
def _speed_at(t: np.ndarray, x: np.ndarray, y: np.ndarray, i: int, half: int, reach: int) -> float:
    """The speed at fix ``i`` (m/s; NaN where not measured): net displacement from the last fix at or before
    ``t - half`` (or the first fix) to the first at or after ``t + half`` (or the last), divided by the time
    between them, when that is more than 0 and at most ``reach`` ns."""
    before, after = i, i
    while before > 0 and t[before] > t[i] - half:
        before -= 1
    while after < len(t) - 1 and t[after] < t[i] + half:
        after += 1
    dt = t[after] - t[before]
    if 0 < dt <= reach:
        return math.hypot(x[after] - x[before], y[after] - y[before]) / (dt / 1e9)
    return np.nan


@_kernel
def zone_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, still: np.ndarray, fine: np.ndarray,
                coarse: np.ndarray, half: int, reach: int, lo: np.ndarray, hi: np.ndarray, cx: np.ndarray,
                cy: np.ndarray, r: np.ndarray, max_gap: int, bridge: float,
                min_offset_fixes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hit (fixes ``lo:hi`` of its window, scene ``cx``/``cy``, radius ``r``): the longest stop in the zone
    (s), the distance from the scene to the median position of its still fixes (m; NaN with fewer than
    ``min_offset_fixes``), and the median speed (:func:`_speed_at` with ``half`` and ``reach``) at the fixes in
    the zone (NaN when none measured). Blocks of fixes whose boxes (:func:`box_pyramid`) lie outside the zone are
    skipped.

    A stop is a run of still fixes in the zone (the rule of :func:`geomatch.scoring.routine.runs`: no step
    longer than ``max_gap`` ns between two of them, and the fixes between them that are not still or not in the
    zone cover at most ``bridge`` ns, counting each fix as half the step before it and half the step after)."""
    m = len(lo)
    stop_s, offset_m, median_speed = np.zeros(m), np.full(m, np.nan), np.full(m, np.nan)
    big = _big_steps(t, max_gap)
    for h in range(m):
        a, b = lo[h], hi[h]
        speeds = np.empty(max(b - a, 0))
        k = 0
        best_first, best_last, best_len = -1, -1, -1
        first, previous = -1, -1
        at = _next_near(fine, coarse, a, b, cx[h], cy[h], r[h])
        while at < b:
            block_end = min(b, (at // FINE + 1) * FINE)
            for i in range(at, block_end):
                if not _within(x[i] - cx[h], y[i] - cy[h], r[h]):
                    continue
                speed = _speed_at(t, x, y, i, half, reach)
                if not math.isnan(speed):
                    speeds[k] = speed
                    k += 1
                if not still[i]:
                    continue
                if previous >= 0:
                    between = (t[i] - t[previous]) - 0.5 * (t[previous + 1] - t[previous]) - 0.5 * (t[i] - t[i - 1])
                    if big[i] > big[previous] or between > bridge:
                        if t[previous] - t[first] > best_len:
                            best_first, best_last, best_len = first, previous, t[previous] - t[first]
                        first = i
                else:
                    first = i
                previous = i
            at = _next_near(fine, coarse, block_end, b, cx[h], cy[h], r[h])
        if previous >= 0 and t[previous] - t[first] > best_len:
            best_first, best_last, best_len = first, previous, t[previous] - t[first]
        if k > 0:
            median_speed[h] = np.median(speeds[:k])
        if best_first < 0:
            continue
        stop_s[h] = best_len / 1e9
        px, py = np.empty(best_last - best_first + 1), np.empty(best_last - best_first + 1)
        count = 0
        for i in range(best_first, best_last + 1):
            if still[i] and _within(x[i] - cx[h], y[i] - cy[h], r[h]):
                px[count], py[count] = x[i], y[i]
                count += 1
        if count >= min_offset_fixes:
            offset_m[h] = math.hypot(np.median(px[:count]) - cx[h], np.median(py[:count]) - cy[h])
    return stop_s, offset_m, median_speed


@_kernel
def _big_steps(t: np.ndarray, max_gap: int) -> np.ndarray:
    """Per fix, the number of steps longer than ``max_gap`` ns before it."""
    big = np.zeros(len(t) + 1, dtype=np.int64)
    for i in range(1, len(t)):
        big[i] = big[i - 1] + (t[i] - t[i - 1] > max_gap)
    return big


@_kernel
def run_starts(t: np.ndarray, index: np.ndarray, max_gap: int, bridge: float) -> np.ndarray:
    """Whether each qualifying fix ``index[k]`` starts a run (the rule of :func:`geomatch.scoring.routine.runs`):
    the first does; another does when a step longer than ``max_gap`` ns lies between it and the one before, or
    the fixes between them cover more than ``bridge`` ns (each fix counting half the step before it and half the
    step after)."""
    new_run = np.ones(len(index), dtype=np.bool_)
    big = _big_steps(t, max_gap)
    for k in range(1, len(index)):
        p, q = index[k - 1], index[k]
        between = (t[q] - t[p]) - 0.5 * (t[p + 1] - t[p]) - 0.5 * (t[q] - t[q - 1])
        new_run[k] = big[q] > big[p] or between > bridge
    return new_run


@_kernel
def night_medians(day: np.ndarray, hour: np.ndarray, x: np.ndarray, y: np.ndarray, first_hour: int,
                  end_hour: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The days (in order) with fixes whose ``hour`` is from ``first_hour`` up to ``end_hour`` (not included),
    and the median ``x`` and ``y`` of each day's such fixes (``day`` never goes back, so a day's are together)."""
    xs, ys, days = np.empty(len(x)), np.empty(len(x)), np.empty(len(x), dtype=np.int64)
    start = np.empty(len(x) + 1, dtype=np.int64)
    k, groups = 0, 0
    for i in range(len(x)):
        if first_hour <= hour[i] < end_hour:
            if k == 0 or day[i] != days[groups - 1]:
                days[groups], start[groups] = day[i], k
                groups += 1
            xs[k], ys[k] = x[i], y[i]
            k += 1
    start[groups] = k
    mx, my = np.empty(groups), np.empty(groups)
    for g in range(groups):
        mx[g], my[g] = np.median(xs[start[g]:start[g + 1]]), np.median(ys[start[g]:start[g + 1]])
    return days[:groups], mx, my


@_kernel
def _routine(day: int, first: int, last: int, lookback: int, lookahead: int) -> bool:
    """Whether ``day`` is one of the ``lookback`` days before day ``first`` or the ``lookahead`` days after day
    ``last`` (:meth:`geomatch.scoring.routine.Scenes.routine`)."""
    return (first - lookback <= day < first) or (last < day <= last + lookahead)


@_kernel
def home_kernel(night_x: np.ndarray, night_y: np.ndarray, night_day: np.ndarray, first: np.ndarray,
                last: np.ndarray, lookback: int, lookahead: int,
                radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per routine period (days ``first``/``last`` of a window, see :func:`_routine`): the median over the nights
    in it of each night's median position (``night_x``/``night_y`` of UK day ``night_day``; NaN when there is
    no night), and the number of those nights within ``radius`` of it."""
    m = len(first)
    home_x, home_y, nights = np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, dtype=np.int64)
    xs, ys = np.empty(len(night_x)), np.empty(len(night_x))
    for p in range(m):
        k = 0
        for d in range(len(night_day)):
            if _routine(night_day[d], first[p], last[p], lookback, lookahead):
                xs[k], ys[k] = night_x[d], night_y[d]
                k += 1
        if k == 0:
            continue
        home_x[p], home_y[p] = np.median(xs[:k]), np.median(ys[:k])
        for d in range(k):
            nights[p] += math.hypot(xs[d] - home_x[p], ys[d] - home_y[p]) <= radius
    return home_x, home_y, nights


@_kernel
def stay_days_kernel(sx: np.ndarray, sy: np.ndarray, day0: np.ndarray, day1: np.ndarray, cx: np.ndarray,
                     cy: np.ndarray, r: np.ndarray, first: np.ndarray, last: np.ndarray, lookback: int,
                     lookahead: int) -> np.ndarray:
    """Per scene, the number of distinct days in its routine period (the ``lookback`` days before day ``first``
    and the ``lookahead`` days after day ``last``) on which a stay point within ``r`` of it began or ended."""
    out = np.zeros(len(cx), dtype=np.int64)
    if len(sx) == 0:
        return out
    low = min(day0.min(), day1.min())
    seen = np.zeros(max(day0.max(), day1.max()) - low + 1, dtype=np.int64)  # the last scene that counted a day
    seen[:] = -1
    for j in range(len(cx)):
        for s in range(len(sx)):
            if not _within(sx[s] - cx[j], sy[s] - cy[j], r[j]):
                continue
            for day in (day0[s], day1[s]):
                if _routine(day, first[j], last[j], lookback, lookahead) and seen[day - low] != j:
                    seen[day - low] = j
                    out[j] += 1
    return out


@_kernel
def local_day_hour(t: np.ndarray, offset: np.ndarray, first_hour: int) -> tuple[np.ndarray, np.ndarray]:
    """Local day number (since 1970-01-01) and hour (0-23) of UTC instants ``t`` (ns), the local offset (ns) of
    UTC hour ``first_hour + k`` being ``offset[k]``; no temporary arrays (a 1 s week is 20 million fixes)."""
    hour_ns, day_ns = 3_600_000_000_000, 86_400_000_000_000
    day, hour = np.empty(len(t), dtype=np.int32), np.empty(len(t), dtype=np.int8)
    for i in range(len(t)):
        local = t[i] + offset[t[i] // hour_ns - first_hour]
        day[i] = local // day_ns
        hour[i] = (local % day_ns) // hour_ns
    return day, hour


@_kernel
def in_order(codes: np.ndarray, t: np.ndarray) -> bool:
    """Whether fixes are sorted by subject code, then time."""
    for i in range(1, len(t)):
        if codes[i] < codes[i - 1] or (codes[i] == codes[i - 1] and t[i] < t[i - 1]):
            return False
    return True
