"""Compiled kernels of :func:`geomatch.core.crs.transform`: bilinear interpolation on a dense block of lattice nodes,
and the box of the points the block must cover.

One pass per point, no temporaries: the numpy form of the same arithmetic (kept in :mod:`geomatch.core.crs` for
points spread over a country) builds eight arrays of the points' length. Compiled once and cached beside this
file; IEEE arithmetic as numpy does it (no fast-math).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", nogil=True)
def interpolate_block(lon: np.ndarray, lat: np.ndarray, step: float, x0: int, y0: int, nx: int,
                      node_x: np.ndarray, node_y: np.ndarray, out_x: np.ndarray, out_y: np.ndarray) -> int:
    """Write into ``out_x``/``out_y`` each finite point's value interpolated between the exact transforms of its
    cell's corners (``node_*``: a row-major block of ``nx`` nodes a row starting at lattice node ``x0``, ``y0``);
    non-finite points and points whose cell is not in the block are left as they are. Returns how many points
    have no finite result (left as they are, or next to a node outside the projection's area)."""
    left = 0
    ny = node_x.shape[0] // nx
    for i in range(lon.shape[0]):
        if not (math.isfinite(lon[i]) and math.isfinite(lat[i])):
            left += 1
            continue
        grid_x = lon[i] / step
        grid_y = lat[i] / step
        ix = math.floor(grid_x)
        iy = math.floor(grid_y)
        fx = grid_x - ix
        fy = grid_y - iy
        col, row = int(ix) - x0, int(iy) - y0
        if col < 0 or col > nx - 2 or row < 0 or row > ny - 2:  # a stray beyond the block
            left += 1
            continue
        cell = row * nx + col
        bottom = node_x[cell] * (1 - fx) + node_x[cell + 1] * fx
        top = node_x[cell + nx] * (1 - fx) + node_x[cell + nx + 1] * fx
        out_x[i] = bottom * (1 - fy) + top * fy
        bottom = node_y[cell] * (1 - fx) + node_y[cell + 1] * fx
        top = node_y[cell + nx] * (1 - fx) + node_y[cell + nx + 1] * fx
        out_y[i] = bottom * (1 - fy) + top * fy
        if not (math.isfinite(out_x[i]) and math.isfinite(out_y[i])):
            left += 1
    return left


@njit(cache=True, error_model="numpy", nogil=True)
def finite_box(lon: np.ndarray, lat: np.ndarray) -> tuple[int, float, float, float, float]:
    """How many points have a finite ``lon`` and ``lat``, and their least and greatest ``lon`` and ``lat``
    (inf and -inf when none has), in one pass."""
    count = 0
    low_x, high_x, low_y, high_y = math.inf, -math.inf, math.inf, -math.inf
    for i in range(lon.shape[0]):
        x, y = lon[i], lat[i]
        if math.isfinite(x) and math.isfinite(y):
            count += 1
            low_x, high_x = min(low_x, x), max(high_x, x)
            low_y, high_y = min(low_y, y), max(high_y, y)
    return count, low_x, high_x, low_y, high_y
