"""Matching trails against crimes: one hit per subject x crime, with its measurements.

Definitions (all distances in metres in the metric CRS, all times UTC; bounds are inclusive). For a crime with
zone radius ``r`` around the scene ``c`` and padded window ``W = [committed_from - pad, committed_to + pad]``:

* the trail is the subject's good fixes (trail quality ``ok``, :mod:`geomatch.quality`) in time order;
  consecutive good fixes at most ``interp_max_gap_s`` apart are joined by a straight path travelled at constant
  speed (a *segment*) unless the step is a *jump* (least speed above ``outlier_speed_mps``), which is neither a
  segment nor a gap; a longer interval is a *gap*. Fallback fixes count only by their accuracy circle;
  outliers not at all.
* ``observed``: a good fix at a time in ``W`` lies within ``r`` of ``c``.
* ``interpolated``: a segment passes within ``r`` of ``c`` at a time in ``W``.
* ``possible``: a good or fallback fix at a time in ``W`` whose accuracy circle reaches the zone (distance <=
  ``r`` + accuracy),
  or a gap of at most ``possible_max_gap_s`` overlapping ``W`` from which the zone could have been reached and
  left again at a plausible speed ``v``: the faster of the subject's own speeds on the segments just before and
  just after the gap, at least ``walk_speed_mps`` and at most ``max_speed_mps``. With ``d0``, ``d1`` the
  distances of the gap's end fixes beyond the zone, the subject could be in the zone during
  ``[t0 + d0/v, t1 - d1/v]``, which must be non-empty and meet ``W``.
* The strongest class wins: observed, then interpolated, then possible.

Measurements of a hit are taken over the trail during ``W`` (segments clipped to ``W``), and again over the
committed window; a hit that only a fallback fix's circle makes is measured at that fix; see :data:`HIT_COLUMNS`.

The implementation never loops over fixes in Python. Per subject, a merge against the crimes' sorted window
bounds finds each crime's window in the subject's fixes; compiled kernels (:mod:`geomatch.match._kernels`) then walk each subject x crime pair's
fixes, skipping the runs of fixes whose bounding box cannot come near the scene, to find its presence class,
and walk each hit again to measure it. ``tests/geomatch/oracle.py`` states the same rules as plain loops.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from geomatch.core.arrays import category_codes, read_only
from geomatch.core.cores import available_cores
from geomatch.core.quarantine import Validated, accepted_in_one_crs
from geomatch.core.times import from_utc_ns, utc_ns
from geomatch.match import _kernels as kernels
from geomatch.match.config import MatchConfig
from geomatch.quality.flags import FALLBACK, OK, QUALITY_CLASSES, with_quality

PRESENCE_CLASSES = ("observed", "interpolated", "possible")
CLOSEST_KINDS = ("fix", "segment")
"""``closest_kind``: the closest approach is a fix, or a point strictly between the two fixes of a segment."""
SPEED_BASES = ("walking pace", "segment before", "segment after", "speed limit")
"""``gap_speed_basis``: what set a gap's plausible speed (the floor, the subject's own speed on the segment just
before or just after the gap, or the cap)."""
HIT_DTYPES = {
    "hit_id": object, "subject_id": object, "crime_ref": object, "offence": object, "presence": object,
    "min_distance_m": float, "closest_time": "datetime64[ns, UTC]", "first_in": "datetime64[ns, UTC]",
    "last_out": "datetime64[ns, UTC]", "time_in_zone_s": float, "n_fixes_in_zone": np.int64,
    "speed_at_closest_mps": float, "accuracy_at_closest_m": float, "max_gap_s": float, "closest_x": float,
    "closest_y": float, "source_at_closest": object, "window_start": "datetime64[ns, UTC]",
    "window_end": "datetime64[ns, UTC]", "radius_m": float, "long_window": bool, "scene_x": float,
    "scene_y": float,
    # what the closest approach is: a fix, or a point on the straight line between two fixes
    "closest_kind": object, "closest_fix_time": "datetime64[ns, UTC]", "closest_next_fix_time": "datetime64[ns, UTC]",
    # the same measurements over the committed window (no padding)
    "min_distance_committed_m": float, "closest_time_committed": "datetime64[ns, UTC]",
    "time_in_zone_committed_s": float, "n_fixes_in_zone_committed": np.int64,
    # how the tag covered the committed window
    "coverage_good_share": float, "coverage_fallback_share": float, "coverage_gap_share": float,
    "longest_gap_committed_s": float, "n_gaps_committed": np.int64,
    # what made a possible hit: a fix's accuracy circle, or a gap crossed at a plausible speed
    "possible_by": object, "circle_fix_time": "datetime64[ns, UTC]", "circle_distance_m": float,
    "circle_accuracy_m": float, "circle_source": object, "circle_quality": object,
    "gap_from": "datetime64[ns, UTC]", "gap_to": "datetime64[ns, UTC]", "gap_speed_mps": float,
    "gap_speed_basis": object,
}
HIT_COLUMNS = list(HIT_DTYPES)
_NS = 1_000_000_000
_PAIRS_PER_TASK = 16384  # pairs a kernel call takes on at a time
_FIXES_PER_PART = 1 << 23  # fixes matched at a time (whole subjects): bounds the copy of the good fixes


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
    quality: np.ndarray  # quality codes (geomatch.quality: 0 ok, 1 fallback, 2 outlier)
    subject_names: np.ndarray
    source_names: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def from_frame(cls, trails: pd.DataFrame) -> "_Fixes":
        """Views of the frame's columns where they can be (the arrays of a force-month are tens of MB each)."""
        subject = trails["subject_id"].astype("category")
        source = trails["source"].astype("category")
        quality = pd.Categorical(trails["quality"], categories=QUALITY_CLASSES).codes
        return cls._of(category_codes(subject), utc_ns(trails["timestamp"]), trails["x"].to_numpy(dtype=float),
                       trails["y"].to_numpy(dtype=float), trails["accuracy_m"].to_numpy(dtype=float),
                       source.cat.codes.to_numpy(), quality.astype(np.int8),
                       np.asarray(subject.cat.categories, dtype=object),
                       np.asarray(source.cat.categories, dtype=object))

    @classmethod
    def _of(cls, codes, t, x, y, accuracy, source, quality, subject_names, source_names) -> "_Fixes":
        # read-only, whether views of the frame or compacted copies: one type for the kernels
        codes, t, x, y, accuracy, source, quality = map(read_only, (codes, t, x, y, accuracy, source, quality))
        starts = kernels.subject_starts(codes)
        return cls(subject=codes, t=t, x=x, y=y, accuracy=accuracy, source=source, quality=quality,
                   subject_names=subject_names, source_names=source_names, starts=starts,
                   ends=np.append(starts[1:], len(codes)).astype(np.int64))

    def only(self, code: int) -> "_Fixes":
        """The fixes of one quality (themselves when every fix has it)."""
        keep = self.quality == code
        n = int(np.count_nonzero(keep))
        if n == len(keep):
            return self
        columns = (self.subject, self.t, self.x, self.y, self.accuracy, self.source, self.quality)
        kept = tuple(np.empty(n, column.dtype) for column in columns)
        kernels.compact(keep, columns, kept)
        return self._of(*kept, self.subject_names, self.source_names)

    def subject_slot(self, codes: np.ndarray) -> np.ndarray:
        """The position of each subject code of ``codes`` in ``starts``/``ends`` (codes must have fixes)."""
        slot = np.zeros(len(self.subject_names), np.int64)
        slot[self.subject[self.starts]] = np.arange(len(self.starts))
        return slot[codes]

    def subject_range(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The range ``[first, last)`` of the fixes of each subject code in ``codes``."""
        first = np.zeros(len(self.subject_names), np.int64)
        last = np.zeros(len(self.subject_names), np.int64)
        first[self.subject[self.starts]], last[self.subject[self.starts]] = self.starts, self.ends
        return first[codes], last[codes]


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
            ``subject_id`` then ``timestamp``, with ``x``/``y`` in metres; flagged by the trail-quality stage
            (:func:`geomatch.quality.assess_trails`), or flagged here with ``config``'s rule when they carry no
            ``quality`` column.
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
    trails = with_quality(trails, config.quality_rule)
    parts = [_match_part(trails.iloc[start:end], crimes, config, threads)
             for start, end in _subject_parts(trails, _FIXES_PER_PART)]
    found = [hits for hits in parts if len(hits)] or parts[:1]
    if len(found) == 1:
        return found[0]
    return pd.concat(parts, ignore_index=True).sort_values(["crime_ref", "subject_id"], kind="stable",
                                                           ignore_index=True)


def _subject_parts(trails: pd.DataFrame, most: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, end)`` of ``trails`` (sorted by subject) that hold whole subjects, each at most
    ``most`` fixes unless one subject has more; consecutive, covering every row."""
    codes = category_codes(trails["subject_id"])
    starts = np.append(kernels.subject_starts(codes), len(codes))
    parts, first = [], 0
    for k in range(1, len(starts)):
        if starts[k] - starts[first] > most and k - 1 > first:
            parts.append((int(starts[first]), int(starts[k - 1])))
            first = k - 1
    parts.append((int(starts[first]), int(starts[-1])))
    return parts


def _match_part(trails: pd.DataFrame, crimes: pd.DataFrame, config: MatchConfig, threads: int) -> pd.DataFrame:
    """:func:`match_hits` over whole subjects' flagged fixes."""
    everything = _Fixes.from_frame(trails)
    fixes, fallback = everything.only(OK), everything.only(FALLBACK)
    zones = _Zones.from_frame(crimes, config)
    rule_s = (float(config.interp_max_gap_s), float(config.possible_max_gap_s))
    top = float(config.outlier_speed_mps)
    zone_arrays = (zones.cx, zones.cy, zones.r, zones.ws, zones.we)
    with ThreadPoolExecutor(threads) as pool:  # the kernels release the GIL, so they run beside the Python work
        joined = pool.submit(kernels.joined_steps, fixes.subject, fixes.t, fixes.x, fixes.y, fixes.accuracy, top)
        pyramid = pool.submit(kernels.box_pyramid, fixes.t, fixes.x, fixes.y, fixes.accuracy)
        gap_starts = pool.submit(kernels.gap_starts, fixes.subject, fixes.t, *rule_s)
        gaps = pool.submit(lambda: kernels.coverage_gaps(everything.t, everything.quality, joined.result(),
                                                         everything.starts, everything.ends, rule_s[0]))
        pairs = _window_pairs(fixes, zones, pool)
        found = _by_chunks(pool, lambda c: kernels.presence(
            fixes.t, fixes.x, fixes.y, fixes.accuracy, fixes.subject, joined.result(), pyramid.result(),
            gap_starts.result(), pairs.crime[c], pairs.lo[c], pairs.hi[c], *zone_arrays, *rule_s,
            float(config.walk_speed_mps), float(config.max_speed_mps)), len(pairs.lo))
        circles = _circle_hits(fallback, zones, pool)
        presence, closest_bound, circle_fix, gap_fix, gap_speed, gap_basis = found()
        hits = _Hits.combine(fixes, pairs, presence, circle_fix, fallback, circles, len(zones.cx))
        good = pairs.take(hits.pair[hits.pair >= 0])
        cutoff = closest_bound[hits.pair[hits.pair >= 0]]
        measured = _by_chunks(pool, lambda c: kernels.measure(
            fixes.t, fixes.x, fixes.y, fixes.accuracy, fixes.source, joined.result(), pyramid.result(), good.crime[c],
            good.lo[c], good.hi[c], cutoff[c], zones.cx, zones.cy, zones.r, zones.ws, zones.we, zones.cs, zones.ce,
            rule_s[0]), len(good.lo))
        first, last = everything.subject_range(hits.subject)
        cs, ce = zones.cs[hits.crime], zones.ce[hits.crime]
        slot = everything.subject_slot(hits.subject)
        covered = _by_chunks(pool, lambda c: kernels.coverage(
            everything.t, everything.quality, first[c], last[c], slot[c], *gaps.result(),
            cs[c], ce[c]), len(first))
        labelled = _labelled_hits(everything, zones, crimes, hits)  # while the hits are measured
        padded, committed = _Measured.of(measured())
        facts = _Facts(hits, zones, fixes, fallback, padded, committed, covered(), circle_fix, gap_fix, gap_speed,
                       gap_basis)
        return _with_measurements(labelled, facts)


def _by_chunks(pool: ThreadPoolExecutor, kernel: Callable[[slice], tuple[np.ndarray, ...]],
               n: int) -> Callable[[], tuple[np.ndarray, ...]]:
    """Start ``kernel`` on consecutive slices of the ``n`` pairs in ``pool``; the function returned waits for
    them and joins their per-pair result arrays in order (so the result never depends on the threads)."""
    chunks = [slice(start, min(start + _PAIRS_PER_TASK, n)) for start in range(0, n, _PAIRS_PER_TASK)]
    tasks = [pool.submit(kernel, chunk) for chunk in chunks or [slice(0, 0)]]
    return lambda: tuple(np.concatenate(column) for column in zip(*(task.result() for task in tasks)))


@dataclass(frozen=True)
class _Zones:
    """Crime zones as arrays: scene ``cx``/``cy`` (m), radius ``r`` (m), padded window ``ws``/``we`` and
    committed window ``cs``/``ce`` (ns)."""

    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray
    ws: np.ndarray
    we: np.ndarray
    cs: np.ndarray
    ce: np.ndarray

    @classmethod
    def from_frame(cls, crimes: pd.DataFrame, config: MatchConfig) -> "_Zones":
        """The crimes' columns as read-only arrays (views of the frame's or computed alike: one type for the
        kernels)."""
        radius = _per_offence(crimes, lambda rule: rule.radius_m, config).astype(float)
        ws, we = padded_windows(crimes, config)
        columns = (crimes["x"].to_numpy(float), crimes["y"].to_numpy(float), radius, ws, we,
                   utc_ns(crimes["committed_from"]), utc_ns(crimes["committed_to"]))
        return cls(*map(read_only, columns))


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


def _circle_hits(fallback: _Fixes, zones: _Zones, pool: ThreadPoolExecutor) -> tuple[_Pairs, np.ndarray]:
    """The subject x crime pairs over the fallback fixes, and for each the fallback fix in the window whose
    accuracy circle reaches the zone (:func:`geomatch.match._kernels.circle_reach`; ``NO_FIX`` if none)."""
    pyramid = pool.submit(kernels.box_pyramid, fallback.t, fallback.x, fallback.y, fallback.accuracy)
    pairs = _window_pairs(fallback, zones, pool)
    reach = kernels.circle_reach(fallback.t, fallback.x, fallback.y, fallback.accuracy, pyramid.result(), pairs.crime,
                                 pairs.lo, pairs.hi, zones.cx, zones.cy, zones.r, zones.ws, zones.we)
    return pairs, reach


@dataclass(frozen=True)
class _Hits:
    """The hits before sorting: first those the good trail reaches (``pair``: their pair number), then those
    only a fallback fix's accuracy circle makes (``pair`` -1). ``circle``: that fallback fix (-1 if none)."""

    subject: np.ndarray
    crime: np.ndarray
    pair: np.ndarray
    circle: np.ndarray
    presence: np.ndarray

    @classmethod
    def combine(cls, fixes: _Fixes, pairs: _Pairs, presence: np.ndarray, circle_fix: np.ndarray, fallback: _Fixes,
                circles: tuple[_Pairs, np.ndarray], n_crimes: int) -> "_Hits":
        circle_pairs, reach = circles
        reached = reach != kernels.NO_FIX
        fb_subject, fb_crime, fb_fix = (fallback.subject[circle_pairs.lo][reached], circle_pairs.crime[reached],
                                        reach[reached])
        good_key = fixes.subject[pairs.lo].astype(np.int64) * n_crimes + pairs.crime
        _, in_good, in_fallback = np.intersect1d(good_key, fb_subject.astype(np.int64) * n_crimes + fb_crime,
                                                 assume_unique=True, return_indices=True)
        circle_of_pair = np.full(len(good_key), -1, np.int64)
        circle_of_pair[in_good] = fb_fix[in_fallback]
        is_hit = (presence < kernels.NONE) | (circle_of_pair >= 0)
        only_fallback = np.ones(len(fb_fix), dtype=bool)
        only_fallback[in_fallback] = False
        hit_pairs = np.flatnonzero(is_hit)
        return cls(
            subject=np.concatenate([fixes.subject[pairs.lo[hit_pairs]], fb_subject[only_fallback]]),
            crime=np.concatenate([pairs.crime[hit_pairs], fb_crime[only_fallback]]),
            pair=np.concatenate([hit_pairs, np.full(only_fallback.sum(), -1, np.int64)]),
            circle=np.concatenate([circle_of_pair[hit_pairs], fb_fix[only_fallback]]),
            presence=np.concatenate([np.minimum(presence[hit_pairs], kernels.POSSIBLE),
                                     np.full(only_fallback.sum(), kernels.POSSIBLE, np.int8)]).astype(np.int8),
        )


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
    closest_a: np.ndarray
    closest_b: np.ndarray

    @classmethod
    def of(cls, measured: tuple[np.ndarray, ...]) -> tuple["_Measured", "_Committed"]:
        """The padded-window and committed-window measurements of :func:`geomatch.match._kernels.measure`."""
        n = len(fields(cls))
        return cls(*measured[:n]), _Committed(*measured[n:])


@dataclass(frozen=True)
class _Committed:
    """The measurements of each hit over its committed window (inf / ``NAT`` without trail in it)."""

    min_distance_m: np.ndarray
    closest_ns: np.ndarray
    zone_ns: np.ndarray
    n_fixes_in_zone: np.ndarray


@dataclass(frozen=True)
class _Facts:
    """Everything measured about the hits (in :class:`_Hits` order)."""

    hits: _Hits
    zones: _Zones
    fixes: _Fixes
    fallback: _Fixes
    padded: _Measured
    committed: _Committed
    coverage: tuple[np.ndarray, ...]
    circle_fix: np.ndarray
    gap_fix: np.ndarray
    gap_speed: np.ndarray
    gap_basis: np.ndarray


@dataclass(frozen=True)
class _Labelled:
    """The columns of the hits that need no measuring, in table order (by crime reference, then subject), and
    that order as positions in the hits."""

    columns: dict[str, object]
    order: np.ndarray


def _labelled_hits(fixes: _Fixes, zones: _Zones, crimes: pd.DataFrame, hits: _Hits) -> _Labelled:
    subject_names = fixes.subject_names.astype(str).astype(object)
    crime_refs = crimes["crime_ref"].to_numpy(dtype=object).astype(str).astype(object)
    # ranks sorted instead of strings: the same order (stable, ties in pair order), quicker
    order = np.lexsort((_ranks(subject_names)[hits.subject], _ranks(crime_refs)[hits.crime]))
    subject, crime = hits.subject[order], hits.crime[order]
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


def _at(values: np.ndarray, index: np.ndarray, missing) -> np.ndarray:
    """``values[index]``, with ``missing`` where ``index`` is negative."""
    if not len(values):
        return np.full(len(index), missing)
    return np.where(index >= 0, values[np.maximum(index, 0)], missing)


def _with_measurements(labelled: _Labelled, f: _Facts) -> pd.DataFrame:
    """The hits table: :data:`HIT_COLUMNS` in order, rows sorted by crime reference then subject."""
    o, h, m, c = labelled.order, f.hits, f.padded, f.committed
    n_good, fb, fx = len(m.min_distance_m), f.fallback, f.fixes
    alone = h.circle[n_good:]  # the fallback fix of each hit that only such a fix makes
    nan_alone = np.full(len(alone), np.nan)
    nat_alone = np.full(len(alone), kernels.NAT)

    def joined(good: np.ndarray, rest: np.ndarray) -> np.ndarray:
        return np.concatenate([good, rest])[o]

    alone_crime = h.crime[n_good:]
    alone_distance = np.hypot(_at(fb.x, alone, np.nan) - f.zones.cx[alone_crime],
                              _at(fb.y, alone, np.nan) - f.zones.cy[alone_crime])
    alone_window_ns = f.zones.we[alone_crime] - f.zones.ws[alone_crime]  # no good fix in it, none across it
    a, b = m.closest_a, m.closest_b
    kind = np.where(b >= 0, 1, np.where(a >= 0, 0, -1))
    pair = h.pair[:n_good]
    # what made a possible hit: an ok fix's circle, else a fallback fix's circle, else a gap
    ok_circle = f.circle_fix[pair]
    gap_fix = f.gap_fix[pair]
    presence = h.presence
    possible = presence == kernels.POSSIBLE
    by_ok_circle = np.concatenate([possible[:n_good] & (ok_circle >= 0), np.zeros(len(alone), bool)])
    by_fb_circle = possible & ~by_ok_circle & (h.circle >= 0)
    by_gap = possible & ~by_ok_circle & ~by_fb_circle
    circle_good = np.concatenate([np.where(by_ok_circle[:n_good], ok_circle, -1), np.full(len(alone), -1)])
    circle_fb = np.where(by_fb_circle, h.circle, -1)
    gap_i = np.concatenate([np.where(by_gap[:n_good], gap_fix, -1), np.full(len(alone), -1)])
    scene_x = labelled.columns["scene_x"]
    scene_y = labelled.columns["scene_y"]
    cg, cf, gi = circle_good[o], circle_fb[o], gap_i[o]

    def circle(values_good: np.ndarray, values_fb: np.ndarray, missing) -> np.ndarray:
        return np.where(cg >= 0, _at(values_good, cg, missing), _at(values_fb, cf, missing))

    circle_x, circle_y = circle(fx.x, fb.x, np.nan), circle(fx.y, fb.y, np.nan)
    sources = _strings(np.append(fx.source_names.astype(str), "").astype(object))
    no_source = len(fx.source_names)
    good_share, fallback_share, gap_share, longest, n_gaps = f.coverage
    basis = np.concatenate([np.where(by_gap[:n_good], f.gap_basis[pair], -1), np.full(len(alone), -1)])[o]
    measured = {
        "presence": _strings(np.asarray(PRESENCE_CLASSES, dtype=object)).take(presence[o].astype(np.intp)),
        "min_distance_m": joined(m.min_distance_m, alone_distance),
        "closest_time": from_utc_ns(joined(m.closest_ns, _at(fb.t, alone, kernels.NAT))).array,
        "first_in": from_utc_ns(joined(m.first_in_ns, nat_alone)).array,
        "last_out": from_utc_ns(joined(m.last_out_ns, nat_alone)).array,
        "time_in_zone_s": joined(m.zone_ns, np.zeros(len(alone), np.int64)) / _NS,
        "n_fixes_in_zone": joined(m.n_fixes_in_zone, np.zeros(len(alone), np.int64)),
        "speed_at_closest_mps": joined(m.speed_mps, nan_alone),
        "accuracy_at_closest_m": joined(m.accuracy_m, _at(fb.accuracy, alone, np.nan)),
        "max_gap_s": joined(m.max_gap_ns, alone_window_ns) / _NS,
        "closest_x": joined(m.closest_x, _at(fb.x, alone, np.nan)),
        "closest_y": joined(m.closest_y, _at(fb.y, alone, np.nan)),
        "source_at_closest": sources.take(joined(np.where(kind >= 0, m.source, no_source),
                                                 _at(fb.source, alone, no_source)).astype(np.intp)),
        "closest_kind": _strings(np.asarray([*CLOSEST_KINDS, ""], dtype=object)).take(
            joined(np.where(kind >= 0, kind, 2), np.zeros(len(alone), np.int64)).astype(np.intp)),
        "closest_fix_time": from_utc_ns(joined(_at(fx.t, a, kernels.NAT), _at(fb.t, alone, kernels.NAT))).array,
        "closest_next_fix_time": from_utc_ns(joined(_at(fx.t, b, kernels.NAT), nat_alone)).array,
        "min_distance_committed_m": joined(np.where(np.isfinite(c.min_distance_m), c.min_distance_m, np.nan),
                                           nan_alone),
        "closest_time_committed": from_utc_ns(joined(c.closest_ns, nat_alone)).array,
        "time_in_zone_committed_s": joined(c.zone_ns, np.zeros(len(alone), np.int64)) / _NS,
        "n_fixes_in_zone_committed": joined(c.n_fixes_in_zone, np.zeros(len(alone), np.int64)),
        "coverage_good_share": good_share[o],
        "coverage_fallback_share": fallback_share[o],
        "coverage_gap_share": gap_share[o],
        "longest_gap_committed_s": longest[o] / _NS,
        "n_gaps_committed": n_gaps[o],
        "possible_by": _strings(np.asarray(["accuracy circle", "gap", ""], dtype=object)).take(
            np.where((cg >= 0) | (cf >= 0), 0, np.where(gi >= 0, 1, 2)).astype(np.intp)),
        "circle_fix_time": from_utc_ns(circle(fx.t, fb.t, kernels.NAT)).array,
        "circle_distance_m": np.hypot(circle_x - scene_x, circle_y - scene_y),
        "circle_accuracy_m": circle(fx.accuracy, fb.accuracy, np.nan),
        "circle_source": sources.take(circle(fx.source, fb.source, no_source).astype(np.intp)),
        "circle_quality": _strings(np.asarray([*QUALITY_CLASSES[:2], ""], dtype=object)).take(
            np.where(cg >= 0, 0, np.where(cf >= 0, 1, 2)).astype(np.intp)),
        "gap_from": from_utc_ns(_at(fx.t, gi, kernels.NAT)).array,
        "gap_to": from_utc_ns(_at(fx.t, np.where(gi >= 0, gi + 1, -1), kernels.NAT)).array,
        "gap_speed_mps": np.where(gi >= 0, np.concatenate([f.gap_speed[pair], nan_alone])[o], np.nan),
        "gap_speed_basis": _strings(np.asarray([*SPEED_BASES, ""], dtype=object)).take(
            np.where(basis >= 0, basis, len(SPEED_BASES)).astype(np.intp)),
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
