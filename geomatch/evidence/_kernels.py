"""Compiled kernels of the pack's pictures (numba): passes over rendered pixels (uint8, rows from the top)."""
from __future__ import annotations

import numpy as np
from numba import njit

_kernel = njit(cache=True, error_model="numpy", nogil=True)


@_kernel
def up_filtered_rows(pixels: np.ndarray) -> np.ndarray:
    """The PNG scanlines of RGB or RGBA ``pixels`` (height, width, 3 or 4) as 8-bit RGB (alpha left out), each
    stored with the "Up" filter: a filter-type byte (2) then every byte's difference from the byte above, modulo
    256 (the first row as it is). One pass straight from the renderer's RGBA buffer, with no RGB copy."""
    height, width = pixels.shape[0], pixels.shape[1]
    out = np.empty((height, width * 3 + 1), dtype=np.uint8)
    for y in range(height):
        out[y, 0] = 2
        for x in range(width):
            for c in range(3):
                value = pixels[y, x, c]
                out[y, 1 + 3 * x + c] = value - pixels[y - 1, x, c] if y > 0 else value
    return out
