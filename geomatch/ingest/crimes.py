"""Loading and validating crime records: the project's table format and the MoJ crime-mapping request CSV
(read by :mod:`geomatch.ingest.moj`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from geomatch.core.crs import BNG
from geomatch.core.locations import geometry_as_columns, point_locations
from geomatch.core.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, combine_tables, input_files, read_table, require_columns, to_number
from geomatch.core.times import UK_TZ, parse_times
from geomatch.ingest import moj
from geomatch.ingest.offences import normalise_offences

log = logging.getLogger(__name__)

CrimesFormat = Literal["auto", "table", "moj"]

CRIME_COLUMNS = ["crime_ref", "offence", "x", "y", "lat", "lon", "committed_from", "committed_to", "area",
                 "location_accuracy_m", "free_text", "long_window", "dst_adjusted", SOURCE_ROW]
DEFAULT_MAX_WINDOW_S = 12 * 3600.0
"""Crime windows longer than this (s) are matched but flagged ``long_window`` (12 h)."""


def load_crimes(path: Path | str | Sequence[Path | str], *, fmt: CrimesFormat = "auto", column_map: Mapping[str, str] | None = None,
                target_crs: str = BNG, naive_tz: str = UK_TZ,
                max_window_s: float = DEFAULT_MAX_WINDOW_S) -> Validated:
    """Read and validate a crimes file.

    Args:
        path: a table (any format :func:`geomatch.core.tables.read_table` reads; several files as one) with ``crime_ref``, ``offence``, ``committed_from``,
            ``committed_to`` and ``easting``/``northing`` (EPSG:27700) or ``lat``/``lon`` (WGS84); or a MoJ
            crime-mapping request CSV (one file).
        fmt: ``auto`` recognises the MoJ format; ``table`` or ``moj`` name it.
        column_map: ``{name in file: our name}`` (table format).
        target_crs: the metric CRS of the trails they will be matched with (``trails.crs``).
        naive_tz: time zone of times without an offset in the table format (the MoJ format is UTC).
        max_window_s: windows longer than this (s) are flagged ``long_window`` (still matched).

    Returns:
        Validated crimes sorted by ``crime_ref`` (columns ``CRIME_COLUMNS``), with ``crs`` = ``target_crs``;
        times are UTC, and a naive local time in a clock-change hour has been widened (``dst_adjusted``).
    """
    files = input_files(path)
    if fmt == "moj" or (fmt == "auto" and moj.is_moj_file(files[0])):
        table = moj.read_moj(files[0]) if len(files) == 1 else combine_tables(
            [moj.read_moj(f) for f in files], [str(f) for f in files], source=str(path))
        return validate_crimes(table, naive_tz="UTC", time_format=moj.TIME_FORMAT,
                               target_crs=target_crs, max_window_s=max_window_s)
    return validate_crimes(read_table(path, column_map=column_map), naive_tz=naive_tz, target_crs=target_crs,
                           max_window_s=max_window_s)


def validate_crimes(table: RawTable, *, naive_tz: str, time_format: str | None = None, target_crs: str = BNG,
                    max_window_s: float = DEFAULT_MAX_WINDOW_S) -> Validated:
    """Validate raw crime rows into accepted and quarantined rows (see :func:`load_crimes`)."""
    table = geometry_as_columns(table)
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

    x, y, lon, lat = point_locations(raw, checks, target_crs)
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
        "long_window": (window_s > max_window_s).to_numpy(),
        "dst_adjusted": start.ambiguous | start.nonexistent | end.ambiguous | end.nonexistent,
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    })
    checks.add_duplicate_keys(cleaned, "crime_ref")
    validated = checks.split("crimes", str(table.path), cleaned)
    accepted = validated.accepted.sort_values("crime_ref", kind="stable").reset_index(drop=True)
    log.info("crimes %s: %s", table.path, validated.counts())
    return Validated(validated.name, validated.source, accepted, validated.quarantined, validated.rows_in,
                     crs=target_crs, per_file=validated.per_file, notes=table.notes)


FAR_FROM_TRAILS_M = 50_000.0
"""Crimes farther than this (m) outside the box around every accepted fix are named in a warning."""


def far_from_trails(crimes: pd.DataFrame, trails: pd.DataFrame, *,
                    distance_m: float = FAR_FROM_TRAILS_M) -> str | None:
    """A warning naming the crimes that lie more than ``distance_m`` outside the trails' extent (no fix can
    match them; often an easting and northing written the wrong way round), else ``None``.

    Both frames hold ``x``/``y`` in the same metric CRS; crimes are ``crime_ref``-keyed.
    """
    if crimes.empty or trails.empty:
        return None
    tx, ty = trails["x"].to_numpy(float), trails["y"].to_numpy(float)
    west, east, south, north = np.nanmin(tx), np.nanmax(tx), np.nanmin(ty), np.nanmax(ty)

    def outside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dx = np.maximum(np.maximum(west - x, x - east), 0.0)
        dy = np.maximum(np.maximum(south - y, y - north), 0.0)
        return np.hypot(dx, dy)

    x, y = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    away = outside(x, y)
    far = away > distance_m
    if not far.any():
        return None
    swapped = far & (outside(y, x) <= distance_m)  # easting and northing the other way round fall among the fixes
    order = np.argsort(-away[far], kind="stable")
    refs = crimes["crime_ref"].astype(str).to_numpy()[far][order]
    shown = ", ".join(f"{ref} ({away[far][order][i] / 1000:,.0f} km)" for i, ref in enumerate(refs[:3]))
    more = f" and {len(refs) - 3:,} more" if len(refs) > 3 else ""
    hint = (f"; {int(swapped.sum()):,} of them would lie among the fixes with easting and northing swapped"
            if swapped.any() else "")
    return (f"{int(far.sum()):,} crime(s) lie more than {distance_m / 1000:g} km outside the trails' extent, so no "
            f"fix can match them: {shown}{more}{hint}")
