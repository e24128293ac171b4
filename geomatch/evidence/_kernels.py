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


@_kernel
def blend_glyphs(rgba: np.ndarray, coverage: np.ndarray, glyphs: np.ndarray, colour: np.ndarray,
                 clip: np.ndarray) -> None:
    """Blend glyph bitmaps into the renderer's ``rgba`` buffer (height, width, 4; rows from the top) in turn, as
    Agg's ``draw_text_image`` does for an unrotated image (matplotlib's plain-alpha RGBA blender, integer
    arithmetic): ``coverage`` holds the bitmaps one after another (uint8, row by row); each row of ``glyphs`` is
    ``(offset into coverage, rows, columns, left x, bottom y)`` (pixels; the bitmap's bottom row sits just above
    row ``bottom y``); ``colour`` is the RGBA (uint8) drawn at full coverage; ``clip`` is ``(x0, y0, x1, y1)``,
    the pixel rows and columns that may change (``x1``, ``y1`` excluded)."""
    cr, cg, cb, ca = np.int64(colour[0]), np.int64(colour[1]), np.int64(colour[2]), np.int64(colour[3])
    if ca == 0:
        return
    for k in range(glyphs.shape[0]):
        offset, rows, columns, left, bottom = glyphs[k, 0], glyphs[k, 1], glyphs[k, 2], glyphs[k, 3], glyphs[k, 4]
        top = bottom - rows
        x0, y0 = max(left, clip[0]), max(top, clip[1])
        x1, y1 = min(left + columns, clip[2]), min(bottom, clip[3])
        if x1 <= x0:
            continue
        for y in range(y0, y1):
            row = offset + (y - top) * columns - left
            for x in range(x0, x1):
                cover = np.int64(coverage[row + x])
                if ca == 255 and cover == 255:
                    rgba[y, x, 0], rgba[y, x, 1], rgba[y, x, 2], rgba[y, x, 3] = cr, cg, cb, ca
                    continue
                t = ca * cover + 128  # Agg's rounded product of alpha and coverage
                alpha = ((t >> 8) + t) >> 8
                if alpha == 0:
                    continue
                a = np.int64(rgba[y, x, 3])
                r, g, b = np.int64(rgba[y, x, 0]) * a, np.int64(rgba[y, x, 1]) * a, np.int64(rgba[y, x, 2]) * a
                a = ((alpha + a) << 8) - alpha * a
                rgba[y, x, 3] = a >> 8
                rgba[y, x, 0] = (((cr << 8) - r) * alpha + (r << 8)) // a
                rgba[y, x, 1] = (((cg << 8) - g) * alpha + (g << 8)) // a
                rgba[y, x, 2] = (((cb << 8) - b) * alpha + (b << 8)) // a
