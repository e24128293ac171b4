"""The MoJ crime-mapping request CSV: 13 header-less columns, one crime a row, times ``yyyyMMddHHmmss`` in UTC.

The format is recognised by its shape (13 fields, the 6th a 14-digit time), read column by column under the
MoJ's own field names (:data:`MOJ_COLUMNS`) and renamed to the project's crime columns (:data:`TO_CRIME_COLUMNS`)
before the same validation as the table format.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from geomatch.core.tables import CSV_SUFFIXES, RawTable, read_table

MOJ_COLUMNS = ["police_force", "crime_type_code", "crime_type_description", "batch_id", "crime_ref",
               "date_time_from", "date_time_to", "easting", "northing", "latitude", "longitude", "datum", "free_text"]
"""The 13 header-less columns of the MoJ crime-mapping request CSV, in file order."""
TO_CRIME_COLUMNS = {"crime_type_code": "offence", "date_time_from": "committed_from",
                    "date_time_to": "committed_to", "latitude": "lat", "longitude": "lon"}
"""MoJ field name -> the project's crime column."""
TIME_FORMAT = "%Y%m%d%H%M%S"
"""How the MoJ format writes its UTC times."""
_MOJ_TIME = re.compile(r"^\d{14}$")


def is_moj_file(path: Path) -> bool:
    """True for a CSV whose first row has 13 fields, the 6th a ``yyyyMMddHHmmss`` time (the MoJ format)."""
    if path.suffix.lower() not in CSV_SUFFIXES:
        return False
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return False  # the reader will name the problem
    return len(first) == 13 and bool(_MOJ_TIME.match(first[5].strip()))


def read_moj(path: Path) -> RawTable:
    """The raw rows of a MoJ file under the project's crime column names."""
    table = read_table(path, header=False, names=MOJ_COLUMNS)
    return RawTable(table.path, table.frame.rename(columns=TO_CRIME_COLUMNS), table.crs)
