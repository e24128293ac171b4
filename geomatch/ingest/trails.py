"""Loading and validating GPS trail fixes (one row per fix)."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from geomatch.core.crs import BNG, WGS84, check_crs, choose_metric_crs, looks_swapped_gb, transform
from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, read_table, require_columns, tidy_categorical, to_number
from geomatch.core.times import check_time_zone, latest_credible_ns, parse_times, utc_ns

log = logging.getLogger(__name__)

SOURCES = ("GPS", "LBS", "WIFI")
"""Where a fix came from: satellites, or a fallback (mobile-network cells, Wi-Fi) when there is no GPS."""
TRAIL_COLUMNS = ["subject_id", "timestamp", "x", "y", "lat", "lon", "accuracy_m", "source", SOURCE_ROW]
CSV_TYPES = {**{name: pa.float64() for name in ("lat", "lon", "x", "y", "accuracy_m")},
             "timestamp": pa.timestamp("ns", tz="UTC")}
"""Columns a trails CSV is converted to while Arrow parses it (a file where any value does not convert is read
as text and converted by the validator, which quarantines that value with its text)."""
EARLIEST_FIX = pd.Timestamp("2000-01-01", tz="UTC")
"""Fixes before this, or later than :func:`geomatch.core.times.latest_credible_ns` (now plus a day), are
quarantined ``time_out_of_range`` (a tag whose clock was never set says 1970, the Unix epoch, or 1980, the GPS
epoch)."""
MAX_ACCURACY_M = 100_000.0
"""A stated accuracy (m) beyond this says nothing about where the tag was (a mobile cell is at most ~35 km);
such fixes are quarantined ``accuracy_too_large`` rather than matched as ``possible`` everywhere."""


def load_trails(path: Path | str | Sequence[Path | str], *, column_map: Mapping[str, str] | None = None,
                crs: str | None = None, naive_tz: str | None = None, target_crs: str | None = None,
                gpx_subject: str = "track") -> Validated:
    """Read and validate a trails file, or several as one (a folder, a glob pattern or a list of paths).

    Args:
        path: any format :func:`geomatch.core.tables.read_table` reads (CSV, CSV.GZ, ZIP, XLSX, Parquet,
            GeoParquet, a partitioned Parquet folder, GeoPackage, GeoJSON, GPX) with ``subject_id``,
            ``timestamp`` and ``lat``/``lon`` (WGS84) or ``x``/``y`` in ``crs``.
        column_map: ``{name in file: our name}``.
        crs: the CRS of ``x``/``y`` columns (required for them unless the file carries one).
        naive_tz: time zone of timestamps without an offset; ``None`` quarantines such rows.
        target_crs: metric CRS for ``x``/``y``; chosen from the accepted rows when ``None`` (British National
            Grid in GB, else the UTM zone of their median point).
        gpx_subject: GPX only: ``track`` (a subject per track, named by the track), ``file`` (one per file,
            named by the file) or the subject's name.

    Returns:
        The validated fixes, sorted by ``subject_id`` then ``timestamp`` (columns in ``TRAIL_COLUMNS``); its
        ``crs`` is the metric CRS of their ``x``/``y``.
    """
    if crs is not None:  # refused before reading, even when the file needs no CRS or zone
        check_crs(crs, option="the trails' CRS")
    if naive_tz is not None:
        check_time_zone(naive_tz, option="the trails' time zone")
    table = read_table(path, column_map=column_map, categorical=("subject_id", "source"), gpx_subject=gpx_subject,
                       types=CSV_TYPES)
    return validate_trails(table, crs=crs, naive_tz=naive_tz, target_crs=target_crs)


def validate_trails(table: RawTable, *, crs: str | None = None, naive_tz: str | None = None,
                    target_crs: str | None = None) -> Validated:
    """Validate raw fixes into accepted rows and quarantined rows with reasons (see :func:`load_trails`)."""
    raw = table.frame
    require_columns(table, ["subject_id", "timestamp"], any_of=[("lat", "lon"), ("x", "y")])
    checks = RowChecks(raw)

    # the conversions from text, the sources and the sort order run side by side with the coordinate rules and
    # transforms (Arrow's casts and numpy's loops release the GIL); each rule is still added in its place, so a
    # row's reasons keep their order
    with ThreadPoolExecutor(max_workers=4) as pool:
        parsing = pool.submit(parse_times, raw["timestamp"], side="instant", naive_tz=naive_tz)
        converting = {name: pool.submit(to_number, raw[name]) for name in ("lat", "lon", "x", "y", "accuracy_m")
                      if name in raw}
        sourcing = pool.submit(_sources, raw["source"]) if "source" in raw else None
        subject = tidy_categorical(raw["subject_id"])
        times = parsing.result()
        ordering = pool.submit(_sort_order, subject, times.utc)
        numbers = {name: future.result() for name, future in converting.items()}
        checks.add("missing_subject", subject.isna())

        checks.add("naive_time_without_zone", times.naive & times.unparseable & (naive_tz is None))
        checks.add("unparseable_time", times.unparseable & ~(times.naive & (naive_tz is None)))
        checks.add("ambiguous_local_time", times.ambiguous)
        checks.add("nonexistent_local_time", times.nonexistent)
        t = utc_ns(times.utc)
        checks.add("time_out_of_range", ~times.unparseable & ((t < EARLIEST_FIX.value) | (t > latest_credible_ns()))
                   & (t != np.iinfo(np.int64).min))

        given_x, given_y, source_crs = _coordinates(table, numbers, crs, checks)

        accuracy = numbers["accuracy_m"] if "accuracy_m" in raw else pd.Series(np.nan, index=raw.index)
        checks.add("bad_accuracy", (accuracy < 0) | (raw["accuracy_m"].notna() & accuracy.isna()
                                                     if "accuracy_m" in raw else False))
        checks.add("accuracy_too_large", accuracy > MAX_ACCURACY_M)

        lon, lat = transform(given_x, given_y, source_crs, WGS84)
        if target_crs is None:  # from the rows accepted so far: bad rows must not move a clean subject's CRS
            usable = ~checks.bad & np.isfinite(lon) & np.isfinite(lat)
            target_crs = choose_metric_crs(lon, lat, where=usable) if usable.any() else BNG
        x, y = transform(given_x, given_y, source_crs, target_crs)

        if sourcing is not None:
            source, unknown = sourcing.result()
            checks.add("unknown_source", unknown)
        else:
            source = pd.Categorical.from_codes(np.zeros(len(raw), dtype=np.int8), categories=SOURCES)
        order = ordering.result()

    cleaned = pd.DataFrame({
        "subject_id": subject,
        "timestamp": times.utc,
        "x": x, "y": y, "lat": lat, "lon": lon,
        "accuracy_m": accuracy.to_numpy(dtype=float),
        "source": source,
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    }, copy=False)  # the arrays are ours: no second copy of millions of rows
    _check_duplicates(subject, times.utc, x, y, order, checks)
    validated = checks.split("trails", str(table.path), cleaned, order=order, crs=target_crs, notes=table.notes)
    if len(validated.quarantined):
        validated.accepted["subject_id"] = validated.accepted["subject_id"].cat.remove_unused_categories()
    log.info("trails %s: %s", table.path, validated.counts())
    return validated


def _coordinates(table: RawTable, numbers: Mapping[str, pd.Series], crs: str | None,
                 checks: RowChecks) -> tuple[np.ndarray, np.ndarray, str]:
    """Coordinates as given (lon and lat, or x and y, from ``numbers``: the columns as numbers) with their CRS;
    adds the coordinate rules to ``checks``."""
    raw = table.frame
    if "lat" not in raw and {"x", "y"} <= set(raw.columns) and crs is None and table.crs == WGS84:
        numbers = {"lon": numbers["x"], "lat": numbers["y"]}  # point geometry in degrees (GeoJSON)
    if "lat" in numbers and "lon" in numbers:
        lat = numbers["lat"].to_numpy()
        lon = numbers["lon"].to_numpy()
        missing = np.isnan(lat) | np.isnan(lon)
        checks.add("missing_coordinates", missing)
        checks.add("zero_zero", (lat == 0) & (lon == 0))
        swapped = looks_swapped_gb(lon, lat)
        checks.add("lat_lon_swapped", swapped)
        off_globe = (lat > 90) | (lat < -90) | (lon > 180) | (lon < -180)  # no float temporaries
        checks.add("out_of_range_coordinates", ~missing & off_globe & ~swapped)
        return lon, lat, WGS84
    source_crs = crs or table.crs
    if source_crs is None:
        raise InputError("x/y coordinates need their CRS and the file declares none (give --trails-crs, e.g. "
                         "EPSG:27700; crs= in the library)", file=str(table.path), column="x")
    x = numbers["x"].to_numpy()
    y = numbers["y"].to_numpy()
    missing = np.isnan(x) | np.isnan(y)
    checks.add("missing_coordinates", missing)
    checks.add("zero_zero", (x == 0) & (y == 0))
    lon, lat = transform(x, y, source_crs, WGS84)
    checks.add("out_of_range_coordinates", ~missing & ~(np.isfinite(lon) & np.isfinite(lat)))
    return x, y, source_crs


def _sources(values: pd.Series) -> tuple[pd.Categorical, np.ndarray]:
    """Where each fix came from, as a categorical of :data:`SOURCES` (missing means ``GPS``), and the rows that
    break the ``unknown_source`` rule. Works on the categories, then maps the codes once."""
    source = tidy_categorical(values, upper=True)
    codes = source.cat.codes.to_numpy()
    position = np.append(pd.Index(SOURCES).get_indexer(source.cat.categories), -1).astype(np.int8)
    unknown = (codes >= 0) & (position[codes] < 0)
    return pd.Categorical.from_codes(np.maximum(position, 0)[codes], categories=SOURCES, validate=False), unknown


def _sort_order(subject: pd.Series, times: pd.Series) -> np.ndarray | None:
    """The stable permutation sorting fixes by subject (categories are sorted) then time, or ``None`` when they
    are sorted already (as most exports are)."""
    codes = subject.cat.codes.to_numpy()
    t = utc_ns(times)
    if len(t) < 2:
        return None
    same = codes[1:] == codes[:-1]
    if ((codes[1:] > codes[:-1]) | (same & (t[1:] >= t[:-1]))).all():  # no int64 temporaries
        return None
    return np.lexsort((t, codes))


def _check_duplicates(subject: pd.Series, times: pd.Series, x: np.ndarray, y: np.ndarray,
                      order: np.ndarray | None, checks: RowChecks) -> None:
    """Exact repeats of a fix are quarantined (the first is kept); fixes of one subject at the same instant in
    different places are all quarantined, since no rule can tell which is true.

    In subject-then-time order, fixes sharing a subject and instant are neighbours, so one pass finds them.
    """
    codes, t = subject.cat.codes.to_numpy(), utc_ns(times)
    if order is not None:
        codes, t, x, y = codes[order], t[order], x[order], y[order]
    valid = (codes >= 0) & (t != np.iinfo(np.int64).min)
    same_as_previous = np.zeros(len(t), dtype=bool)
    same_as_previous[1:] = (codes[1:] == codes[:-1]) & (t[1:] == t[:-1]) & valid[1:] & valid[:-1]
    if not same_as_previous.any():
        return
    run_start = np.flatnonzero(~same_as_previous)
    run = np.cumsum(~same_as_previous) - 1
    first = run_start[run]
    moved = (x != x[first]) | (y != y[first])
    conflict_run = np.maximum.reduceat(moved, run_start)
    in_shared_run = same_as_previous | np.append(same_as_previous[1:], False)
    conflicting = in_shared_run & conflict_run[run]
    repeat = same_as_previous & ~conflicting
    if order is not None:  # back to file order
        conflicting[order], repeat[order] = conflicting.copy(), repeat.copy()
    checks.add("duplicate_fix", repeat)
    checks.add("conflicting_fixes_same_time", conflicting)
