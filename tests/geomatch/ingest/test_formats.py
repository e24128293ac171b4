"""Every format and container a force or tag vendor sends gives the same hits as the plain CSV of the same data."""
from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import pandas as pd
import pytest

from geomatch.engines.dataset import write_partitioned
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.simulate.world import simulate_world, write_world

KEY = ["crime_ref", "subject_id", "presence", "min_distance_m", "closest_time", "time_in_zone_s"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    write_world(simulate_world(n_subjects=4, days=2, seed=11), folder, trails_format="csv")
    return folder


def hits_of(trails_source, crimes_source, **trails_kwargs) -> pd.DataFrame:
    trails = load_trails(trails_source, **trails_kwargs)
    crimes = load_crimes(crimes_source, target_crs=trails.crs)
    hits = match_hits(trails, crimes, MatchConfig())
    return hits[KEY].astype({"subject_id": str}).sort_values(KEY[:2]).reset_index(drop=True)


@pytest.fixture(scope="module")
def expected(world) -> pd.DataFrame:
    hits = hits_of(world / "trails.csv", world / "crimes.csv")
    assert len(hits) > 5
    return hits


def _text(world: Path) -> str:
    return (world / "trails.csv").read_text(encoding="utf-8")


def semicolons(world, out):
    (out / "t.csv").write_text(_text(world).replace(",", ";"))
    return out / "t.csv"


def tabs(world, out):
    (out / "t.tsv").write_text(_text(world).replace(",", "\t"))
    return out / "t.tsv"


def pipes(world, out):
    (out / "t.txt").write_text(_text(world).replace(",", "|"))
    return out / "t.txt"


def bom_and_crlf(world, out):
    (out / "t.csv").write_bytes(b"\xef\xbb\xbf" + _text(world).replace("\n", "\r\n").encode())
    return out / "t.csv"


def gz(world, out):
    with gzip.open(out / "t.csv.gz", "wt") as handle:
        handle.write(_text(world))
    return out / "t.csv.gz"


def zipped(world, out):
    with zipfile.ZipFile(out / "t.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export/trails.csv", _text(world))
    return out / "t.zip"


def xlsx(world, out):
    pd.read_csv(world / "trails.csv", dtype=str).to_excel(out / "t.xlsx", index=False)
    return out / "t.xlsx"


def parquet(world, out):
    pd.read_csv(world / "trails.csv").to_parquet(out / "t.parquet")
    return out / "t.parquet"


def geojson(world, out):
    frame = pd.read_csv(world / "trails.csv", dtype={"timestamp": str})
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lat", "lon"]), geometry=gpd.points_from_xy(frame.lon, frame.lat),
                           crs="EPSG:4326")
    gdf.to_file(out / "t.geojson", driver="GeoJSON")
    return out / "t.geojson"


def folder(world, out):
    frame = pd.read_csv(world / "trails.csv", dtype=str)
    (out / "parts").mkdir()
    for i, (_, part) in enumerate(frame.groupby("subject_id")):
        part.to_csv(out / "parts" / f"subject-{i}.csv", index=False)
    return out / "parts"


def glob_pattern(world, out):
    return str(folder(world, out) / "subject-*.csv")


def list_of_files(world, out):
    return sorted(folder(world, out).glob("*.csv"))


def hive_dataset(world, out):
    write_partitioned(world / "trails.csv", str(out / "dataset"), by=("subject", "day"), buckets=3)
    return out / "dataset"


FORMATS = [semicolons, tabs, pipes, bom_and_crlf, gz, zipped, xlsx, parquet, geojson, folder, glob_pattern,
           list_of_files, hive_dataset]


@pytest.mark.parametrize("make", FORMATS, ids=[f.__name__ for f in FORMATS])
def test_every_format_gives_the_same_hits_as_the_plain_csv(world, expected, make, tmp_path):
    source = make(world, tmp_path)
    trails = load_trails(source)
    plain = load_trails(world / "trails.csv")
    assert trails.counts() == plain.counts()
    if trails.per_file:  # several files: each reconciles and they add up
        assert sum(f["rows_in"] for f in trails.per_file.values()) == trails.rows_in
    pd.testing.assert_frame_equal(hits_of(source, world / "crimes.csv"), expected)


def test_gpx_tracks_give_the_same_hits_as_the_csv_without_accuracy(world, tmp_path):
    frame = pd.read_csv(world / "trails.csv", dtype=str)
    tracks = []
    for subject, part in frame.groupby("subject_id"):
        points = "".join(f'<trkpt lat="{r.lat}" lon="{r.lon}"><ele>12</ele><time>{r.timestamp}</time></trkpt>'
                         for r in part.itertuples())
        tracks.append(f"<trk><name>{escape(subject)}</name><trkseg>{points}</trkseg></trk>")
    gpx = tmp_path / "tag.gpx"
    gpx.write_text('<?xml version="1.0"?><gpx version="1.1" creator="test" '
                   f'xmlns="http://www.topografix.com/GPX/1/1">{"".join(tracks)}</gpx>')
    frame.drop(columns=["accuracy_m", "source"]).to_csv(tmp_path / "plain.csv", index=False)
    pd.testing.assert_frame_equal(hits_of(gpx, world / "crimes.csv"),
                                  hits_of(tmp_path / "plain.csv", world / "crimes.csv"))
    one = load_trails(gpx, gpx_subject="file")
    assert set(one.accepted["subject_id"]) == {"tag"}
    named = load_trails(gpx, gpx_subject="TAG-0042")
    assert set(named.accepted["subject_id"]) == {"TAG-0042"}


def test_crimes_from_xlsx_and_a_folder_give_the_same_hits(world, expected, tmp_path):
    crimes = pd.read_csv(world / "crimes.csv", dtype=str)
    crimes.to_excel(tmp_path / "crimes.xlsx", index=False)
    pd.testing.assert_frame_equal(hits_of(world / "trails.csv", tmp_path / "crimes.xlsx"), expected)
    (tmp_path / "crimes").mkdir()
    half = len(crimes) // 2
    crimes.iloc[:half].to_csv(tmp_path / "crimes" / "a.csv", index=False)
    crimes.iloc[half:].to_csv(tmp_path / "crimes" / "b.csv", index=False, sep=";")
    pd.testing.assert_frame_equal(hits_of(world / "trails.csv", tmp_path / "crimes"), expected)


def test_the_moj_file_gives_the_same_hits_from_a_zip(world, tmp_path):
    with zipfile.ZipFile(tmp_path / "moj.zip", "w") as archive:
        archive.write(world / "crimes_moj.csv", "crimes_moj.csv")
    pd.testing.assert_frame_equal(hits_of(world / "trails.csv", tmp_path / "moj.zip"),
                                  hits_of(world / "trails.csv", world / "crimes_moj.csv"))


def test_windows_1252_is_read_with_a_note(world, tmp_path):
    text = _text(world).replace("S001", "Sé001")
    (tmp_path / "utf8.csv").write_text(text, encoding="utf-8")
    (tmp_path / "cp1252.csv").write_bytes(text.encode("cp1252"))
    latin = load_trails(tmp_path / "cp1252.csv")
    assert latin.notes == ("the file is not UTF-8; it was read as Windows-1252",)
    assert "Sé001" in set(latin.accepted["subject_id"])
    pd.testing.assert_frame_equal(hits_of(tmp_path / "cp1252.csv", world / "crimes.csv"),
                                  hits_of(tmp_path / "utf8.csv", world / "crimes.csv"))


def test_a_partitioned_dataset_gives_the_dask_engines_hits_on_the_local_engine(world, tmp_path):
    from geomatch.engines.dask_engine import DaskOptions, run_match_dask
    from geomatch.pipeline import MatchInputs, run_match

    dataset = hive_dataset(world, tmp_path)
    local = run_match(MatchInputs(trails=dataset, crimes=world / "crimes.csv"), tmp_path / "local", scorer=None)
    dask = run_match_dask(MatchInputs(trails=str(dataset), crimes=world / "crimes.csv"), tmp_path / "dask",
                          MatchConfig(), DaskOptions(workers=1), scorer=None)
    columns = [c for c in local.hits.columns if c in dask.hits.columns]
    pd.testing.assert_frame_equal(local.hits[columns].astype({"subject_id": str}),
                                  dask.hits[columns].astype({"subject_id": str}))
    assert local.trails.counts() == dask.trails.counts()
    shutil.rmtree(tmp_path / "dask")


def test_the_command_takes_the_option_again_and_reconciles_each_file(world, tmp_path):
    import json

    from click.testing import CliRunner

    from cli import geomatch

    parts = list_of_files(world, tmp_path)
    args = ["match", "--crimes", str(world / "crimes.csv"), "--out", str(tmp_path / "out"), "--no-score"]
    for part in parts:
        args += ["--trails", str(part)]
    result = CliRunner().invoke(geomatch, args)
    assert result.exit_code == 0, result.output
    for part in parts:
        assert f"({part})" in result.output  # a line of counts per file, beside the total
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    per_file = manifest["counts"]["trails_files"]
    assert sorted(per_file) == sorted(map(str, parts))
    assert sum(f["rows_in"] for f in per_file.values()) == manifest["counts"]["trails"]["rows_in"]
    assert {Path(i["path"]).name for i in manifest["inputs"]} >= {p.name for p in parts}
