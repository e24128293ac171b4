"""Ingestion rules one by one: every row is accepted or quarantined with a reason, and nothing is lost."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.moj import MOJ_COLUMNS, is_moj_file
from geomatch.core.errors import InputError
from geomatch.ingest.trails import load_trails

GOOD_FIX = {"subject_id": "S1", "timestamp": "2026-10-22T10:00:00Z", "lat": 52.05, "lon": 1.15, "accuracy_m": 8,
            "source": "GPS"}
GOOD_CRIME = {"crime_ref": "C1", "offence": "burglary_residential", "easting": 616000, "northing": 244000,
              "lat": "", "lon": "", "committed_from": "2026-10-22 09:00", "committed_to": "2026-10-22 11:00"}


def write_csv(tmp_path: Path, rows: list[dict], name: str) -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def trail_reasons(tmp_path: Path, bad: dict, **kwargs) -> list[str]:
    rows = [GOOD_FIX, {**GOOD_FIX, "timestamp": "2026-10-22T10:01:00Z", **bad}]
    validated = load_trails(write_csv(tmp_path, rows, "trails.csv"), **kwargs)
    assert validated.rows_in == len(validated.accepted) + len(validated.quarantined) == 2
    return validated.quarantined["reason"].tolist()


@pytest.mark.parametrize("bad, reason", [
    ({"subject_id": ""}, "missing_subject"),
    ({"timestamp": "yesterday"}, "unparseable_time"),
    ({"timestamp": "2026-10-22 10:01:00"}, "naive_time_without_zone"),
    ({"lat": ""}, "missing_coordinates"),
    ({"lat": 0, "lon": 0}, "zero_zero"),
    ({"lat": 1.15, "lon": 52.05}, "lat_lon_swapped"),
    ({"lat": 95.0}, "out_of_range_coordinates"),
    ({"accuracy_m": -3}, "bad_accuracy"),
    ({"source": "SATNAV"}, "unknown_source"),
])
def test_trail_rules(tmp_path, bad, reason):
    assert trail_reasons(tmp_path, bad) == [reason]


def test_trail_duplicates_and_conflicts(tmp_path):
    rows = [GOOD_FIX, GOOD_FIX, {**GOOD_FIX, "subject_id": "S2"}, {**GOOD_FIX, "subject_id": "S2", "lat": 52.06}]
    validated = load_trails(write_csv(tmp_path, rows, "trails.csv"))
    assert validated.counts() == {"rows_in": 4, "accepted": 1, "quarantined": 3}
    assert sorted(validated.quarantined["reason"]) == ["conflicting_fixes_same_time"] * 2 + ["duplicate_fix"]


def test_naive_trail_times_with_an_explicit_zone(tmp_path):
    rows = [{**GOOD_FIX, "timestamp": "2026-07-01 12:00"}, {**GOOD_FIX, "timestamp": "2026-10-25 01:30"}]
    validated = load_trails(write_csv(tmp_path, rows, "trails.csv"), naive_tz="Europe/London")
    assert validated.accepted["timestamp"].tolist() == [pd.Timestamp("2026-07-01 11:00", tz="UTC")]
    assert validated.quarantined["reason"].tolist() == ["ambiguous_local_time"]


def test_trails_sorted_and_in_british_national_grid(tmp_path):
    rows = [{**GOOD_FIX, "subject_id": "S2"}, {**GOOD_FIX, "timestamp": "2026-10-22T10:05:00Z"}, GOOD_FIX]
    validated = load_trails(write_csv(tmp_path, rows, "trails.csv"))
    assert validated.crs == "EPSG:27700"
    accepted = validated.accepted
    assert accepted["subject_id"].tolist() == ["S1", "S1", "S2"]
    assert accepted["timestamp"].iloc[0] < accepted["timestamp"].iloc[1]
    assert accepted["x"].iloc[0] == pytest.approx(615930, abs=200) and accepted["y"].iloc[0] == pytest.approx(244000, abs=300)


def test_trails_from_parquet_geopackage_and_column_map(tmp_path):
    frame = pd.DataFrame([GOOD_FIX, {**GOOD_FIX, "timestamp": "2026-10-22T10:01:00Z"}])
    frame.rename(columns={"subject_id": "tag"}).to_parquet(tmp_path / "t.parquet")
    validated = load_trails(tmp_path / "t.parquet", column_map={"tag": "subject_id"})
    assert len(validated.accepted) == 2
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lat", "lon"]),
                           geometry=[Point(616000, 244000), Point(616010, 244000)], crs="EPSG:27700")
    gdf.to_file(tmp_path / "t.gpkg")
    validated = load_trails(tmp_path / "t.gpkg")
    assert validated.accepted["x"].tolist() == pytest.approx([616000, 616010])
    gdf.to_crs("EPSG:4326").to_parquet(tmp_path / "t.geoparquet")  # GeoParquet in WGS84
    validated = load_trails(tmp_path / "t.geoparquet")
    assert validated.crs == "EPSG:27700" and validated.accepted["x"].tolist() == pytest.approx([616000, 616010], abs=0.01)


def test_trails_outside_great_britain_use_a_utm_zone(tmp_path):
    rows = [{**GOOD_FIX, "lat": 52.66, "lon": -8.63}]  # Limerick, Ireland
    assert load_trails(write_csv(tmp_path, rows, "trails.csv")).crs == "EPSG:32629"


def test_missing_column_and_unreadable_file_stop_with_one_sentence(tmp_path):
    path = write_csv(tmp_path, [{k: v for k, v in GOOD_FIX.items() if k != "timestamp"}], "trails.csv")
    with pytest.raises(InputError) as error:
        load_trails(path)
    assert error.value.column == "timestamp" and str(path) in error.value.sentence()
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="could not be read"):
        load_trails(tmp_path / "broken.parquet")


def crime_reasons(tmp_path: Path, bad: dict) -> list[str]:
    rows = [GOOD_CRIME, {**GOOD_CRIME, "crime_ref": "C2", **bad}]
    validated = load_crimes(write_csv(tmp_path, rows, "crimes.csv"))
    assert validated.rows_in == len(validated.accepted) + len(validated.quarantined) == 2
    return validated.quarantined["reason"].tolist()


@pytest.mark.parametrize("bad, reason", [
    ({"crime_ref": ""}, "missing_crime_ref"),
    ({"offence": "shoplifting"}, "unknown_offence"),
    ({"committed_from": "tuesday"}, "unparseable_committed_from"),
    ({"committed_to": ""}, "unparseable_committed_to"),
    ({"committed_to": "2026-10-22 08:00"}, "reversed_window"),
    ({"easting": "", "northing": ""}, "missing_location"),
    ({"lat": 52.05, "lon": 1.15}, "both_location_kinds"),
    ({"easting": 0, "northing": 0}, "zero_zero"),
    ({"easting": "", "northing": "", "lat": 1.15, "lon": 52.05}, "lat_lon_swapped"),
    ({"easting": 9_000_000}, "out_of_range_coordinates"),
])
def test_crime_rules(tmp_path, bad, reason):
    assert crime_reasons(tmp_path, bad) == [reason]


def test_offence_codes_map_onto_the_taxonomy(tmp_path):
    rows = [{**GOOD_CRIME, "crime_ref": f"C{i}", "offence": code} for i, code in enumerate(["BIAD", "28E", "37/2", "tfmv"])]
    accepted = load_crimes(write_csv(tmp_path, rows, "crimes.csv")).accepted
    assert accepted["offence"].tolist() == ["burglary_residential", "burglary_residential",
                                            "aggravated_vehicle_taking", "theft_from_vehicle"]


def test_duplicate_crime_references(tmp_path):
    rows = [GOOD_CRIME, GOOD_CRIME, {**GOOD_CRIME, "crime_ref": "C2"}, {**GOOD_CRIME, "crime_ref": "C2", "easting": 616500}]
    validated = load_crimes(write_csv(tmp_path, rows, "crimes.csv"))
    assert validated.accepted["crime_ref"].tolist() == ["C1"]
    assert sorted(validated.quarantined["reason"]) == ["duplicate_crime_ref_conflict"] * 2 + ["duplicate_row"]


def test_long_windows_are_kept_and_flagged_and_clock_change_windows_widened(tmp_path):
    rows = [{**GOOD_CRIME, "committed_from": "2026-10-21 18:00", "committed_to": "2026-10-22 08:30"},
            {**GOOD_CRIME, "crime_ref": "C2", "committed_from": "2026-10-25 01:10", "committed_to": "2026-10-25 01:40"}]
    accepted = load_crimes(write_csv(tmp_path, rows, "crimes.csv")).accepted.set_index("crime_ref")
    assert accepted.loc["C1", "long_window"] and not accepted.loc["C1", "dst_adjusted"]
    assert accepted.loc["C2", "dst_adjusted"] and not accepted.loc["C2", "long_window"]
    assert accepted.loc["C2", "committed_from"] == pd.Timestamp("2026-10-25 00:10", tz="UTC")
    assert accepted.loc["C2", "committed_to"] == pd.Timestamp("2026-10-25 01:40", tz="UTC")


def moj_row(**changes) -> list[str]:
    row = dict(zip(MOJ_COLUMNS, ["Suffolk", "BIAD", "Burglary in a dwelling", "B1", "SF/1", "20261022090000",
                                 "20261022110000", "616000", "244000", "", "", "OSGB36", "rear door forced"]))
    row.update(changes)
    return list(row.values())


def test_moj_crime_mapping_format_is_recognised(tmp_path):
    path = tmp_path / "moj.csv"
    rows = [moj_row(), moj_row(crime_ref="SF/2", crime_type_code="TFP", easting="", northing="", latitude="52.05",
                               longitude="1.15"), moj_row(crime_ref="SF/3", latitude="52.05", longitude="1.15"),
            moj_row(crime_ref="SF/4", crime_type_code="XX")]
    pd.DataFrame(rows).to_csv(path, header=False, index=False)
    assert is_moj_file(path)
    validated = load_crimes(path)
    accepted = validated.accepted.set_index("crime_ref")
    assert accepted.loc["SF/1", "offence"] == "burglary_residential"
    assert accepted.loc["SF/1", "committed_from"] == pd.Timestamp("2026-10-22 09:00", tz="UTC")  # MoJ times are UTC
    assert accepted.loc["SF/2", "offence"] == "theft_from_person"
    assert accepted.loc["SF/1", "free_text"] == "rear door forced"
    assert validated.quarantined.set_index("crime_ref")["reason"].to_dict() == {
        "SF/3": "both_location_kinds", "SF/4": "unknown_offence"}
