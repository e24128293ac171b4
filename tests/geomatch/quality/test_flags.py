"""The trail-quality stage: fallback and outlier flags with their reasons, against a plain-loop statement of
the rule, and never a fix dropped."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geomatch.core.errors import InputError
from geomatch.match.config import MatchConfig
from geomatch.quality import QUALITY_CLASSES, QualityRule, flag_quality, quality_codes
from tests.geomatch.match.test_matcher_oracle import make_trails

RULE = QualityRule()


def brute_force(trails: pd.DataFrame, rule: QualityRule) -> list[str]:
    """The rule as plain loops: fallback by source or accuracy; then, among the other fixes of each subject,
    runs (at most ``outlier_max_run_s`` long) entered and left too fast, whose detour is too long as well."""
    flags = ["fallback" if (s in ("LBS", "WIFI") or a > rule.fallback_accuracy_m) else "ok"
             for s, a in zip(trails["source"].astype(str), trails["accuracy_m"])]
    for _, group in trails.groupby("subject_id", observed=True):
        kept = [i for i in group.index if flags[i] == "ok"]
        pts = [(trails.at[i, "timestamp"].value, trails.at[i, "x"], trails.at[i, "y"],
                0.0 if math.isnan(trails.at[i, "accuracy_m"]) else trails.at[i, "accuracy_m"]) for i in kept]

        def fast(a, b) -> bool:
            reach = max(math.dist(pts[a][1:3], pts[b][1:3]) - pts[a][3] - pts[b][3], 0.0)
            span = (pts[b][0] - pts[a][0]) / 1e9
            return reach > 0 and (span == 0 or reach / span > rule.outlier_speed_mps)

        def detour(a, f, last, b) -> float:
            extra = (math.dist(pts[a][1:3], pts[f][1:3]) + math.dist(pts[last][1:3], pts[b][1:3])
                     - math.dist(pts[a][1:3], pts[b][1:3]) - 2 * pts[a][3] - 2 * pts[b][3] - pts[f][3] - pts[last][3])
            span = (pts[b][0] - pts[a][0]) / 1e9
            return max(extra, 0.0) / span if span > 0 else (math.inf if extra > 0 else 0.0)

        k = 1
        while k < len(pts) - 1:
            if not fast(k - 1, k):
                k += 1
                continue
            m = k
            while m < len(pts) - 1 and not fast(m, m + 1) and pts[m + 1][0] - pts[k][0] <= rule.outlier_max_run_s * 1e9:
                m += 1
            if m < len(pts) - 1 and fast(m, m + 1) and pts[m][0] - pts[k][0] <= rule.outlier_max_run_s * 1e9 \
                    and detour(k - 1, k, m, m + 1) > rule.outlier_speed_mps:
                for j in range(k, m + 1):
                    flags[kept[j]] = "outlier"
                k = m + 1
            else:
                k += 1
    return flags


def test_a_multipath_spike_is_an_outlier_and_a_fast_train_is_not():
    spike = [("A", s, 0.0, 0.0, 5) for s in range(0, 60, 5)] + [("A", 62, 800.0, 0.0, 5)] + \
            [("A", s, 0.0, 0.0, 5) for s in range(65, 120, 5)]
    train = [("T", s, 60.0 * s, 0.0, 5) for s in range(0, 600, 10)]  # 60 m/s all the way: every step fast
    flagged = flag_quality(make_trails(spike + train), RULE)
    a = flagged[flagged["subject_id"] == "A"]
    assert list(a.loc[a["quality"] == "outlier", "timestamp"]) == [pd.Timestamp("2026-10-24 22:01:02", tz="UTC")]
    assert a.loc[a["quality"] == "outlier", "quality_reason"].iloc[0] == \
        "outlier: 113 m/s from both neighbours (limit 50 m/s)"  # (800 - 2 x 5) m in 7 s
    assert (flagged.loc[flagged["subject_id"] == "T", "quality"] == "ok").all()
    assert len(flagged) == len(spike) + len(train)  # nothing dropped


def test_accuracy_allows_for_a_wide_fix_and_a_run_of_spikes_is_caught():
    # 150 m in 1 s, but both fixes are +-80 m: the least distance is 0, so nothing is too fast
    wide = [("W", 0, 0.0, 0.0, 80), ("W", 1, 150.0, 0.0, 80), ("W", 2, 0.0, 0.0, 80)]
    run = [("R", s, 0.0, 0.0, 3) for s in range(0, 30)] + [("R", s, 500.0, 10.0, 3) for s in range(30, 34)] + \
          [("R", s, 0.0, 0.0, 3) for s in range(34, 60)]
    flagged = flag_quality(make_trails(wide + run), RULE)
    assert (flagged.loc[flagged["subject_id"] == "W", "quality"] == "ok").all()
    r = flagged[flagged["subject_id"] == "R"]
    assert list(r.index[r["quality"] == "outlier"] - r.index[0]) == [30, 31, 32, 33]


def test_fallback_by_source_and_by_accuracy_with_reasons():
    trails = make_trails([("A", 0, 0, 0, 5), ("A", 60, 0, 0, 704), ("A", 120, 0, 0, 250)])
    trails["source"] = pd.Categorical(["GPS", "LBS", "GPS"], categories=["GPS", "LBS", "WIFI"])
    flagged = flag_quality(trails, RULE)
    assert list(flagged["quality"].astype(str)) == ["ok", "fallback", "fallback"]
    assert list(flagged["quality_reason"].astype(str)) == ["", "LBS fix", "accuracy 250 m > 200 m limit"]
    assert list(flagged["quality"].cat.categories) == list(QUALITY_CLASSES)


def test_rule_values_are_checked_in_the_match_config():
    with pytest.raises(InputError, match="fallback_accuracy_m"):
        MatchConfig(fallback_accuracy_m=0)
    with pytest.raises(InputError, match="outlier_speed_mps must be >= max_speed_mps"):
        MatchConfig(outlier_speed_mps=5.0)
    with pytest.raises(InputError, match="outlier_max_run_s"):
        MatchConfig(outlier_max_run_s=float("nan"))
    assert MatchConfig(fallback_accuracy_m=500).quality_rule.fallback_accuracy_m == 500


@st.composite
def jumpy_trails(draw):
    points = []
    for s in range(draw(st.integers(1, 3))):
        seconds, x = 0, 0.0
        for _ in range(draw(st.integers(1, 40))):
            seconds += draw(st.sampled_from([1, 2, 5, 30, 60]))
            jump = draw(st.sampled_from([0.0, 0.0, 0.0, 900.0, -900.0, 3000.0]))
            x += draw(st.floats(-20, 20))
            points.append((f"S{s}", seconds, x + jump, 0.0, draw(st.sampled_from([0.0, 5.0, 30.0, 400.0]))))
    return make_trails(points)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jumpy_trails())
def test_flags_agree_with_plain_loops(trails):
    flagged = flag_quality(trails, RULE)
    assert list(flagged["quality"].astype(str)) == brute_force(trails, RULE)
    assert ((flagged["quality"] == "ok") == (flagged["quality_reason"] == "")).all()
    one_thread = quality_codes(trails, RULE, threads=1)  # whole subjects per thread: the same on any number
    for threads in (2, 3, 8):
        assert all((a == b).all() for a, b in zip(one_thread, quality_codes(trails, RULE, threads=threads)))
