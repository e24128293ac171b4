"""The shared readers: CSV dialects, malformed lines, several files as one table, and exact conversions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geomatch.core.errors import InputError
from geomatch.core.quarantine import LINE_NUMBER, RAW_LINE, SOURCE_FILE, SOURCE_ROW, RowChecks
from geomatch.core.tables import _line_numbers, input_files, read_table, sniff_csv, to_number
from geomatch.core.times import parse_times


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected_even_with_the_others_inside_quotes(tmp_path, delimiter):
    other = ";" if delimiter == "," else ","
    text = f'id{delimiter}note{delimiter}n\n1{delimiter}"a{other}b"{delimiter}3\n2{delimiter}plain{delimiter}4\n'
    table = read_table(write(tmp_path / "t.csv", text))
    assert list(table.frame.columns) == [SOURCE_ROW, "id", "note", "n"]
    assert table.frame["note"].tolist() == [f"a{other}b", "plain"]
    assert sniff_csv(tmp_path / "t.csv").delimiter == delimiter


def test_text_is_kept_as_written_and_blank_is_missing(tmp_path):
    table = read_table(write(tmp_path / "t.csv", "id,lat\n007,52.050\n,\n"))
    assert table.frame["id"].tolist()[0] == "007" and table.frame["lat"].tolist()[0] == "52.050"
    assert table.frame["id"].isna().tolist() == [False, True]


def test_a_quoted_line_break_stays_in_its_field(tmp_path):
    table = read_table(write(tmp_path / "t.csv", 'ref,text\nC1,"rear door\nforced"\nC2,none\n'))
    assert table.frame["text"].tolist() == ["rear door\nforced", "none"]
    assert table.frame[SOURCE_ROW].tolist() == [1, 2]


def test_malformed_lines_are_rows_with_their_text_and_line_number(tmp_path):
    table = read_table(write(tmp_path / "t.csv", "a,b\n1,2\n3,4,5\n6\n7,8\n"))
    frame = table.frame
    assert frame[SOURCE_ROW].tolist() == [1, 4, 2, 3]  # every row keeps its place in the file
    assert frame[RAW_LINE].tolist()[2:] == ["3,4,5", "6"] and frame[LINE_NUMBER].tolist()[2:] == [3, 4]
    checks = RowChecks(frame)
    checks.add("missing_a", frame["a"].isna())  # other rules say nothing about a malformed line
    assert checks.reasons(np.arange(4)).tolist() == ["", "", "malformed_line", "malformed_line"]
    assert table.files[0].malformed == 2


def test_line_numbers_are_found_when_the_multithreaded_reader_cannot_say(tmp_path):
    path = write(tmp_path / "t.csv", "a,b\n1,2\n3,4,5\n1,2\n3,4,5\n")
    assert _line_numbers(path, ["3,4,5", "3,4,5"], "utf-8") == [3, 5]


def test_utf8_with_a_byte_order_mark_and_windows_1252(tmp_path):
    assert read_table(write(tmp_path / "bom.csv", "\ufeffname,n\nJosé,1\n")).frame.columns.tolist()[1] == "name"
    table = read_table(write(tmp_path / "latin.csv", "name,n\nJosé,1\n", encoding="cp1252"))
    assert table.frame["name"].tolist() == ["José"] and "Windows-1252" in table.notes[0]


def test_several_files_are_one_table_with_source_file_and_counts(tmp_path):
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "a.csv", "id,n\n1,x\n2,y\n")
    write(tmp_path / "in" / "b.csv", "id;n;extra\n3;z;e\n")
    write(tmp_path / "in" / "notes.md", "not a table")
    for source in (tmp_path / "in", str(tmp_path / "in" / "*.csv"),
                   [tmp_path / "in" / "a.csv", tmp_path / "in" / "b.csv"]):
        table = read_table(source)
        frame = table.frame
        assert frame["id"].tolist() == ["1", "2", "3"] and frame[SOURCE_ROW].tolist() == [1, 2, 1]
        assert [Path(f).name for f in frame[SOURCE_FILE]] == ["a.csv", "a.csv", "b.csv"]
        assert frame["extra"].isna().tolist() == [True, True, False]
        assert [(Path(f.path).name, f.rows) for f in table.files] == [("a.csv", 2), ("b.csv", 1)]


def test_nothing_to_read_is_one_sentence(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        input_files(str(tmp_path / "*.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no CSV"):
        input_files(tmp_path / "empty")
    with pytest.raises(InputError, match="does not exist"):
        input_files(tmp_path / "missing.csv")


def test_numbers_from_text_are_exact_and_anything_else_is_nan(tmp_path):
    text = read_table(write(tmp_path / "t.csv", 'v\n52.05\n -1.5 \n1e3\n"52,05"\nnan\ninf\nabc\n0x10\n')).frame["v"]
    numbers = to_number(text)
    expected = [52.05, -1.5, 1000.0, np.nan, np.nan, np.nan, np.nan, np.nan]
    np.testing.assert_array_equal(numbers.to_numpy(), expected)
    np.testing.assert_array_equal(to_number(text.astype(object)).to_numpy(), expected)  # both paths agree


def test_times_parsed_in_arrow_equal_the_general_path(tmp_path):
    values = ["2026-10-22T10:00:00Z", "2026-10-22T11:00:00+01:00", "2026-10-22 10:00:00.250Z", "2026-10-25 01:30",
              "2026-03-29 01:30", "yesterday", "", "2026-13-01T00:00:00Z", "2026-07-01 12:00"]
    text = read_table(write(tmp_path / "t.csv", "t\n" + "\n".join(values) + "\n")).frame["t"]
    for side in ("instant", "start", "end"):
        for tz in ("Europe/London", None):
            fast, general = parse_times(text, side=side, naive_tz=tz), parse_times(text.astype(object), side=side,
                                                                                  naive_tz=tz)
            pd.testing.assert_series_equal(fast.utc, general.utc, check_names=False)
            for name in ("unparseable", "ambiguous", "nonexistent", "naive"):
                np.testing.assert_array_equal(getattr(fast, name), getattr(general, name), err_msg=name)


def test_vvol_tables_read_from_several_files(tmp_path):
    from vvol.harm import load_harm_table
    from vvol.inputs import load_crimes

    crimes = pd.read_csv(Path("sample_data/vvol/crimes.csv"), dtype=str)
    (tmp_path / "crimes").mkdir()
    crimes.iloc[:100].to_csv(tmp_path / "crimes" / "january.csv", index=False)
    crimes.iloc[100:].to_excel(tmp_path / "crimes" / "february.xlsx", index=False)
    whole = load_crimes(Path("sample_data/vvol/crimes.csv"), load_harm_table())
    split = load_crimes(tmp_path / "crimes", load_harm_table())
    assert split.counts() == whole.counts()
    assert set(split.quarantined[SOURCE_FILE]) <= {"february.xlsx", "january.csv"}
    table = read_table(tmp_path / "crimes")  # per-file counts, for vvol's summary
    assert [(f.path, f.rows) for f in table.files] == [("february.xlsx", len(crimes) - 100), ("january.csv", 100)]
