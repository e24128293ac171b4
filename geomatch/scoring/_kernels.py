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


@_kernel
def passing_kernel(x: np.ndarray, y: np.ndarray, day: np.ndarray, is_segment: np.ndarray, cx: np.ndarray,
                   cy: np.ndarray, r: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(scenes x days): whether the trail comes within ``r`` of each scene on each day it is ``eligible`` for.

    ``cx`` must be sorted. Each fix counts for its day (index ``day``), and so does the straight path to the next
    fix where ``is_segment`` (the exact distance from the scene to that segment)."""
    m, n = len(cx), len(x)
    passed = np.zeros(eligible.shape, dtype=np.bool_)
    if m == 0:
        return passed
    reach = r.max()
    for i in range(n):
        x0, y0 = x[i], y[i]
        x1, y1 = x0, y0
        if i + 1 < n and is_segment[i]:
            x1, y1 = x[i + 1], y[i + 1]
        lo = np.searchsorted(cx, min(x0, x1) - reach)
        hi = np.searchsorted(cx, max(x0, x1) + reach, side="right")
        d = day[i]
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        for j in range(lo, hi):
            if passed[j, d] or not eligible[j, d]:
                continue
            if cy[j] < min(y0, y1) - r[j] or cy[j] > max(y0, y1) + r[j]:
                continue
            f = 0.0
            if length2 > 0.0:
                f = min(max(((cx[j] - x0) * dx + (cy[j] - y0) * dy) / length2, 0.0), 1.0)
            if math.hypot(x0 + f * dx - cx[j], y0 + f * dy - cy[j]) <= r[j]:
                passed[j, d] = True
    return passed
