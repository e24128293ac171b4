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


MAX_CELLS = 1 << 22  # the passing grid's cells grow beyond 2 x the largest radius to keep to this many


@_kernel
def passing_kernel(x: np.ndarray, y: np.ndarray, day: np.ndarray, is_segment: np.ndarray, cx: np.ndarray,
                   cy: np.ndarray, r: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(scenes x days): whether the trail comes within ``r`` of each scene on each day it is ``eligible`` for.

    Each fix counts for its day (index ``day``), and so does the straight path to the next fix where
    ``is_segment`` (the exact distance from the scene to that segment). Scenes are found through a grid: each is
    listed in every cell its zone's bounding square touches, and each fix or segment looks in the cells its own
    bounding box touches, so no pass is missed."""
    m, n = len(cx), len(x)
    passed = np.zeros(eligible.shape, dtype=np.bool_)
    if m == 0 or n == 0:
        return passed
    reach = r.max()
    gx, gy = cx.min() - reach, cy.min() - reach
    width, height = cx.max() + reach - gx, cy.max() + reach - gy
    cell = max(2.0 * reach, math.sqrt(width * height / MAX_CELLS), 1.0)
    nx, ny = int(width // cell) + 1, int(height // cell) + 1
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    for j in range(m):
        for ix in range(int((cx[j] - r[j] - gx) // cell), int((cx[j] + r[j] - gx) // cell) + 1):
            for iy in range(int((cy[j] - r[j] - gy) // cell), int((cy[j] + r[j] - gy) // cell) + 1):
                start[ix * ny + iy + 1] += 1
    start = np.cumsum(start)
    members, filled = np.empty(start[-1], dtype=np.int64), start[:-1].copy()
    for j in range(m):
        for ix in range(int((cx[j] - r[j] - gx) // cell), int((cx[j] + r[j] - gx) // cell) + 1):
            for iy in range(int((cy[j] - r[j] - gy) // cell), int((cy[j] + r[j] - gy) // cell) + 1):
                members[filled[ix * ny + iy]] = j
                filled[ix * ny + iy] += 1
    for i in range(n):
        x0, y0 = x[i], y[i]
        x1, y1 = x0, y0
        if i + 1 < n and is_segment[i]:
            x1, y1 = x[i + 1], y[i + 1]
        ix0, ix1 = int((min(x0, x1) - gx) // cell), int((max(x0, x1) - gx) // cell)
        iy0, iy1 = int((min(y0, y1) - gy) // cell), int((max(y0, y1) - gy) // cell)
        if ix1 < 0 or iy1 < 0 or ix0 >= nx or iy0 >= ny:
            continue
        d = day[i]
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        for ix in range(max(ix0, 0), min(ix1, nx - 1) + 1):
            for iy in range(max(iy0, 0), min(iy1, ny - 1) + 1):
                for k in range(start[ix * ny + iy], start[ix * ny + iy + 1]):
                    j = members[k]
                    if passed[j, d] or not eligible[j, d]:
                        continue
                    f = 0.0
                    if length2 > 0.0:
                        f = min(max(((cx[j] - x0) * dx + (cy[j] - y0) * dy) / length2, 0.0), 1.0)
                    if math.hypot(x0 + f * dx - cx[j], y0 + f * dy - cy[j]) <= r[j]:
                        passed[j, d] = True
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
