"""Small vectorised array helpers (the scorer expands ranges of fixes with them)."""
from __future__ import annotations

import numpy as np


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For half-open ranges ``[lo, hi)``: (range number, index) of every index in every range, in order.

    ``expand_ranges([2, 7], [4, 8])`` gives ``([0, 0, 1], [2, 3, 7])``. Empty or reversed ranges give nothing.
    """
    lengths = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, lo[owner] + offsets
