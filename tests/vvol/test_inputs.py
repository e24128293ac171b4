"""Reading and validating V-VOL input, the harm table and the police.uk adapter."""
from __future__ import annotations

import pandas as pd
import pytest

from geomatch.core.errors import InputError
from vvol.config import VvolConfig, load_config, parse_days
from vvol.harm import load_harm_table
from vvol.inputs import load_crimes, load_people

HARM = load_harm_table()


def _write(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_quarantine_codes_and_counts(tmp_path):
    good = {"crime_ref": "G1", "offence": "8N", "date": "2026-03-01 10:00", "lat": "52.05", "lon": "1.15"}
    rows = [good,
            dict(good, crime_ref=""),                       # missing_crime_ref
            dict(good, crime_ref="B2", offence="jaywalking"),  # unknown_offence
            dict(good, crime_ref="B3", date="yesterday"),   # unparseable_committed_from
            dict(good, crime_ref="B4", lat="0", lon="0"),   # zero_zero
            dict(good, crime_ref="B5", lat="", lon=""),     # missing_location
            dict(good, crime_ref="G1"),                     # exact copy of G1: duplicate_row
            dict(good, crime_ref="G6", offence="Violence and sexual offences", date="2026-03-29 01:30")]
    crimes = load_crimes(_write(tmp_path, "crimes.csv", rows), HARM)
    assert crimes.counts() == {"rows_in": 8, "accepted": 2, "quarantined": 6}
    assert crimes.reason_counts() == {"duplicate_row": 1, "missing_crime_ref": 1, "missing_location": 1,
                                      "unknown_offence": 1, "unparseable_committed_from": 1, "zero_zero": 1}
    accepted = crimes.accepted.set_index("crime_ref")
    assert accepted.loc["G1", "offence"] == "assault_with_injury" and accepted.loc["G1", "harm"] == 150
    # WGS84 -> British National Grid (Ipswich is about E 616 000, N 244 000)
    assert 610_000 < accepted.loc["G1", "x"] < 620_000 and 240_000 < accepted.loc["G1", "y"] < 250_000
    # naive times are UK local; 01:30 on the spring-forward night does not exist and widens to 00:30 UTC
    assert accepted.loc["G1", "t"] == pd.Timestamp("2026-03-01T10:00Z")
    assert accepted.loc["G6", "t"] == pd.Timestamp("2026-03-29T00:30Z")

    quarantine = crimes.write_quarantine(tmp_path / "q")
    written = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    assert len(written) == 6 and list(written["source_row"]) == ["2", "3", "4", "5", "6", "7"]

    people_rows = [{"crime_ref": "G1", "person_id": "P1", "role": "Victim"},
                   {"crime_ref": "G1", "person_id": "P1", "role": "victim "},   # duplicate_involvement
                   {"crime_ref": "G1", "person_id": "", "role": "victim"},      # missing_person_id
                   {"crime_ref": "G1", "person_id": "P2", "role": "witness"},   # unknown_role
                   {"crime_ref": "B3", "person_id": "P3", "role": "victim"},    # unknown_crime_ref (quarantined crime)
                   {"crime_ref": "G6", "person_id": "P2", "role": "SUSPECT"}]
    people = load_people(_write(tmp_path, "people.csv", people_rows), crimes.accepted["crime_ref"])
    assert people.counts() == {"rows_in": 6, "accepted": 2, "quarantined": 4}
    assert people.reason_counts() == {"duplicate_involvement": 1, "missing_person_id": 1, "unknown_crime_ref": 1,
                                      "unknown_role": 1}
    assert people.accepted["role"].astype(str).tolist() == ["victim", "suspect"]


def test_crimes_keep_the_per_file_balance_and_quarantine_a_future_date(tmp_path):
    good = {"crime_ref": "G1", "offence": "8N", "date": "2026-03-01 10:00", "lat": "52.05", "lon": "1.15"}
    first = _write(tmp_path, "a.csv", [good, dict(good, crime_ref="F1", date="2099-01-01 10:00")])
    second = _write(tmp_path, "b.csv", [dict(good, crime_ref="G2"), dict(good, crime_ref="")])
    crimes = load_crimes([first, second], HARM)
    assert crimes.reason_counts() == {"committed_in_future": 1, "missing_crime_ref": 1}
    assert crimes.per_file == {str(first): {"rows_in": 2, "accepted": 1, "quarantined": 1},
                               str(second): {"rows_in": 2, "accepted": 1, "quarantined": 1}}


@pytest.mark.parametrize("field, value, says", [
    ("window_days", "x", "window_days must be a whole number of at least 1"),
    ("xlsx_max_rows", -1, "xlsx_max_rows must be a whole number of at least 1"),
    ("xlsx_max_rows", 2_000_000, "xlsx_max_rows must be at most 1,048,575"),
    ("top_n", True, "top_n must be a whole number"),
    ("max_uplift", float("inf"), "max_uplift must be a finite number at least 0"),
    ("frequency_bands", ((2, "five"),), "frequency_bands must be pairs of numbers"),
])
def test_config_values_of_the_wrong_kind_or_range_are_refused(field, value, says):
    with pytest.raises(InputError, match=says):
        VvolConfig(**{field: value})


@pytest.mark.parametrize("missing", ["crime_ref", "offence", "easting"])
def test_missing_crime_column_is_one_input_error(tmp_path, missing):
    row = {"crime_ref": "A", "offence": "8N", "committed_from": "2026-01-01 10:00", "easting": 1, "northing": 2}
    row.pop(missing)
    with pytest.raises(InputError) as caught:
        load_crimes(_write(tmp_path, "c.csv", [row]), HARM)
    assert f"column '{missing}'" in caught.value.sentence()


def test_missing_time_and_people_columns(tmp_path):
    with pytest.raises(InputError, match="committed_from or date"):
        load_crimes(_write(tmp_path, "c.csv", [{"crime_ref": "A", "offence": "8N", "easting": 1, "northing": 2}]),
                    HARM)
    with pytest.raises(InputError, match="'role'"):
        load_people(_write(tmp_path, "p.csv", [{"crime_ref": "A", "person_id": "P"}]), pd.Series(["A"]))


def test_parquet_and_geopackage_inputs(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    frame = pd.DataFrame({"crime_ref": ["A", "B"], "offence": ["burglary_residential", "30C"],
                          "committed_from": ["2026-01-01T10:00:00Z", "2026-01-02T10:00:00+00:00"],
                          "easting": [600000.0, 600100.0], "northing": [250000.0, 250000.0]})
    frame.to_parquet(tmp_path / "c.parquet")
    parquet = load_crimes(tmp_path / "c.parquet", HARM)
    assert parquet.accepted["offence"].astype(str).tolist() == ["burglary_residential", "burglary_business"]
    gdf = gpd.GeoDataFrame(frame.drop(columns=["easting", "northing"]),
                           geometry=[Point(1.15, 52.05), Point(1.16, 52.05)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "c.gpkg", driver="GPKG")
    gpkg = load_crimes(tmp_path / "c.gpkg", HARM)
    assert gpkg.counts()["accepted"] == 2 and (gpkg.accepted["x"] > 600_000).all()


def test_harm_table_header_lookup_and_force_table(tmp_path):
    assert HARM.year == "2016" and "ONS" in HARM.source
    weights = HARM.weights.set_index("key")
    ons = set(weights.index[weights["basis"] == "ons_css_2016"])
    assert ons == {"homicide", "attempted_murder", "possession_of_cannabis"}
    assert weights.loc["homicide", "weight"] == 7979
    keys, harm = HARM.resolve(pd.Series(["8N", "105A", "Common Assault", "Theft from the person",
                                         "Anti-social behaviour", "34B", "nonsense", None]))
    assert keys.tolist()[:6] == ["assault_with_injury", "common_assault", "common_assault", "theft_from_person",
                                 "anti_social_behaviour", "robbery_personal"]
    assert keys.isna().tolist()[6:] == [True, True] and harm[0] == 150

    force = tmp_path / "force.csv"
    force.write_text("# source: Example force harm index\n# year: 2025\nkey,label,weight,basis,ho_codes,aliases\n"
                     "common_assault,Common assault,2.5,force,105A,\n", encoding="utf-8")
    table = load_harm_table(force)
    assert table.resolve(pd.Series(["105A"]))[1].tolist() == [2.5]
    config = load_config(None, harm_table=str(force))
    assert config.harm_table == str(force)

    force.write_text("# year: 2025\nkey,label,weight,basis,ho_codes,aliases\n", encoding="utf-8")
    with pytest.raises(InputError, match="source"):
        load_harm_table(force)
    force.write_text("# source: x\n# year: 1\nkey,label,weight,basis,ho_codes,aliases\na,A,-1,x,,\n",
                     encoding="utf-8")
    with pytest.raises(InputError, match="non-negative"):
        load_harm_table(force)


def test_config_from_toml_and_periods(tmp_path):
    path = tmp_path / "force.toml"
    path.write_text('period_days = 28\nfrequency_bands = [[2, 1], [4, 2]]\nuplifts = { vulnerable = 0.5 }\n',
                    encoding="utf-8")
    config = load_config(path)
    assert config.period_days == 28 and config.frequency_bands == ((2.0, 1.0), (4.0, 2.0))
    assert config.uplifts == {"vulnerable": 0.5}
    path.write_text("colour = 'red'\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown configuration key 'colour'"):
        load_config(path)
    assert [parse_days(t) for t in ("90d", "12w", "3m", "30", "12m", "1y", "13m")] == [90, 84, 90, 30, 365, 365, 395]
    with pytest.raises(InputError):
        parse_days("soon")
    with pytest.raises(InputError):
        VvolConfig(window_days=100, period_days=90)


def test_police_uk_street_format_is_adapted(tmp_path):
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context\n")
    rows = [",2021-08,Suffolk,Suffolk,1.150000,52.050000,On or near A Road,E01,Ipswich 001A,Anti-social behaviour,,",
            "abc1,2021-08,Suffolk,Suffolk,1.150000,52.050000,On or near A Road,E01,Ipswich 001A,"
            "Violence and sexual offences,Under investigation,",
            "abc2,2021-08,Suffolk,Suffolk,,,No location,,,Burglary,,",
            ",2021-08,Suffolk,Suffolk,1.1,52.0,On or near B Road,E01,Ipswich 001A,Drugs,,"]
    path = tmp_path / "street.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    crimes = load_crimes(path, HARM)
    assert crimes.counts() == {"rows_in": 4, "accepted": 2, "quarantined": 2}
    assert crimes.reason_counts() == {"missing_crime_ref": 1, "missing_location": 1}
    accepted = crimes.accepted.set_index("crime_ref")
    assert accepted.index.tolist() == ["ASB-street-1", "abc1"]
    assert accepted.loc["abc1", "offence"] == "violence_and_sexual_offences"
    assert accepted.loc["abc1", "t"] == pd.Timestamp("2021-07-31T23:00Z")  # 1 Aug 2021 00:00 BST
    assert accepted.loc["abc1", "area"] == "Ipswich"
    assert accepted.loc["abc1", "premises_id"] == "On or near A Road @ 52.050000,1.150000"
