"""Reasons: short sentences that say why a hit scored as it did, from its features and the default model's
points, e.g. "stopped 14 min within 100 m, centred 6 m from the scene; not a place this subject visits
routinely (6 other days of trail)". Sentences are joined with "; " in the order of
:data:`geomatch.scoring.model.TERMS`.

Every sentence is built a column at a time (one pyarrow array of texts per sentence, numbers formatted and
pieces joined in C++), never a row at a time in Python: a force-month has a hundred thousand hits.
:func:`presence_phrase` and :func:`coverage_phrase` give one hit's first sentences (for its statement) from the
same code.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geomatch.core.cores import available_cores
from geomatch.scoring.config import ScoreConfig

SEPARATOR = "; "
MIN_SLICE = 20_000  # hits told by one thread at least (fewer are not worth a thread)
WALK_MAX_MPS = 2.5  # passes slower than this (9 km/h) are told as walking, faster ones below vehicle speed as moving
#: The hit columns and features the reasons read.
READS = ("presence", "min_distance_m", "radius_m", "accuracy_at_closest_m", "source_at_closest", "max_gap_s",
         "stop_s", "stop_offset_m", "speed_near_mps", "window_s", "home_distance_m", "home_nights", "days_passing",
         "days_stopped", "routine_days")
#: The matcher's facts the first sentences are built from (hits matched before they existed lack them: those
#: sentences are then left out rather than guessed).
FACTS = ("n_fixes_in_zone", "closest_time", "closest_kind", "closest_fix_time", "closest_next_fix_time",
         "min_distance_committed_m", "closest_time_committed", "coverage_good_share", "coverage_fallback_share",
         "coverage_gap_share", "longest_gap_committed_s", "n_gaps_committed", "possible_by", "circle_distance_m",
         "circle_accuracy_m", "circle_source", "gap_from", "gap_to", "gap_speed_mps", "gap_speed_basis")

Texts = pa.Array  # one text per hit (pyarrow strings); "" where a sentence is not said


def duration(seconds: float) -> str:
    """A duration for people: ``40 s``, ``14 min``, ``2 h 20 min``, ``1 d 3 h``."""
    if not math.isfinite(seconds):
        return "unknown time"
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def with_article(word: str) -> str:
    """"a GPS fix", "an LBS fix": the article as the letters are read out."""
    return ("an " if word[:1].upper() in "AEFHILMNORSX" else "a ") + word


# ---- formatting a column at a time ------------------------------------------------------------------------------

def _texts(values: list[str] | np.ndarray) -> Texts:
    """Python texts as a pyarrow array of strings."""
    return pa.array(values, type=pa.string())


def _each(values: np.ndarray, text: Callable[[object], str]) -> Texts:
    """``text(value)`` of every value, worked out once per distinct value (a column holds few)."""
    codes, distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    return _texts([text(value) for value in distinct]).take(codes)


def metres(values: np.ndarray) -> Texts:
    """Each value as ``f"{value:.0f}"``: whole non-negative numbers in bulk (``rint`` rounds half to even, as
    the format does; written by pyarrow), anything else (NaN, inf, negatives) one by one."""
    values = np.asarray(values, dtype=float)
    bulk = np.isfinite(values) & ~np.signbit(values) & (values < 2.0 ** 52)
    whole = _counts(np.rint(np.where(bulk, values, 0.0)).astype(np.int64))
    if bulk.all():
        return whole
    other = np.full(len(values), "", dtype=object)
    other[~bulk] = [f"{value:.0f}" for value in values[~bulk].tolist()]
    return _where(bulk, whole, _texts(other))


def _counts(values: np.ndarray) -> Texts:
    """Whole numbers as text (``3``): integers written by pyarrow, other values as ``str`` gives them."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    return _each(values, str)


def durations(seconds: np.ndarray) -> Texts:
    """:func:`duration` of each value."""
    return _each(np.asarray(seconds, dtype=float), lambda value: duration(float(value)))


def _percent(shares: np.ndarray) -> Texts:
    """``f"{share:.0%}"`` with a space before the sign: ``62 %``."""
    return _cat(metres(np.asarray(shares, dtype=float) * 100.0), " %")


def _repeat(text: str, n: int) -> Texts:
    """``text`` ``n`` times."""
    return pa.repeat(pa.scalar(text, type=pa.string()), n)


def _where(mask: np.ndarray, said: Texts | str, otherwise: Texts | str) -> Texts:
    """Per hit, ``said`` where ``mask`` holds, else ``otherwise``."""
    return pc.if_else(np.asarray(mask, dtype=bool), said, otherwise)


def _choose(n: int, cases: list[tuple[np.ndarray, Callable[[np.ndarray], Texts]]], default: str = "") -> Texts:
    """Per hit, the text of the first case whose mask holds (``make(rows)`` builds it for those rows only)."""
    source = np.empty(n, dtype=np.int64)  # each hit's place in the cases' texts, one after another
    free = np.ones(n, dtype=bool)
    made: list[Texts] = []
    size = 0
    for mask, make in cases:
        rows = np.flatnonzero(mask & free)
        if len(rows):
            free[rows] = False
            made.append(make(rows))
            source[rows] = np.arange(size, size + len(rows))
            size += len(rows)
    source[free] = size
    return pa.concat_arrays([*made, _texts([default])]).take(source)


def _cat(*pieces: Texts | str) -> Texts:
    """The pieces (arrays of texts, or one text for every row) joined row by row. At least one is an array."""
    return pc.binary_join_element_wise(*pieces, "")


def _said(sentence: Texts) -> np.ndarray:
    """Whether each hit's sentence is said (not empty)."""
    return pc.not_equal(sentence, "").to_numpy(zero_copy_only=False)


def _join(sentences: list[Texts]) -> list[str]:
    """The sentences of each hit joined with :data:`SEPARATOR`, leaving out empty ones: one join of every
    sentence with, before each, the separator where it is said after one that was."""
    pieces: list[Texts | str] = [sentences[0]]
    before = _said(sentences[0])
    for sentence in sentences[1:]:
        said = _said(sentence)
        pieces += [_where(said & before, SEPARATOR, ""), sentence]
        before |= said
    return _cat(*pieces).to_pylist()


class _RowSeries(dict):
    """The values of one row, each given as a one-value Series (made on first use, then kept)."""

    def __init__(self, row: Mapping[str, object]) -> None:
        super().__init__()
        self.row = row

    def __missing__(self, name: str) -> pd.Series:
        series = self[name] = pd.Series([self.row[name]])
        return series


class _Columns:
    """A table's columns as arrays: :meth:`num` floats (NaN where missing), :meth:`obj` the values as they are,
    :meth:`seconds` the time from one time column to another."""

    def __init__(self, table: pd.DataFrame | Mapping[str, pd.Series], n: int | None = None) -> None:
        self.table, self.n = table, len(table) if n is None else n

    @classmethod
    def of_row(cls, row: Mapping[str, object]) -> _Columns:
        """One hit's columns (``row``), each made a one-value Series when first read: a statement reads a few
        of a hit's ~80 columns, and a one-row DataFrame of them all cost more than telling the sentences."""
        return cls(_RowSeries(row), 1)

    def num(self, name: str) -> np.ndarray:
        return pd.to_numeric(self.table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def obj(self, name: str) -> np.ndarray:
        return self.table[name].to_numpy(dtype=object)

    def raw(self, name: str) -> np.ndarray:
        """The values in the column's own dtype (integers stay integers, to be written in bulk)."""
        return self.table[name].to_numpy()

    def seconds(self, start: str, end: str) -> np.ndarray:
        """Seconds from ``start`` to ``end`` (NaN where either is missing), as ``Timedelta.total_seconds``."""
        a, b = (pd.to_datetime(self.table[c], utc=True).to_numpy(dtype="datetime64[ns]").view("i8")
                for c in (start, end))
        missing = (a == np.iinfo(np.int64).min) | (b == np.iinfo(np.int64).min)
        return np.where(missing, np.nan, (b - a) / 1e9)


# ---- the sentences ---------------------------------------------------------------------------------------------

def closest_phrases(c: _Columns) -> Texts:
    """What the closest approach is, from the hits' facts: "21 m, at a GPS fix (±8 m)" or "21 m, a point on
    the straight line between two fixes 60 s apart", and the window it lies in."""
    distance, committed = c.num("min_distance_m"), c.num("min_distance_committed_m")
    accuracy = c.num("accuracy_at_closest_m")
    segment = c.obj("closest_kind") == "segment"
    at = metres(distance)
    what = _choose(c.n, [
        (segment, lambda rows: _cat(at.take(rows), " m, a point on the straight line between two fixes ",
                                    durations(c.seconds("closest_fix_time", "closest_next_fix_time")[rows]), " apart")),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(
            at.take(rows), " m, at ", _each(c.obj("source_at_closest")[rows], lambda source: with_article(str(source))),
            " fix", _where(np.isnan(accuracy[rows]), " (accuracy not reported)",
                           _cat(" (±", metres(accuracy[rows]), " m)")))),
    ])
    return _choose(c.n, [
        (np.isnan(distance), lambda rows: _repeat("none: the trail of good fixes does not reach the window",
                                                         len(rows))),
        (np.isnan(committed), lambda rows: _cat(what.take(rows), ", within the padded window (no trail during the "
                                                            "committed window)")),
        (committed <= distance + 1e-6, lambda rows: _cat(what.take(rows), ", during the committed window")),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(what.take(rows), ", within the padded window (",
                                                     metres(committed[rows]),
                                                     " m at the closest during the committed window)")),
    ])


def coverage_phrases(c: _Columns) -> Texts:
    """"tag coverage during the committed window: 62 % GPS, 0 % fallback, 38 % gap (one gap of 19 min)"."""
    gaps = c.num("n_gaps_committed").astype(np.int64)
    longest = durations(c.num("longest_gap_committed_s"))
    told = _choose(c.n, [(gaps == 0, lambda rows: _repeat("no gap", len(rows))),
                         (gaps == 1, lambda rows: _cat("one gap of ", longest.take(rows))),
                         (gaps > 1, lambda rows: _cat(_counts(gaps[rows]), " gaps, the longest ",
                                                      longest.take(rows)))])
    return _cat("tag coverage during the committed window: ", _percent(c.num("coverage_good_share")), " GPS, ",
                _percent(c.num("coverage_fallback_share")), " fallback, ", _percent(c.num("coverage_gap_share")),
                " gap (", told, ")")


def presence_phrases(c: _Columns) -> Texts:
    """The first sentence: what placed the subject near the scene, exactly as the matcher measured it."""
    presence = c.obj("presence")
    closest = closest_phrases(c)
    return _choose(c.n, [
        (presence == "observed", lambda rows: _cat(
            _fixes(c.num("n_fixes_in_zone")[rows].astype(np.int64)), " inside the ", metres(c.num("radius_m")[rows]),
            " m zone within the padded window; closest approach ", closest.take(rows))),
        (presence == "interpolated", lambda rows: _cat("no fix inside the zone, but the path between fixes enters "
                                                       "it; closest approach ", closest.take(rows))),
        (c.obj("possible_by") == "accuracy circle", lambda rows: _cat(
            "possible only: ", _each(c.obj("circle_source")[rows], lambda source: with_article(str(source))), " fix ",
            metres(c.num("circle_distance_m")[rows]), " m from the scene whose accuracy circle (±",
            metres(c.num("circle_accuracy_m")[rows]), " m) reaches the zone; closest approach of the trail ",
            closest.take(rows))),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(
            "possible only: no fix near the scene; a ", durations(c.seconds("gap_from", "gap_to")[rows]),
            " gap in the trail from which it could have been reached and left at ",
            metres(c.num("gap_speed_mps")[rows] * 3.6), " km/h (", _each(c.obj("gap_speed_basis")[rows], str),
            "); closest approach of the trail ", closest.take(rows))),
    ])


def _fixes(n: np.ndarray) -> Texts:
    return _where(n == 1, "one fix", _cat(_counts(n), " fixes"))


def _days(n: np.ndarray) -> Texts:
    return _cat(_counts(n), _where(n == 1, " other day", " other days"))


def presence_phrase(row: dict) -> str:
    """:func:`presence_phrases` of one hit (its columns in ``row``)."""
    return presence_phrases(_Columns.of_row(row))[0].as_py()


def coverage_phrase(row: dict) -> str:
    """:func:`coverage_phrases` of one hit (its columns in ``row``)."""
    return coverage_phrases(_Columns.of_row(row))[0].as_py()


def all_reasons(table: pd.DataFrame, terms: pd.DataFrame, config: ScoreConfig, *,
                threads: int | None = None) -> list[str]:
    """The reasons of every hit: ``table`` holds the hit columns and features, ``terms`` the points per term.
    Consecutive slices of the hits are told on ``threads`` threads at once (None: one per available core;
    pyarrow's kernels let go of the interpreter lock); the texts do not depend on their number."""
    slices = max(1, min(threads or available_cores(), len(table) // MIN_SLICE))
    if slices == 1:
        return _reasons(table, terms, config)
    bounds = np.linspace(0, len(table), slices + 1).astype(int)
    with ThreadPoolExecutor(slices) as pool:
        told = pool.map(lambda a, b: _reasons(table.iloc[a:b], terms.iloc[a:b], config), bounds[:-1], bounds[1:])
        return [text for part in told for text in part]


def _reasons(table: pd.DataFrame, terms: pd.DataFrame, config: ScoreConfig) -> list[str]:
    """:func:`all_reasons` on one thread."""
    c, w, n = _Columns(table), config.weights, len(table)
    pts = {name: terms[name].to_numpy(dtype=float) for name in ("pass_speed", "home", "window", "source", "coarse",
                                                               "gap")}
    presence, radius = c.obj("presence"), metres(c.num("radius_m"))
    if all(name in table.columns for name in FACTS):
        said = [presence_phrases(c), coverage_phrases(c)]
    else:  # hits matched before the facts existed: no claim about fixes
        distance = metres(c.num("min_distance_m"))
        said = [_choose(n, [
            (presence == "observed", lambda rows: _cat("observed: the trail came within ", distance.take(rows),
                                                       " m of the scene")),
            (presence == "interpolated", lambda rows: _cat("interpolated: the path between fixes passes ",
                                                           distance.take(rows), " m from the scene")),
            (np.ones(n, dtype=bool), lambda rows: _cat("possible: the trail came within ", distance.take(rows),
                                                       " m of the scene")),
        ])]

    stop_s, offset, speed = c.num("stop_s"), c.num("stop_offset_m"), c.num("speed_near_mps")
    said.append(_choose(n, [
        (stop_s >= config.stop_min_s, lambda rows: _cat(
            "stopped ", durations(stop_s[rows]), " within ", radius.take(rows), " m",
            _where(np.isnan(offset[rows]), "", _cat(", centred ", metres(offset[rows]), " m from the scene")))),
        (pts["pass_speed"] < 0, lambda rows: _cat(
            _texts(np.where(speed[rows] >= w.vehicle_speed_mps, "drove",
                            np.where(speed[rows] < WALK_MAX_MPS, "walked", "moved"))),
            " past without stopping (", metres(speed[rows] * 3.6), " km/h)")),
        (presence != "possible", lambda rows: _cat("no stop in the zone (longest stay ", durations(stop_s[rows]), ")")),
    ]))

    days_stopped, days_passing = c.num("days_stopped"), c.num("days_passing")
    home = _choose(n, [(pts["home"] < 0, lambda rows: _cat(
        "the subject's home is ", metres(c.num("home_distance_m")[rows]), " m from the scene (",
        _counts(c.raw("home_nights")[rows]), " nights there)"))])
    stopped = _choose(n, [(days_stopped > 0, lambda rows: _cat("stopped within ", radius.take(rows), " m on ",
                                                               _days(c.raw("days_stopped")[rows])))])
    passing = _choose(n, [(days_passing > 0, lambda rows: _cat("passes within ", radius.take(rows), " m on ",
                                                               _days(c.raw("days_passing")[rows])))])
    routine = _said(home) | _said(stopped) | _said(passing)
    said += [home, stopped, passing, _choose(n, [
        (routine, lambda rows: _repeat("", len(rows))),
        (c.num("routine_days") > 0, lambda rows: _cat("not a place this subject visits routinely (",
                                                      _counts(c.raw("routine_days")[rows]), " other days of trail)")),
    ], default="no trail outside the crime's days to judge routine")]

    window = pts["window"]
    specific = np.where(window >= 2.0 * w.window / 3.0, "specific",
                        np.where(window <= w.window / 3.0, "unspecific", "moderately specific"))
    said.append(_cat(durations(c.num("window_s")), " window (", _texts(specific), ")"))
    said.append(_choose(n, [(pts["source"] < 0, lambda rows: _cat("closest position from ", _where(
        c.obj("source_at_closest")[rows] == "LBS", "the phone network (LBS)", "Wi-Fi"), ", not GPS"))]))
    accuracy = np.nan_to_num(c.num("accuracy_at_closest_m"), nan=config.default_accuracy_m)
    said.append(_choose(n, [(pts["coarse"] < 0, lambda rows: _cat(
        "accuracy at the closest approach ", metres(accuracy[rows]), " m is wider than the ", radius.take(rows),
        " m zone"))]))
    said.append(_choose(n, [(pts["gap"] < 0, lambda rows: _cat("a ", durations(c.num("max_gap_s")[rows]),
                                                               " gap in the trail around the window"))]))
    return _join(said)
