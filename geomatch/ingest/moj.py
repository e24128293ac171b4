"""The MoJ crime-mapping request CSV: 13 header-less columns, one crime a row, times ``yyyyMMddHHmmss`` in UTC.

The format is recognised by its shape (the 6th field of its rows a 14-digit time), read column by column under
the MoJ's own field names (:data:`MOJ_COLUMNS`) and renamed to the project's crime columns
(:data:`TO_CRIME_COLUMNS`) before the same validation as the table format. A file whose rows all have 12 fields
(no free text) or 14 (an extra field at the end, kept as ``extra_field_14``) is read as it is, column by column;
within a file, a line with a different number of fields than the first is a quarantined ``malformed_line``.
A MoJ-shaped file with a header row, or with rows of another length, stops with an error naming the format.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from geomatch.core.errors import InputError
from geomatch.core.tables import RawTable, read_table, sniff_csv

MOJ_COLUMNS = ["police_force", "crime_type_code", "crime_type_description", "batch_id", "crime_ref",
               "date_time_from", "date_time_to", "easting", "northing", "latitude", "longitude", "datum", "free_text"]
"""The 13 header-less columns of the MoJ crime-mapping request CSV, in file order."""
FIELDS_READ = {12: MOJ_COLUMNS[:12], 13: MOJ_COLUMNS, 14: [*MOJ_COLUMNS, "extra_field_14"]}
"""Column names for each number of fields per row that is read."""
TO_CRIME_COLUMNS = {"crime_type_code": "offence", "date_time_from": "committed_from",
                    "date_time_to": "committed_to", "latitude": "lat", "longitude": "lon"}
"""MoJ field name -> the project's crime column."""
TIME_FORMAT = "%Y%m%d%H%M%S"
"""How the MoJ format writes its UTC times."""
FORMAT_NAME = "the MoJ crime-mapping request format (13 fields a row, no header, the 6th a yyyyMMddHHmmss time)"
_MOJ_TIME = re.compile(r"^\d{14}$")
_TABLE_COLUMNS = {"crime_ref", "offence", "committed_from"}


def _looks_moj(row: tuple[str, ...]) -> bool:
    return len(row) >= 6 and bool(_MOJ_TIME.match(row[5].strip()))


def is_moj_file(path: Path) -> bool:
    """True for a CSV shaped like the MoJ format: its first rows (or all rows but a header line) have a
    ``yyyyMMddHHmmss`` time as their 6th field, and no header names the table format's columns."""
    try:
        rows = sniff_csv(path, header=False).rows
    except (OSError, ValueError, InputError):
        return False  # the reader will name the problem
    if not rows or _TABLE_COLUMNS <= {field.strip() for field in rows[0]}:
        return False
    return _looks_moj(rows[0]) or (len(rows) > 1 and all(_looks_moj(row) for row in rows[1:]))


def read_moj(path: Path) -> RawTable:
    """The raw rows of a MoJ file under the project's crime column names.

    Raises:
        InputError: the file is not MoJ-shaped, has a header line, or has rows of neither 12, 13 nor 14 fields.
    """
    rows = sniff_csv(path, header=False).rows
    if not rows or not any(_looks_moj(row) for row in rows):
        raise InputError(f"the file is not in {FORMAT_NAME}", file=str(path))
    if not _looks_moj(rows[0]):
        raise InputError(f"the file looks like {FORMAT_NAME} but its first line is a header; the format has none, "
                         f"so delete that line (or give --crimes-format table with column names)", file=str(path),
                         row=1)
    fields = Counter(len(row) for row in rows if _looks_moj(row)).most_common(1)[0][0]
    if fields not in FIELDS_READ:
        raise InputError(f"the file looks like {FORMAT_NAME} but its rows have {fields} fields (13 expected; 12 "
                         f"and 14 are read too)", file=str(path))
    table = read_table(path, header=False, names=FIELDS_READ[fields])
    return RawTable(table.path, table.frame.rename(columns=TO_CRIME_COLUMNS), table.crs, table.notes, table.files)
