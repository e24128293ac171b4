"""Compiled kernels of scoring (numba): one pass over a subject's fixes each. The rules are stated in
:mod:`geomatch.scoring.routine`; times are int64 nanoseconds UTC, distances metres."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_kernel = njit(cache=True, error_model="numpy", nogil=True)


@_kernel
def still_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, accuracy: np.ndarray, span: int, reach: int,
                 radius: float, factor: float, most: float) -> np.ndarray:
    """Whether each fix is still: the first fix at or after ``t + span`` or the last at or before ``t - span``
    is at most ``reach`` ns away and lies within ``min(max(radius, factor * hypot(accuracies)), most)``."""
    n = len(t)
    still = np.zeros(n, dtype=np.bool_)
    after, before = 0, -1
    for i in range(n):
        while after < n and t[after] < t[i] + span:
            after += 1
        while before + 1 < n and t[before + 1] <= t[i] - span:
            before += 1
        for j in (after, before):
            if j < 0 or j >= n or abs(t[j] - t[i]) > reach:
                continue
            limit = min(max(radius, factor * math.hypot(accuracy[i], accuracy[j])), most)
            if math.hypot(x[j] - x[i], y[j] - y[i]) <= limit:
                still[i] = True
                break
    return still


FINE, COARSE = 32, 1024  # fixes per block of the passing pyramid (COARSE is a multiple of FINE)


@_kernel
def _boxes(x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """(blocks x 4) min x, max x, min y, max y of fixes ``k * size`` to ``(k + 1) * size`` inclusive (the last
    one ends the block's last segment)."""
    n = len(x)
    blocks = (n + size - 1) // size
    box = np.empty((blocks, 4))
    for k in range(blocks):
        a, b = k * size, min((k + 1) * size + 1, n)
        box[k, 0], box[k, 1] = x[a:b].min(), x[a:b].max()
        box[k, 2], box[k, 3] = y[a:b].min(), y[a:b].max()
    return box


@_kernel
def _far(box: np.ndarray, k: int, px: float, py: float, r: float) -> bool:
    dx = max(box[k, 0] - px, 0.0, px - box[k, 1])
    dy = max(box[k, 2] - py, 0.0, py - box[k, 3])
    return dx * dx + dy * dy > r * r


@_kernel
def passing_kernel(x: np.ndarray, y: np.ndarray, day_start: np.ndarray, is_segment: np.ndarray, cx: np.ndarray,
                   cy: np.ndarray, r: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(scenes x days): whether the trail comes within ``r`` of each scene on each day it is ``eligible`` for.

    Day ``d`` holds fixes ``day_start[d]:day_start[d + 1]``; each fix counts for its day, and so does the straight
    path to the next fix where ``is_segment`` (the exact distance from the scene to that segment). Each scene and
    day walks that day's fixes, skipping the rest of any block (``COARSE``, then ``FINE`` fixes) whose bounding
    box lies farther than ``r`` from the scene, and stops at the first pass."""
    n = len(x)
    passed = np.zeros(eligible.shape, dtype=np.bool_)
    if n == 0:
        return passed
    coarse, fine = _boxes(x, y, COARSE), _boxes(x, y, FINE)
    for j in range(len(cx)):
        px, py, rj = cx[j], cy[j], r[j]
        for d in range(len(day_start) - 1):
            if not eligible[j, d]:
                continue
            i, b = day_start[d], day_start[d + 1]
            while i < b:  # a block's box covers all of its fixes, so a far one is skipped even if partly outside
                if _far(coarse, i // COARSE, px, py, rj):
                    i = (i // COARSE + 1) * COARSE
                    continue
                if _far(fine, i // FINE, px, py, rj):
                    i = (i // FINE + 1) * FINE
                    continue
                x0, y0 = x[i], y[i]
                dx, dy = 0.0, 0.0
                if i + 1 < n and is_segment[i]:
                    dx, dy = x[i + 1] - x0, y[i + 1] - y0
                length2 = dx * dx + dy * dy
                f = 0.0
                if length2 > 0.0:
                    f = min(max(((px - x0) * dx + (py - y0) * dy) / length2, 0.0), 1.0)
                if math.hypot(x0 + f * dx - px, y0 + f * dy - py) <= rj:
                    passed[j, d] = True
                    break
                i += 1
    return passed


@_kernel
def speed_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, half: int, reach: int) -> np.ndarray:
    """The speed at each fix (m/s; NaN where not measured): net displacement from the last fix at or before
    ``t - half`` (or the first fix) to the first at or after ``t + half`` (or the last), divided by the time
    between them, when that is more than 0 and at most ``reach`` ns."""
    n = len(t)
    speed = np.full(n, np.nan)
    before, after = 0, 0
    for i in range(n):
        while before + 1 < n and t[before + 1] <= t[i] - half:
            before += 1
        while after < n - 1 and t[after] < t[i] + half:
            after += 1
        dt = t[after] - t[before]
        if 0 < dt <= reach:
            speed[i] = math.hypot(x[after] - x[before], y[after] - y[before]) / (dt / 1e9)
    return speed


@_kernel
def zone_kernel(t: np.ndarray, x: np.ndarray, y: np.ndarray, still: np.ndarray, speed: np.ndarray,
                lo: np.ndarray, hi: np.ndarray, cx: np.ndarray, cy: np.ndarray, r: np.ndarray, max_gap: int,
                bridge: float, min_offset_fixes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hit (fixes ``lo:hi`` of its window, scene ``cx``/``cy``, radius ``r``): the longest stop in the zone
    (s), the distance from the scene to the median position of its still fixes (m; NaN with fewer than
    ``min_offset_fixes``), and the median ``speed`` at the fixes in the zone (NaN when none measured).

    A stop is a run of still fixes in the zone (the rule of :func:`geomatch.scoring.routine.runs`: no step
    longer than ``max_gap`` ns between two of them, and the fixes between them that are not still or not in the
    zone cover at most ``bridge`` ns, counting each fix as half the step before it and half the step after)."""
    m = len(lo)
    stop_s, offset_m, median_speed = np.zeros(m), np.full(m, np.nan), np.full(m, np.nan)
    big = np.zeros(len(t) + 1, dtype=np.int64)  # steps longer than max_gap before each fix
    for i in range(1, len(t)):
        big[i] = big[i - 1] + (t[i] - t[i - 1] > max_gap)
    for h in range(m):
        a, b = lo[h], hi[h]
        speeds = np.empty(max(b - a, 0))
        k = 0
        best_first, best_last, best_len = -1, -1, -1
        first, previous = -1, -1
        for i in range(a, b):
            if math.hypot(x[i] - cx[h], y[i] - cy[h]) > r[h]:
                continue
            if not math.isnan(speed[i]):
                speeds[k] = speed[i]
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
            if still[i] and math.hypot(x[i] - cx[h], y[i] - cy[h]) <= r[h]:
                px[count], py[count] = x[i], y[i]
                count += 1
        if count >= min_offset_fixes:
            offset_m[h] = math.hypot(np.median(px[:count]) - cx[h], np.median(py[:count]) - cy[h])
    return stop_s, offset_m, median_speed


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
