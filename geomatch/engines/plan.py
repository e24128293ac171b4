"""Which partitions each matching task reads, and which crimes it owns: the overlap rule.

The matcher's result for a subject x crime pair depends only on that subject's fixes inside the crime's padded
window ``[ws, we]`` plus the ``EDGE_FIXES`` (two) fixes just before ``ws`` and just after ``we`` (see
:mod:`geomatch.match.matcher`: the pair's fix range, its steps and gaps and ``max_gap_s`` come from the window and the
one fix either side; the plausible speed through a gap at either end of that range comes from the segment into
or out of the gap, which reaches one fix further). So a task reproduces the single-process result exactly for
every crime it owns if it sees a *contiguous* piece of each subject's trail that contains them. The rule:

* A **slot** is one subject group's day (``day=D``: fixes in ``[D, D + 1 day)`` UTC). Slots of a group are
  ordered by day; slot ``p`` starts at ``a_p``.
* Slot ``p`` **owns** the crimes whose window start ``ws`` lies in its core ``[a_p, a_{p+1})`` (the first
  slot's core reaches back without limit, the last one's forward), so each crime is matched once per group:
  no hit is duplicated, and the combined hits need no de-duplication.
* Slot ``p`` **reads** its own fixes and those of the following slots up to the last one starting at or
  before the latest ``we`` of its crimes (the halo: the longest padded window it owns), and, per subject, the
  last two fixes before ``a_p`` and the first two after the last slot read (the *edge fixes*, from a summary
  of every slot). That is every fix from the second before ``a_p <= ws`` to the second after ``we``,
  contiguous, so no hit across a slot boundary is lost and every measurement (``max_gap_s`` after a three-day
  gap included) is the one the local engine makes.

Datasets partitioned by subject only have one slot per group covering all time: each owns every crime and
reads only itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np
import pandas as pd

from geomatch.core.arrays import category_codes
from geomatch.engines.dataset import PartitionFile
from geomatch.core.times import utc_ns
from geomatch.quality import QualityRule
from geomatch.quality.pieces import merged_ends

EDGE_FIXES = 2  # fixes a task needs on either side of its windows, per subject (see above)
_NO_LIMIT_LO = np.iinfo(np.int64).min
_NO_LIMIT_HI = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Slot:
    """One subject group's day (or the whole group without day keys): the dataset files that hold it."""

    group: str | None
    start_ns: int | None  # UTC midnight of the day, ns; None without day keys and for day=unknown
    unknown_day: bool
    files: tuple[int, ...]  # indices into the dataset's files


@dataclass(frozen=True)
class SlotTask:
    """The matching work of one slot.

    Attributes:
        slot: the owning slot (index into the slots).
        reads: the slots whose fixes it reads (itself, then its halo), in time order.
        owned: positions of the crimes it owns in the crimes table.
        before_slots: the group's slots before it (their last fixes per subject give the edge fixes before).
        after_slots: the group's slots after its halo (their first fixes per subject give the edge fixes after).
        span_ns: the earliest window start and the latest window end of its crimes (int64 ns UTC).
    """

    slot: int
    reads: tuple[int, ...]
    owned: np.ndarray
    before_slots: tuple[int, ...]
    after_slots: tuple[int, ...]
    span_ns: tuple[int, int]


def plan_slots(files: tuple[PartitionFile, ...]) -> list[Slot]:
    """Group the files into slots, ordered by subject group then day; ``day=unknown`` files form slots of
    their own, which must hold no accepted fixes (checked when they are read) and so take no part in matching."""
    def key(i: int):
        f = files[i]
        return (f.group or "", f.unknown_day, f.day.value if f.day is not None else 0)

    order = sorted(range(len(files)), key=key)
    slots = []
    for _, members in groupby(order, key=key):
        members = tuple(members)
        first = files[members[0]]
        slots.append(Slot(group=first.group, start_ns=None if first.day is None else int(first.day.value),
                          unknown_day=first.unknown_day, files=members))
    return slots


def plan_tasks(slots: list[Slot], window_start_ns: np.ndarray, window_end_ns: np.ndarray) -> list[SlotTask]:
    """One task per slot that owns at least one crime (see the module docstring for the rule).

    Args:
        slots: from :func:`plan_slots`.
        window_start_ns, window_end_ns: every crime's padded window, int64 ns UTC, as the matcher computes it.
    """
    tasks = []
    for members in _groups(slots):
        starts = np.array([slots[i].start_ns if slots[i].start_ns is not None else _NO_LIMIT_LO for i in members],
                          dtype=np.int64)
        for k, index in enumerate(members):
            core_lo = _NO_LIMIT_LO if k == 0 else starts[k]
            core_hi = _NO_LIMIT_HI if k == len(members) - 1 else starts[k + 1]
            owned = np.flatnonzero((window_start_ns >= core_lo) & (window_start_ns < core_hi))
            if len(owned) == 0:
                continue
            latest_end = window_end_ns[owned].max()
            last = max(int(np.searchsorted(starts, latest_end, side="right")) - 1, k)
            tasks.append(SlotTask(slot=index, reads=tuple(members[k:last + 1]), owned=owned,
                                  before_slots=tuple(members[:k]), after_slots=tuple(members[last + 1:]),
                                  span_ns=(int(window_start_ns[owned].min()), int(latest_end))))
    return tasks


def _groups(slots: list[Slot]) -> list[list[int]]:
    """The slot indices of each subject group, in time order, without ``day=unknown`` slots."""
    groups: dict[str | None, list[int]] = {}
    for index, slot in enumerate(slots):
        if not slot.unknown_day:
            groups.setdefault(slot.group, []).append(index)
    return list(groups.values())


def neighbour_ends(slots: list[Slot], file_ends: list[tuple[pd.DataFrame, pd.DataFrame]],
                   rule: QualityRule) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    """For each file of a subject group that holds more than one, what the trail-quality rule needs around it to
    judge its subjects' first and last fixes (:func:`geomatch.quality.pieces.judge_ends`): (the merged tails of
    the group's files before it, the merged heads of those after); one pass forward and one backward, files in
    time order (slot by slot; a slot's files in name order).

    Args:
        file_ends: per file, its (head, tail) (:func:`geomatch.quality.pieces.trail_ends`).
    """
    around: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for members in _groups(slots):
        files = [f for index in members for f in slots[index].files]
        if len(files) < 2:
            continue
        before: dict[int, pd.DataFrame] = {}
        running = merged_ends([], rule, "tail")
        for f in files:
            before[f] = running
            running = merged_ends([running, file_ends[f][1]], rule, "tail")
        running = merged_ends([], rule, "head")
        for f in reversed(files):
            around[f] = (before[f], running)
            running = merged_ends([running, file_ends[f][0]], rule, "head")
    return around


def edge_fixes(slots: list[Slot], tasks: list[SlotTask],
               slot_edges: dict[int, tuple[pd.DataFrame, pd.DataFrame]]) -> list[pd.DataFrame]:
    """Each task's edge fixes: per subject, the latest ``EDGE_FIXES`` fixes in its ``before_slots`` and the
    earliest in its ``after_slots``; one pass forward and one backward over each group's slots.

    Args:
        slot_edges: per slot, (first fixes per subject, last fixes per subject), as :func:`extreme_fixes` gives.
    """
    latest_before: dict[int, pd.DataFrame] = {}
    earliest_after: dict[int, pd.DataFrame] = {}
    empty = pd.DataFrame()
    for members in _groups(slots):
        running = empty
        for index in members:
            latest_before[index] = running
            running = extreme_fixes([running, slot_edges[index][1]], "last")
        running = empty
        for index in reversed(members):
            running = extreme_fixes([running, slot_edges[index][0]], "first")
            earliest_after[index] = running
    return [pd.concat([f for f in (latest_before[task.slot],
                                   earliest_after[task.after_slots[0]] if task.after_slots else empty) if len(f)]
                      or [empty], ignore_index=True)
            for task in tasks]


def extreme_fixes(frames: list[pd.DataFrame], keep: str) -> pd.DataFrame:
    """Per subject and trail-quality class (``ok``, ``fallback``; outliers are never needed across an edge),
    its ``EDGE_FIXES`` earliest (``keep="first"``) or latest (``"last"``) fixes over ``frames``, in time order."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    every = pd.concat(frames, ignore_index=True).astype({"subject_id": str})
    every = every.sort_values("timestamp", kind="stable")
    classes = _edge_class(every)
    by_subject = every[classes >= 0].groupby(["subject_id", classes[classes >= 0]], sort=False)
    chosen = (by_subject.head if keep == "first" else by_subject.tail)(EDGE_FIXES)
    return chosen.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _edge_class(fixes: pd.DataFrame) -> np.ndarray:
    """0 for ok fixes, 1 for fallback fixes, -1 for outliers (all ok without a ``quality`` column)."""
    if "quality" not in fixes.columns:
        return np.zeros(len(fixes), dtype=np.int8)
    quality = fixes["quality"].astype(str).to_numpy()
    return np.where(quality == "ok", 0, np.where(quality == "fallback", 1, -1)).astype(np.int8)


def needed_fixes(trails: pd.DataFrame, span_ns: tuple[int, int]) -> pd.DataFrame:
    """The fixes a task needs for crimes whose windows lie in ``span_ns``: per subject, those inside the span
    and the ``EDGE_FIXES`` just before and just after it (``trails`` sorted by subject then time, as the loader
    sorts).

    The rest of its partitions (the morning before its first window, the end of its halo's last day) cannot
    change a hit, so matching skips them.
    """
    t = utc_ns(trails["timestamp"])
    lo, hi = span_ns
    keep = (t >= lo) & (t <= hi)
    classes = _edge_class(trails)
    for edge_class in (0, 1):  # the nearest ok fixes and the nearest fallback fixes either side
        members = np.flatnonzero(classes == edge_class)
        keep[members] |= _near_span(category_codes(trails["subject_id"])[members], t[members], lo, hi)
    return trails if keep.all() else trails[keep].reset_index(drop=True)


def _near_span(subject: np.ndarray, t: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Of fixes sorted by subject then time, those at most ``EDGE_FIXES`` before the span's first or after its
    last (per subject)."""
    keep = np.zeros(len(t), dtype=bool)
    n = len(t)
    for offset in range(1, EDGE_FIXES + 1):  # a fix at most EDGE_FIXES before the span's first, or after its last
        same = subject[offset:] == subject[:-offset] if n > offset else np.zeros(0, dtype=bool)
        later = np.zeros(n, dtype=bool)
        later[:n - offset] = same & (t[offset:] >= lo)
        earlier = np.zeros(n, dtype=bool)
        earlier[offset:] = same & (t[:n - offset] <= hi)
        keep |= ((t < lo) & later) | ((t > hi) & earlier)
    return keep
