"""The match warm-up (validation, quality and matching of four fixes, which the scoring warm-up that ``make`` and
every run's preparing thread use goes on from) gives its hit; the preparing thread ends with polars imported."""
from __future__ import annotations

import sys

from geomatch.match.warmup import warm_up_match
from geomatch.pipeline import prepare_later_stages


def test_warm_up_goes_through_every_stage():
    hits, _, _, _ = warm_up_match()
    assert len(hits) == 1


def test_the_preparing_thread_ends_and_leaves_polars_imported():
    preparing = prepare_later_stages()
    preparing.join(timeout=120)
    assert not preparing.is_alive() and "polars" in sys.modules
