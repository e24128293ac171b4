"""A catalogue of hostile inputs, each with the class it must give: a clear error (exit 2, one sentence naming the
file and, where one is at fault, the column and row), a quarantined row with its reason, or the right result.

Every case was a traceback, a wrong result or a silent acceptance once; none may come back.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from cli import geomatch
from geomatch.core.errors import InputError
from geomatch.core.quarantine import LINE_NUMBER, RAW_LINE
from geomatch.ingest.crimes import far_from_trails, load_crimes
from geomatch.ingest.moj import MOJ_COLUMNS
from geomatch.ingest.trails import load_trails

FIX = {"subject_id": "S1", "timestamp": "2026-10-22T10:00:00Z", "lat": 52.05, "lon": 1.15, "accuracy_m": 8,
       "source": "GPS"}
CRIME = {"crime_ref": "C1", "offence": "burglary_residential", "easting": 616000, "northing": 244000, "lat": "",
         "lon": "", "committed_from": "2026-10-22 09:00", "committed_to": "2026-10-22 11:00"}


def fixes(n: int, **changes) -> list[dict]:
    """``n`` good fixes a minute apart near Ipswich (then ``changes`` applied to every one)."""
    start = pd.Timestamp("2026-10-22T10:00:00Z")
    return [{**FIX, "timestamp": (start + pd.Timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "lat": 52.05 + i * 1e-5, **changes} for i in range(n)]


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def moj_row(**changes) -> list[str]:
    row = dict(zip(MOJ_COLUMNS, ["Suffolk", "BIAD", "Burglary in a dwelling", "B1", "SF/1", "20261022090000",
                                 "20261022110000", "616000", "244000", "", "", "OSGB36", "rear door forced"]))
    row.update(changes)
    return list(row.values())


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def gpkg(path: Path, points: list[tuple[float, float]], crs: str | None) -> Path:
    frame = pd.DataFrame(fixes(len(points))).drop(columns=["lat", "lon"])
    gpd.GeoDataFrame(frame, geometry=[Point(p) for p in points], crs=crs).to_file(path)
    return path


def gpkg_srs_minus_one(path: Path) -> Path:
    gpkg(path, [(616000, 244000), (616010, 244000)], "EPSG:27700")
    with sqlite3.connect(path) as db:  # as some GIS exports write it: "undefined Cartesian SRS"
        db.execute("UPDATE gpkg_geometry_columns SET srs_id = -1")
        db.execute("UPDATE gpkg_contents SET srs_id = -1")
    return path


# ---- the outcomes --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Error:
    """A clear InputError whose sentence names the file and says ``words``."""

    words: tuple[str, ...]
    column: str | None = None


@dataclass(frozen=True)
class Quarantined:
    """The hostile rows are quarantined with ``reason``; the good rows are accepted; nothing is lost."""

    reason: str
    rows: int = 1


@dataclass(frozen=True)
class Result:
    """The load succeeds and ``check`` holds of its result."""

    check: Callable[[object], bool]


@dataclass(frozen=True)
class Case:
    name: str
    load: Callable[[Path], object]  # builds the input in a folder and loads it
    expect: Error | Quarantined | Result


def trails_csv(rows: list[dict], **kwargs) -> Callable[[Path], object]:
    return lambda tmp: load_trails(write_csv(tmp / "trails.csv", rows), **kwargs)


def crimes_csv(rows: list[dict], **kwargs) -> Callable[[Path], object]:
    return lambda tmp: load_crimes(write_csv(tmp / "crimes.csv", rows), **kwargs)


def crimes_lines(lines: list[str]) -> Callable[[Path], object]:
    return lambda tmp: load_crimes(write_lines(tmp / "crimes.csv", lines))


def moj(rows: list[list[str]], header: list[str] | None = None) -> Callable[[Path], object]:
    lines = ([",".join(header)] if header else []) + [",".join(r) for r in rows]
    return lambda tmp: load_crimes(write_lines(tmp / "moj.csv", lines))


SWAPPED = [{**f, "lat": f["lon"], "lon": f["lat"], "subject_id": "S9"} for f in fixes(122)]
NEW_YORK_PARIS = [{**CRIME, "crime_ref": "NY", "easting": "", "northing": "", "lat": 40.71, "lon": -74.0},
                  {**CRIME, "crime_ref": "PA", "easting": "", "northing": "", "lat": 48.86, "lon": 2.35}]
TRAILS_HEADER = ",".join(FIX)
GOOD_LINE = "S1,2026-10-22T10:00:00Z,52.05,1.15,8,GPS"

CASES = [
    # trails: tracebacks once
    Case("median fix with an impossible longitude",
         trails_csv(fixes(2) + fixes(3, lon=400.0, subject_id="S2")), Quarantined("out_of_range_coordinates", 3)),
    Case("GeoPackage declared BNG with degree coordinates",
         lambda tmp: load_trails(gpkg(tmp / "t.gpkg", [(1.15, 52.05), (1.16, 52.05)], "EPSG:27700")),
         Error(("declares EPSG:27700", "look like degrees", "--trails-crs"), "geometry")),
    Case("GeoPackage declared WGS84 with metres",
         lambda tmp: load_trails(gpkg(tmp / "t.gpkg", [(616000, 244000), (616010, 244000)], "EPSG:4326")),
         Error(("declares EPSG:4326", "not degrees"), "geometry")),
    Case("GeoPackage declared UTM 33N with British coordinates far away",
         lambda tmp: load_trails(gpkg(tmp / "t.gpkg", [(-4_000_000, 6_000_000), (-4_000_010, 6_000_000)],
                                      "EPSG:32633")),
         Error(("declares EPSG:32633", "far outside"), "geometry")),
    Case("GeoPackage with srs_id -1", lambda tmp: load_trails(gpkg_srs_minus_one(tmp / "t.gpkg")),
         Error(("declares none", "--trails-crs"), "x")),
    Case("x/y without a CRS", trails_csv([{**{k: v for k, v in FIX.items() if k not in ("lat", "lon")},
                                           "x": 616000, "y": 244000}]),
         Error(("--trails-crs",), "x")),
    # trails: wrong results once
    Case("122 swapped lat/lon rows do not move a clean subject to UTM 39N",
         trails_csv(fixes(100) + SWAPPED),
         Result(lambda v: v.crs == "EPSG:27700" and len(v.quarantined) == 122
                and set(v.quarantined["reason"]) == {"lat_lon_swapped"})),
    # trails: accepted silently once
    Case("fix dated 1970", trails_csv(fixes(2) + [{**FIX, "timestamp": "1970-01-01T00:00:00Z"}]),
         Quarantined("time_out_of_range")),
    Case("fix dated 2099", trails_csv(fixes(2) + [{**FIX, "timestamp": "2099-06-01T12:00:00Z"}]),
         Quarantined("time_out_of_range")),
    Case("accuracy of 1e9 m", trails_csv(fixes(2) + [{**FIX, "timestamp": "2026-10-22T11:00:00Z",
                                                      "accuracy_m": 1e9}]),
         Quarantined("accuracy_too_large")),
    Case("accuracy 'inf'", trails_csv(fixes(2) + [{**FIX, "timestamp": "2026-10-22T11:00:00Z",
                                                   "accuracy_m": "inf"}]),
         Quarantined("bad_accuracy")),
    Case("latitude 'nan' text", trails_csv(fixes(2) + [{**FIX, "timestamp": "2026-10-22T11:00:00Z", "lat": "nan"}]),
         Quarantined("missing_coordinates")),
    Case("latitude with a comma decimal", trails_csv(fixes(2) + [{**FIX, "timestamp": "2026-10-22T11:00:00Z",
                                                                  "lat": "52,05"}]),
         Quarantined("missing_coordinates")),
    # trails: containers
    Case("a trails line with a field too many",
         lambda tmp: load_trails(write_lines(tmp / "t.csv", [TRAILS_HEADER, GOOD_LINE, GOOD_LINE.replace(
             "10:00", "10:01") + ",extra", GOOD_LINE.replace("10:00", "10:02")])),
         Result(lambda v: v.counts() == {"rows_in": 3, "accepted": 2, "quarantined": 1}
                and v.quarantined["reason"].tolist() == ["malformed_line"]
                and v.quarantined[LINE_NUMBER].tolist() == [3] and v.quarantined["source_row"].tolist() == [2]
                and v.quarantined[RAW_LINE].str.endswith(",extra").all()
                and v.accepted["source_row"].tolist() == [1, 3])),
    Case("a trails line with a field too few",
         lambda tmp: load_trails(write_lines(tmp / "t.csv", [TRAILS_HEADER, GOOD_LINE, "S1,2026-10-22T10:01:00Z"])),
         Quarantined("malformed_line")),
    Case("a ZIP holding two CSV files",
         lambda tmp: load_trails(_zip(tmp / "t.zip", ["a.csv", "b.csv"])), Error(("exactly one CSV",))),
    Case("an empty file", lambda tmp: load_trails(write_lines(tmp / "t.csv", [])), Error(("subject_id",))),
    Case("an unknown file type", lambda tmp: load_trails(write_lines(tmp / "t.kml", ["<kml/>"])),
         Error(("unknown file type",))),
    Case("a GPX file that is not XML", lambda tmp: load_trails(write_lines(tmp / "t.gpx", ["<gpx><trk>"])),
         Error(("could not be read",))),
    # crimes
    Case("crimes in New York and Paris matched in BNG", crimes_csv([CRIME, *NEW_YORK_PARIS]),
         Quarantined("outside_crs_area", 2)),
    Case("a crimes line with a field too many",
         crimes_lines([",".join(CRIME), ",".join(map(str, CRIME.values())),
                       ",".join(map(str, {**CRIME, "crime_ref": "C2"}.values())) + ",spare"]),
         Quarantined("malformed_line")),
    Case("semicolon-separated crimes",
         crimes_lines([";".join(CRIME), ";".join(map(str, CRIME.values()))]),
         Result(lambda v: v.counts() == {"rows_in": 1, "accepted": 1, "quarantined": 0})),
    Case("MoJ file with a header row", moj([moj_row()], header=MOJ_COLUMNS),
         Error(("MoJ crime-mapping request format", "header"))),
    Case("MoJ file with 15 fields a row", moj([moj_row() + ["a", "b"]]),
         Error(("MoJ crime-mapping request format", "15 fields"))),
    Case("MoJ file with 12 fields a row, read as it is", moj([moj_row()[:12]]),
         Result(lambda v: v.accepted["crime_ref"].tolist() == ["SF/1"] and v.accepted["free_text"].isna().all())),
    Case("MoJ file with 14 fields a row, not shifted", moj([moj_row() + ["extra"]]),
         Result(lambda v: v.accepted["crime_ref"].tolist() == ["SF/1"]
                and v.accepted["free_text"].tolist() == ["rear door forced"])),
    Case("MoJ row with 14 fields among 13",
         moj([moj_row(), moj_row(crime_ref="SF/2") + ["extra"], moj_row(crime_ref="SF/3")]),
         Quarantined("malformed_line")),
]


def _zip(path: Path, names: list[str]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, TRAILS_HEADER + "\n" + GOOD_LINE + "\n")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path):
    if isinstance(case.expect, Error):
        with pytest.raises(InputError) as raised:
            case.load(tmp_path)
        sentence = raised.value.sentence()
        assert raised.value.file and str(tmp_path) in raised.value.file, sentence
        assert "\n" not in sentence
        for words in case.expect.words:
            assert words in sentence, sentence
        if case.expect.column:
            assert raised.value.column == case.expect.column, sentence
        return
    validated = case.load(tmp_path)
    assert validated.rows_in == len(validated.accepted) + len(validated.quarantined)
    if isinstance(case.expect, Quarantined):
        reasons = validated.quarantined["reason"].tolist()
        assert reasons == [case.expect.reason] * case.expect.rows, reasons
        assert len(validated.accepted) >= 1
    else:
        assert case.expect.check(validated), (validated.counts(), validated.quarantined.to_dict("records"))


def test_errors_reach_the_command_line_as_one_sentence_and_exit_2(tmp_path):
    trails = write_csv(tmp_path / "trails.csv", [{**{k: v for k, v in FIX.items() if k not in ("lat", "lon")},
                                                  "x": 616000, "y": 244000}])
    crimes = write_csv(tmp_path / "crimes.csv", [CRIME])
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(trails), "--crimes", str(crimes), "--out",
                                           str(tmp_path / "out"), "--no-score"])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"error: file {trails}, column 'x':") and "--trails-crs" in last
    assert "Traceback" not in result.output


def test_a_crime_far_outside_the_trails_is_named_in_a_warning(tmp_path):
    trails = load_trails(write_csv(tmp_path / "trails.csv", fixes(30)))
    swapped = {**CRIME, "crime_ref": "SWAPPED", "easting": 244000, "northing": 616000}  # 450 km away
    crimes = load_crimes(write_csv(tmp_path / "crimes.csv", [CRIME, swapped]), target_crs=trails.crs)
    assert len(crimes.accepted) == 2  # a place in Britain: nothing to quarantine on its own
    warning = far_from_trails(crimes.accepted, trails.accepted)
    assert warning is not None and "SWAPPED" in warning and "1 crime(s)" in warning
    assert "easting and northing swapped" in warning
    distance_km = float(warning.split("SWAPPED (")[1].split(" km")[0].replace(",", ""))
    assert 300 < distance_km < 600
    assert far_from_trails(crimes.accepted.iloc[:1], trails.accepted) is None


def test_the_warning_reaches_the_run_summary_and_manifest(tmp_path):
    import json

    trails = write_csv(tmp_path / "trails.csv", fixes(30))
    crimes = write_csv(tmp_path / "crimes.csv", [CRIME, {**CRIME, "crime_ref": "FAR", "easting": 244000,
                                                          "northing": 616000}])
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(trails), "--crimes", str(crimes), "--out",
                                           str(tmp_path / "out"), "--no-score"])
    assert result.exit_code == 0, result.output
    assert "warning: 1 crime(s) lie more than 50 km outside the trails' extent" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert any("FAR" in w for w in manifest["warnings"])


def test_the_metric_crs_is_chosen_from_accepted_rows_only(tmp_path):
    """The wrong-result case measured: with the swapped rows in the median, distances were scaled by 13 %."""
    validated = load_trails(write_csv(tmp_path / "t.csv", fixes(100) + SWAPPED))
    x = validated.accepted["x"].to_numpy()
    assert validated.crs == "EPSG:27700" and np.all((x > 600_000) & (x < 640_000))


@pytest.mark.parametrize("options, words", [
    (["--radius-m", "-100"], "radius_m"),
    (["--radius-m", "nan"], "radius_m"),
    (["--pad-min", "-600"], "pad_s"),
    (["--config", "NEGATIVE_TOML"], "radius_m"),
], ids=["radius -100", "radius nan", "pad -600", "negative radius in TOML"])
def test_options_that_make_no_sense_are_refused_with_exit_2(tmp_path, options, words):
    trails = write_csv(tmp_path / "trails.csv", fixes(3))
    crimes = write_csv(tmp_path / "crimes.csv", [CRIME])
    toml = tmp_path / "match.toml"
    toml.write_text("[offences.burglary_residential]\nradius_m = -50\npad_min = 10\n")
    options = [str(toml) if o == "NEGATIVE_TOML" else o for o in options]
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(trails), "--crimes", str(crimes), "--out",
                                           str(tmp_path / "out"), "--no-score", *options])
    assert result.exit_code == 2, result.output
    assert words in result.output.strip().splitlines()[-1] and "Traceback" not in result.output
    assert not (tmp_path / "out" / "hits.csv").exists()
