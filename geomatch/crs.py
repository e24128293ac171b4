"""Coordinate reference systems: WGS84 to British National Grid (OSTN15 when PROJ has the grid)."""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyproj
from pyproj import Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
OSTN15_GRID = "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
_SYSTEM_PROJ_DIRS = (Path("/usr/share/proj"), Path("/usr/local/share/proj"))
# a missing best grid is recorded in every manifest (transform_info), not warned about on each use
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
    return group.transformers[0]  # the most accurate operation whose grids are available here


def transform_info(source: str = WGS84, target: str = BNG) -> TransformInfo:
    """Describe the transformation that :func:`transform` uses between two CRSs."""
    transformer = _transformer(source, target)
    accuracy = transformer.accuracy if transformer.accuracy is not None and transformer.accuracy >= 0 else None
    return TransformInfo(source, target, transformer.description, accuracy, "OSTN15" in transformer.definition)


LATTICE_STEP_DEG = 0.005
"""Spacing (degrees) of the lattice on which many WGS84 points are transformed exactly and then interpolated."""
LATTICE_MAX_ERROR_M = 0.01
"""Bound (m) on the interpolation error at that spacing, checked by the tests; far below any fix's accuracy."""
_LATTICE_MIN_POINTS = 200_000


def transform(x: np.ndarray, y: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = easting or longitude, y = northing or latitude).

    Millions of WGS84 points in one town or county (a force's trails) are transformed exactly at the nodes of
    a :data:`LATTICE_STEP_DEG` lattice over their extent and interpolated bilinearly in between, which is ten
    times faster and within :data:`LATTICE_MAX_ERROR_M` of the exact result (the transformation is smooth at
    that scale). Fewer points, or points spread so widely that the lattice would not pay, are transformed
    one by one.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if source == target:
        return x, y
    if source == WGS84 and len(x) >= _LATTICE_MIN_POINTS:
        interpolated = _transform_on_lattice(x, y, target)
        if interpolated is not None:
            return interpolated
    return _exact(x, y, source, target)


def _exact(x: np.ndarray, y: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    out_x, out_y = _transformer(source, target).transform(x, y)
    return np.asarray(out_x, dtype=float), np.asarray(out_y, dtype=float)


def _transform_on_lattice(lon: np.ndarray, lat: np.ndarray, target: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Bilinear interpolation of the exact transformation from a lattice; None when a lattice would not pay."""
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.any():
        return None
    step = LATTICE_STEP_DEG
    lon0, lat0 = np.floor(lon[finite].min() / step) * step, np.floor(lat[finite].min() / step) * step
    nx = int((lon[finite].max() - lon0) // step) + 2
    ny = int((lat[finite].max() - lat0) // step) + 2
    if nx * ny * 8 > len(lon):
        return None
    node_lon, node_lat = np.meshgrid(lon0 + step * np.arange(nx), lat0 + step * np.arange(ny))
    node_x, node_y = _exact(node_lon.ravel(), node_lat.ravel(), WGS84, target)
    fx = np.where(finite, (lon - lon0) / step, 0.0)
    fy = np.where(finite, (lat - lat0) / step, 0.0)
    ix = np.minimum(fx.astype(np.int64), nx - 2)
    iy = np.minimum(fy.astype(np.int64), ny - 2)
    fx -= ix
    fy -= iy
    corner = iy * nx + ix
    out = []
    for node in (node_x, node_y):
        bottom = node[corner] * (1 - fx) + node[corner + 1] * fx
        top = node[corner + nx] * (1 - fx) + node[corner + nx + 1] * fx
        out.append(bottom * (1 - fy) + top * fy)
    out_x, out_y = out
    bad = ~finite | ~np.isfinite(out_x) | ~np.isfinite(out_y)
    if bad.any():  # outside the valid area of the projection, or missing input: as the exact path gives it
        out_x[bad], out_y[bad] = _exact(lon[bad], lat[bad], WGS84, target)
    return out_x, out_y


GB_BOUNDS_LONLAT = (-9.0, 49.75, 2.0, 61.0)


def choose_metric_crs(lon: np.ndarray, lat: np.ndarray) -> str:
    """British National Grid when the data's median point lies in Great Britain, else its UTM zone (WGS84)."""
    lon_mid, lat_mid = float(np.nanmedian(lon)), float(np.nanmedian(lat))
    west, south, east, north = GB_BOUNDS_LONLAT
    if west <= lon_mid <= east and south <= lat_mid <= north and not _in_ireland(lon_mid, lat_mid):
        return BNG
    zones = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon_mid, lat_mid, lon_mid, lat_mid))
    return f"EPSG:{zones[0].code}"


def _in_ireland(lon: float, lat: float) -> bool:
    """Rough test for the island of Ireland (west of the Irish Sea), which British National Grid does not cover."""
    return lon < -5.5 and 51.3 <= lat <= 55.5
