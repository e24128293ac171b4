"""The evidence warm-up that ``make`` runs after installing: the pack of the warm-up's hit is made (compiling the
drawing kernels once, so that a run's pack workers load them from the cache) and leaves nothing behind."""
from __future__ import annotations

import tempfile
from pathlib import Path

from geomatch.evidence.warmup import warm_up


def test_the_evidence_warm_up_makes_its_pack_and_leaves_no_folder():
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("geomatch-warm-up-*"))
    assert warm_up() > 0
    assert set(temporary.glob("geomatch-warm-up-*")) == before
