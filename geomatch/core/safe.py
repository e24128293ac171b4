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


FEW_CELLS = 2_000
"""Text columns of at most this many cells are searched by Python: a search by Arrow costs about 0.5 ms whatever
the column's length (six text columns made a third of an evidence pack's ``points.csv``)."""
_FORMULA_STARTS = frozenset(FORMULA_PREFIXES)


def _any_risky(values: pd.Series, text) -> bool:
    """Whether any cell of the text column ``values`` (``text`` its ``.str`` accessor) needs rewriting: a
    formula's first character, or a control character anywhere. A short column is searched in Python; a long
    object column of Python strings (a hits table's reasons: 92,000 of them on a force month) as Arrow text, in one
    pass of Arrow's regex engine (0.83 -> 0.03 s there) rather than by Python's per cell."""
    if len(values) <= FEW_CELLS:
        cells = [value for value in values.tolist() if isinstance(value, str)]
        return (not _FORMULA_STARTS.isdisjoint({cell[:1] for cell in cells})
                or _CELL_CONTROL_RE.search("".join(cells)) is not None)
    if values.dtype == object:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            arrow = pa.array(values.to_numpy(), from_pandas=True)
        except (pa.ArrowException, UnicodeError):  # text mixed with numbers or other objects, lone surrogates
            arrow = None
        if arrow is not None and (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
            return bool(pc.any(pc.match_substring_regex(arrow, _RISKY_CELL)).as_py())
    return bool(text.contains(_RISKY_CELL, regex=True).fillna(False).astype(bool).any())


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and text column name) neutralised as by :func:`neutralise_cell`,
    column by column: the search is vectorised, and a column is rewritten (as an object column) only where it found
    a cell to rewrite."""
    out = frame.copy(deep=False)  # columns are replaced, never written into
    for column in out.columns:
        values = out[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        try:
            text = values.str
        except AttributeError:  # an object column without any text (numbers, dates, missing values)
            continue
        if _any_risky(values, text):  # most columns: one search, nothing to rewrite
            out[column] = pd.Series([neutralise_cell(v) for v in values.to_numpy(dtype=object)], index=values.index,
                                    dtype=object, name=values.name)
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
