"""Sharing rows sorted by subject between threads: whole subjects per slice, every row once."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from geomatch.core.cores import available_cores, subject_slices


def test_available_cores_is_at_least_one():
    assert available_cores() >= 1


def test_a_subject_is_never_cut():
    assert subject_slices(np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3]), 2) == [slice(0, 5), slice(5, 10)]
    assert subject_slices(np.array([7, 7, 7, 7]), 4) == [slice(0, 4)]  # one subject: one slice
    assert subject_slices(np.array([], dtype=np.int64), 2) == [slice(0, 0)]


@given(st.lists(st.integers(1, 30), min_size=1, max_size=20), st.integers(1, 9))
def test_slices_cover_every_row_once_with_whole_subjects(lengths, parts):
    subject = np.repeat(np.arange(len(lengths)), lengths)
    slices = subject_slices(subject, parts)
    assert slices[0].start == 0 and slices[-1].stop == len(subject)
    assert all(a.stop == b.start and a.start < a.stop for a, b in zip(slices, slices[1:]))
    assert len(slices) <= parts
    for piece in slices[1:]:
        assert subject[piece.start] != subject[piece.start - 1]
