"""Agg rendering for the pack's pictures: one renderer per thread and figure size, and text drawn from caches.

Matplotlib (3.11) lays out every text it draws with its shaping engine (about 0.6 ms a label) and renders it
glyph by glyph through FreeType (about 0.07 ms a glyph); a pack's pictures draw some 60 texts and a thousand
glyphs, most of them the same from one pack to the next (tick labels, axis titles, the legend's words). The
:class:`CachingRenderer` keeps both:

- the layout of each text (its glyphs and their positions), per font, size, resolution and shaping options;
- each rendered glyph bitmap, per font, size, glyph, rotation and *sub-pixel phase* of its position (FreeType
  places a glyph in 1/64 pixel; a glyph moved by whole pixels renders to the same bitmap, moved), so a cached
  glyph is drawn exactly where and as FreeType would draw it;
- the outline of each text drawn as a path (the labels with a white halo: a path effect strokes and fills the
  text's outline), per font and text, so a label seen before is not laid out and traced again.

The pixels are the same as matplotlib's own renderer gives (a test draws text-heavy figures both ways and
compares every pixel). Where matplotlib lacks the private methods this relies on (other versions), text is
drawn by matplotlib's code unchanged. Both caches are bounded (:data:`MAX_ENTRIES`, emptied when full).
"""
from __future__ import annotations

import math
import threading

import numpy as np
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.textpath import TextToPath

from geomatch.evidence._kernels import blend_glyphs

MAX_ENTRIES = 200_000
"""Entries each cache holds at most (a glyph bitmap at 7-9 pt and 150 dpi is ~150 bytes)."""
_FAST = all(hasattr(RendererAgg, name) for name in ("_draw_text_glyphs_and_boxes", "_prepare_font")) and \
    hasattr(backend_agg, "get_hinting_flag") and hasattr(backend_agg, "RenderMode")
"""Whether this matplotlib draws text the way the caches expect (3.11's glyph-by-glyph drawing)."""
_LAYOUTS: dict[tuple, list] = {}
_GLYPHS: dict[tuple, dict[int, tuple[np.ndarray, int, int]]] = {}
"""Glyph bitmaps: per font, size, slant, extent, resolution, angle, hinting and antialiasing, a table from
``glyph << 12 | x phase << 6 | y phase`` to the bitmap, its left and its top (pixels)."""
_GLYPH_COUNT = [0]
_OUTLINES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_LOCK = threading.Lock()


def _remember(cache: dict, key: tuple, value):
    with _LOCK:
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = value
    return value


def _glyph_table(key: tuple) -> dict[int, tuple[np.ndarray, int, int]]:
    with _LOCK:
        return _GLYPHS.setdefault(key, {})


def _remember_glyph(table: dict, key: int, value: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, int, int]:
    """Keep a glyph bitmap in its table; every table is emptied when they hold :data:`MAX_ENTRIES` in all."""
    with _LOCK:
        if _GLYPH_COUNT[0] >= MAX_ENTRIES:
            for other in _GLYPHS.values():
                other.clear()
            _GLYPH_COUNT[0] = 0
        table[key] = value
        _GLYPH_COUNT[0] += 1
    return value


class CachingTextToPath(TextToPath):
    """Matplotlib's text-to-path converter, keeping each text's outline (vertices and codes, read-only arrays:
    ``Path`` takes them as the lists matplotlib returns would give) per font properties, text and shaping
    options."""

    def get_text_path(self, prop, s, ismath=False, *, features=None, language=None):
        key = (hash(prop), s, ismath, tuple(features) if features else None, language)  # matplotlib's own
        # caches take font properties with the same hash as the same
        outline = _OUTLINES.get(key)
        if outline is None:
            verts, codes = super().get_text_path(prop, s, ismath, features=features, language=language)
            verts, codes = np.array(verts, dtype=float).reshape(-1, 2), np.array(codes, dtype=np.uint8)
            verts.flags.writeable = codes.flags.writeable = False
            outline = _remember(_OUTLINES, key, (verts, codes))
        return outline


class CachingRenderer(RendererAgg):
    """Matplotlib's Agg renderer, drawing text from a layout cache and a glyph-bitmap cache, and text outlines
    (path effects) from an outline cache (same pixels)."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._text2path = CachingTextToPath()

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not _FAST:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        font = self._prepare_font(prop)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        flags = backend_agg.get_hinting_flag()
        key = (font, size, self.dpi, s, flags, tuple(features) if features else None, language)
        items = _LAYOUTS.get(key)
        if items is None:
            items = _remember(_LAYOUTS, key, [(item.ft_object, item.glyph_index, item.x, item.y) for item in
                                              font._layout(s, flags=flags, features=features, language=language)])
        self._draw_text_glyphs_and_boxes(gc, x, y, angle,
                                         ((ft, size, glyph, 0, 1, dx, dy) for ft, glyph, dx, dy in items), [])

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        if boxes or not _FAST:  # mathtext's rules: matplotlib's own code
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        glyphs = list(glyphs)
        if not glyphs:
            return
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        flags = backend_agg.get_hinting_flag()
        antialiased = bool(gc.get_antialiased())
        mode = backend_agg.RenderMode.NORMAL if antialiased else backend_agg.RenderMode.MONO
        # FreeType's positions of the glyphs in 1/64 pixel, as matplotlib computes them (y upwards; the same
        # operations in the same order as its scalar code, so the same doubles, rounded half to even as round())
        offsets = np.array([glyph[5:] for glyph in glyphs], dtype=float)  # dx, dy (dy upwards)
        fx = np.round(0x40 * (x + offsets[:, 0] * cos - offsets[:, 1] * sin)).astype(np.int64)
        fy = np.round(0x40 * (self.height - y + offsets[:, 0] * sin + offsets[:, 1] * cos)).astype(np.int64)
        phases = ((fx & 63) << 6 | (fy & 63)).tolist()
        common = (self.dpi, angle, flags, antialiased)
        tables: dict[tuple, dict[int, tuple[np.ndarray, int, int]]] = {}
        bitmaps, lefts, tops = [], [], []
        for (font, size, glyph, slant, extend, _, _), phase in zip(glyphs, phases):
            table = tables.get((font, size, slant, extend))
            if table is None:
                table = tables[(font, size, slant, extend)] = _glyph_table((font, size, slant, extend, *common))
            cached = table.get(glyph << 12 | phase)
            if cached is None:
                matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]
                          ).round().astype(int)
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [phase >> 6, phase & 63])  # the phase only: whole pixels added below
                bitmap = font._render_glyph(glyph, flags, mode)
                buffer = np.array(bitmap.buffer, copy=True)
                if not antialiased:
                    buffer *= 0xff
                cached = _remember_glyph(table, glyph << 12 | phase, (buffer, bitmap.left, bitmap.top))
            bitmaps.append(cached[0])
            lefts.append(cached[1])
            tops.append(cached[2])
        rows = np.array([bitmap.shape[0] for bitmap in bitmaps], dtype=np.int64)
        # draw_text_image's y is downwards and names the bitmap's bottom side
        places = np.column_stack([np.array(lefts, dtype=np.int64) + (fx >> 6),
                                  int(self.height) - (np.array(tops, dtype=np.int64) + (fy >> 6)) + rows])
        self._blend(gc, bitmaps, places)

    def _blend(self, gc, bitmaps: list[np.ndarray], places: np.ndarray) -> None:
        """Blend glyph ``bitmaps`` into the pixels at ``places`` (left, bottom; pixels, y downwards) in one
        compiled pass (:func:`~geomatch.evidence._kernels.blend_glyphs`: Agg's ``draw_text_image``, the same
        arithmetic), clipped to the figure and to ``gc``'s clip rectangle as Agg clips them."""
        if not bitmaps:
            return
        width, height = int(self.width), int(self.height)
        clip = [0, 0, width, height]
        box = gc.get_clip_rectangle()
        if box is not None and (box.x0, box.y0, box.x1, box.y1) != (0, 0, 0, 0):
            def nearest(v: float) -> int:  # matplotlib's mpl_round: halves away from zero
                return int(v + (0.5 if v >= 0 else -0.5))

            clip = [max(0, nearest(box.x0)), max(0, nearest(height - box.y1)), min(width, nearest(box.x1)),
                    min(height, nearest(height - box.y0))]
        sizes = [bitmap.size for bitmap in bitmaps]
        glyphs = np.empty((len(bitmaps), 5), dtype=np.int64)
        glyphs[:, 0] = np.cumsum(sizes) - sizes
        glyphs[:, 1:3] = [bitmap.shape for bitmap in bitmaps]
        glyphs[:, 3:] = places
        colour = np.array([int(v * 255 + 0.5) for v in gc.get_rgb()], dtype=np.uint8)  # Agg's uround
        blend_glyphs(np.asarray(self._renderer), np.concatenate([bitmap.ravel() for bitmap in bitmaps]), glyphs,
                     colour, np.array(clip, dtype=np.int64))


_RENDERERS = threading.local()
"""Renderers kept per thread, one per figure size and resolution (see :class:`SharedRendererCanvas`)."""


class SharedRendererCanvas(FigureCanvasAgg):
    """An Agg canvas that draws with this thread's :class:`CachingRenderer` for its figure's size and
    resolution, cleared before each drawing, rather than a new renderer per figure.

    The pixels are the same (the renderer is cleared, and nothing else of it carries over), and matplotlib's
    cache of text sizes, keyed by the renderer, then serves every figure of a process. The pixels of one figure
    are valid until the next figure of the same size is drawn in the same thread: copy them first.

    It draws only when asked (:meth:`draw`): a library's request to redraw when idle (GeoPandas asks after every
    plot call, which rendered a kept map three times over before its own drawing) is ignored."""

    def draw_idle(self, *args, **kwargs) -> None:
        """Nothing: the pictures are drawn once, when complete."""

    def get_renderer(self) -> RendererAgg:
        width, height = self.figure.bbox.size
        key = (width, height, self.figure.dpi)
        kept = _RENDERERS.__dict__.setdefault("by_size", {})
        if key not in kept:
            kept[key] = CachingRenderer(width, height, self.figure.dpi)
        self.renderer = kept[key]
        return self.renderer
