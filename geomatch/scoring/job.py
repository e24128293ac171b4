"""The ``geomatch score`` job: (re)score a hits file written by ``geomatch match`` and write it back with a
manifest that says which model scored it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geomatch.match.config import MatchConfig
from geomatch.ingest.crimes import load_crimes
from geomatch.core.manifest import MANIFEST_NAME, read_manifest, sha256_file, write_manifest
from geomatch.match.output import read_hits, write_hits
from geomatch.scoring.scorer import Scorer
from geomatch.ingest.trails import load_trails
from geomatch.quality import assess_trails


@dataclass(frozen=True)
class ScoreRun:
    """What a scoring job produced."""

    hits: pd.DataFrame
    outputs: tuple[Path, ...]
    manifest: Path


def rescore(hits_path: Path | str, trails_path: Path | str, out_dir: Path | str | None = None, *,
            crimes_path: Path | str | None = None, scorer: Scorer | None = None,
            match_config: MatchConfig | None = None, progress: bool = False) -> ScoreRun:
    """Score the hits in ``hits_path`` (Parquet) against the trails they were matched on.

    Args:
        hits_path: ``hits.parquet`` from ``geomatch match``.
        trails_path: the trails file of that run (read the same way; the metric CRS is taken from the run's
            manifest when it is next to the hits).
        out_dir: where to write ``hits.parquet``, ``hits.csv`` and ``manifest.json`` (default: the hits' folder;
            its manifest is then replaced by one that keeps the match run's manifest inside it).
        crimes_path: the crimes file, needed only for hits without ``scene_x``/``scene_y`` (older files).
        scorer: the model and settings (default: the default model).
        match_config: the matching parameters of the run.
    """
    hits_path = Path(hits_path)
    out_dir = Path(out_dir) if out_dir is not None else hits_path.parent
    scorer = scorer or Scorer()
    previous_manifest = hits_path.parent / MANIFEST_NAME
    before = read_manifest(previous_manifest) if previous_manifest.is_file() else None
    hits = read_hits(hits_path)  # one sentence naming the file when it is not a hits file
    hits_sha = sha256_file(hits_path)
    match_config = match_config or MatchConfig()
    trails = assess_trails(load_trails(trails_path), match_config.quality_rule)  # the same CRS as at match time
    crimes = load_crimes(crimes_path, target_crs=trails.crs, naive_tz=match_config.naive_tz,
                         max_window_s=match_config.max_window_s).accepted if crimes_path is not None else None
    scored = scorer.score(hits, trails.accepted, crimes, match_config, progress=progress)
    outputs = write_hits(scored, out_dir)
    if before is not None and out_dir.resolve() == hits_path.parent.resolve():
        outputs += _unchanged_outputs(before, out_dir, outputs)
    inputs = [Path(trails_path)] + ([Path(crimes_path)] if crimes_path is not None else [])
    if out_dir.resolve() != hits_path.parent.resolve():
        inputs.insert(0, hits_path)
    manifest = write_manifest(
        out_dir, tool="geomatch score", parameters={"score": scorer.describe()}, inputs=inputs, outputs=outputs,
        counts={"hits": len(scored), "trail_fixes": trails.counts()},
        extra={"crs": trails.crs, "score": scorer.describe(),
               "rescored": {"hits": str(hits_path), "hits_sha256_before": hits_sha, "match_manifest": before}})
    return ScoreRun(scored, tuple(outputs), manifest)


def _unchanged_outputs(before: dict, out_dir: Path, rewritten: list[Path]) -> list[Path]:
    """The files the replaced manifest listed (quarantine, evidence) that are not rewritten and still match it, so
    the new manifest lists them too; a file that changed is left out and ``geomatch verify`` reports it."""
    kept, rewritten_names = [], {p.resolve() for p in rewritten}
    for entry in before["outputs"]:
        path = out_dir / entry["path"]
        if path.resolve() not in rewritten_names and path.is_file() and sha256_file(path) == entry["sha256"]:
            kept.append(path)
    return kept
