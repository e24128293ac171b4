"""Safe output of text that came from inputs: in spreadsheets (CSV and XLSX), HTML and terminals.

Spreadsheet cells (:func:`neutralise_cell`, :func:`neutralise_frame`, :func:`write_safe_csv`): a cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by spreadsheet programs (CSV
injection), so it is prefixed with a single quote, which spreadsheets show as text; and a control character that
an XLSX file cannot hold (XML 1.0 forbids every C0 control but tab, line feed and carriage return) is written as
its escape, ``\\x00`` for NUL, in CSV and XLSX alike, so one cell reads the same in both. Numbers are never
touched: only text cells are.

Terminals (:func:`terminal_text`): every control character (C0, DEL, C1: escape sequences that set a window title,
write the clipboard or move the cursor, carriage returns that overwrite a line, line feeds that forge one) and
every bidirectional-override character (text that displays in another order than it reads) is shown as its
escape, ``\\x1b`` or ``\\u202e``.

HTML (:func:`escape_html`): markup characters as entities.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: Characters an XLSX cell cannot hold (the C0 controls but tab, line feed and carriage return), and DEL and the
#: C1 controls, which XML allows but no reader shows: escaped in every spreadsheet cell.
_CELL_CONTROLS_ESCAPED = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"  # for Arrow's regex engine as for Python's
_CELL_CONTROL_RE = re.compile(_CELL_CONTROLS_ESCAPED)
#: A cell that needs rewriting: a formula's first character or a control character anywhere.
_RISKY_CELL = "^[=+\\-@\\t\\r]|" + _CELL_CONTROLS_ESCAPED
#: Every control character and the bidirectional overrides and isolates: escaped in terminal output.
_TERMINAL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with the characters a spreadsheet cell cannot show written as escapes (``\\x00``); tab, line feed
    and carriage return are kept."""
    return _CELL_CONTROL_RE.sub(_escape, text)


def terminal_text(value: object) -> str:
    """``value`` as text safe to print on a terminal: control and bidirectional-override characters as escapes
    (``\\x1b``, ``\\n``-forging line feeds as ``\\x0a``, ``\\u202e``)."""
    return _TERMINAL_RE.sub(_escape, value if isinstance(value, str) else str(value))


def neutralise_cell(value: object) -> object:
    """Text as a safe spreadsheet cell: control characters escaped, then a leading ``'`` when it would run as a
    formula. Anything but text is returned as it is."""
    if not isinstance(value, str):
        return value
    value = escape_controls(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and text column name) neutralised as by :func:`neutralise_cell`,
    column by column: the search is vectorised, and only the cells found are rewritten."""
    out = frame.copy(deep=False)  # columns are replaced, never written into
    for column in out.columns:
        values = out[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        try:
            text = values.str
        except AttributeError:  # an object column without any text (numbers, dates, missing values)
            continue
        if not text.contains(_RISKY_CELL, regex=True).fillna(False).astype(bool).any():
            continue  # most columns: one search, nothing to rewrite
        controls = text.contains(_CELL_CONTROLS_ESCAPED, regex=True).fillna(False).astype(bool)
        if controls.any():
            values = values.astype(object)
            values[controls] = [escape_controls(v) for v in values[controls]]
            text = values.str
        risky = text.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if risky.any():
            values = values.astype(object)
            values[risky] = "'" + values[risky].astype(str)
        if controls.any() or risky.any():
            out[column] = values
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def write_safe_csv(frame: pd.DataFrame, path: Path, **to_csv_kwargs) -> None:
    """Write ``frame`` as UTF-8 CSV with text cells neutralised and ``\\n`` line endings (deterministic)."""
    neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n", **to_csv_kwargs)


def escape_html(value: object) -> str:
    """Text from inputs, escaped for HTML element content and attribute values (control characters that HTML
    cannot hold written as escapes, ``\\x00``)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return html.escape(escape_controls(str(value)), quote=True)
