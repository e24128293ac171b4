"""Compiled kernels of :func:`geomatch.ingest.trails.validate_trails`: the per-fix rules in one pass.

Checked one rule at a time with numpy, the time, coordinate and accuracy rules cost about fifteen passes over
millions of fixes, each building a temporary array; here each fix is read once and its broken rules set as bits
of one byte. The kernels release the GIL, so the validator runs them on two threads, one half of the rows each.
IEEE comparisons as numpy makes them (NaN compares false), compiled once and cached beside this file.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

TIME_OUT_OF_RANGE = 1
MISSING_COORDINATES = 2
ZERO_ZERO = 4
LAT_LON_SWAPPED = 8
OUT_OF_RANGE_COORDINATES = 16
BAD_ACCURACY = 32
ACCURACY_TOO_LARGE = 64
"""Bits of a fix's rule flags, one per rule, in the order the validator adds the rules."""

_NAT = np.iinfo(np.int64).min

_kernel = njit(cache=True, error_model="numpy", nogil=True)


@_kernel
def flag_fixes(t: np.ndarray, earliest: int, latest: int, lat: np.ndarray, lon: np.ndarray, accuracy: np.ndarray,
               accuracy_as_given: np.ndarray, max_accuracy: float, gb_box: np.ndarray, flags: np.ndarray,
               box: np.ndarray, start: int, stop: int) -> int:
    """Set ``flags[start:stop]`` to each fix's broken rules (the bits above) and return how many fixes broke one.

    Args:
        t: UTC instants (ns since the epoch; NaT as int64's minimum, never out of range: it is unparseable).
        earliest, latest: the credible instants (ns); a fix outside them is ``TIME_OUT_OF_RANGE``.
        lat, lon: WGS84 degrees as numbers (NaN: missing or unreadable); empty when the fixes give ``x``/``y``,
            whose rules the validator checks itself (no coordinate bit is set then).
        accuracy: metres as numbers (NaN: missing or unreadable); empty when the file has no accuracy column.
        accuracy_as_given: the accuracy column as read, NaN where it was missing (so a value given but
            unreadable, NaN in ``accuracy`` only, is ``BAD_ACCURACY``).
        max_accuracy: metres beyond which a stated accuracy is ``ACCURACY_TOO_LARGE``.
        gb_box: Great Britain's west, south, east, north (degrees): a fix whose latitude lies in its longitude
            range and longitude in its latitude range is ``LAT_LON_SWAPPED``.
        flags: out, one byte a fix.
        box: out, the west, south, east and north of the finite points among ``start:stop`` (degrees; inf and
            -inf when none is finite).
    """
    west, south, east, north = gb_box[0], gb_box[1], gb_box[2], gb_box[3]
    has_coordinates = lat.shape[0] > 0
    has_accuracy = accuracy.shape[0] > 0
    low_lon, low_lat, high_lon, high_lat = math.inf, math.inf, -math.inf, -math.inf
    broken = 0
    for i in range(start, stop):
        f = 0
        ti = t[i]
        if ti != _NAT and (ti < earliest or ti > latest):
            f |= TIME_OUT_OF_RANGE
        if has_coordinates:
            la, lo = lat[i], lon[i]
            missing = math.isnan(la) or math.isnan(lo)
            if missing:
                f |= MISSING_COORDINATES
            else:
                low_lon, high_lon = min(low_lon, lo), max(high_lon, lo)
                low_lat, high_lat = min(low_lat, la), max(high_lat, la)
            if la == 0 and lo == 0:
                f |= ZERO_ZERO
            swapped = west <= la <= east and south <= lo <= north
            if swapped:
                f |= LAT_LON_SWAPPED
            elif not missing and (la > 90 or la < -90 or lo > 180 or lo < -180):
                f |= OUT_OF_RANGE_COORDINATES
        if has_accuracy:
            a = accuracy[i]
            if a < 0 or (math.isnan(a) and not math.isnan(accuracy_as_given[i])):
                f |= BAD_ACCURACY
            if a > max_accuracy:
                f |= ACCURACY_TOO_LARGE
        flags[i] = f
        if f:
            broken += 1
    box[0], box[1], box[2], box[3] = low_lon, low_lat, high_lon, high_lat
    return broken


SORTED = 0
SORTED_WITH_SHARED_INSTANTS = 1
UNSORTED = 2
"""What :func:`order_state` finds."""


@_kernel
def order_state(codes: np.ndarray, t: np.ndarray) -> int:
    """Whether fixes are sorted by subject code then time (missing codes, -1, first, as ``np.lexsort`` puts
    them): ``SORTED``, ``SORTED_WITH_SHARED_INSTANTS`` (some neighbours share a valid subject and instant: the
    duplicate rules have work to do) or ``UNSORTED``."""
    shared = False
    for i in range(1, codes.shape[0]):
        c, previous = codes[i], codes[i - 1]
        if c < previous or (c == previous and t[i] < t[i - 1]):
            return UNSORTED
        if c == previous and t[i] == t[i - 1] and c >= 0 and t[i] != _NAT:
            shared = True
    return SORTED_WITH_SHARED_INSTANTS if shared else SORTED
