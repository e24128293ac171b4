"""Coordinate reference systems: WGS84 to British National Grid (OSTN15 when PROJ has the grid)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyproj
from pyproj import Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from geomatch.core.arrays import read_only
from geomatch.core.errors import InputError

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
OSTN15_GRID = "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
_SYSTEM_PROJ_DIRS = (Path("/usr/share/proj"), Path("/usr/local/share/proj"))

# A missing best grid is recorded in every manifest (transform_info), not warned about for each transformer. The
# filter is the process's: transformers are made per thread, and warnings.catch_warnings is not thread-safe (one
# thread leaving it removed another's filter, and a fresh install's warm-up printed pyproj's warning).
warnings.filterwarnings("ignore", message="Best transformation is not available", category=UserWarning)


@dataclass(frozen=True)
class TransformInfo:
    """Which transformation converted coordinates, for the manifest."""

    source: str
    target: str
    description: str
    accuracy_m: float | None
    ostn15: bool


def _transformer(source: str, target: str) -> Transformer:
    """The transformer between two CRSs for the calling thread (pyproj transformers are not thread-safe)."""
    return _thread_transformer(source, target, threading.get_ident())


@lru_cache(maxsize=None)
def _thread_transformer(source: str, target: str, thread: int) -> Transformer:
    for directory in _SYSTEM_PROJ_DIRS:  # Debian's proj-data ships the OSTN15 grid here
        if (directory / OSTN15_GRID).is_file() and str(directory) not in pyproj.datadir.get_user_data_dir():
            pyproj.datadir.append_data_dir(str(directory))
            break
    group = pyproj.transformer.TransformerGroup(source, target, always_xy=True)
    if not group.transformers:
        raise ValueError(f"there is no transformation from {source} to {target}")
    return group.transformers[0]  # the most accurate operation whose grids are available here


def check_crs(text: str, *, option: str = "crs") -> str:
    """``text`` if PROJ knows it as a coordinate reference system (``EPSG:27700``, a WKT, a PROJ string).

    Raises:
        InputError: it names no CRS (one sentence naming ``option``), even where no column needs it.
    """
    try:
        pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError:
        raise InputError(f"{option} {text!r} is not a coordinate reference system PROJ knows (give one such as "
                         f"EPSG:27700)") from None
    return text


def transform_info(source: str = WGS84, target: str = BNG) -> TransformInfo:
    """Describe the transformation that :func:`transform` uses between two CRSs."""
    transformer = _transformer(source, target)
    accuracy = transformer.accuracy if transformer.accuracy is not None and transformer.accuracy >= 0 else None
    return TransformInfo(source, target, transformer.description, accuracy, "OSTN15" in transformer.definition)


LATTICE_STEP_DEG = 0.005
"""Spacing (degrees) of the lattice through which WGS84 points are transformed."""
LATTICE_MAX_ERROR_M = 0.01
"""Bound (m) on the lattice interpolation error, checked by the tests; far below any fix's accuracy."""
_LATTICE_CHUNK = 1 << 20


def transform(x: np.ndarray, y: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = easting or longitude, y = northing or latitude).

    WGS84 points are transformed exactly at the corners of their cells in a global lattice of
    :data:`LATTICE_STEP_DEG` degrees and interpolated bilinearly inside the cell: within
    :data:`LATTICE_MAX_ERROR_M` of the exact result (the transformation is smooth at that scale) and about ten
    times faster for millions of fixes. A point's result depends on that point alone, never on the batch it came
    in, so a file split into partitions gives the same coordinates as the whole file.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if source == target:
        return x, y
    if source == WGS84:
        return _transform_on_lattice(x, y, target)
    return _exact(x, y, source, target)


def _exact(x: np.ndarray, y: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    out_x, out_y = _transformer(source, target).transform(x, y)
    return np.asarray(out_x, dtype=float), np.asarray(out_y, dtype=float)


def _transform_on_lattice(lon: np.ndarray, lat: np.ndarray, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation inside each point's lattice cell between the exact transforms of its corners, a
    million points at a time to keep the temporaries small.

    A part whose points lie in a compact area (a force's trails) is interpolated by the compiled kernel on a dense
    block of nodes; these parts run on two threads (the kernel releases the GIL; the nodes' exact transforms stay
    on the calling thread, whose PROJ transformer is made already). A part spread over a country goes through its
    distinct cells. Either way a point's result depends on that point alone.
    """
    from geomatch.core._lattice import interpolate_block

    lon, lat = read_only(lon), read_only(lat)  # views or copies alike: one type for the kernels
    out_x, out_y = np.empty(len(lon)), np.empty(len(lon))
    parts = [slice(start, start + _LATTICE_CHUNK) for start in range(0, len(lon), _LATTICE_CHUNK)]
    blocks = [_node_block(lon[part], lat[part], target) for part in parts]

    def interpolate(part: slice, block: tuple[int, int, int, np.ndarray, np.ndarray]) -> int:
        out_x[part] = np.nan  # the kernel leaves non-finite points as they are
        out_y[part] = np.nan
        return interpolate_block(lon[part], lat[part], LATTICE_STEP_DEG, *block, out_x[part], out_y[part])

    dense = [(part, block) for part, block in zip(parts, blocks) if block is not None]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lattice") as pool:
        interpolated = [pool.submit(interpolate, part, block) for part, block in dense[1:]]
        left = [interpolate(part, block) for part, block in dense[:1]]  # one on this thread too
        for part, block in zip(parts, blocks):
            if block is None:
                _interpolate_chunk(lon[part], lat[part], target, out_x[part], out_y[part])
        left += [done.result() for done in interpolated]
    for (part, _), missing in zip(dense, left):
        if missing:  # strays beyond the block: through their own cells, as a part spread over a country
            _interpolate_strays(lon[part], lat[part], target, out_x[part], out_y[part])
    if any(left) or len(dense) < len(parts):  # else every result is finite already
        _exact_where_not_finite(lon, lat, target, out_x, out_y)
    return out_x, out_y


def _node_block(lon: np.ndarray, lat: np.ndarray, target: str
                ) -> tuple[int, int, int, np.ndarray, np.ndarray] | None:
    """The dense block of lattice nodes around every finite point, as ``x0, y0, nx, node_x, node_y`` (the
    block's first node and width, and its nodes' exact transforms, row-major); where that block would have more
    than four nodes a point (and more than 4,096), the block around the points between the
    :data:`STRAY_QUANTILES` of longitude and latitude (the strays are interpolated through their own cells); or
    ``None`` when that block is too large as well (points spread over a country), or no point is finite."""
    from geomatch.core._lattice import finite_box

    n_finite, *box = finite_box(lon, lat)  # one compiled pass
    if not n_finite:
        return None
    nx, ny, x0, y0 = _block_shape(*box)
    if nx * ny > max(4 * n_finite, 4096):  # strays far from the rest (a fix with swapped coordinates, say):
        finite = np.isfinite(lon) & np.isfinite(lat)  # the block around the middle 98 % of the points
        (west, east), (south, north) = (np.quantile(v[finite], STRAY_QUANTILES) for v in (lon, lat))
        nx, ny, x0, y0 = _block_shape(west, east, south, north)
        if nx * ny > max(4 * n_finite, 4096):
            return None
    node_ix, node_iy = np.meshgrid(x0 + np.arange(nx), y0 + np.arange(ny))
    node_x, node_y = _exact(node_ix.ravel() * LATTICE_STEP_DEG, node_iy.ravel() * LATTICE_STEP_DEG, WGS84, target)
    return x0, y0, nx, node_x, node_y


STRAY_QUANTILES = (0.01, 0.99)
"""Quantiles of longitude and latitude that bound the dense block of lattice nodes when a few points lie far from
the rest; the points beyond it go through their own cells (the same arithmetic, so the same result)."""


def _block_shape(west: float, east: float, south: float, north: float) -> tuple[int, int, int, int]:
    """The lattice nodes around a box: ``nx, ny`` nodes from node ``x0, y0``."""
    (x0, x1), (y0, y1) = ((int(np.floor(low / LATTICE_STEP_DEG)), int(np.floor(high / LATTICE_STEP_DEG)))
                          for low, high in ((west, east), (south, north)))
    return x1 - x0 + 2, y1 - y0 + 2, x0, y0


def _interpolate_strays(lon: np.ndarray, lat: np.ndarray, target: str, out_x: np.ndarray,
                        out_y: np.ndarray) -> None:
    """Fill in the finite points of a part that the dense block left without a result, through their own cells."""
    strays = np.flatnonzero(~(np.isfinite(out_x) & np.isfinite(out_y)) & np.isfinite(lon) & np.isfinite(lat))
    stray_x, stray_y = np.empty(len(strays)), np.empty(len(strays))
    _interpolate_chunk(lon[strays], lat[strays], target, stray_x, stray_y)
    out_x[strays], out_y[strays] = stray_x, stray_y


def _interpolate_chunk(lon: np.ndarray, lat: np.ndarray, target: str, out_x: np.ndarray, out_y: np.ndarray) -> None:
    """Fill ``out_x``/``out_y`` (views into the whole result, so no chunk-sized copies) for one chunk of points
    spread over a country: the distinct cells only (non-finite results are left for
    :func:`_exact_where_not_finite`)."""
    out_x.fill(np.nan)
    out_y.fill(np.nan)
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.any():
        return
    where = np.flatnonzero(finite)
    grid_x, grid_y = lon[where] / LATTICE_STEP_DEG, lat[where] / LATTICE_STEP_DEG
    ix, iy = np.floor(grid_x).astype(np.int64), np.floor(grid_y).astype(np.int64)
    fx, fy = grid_x - ix, grid_y - iy
    corners_x, corners_y = _distinct_cell_corners(ix, iy, target)  # (4, n): ll, lr, ul, ur
    with np.errstate(invalid="ignore"):  # corners outside the projection's area are inf: redone below
        for out, c in ((out_x, corners_x), (out_y, corners_y)):
            bottom = c[0] * (1 - fx) + c[1] * fx
            top = c[2] * (1 - fx) + c[3] * fx
            out[where] = bottom * (1 - fy) + top * fy


def _exact_where_not_finite(lon: np.ndarray, lat: np.ndarray, target: str, out_x: np.ndarray,
                            out_y: np.ndarray) -> None:
    """Missing input, or outside the projection's valid area: exactly as PROJ gives it."""
    bad = ~np.isfinite(out_x) | ~np.isfinite(out_y)
    if bad.any():
        out_x[bad], out_y[bad] = _exact(lon[bad], lat[bad], WGS84, target)


def _distinct_cell_corners(ix: np.ndarray, iy: np.ndarray, target: str) -> tuple[np.ndarray, np.ndarray]:
    """The exact transforms of the four corners of each point's cell, shape (4, n), computed once per distinct
    cell (for points spread over a country)."""
    cells, inverse = np.unique(np.stack([ix, iy]), axis=1, return_inverse=True)
    offsets = np.array([[0, 1, 0, 1], [0, 0, 1, 1]])
    corner_ix = cells[0][None, :] + offsets[0][:, None]
    corner_iy = cells[1][None, :] + offsets[1][:, None]
    node_x, node_y = _exact(corner_ix.ravel() * LATTICE_STEP_DEG, corner_iy.ravel() * LATTICE_STEP_DEG, WGS84, target)
    return node_x.reshape(4, -1)[:, inverse.ravel()], node_y.reshape(4, -1)[:, inverse.ravel()]


GB_BOUNDS_LONLAT = (-9.0, 49.75, 2.0, 61.0)
"""Great Britain's box in WGS84 degrees: west, south, east, north."""
UTM_ZONE_WIDTH_DEG = 6.0
"""Longitude width of one UTM zone; distances in a zone's CRS are scaled by up to ~1 % beyond it."""


def in_gb_box(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where a WGS84 point lies in :data:`GB_BOUNDS_LONLAT`."""
    west, south, east, north = GB_BOUNDS_LONLAT
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


AREA_MARGIN_DEG = 3.0
"""How far (degrees) beyond a projected CRS's published area of use a point may lie and still be measured in it."""


def outside_crs_area(lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    """True where a WGS84 point lies where ``crs`` cannot measure it: outside Great Britain's box for British
    National Grid, else beyond the CRS's area of use by more than :data:`AREA_MARGIN_DEG` (NaN points: False)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    known = np.isfinite(lon) & np.isfinite(lat)
    if crs == BNG:
        return known & ~in_gb_box(lon, lat)
    area = pyproj.CRS.from_user_input(crs).area_of_use
    if area is None:
        return np.zeros(len(lon), dtype=bool)
    west, south, east, north = area.bounds
    m = AREA_MARGIN_DEG
    return known & ((lon < west - m) | (lon > east + m) | (lat < south - m) | (lat > north + m))


def looks_swapped_gb(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where lat/lon look swapped: the "latitude" lies in Great Britain's longitude range and vice versa."""
    return in_gb_box(lat, lon)


def same_crs(a: str, b: str) -> bool:
    """Whether two CRS strings (``EPSG:27700``, a WKT, a PROJ string) name the same CRS."""
    return a == b or pyproj.CRS.from_user_input(a) == pyproj.CRS.from_user_input(b)


def crs_name(crs: str) -> str:
    """A CRS as people read it: ``British National Grid (EPSG:27700)``, ``UTM zone 30N (EPSG:32630)``, or the
    CRS's own name and code."""
    if crs == BNG:
        return f"British National Grid ({BNG})"
    parsed = pyproj.CRS.from_user_input(crs)
    utm = parsed.utm_zone
    if utm:
        return f"UTM zone {utm} ({crs})"
    return f"{parsed.name} ({crs})"


def zone_span_warning(lon: np.ndarray, crs: str) -> str | None:
    """A warning when fixes projected to a UTM zone span more than one zone's width of longitude (their
    distances are then scaled by up to ~1 %), else ``None``. British National Grid covers the whole of GB."""
    lon = lon[np.isfinite(lon)]
    if crs == BNG or len(lon) == 0 or not pyproj.CRS.from_user_input(crs).utm_zone:
        return None
    span = float(lon.max() - lon.min())
    if span <= UTM_ZONE_WIDTH_DEG:
        return None
    return (f"the fixes span {span:.1f} degrees of longitude, more than one UTM zone ({UTM_ZONE_WIDTH_DEG:g}); "
            f"distances in {crs_name(crs)} are scaled by up to about 1 % at the far edges")


def choose_metric_crs(lon: np.ndarray, lat: np.ndarray, where: np.ndarray | None = None) -> str:
    """British National Grid when the data's median point lies in Great Britain, else its UTM zone (WGS84).

    Give the accepted points only (``where``: True for them): a median over impossible coordinates has no zone.

    Raises:
        ValueError: the median point is not on the globe (no UTM zone covers it).
    """
    if surely_british(finite_box(lon, lat)):  # every point, so the median too: no copy or sort of millions
        return BNG
    # each median partitions one copy of its points in place (no second copy of millions of values)
    lon_mid, lat_mid = (float(np.nanmedian(v[where] if where is not None else v.copy(), overwrite_input=True))
                        for v in (lon, lat))
    if not (abs(lon_mid) <= 180 and abs(lat_mid) <= 90):
        raise ValueError(f"the median point ({lon_mid:g}, {lat_mid:g}) is not a longitude/latitude")
    if in_gb_box(lon_mid, lat_mid) and not _in_ireland(lon_mid, lat_mid):
        return BNG
    zones = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon_mid, lat_mid, lon_mid, lat_mid))
    if not zones:  # beyond 84°N or 80°S, where UTM stops: the polar stereographic CRSs
        return "EPSG:32661" if lat_mid > 0 else "EPSG:32761"
    return f"EPSG:{zones[0].code}"


def finite_box(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float, float, float]:
    """West, south, east and north (degrees) of the values that are not NaN (NaN where there are none). numpy's
    ``fmin``/``fmax`` skip NaN without the all-NaN warning of ``nanmin``, which needed a ``catch_warnings`` block
    (not thread-safe: leaving it can drop another thread's warning filter)."""
    return (float(np.fmin.reduce(lon, initial=np.nan)), float(np.fmin.reduce(lat, initial=np.nan)),
            float(np.fmax.reduce(lon, initial=np.nan)), float(np.fmax.reduce(lat, initial=np.nan)))


def surely_british(box: tuple[float, float, float, float]) -> bool:
    """Whether a box around points (west, south, east, north in degrees; a superset of the accepted ones) lies in
    Great Britain's box and east of Ireland (:func:`_in_ireland`'s -5.5°), so that any median of them does too
    and :func:`choose_metric_crs` gives British National Grid (reductions instead of a median)."""
    west, south, east, north = box
    return bool(np.isfinite(box).all() and in_gb_box(west, south) and in_gb_box(east, north) and west >= -5.5)


def _in_ireland(lon: float, lat: float) -> bool:
    """Rough test for the island of Ireland (west of the Irish Sea), which British National Grid does not cover."""
    return lon < -5.5 and 51.3 <= lat <= 55.5
