"""Stale outputs: an evidence run replaces an earlier run's packs in its folder, touches nothing a manifest does
not list, and verify reports files that no manifest lists."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cli import geomatch
from geomatch.core.manifest import verify_tree
from geomatch.evidence import make_packs
from geomatch.pipeline import MatchInputs, run_match
from tests.geomatch.evidence.test_evidence import build_world


def test_a_second_run_removes_the_packs_of_hits_that_are_gone(tmp_path):
    trails, crimes = build_world(tmp_path)
    run = run_match(MatchInputs(trails, crimes), tmp_path / "run")
    out = tmp_path / "evidence"
    first = make_packs(run.hits, run.trails, run.crimes, out)
    assert len(first.packs) == len(run.hits) >= 3
    (out / "notes.txt").write_text("a reviewer's own file")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the tool's")
    gone = first.packs[1]
    manifest = json.loads((gone / "manifest.json").read_text())
    manifest["outputs"].append({"path": "../../outside.txt", "sha256": "0" * 64, "bytes": 1})  # tampered
    (gone / "manifest.json").write_text(json.dumps(manifest))

    second = make_packs(run.hits.iloc[[0]], run.trails, run.crimes, out)
    assert [p.name for p in second.packs] == [first.packs[0].name]
    assert sorted(p.name for p in out.iterdir()) == sorted([first.packs[0].name, "index.html", "manifest.json",
                                                            "notes.txt"])
    assert outside.read_text() == "not the tool's" and (out / "notes.txt").is_file()
    count, problems = verify_tree(out)
    assert count == 2 and [(p.path, p.problem) for p in problems] == [("notes.txt", "not listed")]
    result = CliRunner().invoke(geomatch, ["verify", str(out)])
    assert result.exit_code == 1 and "not listed: notes.txt" in result.output
    (out / "notes.txt").unlink()
    assert CliRunner().invoke(geomatch, ["verify", str(out)]).exit_code == 0
