"""Raster basemaps from local files, resampled onto the hit's metric grid: MBTiles and PMTiles archives of raster
tiles (PNG, JPEG, WebP in Web Mercator) and georeferenced images (GeoTIFF, any CRS).

Tile archives: the tiles over the view, at the zoom nearest the view's resolution (within the archive's zooms),
are stitched and sampled onto the grid, nearest neighbour. MBTiles is read with SQLite (its rows count from the
bottom, TMS); PMTiles with the ``pmtiles`` reader (rows from the top, XYZ). Vector tiles are refused.

GeoTIFF is read with rasterio (GDAL): a warped view of the image onto the grid (nearest neighbour), only the
part over the view; 8-bit images with one band (grey, or a palette), three (RGB) or four (RGBA). An image without
a CRS, or of other samples (elevations, 16-bit), is refused with a sentence naming the file.

Every reader returns a :class:`Raster` (``None`` when nothing of the file lies in the view).
"""
from __future__ import annotations

import io
import math
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from geomatch.core.errors import InputError

Extent = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax (metres of the hit's CRS)
TILE_SUFFIXES = (".mbtiles", ".pmtiles")
IMAGE_SUFFIXES = (".tif", ".tiff")
RASTER_SUFFIXES = TILE_SUFFIXES + IMAGE_SUFFIXES
_MERCATOR_HALF = 20037508.342789244  # half the Web Mercator world's width (m)
TILE_PX = 256


@dataclass(frozen=True)
class Raster:
    """An RGB image on the metric grid: row 0 at the top (``extent[3]``), column 0 at ``extent[0]``; ``alpha`` is
    0 where the file covered no part of the pixel."""

    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) uint8
    extent: Extent


def check_raster(path: Path) -> None:
    """Refuse a raster basemap this module cannot draw, naming the file (cached per process)."""
    suffix = path.suffix.lower()
    if suffix == ".mbtiles":
        _mbtiles_info(str(path))
    elif suffix == ".pmtiles":
        _pmtiles_info(str(path))
    else:
        _geotiff_info(str(path))


def read_raster(path: Path, crs: str, extent: Extent, width_px: int) -> Raster | None:
    """The raster file's image over ``extent``, resampled onto a ``width_px``-wide grid in ``crs``."""
    suffix = path.suffix.lower()
    if suffix == ".mbtiles":
        low, high = _mbtiles_info(str(path))
        return _read_tiles(_mbtiles_fetch(str(path)), low, high, crs, extent, width_px)
    if suffix == ".pmtiles":
        low, high = _pmtiles_info(str(path))
        return _read_tiles(_pmtiles_fetch(str(path)), low, high, crs, extent, width_px)
    return _read_geotiff(str(path), crs, extent, width_px)


def _grid(extent: Extent, width_px: int) -> tuple[int, np.ndarray, np.ndarray]:
    """The output grid's height and its pixel centres (x, y of the hit's CRS), row 0 at the top."""
    xmin, xmax, ymin, ymax = extent
    height_px = max(1, round(width_px * (ymax - ymin) / (xmax - xmin)))
    xs = xmin + (np.arange(width_px) + 0.5) * (xmax - xmin) / width_px
    ys = ymax - (np.arange(height_px) + 0.5) * (ymax - ymin) / height_px
    return height_px, xs, ys


# ---- tile archives ------------------------------------------------------------------------------------------

TileFetch = Callable[[int, int, int, int, int], list[tuple[int, int, bytes]]]
"""``fetch(zoom, col_min, col_max, row_min, row_max)``: the ``(col, row, data)`` of the archive's tiles in that
range, XYZ rows (from the top)."""


def _read_tiles(fetch: TileFetch, low: int, high: int, crs: str, extent: Extent, width_px: int) -> Raster | None:
    """Tiles over ``extent`` at the zoom nearest its resolution, stitched and sampled onto the grid."""
    from PIL import Image
    from pyproj import Transformer

    _, xs, ys = _grid(extent, width_px)
    gx, gy = np.meshgrid(xs, ys)
    mx, my = Transformer.from_crs(crs, "EPSG:3857", always_xy=True).transform(gx, gy)
    resolution = (np.nanmax(mx) - np.nanmin(mx)) / width_px  # Web Mercator metres per output pixel
    zoom = int(np.clip(math.ceil(math.log2(2 * _MERCATOR_HALF / (TILE_PX * resolution))), low, high))
    tile_m = 2 * _MERCATOR_HALF / 2 ** zoom
    col = np.floor((mx + _MERCATOR_HALF) / tile_m).astype(np.int64)
    row = np.floor((_MERCATOR_HALF - my) / tile_m).astype(np.int64)
    c0, c1, r0, r1 = int(col.min()), int(col.max()), int(row.min()), int(row.max())
    mosaic = np.zeros(((r1 - r0 + 1) * TILE_PX, (c1 - c0 + 1) * TILE_PX, 4), dtype=np.uint8)
    tiles = fetch(zoom, c0, c1, r0, r1)
    for tile_col, tile_row, data in tiles:
        image = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
        top, left = (tile_row - r0) * TILE_PX, (tile_col - c0) * TILE_PX
        mosaic[top:top + TILE_PX, left:left + TILE_PX] = image[:TILE_PX, :TILE_PX]
    if not tiles:
        return None
    px = np.clip(((mx + _MERCATOR_HALF) / tile_m - c0) * TILE_PX, 0, mosaic.shape[1] - 1).astype(np.int64)
    py = np.clip(((_MERCATOR_HALF - my) / tile_m - r0) * TILE_PX, 0, mosaic.shape[0] - 1).astype(np.int64)
    sampled = mosaic[py, px]
    return Raster(sampled[..., :3].copy(), sampled[..., 3].copy(), extent)


def _check_format(path: str, kind: str, name: str) -> None:
    if name.lower() not in ("png", "jpg", "jpeg", "webp"):
        raise InputError(f"the {kind} archive holds {name} tiles; only raster tiles (png, jpg, webp) can be drawn",
                         file=path)


@lru_cache(maxsize=32)
def _mbtiles_info(path: str) -> tuple[int, int]:
    """The lowest and highest zoom of an MBTiles archive of raster tiles."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            meta = dict(con.execute("SELECT name, value FROM metadata").fetchall())
            low, high = con.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    except sqlite3.Error as error:
        raise InputError(f"the MBTiles archive could not be read ({error})", file=path) from error
    _check_format(path, "MBTiles", str(meta.get("format", "png")))
    if low is None:
        raise InputError("the MBTiles archive has no tiles", file=path)
    return int(low), int(high)


def _mbtiles_fetch(path: str) -> TileFetch:
    def fetch(zoom: int, c0: int, c1: int, r0: int, r1: int) -> list[tuple[int, int, bytes]]:
        last = 2 ** zoom - 1  # MBTiles rows count from the bottom (TMS)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT tile_column, tile_row, tile_data FROM tiles WHERE zoom_level = ? AND "
                               "tile_column BETWEEN ? AND ? AND tile_row BETWEEN ? AND ?",
                               (zoom, c0, c1, last - r1, last - r0)).fetchall()
        return [(int(c), last - int(r), bytes(data)) for c, r, data in rows]

    return fetch


@lru_cache(maxsize=32)
def _pmtiles_info(path: str) -> tuple[int, int]:
    """The lowest and highest zoom of a PMTiles (version 3) archive of raster tiles."""
    from pmtiles.reader import MmapSource, Reader
    from pmtiles.tile import Compression, TileType

    try:
        with open(path, "rb") as handle:
            header = Reader(MmapSource(handle)).header()
    except Exception as error:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"the PMTiles archive could not be read ({error})", file=path) from error
    tile_type = header["tile_type"]
    _check_format(path, "PMTiles", {TileType.PNG: "png", TileType.JPEG: "jpeg", TileType.WEBP: "webp"}.get(
        tile_type, getattr(tile_type, "name", str(tile_type)).lower()))
    if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
        raise InputError(f"the PMTiles archive's tiles are compressed ({header['tile_compression'].name}); raster "
                         f"tiles are stored as they are", file=path)
    if header["addressed_tiles_count"] == 0:
        raise InputError("the PMTiles archive has no tiles", file=path)
    return int(header["min_zoom"]), int(header["max_zoom"])


def _pmtiles_fetch(path: str) -> TileFetch:
    def fetch(zoom: int, c0: int, c1: int, r0: int, r1: int) -> list[tuple[int, int, bytes]]:
        from pmtiles.reader import MmapSource, Reader

        with open(path, "rb") as handle:
            reader = Reader(MmapSource(handle))
            found = ((c, r, reader.get(zoom, c, r)) for c in range(c0, c1 + 1) for r in range(r0, r1 + 1))
            return [(c, r, bytes(data)) for c, r, data in found if data]

    return fetch


# ---- GeoTIFF ------------------------------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _geotiff_info(path: str) -> int:
    """The number of bands of an 8-bit georeferenced image (1, 3 or 4), refusing any other."""
    import rasterio

    try:
        with rasterio.open(path) as image:
            crs, dtypes, count = image.crs, image.dtypes, image.count
    except Exception as error:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"the GeoTIFF could not be read ({error})", file=path) from error
    if crs is None:
        raise InputError("the GeoTIFF does not say its CRS (no georeferencing)", file=path)
    if count not in (1, 3, 4) or any(dtype != "uint8" for dtype in dtypes):
        raise InputError(f"the GeoTIFF holds {count} band(s) of {dtypes[0]}; a basemap image has 8-bit samples in "
                         f"1 (grey or palette), 3 (RGB) or 4 (RGBA) bands", file=path)
    return count


def _read_geotiff(path: str, crs: str, extent: Extent, width_px: int) -> Raster | None:
    """The image warped onto the grid (nearest neighbour); ``alpha`` from its mask (nodata, alpha band) and 0
    outside it."""
    import rasterio
    from rasterio.enums import ColorInterp, Resampling
    from rasterio.transform import from_bounds
    from rasterio.vrt import WarpedVRT

    count = _geotiff_info(path)
    height_px, _, _ = _grid(extent, width_px)
    transform = from_bounds(extent[0], extent[2], extent[1], extent[3], width_px, height_px)
    with rasterio.open(path) as image:
        covered = count == 4 or image.nodata is not None  # else an alpha band marks where the image lies
        with WarpedVRT(image, crs=crs, transform=transform, width=width_px, height=height_px,
                       resampling=Resampling.nearest, add_alpha=not covered) as view:
            bands = view.read(indexes=list(range(1, min(count, 3) + 1)))
            alpha = view.dataset_mask()
        palette = image.colormap(1) if count == 1 and image.colorinterp[0] == ColorInterp.palette else None
    if not alpha.any():
        return None
    if palette is not None:
        lookup = np.zeros((256, 3), dtype=np.uint8)
        for index, colour in palette.items():
            lookup[index] = colour[:3]
        rgb = lookup[bands[0]]
    else:
        rgb = np.repeat(bands[0][..., None], 3, axis=2) if count == 1 else np.moveaxis(bands, 0, 2)
    return Raster(np.ascontiguousarray(rgb), alpha.astype(np.uint8), extent)
