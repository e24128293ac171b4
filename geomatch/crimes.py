"""Loading and validating crime records: the project's table format and the MoJ crime-mapping request CSV."""
from __future__ import annotations

import csv
import logging
import re
from pathlib import Path
from typing import Literal, Mapping

import numpy as np
import pandas as pd

from geomatch.config import MatchConfig
from geomatch.crs import BNG, WGS84, transform
from geomatch.offences import normalise_offences
from geomatch.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.tables import CSV_SUFFIXES, RawTable, read_table, require_columns, to_number
from geomatch.times import parse_times

log = logging.getLogger(__name__)

CrimesFormat = Literal["auto", "table", "moj"]

MOJ_COLUMNS = ["police_force", "crime_type_code", "crime_type_description", "batch_id", "crime_ref",
               "committed_from", "committed_to", "easting", "northing", "lat", "lon", "datum", "free_text"]
"""The 13 header-less columns of the MoJ crime-mapping request CSV (times ``yyyyMMddHHmmss`` in UTC)."""

CRIME_COLUMNS = ["crime_ref", "offence", "x", "y", "lat", "lon", "committed_from", "committed_to", "area",
                 "location_accuracy_m", "free_text", "long_window", "dst_adjusted", SOURCE_ROW]
_MOJ_TIME = re.compile(r"^\d{14}$")
_BNG_RANGE = ((0.0, 700_000.0), (0.0, 1_300_000.0))


def detect_format(path: Path) -> Literal["table", "moj"]:
    """``moj`` for a header-less 13-column CSV whose 6th field is a ``yyyyMMddHHmmss`` time, else ``table``."""
    if path.suffix.lower() not in CSV_SUFFIXES:
        return "table"
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return "table"  # the reader will name the problem
    return "moj" if len(first) == 13 and _MOJ_TIME.match(first[5].strip()) else "table"


def load_crimes(path: Path | str, *, fmt: CrimesFormat = "auto", column_map: Mapping[str, str] | None = None,
                config: MatchConfig | None = None, target_crs: str = BNG) -> Validated:
    """Read and validate a crimes file.

    Args:
        path: a table (CSV, Parquet, GeoParquet, GeoPackage) with ``crime_ref``, ``offence``, ``committed_from``,
            ``committed_to`` and ``easting``/``northing`` (EPSG:27700) or ``lat``/``lon`` (WGS84); or a MoJ
            crime-mapping request CSV.
        fmt: ``auto`` recognises the MoJ format; ``table`` or ``moj`` name it.
        column_map: ``{name in file: our name}`` (table format).
        config: for the naive-time zone and the long-window limit.
        target_crs: the metric CRS of the trails they will be matched with.

    Returns:
        Validated crimes sorted by ``crime_ref`` (columns ``CRIME_COLUMNS``); times are UTC, and a naive local
        time in a clock-change hour has been widened (``dst_adjusted``).
    """
    path = Path(path)
    config = config or MatchConfig()
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "moj":
        table = read_table(path, header=False, names=MOJ_COLUMNS)
        frame = table.frame.rename(columns={"crime_type_code": "offence"})
        table = RawTable(table.path, frame, table.crs)
        return validate_crimes(table, config=config, naive_tz="UTC", time_format="%Y%m%d%H%M%S",
                               target_crs=target_crs)
    return validate_crimes(read_table(path, column_map=column_map), config=config, naive_tz=config.naive_tz,
                           target_crs=target_crs)


def validate_crimes(table: RawTable, *, config: MatchConfig, naive_tz: str, time_format: str | None = None,
                    target_crs: str = BNG) -> Validated:
    """Validate raw crime rows into accepted and quarantined rows (see :func:`load_crimes`)."""
    table = _geometry_as_columns(table)
    raw = table.frame
    require_columns(table, ["crime_ref", "offence", "committed_from", "committed_to"],
                    any_of=[("easting", "northing"), ("lat", "lon")])
    checks = RowChecks(raw)

    crime_ref = raw["crime_ref"].astype("string").str.strip()
    checks.add("missing_crime_ref", crime_ref.isna() | (crime_ref == ""))
    offence = normalise_offences(raw["offence"])
    checks.add("unknown_offence", offence.isna())

    start = parse_times(raw["committed_from"], side="start", naive_tz=naive_tz, fmt=time_format)
    end = parse_times(raw["committed_to"], side="end", naive_tz=naive_tz, fmt=time_format)
    checks.add("unparseable_committed_from", start.unparseable)
    checks.add("unparseable_committed_to", end.unparseable)
    checks.add("reversed_window", (end.utc < start.utc).to_numpy())

    x, y, lon, lat = _locations(raw, checks, target_crs)
    accuracy = to_number(raw["location_accuracy_m"]) if "location_accuracy_m" in raw \
        else pd.Series(np.nan, index=raw.index)
    window_s = (end.utc - start.utc).dt.total_seconds()

    cleaned = pd.DataFrame({
        "crime_ref": crime_ref,
        "offence": offence,
        "x": x, "y": y, "lat": lat, "lon": lon,
        "committed_from": start.utc,
        "committed_to": end.utc,
        "area": raw["area"].astype("string") if "area" in raw else pd.Series(pd.NA, index=raw.index, dtype="string"),
        "location_accuracy_m": accuracy.to_numpy(float),
        "free_text": raw["free_text"].astype("string") if "free_text" in raw
        else pd.Series(pd.NA, index=raw.index, dtype="string"),
        "long_window": (window_s > config.max_window_s).to_numpy(),
        "dst_adjusted": start.ambiguous | start.nonexistent | end.ambiguous | end.nonexistent,
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    })
    _check_duplicate_refs(cleaned, checks)
    validated = checks.split("crimes", str(table.path), cleaned)
    accepted = validated.accepted.sort_values("crime_ref", kind="stable").reset_index(drop=True)
    log.info("crimes %s: %s", table.path, validated.counts())
    return Validated(validated.name, validated.source, accepted, validated.quarantined, validated.rows_in)


def _geometry_as_columns(table: RawTable) -> RawTable:
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


def _locations(raw: pd.DataFrame, checks: RowChecks, target_crs: str):
    """Metric x/y and WGS84 lon/lat for each row, with the location rules added to ``checks``.

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
    swapped = has_geo & (lat >= -9.0) & (lat <= 2.0) & (lon >= 49.75) & (lon <= 61.0)
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
    return x, y, np.where(has_grid, grid_lon, lon), np.where(has_grid, grid_lat, lat)


def _check_duplicate_refs(cleaned: pd.DataFrame, checks: RowChecks) -> None:
    """A repeated crime reference with identical content is a duplicate (first kept); with different content
    every copy is quarantined, since no rule can tell which record is right."""
    ref = cleaned["crime_ref"]
    repeated = ref.duplicated(keep=False).to_numpy() & ref.notna().to_numpy()
    if not repeated.any():
        return
    content = cleaned.drop(columns=[SOURCE_ROW])
    exact_repeat = content.duplicated(keep="first").to_numpy()
    distinct_versions = content[repeated].drop_duplicates().groupby("crime_ref").size()
    conflicting_refs = distinct_versions[distinct_versions > 1].index
    conflicting = ref.isin(conflicting_refs).to_numpy()
    checks.add("duplicate_row", repeated & exact_repeat & ~conflicting)
    checks.add("duplicate_crime_ref_conflict", conflicting)
