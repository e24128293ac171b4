"""The evidence commands: geomatch match --evidence, geomatch evidence, geomatch verify."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cli import geomatch
from tests.geomatch.evidence.test_evidence import build_world


def test_match_with_evidence_then_evidence_from_hits_then_verify(tmp_path):
    trails, crimes = build_world(tmp_path, subjects=("S1",))
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(geomatch, ["match", "--trails", str(trails), "--crimes", str(crimes), "--out", str(out),
                                      "--evidence", "--evidence-top", "1"])
    assert result.exit_code == 0, result.output
    assert "evidence: 1 packs" in result.output
    index = out / "evidence" / "index.html"
    assert index.is_file()
    (pack,) = [p for p in (out / "evidence").iterdir() if p.is_dir()]
    assert (pack / "statement.pdf").is_file()

    again = tmp_path / "again"
    result = runner.invoke(geomatch, ["evidence", "--hits", str(out / "hits.parquet"), "--trails", str(trails),
                                      "--crimes", str(crimes), "--out", str(again), "--workers", "1",
                                      "--context-min", "10", "--vicinity-m", "200", "--min-score", "0"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((again / pack.name / "manifest.json").read_text())
    assert manifest["tool"] == "geomatch evidence"
    assert manifest["parameters"]["options"]["vicinity_m"] == 200.0
    assert [entry["path"] for entry in manifest["inputs"]] == [str(out / "hits.parquet"), str(trails), str(crimes)]

    result = runner.invoke(geomatch, ["verify", str(out)])  # the match run's manifest and the evidence's
    assert result.exit_code == 0, result.output
    assert "3 manifest(s): every file matches" in result.output

    (again / pack.name / "map.png").write_bytes(b"not a map")
    (again / "index.html").unlink()
    result = runner.invoke(geomatch, ["verify", str(again)])
    assert result.exit_code == 1
    assert f"changed: {pack.name}/map.png" in result.output
    assert "missing: index.html" in result.output


def test_bad_input_is_one_sentence_and_exit_2(tmp_path):
    trails, crimes = build_world(tmp_path, subjects=("S1",))
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(geomatch, ["verify", str(empty)])
    assert result.exit_code == 2 and "no manifest.json" in result.output
    (tmp_path / "hits.parquet").write_text("not parquet")
    result = runner.invoke(geomatch, ["evidence", "--hits", str(tmp_path / "hits.parquet"), "--trails", str(trails),
                                      "--crimes", str(crimes), "--out", str(tmp_path / "ev")])
    assert result.exit_code == 2 and "hits file could not be read" in result.output
