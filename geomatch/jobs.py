"""Whole jobs as the command line runs them, for notebooks and scripts too: ``geomatch match`` is the match run
(in one process or on Dask), then the run recorded in the review store, then evidence packs (which show each hit's review status)."""
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
    from geomatch.evidence import EvidenceOptions, EvidenceRun
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
                         evidence_workers: int | None = None, evidence_options: EvidenceOptions | None = None,
                         db_url: str | None = None,
                         dask: DaskOptions | None = None, progress: bool = False) -> MatchJob:
    """``geomatch match``: the match job (:func:`run_match`, or on Dask when ``dask`` is given), then the run
    recorded in the review store at ``db_url`` when given, then evidence packs in ``out_dir/evidence`` when
    ``evidence_workers`` is given (their index shows each hit's review status from the store).

    Args:
        inputs, out_dir, config, scorer, progress: as for :func:`run_match`.
        evidence_top: packs for only the N highest-scored hits (``None``: every hit).
        evidence_workers: processes making packs; ``None`` makes no packs.
        evidence_options: how packs are drawn (the basemap, say); default :class:`EvidenceOptions`.
        db_url: review store URL (SQLAlchemy), or ``None``; the store also keeps, per hit, the rows its pack is
            drawn from (:mod:`geomatch.evidence.stored`), so ``geomatch evidence --db`` can make it later.
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
    recorded = statuses = None
    if db_url:  # recorded first, so the evidence index shows each hit's review status
        from geomatch.store import list_hits, record_run

        manifest = json.loads(run.manifest.read_text())
        sources = None
        if dask is None:  # a Dask run's fixes stay on the cluster: its packs need the input files
            from geomatch.evidence.stored import pack_sources

            sources = pack_sources(run.hits, run.trails.accepted, run.crimes.accepted, crs=run.crs, config=config,
                                   inputs=manifest["inputs"],  # hashed once, by the run
                                   **({"context_s": evidence_options.context_s} if evidence_options else {}))
        recorded = record_run(db_url, run.hits, run.crimes.accepted, manifest, pack_sources=sources)
        stored = list_hits(db_url) if evidence_workers is not None else None
        statuses = None if stored is None else dict(zip(stored["hit_id"], stored["status"]))
    packs = None
    if evidence_workers is not None:
        from geomatch.evidence import make_packs, select_hits

        packs = make_packs(select_hits(run.hits, top=evidence_top), run.trails, run.crimes, out_dir / "evidence",
                           config=config, options=evidence_options,
                           inputs=inputs.files(),
                           workers=evidence_workers, progress=progress, review_status=statuses)
    return MatchJob(run, packs, recorded)
