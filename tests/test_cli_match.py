"""`geomatch match` end to end: outputs, determinism, the summary, quarantine and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import geomatch
from geomatch.core.manifest import sha256_file, verify_manifest
from geomatch.match.matcher import HIT_COLUMNS
from geomatch.simulate.world import simulate_world, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    write_world(simulate_world(n_subjects=6, days=2, seed=3), folder, dirty=True)
    return folder


def run(*args: str):
    return CliRunner().invoke(geomatch, ["match", *args, "--no-score"], catch_exceptions=False)


def test_match_writes_hits_quarantine_and_manifest(world, tmp_path):
    result = run("--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv"),
                 "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    hits = pd.read_parquet(out / "hits.parquet")
    assert list(hits.columns)[: len(HIT_COLUMNS)] == HIT_COLUMNS
    assert hits["presence"].isin(["observed", "interpolated", "possible"]).all()
    assert list(hits[["crime_ref", "subject_id"]].itertuples(index=False)) == sorted(
        hits[["crime_ref", "subject_id"]].itertuples(index=False))
    csv = pd.read_csv(out / "hits.csv")
    assert len(csv) == len(hits) and csv["closest_time"].str.endswith("Z").all()

    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    for name in ("trails", "crimes"):
        assert counts[name]["rows_in"] == counts[name]["accepted"] + counts[name]["quarantined"]
        quarantined = pd.read_csv(out / "quarantine" / f"{name}.csv")
        assert len(quarantined) == counts[name]["quarantined"] > 0 and quarantined["reason"].notna().all()
    assert manifest["parameters"]["config"]["interp_max_gap_s"] == 300
    assert {e["path"] for e in manifest["outputs"]} >= {"hits.parquet", "hits.csv", "quarantine/trails.csv"}
    assert manifest["inputs"][0]["sha256"] == sha256_file(world / "trails.parquet")
    assert verify_manifest(out) == []
    assert "quarantined" in result.output and "hits:" in result.output and "time:" in result.output


def test_rerun_is_byte_identical(world, tmp_path):
    for name in ("a", "b"):
        assert run("--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv"),
                   "--out", str(tmp_path / name)).exit_code == 0
    for file in ("hits.parquet", "hits.csv", "quarantine/trails.csv", "quarantine/crimes.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_the_run_asks_for_lean_memory(world, tmp_path):
    """numpy's huge-page advice is off and Arrow allocates from the system allocator for a match run: fresh huge
    pages and mimalloc's eagerly committed arenas cost seconds of system CPU at scale."""
    import numpy as np
    import pyarrow as pa

    previous_advice = np._core.multiarray._set_madvise_hugepage(True)
    previous_pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        assert run("--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv"),
                   "--out", str(tmp_path / "out")).exit_code == 0
        assert np._core.multiarray._get_madvise_hugepage() is False
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        np._core.multiarray._set_madvise_hugepage(previous_advice)
        pa.set_memory_pool(previous_pool)


def test_moj_format_and_uniform_rule(world, tmp_path):
    result = run("--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes_moj.csv"),
                 "--out", str(tmp_path / "moj"), "--radius-m", "50", "--pad-min", "5")
    assert result.exit_code == 0, result.output
    hits = pd.read_parquet(tmp_path / "moj" / "hits.parquet")
    assert (hits["radius_m"] == 50).all()
    assert ((hits["window_end"] - hits["window_start"]) >= pd.Timedelta(minutes=10)).all()


def test_config_file_sets_radius_per_offence(world, tmp_path):
    config = tmp_path / "match.toml"
    config.write_text("[offences.burglary_residential]\nradius_m = 30\npad_min = 0\n")
    assert run("--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv"),
               "--out", str(tmp_path / "c"), "--config", str(config)).exit_code == 0
    hits = pd.read_parquet(tmp_path / "c" / "hits.parquet")
    assert set(hits.loc[hits.offence == "burglary_residential", "radius_m"]) <= {30.0}
    assert set(hits.loc[hits.offence != "burglary_residential", "radius_m"]) <= {100.0}


def test_missing_column_is_one_sentence_and_exit_2(world, tmp_path):
    crimes = pd.read_csv(world / "crimes.csv").drop(columns=["committed_to"])
    crimes.to_csv(tmp_path / "crimes.csv", index=False)
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(world / "trails.parquet"), "--crimes",
                                           str(tmp_path / "crimes.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: file {tmp_path / 'crimes.csv'}, column 'committed_to': required column is missing (the file has: "
        f"crime_ref, offence, easting, northing, committed_from, area, free_text).")
    assert "Traceback" not in result.output


def test_unreadable_file_and_bad_config_exit_2(world, tmp_path):
    (tmp_path / "trails.parquet").write_bytes(b"PAR1 not really")
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(tmp_path / "trails.parquet"), "--crimes",
                                           str(world / "crimes.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "could not be read" in result.output
    (tmp_path / "bad.toml").write_text("[offences.shoplifting]\nradius_m = 5\n")
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(world / "trails.parquet"), "--crimes",
                                           str(world / "crimes.csv"), "--out", str(tmp_path / "o"),
                                           "--config", str(tmp_path / "bad.toml")])
    assert result.exit_code == 2 and "unknown offence 'shoplifting'" in result.output
