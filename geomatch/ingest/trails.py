"""Loading and validating GPS trail fixes (one row per fix)."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from geomatch.core.arrays import category_codes, read_only
from geomatch.core.crs import (BNG, GB_BOUNDS_LONLAT, WGS84, check_crs, choose_metric_crs, surely_british,
                               transform)
from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, read_table, require_columns, tidy_categorical, to_number
from geomatch.core.times import check_time_zone, latest_credible_ns, parse_times, utc_ns
from geomatch.ingest import _fix_rules as rules

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

        if times.unparseable.any():  # else neither rule has a row (no mask each)
            checks.add("naive_time_without_zone", times.naive & times.unparseable & (naive_tz is None))
            checks.add("unparseable_time", times.unparseable & ~(times.naive & (naive_tz is None)))
        checks.add("ambiguous_local_time", times.ambiguous)
        checks.add("nonexistent_local_time", times.nonexistent)
        t = utc_ns(times.utc)
        accuracy = numbers["accuracy_m"] if "accuracy_m" in raw else None
        flags, flagged, box = _flag_fixes(pool, t, _degrees(table, numbers, crs), accuracy,
                                          raw["accuracy_m"] if "accuracy_m" in raw else None)
        checks.add_flags([("time_out_of_range", rules.TIME_OUT_OF_RANGE)], flags, flagged)

        given_x, given_y, source_crs = _coordinates(table, numbers, crs, checks, flags, flagged)

        checks.add_flags([("bad_accuracy", rules.BAD_ACCURACY), ("accuracy_too_large", rules.ACCURACY_TOO_LARGE)],
                         flags, flagged)
        if accuracy is None:
            accuracy = pd.Series(np.nan, index=raw.index)

        lon, lat = transform(given_x, given_y, source_crs, WGS84)
        if target_crs is None:  # from the rows accepted so far: bad rows must not move a clean subject's CRS
            if source_crs == WGS84 and surely_british(box):  # every finite point in GB: no mask or median
                target_crs = BNG
            else:
                usable = ~checks.bad & np.isfinite(lon) & np.isfinite(lat)
                target_crs = choose_metric_crs(lon, lat, where=usable) if usable.any() else BNG
        x, y = transform(given_x, given_y, source_crs, target_crs)

        if sourcing is not None:
            source, unknown = sourcing.result()
            checks.add("unknown_source", unknown)
        else:
            source = pd.Categorical.from_codes(np.zeros(len(raw), dtype=np.int8), categories=SOURCES)
        order, may_repeat = ordering.result()

    cleaned = pd.DataFrame({
        "subject_id": subject,
        "timestamp": times.utc,
        "x": x, "y": y, "lat": lat, "lon": lon,
        "accuracy_m": accuracy.to_numpy(dtype=float),
        "source": source,
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    }, copy=False)  # the arrays are ours: no second copy of millions of rows
    if may_repeat:  # else sorted, and no two fixes of a subject share an instant
        _check_duplicates(subject, times.utc, x, y, order, checks)
    validated = checks.split("trails", str(table.path), cleaned, order=order, crs=target_crs, notes=table.notes)
    if len(validated.quarantined):
        validated.accepted["subject_id"] = validated.accepted["subject_id"].cat.remove_unused_categories()
    log.info("trails %s: %s", table.path, validated.counts())
    return validated


def _degrees(table: RawTable, numbers: Mapping[str, pd.Series], crs: str | None) -> Mapping[str, pd.Series]:
    """``numbers`` (the columns as numbers), with ``lon`` and ``lat`` when the fixes give WGS84 degrees (as
    ``lat``/``lon``, or as ``x``/``y`` of point geometry in degrees: GeoJSON)."""
    raw = table.frame
    if "lat" not in raw and {"x", "y"} <= set(raw.columns) and crs is None and table.crs == WGS84:
        return {**numbers, "lon": numbers["x"], "lat": numbers["y"]}
    return numbers


def _flag_fixes(pool: ThreadPoolExecutor, t: np.ndarray, degrees: Mapping[str, pd.Series],
                accuracy: pd.Series | None, accuracy_as_read: pd.Series | None
                ) -> tuple[np.ndarray, int, tuple[float, float, float, float]]:
    """Each fix's broken time, coordinate (WGS84 degrees only) and accuracy rules as bits
    (:func:`geomatch.ingest._fix_rules.flag_fixes`, one pass, the two halves of the rows on two threads), how
    many fixes broke any, and the box of the finite points (west, south, east, north; inf when there are no
    degrees)."""
    empty = np.zeros(0)
    lat, lon = ((degrees["lat"].to_numpy(), degrees["lon"].to_numpy()) if "lat" in degrees and "lon" in degrees
                else (empty, empty))
    if accuracy is None:
        values, as_given = empty, empty
    else:
        values = accuracy.to_numpy()
        as_given = accuracy_as_read.to_numpy() if accuracy_as_read.dtype == np.float64 else \
            np.where(accuracy_as_read.notna().to_numpy(), 0.0, np.nan)  # text: only whether it was given counts
    n = len(t)
    flags = np.empty(n, dtype=np.uint8)
    boxes = np.empty((2, 4))
    gb_box = np.asarray(GB_BOUNDS_LONLAT, dtype=float)
    halves = [(0, n // 2), (n // 2, n)]
    t, lat, lon, values, as_given = map(read_only, (t, lat, lon, values, as_given))  # one type for the kernel
    parts = [pool.submit(rules.flag_fixes, t, EARLIEST_FIX.value, latest_credible_ns(), lat, lon, values,
                         as_given, MAX_ACCURACY_M, gb_box, flags, boxes[i], start, stop)
             for i, (start, stop) in enumerate(halves)]
    flagged = sum(part.result() for part in parts)
    box = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))
    return flags, flagged, box


def _coordinates(table: RawTable, numbers: Mapping[str, pd.Series], crs: str | None, checks: RowChecks,
                 flags: np.ndarray, flagged: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Coordinates as given (lon and lat, or x and y, from ``numbers``: the columns as numbers) with their CRS;
    adds the coordinate rules to ``checks`` (for degrees, from the fixes' rule ``flags``)."""
    raw = table.frame
    numbers = _degrees(table, numbers, crs)
    if "lat" in numbers and "lon" in numbers:
        checks.add_flags([("missing_coordinates", rules.MISSING_COORDINATES), ("zero_zero", rules.ZERO_ZERO),
                          ("lat_lon_swapped", rules.LAT_LON_SWAPPED),
                          ("out_of_range_coordinates", rules.OUT_OF_RANGE_COORDINATES)], flags, flagged)
        return numbers["lon"].to_numpy(), numbers["lat"].to_numpy(), WGS84
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


def _sort_order(subject: pd.Series, times: pd.Series) -> tuple[np.ndarray | None, bool]:
    """The stable permutation sorting fixes by subject (categories are sorted) then time, or ``None`` when they
    are sorted already (as most exports are); and whether the duplicate rules may have work (``False`` when the
    fixes are sorted and no neighbours share a subject and instant: one compiled pass says both)."""
    codes = category_codes(subject)
    t = utc_ns(times)
    state = rules.order_state(codes, t)
    if state != rules.UNSORTED:
        return None, state == rules.SORTED_WITH_SHARED_INSTANTS
    return np.lexsort((t, codes)), True


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
