"""Map symbols shared by the static map, the timeline, the interactive map and the statement's key.

Every symbol differs by shape or line style as well as colour, so a black-and-white print still reads.
Time is shown with ``viridis``, whose lightness rises steadily (it prints as a grey ramp).
"""
from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path as MplPath
from matplotlib.transforms import IdentityTransform
from zlib_ng import zlib_ng

from geomatch.core.crs import BNG, crs_name
from geomatch.evidence._kernels import up_filtered_rows
from geomatch.evidence.render import SharedRendererCanvas

CMAP = colormaps["viridis"]
SOURCE_MARKERS = {"GPS": "o", "LBS": "^", "WIFI": "s"}
OTHER_MARKER = "D"
PRISM_FILL, PRISM_EDGE = (0.9, 0.45, 0.1, 0.10), (0.75, 0.3, 0.05)
"""The reachable area of a gap: a light orange tint (still visible, as a grey, in print) and a dashed edge."""
SOURCE_WORDS = {"GPS": "satellite (GPS) fix", "LBS": "mobile-network (LBS) fix, coarse",
                "WIFI": "Wi-Fi fix"}


def render_rgba(fig: Figure, *, draw: bool = True, shared: bool = True) -> np.ndarray:
    """Render ``fig`` with Agg: its pixels as an RGBA array (rows from the top, opaque: the pictures have a white
    background); ``draw=False`` reads the pixels of its last rendering and of the artists drawn onto it since
    (``Figure.draw_artist``). ``shared`` draws with this thread's renderer for the figure's size
    (:class:`~geomatch.evidence.render.SharedRendererCanvas`, which draws text from caches: the array is the
    renderer's own buffer, whose pixels last until the next figure of that size is drawn); else with
    matplotlib's own renderer."""
    if draw:
        (SharedRendererCanvas if shared else FigureCanvasAgg)(fig).draw()
    return np.asarray(fig.canvas.buffer_rgba())


class KeptFigure:
    """A figure kept for the next picture of its kind (building a figure and its axes cost about a tenth of a
    picture): its ``parts`` (the figure, its axes, a colour bar...) and, per axes in ``axes``, the artists it
    holds when :meth:`settle` was last called; :meth:`reset` removes every artist added to those axes since."""

    def __init__(self, parts: tuple[Any, ...], axes: tuple[Any, ...]) -> None:
        self.parts, self.axes = parts, axes
        self.settle()

    def settle(self) -> None:
        """Take the artists the axes hold now as the ones every picture starts with."""
        self._start = [frozenset(ax.get_children()) for ax in self.axes]

    def reset(self) -> None:
        """Remove every artist added to the axes since :meth:`settle`."""
        for ax, start in zip(self.axes, self._start):
            for child in ax.get_children():
                if child not in start:
                    child.remove()


class _KeptFigures(threading.local):
    def __init__(self) -> None:
        self.by_key: dict[Hashable, KeptFigure] = {}


_KEPT = _KeptFigures()


def kept_figure(key: Hashable, build: Callable[[], tuple[tuple[Any, ...], tuple[Any, ...]]]) -> KeptFigure:
    """The figure of this thread for ``key`` (the kind of picture and everything ``build`` depends on), reset
    (:meth:`KeptFigure.reset`); built by ``build`` (which returns the parts and the axes to reset) the first
    time. What a picture sets on the kept parts (view, aspect, titles, norms) it must set every time: a pack
    drawn alone in a fresh process, after other packs or by another worker is the same byte for byte (a test)."""
    kept = _KEPT.by_key.get(key)
    if kept is None:
        kept = _KEPT.by_key[key] = KeptFigure(*build())
    else:
        kept.reset()
    return kept


_LEGEND_STRIPS: dict[Hashable, tuple[int, tuple[np.ndarray, np.ndarray], np.ndarray]] = {}
"""Rendered legends, per process: key -> (first pixel row, the rows and columns of its drawn pixels below it,
their RGBA values)."""


def lay_legend(rgba: np.ndarray, fig: Figure, key: Hashable, add_legend: Callable[[Figure], object]) -> np.ndarray:
    """Lay ``fig``'s legend over its rendered RGBA pixels ``rgba`` (changed in place, and returned): the legend
    (``add_legend`` adds it to a figure) is drawn once per process for each ``key`` on a blank figure of the same
    size, and its drawn pixels are copied onto every figure with that key. A legend costs a tenth of a second to
    lay out and draw and is the same for every pack with the same key (the key must name everything it shows);
    where it covers nothing else on the figure (the fixed layouts keep it in its own strip) the pixels are the
    ones drawing it in place would give."""
    if key not in _LEGEND_STRIPS:
        blank = Figure(figsize=fig.get_size_inches(), dpi=fig.dpi)
        add_legend(blank)
        legend = render_rgba(blank, shared=False)  # not over the pixels of ``fig``, which may be drawn on again
        drawn = np.nonzero((legend != 255).any(axis=2))
        top = int(drawn[0].min()) if len(drawn[0]) else 0
        _LEGEND_STRIPS[key] = (top, (drawn[0] - top, drawn[1]), legend[drawn])
    top, (rows, columns), values = _LEGEND_STRIPS[key]
    rgba[top:][rows, columns] = values  # only the drawn pixels (a tenth of the strip's)
    return rgba


def render_with_legend(fig: Figure, key: Hashable, add_legend: Callable[[Figure], object]) -> np.ndarray:
    """Render ``fig`` and lay its legend over it (:func:`lay_legend`): its RGBA pixels, the legend laid in the
    renderer's own buffer (no copy: the pixels last until the next figure of that size is drawn)."""
    return lay_legend(render_rgba(fig), fig, key, add_legend)


def write_png(pixels: np.ndarray, path: Path) -> Path:
    """Save RGB pixels (an RGB or an opaque RGBA array, whose alpha is left out) as a PNG with no metadata chunks
    (the bytes depend on the drawing only; RGB rather than RGBA keeps the PNG smaller and quicker to embed in the
    PDF).

    Every row is stored with the PNG "Up" filter (its difference from the row above) and deflated by zlib-ng at
    level 2: a map's many flat rows compress to about the size Pillow's adaptive filtering gives (+6 %) in a
    seventh of the time (Pillow tries each filter on every row; zlib's own level 3 gives 2 % less in twice the
    time). The rows are packed to RGB and filtered in one compiled pass over the pixels
    (:func:`~geomatch.evidence._kernels.up_filtered_rows`). The PDF embeds these bytes as they are
    (:func:`geomatch.evidence.document.read_png`)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"write_png takes RGB or RGBA pixels (height, width, 3 or 4), not {pixels.shape}")
    height, width = pixels.shape[:2]
    filtered = up_filtered_rows(pixels)

    def chunk(kind: bytes, body: bytes) -> tuple[bytes, ...]:
        return struct.pack(">I", len(body)), kind, body, struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    with open(path, "wb") as out:  # the chunks' parts written in turn: the compressed rows are not copied
        out.writelines((b"\x89PNG\r\n\x1a\n", *chunk(b"IHDR", header),
                        *chunk(b"IDAT", zlib_ng.compress(filtered, 2)), *chunk(b"IEND", b"")))
    return path


def markers(ax, x, y, marker: str, *, sizes, values=None, cmap=None, norm=None, facecolors=None,
            edgecolors, linewidths: float, zorder: float) -> PathCollection:
    """Markers at data points ``x``, ``y`` (their areas ``sizes`` in points squared), as ``Axes.scatter`` draws
    them (the same collection, so the same pixels) without its argument handling, which cost seven times the
    collection itself: filled with ``facecolors``, or with ``values`` shaded through ``cmap`` and ``norm``. The
    axes' limits are not widened (the pictures set theirs)."""
    style = MarkerStyle(marker)
    collection = PathCollection((style.get_path().transformed(style.get_transform()),),
                                np.broadcast_to(np.asarray(sizes, dtype=float), (len(x),)),
                                facecolors=facecolors, edgecolors=edgecolors, linewidths=linewidths,
                                offsets=np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)]),
                                offset_transform=ax.transData, zorder=zorder)
    collection.set_transform(IdentityTransform())
    if values is not None:
        collection.set_array(np.asarray(values))
        collection.set_cmap(cmap)
        collection.set_norm(norm)
    ax.add_collection(collection, autolim=False)
    return collection


def segments(ax, steps: np.ndarray, **properties) -> LineCollection:
    """Polylines ``steps`` (n, k, 2: n lines of k points in data coordinates; n may be 0) as one
    :class:`~matplotlib.collections.LineCollection` with ``properties``, added to ``ax`` without widening its
    limits (the pictures set theirs). Each line is the path ``LineCollection`` would make of it (its vertices a
    view of ``steps``, the same simplification settings), built by matplotlib's own fast constructor rather than
    ``Path()``, whose checks cost several times more for a trail's hundreds of steps."""
    steps = np.asarray(steps, dtype=float)
    collection = LineCollection((), **properties)
    if len(steps):
        first = MplPath(steps[0])  # every line has k points: the same settings for all
        collection._paths = [MplPath._fast_from_codes_and_verts(step, None, internals_from=first) for step in steps]
    ax.add_collection(collection, autolim=False)
    return collection


VIEW_MARGIN = 0.1
"""Markers, steps and circles farther than this fraction of the view's span outside it are not drawn (they
would not show): 17 pt on the smallest view (the map's overview inset, 169 pt square; the timeline's 225 pt
height gives 22 pt), where a marker or a line reaches at most 4 pt from its point."""


def boxes_near_view(x0, x1, y0, y1, extent: tuple[float, float, float, float]) -> np.ndarray:
    """Which boxes (``x0..x1`` by ``y0..y1``, data coordinates; a point where ``x0 == x1`` and ``y0 == y1``) reach
    within :data:`VIEW_MARGIN` of the view ``extent`` (xmin, xmax, ymin, ymax)."""
    pad_x, pad_y = VIEW_MARGIN * (extent[1] - extent[0]), VIEW_MARGIN * (extent[3] - extent[2])
    return ((x1 >= extent[0] - pad_x) & (x0 <= extent[1] + pad_x)
            & (y1 >= extent[2] - pad_y) & (y0 <= extent[3] + pad_y))


def steps_near_view(steps: np.ndarray, extent: tuple[float, float, float, float]) -> np.ndarray:
    """Which straight steps (n, 2, 2: from, to; x, y) reach within :data:`VIEW_MARGIN` of the view ``extent``."""
    x, y = steps[:, :, 0], steps[:, :, 1]
    return boxes_near_view(x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1), extent)


def kept_markers(rows: np.ndarray, near: np.ndarray) -> np.ndarray:
    """The ``rows`` whose markers can show (``near`` the view), in order; at least two where there are two, as
    matplotlib stamps a collection of one marker (:meth:`~matplotlib.collections.Collection.draw`'s single-path
    case) with other pixels than it draws a collection of several."""
    shown = near[rows]
    if len(rows) >= 2 and shown.sum() < 2:
        shown = shown.copy()
        shown[np.flatnonzero(~shown)[:2 - int(shown.sum())]] = True
    return rows[shown]


def marker_for(source: str) -> str:
    """The matplotlib marker of a fix source."""
    return SOURCE_MARKERS.get(str(source).upper(), OTHER_MARKER)


def time_colour(fraction: float) -> str:
    """The hex colour of a time, given as a fraction 0..1 of the shown time range."""
    return to_hex(CMAP(min(max(fraction, 0.0), 1.0)))


@dataclass(frozen=True)
class KeyEntry:
    """One symbol of the map key: how it looks (in words) and what it means."""

    symbol: str
    meaning: str


MAP_KEY = (
    KeyEntry("Black star", "The crime location as recorded."),
    KeyEntry("Solid black circle around the star", "The match zone: the radius used for this offence."),
    KeyEntry("Circle / triangle / square markers", "Recorded positions of the tag: satellite (GPS), "
             "mobile-network (LBS) and Wi-Fi fixes. Their shade shows the time (colour bar: dark = earlier, "
             "light = later)."),
    KeyEntry("Small hollow grey markers", "Positions recorded outside the time window (context only)."),
    KeyEntry("Number beside a marker", "The sequence number of the fix; the same number is used in the table of "
             "points (Exhibit 3). Only the fixes that matter are numbered (the fix at the closest approach, the "
             "first and last in the zone, the ends of gaps, then every few fixes), where the number fits."),
    KeyEntry("Dotted circle around a marker", "The confidence (accuracy) radius reported with that fix: the "
             "true position was probably within it."),
    KeyEntry("Solid grey line with arrowheads", "Straight line between consecutive good fixes a few minutes apart, "
             "with the direction of travel (fallback and outlier fixes stand alone). The actual route between "
             "fixes is not known."),
    KeyEntry("Dashed line", "A gap in the trail: no good fixes (none, or fallback fixes only) were recorded "
             "between its ends."),
    KeyEntry("Orange-tinted ellipse, dashed outline (possible hits)", "Where the subject could have been during a "
             "gap in the trail, moving at the plausible speed; the fixes at the gap's ends are its foci."),
    KeyEntry("White X with black outline", "The closest approach to the crime location during the window "
             "(on a fix or on the straight line between fixes)."),
)


def map_key(crs: str) -> tuple[KeyEntry, ...]:
    """The map key, its last entry naming the grid the map is drawn in."""
    grid = "British National Grid" if crs == BNG else crs_name(crs)
    return (*MAP_KEY, KeyEntry("Scale bar and N arrow", f"Distance in metres; N points to grid north ({grid})."))
