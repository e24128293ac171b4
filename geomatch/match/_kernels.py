"""Compiled kernels of the matcher (numba): per subject x crime pair, one walk over the pair's fixes.

The rules are stated in :mod:`geomatch.match.matcher`. Fixes are grouped in runs (``FINE`` fixes, and ``COARSE`` fixes
one level up) with the bounding box of each run; a pair's walk skips every run whose box lies too far from the
scene and measures the fixes of the others exactly. Each pair's result depends on that pair alone. Distances
are in metres, times in int64 nanoseconds UTC.

The arithmetic of a step (:func:`_step`) is written once and used by every kernel, so presence and measurement
can never disagree about a fix or a segment.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from geomatch.quality.flags import joined_steps  # noqa: F401  (used by the matcher)

FINE, COARSE = 8, 128  # fixes per run at each level of the box pyramid (COARSE is a multiple of FINE)
OBSERVED, INTERPOLATED, POSSIBLE, NONE = 0, 1, 2, 3
SPEED_WALK, SPEED_BEFORE, SPEED_AFTER, SPEED_CAP = 0, 1, 2, 3  # what set a gap's plausible speed
NO_FIX = -1
NS = 1_000_000_000
GATE_SLACK_M = 1e-6  # box tests compare squares, the exact tests distances: never let rounding skip a fix
_CROSSING_SLACK_M = 1e-6  # the crossing is solved only for segments this close to the zone (rounding is ~1e-12 m)
NAT, NEVER = np.iinfo(np.int64).min, np.iinfo(np.int64).max
_MIN_X, _MAX_X, _MIN_Y, _MAX_Y, _MAX_ACC = range(5)

# compiled once and cached beside this file; IEEE arithmetic as numpy does it (no fast-math, no exceptions)
_helper = njit(cache=True, error_model="numpy")
_inline = njit(cache=True, error_model="numpy", inline="always")
_kernel = njit(cache=True, error_model="numpy", nogil=True)  # called from several threads at once

Step = namedtuple("Step", [
    "fix_d",  # distance of fix i from the scene (m)
    "fix_in_window",
    "fix_in_zone",
    "fix_reaches_zone",  # in the window and its accuracy circle reaches the zone
    "dt",  # ns from fix i to fix i + 1 (0 without a next fix in the range)
    "step_overlaps",  # the interval from fix i to fix i + 1 meets the window
    "is_segment",  # that interval is a segment (not a gap)
    "seg_valid",  # a segment meeting the window; only then are the fields below measured
    "seg_u",  # where on the segment clipped to the window (0..1) its closest point lies
    "seg_d",  # the distance of that point (inf unless seg_valid)
    "seg_in_zone",  # the clipped segment passes through the zone ...
    "enter_ns",  # ... entering it then
    "leave_ns",  # ... and leaving it then
])


@_kernel
def subject_starts(subject: np.ndarray) -> np.ndarray:
    """Where each subject's fixes start, for fixes sorted by subject."""
    n_subjects = 1 if len(subject) else 0
    for i in range(1, len(subject)):
        n_subjects += subject[i] != subject[i - 1]
    starts = np.zeros(n_subjects, np.int64)
    k = 1
    for i in range(1, len(subject)):
        if subject[i] != subject[i - 1]:
            starts[k] = i
            k += 1
    return starts


@_kernel
def gap_starts(subject: np.ndarray, t: np.ndarray, interp_s: float, possible_s: float) -> np.ndarray:
    """The fixes, sorted by subject then time, that start a gap (longer than ``interp_s``) short enough (at
    most ``possible_s``) to make a ``possible`` hit."""
    interp_ns, possible_ns = np.int64(round(interp_s * NS)), np.int64(round(possible_s * NS))
    n = 0
    for i in range(len(t) - 1):
        n += subject[i + 1] == subject[i] and interp_ns < t[i + 1] - t[i] <= possible_ns
    starts = np.empty(n, np.int64)
    n = 0
    for i in range(len(t) - 1):
        if subject[i + 1] == subject[i] and interp_ns < t[i + 1] - t[i] <= possible_ns:
            starts[n] = i
            n += 1
    return starts


@_kernel
def subject_windows(t: np.ndarray, start: int, end: int, ws: np.ndarray, we: np.ndarray, by_start: np.ndarray,
                    by_end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one subject's fixes ``t[start:end]`` (sorted), the crimes whose windows ``[ws, we]`` its fixes reach
    into: a fix inside the window, or a step between two fixes that spans it (a trail that ends before the
    window or starts after it says nothing about it). Returns their numbers and the range ``[lo, hi)`` of fix
    indices covering each window, the last fix before it and the first after it included.

    ``by_start``/``by_end`` order the crimes by ``ws``/``we``, so one merge over the fixes finds every bound.
    """
    n_crimes = len(ws)
    first_at_or_after, first_after = np.empty(n_crimes, np.int64), np.empty(n_crimes, np.int64)
    j = start
    for k in by_start:
        while j < end and t[j] < ws[k]:
            j += 1
        first_at_or_after[k] = j
    j = start
    for k in by_end:
        while j < end and t[j] <= we[k]:
            j += 1
        first_after[k] = j
    keep = (first_after > first_at_or_after) | ((first_at_or_after > start) & (first_after < end))
    crime = np.flatnonzero(keep)
    lo = np.maximum(first_at_or_after[crime] - 1, start)
    hi = np.minimum(first_after[crime] + 1, end)
    return crime, lo, hi


@_inline
def _known(accuracy: float) -> float:
    """An accuracy radius (m), 0 when unknown (NaN)."""
    return 0.0 if np.isnan(accuracy) else accuracy


@_kernel
def _fine_runs(t: np.ndarray, x: np.ndarray, y: np.ndarray, accuracy: np.ndarray, boxes: np.ndarray,
               longest_steps: np.ndarray) -> None:
    """Writes the runs of ``FINE`` consecutive fixes: their bounding boxes, one row per run of min x, max x,
    min y, max y and max accuracy (a box's numbers share a cache line), and their longest steps (ns).

    Box ``b`` covers fixes ``b*FINE`` to ``(b+1)*FINE`` inclusive, so the segment leaving the run lies inside it;
    its longest step is the longest of those segments' durations (steps between two subjects included: a run
    is only ever used whole inside one subject's fixes).
    """
    n = len(x)
    for b in range(len(boxes)):
        first, last = b * FINE, min((b + 1) * FINE, n - 1)
        min_x = max_x = x[first]
        min_y = max_y = y[first]
        max_acc = _known(accuracy[first])
        longest = 0
        for k in range(first + 1, last + 1):
            min_x, max_x = min(min_x, x[k]), max(max_x, x[k])
            min_y, max_y = min(min_y, y[k]), max(max_y, y[k])
            max_acc = max(max_acc, _known(accuracy[k]))
            longest = max(longest, t[k] - t[k - 1])
        boxes[b, _MIN_X], boxes[b, _MAX_X], boxes[b, _MIN_Y], boxes[b, _MAX_Y] = min_x, max_x, min_y, max_y
        boxes[b, _MAX_ACC], longest_steps[b] = max_acc, longest


@_kernel
def _coarse_runs(fine: np.ndarray, fine_steps: np.ndarray, coarse: np.ndarray, coarse_steps: np.ndarray) -> None:
    """Writes the runs of ``COARSE`` fixes, each the union of the fine runs it holds."""
    per_coarse = COARSE // FINE
    for b in range(len(coarse)):
        members = fine[b * per_coarse: (b + 1) * per_coarse]
        for column in (_MIN_X, _MIN_Y):
            coarse[b, column] = members[:, column].min()
        for column in (_MAX_X, _MAX_Y, _MAX_ACC):
            coarse[b, column] = members[:, column].max()
        coarse_steps[b] = fine_steps[b * per_coarse: (b + 1) * per_coarse].max()


def box_pyramid(t: np.ndarray, x: np.ndarray, y: np.ndarray, accuracy: np.ndarray):
    """The runs of ``FINE`` and of ``COARSE`` fixes (see :func:`_fine_runs`): (fine boxes, coarse boxes, fine
    longest steps, coarse longest steps). A coarse run is the union of the fine runs it holds. The arrays are
    numpy's (its large arrays sit on huge pages: a force month's boxes cost hundreds of page faults, not
    thousands)."""
    n_fine = (len(x) + FINE - 1) // FINE
    n_coarse = (n_fine + COARSE // FINE - 1) // (COARSE // FINE)
    fine, fine_steps = np.empty((n_fine, 5)), np.empty(n_fine, np.int64)
    coarse, coarse_steps = np.empty((n_coarse, 5)), np.empty(n_coarse, np.int64)
    _fine_runs(t, x, y, accuracy, fine, fine_steps)
    _coarse_runs(fine, fine_steps, coarse, coarse_steps)
    return fine, coarse, fine_steps, coarse_steps


@_helper
def _longest_step(t, pyramid, lo: int, hi: int) -> int:
    """The longest interval (ns) between consecutive fixes of ``[lo, hi)`` (0 for a single fix): whole runs
    inside the range are read from the pyramid."""
    fine_steps, coarse_steps = pyramid[2], pyramid[3]
    longest, i = 0, lo
    while i < hi - 1:  # the step from fix i to fix i + 1
        if i % COARSE == 0 and i + COARSE <= hi - 1:
            longest, i = max(longest, coarse_steps[i // COARSE]), i + COARSE
        elif i % FINE == 0 and i + FINE <= hi - 1:
            longest, i = max(longest, fine_steps[i // FINE]), i + FINE
        else:
            longest, i = max(longest, t[i + 1] - t[i]), i + 1
    return longest


@_inline
def _far(boxes: np.ndarray, b: int, cx: float, cy: float, reach: float, with_accuracy: bool) -> bool:
    """Whether every point of box ``b`` lies more than ``reach`` (plus its widest accuracy radius, if asked)
    from the scene."""
    dx = max(max(boxes[b, _MIN_X] - cx, cx - boxes[b, _MAX_X]), 0.0)
    dy = max(max(boxes[b, _MIN_Y] - cy, cy - boxes[b, _MAX_Y]), 0.0)
    limit = reach + (boxes[b, _MAX_ACC] if with_accuracy else 0.0) + GATE_SLACK_M
    return dx * dx + dy * dy > limit * limit


@_inline
def _next_near_run(pyramid, b: int, last: int, cx: float, cy: float, reach: float, with_accuracy: bool) -> int:
    """The first fine run from ``b`` to ``last`` whose box, and whose coarse run's box, come within ``reach``
    of the scene (see :func:`_far`); ``last + 1`` when none does. Every point of the trail within reach, fix or
    segment, lies in such a run."""
    fine, coarse = pyramid[0], pyramid[1]
    per_coarse = COARSE // FINE
    while b <= last:
        coarse_run = b // per_coarse
        if not _far(coarse, coarse_run, cx, cy, reach, with_accuracy):
            for near in range(b, min(last + 1, (coarse_run + 1) * per_coarse)):
                if not _far(fine, near, cx, cy, reach, with_accuracy):
                    return near
        b = (coarse_run + 1) * per_coarse
    return last + 1


@_inline
def _length(dx: float, dy: float) -> float:
    """The length of the vector (dx, dy), as GEOS measures it: sqrt(dx² + dy²) (libm's hypot is 7x slower and
    guards against overflow that metre coordinates never reach)."""
    return math.sqrt(dx * dx + dy * dy)


@_helper
def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@_inline
def _step(t, x, y, accuracy, joined, i, hi, cx, cy, r, ws, we, interp_ns) -> Step:
    """Fix ``i`` of a pair whose range ends at ``hi`` (exclusive) and the step from it to fix ``i + 1``, against
    the zone of radius ``r`` around ``(cx, cy)`` and the window ``[ws, we]``. A step is a segment when it takes
    at most ``interp_ns`` and is ``joined`` (not a jump faster than anyone travels)."""
    t0 = t[i]
    dx0, dy0 = x[i] - cx, y[i] - cy
    fix_d = _length(dx0, dy0)
    fix_in_window = ws <= t0 <= we
    has_next = i + 1 < hi
    dt = t[i + 1] - t0 if has_next else 0
    step_overlaps = has_next and t0 <= we and t0 + dt >= ws
    is_segment = has_next and dt <= interp_ns and joined[i]
    seg_valid = step_overlaps and is_segment
    u, seg_d, seg_in_zone, enter_ns, leave_ns = 0.0, np.inf, False, t0, t0
    if seg_valid:
        vx, vy = x[i + 1] - x[i], y[i + 1] - y[i]
        # the segment clipped to the window, as fractions u of the step; its closest point to the scene
        u_lo = _clip((ws - t0) / dt, 0.0, 1.0) if dt > 0 and ws > t0 else 0.0
        u_hi = _clip((we - t0) / dt, 0.0, 1.0) if dt > 0 and we < t0 + dt else 1.0
        vv = vx * vx + vy * vy
        dv = dx0 * vx + dy0 * vy
        u = _clip(-dv / vv if vv > 0 else u_lo, u_lo, u_hi)
        seg_d = _length(dx0 + u * vx, dy0 + u * vy)
        if seg_d <= r + _CROSSING_SLACK_M:  # else the clipped segment cannot meet the zone
            # the part of the segment inside the zone: |D + uV|^2 <= r^2, a quadratic in u
            c0 = dx0 * dx0 + dy0 * dy0 - r * r
            disc = dv * dv - vv * c0
            if vv > 0:
                root = math.sqrt(max(disc, 0.0))
                enter, leave = (-dv - root) / vv, (-dv + root) / vv
            else:
                enter, leave = (0.0, 1.0) if c0 <= 0 else (np.inf, -np.inf)
            enter, leave = max(enter, u_lo), min(leave, u_hi)
            if (disc >= 0 or vv == 0) and enter <= leave:
                seg_in_zone = True
                enter_ns, leave_ns = t0 + np.int64(np.rint(enter * dt)), t0 + np.int64(np.rint(leave * dt))
    return Step(fix_d, fix_in_window, fix_in_window and fix_d <= r, fix_in_window and fix_d <= r + accuracy[i], dt,
                step_overlaps, is_segment, seg_valid, u, seg_d, seg_in_zone, enter_ns, leave_ns)


@_inline
def _window_distance(step: Step) -> float:
    """The smallest distance (m) of a point of the trail in the window that the step measured (inf if none)."""
    return min(step.fix_d if step.fix_in_window else np.inf, step.seg_d)


@_helper
def _speed(t, x, y, a) -> float:
    """Speed (m/s) on the step from fix ``a`` to fix ``a + 1``, which must take some time."""
    return _length(x[a + 1] - x[a], y[a + 1] - y[a]) / ((t[a + 1] - t[a]) / NS)


@_helper
def _segment_speed(t, x, y, subject, joined, a, interp_s) -> float:
    """Speed (m/s) on the step from fix ``a`` to fix ``a + 1`` if it is a segment of one subject, else 0."""
    if a < 0 or a + 1 >= len(t) or subject[a] != subject[a + 1] or not joined[a]:
        return 0.0
    dt = (t[a + 1] - t[a]) / NS
    return _speed(t, x, y, a) if 0 < dt <= interp_s else 0.0


@_helper
def _plausible_speed(t, x, y, subject, joined, i, interp_s, walk_mps, top_mps):
    """The plausible speed (m/s) through the gap from fix ``i`` and what set it (a ``SPEED_*`` code): the
    faster of the segments just before and after the gap, at least ``walk_mps`` and at most ``top_mps``."""
    before = _segment_speed(t, x, y, subject, joined, i - 1, interp_s)
    after = _segment_speed(t, x, y, subject, joined, i + 1, interp_s)
    speed, basis = walk_mps, SPEED_WALK
    if before > speed:
        speed, basis = before, SPEED_BEFORE
    if after > speed:
        speed, basis = after, SPEED_AFTER
    if speed > top_mps:
        speed, basis = top_mps, SPEED_CAP
    return speed, basis


@_helper
def _gap_possible(t, x, y, i, step: Step, speed, cx, cy, r, ws, we, possible_ns) -> bool:
    """Whether the step from fix ``i`` is a short gap from which the zone was reachable, and left again, at the
    plausible speed ``speed`` (m/s) within the window."""
    if not step.step_overlaps or step.is_segment or step.dt > possible_ns:
        return False
    speed_per_ns = speed / NS
    arrive = max(step.fix_d - r, 0.0) / speed_per_ns
    depart = step.dt - max(_length(x[i + 1] - cx, y[i + 1] - cy) - r, 0.0) / speed_per_ns
    return arrive <= depart and arrive <= we - t[i] and depart >= ws - t[i]


@_kernel
def presence(t, x, y, accuracy, subject, joined, pyramid, gap_starts, crime, lo, hi, cx, cy, r, ws, we, interp_s,
             possible_s, walk_mps, top_mps):
    """For each pair (crime number, fix range ``[lo, hi)``): its presence class code (``NONE`` when no hit),
    an upper bound (m) on its closest approach during the window (inf when none was seen), and what made a
    ``possible`` hit: the first fix found whose accuracy circle reaches the zone (``NO_FIX`` if none), else the
    fix starting the gap, with the plausible speed (m/s) and its ``SPEED_*`` code.

    ``pyramid`` is :func:`box_pyramid` over all fixes. ``gap_starts`` (sorted) are the fixes that start a gap
    short enough to make a ``possible`` hit; gaps cannot be gated by boxes, so every one in the range is tested.
    """
    interp_ns, possible_ns = np.int64(round(interp_s * NS)), np.int64(round(possible_s * NS))
    n = len(lo)
    found = np.full(n, NONE, dtype=np.int8)
    bound = np.full(n, np.inf)
    circle_fix, gap_fix = np.full(n, NO_FIX, np.int64), np.full(n, NO_FIX, np.int64)
    gap_speed, gap_basis = np.full(n, np.nan), np.zeros(n, np.int8)
    for p in range(n):
        c, start, end = crime[p], lo[p], hi[p]
        scx, scy, sr, sws, swe = cx[c], cy[c], r[c], ws[c], we[c]
        best, near = NONE, np.inf
        # every fix and segment near the zone, and every fix whose accuracy circle may reach it
        b = _next_near_run(pyramid, start // FINE, (end - 1) // FINE, scx, scy, sr, True)
        while b <= (end - 1) // FINE and best != OBSERVED:
            for i in range(max(start, b * FINE), min(end, (b + 1) * FINE)):
                step = _step(t, x, y, accuracy, joined, i, end, scx, scy, sr, sws, swe, interp_ns)
                near = min(near, _window_distance(step))
                if step.fix_in_zone:
                    best = OBSERVED
                    break
                if step.seg_in_zone:
                    best = min(best, INTERPOLATED)
                elif step.fix_reaches_zone:
                    best = min(best, POSSIBLE)
                    if circle_fix[p] == NO_FIX:
                        circle_fix[p] = i
            b = _next_near_run(pyramid, b + 1, (end - 1) // FINE, scx, scy, sr, True)
        if best == NONE:
            for k in range(np.searchsorted(gap_starts, start), len(gap_starts)):  # those before the range's end
                i = gap_starts[k]
                if i >= end - 1:
                    break
                step = _step(t, x, y, accuracy, joined, i, end, scx, scy, sr, sws, swe, interp_ns)
                near = min(near, _window_distance(step))
                speed, basis = _plausible_speed(t, x, y, subject, joined, i, interp_s, walk_mps, top_mps)
                if _gap_possible(t, x, y, i, step, speed, scx, scy, sr, sws, swe, possible_ns) and best == NONE:
                    best = POSSIBLE
                    gap_fix[p], gap_speed[p], gap_basis[p] = i, speed, basis
        found[p], bound[p] = best, near
    return found, bound, circle_fix, gap_fix, gap_speed, gap_basis


@_helper
def _window_has_trail(t, joined, lo, hi, ws, we, interp_ns) -> bool:
    """Whether any of the trail lies in the window: a fix in it, or a segment (not a gap) across it. The range
    ``[lo, hi)`` starts with the last fix before the window (if any), so its first two fixes tell."""
    second = min(lo + 1, hi - 1)
    t0, t1 = t[lo], t[second]
    return ws <= t0 <= we or ws <= t1 <= we or (second > lo and t0 < ws and t1 > we and t1 - t0 <= interp_ns
                                                and joined[lo])


@_helper
def _window_bound(t, pyramid, start: int, end: int, cx: float, cy: float, a: int, b: int) -> float:
    """An upper bound (m) on the closest approach to the scene of the fixes of ``[start, end)`` in the window
    ``[a, b]`` (inf if unknown): the least distance from the scene to the farthest corner of a fine run's box
    whose every fix lies in the range and in the window. Every fix of such a run is a candidate, no farther."""
    fine = pyramid[0]
    bound = np.inf
    for run in range((start + FINE - 1) // FINE, (end - 1) // FINE):
        if t[run * FINE] < a or t[(run + 1) * FINE] > b:  # the run's fixes lie in the range: only its times tell
            continue
        dx = max(abs(fine[run, _MIN_X] - cx), abs(fine[run, _MAX_X] - cx))
        dy = max(abs(fine[run, _MIN_Y] - cy), abs(fine[run, _MAX_Y] - cy))
        bound = min(bound, _length(dx, dy))
    return bound


@_kernel
def measure(t, x, y, accuracy, source, joined, pyramid, crime, lo, hi, cutoff, cx, cy, r, ws, we, cs, ce,
            interp_s):
    """Measure each hit (crime number, fix range ``[lo, hi)`` covering the padded window) over its padded
    window ``[ws, we]`` and its committed window ``[cs, ce]`` (inside it) in one walk; ``cutoff`` is an upper
    bound (m) on its closest approach in the padded window (inf if unknown).

    Closest approach: over the fixes in the window and the points of its segments clipped to it (a pair with no
    trail in its padded window falls back to the fixes either side; in the committed window it stays
    unmeasured: inf); the earliest of equal bests wins. In the padded window it is a fix (``closest_a`` that fix,
    ``closest_b`` = ``NO_FIX``) or a point strictly between the two fixes of a segment (``closest_a``,
    ``closest_b = closest_a + 1``). Runs farther from the scene than the zone's radius and than the best approach
    found so far in both windows are skipped (branch and bound): they can hold neither a moment in the zone nor a
    closer point. A step wholly inside the committed window measures the same in both windows; only the steps
    across its bounds are measured again.

    Returns arrays: distance (m), time (ns), x, y (m), speed (m/s), accuracy (m, NaN unknown) and source code
    at the closest point; first in and last out (ns, NAT if never in the zone); time in the zone (ns); fixes
    in the zone; longest interval between fixes in the range (ns); the closest approach's fixes; then over the
    committed window: distance (m), time (ns), time in the zone (ns) and fixes in the zone.
    """
    interp_ns = np.int64(round(interp_s * NS))
    n = len(lo)
    distance, closest_ns = np.full(n, np.inf), np.full(n, NAT)
    closest_x, closest_y, speed, acc = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    src = np.zeros(n, dtype=source.dtype)
    closest_a, closest_b = np.full(n, NO_FIX, np.int64), np.full(n, NO_FIX, np.int64)
    first_in, last_out = np.full(n, NAT), np.full(n, NAT)
    zone_ns, fixes_in_zone, longest_step = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    c_distance, c_closest_ns = np.full(n, np.inf), np.full(n, NAT)
    c_zone_ns, c_fixes_in_zone = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for p in range(n):
        c, start, end = crime[p], lo[p], hi[p]
        scx, scy, sr, sws, swe, scs, sce = cx[c], cy[c], r[c], ws[c], we[c], cs[c], ce[c]
        fallback = not _window_has_trail(t, joined, start, end, sws, swe, interp_ns)
        best, enter, leave = np.inf, NEVER, NAT
        best_c = np.inf
        bound = min(cutoff[p], _window_bound(t, pyramid, start, end, scx, scy, sws, swe))
        bound_c = _window_bound(t, pyramid, start, end, scx, scy, scs, sce)
        last = (end - 1) // FINE
        b = _next_near_run(pyramid, start // FINE, last, scx, scy, max(min(bound, best), min(bound_c, best_c), sr),
                           False)
        while b <= last:
            for i in range(max(start, b * FINE), min(end, (b + 1) * FINE)):
                step = _step(t, x, y, accuracy, joined, i, end, scx, scy, sr, sws, swe, interp_ns)
                if (step.fix_in_window or fallback) and step.fix_d < best:
                    best = step.fix_d
                    closest_ns[p], closest_x[p], closest_y[p] = t[i], x[i], y[i]
                    closest_a[p], closest_b[p] = i, NO_FIX
                    speed[p] = _mean_speed_at(t, x, y, joined, i, start, end, interp_ns)
                    acc[p], src[p] = accuracy[i], source[i]
                u = step.seg_u
                if step.seg_valid and 0 < u < 1 and step.seg_d < best:
                    best = step.seg_d
                    closest_ns[p] = t[i] + np.int64(np.rint(u * step.dt))
                    closest_x[p], closest_y[p] = x[i] + u * (x[i + 1] - x[i]), y[i] + u * (y[i + 1] - y[i])
                    closest_a[p], closest_b[p] = i, i + 1
                    speed[p], acc[p] = _speed(t, x, y, i), max(_known(accuracy[i]), _known(accuracy[i + 1]))
                    src[p] = source[i] if u < 0.5 else source[i + 1]
                if step.fix_in_zone:
                    enter, leave = min(enter, t[i]), max(leave, t[i])
                    fixes_in_zone[p] += 1
                if step.seg_in_zone:
                    enter, leave = min(enter, step.enter_ns), max(leave, step.leave_ns)
                    zone_ns[p] += step.leave_ns - step.enter_ns
                # the committed window: the same step when it lies wholly inside, else measured against it
                t_next = t[i] + step.dt
                if t[i] <= sce and t_next >= scs:
                    inside = t[i] >= scs and t_next <= sce
                    cstep = step if inside else _step(t, x, y, accuracy, joined, i, end, scx, scy, sr, scs, sce,
                                                      interp_ns)
                    if cstep.fix_in_window and cstep.fix_d < best_c:
                        best_c, c_closest_ns[p] = cstep.fix_d, t[i]
                    u = cstep.seg_u
                    if cstep.seg_valid and 0 < u < 1 and cstep.seg_d < best_c:
                        best_c, c_closest_ns[p] = cstep.seg_d, t[i] + np.int64(np.rint(u * cstep.dt))
                    c_fixes_in_zone[p] += cstep.fix_in_zone
                    if cstep.seg_in_zone:
                        c_zone_ns[p] += cstep.leave_ns - cstep.enter_ns
            b = _next_near_run(pyramid, b + 1, last, scx, scy, max(min(bound, best), min(bound_c, best_c), sr), False)
        distance[p], c_distance[p] = best, best_c
        first_in[p], last_out[p] = (enter, leave) if enter != NEVER else (NAT, NAT)
        if not acc[p] > 0:
            acc[p] = np.nan
        longest_step[p] = _longest_step(t, pyramid, start, end)
    return (distance, closest_ns, closest_x, closest_y, speed, acc, src, first_in, last_out, zone_ns, fixes_in_zone,
            longest_step, closest_a, closest_b, c_distance, c_closest_ns, c_zone_ns, c_fixes_in_zone)


@_helper
def _mean_speed_at(t, x, y, joined, i, lo, hi, interp_ns) -> float:
    """At fix ``i`` of the range ``[lo, hi)``, the mean speed (m/s) of the segments either side of it within
    the range (NaN when it has none)."""
    total, count = 0.0, 0
    for a in (i - 1, i):
        if lo <= a and a + 1 < hi:
            dt = t[a + 1] - t[a]
            if 0 < dt <= interp_ns and joined[a]:
                total += _speed(t, x, y, a)
                count += 1
    return total / count if count else np.nan


@_kernel
def circle_reach(t, x, y, accuracy, pyramid, crime, lo, hi, cx, cy, r, ws, we):
    """For each pair (crime number, range ``[lo, hi)`` of fallback fixes): the fix in the window whose accuracy
    circle comes nearest the scene (its distance less its radius; the earliest of equals) when that circle
    reaches the zone, else ``NO_FIX``. ``pyramid`` is :func:`box_pyramid` over the fallback fixes: runs whose
    every circle stays out of the zone are skipped (none of their fixes can be the answer)."""
    n = len(lo)
    found = np.full(n, NO_FIX, np.int64)
    for p in range(n):
        c, start, end = crime[p], lo[p], hi[p]
        best = np.inf
        last = (end - 1) // FINE
        b = _next_near_run(pyramid, start // FINE, last, cx[c], cy[c], r[c], True)
        while b <= last:
            for i in range(max(start, b * FINE), min(end, (b + 1) * FINE)):
                if ws[c] <= t[i] <= we[c]:
                    margin = _length(x[i] - cx[c], y[i] - cy[c]) - _known(accuracy[i])
                    if margin < best:
                        best, found[p] = margin, i
            b = _next_near_run(pyramid, b + 1, last, cx[c], cy[c], r[c], True)
        if not best <= r[c]:
            found[p] = NO_FIX
    return found


@_helper
def _subject_gaps(t, quality, joined, g, s, e, interp_ns, cov_a, cov_b, at_cov, good_a, good_b, at_good):
    """Writes the gaps of one subject's fixes ``[s, e)`` over all fixes and over the ok fixes (see
    :func:`coverage_gaps`; ``g`` is the number of its first ok fix among the ok fixes) from ``at_cov`` /
    ``at_good``; returns how many of each and how many ok fixes the subject has."""
    n_cov = n_good = 0
    g0 = g
    cov_end = good_end = NAT  # where the last covering step ends
    prev, prev_ok = -1, -1
    for j in range(s, e):
        q = quality[j]
        if q == 2:
            continue
        if prev >= 0 and t[j] - t[prev] <= interp_ns:
            # two ok fixes in a row are consecutive ok fixes too: ``joined`` says whether the step is a jump
            if not (quality[prev] == 0 and q == 0 and not joined[g - 1]):
                if t[prev] > cov_end:
                    cov_a[at_cov + n_cov], cov_b[at_cov + n_cov] = cov_end, t[prev]
                    n_cov += 1
                cov_end = t[j]
        if q == 0:
            if prev_ok >= 0 and t[j] - t[prev_ok] <= interp_ns and joined[g - 1]:
                if t[prev_ok] > good_end:
                    good_a[at_good + n_good], good_b[at_good + n_good] = good_end, t[prev_ok]
                    n_good += 1
                good_end = t[j]
            prev_ok = j
            g += 1
        prev = j
    cov_a[at_cov + n_cov], cov_b[at_cov + n_cov] = cov_end, NEVER
    good_a[at_good + n_good], good_b[at_good + n_good] = good_end, NEVER
    return n_cov + 1, n_good + 1, g - g0


@_kernel
def _all_gaps(t, quality, joined, starts, ends, interp_ns, covered, good) -> None:
    """Writes :func:`coverage_gaps` into ``covered`` and ``good`` (each ``(gap_a, gap_b, offsets)``, the gap
    arrays long enough for the most there can be)."""
    cov_a, cov_b, cov_off = covered
    good_a, good_b, good_off = good
    g = 0
    for k in range(len(starts)):
        n_cov, n_good, n_ok = _subject_gaps(t, quality, joined, g, starts[k], ends[k], interp_ns, cov_a, cov_b,
                                            cov_off[k], good_a, good_b, good_off[k])
        cov_off[k + 1], good_off[k + 1], g = cov_off[k] + n_cov, good_off[k] + n_good, g + n_ok


def coverage_gaps(t, quality, joined, starts, ends, interp_s):
    """The gaps of each subject's trail, once for all its windows: for all fixes and for the ok fixes only,
    the open intervals ``(gap_a, gap_b)`` (ns) covered by no step, in time order, ``NAT`` / ``NEVER`` standing
    for the time before the first step and after the last; subject ``k``'s are ``[offsets[k], offsets[k + 1])``
    (``starts``/``ends`` delimit the subjects' fixes, all fixes sorted by subject then time, ``quality`` 0 ok,
    1 fallback, 2 outlier).

    Outliers are left out. A step between consecutive fixes of at most ``interp_s`` covers its time, unless both
    are ``ok`` and it is a jump. Among the ok fixes only, ok fixes with fallback fixes between them count as
    consecutive. ``joined`` is :func:`joined_steps` over the ok fixes (in the same order): whether the step from
    each ok fix to the next is joined (not a jump).

    Found in one pass: a subject has at most one gap per fix and one more, so arrays that long are reserved
    (numpy's: only the pages written are ever touched) and the gaps found are copied out.

    Returns ``(covered, good)``, each ``(gap_a, gap_b, offsets)``.
    """
    room = len(t) + len(starts)
    found = [(np.empty(room, np.int64), np.empty(room, np.int64), np.zeros(len(starts) + 1, np.int64))
             for _ in range(2)]
    _all_gaps(t, quality, joined, starts, ends, np.int64(round(interp_s * NS)), *found)
    return tuple((gap_a[:offsets[-1]].copy(), gap_b[:offsets[-1]].copy(), offsets) for gap_a, gap_b, offsets in found)


@_helper
def _first_gap_after(gap_b, lo: int, hi: int, at: int) -> int:
    """The first of the gaps ``[lo, hi)`` that ends after ``at`` (ns) (there is one: the last ends ``NEVER``)."""
    return lo + np.searchsorted(gap_b[lo:hi], at, side="right")


@_helper
def _uncovered(gap_a, gap_b, lo: int, hi: int, wa: int, wb: int):
    """Over the window ``[wa, wb]`` (``wa < wb``) and the gaps ``[lo, hi)``: the time (ns) in gaps, the number
    of gaps that meet it and the longest part of one inside it (ns)."""
    total, count, widest = np.int64(0), 0, np.int64(0)
    g = _first_gap_after(gap_b, lo, hi, wa)
    while g < hi and gap_a[g] < wb:
        piece = min(gap_b[g], wb) - max(gap_a[g], wa)
        total, count, widest = total + piece, count + 1, max(widest, piece)
        g += 1
    return total, count, widest


@_helper
def _in_gap(gap_a, gap_b, lo: int, hi: int, at: int) -> bool:
    """Whether the instant ``at`` (ns) lies inside one of the gaps ``[lo, hi)``."""
    return gap_a[_first_gap_after(gap_b, lo, hi, at)] < at


@_kernel
def coverage(t, quality, first, last, subject_slot, covered_gaps, good_gaps, a, b):
    """How the tag covered each window ``[a[p], b[p]]`` (ns) of a subject whose fixes are ``[first[p],
    last[p])`` (all fixes, sorted by time, with ``quality`` codes 0 ok, 1 fallback, 2 outlier) and whose gaps
    are number ``subject_slot[p]`` of ``covered_gaps`` (:func:`coverage_gaps` over every fix) and ``good_gaps``
    (the same over the ok fixes only).

    Time in no gap of the ok fixes is covered by good fixes; time in no gap of all fixes but in one of the ok
    fixes by fallback fixes only; the rest is gap. Returns per window: the shares (0..1) covered by good fixes,
    by fallback fixes only and by gaps, the longest gap (ns) and the number of gaps. A window of no length takes
    the class of its instant (a fix at that instant counts, outliers left out).
    """
    cov_a, cov_b, cov_off = covered_gaps
    good_a, good_b, good_off = good_gaps
    n = len(first)
    good_share, fallback_share, gap_share = np.zeros(n), np.zeros(n), np.zeros(n)
    longest, n_gaps = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for p in range(n):
        k, wa, wb = subject_slot[p], a[p], b[p]
        length = wb - wa
        if length > 0:
            uncovered, gaps, widest = _uncovered(cov_a, cov_b, cov_off[k], cov_off[k + 1], wa, wb)
            not_good = _uncovered(good_a, good_b, good_off[k], good_off[k + 1], wa, wb)[0]
            covered, good = length - uncovered, length - not_good
            good_share[p] = good / length
            fallback_share[p] = (covered - good) / length
            gap_share[p] = max(1.0 - covered / length, 0.0)
            longest[p], n_gaps[p] = widest, gaps
        else:
            ok_at = any_at = False
            j = first[p] + np.searchsorted(t[first[p]:last[p]], wa, side="left")
            while j < last[p] and t[j] == wa:
                ok_at, any_at = ok_at or quality[j] == 0, any_at or quality[j] != 2
                j += 1
            good_at = ok_at or not _in_gap(good_a, good_b, good_off[k], good_off[k + 1], wa)
            covered_at = any_at or not _in_gap(cov_a, cov_b, cov_off[k], cov_off[k + 1], wa)
            good_share[p] = 1.0 if good_at else 0.0
            fallback_share[p] = 1.0 if covered_at and not good_at else 0.0
            gap_share[p] = 0.0 if covered_at else 1.0
            n_gaps[p] = 0 if covered_at else 1
    return good_share, fallback_share, gap_share, longest, n_gaps


@_kernel
def compact(keep, columns, out) -> None:
    """Writes the fixes where ``keep`` holds into ``out`` (arrays as long as ``keep`` has true values), every
    column of ``columns`` (subject, t, x, y, accuracy, source, quality) in one pass (boolean indexing copies one
    array at a time). The caller allocates ``out`` with numpy, whose large arrays sit on huge pages: the copy
    then costs a few hundred page faults instead of tens of thousands."""
    k = 0
    for i in range(len(keep)):
        if keep[i]:
            out[0][k], out[1][k], out[2][k], out[3][k] = columns[0][i], columns[1][i], columns[2][i], columns[3][i]
            out[4][k], out[5][k], out[6][k] = columns[4][i], columns[5][i], columns[6][i]
            k += 1
