"""Trail quality: which fixes say where the subject was, which only roughly, and which are wrong.

Every accepted fix gets ``quality`` (categorical ``ok`` / ``fallback`` / ``outlier``) and ``quality_reason``
(empty for ``ok``); no fix is dropped.

* ``fallback``: a fix from a fallback source (:data:`FALLBACK_SOURCES`: mobile-network cells, Wi-Fi) or with a
  reported accuracy radius wider than ``fallback_accuracy_m``. It is a position to within its accuracy circle,
  not a point of a path.
* ``outlier``: a spike. Among the fixes that are not fallback, a run of consecutive fixes lasting at most
  ``outlier_max_run_s`` (a single fix lasts 0 s) that is reached from the fix before it *and* left to the fix
  after it at more than ``outlier_speed_mps``, and whose detour is impossible too: going from the fix before
  the run to it and on to the fix after, instead of straight, adds more distance than ``outlier_speed_mps``
  covers in the time from the one to the other. Speeds allow for the fixes' accuracy: the *least speed* between
  two fixes is the distance between them less both accuracy radii (never below 0), over the time between them;
  the detour's extra distance is reduced by every radius it could owe to error. The detour's test tells a
  multipath spike (out and straight back) from a subject genuinely moving fast (a train at about the limit),
  who goes on, not back.

Distances in metres, times in seconds (int64 nanoseconds UTC inside), speeds in m/s. Fixes must be sorted by
subject then time, as :func:`geomatch.ingest.trails.load_trails` returns them.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numba import njit

from geomatch.core.arrays import category_codes
from geomatch.core.cores import available_cores, subject_slices
from geomatch.core.errors import InputError
from geomatch.core.quarantine import Validated
from geomatch.core.times import utc_ns

QUALITY_CLASSES = ("ok", "fallback", "outlier")
OK, FALLBACK, OUTLIER = 0, 1, 2
FALLBACK_SOURCES = ("LBS", "WIFI")
"""Sources that are a fallback when there is no GPS: mobile-network cells (LBS) and Wi-Fi."""
NS = 1_000_000_000

_kernel = njit(cache=True, error_model="numpy", nogil=True)


@dataclass(frozen=True)
class QualityRule:
    """The parameters of the trail-quality stage (:class:`geomatch.match.config.MatchConfig` carries them).

    Attributes:
        fallback_accuracy_m: a fix whose accuracy radius (m) is wider than this is a fallback fix whatever its
            source. Default 200 m: twice the default zone radius, the coarsest a satellite fix gets in the data
            tried (wider radii come from network positioning).
        outlier_speed_mps: the least speed (m/s, accuracy allowed for) that no person or car reaches; a step
            faster than this is a jump, never joined into a path. Default 50 m/s (180 km/h, 112 mph).
        outlier_max_run_s: the longest run of fixes (s, first to last) that can be a spike. Default 60 s.
    """

    fallback_accuracy_m: float = 200.0
    outlier_speed_mps: float = 50.0
    outlier_max_run_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("fallback_accuracy_m", "outlier_speed_mps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not value > 0:
                raise InputError(f"{name} must be a finite number > 0, got {value!r}")
        value = self.outlier_max_run_s
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not value >= 0:
            raise InputError(f"outlier_max_run_s must be a finite number >= 0, got {value!r}")


@njit(cache=True, error_model="numpy", inline="always")
def least_speed(t, x, y, accuracy, a: int, b: int) -> float:
    """The least speed (m/s) from fix ``a`` to fix ``b``: their distance less both accuracy radii (unknown
    radii count as 0), at least 0, over the time between them (inf for two fixes at the same instant apart)."""
    acc_a = 0.0 if np.isnan(accuracy[a]) else accuracy[a]
    acc_b = 0.0 if np.isnan(accuracy[b]) else accuracy[b]
    dx, dy = x[b] - x[a], y[b] - y[a]
    reach = max(math.sqrt(dx * dx + dy * dy) - acc_a - acc_b, 0.0)
    dt = abs(t[b] - t[a]) / NS
    if reach == 0.0:
        return 0.0
    return reach / dt if dt > 0 else np.inf


@njit(cache=True, error_model="numpy", inline="always")
def _detour_speed(t, x, y, accuracy, before: int, first: int, last: int, after: int) -> float:
    """The least extra distance (m) of going ``before`` -> ``first`` ... ``last`` -> ``after`` instead of
    straight from ``before`` to ``after``, over the time from ``before`` to ``after`` (m/s)."""
    def known(value):
        return 0.0 if np.isnan(value) else value

    def dist(a, b):
        return math.sqrt((x[b] - x[a]) ** 2 + (y[b] - y[a]) ** 2)

    extra = dist(before, first) + dist(last, after) - dist(before, after) - 2.0 * known(accuracy[before]) \
        - 2.0 * known(accuracy[after]) - known(accuracy[first]) - known(accuracy[last])
    dt = (t[after] - t[before]) / NS
    return max(extra, 0.0) / dt if dt > 0 else (np.inf if extra > 0 else 0.0)


@njit(cache=True, error_model="numpy")
def _appended(values: np.ndarray, n: int, value) -> np.ndarray:
    """``values`` (its first ``n`` items in use) with ``value`` put at ``n``: the same array, or one twice as long
    when it is full."""
    if n == len(values):
        wider = np.empty(2 * n + 16, values.dtype)
        wider[:n] = values
        values = wider
    values[n] = value
    return values


@_kernel
def _quality_codes(subject, t, x, y, accuracy, fallback, top_mps, max_run_ns):
    """Each fix's quality code (int8: ``fallback`` given, outliers found here, the rest ok), and the outliers'
    positions (ascending) with the speed (m/s) that made each (the slower of its run's entry and exit). The
    outliers are sought subject by subject among the fixes that are not fallback."""
    n_all = len(t)
    codes = np.zeros(n_all, np.int8)
    kept = np.empty(0, np.int64)  # the current subject's fixes that are not fallback
    jump = np.empty(0, np.bool_)  # the step from kept[k] to kept[k + 1] is too fast
    outlier_at, outlier_speed, n_outliers = np.empty(0, np.int64), np.empty(0), 0
    start = 0
    while start < n_all:
        end = start + 1
        while end < n_all and subject[end] == subject[start]:
            end += 1
        if len(kept) < end - start:
            kept, jump = np.empty(end - start, np.int64), np.empty(end - start, np.bool_)
        n = 0
        for i in range(start, end):
            if fallback[i]:
                codes[i] = FALLBACK
            else:
                kept[n] = i
                n += 1
        for k in range(n - 1):
            jump[k] = least_speed(t, x, y, accuracy, kept[k], kept[k + 1]) > top_mps
        if n:
            jump[n - 1] = False
        k = 1
        while k < n - 1:
            if not jump[k - 1]:
                k += 1
                continue
            m = k  # the run entered by a jump at k: find where it is left by one
            while m < n - 1 and not jump[m] and t[kept[m + 1]] - t[kept[k]] <= max_run_ns:
                m += 1
            before, after = kept[k - 1], kept[m + 1] if m + 1 < n else -1
            if jump[m] and after >= 0 and t[kept[m]] - t[kept[k]] <= max_run_ns \
                    and _detour_speed(t, x, y, accuracy, before, kept[k], kept[m], after) > top_mps:
                entry = least_speed(t, x, y, accuracy, before, kept[k])
                leave = least_speed(t, x, y, accuracy, kept[m], after)
                for j in range(k, m + 1):
                    codes[kept[j]] = OUTLIER
                    outlier_at = _appended(outlier_at, n_outliers, kept[j])
                    outlier_speed = _appended(outlier_speed, n_outliers, min(entry, leave))
                    n_outliers += 1
                k = m + 1
            else:
                k += 1
        start = end
    return codes, outlier_at[:n_outliers].copy(), outlier_speed[:n_outliers].copy()


@_kernel
def joined_steps(subject, t, x, y, accuracy, top_mps) -> np.ndarray:
    """For fixes that are all good (``ok``), sorted by subject then time: whether the step from each fix to the
    next may be joined into a path (same subject, least speed at most ``top_mps``); a faster step is a jump."""
    n = len(t)
    joined = np.zeros(n, dtype=np.bool_)
    for i in range(n - 1):
        joined[i] = subject[i] == subject[i + 1] and least_speed(t, x, y, accuracy, i, i + 1) <= top_mps
    return joined


def _source_codes(source: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The source of each fix as codes into a few names (categorical: no string per fix is touched)."""
    categorical = source.astype("category")
    return categorical.cat.codes.to_numpy(), np.asarray(categorical.cat.categories.astype(str), dtype=object)


def _source_is_fallback(source: pd.Series) -> np.ndarray:
    codes, names = _source_codes(source)
    return np.append(np.isin(names, FALLBACK_SOURCES), False)[codes]  # code -1 (missing) reads the False


def quality_codes(trails: pd.DataFrame, rule: QualityRule, *,
                  threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each fix's quality code (int8: 0 ok, 1 fallback, 2 outlier), the outliers' positions (ascending) and the
    speed (m/s) that made each. Subjects are judged on ``threads`` threads at once (``None``: one per core), each
    taking whole subjects; the result is the same whatever the number."""
    accuracy = trails["accuracy_m"].to_numpy(dtype=float)
    fallback = _source_is_fallback(trails["source"])
    fallback |= accuracy > rule.fallback_accuracy_m
    subject = category_codes(trails["subject_id"])
    t, x, y = utc_ns(trails["timestamp"]), trails["x"].to_numpy(dtype=float), trails["y"].to_numpy(dtype=float)
    top_mps, max_run_ns = float(rule.outlier_speed_mps), np.int64(round(rule.outlier_max_run_s * NS))

    def judged(rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes, outliers, speed = _quality_codes(subject[rows], t[rows], x[rows], y[rows], accuracy[rows],
                                                fallback[rows], top_mps, max_run_ns)
        return codes, outliers + rows.start, speed

    slices = subject_slices(subject, threads or available_cores())
    with ThreadPoolExecutor(len(slices), thread_name_prefix="quality") as pool:  # the kernel releases the GIL
        parts = list(pool.map(judged, slices))
    return tuple(np.concatenate(column) for column in zip(*parts))


def flag_quality(trails: pd.DataFrame, rule: QualityRule) -> pd.DataFrame:
    """``trails`` with ``quality`` and ``quality_reason`` (replaced when already there); rows and order kept.

    Reasons: ``"LBS fix"`` / ``"WIFI fix"`` (a fallback source), ``"accuracy 350 m > 200 m limit"``,
    ``"outlier: 57 m/s from both neighbours (limit 50 m/s)"``.
    """
    codes, outliers, speed = quality_codes(trails, rule)
    source_codes, source_names = _source_codes(trails["source"])
    by_source = _source_is_fallback(trails["source"])
    reason_codes = np.zeros(len(codes), dtype=np.int32)
    categories = [""]  # a few distinct texts, each formatted once; the column is categorical ("" for ok)

    def add(where: np.ndarray, values: np.ndarray, text) -> None:
        distinct, inverse = np.unique(values, return_inverse=True)
        reason_codes[where] = len(categories) + inverse
        categories.extend(text(value) for value in distinct)

    wide = np.flatnonzero((codes == FALLBACK) & ~by_source)
    by_source = np.flatnonzero((codes == FALLBACK) & by_source)
    add(by_source, source_codes[by_source], lambda code: f"{source_names[code]} fix")
    add(wide, np.round(trails["accuracy_m"].to_numpy(dtype=float)[wide]),
        lambda value: f"accuracy {value:.0f} m > {rule.fallback_accuracy_m:.0f} m limit")
    add(outliers, np.round(speed), lambda value: outlier_reason(value, rule))
    return trails.assign(quality=pd.Categorical.from_codes(codes, categories=list(QUALITY_CLASSES)),
                         quality_reason=pd.Categorical.from_codes(reason_codes, categories=categories))


def outlier_reason(speed_mps: float, rule: QualityRule) -> str:
    """The reason given for an outlier fix made by a spike of ``speed_mps`` (m/s, rounded half to even; inf for two fixes at one instant apart)."""
    return f"outlier: {np.round(speed_mps):.0f} m/s from both neighbours (limit {rule.outlier_speed_mps:.0f} m/s)"


def with_quality(trails: pd.DataFrame, rule: QualityRule) -> pd.DataFrame:
    """``trails`` as they are when they carry ``quality`` already, else flagged (:func:`flag_quality`)."""
    return trails if "quality" in trails.columns else flag_quality(trails, rule)


def assess_trails(trails: Validated, rule: QualityRule) -> Validated:
    """The validated trails with their accepted fixes flagged (:func:`flag_quality`); the quarantine unchanged."""
    return replace(trails, accepted=flag_quality(trails.accepted, rule))
