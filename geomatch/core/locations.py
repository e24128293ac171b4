"""Point locations of records (crimes, places): grid or WGS84 columns, their rules, and metric coordinates.

Shared by ``geomatch`` crimes and ``vvol`` crimes, so both quarantine a bad location with the same reason codes:
``both_location_kinds``, ``missing_location``, ``zero_zero``, ``lat_lon_swapped``, ``out_of_range_coordinates``,
``outside_crs_area`` (a place the target CRS cannot measure: New York in British National Grid).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geomatch.core.crs import BNG, WGS84, looks_swapped_gb, outside_crs_area, transform
from geomatch.core.quarantine import RowChecks
from geomatch.core.tables import RawTable, to_number

_BNG_RANGE = ((0.0, 700_000.0), (0.0, 1_300_000.0))


def geometry_as_columns(table: RawTable) -> RawTable:
    """Point geometry read from a GeoPackage or GeoParquet becomes ``lat``/``lon`` (WGS84) or
    ``easting``/``northing`` (British National Grid, transformed from any other CRS)."""
    raw = table.frame
    if table.crs is None or not {"x", "y"} <= set(raw.columns):
        return table
    if table.crs == WGS84:
        raw = raw.rename(columns={"x": "lon", "y": "lat"})
    else:
        easting, northing = transform(raw["x"].to_numpy(float), raw["y"].to_numpy(float), table.crs, BNG)
        raw = raw.drop(columns=["x", "y"]).assign(easting=easting, northing=northing)
    return RawTable(table.path, raw, table.crs)


def point_locations(raw: pd.DataFrame, checks: RowChecks,
                    target_crs: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Metric x/y (``target_crs``) and WGS84 lon/lat of each row, with the location rules added to ``checks``.

    A row must give exactly one kind of location: easting/northing (British National Grid) or lat/lon.
    """
    nan = np.full(len(raw), np.nan)
    easting = to_number(raw["easting"]).to_numpy() if "easting" in raw else nan
    northing = to_number(raw["northing"]).to_numpy() if "northing" in raw else nan
    lat = to_number(raw["lat"]).to_numpy() if "lat" in raw else nan
    lon = to_number(raw["lon"]).to_numpy() if "lon" in raw else nan
    has_grid = ~np.isnan(easting) & ~np.isnan(northing)
    has_geo = ~np.isnan(lat) & ~np.isnan(lon)
    checks.add("both_location_kinds", has_grid & has_geo)
    checks.add("missing_location", ~has_grid & ~has_geo)
    zero = (has_grid & (easting == 0) & (northing == 0)) | (has_geo & (lat == 0) & (lon == 0))
    checks.add("zero_zero", zero)
    swapped = has_geo & looks_swapped_gb(lon, lat)
    checks.add("lat_lon_swapped", swapped)
    (e_lo, e_hi), (n_lo, n_hi) = _BNG_RANGE
    off_grid = has_grid & ((easting < e_lo) | (easting > e_hi) | (northing < n_lo) | (northing > n_hi))
    off_globe = has_geo & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    checks.add("out_of_range_coordinates", (off_grid | off_globe) & ~zero & ~swapped)

    grid_x, grid_y = transform(easting, northing, BNG, target_crs)
    geo_x, geo_y = transform(lon, lat, WGS84, target_crs)
    grid_lon, grid_lat = transform(easting, northing, BNG, WGS84)
    x = np.where(has_grid, grid_x, geo_x)
    y = np.where(has_grid, grid_y, geo_y)
    lon, lat = np.where(has_grid, grid_lon, lon), np.where(has_grid, grid_lat, lat)
    checks.add("outside_crs_area", outside_crs_area(lon, lat, target_crs) & ~zero & ~swapped & ~off_grid & ~off_globe)
    return x, y, lon, lat
