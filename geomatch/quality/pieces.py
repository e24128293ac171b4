"""The trail-quality rule over trails held in pieces (the files of a partitioned dataset, a day each): every
piece flagged on its own (:func:`~geomatch.quality.flags.flag_quality`), then the two ends of each subject's
trail in it judged again with the fixes of the pieces around it (:func:`judge_ends`), gives every fix the flag
that flagging the whole trail at once gives it.

Why it is exact. Fallback flags depend on the fix alone. Outliers are sought among the fixes that are not
fallback (*kept* fixes), each subject's in time order; a fix's neighbours are the kept fixes next to it, outliers
included. Only a fix entered by a jump (a step faster than ``outlier_speed_mps``) starts a candidate run, and a
run ends at the first jump after it or ``outlier_max_run_s`` after its start (so the scan, skipping past a run
it flags, skips no fix entered by a jump): every candidate is judged on its own, from the kept fix before it,
the run (at most ``outlier_max_run_s`` long) and the kept fix after it. Given
pieces that each hold a stretch of time (no subject's fixes in two pieces interleave), a candidate judged inside
one piece is judged as over the whole trail (a piece flagged alone never finds a false outlier); it misses only
the runs whose fix before or fix after lies in another piece. Such a run lies within ``outlier_max_run_s`` of
the subject's first or last kept fix in the piece, so each is judged exactly in one of two windows:

* the *head window*: the kept fixes of the pieces before from ``outlier_max_run_s`` before the piece's first kept
  fix on, and one more before them (a suffix of the merged *tails* of those pieces: each one's last
  ``outlier_max_run_s`` of kept fixes and one more, however many pieces back the subject was last seen), then
  the kept fixes from the piece's first up to ``outlier_max_run_s`` after it, and one more (running on into the
  merged *heads* of the pieces after when the piece ends sooner: a piece may hold a single fix);
* the *tail window*: its mirror image at the piece's last kept fix.

Flagging a window with the ordinary rule can only miss an outlier (a run cut by the window's end is not judged a
spike), never invent one, so the piece's own flags plus those found in its two windows are the flags over the
whole trail. The tests hold this to :func:`~geomatch.quality.flags.flag_quality` over whole trails cut anywhere,
and the Dask engine to the local one on planted spikes at partition edges.

Times are int64 ns UTC inside; ``outlier_max_run_s`` in seconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geomatch.core.times import utc_ns
from geomatch.quality.flags import FALLBACK, NS, OUTLIER, QUALITY_CLASSES, QualityRule, outlier_reason, quality_codes

END_COLUMNS = ["subject_id", "timestamp", "x", "y", "accuracy_m", "source"]
"""The columns of the fixes that travel between pieces (what the rule reads)."""
_ROW = "_row"  # a window's column: the fix's row in the piece, -1 for fixes of other pieces


def trail_ends(fixes: pd.DataFrame, rule: QualityRule) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The piece's (head, tail): per subject, the kept fixes (not ``fallback``) of ``fixes`` within
    ``outlier_max_run_s`` of its first (head) or last (tail) kept fix, and the one kept fix next to them inward;
    in subject then time order, with :data:`END_COLUMNS` and their rows in ``fixes`` (:data:`_ROW`).

    Args:
        fixes: flagged fixes (a ``quality`` column), sorted by subject then time as the loader sorts them.
    """
    kept = np.flatnonzero(fixes["quality"].cat.codes.to_numpy() != FALLBACK)
    subject, t = _subject_codes(fixes)[kept], utc_ns(fixes["timestamp"])[kept]
    return tuple(fixes.iloc[rows][END_COLUMNS].assign(**{_ROW: rows}).reset_index(drop=True)
                 for rows in (kept[_end_mask(subject, t, rule, end)] for end in ("head", "tail")))


def merged_ends(frames: list[pd.DataFrame], rule: QualityRule, end: str) -> pd.DataFrame:
    """The :func:`trail_ends` of the trails the ``frames`` (ends of pieces, or of merges, in any order) hold
    together: what a later piece needs of all those before it (``"tail"``), or an earlier one of all those after
    (``"head"``)."""
    frames = [f for f in frames if len(f)]
    if len(frames) < 2:
        return frames[0] if frames else pd.DataFrame(columns=END_COLUMNS)
    every = _by_subject_and_time(pd.concat(frames, ignore_index=True))
    mask = _end_mask(_subject_codes(every), utc_ns(every["timestamp"]), rule, end)
    return every.iloc[np.flatnonzero(mask)].reset_index(drop=True)


def judge_ends(fixes: pd.DataFrame, ends: tuple[pd.DataFrame, pd.DataFrame], before: pd.DataFrame,
               after: pd.DataFrame, rule: QualityRule) -> pd.DataFrame | None:
    """The piece's ``fixes`` (flagged on their own) with the outliers that its subjects' first and last kept
    fixes make together with the fixes around the piece: ``before``, the merged tails of the pieces before it,
    and ``after``, the merged heads of those after (:func:`merged_ends`); None when no flag changes.

    Args:
        fixes: one piece's flagged fixes, sorted by subject then time.
        ends: the piece's own (head, tail) (:func:`trail_ends`).
    """
    head, tail = ends
    subjects = set(head["subject_id"])
    before, after = _theirs(before, subjects), _theirs(after, subjects)
    found = [_window_outliers([before, merged_ends([head, after], rule, "head")], rule),
             _window_outliers([merged_ends([before, tail], rule, "tail"), after], rule)]
    rows = np.concatenate([rows for rows, _ in found])
    speed = np.concatenate([speed for _, speed in found])
    codes = fixes["quality"].cat.codes.to_numpy()
    new = codes[rows] != OUTLIER
    rows, speed = rows[new], speed[new]
    if not len(rows):
        return None
    rows, first = np.unique(rows, return_index=True)  # a fix found in both windows has the same run there
    speed = speed[first]
    codes = codes.copy()
    codes[rows] = OUTLIER
    reasons = fixes["quality_reason"].cat
    texts = [outlier_reason(value, rule) for value in speed]
    categories = list(reasons.categories) + sorted(set(texts) - set(reasons.categories))
    reason_codes = reasons.codes.to_numpy().copy()
    reason_codes[rows] = pd.Index(categories).get_indexer(texts)
    return fixes.assign(quality=pd.Categorical.from_codes(codes, categories=list(QUALITY_CLASSES)),
                        quality_reason=pd.Categorical.from_codes(reason_codes, categories=categories))


def _theirs(fixes: pd.DataFrame, subjects: set[str]) -> pd.DataFrame:
    """The fixes of other pieces that belong to ``subjects``, numbered -1 in :data:`_ROW`."""
    if not len(fixes):
        return fixes
    return fixes[fixes["subject_id"].isin(subjects)].assign(**{_ROW: -1})


def _window_outliers(frames: list[pd.DataFrame], rule: QualityRule) -> tuple[np.ndarray, np.ndarray]:
    """The piece's rows (:data:`_ROW`) that the rule flags outliers in the window the ``frames`` make (a
    contiguous stretch of kept fixes per subject), and the speed (m/s) that made each."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return np.zeros(0, np.int64), np.zeros(0)
    window = _by_subject_and_time(pd.concat(frames, ignore_index=True))
    _, outliers, speed = quality_codes(window, rule)
    rows = window[_ROW].to_numpy()[outliers]
    mine = rows >= 0
    return rows[mine].astype(np.int64), speed[mine]


def _by_subject_and_time(fixes: pd.DataFrame) -> pd.DataFrame:
    """``fixes`` sorted by subject then time (stable; subjects in any order, each one's fixes together)."""
    order = np.lexsort((utc_ns(fixes["timestamp"]), _subject_codes(fixes)))
    return fixes if (np.diff(order) > 0).all() else fixes.take(order).reset_index(drop=True)


def _subject_codes(fixes: pd.DataFrame) -> np.ndarray:
    """A number per subject (equal numbers, equal subjects)."""
    subject = fixes["subject_id"]
    return subject.cat.codes.to_numpy() if isinstance(subject.dtype, pd.CategoricalDtype) else pd.factorize(subject)[0]


def _end_mask(subject: np.ndarray, t: np.ndarray, rule: QualityRule, end: str) -> np.ndarray:
    """Of kept fixes sorted by subject then time (``subject`` codes, ``t`` ns), those in each subject's head or
    tail (:func:`trail_ends`)."""
    n = len(t)
    if not n:
        return np.zeros(0, dtype=bool)
    starts = np.flatnonzero(np.r_[True, subject[1:] != subject[:-1]])
    lengths = np.diff(np.r_[starts, n])
    reach = np.int64(round(rule.outlier_max_run_s * NS))
    if end == "head":
        inside = t <= np.repeat(t[starts], lengths) + reach
        neighbour = np.r_[False, inside[:-1] & (subject[1:] == subject[:-1])]  # the next one after them
    else:
        inside = t >= np.repeat(t[starts + lengths - 1], lengths) - reach
        neighbour = np.r_[inside[1:] & (subject[1:] == subject[:-1]), False]  # the one before them
    return inside | neighbour
