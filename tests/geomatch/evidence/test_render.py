"""Rendering of the pictures: cached text gives matplotlib's own pixels, a pack's bytes do not depend on the packs
drawn before it in the same process, and the axes drawn as plain artists carry the right ticks and labels."""
from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geomatch.evidence import make_packs
from geomatch.evidence.axes import draw_axis, nice_ticks, number_labels, text_width_pt
from geomatch.evidence.text import fmt_fixes
from geomatch.evidence.render import SharedRendererCanvas
from geomatch.pipeline import MatchInputs, run_match
from tests.geomatch.evidence.test_evidence import build_world


def _text_figure(shift: float) -> Figure:
    """Texts of several sizes, weights and angles at fractional positions (``shift`` moves them all)."""
    fig = Figure(figsize=(4, 3), dpi=150)
    ax = fig.add_axes((0.15, 0.2, 0.8, 0.7))
    for k, (size, angle, weight) in enumerate([(7, 0, "normal"), (6.5, 90, "normal"), (9, 0, "bold"),
                                               (8, 33, "normal"), (13, 0, "bold"), (7, -90, "normal")]):
        ax.text(0.05 + 0.13 * k + shift, 0.2 + 0.1 * k + shift / 3, f"613,7{k}0 · é…\nline {k}", fontsize=size,
                rotation=angle, fontweight=weight, transform=ax.transAxes)
    ax.set_title("Subject S014 · observed · closest approach 1.0 m", fontsize=9, loc="left")
    return fig


def _pixels(fig: Figure, canvas) -> np.ndarray:
    canvas(fig).draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("shift", [0.0, 0.0013, 0.0171])
def test_cached_text_gives_matplotlibs_own_pixels(shift):
    expected = _pixels(_text_figure(shift), FigureCanvasAgg)
    cold = _pixels(_text_figure(shift), SharedRendererCanvas)
    warm = _pixels(_text_figure(shift), SharedRendererCanvas)  # every glyph and layout now from the caches
    assert (cold == expected).all() and (warm == expected).all()


def test_the_shared_renderer_keeps_nothing_of_the_figure_before():
    alone = _pixels(_text_figure(0.003), FigureCanvasAgg)
    other = Figure(figsize=(4, 3), dpi=150)
    other.add_axes((0, 0, 1, 1)).fill([0, 1, 1], [0, 0, 1], color="red")
    _pixels(other, SharedRendererCanvas)
    assert (_pixels(_text_figure(0.003), SharedRendererCanvas) == alone).all()


def test_nice_ticks_and_their_labels():
    ticks = nice_ticks(612_345.0, 613_567.0)
    assert 3 <= len(ticks) <= 10 and ticks.min() >= 612_345 and ticks.max() <= 613_567
    assert np.allclose(np.diff(ticks), ticks[1] - ticks[0]) and (ticks[1] - ticks[0]) in (100, 200, 250, 500)
    assert number_labels(np.array([0.0, 500.0, 1000.0])) == ["0", "500", "1,000"]
    assert number_labels(np.array([0.0, 12.5, 25.0])) == ["0.0", "12.5", "25.0"]


def test_axes_drawn_as_plain_artists_name_their_ticks_and_titles():
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_axes((0.2, 0.2, 0.7, 0.7))
    ax.set_xlim(0, 1000)
    ax.set_ylim(0, 500)
    draw_axis(ax, "x", [-100, 0, 500, 1000, 1200], ["-100", "0", "500", "1,000", "1,200"], title="Easting (m)")
    draw_axis(ax, "y", [0, 250, 500], ["0", "250", "500"], rotation=90, title="Northing (m)",
              grid={"color": "0.85", "lw": 0.5})
    assert not ax.xaxis.get_visible() and not ax.yaxis.get_visible()
    texts = {t.get_text(): t for t in ax.texts}
    assert set(texts) == {"0", "500", "1,000", "250", "Easting (m)", "Northing (m)"}  # outside the view: left out
    x0, y0, x1, _ = ax.bbox.extents
    assert texts["1,000"].get_position()[0] == pytest.approx(x1) and texts["1,000"].get_position()[1] < y0
    assert texts["Easting (m)"].get_position()[1] < texts["1,000"].get_position()[1]
    assert texts["Northing (m)"].get_position()[0] < x0 and texts["Northing (m)"].get_rotation() == 90
    FigureCanvasAgg(fig).draw()  # draws


def test_counts_of_fixes_read_as_words():
    assert [fmt_fixes(n) for n in (0, 1, 2, 1500)] == ["0 fixes", "1 fix", "2 fixes", "1,500 fixes"]


def test_a_turned_y_label_that_would_run_past_the_corner_is_left_out():
    """A northing label turned along the axis and centred near the bottom corner ran into the eastings under it
    ("247,700" over "612,350" on a pack's map)."""
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_axes((0.2, 0.2, 0.7, 0.7))
    ax.set_xlim(0, 1000)
    ax.set_ylim(247_695, 248_100)
    ticks = [247_700, 247_800, 247_900, 248_000, 248_100]
    draw_axis(ax, "y", ticks, number_labels(np.array(ticks, dtype=float)), rotation=90)
    _, y0, _, y1 = ax.bbox.extents
    shown = {t.get_text(): t for t in ax.texts}
    assert set(shown) == {"247,800", "247,900", "248,000"}  # 247,700 too near the bottom, 248,100 at the top
    assert len(ax.collections[-1].get_segments()) == 5  # every tick keeps its mark
    px = fig.dpi / 72
    for label, text in shown.items():
        half = text_width_pt(label, 7.0) * px / 2
        assert y0 <= text.get_position()[1] - half and text.get_position()[1] + half <= y1


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render")
    trails, crimes = build_world(folder)
    return run_match(MatchInputs(trails, crimes), folder / "run")


def _pack_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.name != "manifest.json"}


def _make_packs(run, rows: list[int], out: Path, workers: int) -> list[str]:
    hits = run.hits.reset_index(drop=True).iloc[rows]
    return [str(p) for p in make_packs(hits, run.trails, run.crimes, out, workers=workers).packs]


def test_a_pack_is_the_same_drawn_first_or_after_other_packs(small_run, tmp_path):
    """The caches (renderer, layouts, glyphs, legends) never make a pack depend on what its process drew
    before: a hit's pack drawn alone in a fresh process, last after the others, and by two workers is the same,
    byte for byte."""
    last = len(small_run.hits) - 1
    assert last >= 2
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:  # cold caches
        alone = fresh.submit(_make_packs, small_run, [last], tmp_path / "alone", 1).result()[0]
    after = _make_packs(small_run, list(range(last + 1)), tmp_path / "after", 1)[-1]
    workers = _make_packs(small_run, list(range(last + 1)), tmp_path / "workers", 2)[-1]
    assert _pack_digests(Path(alone)) == _pack_digests(Path(after)) == _pack_digests(Path(workers))


def test_the_glyph_kernel_blends_as_agg_draws_text_images():
    """blend_glyphs against Agg's own draw_text_image: random coverages (some full, some empty) at random places
    (some off the edges), random colours (translucent too) and clip rectangles, over opaque and translucent
    backgrounds: the same bytes."""
    from matplotlib.backend_bases import GraphicsContextBase
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.transforms import Bbox

    from geomatch.evidence.render import CachingRenderer

    rng = np.random.default_rng(7)
    width, height = 120, 90
    for trial in range(60):
        background = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        if trial % 2:
            background[..., 3] = 255
        gc = GraphicsContextBase()
        gc.set_foreground(tuple(rng.random(4)) if trial % 3 else (0, 0, 0, 1), isRGBA=True)
        if trial % 4 == 0:
            gc.set_clip_rectangle(Bbox.from_bounds(*rng.uniform(-10, 60, 2), *rng.uniform(0, 80, 2)))
        bitmaps, places = [], []
        for _ in range(int(rng.integers(1, 8))):
            bitmap = rng.integers(0, 256, tuple(rng.integers(0, 15, 2)), dtype=np.uint8)
            bitmap[rng.random(bitmap.shape) < 0.3] = 255
            bitmap[rng.random(bitmap.shape) < 0.2] = 0
            bitmaps.append(bitmap)
            places.append((int(rng.integers(-20, width + 5)), int(rng.integers(-5, height + 20))))
        agg = RendererAgg(width, height, 72)
        np.asarray(agg._renderer)[...] = background
        for bitmap, (x, y) in zip(bitmaps, places):
            agg._renderer.draw_text_image(bitmap, x, y, 0, gc)
        ours = CachingRenderer(width, height, 72)
        np.asarray(ours._renderer)[...] = background
        ours._blend(gc, bitmaps, np.array(places, dtype=np.int64))
        assert (np.asarray(ours._renderer) == np.asarray(agg._renderer)).all(), trial


def test_png_rows_are_the_pixels(tmp_path):
    from PIL import Image

    from geomatch.evidence.style import write_png

    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (37, 23, 4), dtype=np.uint8)
    for pixels in (rgba, rgba[..., :3].copy()):
        decoded = np.asarray(Image.open(write_png(pixels, tmp_path / "p.png")))
        assert decoded.shape == (37, 23, 3) and (decoded == rgba[..., :3]).all()


def test_segments_are_the_paths_line_collection_makes():
    from matplotlib.collections import LineCollection

    from geomatch.evidence.style import segments

    fig = Figure(figsize=(3, 3), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    for k in (2, 17, 130):  # 130 points: paths long enough to be simplified
        steps = np.random.default_rng(k).random((5, k, 2))
        ours, theirs = segments(ax, steps, colors="0.3"), LineCollection(steps, colors="0.3")
        assert len(ours.get_paths()) == len(theirs.get_paths()) == 5
        for a, b in zip(ours.get_paths(), theirs.get_paths()):
            assert (a.vertices == b.vertices).all() and a.codes is None and b.codes is None
            assert (a.should_simplify, a.simplify_threshold, a._interpolation_steps, a.readonly) == \
                (b.should_simplify, b.simplify_threshold, b._interpolation_steps, b.readonly)
    assert len(segments(ax, np.empty((0, 2, 2)), colors="0.3").get_paths()) == 0


def test_markers_and_steps_out_of_view_are_left_out_with_the_same_pixels(small_run, tmp_path, monkeypatch):
    """The maps and the timeline leave out the markers, steps and circles that cannot reach the view: the pixels
    are those of drawing them all (S1's trail runs kilometres beyond the main view, the overview inset and the
    timeline's distance axis)."""
    from PIL import Image

    from geomatch.evidence import staticmap, style, timeline

    drawn = {staticmap: [0, 0], timeline: [0, 0]}  # markers drawn by each picture, culled and all
    markers, run = staticmap.markers, [0]

    def counted(module):
        def draw(ax, x, *args, **kwargs):
            drawn[module][run[0]] += len(x)
            return markers(ax, x, *args, **kwargs)
        return draw

    for module in drawn:
        monkeypatch.setattr(module, "markers", counted(module))
    rows = list(range(len(small_run.hits)))
    culled = _make_packs(small_run, rows, tmp_path / "culled", 1)
    monkeypatch.setattr(style, "VIEW_MARGIN", np.inf)
    run[0] = 1
    everything = _make_packs(small_run, rows, tmp_path / "all", 1)
    assert all(some < all_ for some, all_ in drawn.values())  # the trail runs kilometres beyond the views
    for a, b in zip(culled, everything):
        for name in ("map.png", "thumb.png", "timeline.png"):
            assert np.array_equal(np.asarray(Image.open(Path(a) / name)), np.asarray(Image.open(Path(b) / name)))


def test_a_marker_collection_keeps_two_markers_where_it_had_two():
    """Matplotlib stamps a collection of one marker (other pixels), so culling never leaves one of several."""
    from geomatch.evidence.style import kept_markers as _kept

    near = np.array([False, True, False, False, True])
    assert _kept(np.array([0, 2, 3]), near).tolist() == [0, 2]
    assert _kept(np.array([0, 1, 2]), near).tolist() == [0, 1]
    assert _kept(np.array([1, 4]), near).tolist() == [1, 4]
    assert _kept(np.array([3]), near).tolist() == []


def test_timeline_date_numbers_are_those_of_python_datetimes():
    """The timeline's x values: matplotlib's date numbers of the times as Python datetimes (to the microsecond),
    made without a Python object per time."""
    import warnings

    import matplotlib.dates as mdates
    import pandas as pd

    from geomatch.evidence.timeline import _num

    ns = np.random.default_rng(0).integers(1.5e18, 1.9e18, 2000)
    for times in (pd.Series(pd.to_datetime(ns, utc=True)),
                  pd.Series(pd.to_datetime(ns // 10**9 * 10**9, utc=True)).dt.as_unit("s"),
                  [pd.Timestamp("2026-10-25 00:30:00.123456789", tz="UTC").tz_convert("Europe/London")]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # to_pydatetime drops the nanoseconds, as date2num would
            python = pd.DatetimeIndex(pd.Series(times)).tz_convert("UTC").tz_localize(None).to_pydatetime()
        assert np.array_equal(_num(times), mdates.date2num(python))
