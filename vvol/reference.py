"""Reference tables shipped as package data (harm weights, unit costs) or given by a force in the same format: a
CSV with ``#`` comment lines on top, some of which name the table's ``source:``, ``year:`` and so on."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import pandas as pd

from geomatch.core.errors import InputError


@dataclass(frozen=True)
class ReferenceTable:
    """The rows (all text), the header lines asked for, and where it was read (``shown``, for messages)."""

    frame: pd.DataFrame
    header: dict[str, str]
    shown: str


def read_reference_table(path: Path | str | None, *, package_file: str, what: str, headers: Sequence[str],
                         columns: Sequence[str]) -> ReferenceTable:
    """Read ``path`` (``None`` = ``vvol/data/<package_file>``) as text cells.

    Args:
        what: the table in words, for messages ("harm table").
        headers: ``# name: value`` lines that must be present.
        columns: columns that must be present.

    Raises:
        InputError: the file is unreadable, or lacks a header line or a column.
    """
    if path is None:
        text = resources.files("vvol").joinpath("data", package_file).read_text(encoding="utf-8")
        shown = f"vvol/data/{package_file}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"the {what} could not be read ({error})", file=str(path)) from error
        shown = str(path)
    header = {}
    pattern = re.compile(r"#\s*(" + "|".join(map(re.escape, headers)) + r"):\s*(.*)")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            header[match.group(1)] = match.group(2).strip()
    for needed in headers:
        if needed not in header:
            raise InputError(f"the {what} needs a '# {needed}: ...' header line", file=shown)
    frame = pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"required column is missing from the {what}", file=shown, column=column)
    return ReferenceTable(frame=frame, header=header, shown=shown)
