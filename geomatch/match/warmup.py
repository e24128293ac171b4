"""Load (or compile, the first time) the compiled kernels of validation, quality and matching, on a few fixes;
:mod:`geomatch.scoring.warmup` goes on to scoring (``make`` runs it after installing, and every run on a thread of
its own while Arrow reads the trails)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geomatch.core.quarantine import SOURCE_ROW
from geomatch.core.tables import RawTable
from geomatch.ingest.trails import validate_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.quality import assess_trails


def warm_up_match() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, MatchConfig]:
    """Validate a four-fix trail in Great Britain (the last at night), flag its quality and match it against one
    crime, which loads every kernel of those stages (and numba's own start-up, about 0.45 s); returns the hits
    (one, observed), the fixes, the crime and the configuration, for the stages after matching to warm up on."""
    times = pd.to_datetime(["2026-10-22 10:00", "2026-10-22 10:01", "2026-10-22 10:40", "2026-10-23 01:00"],
                           utc=True)  # the last at night, for scoring's home kernel
    raw = pd.DataFrame({
        "subject_id": pd.Categorical(["S1"] * 4), "timestamp": times, "lat": [52.0, 52.0003, 52.0, 52.01],
        "lon": [1.0, 1.0, 1.03, 1.01], "accuracy_m": [5.0, 5.0, 900.0, 5.0],
        "source": pd.Categorical(["GPS", "GPS", "LBS", "GPS"], categories=["GPS", "LBS", "WIFI"]),
        SOURCE_ROW: [1, 2, 3, 4]})
    config = MatchConfig()
    trails = assess_trails(validate_trails(RawTable(Path("warm-up"), raw)), config.quality_rule)
    fixes = trails.accepted
    crimes = pd.DataFrame({
        "crime_ref": ["C1"], "offence": ["burglary_residential"], "x": fixes["x"].iloc[:1].to_numpy() + 10,
        "y": fixes["y"].iloc[:1].to_numpy(), "lat": [52.0], "lon": [1.0], "committed_from": times[:1],
        "committed_to": times[2:3], "area": pd.array([pd.NA], "string"),
        "location_accuracy_m": [float("nan")], "free_text": pd.array([pd.NA], "string"), "long_window": [False],
        "dst_adjusted": [False], SOURCE_ROW: [1]})
    return match_hits(fixes, crimes, config, threads=1), fixes, crimes, config
