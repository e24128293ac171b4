"""Matching trails against crimes: one hit per subject x crime, with its measurements.

Definitions (all distances in metres in the metric CRS, all times UTC; bounds are inclusive). For a crime with
zone radius ``r`` around the scene ``c`` and padded window ``W = [committed_from - pad, committed_to + pad]``:

* the trail is the subject's fixes in time order; consecutive fixes at most ``interp_max_gap_s`` apart are
  joined by a straight path travelled at constant speed (a *segment*); a longer interval is a *gap*.
* ``observed``: a fix at a time in ``W`` lies within ``r`` of ``c``.
* ``interpolated``: a segment passes within ``r`` of ``c`` at a time in ``W``.
* ``possible``: a fix at a time in ``W`` whose accuracy circle reaches the zone (distance <= ``r`` + accuracy),
  or a gap of at most ``possible_max_gap_s`` overlapping ``W`` from which the zone could have been reached and
  left again at a plausible speed ``v``: the faster of the subject's own speeds on the segments just before and
  just after the gap, at least ``walk_speed_mps`` and at most ``max_speed_mps``. With ``d0``, ``d1`` the
  distances of the gap's end fixes beyond the zone, the subject could be in the zone during
  ``[t0 + d0/v, t1 - d1/v]``, which must be non-empty and meet ``W``.
* The strongest class wins: observed, then interpolated, then possible.

Measurements of a hit are taken over the trail during ``W`` (segments clipped to ``W``); see :data:`HIT_COLUMNS`.

The implementation never loops over fixes in Python. Per subject, a binary search finds each crime's window in
the subject's fixes; a two-level pyramid of bounding boxes over runs of consecutive fixes discards the runs that
cannot come near the scene; the survivors are measured exactly, row by row, with numpy; and the hits are then
measured again over their whole window. ``geomatch.oracle`` states the same rules as plain loops for the tests.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from geomatch.arrays import expand_ranges
from geomatch.config import MatchConfig
from geomatch.times import from_utc_ns, utc_ns

PRESENCE_CLASSES = ("observed", "interpolated", "possible")
HIT_DTYPES = {
    "hit_id": object, "subject_id": object, "crime_ref": object, "offence": object, "presence": object,
    "min_distance_m": float, "closest_time": "datetime64[ns, UTC]", "first_in": "datetime64[ns, UTC]",
    "last_out": "datetime64[ns, UTC]", "time_in_zone_s": float, "n_fixes_in_zone": np.int64,
    "speed_at_closest_mps": float, "accuracy_at_closest_m": float, "max_gap_s": float, "closest_x": float,
    "closest_y": float, "source_at_closest": object, "window_start": "datetime64[ns, UTC]",
    "window_end": "datetime64[ns, UTC]", "radius_m": float, "long_window": bool, "scene_x": float,
    "scene_y": float,
}
HIT_COLUMNS = list(HIT_DTYPES)
_NS = 1_000_000_000
_GATE_SLACK_M = 1e-6  # the gate compares squares, the exact test distances: never let rounding drop a row
_LEVELS = (256, 16)  # fixes per box at each level of the bounding-box pyramid, coarse to fine
_WIDE_ACCURACY_M = 50.0  # fixes with a wider accuracy radius (m) are gated in their own box index
_MEASURE_CHUNK = 10_000  # hits measured at a time (their rows: the fixes near the scene in the window)
_OBSERVED, _INTERPOLATED, _POSSIBLE, _NONE = 0, 1, 2, 3


def hit_id(subject_id: str, crime_ref: str) -> str:
    """The deterministic id of the hit of ``subject_id`` on ``crime_ref``: ``H`` + 16 hex digits of SHA-256."""
    return "H" + hashlib.sha256(f"{subject_id}\x1f{crime_ref}".encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class _Fixes:
    """Trail fixes as flat arrays sorted by subject then time; ``starts``/``ends`` delimit each subject."""

    subject: np.ndarray  # subject codes (int)
    t: np.ndarray  # int64 ns UTC
    x: np.ndarray
    y: np.ndarray
    accuracy: np.ndarray  # metres, 0 where unknown
    source: np.ndarray  # source codes
    subject_names: np.ndarray
    source_names: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    step_ns: np.ndarray  # time to the subject's next fix (ns); 0 after a subject's last fix

    @classmethod
    def from_frame(cls, trails: pd.DataFrame) -> "_Fixes":
        subject = trails["subject_id"].astype("category")
        codes = subject.cat.codes.to_numpy()
        boundaries = np.flatnonzero(np.diff(codes)) + 1
        starts = np.concatenate([[0], boundaries]) if len(codes) else np.zeros(0, dtype=np.int64)
        ends = np.concatenate([boundaries, [len(codes)]]) if len(codes) else np.zeros(0, dtype=np.int64)
        source = trails["source"].astype("category")
        t = utc_ns(trails["timestamp"])
        step = np.zeros(len(t), dtype=np.int64)
        step[:-1] = np.where(codes[1:] == codes[:-1], np.diff(t), 0)
        return cls(
            subject=codes, t=t,
            x=trails["x"].to_numpy(dtype=float), y=trails["y"].to_numpy(dtype=float),
            accuracy=np.nan_to_num(trails["accuracy_m"].to_numpy(dtype=float), nan=0.0),
            source=source.cat.codes.to_numpy(), subject_names=np.asarray(subject.cat.categories, dtype=object),
            source_names=np.asarray(source.cat.categories, dtype=object),
            starts=starts.astype(np.int64), ends=ends.astype(np.int64), step_ns=step,
        )


@dataclass(frozen=True)
class _Pairs:
    """Candidate subject x crime pairs: the crime index and the range ``[lo, hi)`` of fix indices that covers
    its window (the last fix before the window and the first after it included)."""

    crime: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def take(self, keep: np.ndarray) -> "_Pairs":
        return _Pairs(self.crime[keep], self.lo[keep], self.hi[keep])


def match_hits(trails: pd.DataFrame, crimes: pd.DataFrame, config: MatchConfig | None = None) -> pd.DataFrame:
    """Match validated trails against validated crimes.

    Args:
        trails: accepted fixes (``geomatch.trails``), sorted by ``subject_id`` then ``timestamp``, with ``x``/``y``
            in metres.
        crimes: accepted crimes (``geomatch.crimes``) with ``x``/``y`` in the same CRS.
        config: radii, paddings and trail rules.

    Returns:
        One row per hit with :data:`HIT_COLUMNS`, sorted by ``crime_ref`` then ``subject_id``.
    """
    config = config or MatchConfig()
    if trails.empty or crimes.empty:
        return _empty_hits()
    fixes = _Fixes.from_frame(trails)
    zones = _Zones.from_frame(crimes, config)
    pairs = _window_pairs(fixes, zones)
    boxes = _Boxes.build(fixes)
    gap_starts = np.flatnonzero((fixes.step_ns > round(config.interp_max_gap_s * _NS))
                                & (fixes.step_ns <= round(config.possible_max_gap_s * _NS)))
    # chunks of pairs keep the row arrays, and so the memory, bounded whatever the size of the input
    found = [_presence(fixes, zones, pairs.take(chunk), boxes, gap_starts, config)
             for chunk in _chunks(len(pairs.lo))]
    presence = np.concatenate([f[0] for f in found])
    closest_bound = np.concatenate([f[1] for f in found])
    is_hit = presence < _NONE
    hit_pairs = pairs.take(is_hit)
    measured = _measure_hits(fixes, zones, hit_pairs, boxes, closest_bound[is_hit], config)
    return _hits_frame(fixes, zones, crimes, hit_pairs, presence[is_hit], measured)


def _chunks(n: int, size: int = 50_000) -> list[slice]:
    """Consecutive slices of at most ``size`` items covering ``range(n)``."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)] or [slice(0, 0)]


@dataclass(frozen=True)
class _Zones:
    """Crime zones as arrays: scene ``cx``/``cy`` (m), radius ``r`` (m), padded window ``ws``/``we`` (ns)."""

    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray
    ws: np.ndarray
    we: np.ndarray

    @classmethod
    def from_frame(cls, crimes: pd.DataFrame, config: MatchConfig) -> "_Zones":
        radius = np.array([config.rule(o).radius_m for o in crimes["offence"]], dtype=float)
        ws, we = padded_windows(crimes, config)
        return cls(cx=crimes["x"].to_numpy(float), cy=crimes["y"].to_numpy(float), r=radius, ws=ws, we=we)


def padded_windows(crimes: pd.DataFrame, config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each crime's padded window ``[committed_from - pad, committed_to + pad]`` as int64 ns UTC, exactly as
    the matcher uses it (for engines that split the work by time)."""
    pad_ns = np.array([round(config.rule(o).pad_s * _NS) for o in crimes["offence"]], dtype=np.int64)
    return utc_ns(crimes["committed_from"]) - pad_ns, utc_ns(crimes["committed_to"]) + pad_ns


def _window_pairs(fixes: _Fixes, zones: _Zones) -> _Pairs:
    """Every subject x crime pair whose fixes reach into the window, found by binary search per subject."""
    crime_idx, lo_all, hi_all = [], [], []
    all_crimes = np.arange(len(zones.ws))
    for start, end in zip(fixes.starts, fixes.ends):
        t = fixes.t[start:end]
        first_at_or_after = np.searchsorted(t, zones.ws, side="left")
        first_after = np.searchsorted(t, zones.we, side="right")
        lo = np.maximum(first_at_or_after - 1, 0)
        hi = np.minimum(first_after + 1, end - start)
        # fixes inside the window, or a step between two fixes that spans it; a trail that ends before the
        # window or starts after it says nothing about it
        keep = (first_after > first_at_or_after) | ((first_at_or_after > 0) & (first_after < end - start))
        crime_idx.append(all_crimes[keep])
        lo_all.append(lo[keep] + start)
        hi_all.append(hi[keep] + start)
    if not crime_idx:
        return _Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return _Pairs(np.concatenate(crime_idx), np.concatenate(lo_all), np.concatenate(hi_all))


@dataclass(frozen=True)
class _BoxIndex:
    """Bounding boxes of runs of consecutive fixes, coarse to fine (one level per size in ``_LEVELS``), over
    all fixes or a subset of them given by their global indices.

    Box ``b`` of size ``B`` covers fixes ``b*B`` to ``(b+1)*B`` inclusive, so the segment leaving the run lies
    inside it too; each box also carries the largest accuracy radius (m) among its fixes.
    """

    index: np.ndarray | None  # global fix indices of the subset (sorted), None for all fixes
    levels: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray, accuracy: np.ndarray, index: np.ndarray | None = None):
        n = len(x)
        if n == 0:
            return cls(index, ())
        fine = _LEVELS[-1]
        following = np.minimum((np.arange(-(-n // fine)) + 1) * fine, n - 1)
        reducers = (np.minimum, np.maximum, np.minimum, np.maximum, np.maximum)
        boxes = tuple(f(_reduce_runs(f, v, fine), v[following]) for v, f in zip((x, x, y, y, accuracy), reducers))
        levels = [(fine,) + boxes]
        for size in reversed(_LEVELS[:-1]):
            levels.insert(0, (size,) + tuple(_reduce_runs(f, v, size // fine) for v, f in zip(boxes, reducers)))
        return cls(index, tuple(levels))

    def gate(self, zones: _Zones, pairs: _Pairs, reach: np.ndarray, with_accuracy: bool,
             nearest: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(pair number, global fix index) rows, sorted and unique, of the fixes whose neighbourhood may come
        within ``reach`` metres (per pair) of the pair's scene; ``with_accuracy`` widens it by each run's
        largest accuracy radius.

        Runs whose box lies farther from the scene are discarded level by level. Every point of the trail
        within reach, fix or segment, lies in a surviving run. With ``nearest`` (branch and bound), runs are also
        discarded when they lie farther than some other run's farthest corner, among runs holding a fix inside
        the window: the closest point of the trail in the window, and everything within the zone's radius, are
        kept.
        """
        lo, hi = pairs.lo, pairs.hi
        if self.index is not None:
            lo, hi = np.searchsorted(self.index, lo), np.searchsorted(self.index, hi)
        owner = np.flatnonzero(hi > lo)
        lo, hi = lo[owner], hi[owner]
        for size, min_x, max_x, min_y, max_y, max_acc in self.levels:
            box_owner, box = expand_ranges(lo // size, (hi - 1) // size + 1)
            pair = owner[box_owner]
            cx, cy = zones.cx[pairs.crime[pair]], zones.cy[pairs.crime[pair]]
            dx = np.maximum(np.maximum(min_x[box] - cx, cx - max_x[box]), 0.0)
            dy = np.maximum(np.maximum(min_y[box] - cy, cy - max_y[box]), 0.0)
            limit = reach[pair] + (max_acc[box] if with_accuracy else 0.0) + _GATE_SLACK_M
            distance2 = dx * dx + dy * dy
            near = distance2 <= limit * limit
            if nearest:
                far2 = np.maximum(np.abs(min_x[box] - cx), np.abs(max_x[box] - cx)) ** 2 + np.maximum(
                    np.abs(min_y[box] - cy), np.abs(max_y[box] - cy)) ** 2
                first = np.maximum(lo[box_owner], box * size)
                last = np.minimum(hi[box_owner], (box + 1) * size + 1) - 1
                near &= distance2 <= _nearest_bound2(zones, pairs, pair, far2, first, last)
            box_owner, box = box_owner[near], box[near]
            owner = owner[box_owner]
            lo = np.maximum(lo[box_owner], box * size)
            hi = np.minimum(hi[box_owner], (box + 1) * size + 1)  # the fix after the run closes its last segment
        row_owner, position = expand_ranges(lo, hi)
        pair = owner[row_owner]
        index = position if self.index is None else self.index[position]
        # neighbouring runs share their boundary fix: keep each (pair, fix) once
        unique = np.ones(len(pair), dtype=bool)
        unique[1:] = (pair[1:] != pair[:-1]) | (index[1:] != index[:-1])
        return pair[unique], index[unique]


def _nearest_bound2(zones: _Zones, pairs: _Pairs, pair: np.ndarray, far2: np.ndarray, first: np.ndarray,
                    last: np.ndarray) -> np.ndarray:
    """For box rows of ``pair`` (sorted) holding fixes ``first..last`` with farthest corner ``far2`` (m²): the
    squared distance beyond which a box cannot hold the pair's closest point in the window. That is the pair's
    smallest farthest corner over boxes holding a fix strictly inside its range (so inside its window), and
    never less than its zone's radius (the zone is always kept)."""
    inside = np.maximum(first, pairs.lo[pair] + 1) <= np.minimum(last, pairs.hi[pair] - 2)
    bound2 = _min_by_pair(pair, np.where(inside, far2, np.inf), len(pairs.lo))[pair]
    radius = zones.r[pairs.crime[pair]] + _GATE_SLACK_M
    return np.maximum(bound2, radius * radius) * (1 + 1e-12) + _GATE_SLACK_M


def _reduce_runs(ufunc: np.ufunc, values: np.ndarray, size: int) -> np.ndarray:
    """``ufunc`` reduced over consecutive runs of ``size`` values (the last run may be shorter)."""
    full = len(values) // size
    out = ufunc.reduce(values[: full * size].reshape(full, size), axis=1)
    return np.append(out, ufunc.reduce(values[full * size:])) if len(values) > full * size else out


@dataclass(frozen=True)
class _Boxes:
    """Box indexes over the trail: ``main`` over every fix (accuracy radii above ``_WIDE_ACCURACY_M`` left
    out), ``wide`` over only the fixes with such wide radii (cell-tower or Wi-Fi fallbacks), so that a few wide
    fixes do not make every run near every scene."""

    main: _BoxIndex
    wide: _BoxIndex

    @classmethod
    def build(cls, fixes: _Fixes) -> "_Boxes":
        wide = fixes.accuracy > _WIDE_ACCURACY_M
        main = _BoxIndex.build(fixes.x, fixes.y, np.where(wide, 0.0, fixes.accuracy))
        index = np.flatnonzero(wide)
        return cls(main, _BoxIndex.build(fixes.x[index], fixes.y[index], fixes.accuracy[index], index))


@dataclass(frozen=True)
class _Rows:
    """Exact per-row quantities for (pair, fix i) rows: the fix, and the segment from fix i to fix i+1."""

    pair: np.ndarray
    i: np.ndarray
    fix_in_window: np.ndarray
    fix_d: np.ndarray
    fix_in_zone: np.ndarray
    fix_reaches_zone: np.ndarray
    next_d_in_window: np.ndarray  # distance of fix i+1 when it is in the pair's range and window, else inf
    seg_valid: np.ndarray  # a segment (not a gap) whose time span meets the window
    seg_d: np.ndarray  # closest distance on the clipped segment (inf when not valid)
    seg_u: np.ndarray  # where on the segment (0..1) that closest point lies
    seg_in_zone: np.ndarray
    seg_enter_ns: np.ndarray
    seg_leave_ns: np.ndarray
    seg_dt_ns: np.ndarray
    seg_speed_mps: np.ndarray  # speed along the step when it is a segment (not a gap), else NaN
    step_overlaps: np.ndarray  # the interval to the next fix meets the window
    gap_possible: np.ndarray


def _fixes_reaching(fixes: _Fixes, zones: _Zones, pairs: _Pairs, pair: np.ndarray,
                    i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (pair, fix) rows: whether the fix, in the window, has an accuracy circle reaching the zone, and its
    distance (m) when in the window (inf otherwise). The fix alone, for the wide-accuracy fixes."""
    crime = pairs.crime[pair]
    t = fixes.t[i]
    distance = np.hypot(fixes.x[i] - zones.cx[crime], fixes.y[i] - zones.cy[crime])
    in_window = (t >= zones.ws[crime]) & (t <= zones.we[crime])
    return in_window & (distance <= zones.r[crime] + fixes.accuracy[i]), np.where(in_window, distance, np.inf)


def _rows(fixes: _Fixes, zones: _Zones, pairs: _Pairs, pair: np.ndarray, i: np.ndarray,
          config: MatchConfig, *, gaps: bool = False) -> _Rows:
    """Measure each (pair, fix) row exactly: the fix itself and the step to the next fix of the same pair range
    (and, with ``gaps``, whether that step is a gap from which the zone was reachable)."""
    crime = pairs.crime[pair]
    cx, cy, r, ws, we = zones.cx[crime], zones.cy[crime], zones.r[crime], zones.ws[crime], zones.we[crime]
    t0 = fixes.t[i]
    dx0, dy0 = fixes.x[i] - cx, fixes.y[i] - cy
    fix_d = np.hypot(dx0, dy0)
    fix_in_window = (t0 >= ws) & (t0 <= we)
    fix_in_zone = fix_in_window & (fix_d <= r)
    fix_reaches_zone = fix_in_window & (fix_d <= r + fixes.accuracy[i])

    has_next = i + 1 < pairs.hi[pair]
    j = np.where(has_next, i + 1, i)
    t1 = fixes.t[j]
    dt = (t1 - t0).astype(np.int64)
    step_overlaps = has_next & (t0 <= we) & (t1 >= ws)
    next_d = np.hypot(fixes.x[j] - cx, fixes.y[j] - cy)
    next_d_in_window = np.where(has_next & (t1 >= ws) & (t1 <= we), next_d, np.inf)
    is_segment = has_next & (dt <= round(config.interp_max_gap_s * _NS))
    seg_valid = step_overlaps & is_segment
    vx, vy = fixes.x[j] - fixes.x[i], fixes.y[j] - fixes.y[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_speed = np.where(is_segment & (dt > 0), np.hypot(vx, vy) / (dt / _NS), np.nan)

    dt_safe = np.where(dt > 0, dt, 1).astype(float)
    u_lo = np.clip((ws - t0) / dt_safe, 0.0, 1.0)
    u_hi = np.clip((we - t0) / dt_safe, 0.0, 1.0)
    u_hi = np.where(dt > 0, u_hi, 1.0)
    u_lo = np.where(dt > 0, u_lo, 0.0)
    vv = vx * vx + vy * vy
    dv = dx0 * vx + dy0 * vy
    with np.errstate(invalid="ignore", divide="ignore"):
        u_star = np.where(vv > 0, -dv / vv, u_lo)
    u_star = np.clip(u_star, u_lo, u_hi)
    seg_d = np.where(seg_valid, np.hypot(dx0 + u_star * vx, dy0 + u_star * vy), np.inf)

    # the part of the segment inside the zone: |D + uV|^2 <= r^2, a quadratic in u
    c0 = dx0 * dx0 + dy0 * dy0 - r * r
    disc = dv * dv - vv * c0
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        enter = np.where(vv > 0, (-dv - root) / vv, np.where(c0 <= 0, 0.0, np.inf))
        leave = np.where(vv > 0, (-dv + root) / vv, np.where(c0 <= 0, 1.0, -np.inf))
    touches = (disc >= 0) | (vv == 0)
    enter = np.maximum(enter, u_lo)
    leave = np.minimum(leave, u_hi)
    seg_in_zone = seg_valid & touches & (enter <= leave)
    seg_enter_ns = t0 + np.round(np.where(seg_in_zone, enter, 0.0) * dt).astype(np.int64)
    seg_leave_ns = t0 + np.round(np.where(seg_in_zone, leave, 0.0) * dt).astype(np.int64)

    gap_possible = np.zeros(len(i), dtype=bool)
    if gaps:  # the earliest arrival at the zone and the latest departure from it, in ns after the gap starts
        is_gap = step_overlaps & ~is_segment & (dt <= round(config.possible_max_gap_s * _NS))
        speed_per_ns = _gap_speed_mps(fixes, i, is_gap, config) / _NS
        arrive = np.maximum(fix_d - r, 0.0) / speed_per_ns
        depart = dt - np.maximum(next_d - r, 0.0) / speed_per_ns
        gap_possible = is_gap & (arrive <= depart) & (arrive <= we - t0) & (depart >= ws - t0)

    return _Rows(pair, i, fix_in_window, fix_d, fix_in_zone, fix_reaches_zone, next_d_in_window, seg_valid, seg_d, u_star,
                 seg_in_zone, seg_enter_ns, seg_leave_ns, dt, seg_speed, step_overlaps, gap_possible)


def _gap_speed_mps(fixes: _Fixes, i: np.ndarray, is_gap: np.ndarray, config: MatchConfig) -> np.ndarray:
    """The plausible speed (m/s) through the gap starting at each fix ``i``: the faster of the subject's speeds
    on the segments just before and just after the gap, at least walking pace, at most the top speed."""
    speed = np.full(len(i), config.walk_speed_mps)
    gap = np.flatnonzero(is_gap)
    start = i[gap]
    for before, after in ((start - 1, start), (start + 1, start + 2)):  # the segment into and out of the gap
        inside = (before >= 0) & (after < len(fixes.t))
        before, after = np.where(inside, before, 0), np.where(inside, after, 0)
        dt = (fixes.t[after] - fixes.t[before]) / _NS
        is_segment = inside & (fixes.subject[before] == fixes.subject[after]) & (dt > 0) & (
            dt <= config.interp_max_gap_s)
        moved = np.hypot(fixes.x[after] - fixes.x[before], fixes.y[after] - fixes.y[before])
        speed[gap] = np.maximum(speed[gap], np.where(is_segment, moved / np.where(dt > 0, dt, 1.0), 0.0))
    return np.minimum(speed, config.max_speed_mps)


def _presence(fixes: _Fixes, zones: _Zones, pairs: _Pairs, boxes: _Boxes, gap_starts: np.ndarray,
              config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """The presence class code of every pair (``_NONE`` when it is no hit), and an upper bound (m) on each
    pair's closest approach during the window (inf when the rows looked at do not bound it)."""
    n = len(pairs.lo)
    presence = np.full(n, _NONE, dtype=np.int8)
    if n == 0:
        return presence, np.full(n, np.inf)
    radius = zones.r[pairs.crime]
    wide_pair, wide_i = boxes.wide.gate(zones, pairs, radius, with_accuracy=True)
    wide_reaching, wide_distance = _fixes_reaching(fixes, zones, pairs, wide_pair, wide_i)
    presence[np.unique(wide_pair[wide_reaching])] = _POSSIBLE
    pair, i = boxes.main.gate(zones, pairs, radius, with_accuracy=True)
    rows = _rows(fixes, zones, pairs, pair, i, config)
    for code, hit in ((_POSSIBLE, rows.fix_reaches_zone), (_INTERPOLATED, rows.seg_in_zone),
                      (_OBSERVED, rows.fix_in_zone)):  # weakest first, so the strongest class wins
        presence[np.unique(pair[hit])] = code
    bound = np.minimum(_min_by_pair(pair, _window_distances(rows), n), _min_by_pair(wide_pair, wide_distance, n))
    gap_pair, gap_i = _gap_rows(pairs, presence, gap_starts)
    gap_rows = _rows(fixes, zones, pairs, gap_pair, gap_i, config, gaps=True)
    gap_hits = np.unique(gap_pair[gap_rows.gap_possible])
    presence[gap_hits] = np.minimum(presence[gap_hits], _POSSIBLE)
    bound = np.minimum(bound, _min_by_pair(gap_pair, _window_distances(gap_rows), n))
    return presence, bound


def _min_by_pair(pair: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per pair number ``0..n-1``, the smallest of ``values`` over its rows (``pair`` sorted); inf if none."""
    out = np.full(n, np.inf)
    if len(pair):
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        out[pair[starts]] = np.minimum.reduceat(values, starts)
    return out


def _window_distances(rows: "_Rows") -> np.ndarray:
    """Per row, the smallest distance (m) of a trail point in the window that the row knows of (inf if none)."""
    fix_d = np.where(rows.fix_in_window, rows.fix_d, np.inf)
    return np.minimum(np.minimum(fix_d, rows.next_d_in_window), rows.seg_d)


def _gap_rows(pairs: _Pairs, presence: np.ndarray, gap_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pair, fix) rows, for pairs not yet hits, of the fixes in ``gap_start`` (those that start a gap short
    enough to make a ``possible`` hit).

    The box pyramid cannot gate gaps (from a gap the subject may have gone anywhere reachable), so every gap
    inside each remaining pair's range is tested.
    """
    open_pairs = np.flatnonzero(presence == _NONE)
    first = np.searchsorted(gap_start, pairs.lo[open_pairs], side="left")
    last = np.searchsorted(gap_start, pairs.hi[open_pairs] - 1, side="left")
    owner, position = expand_ranges(first, last)
    return open_pairs[owner], gap_start[position]


@dataclass(frozen=True)
class _Measured:
    min_distance_m: np.ndarray
    closest_ns: np.ndarray
    closest_x: np.ndarray
    closest_y: np.ndarray
    first_in_ns: np.ndarray
    last_out_ns: np.ndarray
    time_in_zone_s: np.ndarray
    n_fixes_in_zone: np.ndarray
    speed_mps: np.ndarray
    accuracy_m: np.ndarray
    source: np.ndarray
    max_gap_s: np.ndarray

    @classmethod
    def concat(cls, parts: list["_Measured"]) -> "_Measured":
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))



def _measure_hits(fixes: _Fixes, zones: _Zones, pairs: _Pairs, boxes: _Boxes, closest_bound: np.ndarray,
                  config: MatchConfig) -> _Measured:
    """Measure each hit over its window, in chunks of hits to keep the row arrays small. The closest approach
    and every moment in the zone lie within ``max(closest bound, radius)`` of the scene, and the box index
    narrows that down to the runs near the closest point (branch and bound)."""
    reach = np.maximum(closest_bound, zones.r[pairs.crime])
    return _Measured.concat([_measure(fixes, zones, pairs.take(chunk), boxes, reach[chunk], config)
                             for chunk in _chunks(len(pairs.lo), _MEASURE_CHUNK)])


def _measure(fixes: _Fixes, zones: _Zones, pairs: _Pairs, boxes: _Boxes, reach: np.ndarray,
             config: MatchConfig) -> _Measured:
    """Measure each hit from the fixes within ``reach`` metres of its scene that may hold its closest approach
    or lie in its zone (see :func:`_measure_hits`). The longest gap is a range maximum over the window."""
    n = len(pairs.lo)
    pair, i = boxes.main.gate(zones, pairs, reach, with_accuracy=False, nearest=True)
    rows = _rows(fixes, zones, pairs, pair, i, config)
    present, starts = np.unique(pair, return_index=True)
    nat, never = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    j = np.where(i + 1 < len(fixes.t), i + 1, i)
    u = rows.seg_u

    # Closest approach: fixes in the window and segment points strictly between fixes, interleaved so that
    # each pair's candidates are in time order; a pair with no trail in its window falls back to its fixes.
    interior = rows.seg_valid & (u > 0) & (u < 1)
    fix_d = np.where(rows.fix_in_window | ~_window_has_trail(fixes, zones, pairs, config)[pair], rows.fix_d, np.inf)
    cand_d = np.column_stack([fix_d, np.where(interior, rows.seg_d, np.inf)]).ravel()
    cand_t = np.column_stack([fixes.t[i], fixes.t[i] + np.round(u * rows.seg_dt_ns).astype(np.int64)]).ravel()
    cand_x = np.column_stack([fixes.x[i], fixes.x[i] + u * (fixes.x[j] - fixes.x[i])]).ravel()
    cand_y = np.column_stack([fixes.y[i], fixes.y[i] + u * (fixes.y[j] - fixes.y[i])]).ravel()
    cand_speed = np.column_stack([_adjacent_mean_speed(pair, i, rows.seg_speed_mps), rows.seg_speed_mps]).ravel()
    cand_acc = np.column_stack([fixes.accuracy[i], np.maximum(fixes.accuracy[i], fixes.accuracy[j])]).ravel()
    cand_src = np.column_stack([fixes.source[i], np.where(u < 0.5, fixes.source[i], fixes.source[j])]).ravel()
    cand_starts = 2 * starts
    best_d = np.minimum.reduceat(cand_d, cand_starts) if len(cand_d) else np.zeros(0)
    is_best = np.flatnonzero(cand_d == np.repeat(best_d, np.diff(np.append(cand_starts, len(cand_d)))))
    _, first = np.unique(np.repeat(pair, 2)[is_best], return_index=True)  # the earliest of equal bests
    best = is_best[first]

    enter = np.column_stack([np.where(rows.fix_in_zone, fixes.t[i], never),
                             np.where(rows.seg_in_zone, rows.seg_enter_ns, never)]).ravel()
    leave = np.column_stack([np.where(rows.fix_in_zone, fixes.t[i], nat),
                             np.where(rows.seg_in_zone, rows.seg_leave_ns, nat)]).ravel()
    zone_ns = np.where(rows.seg_in_zone, rows.seg_leave_ns - rows.seg_enter_ns, 0)

    def per_pair(values: np.ndarray, empty) -> np.ndarray:  # values of the present pairs, spread over all
        out = np.full(n, empty, dtype=np.asarray(values).dtype if len(values) else type(empty))
        out[present] = values
        return out

    reduce = (lambda ufunc, values, at: ufunc.reduceat(values, at)) if len(pair) else (lambda *_: np.zeros(0))
    first_in = per_pair(reduce(np.minimum, enter, cand_starts), never)
    accuracy = cand_acc[best]
    return _Measured(
        min_distance_m=per_pair(cand_d[best], np.inf), closest_ns=per_pair(cand_t[best], nat),
        closest_x=per_pair(cand_x[best], np.nan), closest_y=per_pair(cand_y[best], np.nan),
        first_in_ns=np.where(first_in == never, nat, first_in),
        last_out_ns=per_pair(reduce(np.maximum, leave, cand_starts), nat),
        time_in_zone_s=per_pair(reduce(np.add, zone_ns, starts), 0) / _NS,
        n_fixes_in_zone=per_pair(reduce(np.add, rows.fix_in_zone.astype(np.int64), starts), 0),
        speed_mps=per_pair(cand_speed[best], np.nan),
        accuracy_m=per_pair(np.where(accuracy > 0, accuracy, np.nan), np.nan),
        source=per_pair(cand_src[best], 0),
        max_gap_s=_range_max_step(fixes, pairs) / _NS,
    )


def _window_has_trail(fixes: _Fixes, zones: _Zones, pairs: _Pairs, config: MatchConfig) -> np.ndarray:
    """Per pair, whether any of the trail lies in the window: a fix in it, or a segment (not a gap) across it.

    The range ``[lo, hi)`` starts with the last fix before the window (if any), so the first two fixes tell.
    """
    ws, we = zones.ws[pairs.crime], zones.we[pairs.crime]
    second = np.minimum(pairs.lo + 1, pairs.hi - 1)
    t0, t1 = fixes.t[pairs.lo], fixes.t[second]
    fix_in = ((t0 >= ws) & (t0 <= we)) | ((t1 >= ws) & (t1 <= we))
    spanned = (second > pairs.lo) & (t0 < ws) & (t1 > we) & (
        fixes.step_ns[pairs.lo] <= round(config.interp_max_gap_s * _NS))
    return fix_in | spanned


def _range_max_step(fixes: _Fixes, pairs: _Pairs) -> np.ndarray:
    """Per pair, the longest interval (ns) between consecutive fixes in ``[lo, hi)``; every such interval
    meets the window by construction of the range. 0 when the range holds a single fix."""
    steps = fixes.step_ns
    order = np.argsort(pairs.lo, kind="stable")  # sorted starts keep reduceat's work near the data size
    bounds = np.column_stack([pairs.lo[order], pairs.hi[order] - 1]).ravel()
    longest = np.empty(len(order), dtype=np.int64)
    longest[order] = np.maximum.reduceat(steps, bounds)[::2] if len(bounds) else np.zeros(0, np.int64)
    return np.where(pairs.hi - pairs.lo > 1, longest, 0)


def _adjacent_mean_speed(pair: np.ndarray, i: np.ndarray, seg_speed: np.ndarray) -> np.ndarray:
    """At each fix, the mean speed (m/s) of the segments either side of it, NaN when it has none."""
    before = np.full_like(seg_speed, np.nan)
    follows = (pair[1:] == pair[:-1]) & (i[1:] == i[:-1] + 1)
    before[1:] = np.where(follows, seg_speed[:-1], np.nan)
    both = np.stack([before, seg_speed])
    counts = np.isfinite(both).sum(axis=0)
    return np.where(counts > 0, np.nansum(both, axis=0) / np.maximum(counts, 1), np.nan)


def _hits_frame(fixes: _Fixes, zones: _Zones, crimes: pd.DataFrame, pairs: _Pairs, presence: np.ndarray,
                m: _Measured) -> pd.DataFrame:
    subject_code = fixes.subject[pairs.lo]
    subject_id = fixes.subject_names[subject_code].astype(str)
    crime_ref = crimes["crime_ref"].to_numpy(dtype=object)[pairs.crime].astype(str)
    hits = pd.DataFrame({
        "hit_id": [hit_id(s, c) for s, c in zip(subject_id, crime_ref)],
        "subject_id": subject_id,
        "crime_ref": crime_ref,
        "offence": crimes["offence"].to_numpy(dtype=object)[pairs.crime].astype(str),
        "presence": np.asarray(PRESENCE_CLASSES, dtype=object)[presence],
        "min_distance_m": m.min_distance_m,
        "closest_time": from_utc_ns(m.closest_ns),
        "first_in": from_utc_ns(m.first_in_ns),
        "last_out": from_utc_ns(m.last_out_ns),
        "time_in_zone_s": m.time_in_zone_s,
        "n_fixes_in_zone": m.n_fixes_in_zone,
        "speed_at_closest_mps": m.speed_mps,
        "accuracy_at_closest_m": m.accuracy_m,
        "max_gap_s": m.max_gap_s,
        "closest_x": m.closest_x,
        "closest_y": m.closest_y,
        "source_at_closest": fixes.source_names[m.source].astype(str),
        "window_start": from_utc_ns(zones.ws[pairs.crime]),
        "window_end": from_utc_ns(zones.we[pairs.crime]),
        "radius_m": zones.r[pairs.crime],
        "long_window": crimes["long_window"].to_numpy(dtype=bool)[pairs.crime],
        "scene_x": zones.cx[pairs.crime],
        "scene_y": zones.cy[pairs.crime],
    })
    return hits.sort_values(["crime_ref", "subject_id"], kind="stable").reset_index(drop=True)


def _empty_hits() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in HIT_DTYPES.items()})
