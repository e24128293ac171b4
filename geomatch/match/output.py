"""Writing hits tables: Parquet for machines, CSV for people, both sorted and byte-identical on rerun."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geomatch.core.safe import neutralise_frame

CSV_DECIMALS = 3
"""Measurements in CSV are rounded to 3 decimals (millimetres, milliseconds); Parquet keeps full precision."""


def write_hits(hits: pd.DataFrame, out_dir: Path, stem: str = "hits") -> list[Path]:
    """Write ``hits`` as ``stem.parquet`` and ``stem.csv`` in ``out_dir``; return the paths.

    CSV times are ISO 8601 UTC with ``Z``; text cells are neutralised against spreadsheet formulas.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet_path = out_dir / f"{stem}.parquet"
    csv_path = out_dir / f"{stem}.csv"
    hits.to_parquet(parquet_path, index=False)
    readable = hits.copy()
    for column in readable.columns:
        series = readable[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            readable[column] = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(".000000Z", "Z", regex=False)
        elif pd.api.types.is_float_dtype(series):
            readable[column] = series.round(CSV_DECIMALS)
    neutralise_frame(readable).to_csv(csv_path, index=False, lineterminator="\n")
    return [parquet_path, csv_path]


def read_hits(path: Path | str) -> pd.DataFrame:
    """Read a hits Parquet file written by :func:`write_hits`."""
    return pd.read_parquet(path)
