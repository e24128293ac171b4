"""Exhibit: the table of points in the vicinity (``points.csv``), one row per fix, with its trail-quality flag.

Columns name their units. Times are given twice: UK local time with the offset, and UTC.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.evidence.context import PackData
from geomatch.core.safe import write_safe_csv
from geomatch.core.times import utc_ns
from geomatch.evidence.text import uk_times, utc_times

POINT_COLUMNS = ["sequence", "time_uk", "time_utc", "latitude", "longitude", "easting_m", "northing_m",
                 "confidence_radius_m", "speed_kmh", "direction_deg", "distance_to_scene_m", "in_zone", "source",
                 "quality", "quality_reason"]


def points_table(data: PackData) -> pd.DataFrame:
    """The points in the vicinity as a table with :data:`POINT_COLUMNS` (rounded for people: 6 decimals of a
    degree, 0.1 m, 0.1 km/h, whole degrees)."""
    near = data.vicinity
    speed = good_speed_mps(data.fixes, data.interp_max_gap_s)[data.fixes["vicinity"].to_numpy()]
    return pd.DataFrame({
        "sequence": near["seq"].to_numpy(),
        "time_uk": uk_times(near["timestamp"]),
        "time_utc": utc_times(near["timestamp"]),
        "latitude": near["lat"].round(6).to_numpy(),
        "longitude": near["lon"].round(6).to_numpy(),
        "easting_m": near["x"].round(1).to_numpy(),
        "northing_m": near["y"].round(1).to_numpy(),
        "confidence_radius_m": near["accuracy_m"].round(1).to_numpy(),
        "speed_kmh": np.round(speed * 3.6, 1),
        "direction_deg": near["direction_deg"].round(0).to_numpy(),
        "distance_to_scene_m": near["distance_m"].round(1).to_numpy(),
        "in_zone": near["in_zone"].map({True: "yes", False: "no"}).to_numpy(),
        "source": near["source"].astype(str).to_numpy(),
        # the trail-quality flag (geomatch.quality): fixes loaded without the stage read as ok
        "quality": near["quality"].astype(str).to_numpy() if "quality" in near else "ok",
        "quality_reason": near["quality_reason"].astype(str).to_numpy() if "quality_reason" in near else "",
    }, columns=POINT_COLUMNS)


def good_speed_mps(fixes: pd.DataFrame, interp_max_gap_s: float) -> np.ndarray:
    """The speed (m/s) at each quality-ok fix: the mean over the steps to the ok fix before it and the ok fix
    after it (fallback and outlier fixes between skipped) that take more than 0 and at most ``interp_max_gap_s``
    seconds; NaN at fallback and outlier fixes, which are no point of the path (all fixes are ok when the trail
    carries no ``quality`` column)."""
    good = np.flatnonzero(fixes["quality"].astype(str).to_numpy() == "ok") if "quality" in fixes \
        else np.arange(len(fixes))
    t = utc_ns(fixes["timestamp"])[good] / 1e9
    x, y = fixes["x"].to_numpy(float)[good], fixes["y"].to_numpy(float)[good]
    dt = np.diff(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where((dt > 0) & (dt <= interp_max_gap_s), np.hypot(np.diff(x), np.diff(y)) / dt, np.nan)
    sides = np.stack([np.r_[np.nan, step], np.r_[step, np.nan]])
    known = np.isfinite(sides).sum(axis=0)
    speed = np.full(len(fixes), np.nan)
    speed[good] = np.where(known > 0, np.nansum(sides, axis=0) / np.maximum(known, 1), np.nan)
    return speed


def write_points(data: PackData, path: Path, table: pd.DataFrame | None = None) -> Path:
    """Write the points in the vicinity as a formula-neutralised CSV: ``table`` when the pack has made it
    already (:func:`points_table` of ``data``), else made here."""
    write_safe_csv(points_table(data) if table is None else table, path)
    return path
