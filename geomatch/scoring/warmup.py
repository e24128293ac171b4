"""Load (or compile, the first time) the kernels of every stage of a run, scoring included, on a few fixes:
``python -m geomatch.scoring.warmup`` (``make`` runs it after installing, so numba caches them next to their
modules), and :func:`geomatch.pipeline.prepare_later_stages` on a thread of its own at the start of every run."""
from __future__ import annotations

import time

import pandas as pd

from geomatch.match.config import MatchConfig
from geomatch.match.warmup import warm_up_match
from geomatch.scoring.scorer import Scorer


def warm_up_scored() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, MatchConfig]:
    """Validate, flag, match (:func:`geomatch.match.warmup.warm_up_match`) and score the warm-up's hit; returns the
    scored hits (one), the fixes, the crime and the configuration, for later stages to warm up on."""
    hits, fixes, crimes, config = warm_up_match()
    return Scorer().score(hits, fixes, crimes, config), fixes, crimes, config


def warm_up() -> float:
    """:func:`warm_up_scored`; returns the seconds taken."""
    started = time.perf_counter()
    warm_up_scored()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"    kernels ready ({warm_up():.1f} s)")
