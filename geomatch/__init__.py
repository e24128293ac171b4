"""geomatch: match GPS trails of tagged subjects against crime records, measure and rank the hits.

The public API is re-exported here and imported lazily, so ``import geomatch`` stays fast (the matcher's compiled
kernels, matplotlib and SQLAlchemy load only when first used)::

    import geomatch
    trails = geomatch.load_trails("trails.parquet")
    crimes = geomatch.load_crimes("crimes.csv", target_crs=trails.crs)
    hits = geomatch.match_hits(trails, crimes)

Layers (each imports only those above it; ``tests/test_layering.py`` checks it):

* :mod:`geomatch.core` shared plumbing, also used by :mod:`vvol`;
* :mod:`geomatch.ingest` reading and validating trails and crimes;
* :mod:`geomatch.match` the matcher and its configuration;
* :mod:`geomatch.store` the review store; :mod:`geomatch.scoring` ranking the hits;
* :mod:`geomatch.evidence` evidence packs;
* :mod:`geomatch.pipeline` and :mod:`geomatch.engines` whole jobs; :mod:`geomatch.simulate` a synthetic world.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from geomatch.core.lazy import lazy_exports
from geomatch.core.version import __version__

_EXPORTS = {
    "InputError": "geomatch.core.errors",
    "Validated": "geomatch.core.quarantine",
    "load_trails": "geomatch.ingest.trails",
    "load_crimes": "geomatch.ingest.crimes",
    "MatchConfig": "geomatch.match.config",
    "match_hits": "geomatch.match.matcher",
    "PRESENCE_CLASSES": "geomatch.match.matcher",
    "read_hits": "geomatch.match.output",
    "MatchInputs": "geomatch.pipeline",
    "MatchRun": "geomatch.pipeline",
    "run_match": "geomatch.pipeline",
    "format_summary": "geomatch.pipeline",
    "format_uk": "geomatch.core.times",
    "match_evidence_store": "geomatch.jobs",
    "MatchJob": "geomatch.jobs",
    "Scorer": "geomatch.scoring",
    "ScoreConfig": "geomatch.scoring",
    "fit_model": "geomatch.scoring",
    "load_model": "geomatch.scoring",
    "EvidenceOptions": "geomatch.evidence",
    "make_packs": "geomatch.evidence",
    "make_pack": "geomatch.evidence",
    "select_hits": "geomatch.evidence",
    "record_run": "geomatch.store",
    "add_review": "geomatch.store",
    "list_hits": "geomatch.store",
    "get_hit": "geomatch.store",
    "build_audit": "geomatch.store",
    "write_audit": "geomatch.store",
    "verify_chain": "geomatch.store",
    "verify_tree": "geomatch.core.manifest",
    "simulate_world": "geomatch.simulate",
    "write_world": "geomatch.simulate",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # noqa: F401  (for type checkers and IDEs; at run time the names come from __getattr__)
    from geomatch.core.errors import InputError
    from geomatch.core.manifest import verify_tree
    from geomatch.core.quarantine import Validated
    from geomatch.evidence import EvidenceOptions, make_pack, make_packs, select_hits
    from geomatch.ingest.crimes import load_crimes
    from geomatch.ingest.trails import load_trails
    from geomatch.match.config import MatchConfig
    from geomatch.match.matcher import PRESENCE_CLASSES, match_hits
    from geomatch.match.output import read_hits
    from geomatch.core.times import format_uk
    from geomatch.jobs import MatchJob, match_evidence_store
    from geomatch.pipeline import MatchInputs, MatchRun, format_summary, run_match
    from geomatch.scoring import ScoreConfig, Scorer, fit_model, load_model
    from geomatch.simulate import simulate_world, write_world
    from geomatch.store import (add_review, build_audit, get_hit, list_hits, record_run, verify_chain,
                                write_audit)
