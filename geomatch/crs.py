"""Coordinate reference systems: WGS84 to British National Grid (OSTN15 when PROJ has the grid)."""
from __future__ import annotations

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


@dataclass(frozen=True)
class TransformInfo:
    """Which transformation converted coordinates, for the manifest."""

    source: str
    target: str
    description: str
    accuracy_m: float | None
    ostn15: bool


@lru_cache(maxsize=None)
def _transformer(source: str, target: str) -> Transformer:
    for directory in _SYSTEM_PROJ_DIRS:  # Debian's proj-data ships the OSTN15 grid here
        if (directory / OSTN15_GRID).is_file() and str(directory) not in pyproj.datadir.get_user_data_dir():
            pyproj.datadir.append_data_dir(str(directory))
            break
    with warnings.catch_warnings():  # a missing best grid is recorded in the manifest, not warned about
        warnings.simplefilter("ignore", UserWarning)
        group = pyproj.transformer.TransformerGroup(source, target, always_xy=True)
    return group.transformers[0]  # the most accurate operation whose grids are available here


def transform_info(source: str = WGS84, target: str = BNG) -> TransformInfo:
    """Describe the transformation that :func:`transform` uses between two CRSs."""
    transformer = _transformer(source, target)
    accuracy = transformer.accuracy if transformer.accuracy is not None and transformer.accuracy >= 0 else None
    return TransformInfo(source, target, transformer.description, accuracy, "OSTN15" in transformer.definition)


def transform(x: np.ndarray, y: np.ndarray, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = easting or longitude, y = northing or latitude)."""
    if source == target:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out_x, out_y = _transformer(source, target).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(out_x, dtype=float), np.asarray(out_y, dtype=float)


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
