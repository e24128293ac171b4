"""The rules V-VOL needs on real police data: several input files, repeated crime references, month-level dates,
ties, one entry per place with a name, and the options that tripped analysts (with known answers)."""
from __future__ import annotations

import gzip

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.core.errors import InputError
from tests.vvol.helpers import crime, inv
from vvol.config import VvolConfig, load_config
from vvol.harm import load_harm_table
from vvol.inputs import expand_paths, load_crimes_files
from vvol.pipeline import run
from vvol.score import sort_list

HARM = load_harm_table()
STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                 "Crime type,Last outcome category,Context")


def _street_rows(month: str, rows: list[tuple[str, float, float, str, str]]) -> str:
    """police.uk street rows: (crime id, lon, lat, location text, crime type)."""
    lines = [f"{cid},{month},F,F,{lon},{lat},{place},E01,Bristol 001A,{kind},," for cid, lon, lat, place, kind
             in rows]
    return STREET_HEADER + "\n" + "\n".join(lines) + "\n"


def _write_gz(path, text: str):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_folder_glob_several_files_and_gzip_with_per_file_balance(tmp_path):
    folder = tmp_path / "force"
    folder.mkdir()
    _write_gz(folder / "2025-01-street.csv.gz", _street_rows("2025-01", [
        ("a1", -2.59, 51.45, "On or near Broad Street", "Burglary"),
        ("a2", "", "", "No location", "Burglary")]))
    (folder / "2025-02-street.csv").write_text(_street_rows("2025-02", [
        ("b1", -2.59, 51.45, "On or near Broad Street", "Robbery")]), encoding="utf-8")
    (folder / "notes.md").write_text("not a table", encoding="utf-8")
    by_folder, balance = load_crimes_files(folder, HARM)
    assert balance["rows_in"].tolist() == [2, 1, 3] and balance["ok"].all()
    assert balance["accepted"].tolist() == [1, 1, 2] and balance["quarantined"].tolist() == [1, 0, 1]
    assert by_folder.accepted["source_file"].map(lambda p: p.rsplit("/", 1)[-1]).tolist() == [
        "2025-01-street.csv.gz", "2025-02-street.csv"]
    by_glob, _ = load_crimes_files(str(folder / "*street.csv*"), HARM)
    by_list, _ = load_crimes_files([folder / "2025-02-street.csv", folder / "2025-01-street.csv.gz"], HARM)
    assert by_glob.accepted["crime_ref"].tolist() == by_folder.accepted["crime_ref"].tolist() == ["a1", "b1"]
    assert sorted(by_list.accepted["crime_ref"]) == ["a1", "b1"]
    assert [p.name for p in expand_paths(folder)] == ["2025-01-street.csv.gz", "2025-02-street.csv"]
    with pytest.raises(InputError, match="matches this pattern|matches no file"):
        expand_paths(str(tmp_path / "nothing*.csv"))
    (folder / "2025-03-street.csv").write_text("Crime ID,Month\nx,2025-03\n", encoding="utf-8")
    with pytest.raises(InputError, match="column is missing"):
        load_crimes_files(folder, HARM)


def test_a_repeated_crime_reference_keeps_one_copy_by_the_stated_rule(tmp_path):
    rows = [crime("R1", "2026-03-01 10:00", "common_assault"),
            crime("R1", "2026-03-01 10:00", "assault_with_injury", e=616100),  # highest harm: kept
            crime("R1", "2026-03-01 10:00", "common_assault", e=616200),
            crime("S1", "2026-03-02 10:00"), crime("S1", "2026-03-02 10:00"),  # exact copy: duplicate_row
            crime("T1", "2026-03-03 10:00", e=616000), crime("T1", "2026-03-02 10:00", e=616300)]  # same harm
    path = tmp_path / "crimes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    crimes, balance = load_crimes_files(path, HARM)
    kept = crimes.accepted.set_index("crime_ref")
    assert sorted(kept.index) == ["R1", "S1", "T1"]  # no crime lost
    assert kept.loc["R1", "offence"] == "assault_with_injury"
    assert kept.loc["T1", "x"] == 616300  # equal harm: the earlier time is kept
    assert crimes.reason_counts() == {"duplicate_row": 1, "repeated_crime_ref_not_kept": 3}
    q = crimes.quarantined.set_index("source_row")
    assert q.loc[1, "kept_copy"] == "crimes.csv:2" and q.loc[3, "kept_copy"] == "crimes.csv:2"
    assert q.loc[6, "kept_copy"] == "crimes.csv:7" and q.loc[5, "kept_copy"] == ""
    assert balance["ok"].all()


def _monthly_place(tmp_path, counts: dict[str, int]):
    """One police.uk map point with ``counts`` crimes per month (files per month, gzipped)."""
    folder = tmp_path / "months"
    folder.mkdir(exist_ok=True)
    for month, n in counts.items():
        _write_gz(folder / f"{month}-street.csv.gz", _street_rows(month, [
            (f"{month}-{i}", -2.59, 51.45, "On or near Broad Street", "Burglary") for i in range(n)]))
    return folder


def test_month_level_dates_use_calendar_months(tmp_path):
    folder = _monthly_place(tmp_path, {"2025-06": 2, "2025-07": 3, "2025-08": 1, "2025-09": 4})
    tasking = run(folder, None, "2025-09-30", VvolConfig(period_days=30))
    window = tasking.window
    assert window.months and window.current_text == "1 month (2025-09)"
    assert window.previous_text == "1 month (2025-08)" and window.window_text == "12 months (2024-10 to 2025-09)"
    place = tasking.locations.iloc[0]
    assert (place["crimes_this_period"], place["crimes_previous_period"], place["crimes_before_period"]) == (4, 1, 5)
    assert place["trend"] == "intensifying" and place["last_crime"] == "2025-09"
    assert place["place"] == "On or near Broad Street" and place["kind"] == "premises"
    assert "12 months (2024-10 to 2025-09)" in place["reasons"]
    assert window.month_counts.loc["2025-09"] == 4 and window.month_counts.loc["2025-01"] == 0
    # a 90-day period is 3 whole months: Jul-Sep against Apr-Jun, never two months against one
    tasking = run(folder, None, "2025-09-30", VvolConfig(period_days=90))
    place = tasking.locations.iloc[0]
    assert (place["crimes_this_period"], place["crimes_previous_period"]) == (8, 2)
    assert tasking.window.current_text == "3 months (2025-07 to 2025-09)"


def test_one_place_one_entry_with_a_name(tmp_path):
    rows = [{**crime(f"P{i}", "2026-03-0{} 10:00".format(1 + i % 9)), "premises_id": "PUB-1",
             "place": "The Crown, High Street"} for i in range(12)]
    rows += [{**crime(f"Q{i}", "2026-03-02 10:00", e=620000 + (i % 3) * 10), "premises_id": f"SHOP-{i % 3}",
              "place": f"Shop {i % 3}"} for i in range(12)]
    tasking = run_rows(tmp_path, rows, "2026-03-31", hotspot_min_crimes=10)
    locations = tasking.locations
    # the pub is one map point: its hot spot is the premises, listed once and naming the hot spot
    pub = locations[locations["place"] == "The Crown, High Street"]
    assert len(pub) == 1 and pub.iloc[0]["kind"] == "premises" and pub.iloc[0]["same_as_hotspot"].startswith("H:")
    # three shops 10 m apart form one hot spot over several premises: listed, named by its commonest place
    hot = locations[locations["kind"] == "hotspot"]
    assert len(hot) == 1 and hot.iloc[0]["place"] == "Shop 0 and 2 other places"


def run_rows(tmp_path, rows, as_of, **config):
    path = tmp_path / "crimes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return run(path, None, as_of, VvolConfig(**config))


def test_ties_are_ordered_by_harm_then_crimes_then_recency():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "score": [90.0, 90.0, 90.0, 90.0, 50.0],
                          "harm_12m": [100.0, 300.0, 300.0, 300.0, 900.0], "crimes_12m": [9, 5, 7, 7, 9],
                          "days_since_last": [1.0, 1.0, 3.0, 3.0, 1.0]})
    ordered = sort_list(frame, "id")
    assert ordered["id"].tolist() == ["c", "d", "b", "a", "e"]
    assert ordered["rank"].tolist() == [1, 1, 3, 4, 5]  # c and d are equal on every tie-break: shared rank
    assert ordered["tied_on_score"].tolist() == [4, 4, 4, 4, 1]


def test_options_that_tripped_analysts(tmp_path):
    rows = [crime("A1", "2026-03-01 10:00", area="Ipswich"), crime("A2", "2026-03-02 10:00", area="Ipswich")]
    crimes_path, people_path = tmp_path / "crimes.csv", tmp_path / "people.csv"
    pd.DataFrame(rows).to_csv(crimes_path, index=False)
    pd.DataFrame([inv("A1", "V1"), inv("A2", "V1")]).to_csv(people_path, index=False)
    # a period of a year: the window follows (two periods), no error
    config = load_config(None, period_days=365)
    assert config.window_days == 730
    assert load_config(None, period_days=28).window_days == 365
    invoke = lambda *args: CliRunner().invoke(cli.vvol, ["score", "--crimes", str(crimes_path), "--people",  # noqa
                                                         str(people_path), "--out", str(tmp_path / "out"),
                                                         "--no-progress", *args])
    assert invoke("--as-of", "2026-03-31", "--period", "365d").exit_code == 0
    # dates: ISO only; 10/11/2026 could be either month
    result = invoke("--as-of", "10/11/2026")
    assert result.exit_code == 2 and "not an ISO date" in result.output
    # an unknown area is an error naming the known ones; the match ignores case
    result = invoke("--as-of", "2026-03-31", "--area", "Nowhere")
    assert result.exit_code == 2 and "the areas are: Ipswich" in result.output
    result = invoke("--as-of", "2026-03-31", "--area", "ipswich")
    assert result.exit_code == 0 and "Ipswich" in result.output
