"""Writing hits tables: Parquet for machines, CSV for people, both sorted and byte-identical on rerun."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geomatch.core.errors import InputError
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


#: Columns without which a table is not a hits file (a trails or crimes file given as ``--hits``, say).
HITS_FILE_COLUMNS = ("hit_id", "subject_id", "crime_ref", "offence", "presence")


def read_hits(path: Path | str) -> pd.DataFrame:
    """Read a hits Parquet file written by :func:`write_hits`; :class:`InputError` naming the file when it is
    not a file, not Parquet, or not a hits table."""
    path = Path(path)
    if not path.is_file():
        raise InputError("the hits file does not exist or is not a file (give the hits.parquet that geomatch "
                         "match wrote)", file=str(path))
    try:
        hits = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise InputError(f"the hits file could not be read as Parquet ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})", file=str(path)) from error
    missing = [c for c in HITS_FILE_COLUMNS if c not in hits.columns]
    if missing:
        raise InputError(f"this is not a hits file (no '{missing[0]}' column): give the hits.parquet that geomatch "
                         "match wrote", file=str(path), column=missing[0])
    return hits
