"""Small vectorised array helpers (the scorer expands ranges of fixes with them; every stage numbers subjects
with :func:`category_codes`)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (no copy).

    numba compiles a kernel once for each combination of argument types, and an array's being writable is part of
    its type. An array taken from a frame is a read-only view (pandas' copy-on-write) where a computed one is
    writable, so one call site would hand a kernel either, depending on the input (a trail with fallback fixes
    copied, one without sliced): the inputs of such call sites go through this function, so that the kernel meets
    one type, the one ``make``'s warm-up compiles."""
    view = array.view()
    view.flags.writeable = False
    return view


def category_codes(values: pd.Series) -> np.ndarray:
    """The category code of each value (made categorical when it is not; -1 where missing), as a new int32 array.

    pandas stores codes as int8 up to 127 categories, int16 up to 32,767 and int32 beyond, and a view of them may
    be read-only: a compiled kernel given them would be compiled again for each width and flag (numba compiles
    once per combination of argument types). Taken through this function, subject codes always reach the kernels
    as one type, the one that ``make``'s warm-up compiles: a fresh install's first run with more than 127 subjects
    (a force month) spent 10 s compiling six kernels again for int16 codes."""
    codes = values.cat.codes if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category").cat.codes
    return codes.to_numpy().astype(np.int32)


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For half-open ranges ``[lo, hi)``: (range number, index) of every index in every range, in order.

    ``expand_ranges([2, 7], [4, 8])`` gives ``([0, 0, 1], [2, 3, 7])``. Empty or reversed ranges give nothing.
    """
    lengths = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, lo[owner] + offsets
