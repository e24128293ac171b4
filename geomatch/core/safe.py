"""Safe output of text that came from inputs: spreadsheet-formula neutralising and HTML escaping.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by
spreadsheet programs (CSV injection). Such cells are prefixed with a single quote, which spreadsheets show as
text. Numbers are never touched: only text cells are neutralised.
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """Return ``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and text column name) neutralised, column by column."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            risky = values.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if risky.any():
                values = values.astype(object)
                values[risky] = "'" + values[risky].astype(str)
                out[column] = values
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def write_safe_csv(frame: pd.DataFrame, path: Path, **to_csv_kwargs) -> None:
    """Write ``frame`` as UTF-8 CSV with text cells neutralised and ``\\n`` line endings (deterministic)."""
    neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n", **to_csv_kwargs)


def escape_html(value: object) -> str:
    """Text from inputs, escaped for HTML element content and attribute values."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)
