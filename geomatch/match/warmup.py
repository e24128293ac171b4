"""Compile the matcher's kernels once (numba caches them next to the module), so the first real run does not
pause: ``python -m geomatch.match.warmup`` (``make`` runs it after installing)."""
from __future__ import annotations

import time

import pandas as pd

from geomatch.core.quarantine import SOURCE_ROW
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits


def warm_up() -> float:
    """Match a three-fix trail against one crime, which compiles every kernel; returns the seconds taken."""
    started = time.perf_counter()
    times = pd.to_datetime(["2026-10-22 10:00", "2026-10-22 10:01", "2026-10-22 10:40"], utc=True)
    trails = pd.DataFrame({
        "subject_id": pd.Categorical(["S1"] * 3), "timestamp": times,
        "x": [0.0, 30.0, 2000.0], "y": [0.0, 0.0, 0.0], "lat": 52.0, "lon": 1.0, "accuracy_m": [5.0, 5.0, 900.0],
        "source": pd.Categorical(["GPS", "GPS", "LBS"], categories=["GPS", "LBS", "WIFI"]), SOURCE_ROW: [1, 2, 3]})
    crimes = pd.DataFrame({
        "crime_ref": ["C1"], "offence": ["burglary_residential"], "x": [10.0], "y": [0.0], "lat": [52.0],
        "lon": [1.0], "committed_from": times[:1], "committed_to": times[2:], "area": pd.array([pd.NA], "string"),
        "location_accuracy_m": [float("nan")], "free_text": pd.array([pd.NA], "string"), "long_window": [False],
        "dst_adjusted": [False], SOURCE_ROW: [1]})
    match_hits(trails, crimes, MatchConfig(), threads=1)
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"    kernels ready ({warm_up():.1f} s)")
