"""Axis furniture of the pictures (tick marks, grid lines, tick labels, axis labels) drawn as plain artists.

Matplotlib's axis machinery builds five artists per tick for every new figure, lays the tick labels out twice per
drawing (once to measure where the axis label goes) and took about half of the rendering of a pack's map and
timeline. A pack's pictures know their ticks before drawing, so :func:`draw_axis` hides matplotlib's axis and
draws the same things directly: one :class:`~matplotlib.collections.LineCollection` of tick marks, one of grid
lines, a :class:`~matplotlib.text.Text` per tick label and the axis label, in matplotlib's default places and
sizes (marks 3.5 pt long outside the axes, labels 3.5 pt beyond them, the axis label 4 pt beyond the labels).

Everything is placed in pixels from the axes' final box, so the axes must have their limits and aspect set
(``Axes.apply_aspect``) before, and the figure must not be resized after.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import IdentityTransform

TICK_PT = 3.5
"""Length of a tick mark (points), matplotlib's default."""
PAD_PT = 3.5
"""Space between a tick mark and its label (points), matplotlib's default."""
LABEL_PAD_PT = 4.0
"""Space between the tick labels and the axis label (points), matplotlib's default."""
NBINS = 9
"""Intervals between ticks at most (what matplotlib's automatic locator gives axes of the pictures' size)."""
_EM = {**dict.fromkeys("0123456789", 0.636), **dict.fromkeys(",.:", 0.318), "-": 0.361, " ": 0.318}
"""Advance widths of DejaVu Sans (matplotlib's default font) in ems: tick labels are measured without a
renderer."""


def nice_ticks(low: float, high: float, nbins: int = NBINS) -> np.ndarray:
    """Round tick positions (1, 2, 2.5 or 5 times a power of ten apart) between ``low`` and ``high``, as
    matplotlib's automatic locator places them."""
    values = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    slack = (high - low) * 1e-10
    return values[(values >= low - slack) & (values <= high + slack)]


def number_labels(values: np.ndarray) -> list[str]:
    """Tick labels for numbers: thousands separated by commas, with as few decimals as tell them apart
    (``0``, ``250``, ``1,000``; ``12.5``)."""
    for decimals in range(4):
        if np.allclose(np.round(values, decimals), values, rtol=0, atol=1e-9):
            break
    return [f"{value:,.{decimals}f}" for value in values]


def text_width_pt(text: str, size_pt: float) -> float:
    """The width (points) of a one-line tick label in matplotlib's default font, from its advance widths."""
    return sum(_EM.get(char, 0.6) for char in text) * size_pt


def draw_axis(ax, which: str, positions: Sequence[float], labels: Sequence[str], *, size_pt: float = 7.0,
              rotation: float = 0.0, title: str = "", title_pt: float = 8.0, grid: dict | None = None,
              title_gap_pt: float | None = None) -> None:
    """Draw the bottom (``which="x"``) or left (``"y"``) axis of ``ax``: tick marks at the data ``positions``
    (those outside the view are left out), their ``labels`` (``size_pt``, turned by ``rotation`` degrees; a
    turned y label that would run past the axes' corner, into the x labels, is left out; its tick stays),
    the axis ``title`` (``title_pt``; several lines grow away from the axes) and, when ``grid`` is given (line
    properties, e.g. ``{"color": "0.85", "lw": 0.5, "zorder": 1}``), grid lines across the axes. Matplotlib's
    own axis is hidden. ``title_gap_pt`` sets how far the title sits from the axes (points; by default just
    beyond the tick labels)."""
    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y', not {which!r}")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_visible(False)
    fig = ax.get_figure()
    px = fig.dpi / 72  # pixels per point
    x0, y0, x1, y1 = ax.bbox.extents
    values = np.asarray(positions, dtype=float)
    if which == "x":
        at = ax.transData.transform(np.column_stack([values, np.zeros(len(values))]))[:, 0]
        keep = (at >= x0 - 0.5) & (at <= x1 + 0.5)
    else:
        at = ax.transData.transform(np.column_stack([np.zeros(len(values)), values]))[:, 1]
        keep = (at >= y0 - 0.5) & (at <= y1 + 0.5)
    labelled = keep.copy()
    if which == "y" and (rotation % 180) != 0:  # a turned label runs along the axis: one that would stick out
        half = np.array([text_width_pt(label, size_pt) * px / 2 for label in labels])  # past a corner collides
        labelled &= (at - half >= y0) & (at + half <= y1)                              # with the other axis'
    label_at, shown = at[labelled], [label for label, k in zip(labels, labelled) if k]
    at = at[keep]
    if which == "x":
        marks = [((p, y0), (p, y0 - TICK_PT * px)) for p in at]
        lines = [((p, y0), (p, y1)) for p in at]
    else:
        marks = [((x0, p), (x0 - TICK_PT * px, p)) for p in at]
        lines = [((x0, p), (x1, p)) for p in at]
    identity = IdentityTransform()
    if grid is not None and lines:
        ax.add_collection(LineCollection(lines, transform=identity, **{"zorder": 1, **grid}), autolim=False)
    if marks:
        ax.add_collection(LineCollection(marks, colors="black", linewidths=0.8, transform=identity,
                                         clip_on=False, zorder=2.5), autolim=False)
    offset = (TICK_PT + PAD_PT) * px
    for p, label in zip(label_at, shown):
        if which == "x":
            text = Text(p, y0 - offset, label, ha="center", va="top", rotation=rotation, fontsize=size_pt,
                        transform=identity, clip_on=False)
        else:
            text = Text(x0 - offset, p, label, ha="right", va="center_baseline", rotation=rotation,
                        fontsize=size_pt, transform=identity, clip_on=False)
        ax.add_artist(text)
    if not title:
        return
    if title_gap_pt is None:
        turned = (rotation % 180) != 0
        across = max((size_pt * 1.17 if (which == "x") != turned else text_width_pt(label, size_pt))
                     for label in shown) if shown else 0.0
        title_gap_pt = TICK_PT + PAD_PT + across + LABEL_PAD_PT
    if which == "x":
        text = Text((x0 + x1) / 2, y0 - title_gap_pt * px, title, ha="center", va="top", fontsize=title_pt,
                    transform=identity, clip_on=False)
    else:
        text = Text(x0 - title_gap_pt * px, (y0 + y1) / 2, title, ha="right", va="center", rotation=90,
                    fontsize=title_pt, transform=identity, clip_on=False)
    ax.add_artist(text)
