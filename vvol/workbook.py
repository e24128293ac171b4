"""Excel workbooks analysts can work in: each sheet an Excel table (sort and filter buttons, banded rows), dates as
dates, readable headers, frozen header and id column, fitted widths, colour scales on scores; text from inputs
neutralised against formula injection. Workbooks are byte-for-byte deterministic (:func:`save_stable`)."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from geomatch.core.safe import neutralise_frame

MAX_WIDTH = 60
WRAP_COLUMNS = {"reasons", "members"}


def header_text(name: str) -> str:
    """A readable header: ``crimes_12m`` -> ``Crimes 12m``, ``p_signed_rank`` -> ``P signed rank``."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _cell(value):
    """A value openpyxl stores with its type: numbers as numbers, booleans as booleans, missing as empty."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def add_table_sheet(book: Workbook, name: str, frame: pd.DataFrame, *, dates: dict[str, str] | None = None,
                    scores: tuple[str, ...] = (), freeze_columns: int = 1) -> None:
    """A sheet holding ``frame`` as an Excel table named after the sheet.

    Args:
        dates: column -> Excel number format (``yyyy-mm-dd``, ``yyyy-mm``, ``yyyy-mm-dd hh:mm``); those columns
            must hold naive datetimes (UK local) or NaT, and are written as real dates.
        scores: columns that get a white-to-red colour scale.
        freeze_columns: columns kept in view when scrolling right (besides the header row).
    """
    dates = dates or {}
    sheet = book.create_sheet(name)
    safe = neutralise_frame(frame.drop(columns=list(dates), errors="ignore"))
    safe.columns = [c for c in frame.columns if c not in dates]
    for column in dates:
        if column in frame:
            safe[column] = frame[column]
    safe = safe[list(frame.columns)]
    headers = [header_text(c) for c in safe.columns]
    sheet.append(headers)
    for row in safe.itertuples(index=False):
        sheet.append([_cell(v) for v in row])
    n_rows = len(safe) + 1
    for i, column in enumerate(safe.columns, start=1):
        letter = get_column_letter(i)
        if column in dates:
            for cell in sheet[letter][1:]:
                cell.number_format = dates[column]
        text = safe[column].astype(str)
        longest = text.str.len().quantile(0.95) if len(text) else 0
        width = max(len(headers[i - 1]), int(longest) if np.isfinite(longest) else 0) + 2
        sheet.column_dimensions[letter].width = min(width, MAX_WIDTH)
        if column in WRAP_COLUMNS:
            for cell in sheet[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        if column in scores and len(safe):
            sheet.conditional_formatting.add(f"{letter}2:{letter}{n_rows}", ColorScaleRule(
                start_type="min", start_color="FFFFFF", end_type="max", end_color="F8696B"))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"{get_column_letter(freeze_columns + 1)}2"
    if len(safe.columns):
        ref = f"A1:{get_column_letter(len(safe.columns))}{max(n_rows, 2)}"
        table = Table(displayName=re.sub(r"[^A-Za-z0-9_]", "_", f"t_{name}"), ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        sheet.add_table(table)


def add_text_sheet(book: Workbook, name: str, rows: list[list[str]]) -> None:
    """A two-column sheet of notes (rules, sources, caveats)."""
    sheet = book.create_sheet(name)
    for row in rows:
        sheet.append([neutralise_frame(pd.DataFrame({"v": [v]}))["v"].iloc[0] for v in row])
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 110
    for cell in sheet["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def save_stable(book: Workbook, path: Path, stamp: pd.Timestamp) -> Path:
    """Save with every zip entry dated ``stamp`` and the document's created and modified times equal to it
    (openpyxl stamps the wall clock on save), so the same content gives the same bytes."""
    stamp = stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
    book.properties.created = stamp.to_pydatetime()
    buffer = io.BytesIO()
    book.save(buffer)
    date_time = stamp.to_pydatetime().timetuple()[:6]
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in sorted(source.infolist(), key=lambda i: i.filename):
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                created = re.search(r"<dcterms:created[^>]*>([^<]*)<", text).group(1)
                content = re.sub(r"(<dcterms:modified[^>]*>)[^<]*<", rf"\g<1>{created}<", text).encode("utf-8")
            info = zipfile.ZipInfo(item.filename, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return path
