"""Exhibit: the table of points in the vicinity (``points.csv``), one row per fix, with its trail-quality flag.

Columns name their units. Times are given twice: UK local time with the offset, and UTC.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geomatch.evidence.context import PackData
from geomatch.core.safe import write_safe_csv
from geomatch.core.times import UK_TZ

POINT_COLUMNS = ["sequence", "time_uk", "time_utc", "latitude", "longitude", "easting_m", "northing_m",
                 "confidence_radius_m", "speed_kmh", "direction_deg", "distance_to_scene_m", "in_zone", "source",
                 "quality", "quality_reason"]


def points_table(data: PackData) -> pd.DataFrame:
    """The points in the vicinity as a table with :data:`POINT_COLUMNS` (rounded for people: 6 decimals of a
    degree, 0.1 m, 0.1 km/h, whole degrees)."""
    near = data.vicinity
    local = near["timestamp"].dt.tz_convert(UK_TZ)
    offset = local.dt.strftime("%z")
    return pd.DataFrame({
        "sequence": near["seq"].to_numpy(),
        "time_uk": (local.dt.strftime("%Y-%m-%d %H:%M:%S ") + offset.str[:3] + ":" + offset.str[3:]).to_numpy(),
        "time_utc": near["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
        "latitude": near["lat"].round(6).to_numpy(),
        "longitude": near["lon"].round(6).to_numpy(),
        "easting_m": near["x"].round(1).to_numpy(),
        "northing_m": near["y"].round(1).to_numpy(),
        "confidence_radius_m": near["accuracy_m"].round(1).to_numpy(),
        "speed_kmh": (near["speed_mps"] * 3.6).round(1).to_numpy(),
        "direction_deg": near["direction_deg"].round(0).to_numpy(),
        "distance_to_scene_m": near["distance_m"].round(1).to_numpy(),
        "in_zone": near["in_zone"].map({True: "yes", False: "no"}).to_numpy(),
        "source": near["source"].astype(str).to_numpy(),
        # the trail-quality flag (geomatch.quality): fixes loaded without the stage read as ok
        "quality": near["quality"].astype(str).to_numpy() if "quality" in near else "ok",
        "quality_reason": near["quality_reason"].astype(str).to_numpy() if "quality_reason" in near else "",
    }, columns=POINT_COLUMNS)


def write_points(data: PackData, path: Path) -> Path:
    """Write the points in the vicinity as a formula-neutralised CSV."""
    write_safe_csv(points_table(data), path)
    return path
