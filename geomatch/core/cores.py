"""How many threads a stage runs on, and how rows sorted by subject are shared between them."""
from __future__ import annotations

import os
from itertools import pairwise

import numpy as np


def available_cores() -> int:
    """The CPU cores this process may run on (all of the machine's where the system cannot say)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def subject_slices(subject: np.ndarray, parts: int) -> list[slice]:
    """Consecutive slices covering rows sorted by subject (``subject``: one code per row, the same for one
    subject's rows), each holding whole subjects and about ``len(subject) / parts`` rows; fewer than ``parts``
    where the subjects are fewer or one subject holds most rows. ``parts``: at least 1."""
    n = len(subject)
    starts = np.flatnonzero(subject[1:] != subject[:-1]) + 1
    at = np.searchsorted(starts, np.arange(1, parts) * (n / parts))
    bounds = [0, *np.unique(starts[at[at < len(starts)]]).tolist(), n]
    return [slice(start, end) for start, end in pairwise(bounds)]
