"""The MoJ monthly audit: UK calendar months, first-review times, outcomes as of a moment, CSV and XLSX files."""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.core.errors import InputError
from geomatch.core.safe import FORMULA_PREFIXES
from geomatch.store import add_review, build_audit, month_bounds, record_run, write_audit

UTC = timezone.utc
SUBJECT_FORMULA = '=HYPERLINK("http://evil.example","click")'


def record(db_url: str, received: str, hit_ids: list[str], subjects: list[str] | None = None) -> None:
    crimes = pd.DataFrame({"crime_ref": [f"CR-{h}" for h in hit_ids], "offence": "burglary_residential"})
    hits = pd.DataFrame({"hit_id": hit_ids, "subject_id": subjects or [f"S-{h}" for h in hit_ids],
                         "crime_ref": crimes["crime_ref"], "offence": "burglary_residential", "score": 70.0})
    record_run(db_url, hits, crimes, received_at=pd.Timestamp(received).to_pydatetime())


def review(db_url: str, hit_id: str, at: str, outcome: str, note: str = "") -> None:
    add_review(db_url, hit_id, outcome=outcome, by="DC 101", note=note, at=pd.Timestamp(at).to_pydatetime())


@pytest.fixture
def october(db_url) -> str:
    """Hits received around October 2026 (BST until 25 October) and their reviews."""
    record(db_url, "2026-09-30T22:59Z", ["HA"])  # 30 Sep 23:59 BST: September
    record(db_url, "2026-09-30T23:00Z", ["HB"])  # 1 Oct 00:00 BST: October
    record(db_url, "2026-10-20T10:00Z", ["HC1", "HC2", "HC3"], [SUBJECT_FORMULA, "\tS2", "-S3"])
    record(db_url, "2026-10-31T23:59Z", ["HD"])  # 31 Oct 23:59 GMT: October
    record(db_url, "2026-11-01T00:00Z", ["HE"])  # November
    review(db_url, "HB", "2026-10-02T11:00Z", "investigation")
    review(db_url, "HB", "2026-10-05T09:00Z", "arrest")
    review(db_url, "HB", "2026-10-06T09:00Z", "charge", "charged with burglary")
    review(db_url, "HC1", "2026-10-25T10:00Z", "intelligence_submitted", "@SUM(1)")
    review(db_url, "HC3", "2026-11-05T10:00Z", "arrest")
    return db_url


def test_months_are_uk_calendar_months():
    assert month_bounds("2026-10") == (datetime(2026, 9, 30, 23, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    for bad in ("2026-13", "October", "2026-1"):
        with pytest.raises(InputError, match="YYYY-MM"):
            month_bounds(bad)


def test_audit_rows_and_summary(october):
    report = build_audit(october, "2026-10", review_days=2, as_of=datetime(2026, 11, 1, 12, tzinfo=UTC))
    rows = report.rows.set_index("hit_id")
    assert list(rows.index) == ["HB", "HC1", "HC2", "HC3", "HD"]
    hb = rows.loc["HB"]
    assert hb["crime_ref"] == "CR-HB" and hb["subject_id"] == "S-HB" and hb["offence"] == "burglary_residential"
    assert hb["first_review"] == pd.Timestamp("2026-10-02T11:00Z") and hb["days_to_first_review"] == 1.5
    assert hb["current_outcome"] == "charge" and hb["latest_note"] == "charged with burglary"
    assert hb["action_taken"] == "2026-10-02 investigation; 2026-10-05 arrest; 2026-10-06 charge"
    assert rows.loc["HC1", "days_to_first_review"] == 5.0
    assert rows.loc["HC3", "current_outcome"] == "pending"  # its arrest came after the as-of moment
    assert pd.isna(rows.loc["HC3", "first_review"]) and pd.isna(rows.loc["HC3", "days_to_first_review"])
    summary = dict(report.summary)
    assert summary["Hits received"] == 5 and summary["Hits reviewed"] == 2
    assert summary["Reviewed within the agreed time"] == 1 and summary["Reviewed after the agreed time"] == 1
    assert summary["Pending (not yet reviewed)"] == 3
    assert summary["Pending past the agreed time"] == 2  # HC2, HC3; HD is due on 2 November
    assert summary["Current outcome: charge"] == 1 and summary["Current outcome: intelligence_submitted"] == 1
    assert summary["Hits with an arrest (any event)"] == 1 and summary["Hits with a charge (any event)"] == 1
    assert summary["Review chain verified at export"] == "yes" and summary["Review chain events"] == 5
    assert summary["Period start (UK time)"] == "2026-10-01 00:00:00 +01:00 (BST)"

    later = dict(build_audit(october, "2026-10", as_of=datetime(2026, 11, 10, tzinfo=UTC)).summary)
    assert later["Hits reviewed"] == 3 and later["Hits with an arrest (any event)"] == 2
    assert later["Pending past the agreed time"] == 2  # HC2, HD
    stricter = dict(build_audit(october, "2026-10", review_days=1, as_of=datetime(2026, 11, 1, 12,
                                                                                   tzinfo=UTC)).summary)
    assert stricter["Reviewed within the agreed time"] == 0


def _assert_neutralised(values) -> None:
    for value in values:
        assert not (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)), value


def test_xlsx_is_typed_frozen_filtered_and_neutralised(october, tmp_path):
    report = build_audit(october, "2026-10", as_of=datetime(2026, 11, 1, 12, tzinfo=UTC))
    path = write_audit(report, tmp_path / "audit.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "Hits"]
    sheet = book["Hits"]
    header = [c.value for c in sheet[1]]
    assert header[:9] == ["Hit ID", "Crime reference", "Subject reference", "Offence", "Date received (UK time)",
                          "First review (UK time)", "Days to first review", "Current outcome", "Action taken"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:J6"
    hb = {h: c for h, c in zip(header, sheet[2])}
    assert hb["Hit ID"].value == "HB"
    assert hb["Date received (UK time)"].value == datetime(2026, 10, 1, 0, 0)  # UK wall-clock time
    assert hb["Date received (UK time)"].is_date and hb["First review (UK time)"].value == datetime(2026, 10, 2, 12)
    assert hb["Days to first review"].data_type == "n" and hb["Days to first review"].value == 1.5
    assert all(sheet.column_dimensions[c].width >= 8 for c in "ABCDEFGHIJ")
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    _assert_neutralised(c.value for c in cells)
    subjects = [c.value for c in sheet["C"]]
    assert "'" + SUBJECT_FORMULA in subjects and "'\tS2" in subjects and "'-S3" in subjects
    assert "'@SUM(1)" in [c.value for c in sheet["J"]]
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Hits received"] == 5 and summary["Hits with a charge (any event)"] == 1
    assert book["Summary"].freeze_panes == "A2"


def test_csv_has_the_audit_columns_uk_times_and_neutralised_text(october, tmp_path):
    report = build_audit(october, "2026-10", as_of=datetime(2026, 11, 1, 12, tzinfo=UTC))
    path = write_audit(report, tmp_path / "audit.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["Hit ID"] for r in rows] == ["HB", "HC1", "HC2", "HC3", "HD"]
    assert rows[0]["Date received (UK time)"] == "2026-10-01T00:00:00+01:00"
    assert rows[0]["Days to first review"] == "1.5" and rows[0]["Current outcome"] == "charge"
    assert rows[4]["Date received (UK time)"] == "2026-10-31T23:59:00+00:00"
    for row in rows:
        _assert_neutralised(row.values())
    assert rows[1]["Subject reference"] == "'" + SUBJECT_FORMULA and rows[1]["Latest note"] == "'@SUM(1)"


def test_cli_audit_writes_the_file_and_prints_the_summary(october, tmp_path):
    out = tmp_path / "october.xlsx"
    result = CliRunner().invoke(cli.geomatch, ["audit", "--month", "2026-10", "--out", str(out), "--review-days",
                                               "2", "--as-of", "2026-11-01 12:00", "--db", october])
    assert result.exit_code == 0, result.output
    assert "Hits received: 5" in result.output and "Pending past the agreed time: 2" in result.output
    assert out.exists()
    result = CliRunner().invoke(cli.geomatch, ["audit", "--month", "2026-10", "--out", str(tmp_path / "a.txt"),
                                               "--db", october])
    assert result.exit_code == 2 and ".xlsx or .csv" in result.output
    result = CliRunner().invoke(cli.geomatch, ["audit", "--db", october])
    assert result.exit_code == 2 and "--month" in result.output


def test_a_month_without_hits_gives_an_empty_audit(october, tmp_path):
    report = build_audit(october, "2026-08")
    assert report.rows.empty and dict(report.summary)["Hits received"] == 0
    write_audit(report, tmp_path / "august.csv")
    assert (tmp_path / "august.csv").read_text().count("\n") == 1
    write_audit(report, tmp_path / "august.xlsx")
    assert openpyxl.load_workbook(tmp_path / "august.xlsx")["Hits"].max_row == 1


def test_times_in_the_repeated_autumn_hour_keep_their_offset(db_url, tmp_path):
    record(db_url, "2026-10-25T00:30:00.500Z", ["BST"])  # 01:30:00.5 BST
    record(db_url, "2026-10-25T01:30:00.500Z", ["GMT"])  # 01:30:00.5 GMT, an hour later
    report = build_audit(db_url, "2026-10", as_of=datetime(2026, 11, 1, tzinfo=UTC))
    with open(write_audit(report, tmp_path / "a.csv"), newline="", encoding="utf-8") as handle:
        received = [row["Date received (UK time)"] for row in csv.DictReader(handle)]
    assert received == ["2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00+00:00"]
    sheet = openpyxl.load_workbook(write_audit(report, tmp_path / "a.xlsx"))["Hits"]
    assert [c.value for c in sheet["E"][1:]] == [datetime(2026, 10, 25, 1, 30)] * 2  # Excel keeps no offset
