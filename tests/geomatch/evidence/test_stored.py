"""Packs from the review store: geomatch match --db keeps each hit's rows, and a pack made later from the store
alone is byte-identical to the one made at match time."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from cli import geomatch
from geomatch.core.errors import InputError
from geomatch.evidence.pack import PACK_FILES
from geomatch.evidence.stored import make_packs_from_store
from geomatch.jobs import match_evidence_store
from geomatch.pipeline import MatchInputs
from geomatch.store import add_review, load_pack_sources
from tests.geomatch.evidence.test_evidence import build_world


def _manifest_without_time(path):
    manifest = json.loads(path.read_text())
    manifest.pop("generated_at")
    return manifest


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stored")
    trails, crimes = build_world(folder)
    db_url = f"sqlite:///{folder / 'store.db'}"
    job = match_evidence_store(MatchInputs(trails, crimes), folder / "run", db_url=db_url, evidence_workers=1)
    return folder, trails, crimes, db_url, job


def test_match_db_keeps_every_hits_rows(recorded):
    _, _, _, db_url, job = recorded
    hits = job.run.hits
    assert job.recorded.pack_sources_kept == len(hits) >= 3
    (group,) = load_pack_sources(db_url, hits["hit_id"])
    assert group.crs == "EPSG:27700" and group.context_s == 1800.0
    assert [e["path"] for e in group.inputs] == [str(p) for p in recorded[1:3]]
    assert list(group.hits["hit_id"]) == list(hits["hit_id"])
    assert set(group.fixes) == set(hits["subject_id"].astype(str))
    for subject, fixes in group.fixes.items():  # the kept fixes are the subject's trail rows, unchanged
        trail = job.run.trails.accepted
        original = trail[trail["subject_id"].astype(str) == subject].reset_index(drop=True)
        assert len(fixes) <= len(original)
        assert fixes["timestamp"].is_monotonic_increasing
        merged = fixes.merge(original, on=list(original.columns), how="left", indicator=True)
        assert (merged["_merge"] == "both").all()
        assert fixes.dtypes.equals(original.dtypes)


def test_pack_from_the_store_is_identical_to_the_pack_made_at_match_time(recorded, tmp_path):
    folder, trails, crimes, db_url, job = recorded
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    # the input files are gone: packs come from the store alone
    for path in (trails, crimes):
        shutil.move(path, moved / path.name)
    try:
        ids = list(job.evidence.packs)
        later = make_packs_from_store(db_url, tmp_path / "later", hit_ids=[p.name for p in ids])
    finally:
        for path in (trails, crimes):
            shutil.move(moved / path.name, path)
    assert [p.name for p in later.packs] == [p.name for p in ids]
    for original, again in zip(ids, later.packs):
        for name in PACK_FILES:
            assert (original / name).read_bytes() == (again / name).read_bytes(), (original.name, name)
        assert _manifest_without_time(original / "manifest.json") == _manifest_without_time(again / "manifest.json")


def test_packs_by_status_and_score_from_the_cli(recorded, tmp_path):
    _, _, _, db_url, job = recorded
    reviewed = job.run.hits.sort_values("score", ascending=False)["hit_id"].iloc[0]
    add_review(db_url, reviewed, outcome="no_further_action", by="PC 1")
    pending = set(job.run.hits["hit_id"]) - {reviewed}
    result = CliRunner().invoke(geomatch, ["evidence", "--db", db_url, "--status", "pending",
                                           "--out", str(tmp_path / "pending")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "pending").iterdir() if p.is_dir()} == pending
    lowest = float(job.run.hits["score"].min())
    result = CliRunner().invoke(geomatch, ["evidence", "--db", db_url, "--min-score", str(lowest + 1e-6),
                                           "--out", str(tmp_path / "scored")])
    assert result.exit_code == 0, result.output
    made = {p.name for p in (tmp_path / "scored").iterdir() if p.is_dir()}
    assert made == set(job.run.hits.loc[job.run.hits["score"] > lowest, "hit_id"])


def test_unknown_hits_and_longer_context_are_refused(recorded, tmp_path):
    _, _, _, db_url, job = recorded
    with pytest.raises(InputError, match="no fixes kept in the store"):
        make_packs_from_store(db_url, tmp_path / "x", hit_ids=["HFFFF"])
    with pytest.raises(InputError, match="asks for more"):
        make_packs_from_store(db_url, tmp_path / "x", hit_ids=[job.run.hits["hit_id"].iloc[0]],
                              context_s=3600.0)
    result = CliRunner().invoke(geomatch, ["evidence", "--db", db_url, "--hit", "HFFFF", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no fixes kept in the store" in result.output
