"""The warm-up that ``make`` runs after installing and every run starts on a thread: validation, quality, matching
and scoring of three fixes, without error (its match gives the one observed hit the scorer warms up on)."""
from __future__ import annotations

from geomatch.match.warmup import warm_up_match
from geomatch.scoring.warmup import warm_up


def test_the_warm_up_match_gives_one_observed_hit_to_score():
    hits, fixes, crimes, _ = warm_up_match()
    assert list(hits["presence"]) == ["observed"] and len(fixes) == 3 and len(crimes) == 1


def test_warm_up_scores_without_error():
    assert warm_up() > 0
