"""Whole jobs as the command line runs them, for notebooks and scripts too: ``geomatch match`` is the match run
(in one process or on Dask), then evidence packs, then the run recorded in the review store."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomatch.core.errors import InputError
from geomatch.match.config import MatchConfig
from geomatch.pipeline import MatchInputs, MatchRun, run_match
from geomatch.scoring import Scorer

if TYPE_CHECKING:  # imported where used: Dask, matplotlib and SQLAlchemy load only for the steps asked for
    from geomatch.engines.dask_engine import DaskOptions
    from geomatch.evidence import EvidenceRun
    from geomatch.store import RecordSummary


@dataclass(frozen=True)
class MatchJob:
    """What ``geomatch match`` produced: the run, its evidence packs and its record in the review store (each
    ``None`` where not asked for)."""

    run: MatchRun
    evidence: EvidenceRun | None = None
    recorded: RecordSummary | None = None


def match_evidence_store(inputs: MatchInputs, out_dir: Path | str, config: MatchConfig | None = None, *,
                         scorer: Scorer | None = Scorer(), evidence_top: int | None = None,
                         evidence_workers: int | None = None, db_url: str | None = None,
                         dask: DaskOptions | None = None, progress: bool = False) -> MatchJob:
    """``geomatch match``: the match job (:func:`run_match`, or on Dask when ``dask`` is given), then evidence
    packs in ``out_dir/evidence`` when ``evidence_workers`` is given, then the run recorded in the review store at
    ``db_url`` when given.

    Args:
        inputs, out_dir, config, scorer, progress: as for :func:`run_match`.
        evidence_top: packs for only the N highest-scored hits (``None``: every hit).
        evidence_workers: processes making packs; ``None`` makes no packs.
        db_url: review store URL (SQLAlchemy), or ``None``.
        dask: run on Dask with these options (``inputs.trails`` is then a partitioned dataset).

    Raises:
        InputError: bad input, or packs asked of a Dask run (its fixes stay on the cluster).
    """
    config = config or MatchConfig()
    out_dir = Path(out_dir)
    if dask is not None:
        if evidence_workers is not None:
            raise InputError("evidence packs need the trails in this process: run geomatch evidence on the hits "
                             "of a Dask run")
        from geomatch.engines.dask_engine import run_match_dask

        run = run_match_dask(inputs, out_dir, config, dask, progress=progress, scorer=scorer)
    else:
        run = run_match(inputs, out_dir, config, progress=progress, scorer=scorer)
    packs = None
    if evidence_workers is not None:
        from geomatch.evidence import make_packs, select_hits

        packs = make_packs(select_hits(run.hits, top=evidence_top), run.trails, run.crimes, out_dir / "evidence",
                           config=config, inputs=inputs.files() if dask is None else [Path(inputs.trails), Path(inputs.crimes)],
                           workers=evidence_workers, progress=progress)
    recorded = None
    if db_url:
        from geomatch.store import record_run

        recorded = record_run(db_url, run.hits, run.crimes.accepted, json.loads(run.manifest.read_text()))
    return MatchJob(run, packs, recorded)
