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

The implementation never loops over fixes in Python. Per subject, a merge against the crimes' sorted window
bounds finds each crime's window in the subject's fixes; compiled kernels (:mod:`geomatch.match._kernels`) then walk each subject x crime pair's
fixes, skipping the runs of fixes whose bounding box cannot come near the scene, to find its presence class,
and walk each hit again to measure it. ``tests/geomatch/oracle.py`` states the same rules as plain loops.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geomatch.core.quarantine import Validated, accepted_in_one_crs
from geomatch.core.times import from_utc_ns, utc_ns
from geomatch.match import _kernels as kernels
from geomatch.match.config import MatchConfig

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
_PAIRS_PER_TASK = 16384  # pairs a kernel call takes on at a time


def hit_id(subject_id: str, crime_ref: str) -> str:
    """The deterministic id of the hit of ``subject_id`` on ``crime_ref``: ``H`` + 16 hex digits of SHA-256."""
    return hit_ids([subject_id], [crime_ref])[0]


def hit_ids(subject_ids: Iterable[str], crime_refs: Iterable[str]) -> list[str]:
    """:func:`hit_id` of each (subject, crime) pair."""
    sha256 = hashlib.sha256
    return ["H" + sha256(f"{s}\x1f{c}".encode("utf-8")).hexdigest()[:16] for s, c in zip(subject_ids, crime_refs)]


@dataclass(frozen=True)
class _Fixes:
    """Trail fixes as flat arrays sorted by subject then time; ``starts``/``ends`` delimit each subject."""

    subject: np.ndarray  # subject codes (int)
    t: np.ndarray  # int64 ns UTC
    x: np.ndarray
    y: np.ndarray
    accuracy: np.ndarray  # metres, NaN where unknown
    source: np.ndarray  # source codes
    subject_names: np.ndarray
    source_names: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def from_frame(cls, trails: pd.DataFrame) -> "_Fixes":
        """Views of the frame's columns where they can be (the arrays of a force-month are tens of MB each)."""
        subject = trails["subject_id"].astype("category")
        source = trails["source"].astype("category")
        codes, t = subject.cat.codes.to_numpy(), utc_ns(trails["timestamp"])
        starts = kernels.subject_starts(codes)
        return cls(
            subject=codes, t=t, x=trails["x"].to_numpy(dtype=float), y=trails["y"].to_numpy(dtype=float),
            accuracy=trails["accuracy_m"].to_numpy(dtype=float), source=source.cat.codes.to_numpy(),
            subject_names=np.asarray(subject.cat.categories, dtype=object),
            source_names=np.asarray(source.cat.categories, dtype=object),
            starts=starts, ends=np.append(starts[1:], len(codes)).astype(np.int64),
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


def match_hits(trails: Validated | pd.DataFrame, crimes: Validated | pd.DataFrame,
               config: MatchConfig | None = None, *, threads: int | None = None) -> pd.DataFrame:
    """Match validated trails against validated crimes.

    Args:
        trails: validated fixes (:func:`geomatch.ingest.trails.load_trails`) or their accepted rows, sorted by
            ``subject_id`` then ``timestamp``, with ``x``/``y`` in metres.
        crimes: validated crimes (:func:`geomatch.ingest.crimes.load_crimes`) or their accepted rows, with
            ``x``/``y`` in the same CRS.
        config: radii, paddings and trail rules.
        threads: threads the kernels run on (``None``: :func:`available_cores`). The result is
            the same whatever the number.

    Returns:
        One row per hit with :data:`HIT_COLUMNS`, sorted by ``crime_ref`` then ``subject_id``.

    Raises:
        InputError: trails and crimes are both :class:`Validated` and their ``x``/``y`` are in different CRSs.
    """
    config = config or MatchConfig()
    trails, crimes, _ = accepted_in_one_crs(trails, crimes)
    if trails.empty or crimes.empty:
        return _empty_hits()
    threads = threads or available_cores()
    fixes = _Fixes.from_frame(trails)
    zones = _Zones.from_frame(crimes, config)
    rule_s = (float(config.interp_max_gap_s), float(config.possible_max_gap_s))
    zone_arrays = (zones.cx, zones.cy, zones.r, zones.ws, zones.we)
    with ThreadPoolExecutor(threads) as pool:  # the kernels release the GIL, so they run beside the Python work
        pyramid = pool.submit(kernels.box_pyramid, fixes.t, fixes.x, fixes.y, fixes.accuracy)
        gap_starts = pool.submit(kernels.gap_starts, fixes.subject, fixes.t, *rule_s)
        pairs = _window_pairs(fixes, zones, pool)
        presence, closest_bound = _by_chunks(pool, lambda c: kernels.presence(
            fixes.t, fixes.x, fixes.y, fixes.accuracy, fixes.subject, pyramid.result(), gap_starts.result(),
            pairs.crime[c], pairs.lo[c], pairs.hi[c], *zone_arrays, *rule_s, float(config.walk_speed_mps),
            float(config.max_speed_mps)), len(pairs.lo))()
        is_hit = presence < kernels.NONE
        hits, cutoff = pairs.take(is_hit), closest_bound[is_hit]
        measured = _by_chunks(pool, lambda c: kernels.measure(
            fixes.t, fixes.x, fixes.y, fixes.accuracy, fixes.source, pyramid.result(), hits.crime[c], hits.lo[c],
            hits.hi[c], cutoff[c], *zone_arrays, rule_s[0]), len(hits.lo))
        labelled = _labelled_hits(fixes, zones, crimes, hits)  # while the hits are measured
        return _with_measurements(labelled, presence[is_hit], _Measured(*measured()), fixes.source_names)


def available_cores() -> int:
    """The CPU cores this process may run on (all of the machine's where the system cannot say)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _by_chunks(pool: ThreadPoolExecutor, kernel: Callable[[slice], tuple[np.ndarray, ...]],
               n: int) -> Callable[[], tuple[np.ndarray, ...]]:
    """Start ``kernel`` on consecutive slices of the ``n`` pairs in ``pool``; the function returned waits for
    them and joins their per-pair result arrays in order (so the result never depends on the threads)."""
    chunks = [slice(start, min(start + _PAIRS_PER_TASK, n)) for start in range(0, n, _PAIRS_PER_TASK)]
    tasks = [pool.submit(kernel, chunk) for chunk in chunks or [slice(0, 0)]]
    return lambda: tuple(np.concatenate(column) for column in zip(*(task.result() for task in tasks)))


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
        radius = _per_offence(crimes, lambda rule: rule.radius_m, config).astype(float)
        ws, we = padded_windows(crimes, config)
        return cls(cx=crimes["x"].to_numpy(float), cy=crimes["y"].to_numpy(float), r=radius, ws=ws, we=we)


def padded_windows(crimes: pd.DataFrame, config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each crime's padded window ``[committed_from - pad, committed_to + pad]`` as int64 ns UTC, exactly as
    the matcher uses it (for engines that split the work by time)."""
    pad_ns = _per_offence(crimes, lambda rule: round(rule.pad_s * _NS), config).astype(np.int64)
    return utc_ns(crimes["committed_from"]) - pad_ns, utc_ns(crimes["committed_to"]) + pad_ns


def _per_offence(crimes: pd.DataFrame, setting: Callable, config: MatchConfig) -> np.ndarray:
    """``setting(rule)`` of each crime's offence rule, looked up once per distinct offence."""
    codes, offences = pd.factorize(crimes["offence"])
    return np.array([setting(config.rule(o)) for o in offences])[codes] if len(codes) else np.zeros(0)


def _window_pairs(fixes: _Fixes, zones: _Zones, pool: ThreadPoolExecutor) -> _Pairs:
    """Every subject x crime pair whose fixes reach into the window (see
    :func:`geomatch.match._kernels.subject_windows`), subject by subject in ``pool``."""
    by_start, by_end = np.argsort(zones.ws, kind="stable"), np.argsort(zones.we, kind="stable")
    found = list(pool.map(lambda bounds: kernels.subject_windows(fixes.t, *bounds, zones.ws, zones.we, by_start,
                                                                by_end), zip(fixes.starts, fixes.ends)))
    if not found:
        return _Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return _Pairs(*(np.concatenate(column) for column in zip(*found)))


@dataclass(frozen=True)
class _Measured:
    """The measurements of each hit, as :func:`geomatch.match._kernels.measure` returns them."""

    min_distance_m: np.ndarray
    closest_ns: np.ndarray
    closest_x: np.ndarray
    closest_y: np.ndarray
    speed_mps: np.ndarray
    accuracy_m: np.ndarray
    source: np.ndarray
    first_in_ns: np.ndarray
    last_out_ns: np.ndarray
    zone_ns: np.ndarray
    n_fixes_in_zone: np.ndarray
    max_gap_ns: np.ndarray


@dataclass(frozen=True)
class _Labelled:
    """The columns of the hits that need no measuring, in table order (by crime reference, then subject), and
    that order as positions in the pairs."""

    columns: dict[str, object]
    order: np.ndarray


def _labelled_hits(fixes: _Fixes, zones: _Zones, crimes: pd.DataFrame, pairs: _Pairs) -> _Labelled:
    subject_names = fixes.subject_names.astype(str).astype(object)
    crime_refs = crimes["crime_ref"].to_numpy(dtype=object).astype(str).astype(object)
    # ranks sorted instead of strings: the same order (stable, ties in pair order), quicker
    order = np.lexsort((_ranks(subject_names)[fixes.subject[pairs.lo]], _ranks(crime_refs)[pairs.crime]))
    subject, crime = fixes.subject[pairs.lo][order], pairs.crime[order]
    offences = crimes["offence"].to_numpy(dtype=object).astype(str).astype(object)
    return _Labelled({
        "hit_id": pd.array(hit_ids(subject_names[subject], crime_refs[crime]), dtype="str"),
        "subject_id": _strings(subject_names).take(subject),
        "crime_ref": _strings(crime_refs).take(crime),
        "offence": _strings(offences).take(crime),
        "window_start": from_utc_ns(zones.ws[crime]).array,
        "window_end": from_utc_ns(zones.we[crime]).array,
        "radius_m": zones.r[crime],
        "long_window": crimes["long_window"].to_numpy(dtype=bool)[crime],
        "scene_x": zones.cx[crime],
        "scene_y": zones.cy[crime],
    }, order)


def _with_measurements(labelled: _Labelled, presence: np.ndarray, m: _Measured,
                       source_names: np.ndarray) -> pd.DataFrame:
    """The hits table: :data:`HIT_COLUMNS` in order, rows sorted by crime reference then subject."""
    o = labelled.order
    measured = {
        "presence": _strings(np.asarray(PRESENCE_CLASSES, dtype=object)).take(presence[o].astype(np.intp)),
        "min_distance_m": m.min_distance_m[o],
        "closest_time": from_utc_ns(m.closest_ns[o]).array,
        "first_in": from_utc_ns(m.first_in_ns[o]).array,
        "last_out": from_utc_ns(m.last_out_ns[o]).array,
        "time_in_zone_s": m.zone_ns[o] / _NS,
        "n_fixes_in_zone": m.n_fixes_in_zone[o],
        "speed_at_closest_mps": m.speed_mps[o],
        "accuracy_at_closest_m": m.accuracy_m[o],
        "max_gap_s": m.max_gap_ns[o] / _NS,
        "closest_x": m.closest_x[o],
        "closest_y": m.closest_y[o],
        "source_at_closest": _strings(source_names.astype(str).astype(object)).take(m.source[o].astype(np.intp)),
    }
    return pd.DataFrame({name: labelled.columns.get(name, measured.get(name)) for name in HIT_COLUMNS})


def _strings(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A few distinct strings as a pandas string array, from which columns are taken by code (no string is
    converted once per row)."""
    return pd.array(values, dtype="str")


def _ranks(values: np.ndarray) -> np.ndarray:
    """The dense rank of each value in sorted order (equal values share a rank)."""
    return np.unique(values, return_inverse=True)[1]


def _empty_hits() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in HIT_DTYPES.items()})
