"""The hits CSV for people: written by polars, read back cell by cell as pandas would have written it."""
from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from geomatch.match.output import write_hits, write_readable_csv


def _awkward() -> pd.DataFrame:
    return pd.DataFrame({
        "hit_id": ["H1", "H2", "H3", "H4"],
        "note": ["plain", "", None, 'a "quoted", comma\nand a new line'],
        "formula": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)"],
        "control": ["bell\x07here", "ok", "tab\tin", "nul\x00"],
        "distance_m": [1.23456, np.nan, 0.0, 1e7 + 0.0004],
        "count": [0, 1, 2, 3],
        "long_window": [True, False, True, False],
        "at": pd.to_datetime(["2026-10-21T08:30:00Z", "2026-10-21T08:30:00.25Z", None, "2026-03-29T01:00:00.000001Z"],
                             utc=True, format="ISO8601"),
    })


def test_readable_csv_is_what_pandas_writes(tmp_path):
    """Byte for byte the file ``DataFrame.to_csv`` wrote before (the reference built here the slow way)."""
    frame = _awkward()
    write_readable_csv(frame, tmp_path / "fast.csv")
    from geomatch.core.safe import neutralise_frame
    slow = frame.assign(distance_m=frame["distance_m"].round(3),
                        at=frame["at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(".000000Z", "Z", regex=False))
    neutralise_frame(slow).to_csv(tmp_path / "slow.csv", index=False, lineterminator="\n")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()


def test_readable_csv_cells(tmp_path):
    write_readable_csv(_awkward(), tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["at"] for r in rows] == ["2026-10-21T08:30:00Z", "2026-10-21T08:30:00.250000Z", "",
                                       "2026-03-29T01:00:00.000001Z"]
    assert [r["note"] for r in rows] == ["plain", "", "", 'a "quoted", comma\nand a new line']
    assert [r["formula"] for r in rows] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)"]
    assert rows[0]["control"] == "bell\\x07here" and rows[3]["control"] == "nul\\x00"
    assert [r["distance_m"] for r in rows] == ["1.235", "", "0.0", "10000000.0"]
    assert [r["long_window"] for r in rows] == ["True", "False", "True", "False"]


def test_write_hits_writes_both(tmp_path):
    paths = write_hits(_awkward(), tmp_path)
    assert [p.name for p in paths] == ["hits.parquet", "hits.csv"]
    assert pd.read_parquet(paths[0])["distance_m"].iloc[0] == 1.23456  # Parquet keeps full precision
