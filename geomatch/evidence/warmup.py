"""Compile (the first time) and cache the kernels that evidence packs draw with, by making the pack of the
warm-up's hit in a temporary folder: ``python -m geomatch.evidence.warmup`` (``make`` runs it after installing,
after :mod:`geomatch.scoring.warmup`). A run's pack workers then load the kernels from numba's cache; without it,
a fresh clone's first demo compiled them in each of its two pack workers at once."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from geomatch.core.crs import BNG
from geomatch.evidence.context import EvidenceOptions
from geomatch.evidence.pack import make_packs
from geomatch.scoring.warmup import warm_up_scored


def warm_up() -> float:
    """Make the pack of the warm-up's scored hit (:func:`~geomatch.scoring.warmup.warm_up_scored`) in a temporary
    folder; returns the seconds taken.

    Raises:
        RuntimeError: the pack failed (with its reason).
    """
    started = time.perf_counter()
    scored, fixes, crimes, config = warm_up_scored()  # the fixes are in Great Britain: British National Grid
    with tempfile.TemporaryDirectory(prefix="geomatch-warm-up-") as folder:
        run = make_packs(scored, fixes, crimes, Path(folder), config=config, options=EvidenceOptions(crs=BNG))
    if run.failures or len(run.packs) != 1:
        raise RuntimeError(f"the warm-up's evidence pack was not made: {run.failures}")
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"    evidence kernels ready ({warm_up():.1f} s)")
