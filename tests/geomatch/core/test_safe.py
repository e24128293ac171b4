"""Safe output of input text: spreadsheet cells (formulas and control characters), terminals and HTML."""
from __future__ import annotations

import io

import openpyxl
import pandas as pd
from hypothesis import given, strategies as st

from geomatch.core.safe import (FORMULA_PREFIXES, escape_controls, escape_html, neutralise_cell, neutralise_frame,
                                terminal_text, write_safe_csv)


def test_cells_escape_what_xlsx_cannot_hold_and_keep_line_breaks():
    assert neutralise_cell("A\x00B\x1bC\x7fD\x85") == "A\\x00B\\x1bC\\x7fD\\x85"
    assert neutralise_cell("line 1\nline 2\tcol") == "line 1\nline 2\tcol"
    assert neutralise_cell("=1+1") == "'=1+1" and neutralise_cell("\x00=1+1") == "\\x00=1+1"
    assert neutralise_cell(12.5) == 12.5 and neutralise_cell(None) is None


def test_frame_is_neutralised_column_by_column_and_numbers_are_untouched():
    frame = pd.DataFrame({"ref": ["CR\x00", "-5", None, "ok"], "n": [1, 2, 3, 4],
                          "mixed": ["@x", 5, None, "\x1b[2J"]})
    out = neutralise_frame(frame)
    assert out["ref"].tolist()[:2] == ["CR\\x00", "'-5"] and pd.isna(out["ref"].iloc[2])
    assert out["n"].tolist() == [1, 2, 3, 4]
    assert out["mixed"].tolist()[:2] == ["'@x", 5] and out["mixed"].iloc[3] == "\\x1b[2J"
    assert frame["ref"].iloc[0] == "CR\x00"  # the input is not changed


def test_csv_and_xlsx_hold_the_same_safe_text(tmp_path):
    frame = pd.DataFrame({"note\x00": ["a\x00b", "=HYPERLINK(\"x\")"]})
    write_safe_csv(frame, tmp_path / "out.csv")
    csv = pd.read_csv(tmp_path / "out.csv", dtype=str)
    book = openpyxl.Workbook()
    sheet = book.active
    safe = neutralise_frame(frame)
    sheet.append(list(safe.columns))
    for row in safe.itertuples(index=False):
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)  # openpyxl refuses control characters: this raised IllegalCharacterError before
    cells = [c.value for row in openpyxl.load_workbook(buffer).active.iter_rows(min_row=2) for c in row]
    assert cells == csv.iloc[:, 0].tolist() == ["a\\x00b", "'=HYPERLINK(\"x\")"]
    assert list(csv.columns) == ["note\\x00"]


def test_terminal_text_escapes_every_control_and_bidi_override():
    assert terminal_text("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert terminal_text("a\rb\nc\td") == "a\\x0db\\x0ac\\x09d"
    assert terminal_text("\u202eevil\u2066") == "\\u202eevil\\u2066"
    assert terminal_text("Łódź 東京 🚓 — «ok»") == "Łódź 東京 🚓 — «ok»"
    assert terminal_text(42) == "42"


def test_html_escapes_markup_and_controls():
    assert escape_html("<b a='1'>\x00</b>") == "&lt;b a=&#x27;1&#x27;&gt;\\x00&lt;/b&gt;"
    assert escape_html(None) == "" and escape_html(float("nan")) == ""


@given(st.text())
def test_no_control_character_survives(text):
    shown = terminal_text(text)
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in shown)
    cell = neutralise_cell(text)
    assert not any(ord(ch) < 0x20 and ch not in "\t\n\r" for ch in cell)
    assert not cell.startswith(FORMULA_PREFIXES)
    assert escape_controls(text).count("\n") == text.count("\n")
