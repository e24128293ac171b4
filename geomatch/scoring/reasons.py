"""Reasons: short sentences that say why a hit scored as it did, from its features and the default model's
points, e.g. "stopped 14 min within 100 m, centred 6 m from the scene; not a place this subject visits
routinely (6 other days of trail)". Sentences are joined with "; " in the order of
:data:`geomatch.scoring.model.TERMS`.

Every sentence is built a column at a time (one array of texts per sentence, numbers formatted in bulk), never a
row at a time: a force-month has a hundred thousand hits. :func:`presence_phrase` and :func:`coverage_phrase`
give one hit's first sentences (for its statement) from the same code.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from itertools import repeat

import numpy as np
import pandas as pd

from geomatch.scoring.config import ScoreConfig

SEPARATOR = "; "
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

Texts = np.ndarray  # one str per hit (object array); "" where a sentence is not said


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

def _each(values: np.ndarray, text: Callable[[object], str]) -> Texts:
    """``text(value)`` of every value, worked out once per distinct value (a column holds few)."""
    codes, distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    return np.array([text(value) for value in distinct] + [""], dtype=object)[codes]


def metres(values: np.ndarray) -> Texts:
    """Each value as ``f"{value:.0f}"``: whole non-negative numbers in bulk (``rint`` rounds half to even, as
    the format does; each distinct number is written once), anything else (NaN, inf, negatives) one by one."""
    values = np.asarray(values, dtype=float)
    out = np.empty(len(values), dtype=object)
    bulk = np.isfinite(values) & ~np.signbit(values) & (values < 2.0 ** 52)
    out[bulk] = _counts(np.rint(values[bulk]).astype(np.int64))
    out[~bulk] = [f"{value:.0f}" for value in values[~bulk].tolist()]
    return out


def _counts(values: np.ndarray) -> Texts:
    """Whole numbers as text (``3``), each distinct number written once."""
    codes, distinct = pd.factorize(np.asarray(values))
    return np.array(list(map(str, distinct.tolist())), dtype=object)[codes] if len(codes) else \
        np.zeros(0, dtype=object)


def durations(seconds: np.ndarray) -> Texts:
    """:func:`duration` of each value."""
    return _each(np.asarray(seconds, dtype=float), lambda value: duration(float(value)))


def _percent(shares: np.ndarray) -> Texts:
    """``f"{share:.0%}"`` with a space before the sign: ``62 %``."""
    return _cat(metres(np.asarray(shares, dtype=float) * 100.0), " %")


def _choose(n: int, cases: list[tuple[np.ndarray, Callable[[np.ndarray], Texts]]], default: str = "") -> Texts:
    """Per hit, the text of the first case whose mask holds (``make(rows)`` builds it for those rows only)."""
    out = np.full(n, default, dtype=object)
    free = np.ones(n, dtype=bool)
    for mask, make in cases:
        rows = np.flatnonzero(mask & free)
        free[rows] = False
        if len(rows):
            out[rows] = make(rows)
    return out


def _cat(*pieces: Texts | str) -> Texts:
    """The pieces (arrays of texts, or one text for every row) joined row by row, each row's text built once
    (chaining ``+`` over object arrays builds every intermediate text: 2-3x slower). At least one piece is an
    array."""
    columns = [repeat(piece) if isinstance(piece, str) else piece.tolist() for piece in pieces]
    return np.array(list(map("".join, zip(*columns))), dtype=object)


def _join(sentences: list[Texts]) -> list[str]:
    """The sentences of each hit joined with :data:`SEPARATOR`, leaving out empty ones."""
    return [SEPARATOR.join(filter(None, said)) for said in zip(*(sentence.tolist() for sentence in sentences))]


class _Columns:
    """A table's columns as arrays: :meth:`num` floats (NaN where missing), :meth:`obj` the values as they are,
    :meth:`seconds` the time from one time column to another."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table, self.n = table, len(table)

    def num(self, name: str) -> np.ndarray:
        return pd.to_numeric(self.table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def obj(self, name: str) -> np.ndarray:
        return self.table[name].to_numpy(dtype=object)

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
        (segment, lambda rows: _cat(at[rows], " m, a point on the straight line between two fixes ",
                                    durations(c.seconds("closest_fix_time", "closest_next_fix_time")[rows]), " apart")),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(
            at[rows], " m, at ", _each(c.obj("source_at_closest")[rows], lambda source: with_article(str(source))),
            " fix", np.where(np.isnan(accuracy[rows]), " (accuracy not reported)",
                             _cat(" (±", metres(accuracy[rows]), " m)")))),
    ])
    return _choose(c.n, [
        (np.isnan(distance), lambda rows: np.full(len(rows), "none: the trail of good fixes does not reach the window",
                                                 dtype=object)),
        (np.isnan(committed), lambda rows: _cat(what[rows], ", within the padded window (no trail during the "
                                                            "committed window)")),
        (committed <= distance + 1e-6, lambda rows: _cat(what[rows], ", during the committed window")),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(what[rows], ", within the padded window (",
                                                     metres(committed[rows]),
                                                     " m at the closest during the committed window)")),
    ])


def coverage_phrases(c: _Columns) -> Texts:
    """"tag coverage during the committed window: 62 % GPS, 0 % fallback, 38 % gap (one gap of 19 min)"."""
    gaps = c.num("n_gaps_committed").astype(np.int64)
    longest = durations(c.num("longest_gap_committed_s"))
    told = _choose(c.n, [(gaps == 0, lambda rows: np.full(len(rows), "no gap", dtype=object)),
                         (gaps == 1, lambda rows: _cat("one gap of ", longest[rows]))])
    many = gaps > 1
    told[many] = _cat(_counts(gaps[many]), " gaps, the longest ", longest[many])
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
            " m zone within the padded window; closest approach ", closest[rows])),
        (presence == "interpolated", lambda rows: _cat("no fix inside the zone, but the path between fixes enters "
                                                       "it; closest approach ", closest[rows])),
        (c.obj("possible_by") == "accuracy circle", lambda rows: _cat(
            "possible only: ", _each(c.obj("circle_source")[rows], lambda source: with_article(str(source))), " fix ",
            metres(c.num("circle_distance_m")[rows]), " m from the scene whose accuracy circle (±",
            metres(c.num("circle_accuracy_m")[rows]), " m) reaches the zone; closest approach of the trail ",
            closest[rows])),
        (np.ones(c.n, dtype=bool), lambda rows: _cat(
            "possible only: no fix near the scene; a ", durations(c.seconds("gap_from", "gap_to")[rows]),
            " gap in the trail from which it could have been reached and left at ",
            metres(c.num("gap_speed_mps")[rows] * 3.6), " km/h (", _each(c.obj("gap_speed_basis")[rows], str),
            "); closest approach of the trail ", closest[rows])),
    ])


def _fixes(n: np.ndarray) -> Texts:
    return np.where(n == 1, "one fix", _cat(_counts(n), " fixes"))


def _days(n: np.ndarray) -> Texts:
    return _cat(_counts(n), np.where(n == 1, " other day", " other days"))


def presence_phrase(row: dict) -> str:
    """:func:`presence_phrases` of one hit (its columns in ``row``)."""
    return str(presence_phrases(_Columns(pd.DataFrame([row])))[0])


def coverage_phrase(row: dict) -> str:
    """:func:`coverage_phrases` of one hit (its columns in ``row``)."""
    return str(coverage_phrases(_Columns(pd.DataFrame([row])))[0])


def all_reasons(table: pd.DataFrame, terms: pd.DataFrame, config: ScoreConfig) -> list[str]:
    """The reasons of every hit: ``table`` holds the hit columns and features, ``terms`` the points per term."""
    c, w, n = _Columns(table), config.weights, len(table)
    pts = {name: terms[name].to_numpy(dtype=float) for name in ("pass_speed", "home", "window", "source", "coarse",
                                                               "gap")}
    presence, radius = c.obj("presence"), metres(c.num("radius_m"))
    if all(name in table.columns for name in FACTS):
        said = [presence_phrases(c), coverage_phrases(c)]
    else:  # hits matched before the facts existed: no claim about fixes
        distance = metres(c.num("min_distance_m"))
        said = [_choose(n, [
            (presence == "observed", lambda rows: _cat("observed: the trail came within ", distance[rows],
                                                       " m of the scene")),
            (presence == "interpolated", lambda rows: _cat("interpolated: the path between fixes passes ",
                                                           distance[rows], " m from the scene")),
            (np.ones(n, dtype=bool), lambda rows: _cat("possible: the trail came within ", distance[rows],
                                                       " m of the scene")),
        ])]

    stop_s, offset, speed = c.num("stop_s"), c.num("stop_offset_m"), c.num("speed_near_mps")
    said.append(_choose(n, [
        (stop_s >= config.stop_min_s, lambda rows: _cat(
            "stopped ", durations(stop_s[rows]), " within ", radius[rows], " m",
            np.where(np.isnan(offset[rows]), "", _cat(", centred ", metres(offset[rows]), " m from the scene")))),
        (pts["pass_speed"] < 0, lambda rows: _cat(
            np.where(speed[rows] >= w.vehicle_speed_mps, "drove",
                     np.where(speed[rows] < WALK_MAX_MPS, "walked", "moved")),
            " past without stopping (", metres(speed[rows] * 3.6), " km/h)")),
        (presence != "possible", lambda rows: _cat("no stop in the zone (longest stay ", durations(stop_s[rows]), ")")),
    ]))

    days_stopped, days_passing = c.num("days_stopped"), c.num("days_passing")
    home = _choose(n, [(pts["home"] < 0, lambda rows: _cat(
        "the subject's home is ", metres(c.num("home_distance_m")[rows]), " m from the scene (",
        _counts(c.obj("home_nights")[rows]), " nights there)"))])
    stopped = _choose(n, [(days_stopped > 0, lambda rows: _cat("stopped within ", radius[rows], " m on ",
                                                               _days(c.obj("days_stopped")[rows])))])
    passing = _choose(n, [(days_passing > 0, lambda rows: _cat("passes within ", radius[rows], " m on ",
                                                               _days(c.obj("days_passing")[rows])))])
    routine = (home != "") | (stopped != "") | (passing != "")
    said += [home, stopped, passing, _choose(n, [
        (routine, lambda rows: np.full(len(rows), "", dtype=object)),
        (c.num("routine_days") > 0, lambda rows: _cat("not a place this subject visits routinely (",
                                                      _counts(c.obj("routine_days")[rows]), " other days of trail)")),
    ], default="no trail outside the crime's days to judge routine")]

    window = pts["window"]
    specific = np.where(window >= 2.0 * w.window / 3.0, "specific",
                        np.where(window <= w.window / 3.0, "unspecific", "moderately specific"))
    said.append(_cat(durations(c.num("window_s")), " window (", specific, ")"))
    said.append(_choose(n, [(pts["source"] < 0, lambda rows: _cat("closest position from ", np.where(
        c.obj("source_at_closest")[rows] == "LBS", "the phone network (LBS)", "Wi-Fi"), ", not GPS"))]))
    accuracy = np.nan_to_num(c.num("accuracy_at_closest_m"), nan=config.default_accuracy_m)
    said.append(_choose(n, [(pts["coarse"] < 0, lambda rows: _cat(
        "accuracy at the closest approach ", metres(accuracy[rows]), " m is wider than the ", radius[rows],
        " m zone"))]))
    said.append(_choose(n, [(pts["gap"] < 0, lambda rows: _cat("a ", durations(c.num("max_gap_s")[rows]),
                                                               " gap in the trail around the window"))]))
    return _join(said)
