"""The warm-up that loads the kernels of validation, quality and matching (run by ``make`` after installing, and on
a thread of its own at the start of every run): it goes through those stages without error."""
from __future__ import annotations

import sys

from geomatch.match.warmup import warm_up
from geomatch.pipeline import prepare_later_stages


def test_warm_up_goes_through_every_stage():
    assert warm_up() > 0


def test_the_preparing_thread_ends_and_leaves_polars_imported():
    preparing = prepare_later_stages()
    preparing.join(timeout=120)
    assert not preparing.is_alive() and "polars" in sys.modules
