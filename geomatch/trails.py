"""Loading and validating GPS trail fixes (one row per fix)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from geomatch.crs import BNG, WGS84, choose_metric_crs, transform
from geomatch.errors import InputError
from geomatch.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.tables import RawTable, read_table, require_columns, tidy_categorical, to_number
from geomatch.times import parse_times, utc_ns

log = logging.getLogger(__name__)

SOURCES = ("GPS", "LBS", "WIFI")
TRAIL_COLUMNS = ["subject_id", "timestamp", "x", "y", "lat", "lon", "accuracy_m", "source", SOURCE_ROW]
# Lat/lon pairs that look swapped: the "latitude" lies in Great Britain's longitude range and vice versa.
_GB_LON = (-9.0, 2.0)
_GB_LAT = (49.75, 61.0)


def load_trails(path: Path | str, *, column_map: Mapping[str, str] | None = None, crs: str | None = None,
                naive_tz: str | None = None, target_crs: str | None = None) -> tuple[Validated, str]:
    """Read and validate a trails file.

    Args:
        path: CSV, Parquet, GeoParquet or GeoPackage with ``subject_id``, ``timestamp`` and ``lat``/``lon``
            (WGS84) or ``x``/``y`` in ``crs``.
        column_map: ``{name in file: our name}``.
        crs: the CRS of ``x``/``y`` columns (required for them unless the file carries one).
        naive_tz: time zone of timestamps without an offset; ``None`` quarantines such rows.
        target_crs: metric CRS for ``x``/``y``; chosen from the data when ``None`` (British National Grid in GB).

    Returns:
        The validated fixes, sorted by ``subject_id`` then ``timestamp`` (columns in ``TRAIL_COLUMNS``), and the
        metric CRS of their ``x``/``y``.
    """
    table = read_table(path, column_map=column_map, categorical=("subject_id", "source"))
    return validate_trails(table, crs=crs, naive_tz=naive_tz, target_crs=target_crs)


def validate_trails(table: RawTable, *, crs: str | None = None, naive_tz: str | None = None,
                    target_crs: str | None = None) -> tuple[Validated, str]:
    """Validate raw fixes into accepted rows and quarantined rows with reasons (see :func:`load_trails`)."""
    raw = table.frame
    require_columns(table, ["subject_id", "timestamp"], any_of=[("lat", "lon"), ("x", "y")])
    checks = RowChecks(raw)

    subject = tidy_categorical(raw["subject_id"])
    checks.add("missing_subject", subject.isna())

    times = parse_times(raw["timestamp"], side="instant", naive_tz=naive_tz)
    checks.add("naive_time_without_zone", times.naive & times.unparseable & (naive_tz is None))
    checks.add("unparseable_time", times.unparseable & ~(times.naive & (naive_tz is None)))
    checks.add("ambiguous_local_time", times.ambiguous)
    checks.add("nonexistent_local_time", times.nonexistent)

    given_x, given_y, source_crs = _coordinates(table, crs, checks)
    lon, lat = transform(given_x, given_y, source_crs, WGS84)
    if target_crs is None:
        target_crs = choose_metric_crs(lon, lat) if np.isfinite(lon).any() else BNG
    x, y = transform(given_x, given_y, source_crs, target_crs)

    accuracy = to_number(raw["accuracy_m"]) if "accuracy_m" in raw else pd.Series(np.nan, index=raw.index)
    checks.add("bad_accuracy", (accuracy < 0) | (raw["accuracy_m"].notna() & accuracy.isna()
                                                 if "accuracy_m" in raw else False))

    if "source" in raw:
        source = tidy_categorical(raw["source"], upper=True)
        known = source.isin(SOURCES)
        checks.add("unknown_source", source.notna() & ~known)
        source = source.cat.set_categories(SOURCES).fillna("GPS").array
    else:
        source = pd.Categorical.from_codes(np.zeros(len(raw), dtype=np.int8), categories=SOURCES)

    cleaned = pd.DataFrame({
        "subject_id": subject,
        "timestamp": times.utc,
        "x": x, "y": y, "lat": lat, "lon": lon,
        "accuracy_m": accuracy.to_numpy(dtype=float),
        "source": source,
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    })
    _check_duplicates(cleaned, checks)
    validated = checks.split("trails", str(table.path), cleaned)
    accepted = validated.accepted
    accepted["subject_id"] = accepted["subject_id"].cat.remove_unused_categories()
    order = _sort_order(accepted)
    if order is not None:
        accepted = accepted.take(order).reset_index(drop=True)
    log.info("trails %s: %s", table.path, validated.counts())
    return Validated(validated.name, validated.source, accepted, validated.quarantined, validated.rows_in), target_crs


def _coordinates(table: RawTable, crs: str | None, checks: RowChecks) -> tuple[np.ndarray, np.ndarray, str]:
    """Coordinates as given (lon and lat, or x and y) with their CRS; adds the coordinate rules to ``checks``."""
    raw = table.frame
    if "lat" in raw and "lon" in raw:
        lat = to_number(raw["lat"]).to_numpy()
        lon = to_number(raw["lon"]).to_numpy()
        missing = np.isnan(lat) | np.isnan(lon)
        checks.add("missing_coordinates", missing)
        checks.add("zero_zero", (lat == 0) & (lon == 0))
        swapped = ((lat >= _GB_LON[0]) & (lat <= _GB_LON[1]) & (lon >= _GB_LAT[0]) & (lon <= _GB_LAT[1]))
        checks.add("lat_lon_swapped", swapped)
        checks.add("out_of_range_coordinates", ~missing & ((np.abs(lat) > 90) | (np.abs(lon) > 180)) & ~swapped)
        return lon, lat, WGS84
    source_crs = crs or table.crs
    if source_crs is None:
        raise InputError("x/y coordinates need their CRS (give --crs, e.g. EPSG:27700)", file=str(table.path),
                         column="x")
    x = to_number(raw["x"]).to_numpy()
    y = to_number(raw["y"]).to_numpy()
    missing = np.isnan(x) | np.isnan(y)
    checks.add("missing_coordinates", missing)
    checks.add("zero_zero", (x == 0) & (y == 0))
    return x, y, source_crs


def _check_duplicates(cleaned: pd.DataFrame, checks: RowChecks) -> None:
    """Exact repeats of a fix are quarantined (the first is kept); fixes of one subject at the same instant in
    different places are all quarantined, since no rule can tell which is true."""
    key = cleaned[["subject_id", "timestamp"]]
    same_time = key.duplicated(keep=False).to_numpy() & cleaned["timestamp"].notna().to_numpy()
    if not same_time.any():
        return
    full = cleaned[["subject_id", "timestamp", "x", "y"]]
    repeat = full.duplicated(keep="first").to_numpy() & same_time
    conflicting = same_time & ~full.duplicated(keep=False).to_numpy()
    # a time shared by an exact pair and a different third fix is a conflict for all of them
    conflict_keys = key[conflicting].drop_duplicates()
    in_conflict = key.merge(conflict_keys.assign(_c=True), how="left", on=["subject_id", "timestamp"])["_c"]
    conflicting = in_conflict.fillna(False).to_numpy(dtype=bool) & same_time
    checks.add("duplicate_fix", repeat & ~conflicting)
    checks.add("conflicting_fixes_same_time", conflicting)


def _sort_order(fixes: pd.DataFrame) -> np.ndarray | None:
    """The permutation sorting fixes by subject then time, or ``None`` when they are already sorted."""
    codes = fixes["subject_id"].cat.codes.to_numpy()
    order_of_codes = np.argsort(np.asarray(fixes["subject_id"].cat.categories, dtype=str), kind="stable")
    rank = np.empty_like(order_of_codes)
    rank[order_of_codes] = np.arange(len(order_of_codes))
    subject_rank = rank[codes]
    t = utc_ns(fixes["timestamp"])
    if len(t) < 2 or ((np.diff(subject_rank) > 0) | ((np.diff(subject_rank) == 0) & (np.diff(t) >= 0))).all():
        return None
    return np.lexsort((t, subject_rank))
