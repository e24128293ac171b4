"""A trail held in pieces (a partitioned dataset's files): each piece flagged on its own, then its ends judged
with the pieces around it, gives the flags of the whole trail flagged at once."""
from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geomatch.quality import QualityRule, flag_quality
from geomatch.quality.pieces import judge_ends, merged_ends, trail_ends
from tests.geomatch.match.test_matcher_oracle import T0, make_trails
from tests.geomatch.quality.test_flags import jumpy_trails

RULE = QualityRule()


def flags_by_pieces(trails: pd.DataFrame, cuts: list[int], rule: QualityRule) -> pd.DataFrame:
    """The trails cut at ``cuts`` (seconds after T0: a piece starts at each), each piece flagged alone, then its
    ends judged with the merged ends of the pieces before and after it; the pieces joined again."""
    seconds = (trails["timestamp"] - T0).dt.total_seconds()
    piece = pd.cut(seconds, [-1e18, *sorted(set(cuts)), 1e18], right=False, labels=False)
    pieces = [flag_quality(trails[piece == p].reset_index(drop=True), rule) for p in sorted(set(piece))]
    ends = [trail_ends(fixes, rule) for fixes in pieces]
    befores, running = [], merged_ends([], rule, "tail")
    for head_tail in ends:
        befores.append(running)
        running = merged_ends([running, head_tail[1]], rule, "tail")
    judged, running = [], merged_ends([], rule, "head")
    for fixes, head_tail, before in reversed(list(zip(pieces, ends, befores))):
        corrected = judge_ends(fixes, head_tail, before, running, rule)
        judged.append(fixes if corrected is None else corrected)
        running = merged_ends([running, head_tail[0]], rule, "head")
    whole = pd.concat([f.astype({"quality_reason": str}) for f in reversed(judged)], ignore_index=True)
    return whole.sort_values(["subject_id", "timestamp"], kind="stable").reset_index(drop=True)


def assert_same_flags(trails: pd.DataFrame, cuts: list[int], rule: QualityRule = RULE) -> pd.DataFrame:
    expected = flag_quality(trails, rule)
    got = flags_by_pieces(trails, cuts, rule)
    assert list(got["quality"].astype(str)) == list(expected["quality"].astype(str))
    assert list(got["quality_reason"]) == list(expected["quality_reason"].astype(str))
    return expected


def spike_at(second: int, run: int = 1) -> list[tuple]:
    """A subject standing still with a fix every 10 s for 10 minutes, and a spike of ``run`` fixes 2 km away
    from ``second`` on (one fix a second)."""
    points = [("A", s, 0.0, 0.0, 5.0) for s in range(0, 600, 10) if not second <= s < second + run + 1]
    return points + [("A", second + k, 2000.0, 0.0, 5.0) for k in range(run)]


def test_a_spike_as_a_pieces_last_or_first_fix_is_flagged():
    for cut in (301, 300):  # the spike at 300 s ends the first piece, then starts the second
        expected = assert_same_flags(make_trails(spike_at(300)), [cut])
        assert (expected["quality"] == "outlier").sum() == 1


def test_a_run_of_spikes_across_the_cut_and_a_fallback_fix_beside_it():
    expected = assert_same_flags(make_trails(spike_at(298, run=4)), [300])
    assert (expected["quality"] == "outlier").sum() == 4
    points = spike_at(300) + [("A", 305, 0.0, 0.0, 704.0)]  # an LBS fix between the spike and the next fix
    expected = assert_same_flags(make_trails(points), [303])
    assert list(expected["quality"].astype(str)).count("fallback") == 1
    assert (expected["quality"] == "outlier").sum() == 1


def test_neighbours_pieces_away_and_a_piece_with_one_fix():
    points = spike_at(300)
    cuts = [295, 298, 299, 301, 302, 305, 320, 900]  # the spike alone in its piece, empty pieces around
    expected = assert_same_flags(make_trails(points), cuts)
    assert (expected["quality"] == "outlier").sum() == 1
    assert_same_flags(make_trails(points), [305], QualityRule(outlier_max_run_s=0))


@st.composite
def cut_trails(draw):
    trails = draw(jumpy_trails())
    last = int((trails["timestamp"].max() - T0).total_seconds())
    cuts = draw(st.lists(st.integers(0, last + 1), max_size=6))
    return trails, cuts, QualityRule(outlier_max_run_s=draw(st.sampled_from([0.0, 3.0, 60.0, 600.0])))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut_trails())
def test_pieces_give_the_whole_trails_flags(case):
    trails, cuts, rule = case
    assert_same_flags(trails, cuts, rule)
