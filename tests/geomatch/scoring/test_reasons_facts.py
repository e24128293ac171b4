"""Every claim in the reasons and the statement's facts, checked against the fixes it describes: a hit whose
nearest fix is an LBS fix, a closest point on the straight line between two fixes, a window inside a gap; and
the sample week's possible hits never take their plausible speed from a fallback fix or an outlier."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.quality import assess_trails, flag_quality
from geomatch.scoring import Scorer
from tests.geomatch.match.test_matcher_oracle import make_crimes, make_trails

CONFIG = MatchConfig().with_uniform_rule(radius_m=100.0, pad_s=900.0)
SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"


def scored(points, crime) -> tuple[pd.Series, pd.DataFrame]:
    trails = flag_quality(make_trails(points), CONFIG.quality_rule)
    hits = Scorer().score(match_hits(trails, make_crimes([crime]), CONFIG), trails, None, CONFIG)
    assert len(hits) == 1
    return hits.iloc[0], trails


def fix_at(trails: pd.DataFrame, time) -> pd.Series:
    return trails.loc[trails["timestamp"] == pd.Timestamp(time)].iloc[0]


def test_a_hit_whose_nearest_fix_is_an_lbs_fix_says_so():
    # at home on GPS 600 m from the scene, one LBS fix (+-892 m) 56 m from it
    points = [("A", s, 600.0, 0.0, 8) for s in range(0, 1800, 60) if s != 600] + [("A", 600, 56.0, 0.0, 892)]
    hit, trails = scored(points, ("C1", 0.0, 0.0, 0, 1200))
    assert hit.presence == "possible" and hit.possible_by == "accuracy circle"
    lbs = fix_at(trails, hit.circle_fix_time)
    assert (lbs.source, lbs.quality, lbs.accuracy_m) == ("LBS", "fallback", 892)
    assert np.hypot(lbs.x, lbs.y) == pytest.approx(hit.circle_distance_m) == pytest.approx(56.0)
    assert "possible only: an LBS fix 56 m from the scene whose accuracy circle (±892 m) reaches the zone" \
        in hit.reasons
    # the closest approach of the path is the GPS trail, a fix 600 m away, and it says so
    closest = fix_at(trails, hit.closest_fix_time)
    assert hit.closest_kind == "fix" and closest.source == "GPS" and closest.quality == "ok"
    assert "closest approach of the trail 600 m, at a GPS fix (±8 m), during the committed window" in hit.reasons
    assert "inside the" not in hit.reasons and hit.time_in_zone_s == 0  # no line was drawn from the LBS fix


def test_a_closest_point_between_two_fixes_is_not_called_a_fix():
    points = [("A", s, -300.0 + 10.0 * (s - 100), 21.0, 5) for s in range(100, 221, 60)]  # -300, 300, 900
    hit, trails = scored(points, ("C1", 0.0, 0.0, 0, 1200))
    assert hit.presence == "interpolated" and hit.closest_kind == "segment"
    a, b = fix_at(trails, hit.closest_fix_time), fix_at(trails, hit.closest_next_fix_time)
    assert (b.timestamp - a.timestamp) == pd.Timedelta(seconds=60)
    assert (np.hypot(trails["x"], trails["y"]) > hit.min_distance_m + 1).all()  # no fix is that close
    assert "a point on the straight line between two fixes 60 s apart" in hit.reasons
    assert re.search(r"\b21 m, a point on the straight line", hit.reasons)
    assert "at a GPS fix" not in hit.reasons.split(";")[0]


def test_a_window_inside_a_gap_reports_its_coverage():
    # fixes every minute at the scene, but none from 10 to 29 min (a 19-minute gap) in a 50-minute window
    points = [("A", s, 30.0, 0.0, 5) for s in range(-1200, 4200, 60) if not 600 < s < 1740]
    hit, trails = scored(points, ("C1", 0.0, 0.0, 0, 3000))
    assert (hit.coverage_good_share, hit.coverage_gap_share) == (pytest.approx(1 - 1140 / 3000),
                                                                 pytest.approx(1140 / 3000))
    assert hit.n_gaps_committed == 1 and hit.longest_gap_committed_s == 1140
    assert "tag coverage during the committed window: 62 % GPS, 0 % fallback, 38 % gap (one gap of 19 min)" \
        in hit.reasons
    # a window wholly inside the gap: no trail during it, and the reasons say which window they measure
    hit, _ = scored(points, ("C2", 0.0, 0.0, 900, 1500))
    assert hit.coverage_gap_share == 1 and np.isnan(hit.min_distance_committed_m)
    assert "within the padded window (no trail during the committed window)" in hit.reasons
    assert "100 % gap (one gap of 10 min)" in hit.reasons


def test_a_jump_makes_no_interpolated_hit():
    # 800 m in 14 s between two GPS fixes (57 m/s): the straight line across the scene is not a path
    points = [("A", s, -400.0, 0.0, 5) for s in range(0, 300, 30)] + \
             [("A", s, 400.0, 0.0, 5) for s in range(284, 600, 30)]
    trails = make_trails(points)
    assert match_hits(trails, make_crimes([("C1", 0.0, 0.0, 0, 600)]), CONFIG).empty


@pytest.fixture(scope="module")
def sample_week():
    config = MatchConfig()
    trails = assess_trails(load_trails(SAMPLE / "trails.parquet"), config.quality_rule)
    crimes = load_crimes(SAMPLE / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    return trails.accepted, match_hits(trails, crimes, config), config


def test_sample_week_plausible_speeds_come_from_good_fixes_only(sample_week):
    trails, hits, config = sample_week
    by_gap = hits[(hits["presence"] == "possible") & (hits["possible_by"] == "gap")]
    assert len(by_gap) > 50
    good = trails[trails["quality"] == "ok"]
    key = pd.MultiIndex.from_arrays([good["subject_id"].astype(str), good["timestamp"]])
    position = pd.Series(np.arange(len(good)), index=key)
    for hit in by_gap.itertuples():
        start = position[(hit.subject_id, hit.gap_from)]  # the gap's fixes are good fixes, consecutive ones
        assert position[(hit.subject_id, hit.gap_to)] == start + 1
        if hit.gap_speed_basis in ("segment before", "segment after"):
            a = start - 1 if hit.gap_speed_basis == "segment before" else start + 1
            pair = good.iloc[[a, a + 1]]
            assert pair["subject_id"].nunique() == 1 and (pair["quality"] == "ok").all()
            dt = (pair["timestamp"].iloc[1] - pair["timestamp"].iloc[0]).total_seconds()
            speed = np.hypot(*np.diff(pair[["x", "y"]].to_numpy(), axis=0)[0]) / dt
            assert speed == pytest.approx(hit.gap_speed_mps) and dt <= config.interp_max_gap_s
    circles = hits[hits["possible_by"] == "accuracy circle"]
    assert (circles["circle_distance_m"] <= circles["radius_m"] + circles["circle_accuracy_m"].fillna(0) + 1e-6).all()
    # observed and interpolated hits are made by GPS fixes only (fallback fixes never join a path)
    assert (hits.loc[hits["presence"] != "possible", "source_at_closest"] == "GPS").all()


def test_the_statement_names_the_fix_or_the_two_fixes_by_their_sequence_numbers():
    from geomatch.evidence.context import EvidenceOptions, pack_data
    from geomatch.evidence.points import points_table
    from geomatch.evidence.statement import Exhibits, Table, build_statement

    def facts(points, crime) -> tuple[dict, object]:
        hit, trails = scored(points, crime)
        crimes = make_crimes([crime]).iloc[0].to_dict()
        data = pack_data(hit.to_dict(), crimes, trails, CONFIG, EvidenceOptions())
        blocks = build_statement(data, Exhibits(Path("m.png"), Path("t.png"), Path("p.csv")), version="test",
                                 inputs=(), crs="EPSG:27700")
        rows = {label: value for block in blocks if isinstance(block, Table) and block.header is None
                for label, value in block.rows}
        return rows, data

    lbs_scene = [("A", s, 600.0, 0.0, 8) for s in range(0, 1800, 60) if s != 600] + [("A", 600, 56.0, 0.0, 892)]
    rows, data = facts(lbs_scene, ("C1", 0.0, 0.0, 0, 1200))
    lbs = data.fixes[data.fixes["source"] == "LBS"].iloc[0]
    assert rows["What makes it possible"] == \
        "an LBS fix 56 m from the scene whose accuracy circle (±892 m) reaches the zone"
    assert rows["Positions flagged by the trail-quality check"] == f"{lbs.seq}: fallback (LBS fix)"
    closest = data.fixes[data.fixes["timestamp"] == data.hit["closest_fix_time"]].iloc[0]
    assert rows["What the closest approach is"] == \
        f"recorded position {closest.seq} (a GPS fix, reported accuracy 8.0 m)"
    table = points_table(data)
    assert list(table.loc[table["source"] == "LBS", "quality"]) == ["fallback"]

    segment_scene = [("A", s, -300.0 + 10.0 * (s - 100), 21.0, 5) for s in range(100, 221, 60)]
    rows, data = facts(segment_scene, ("C1", 0.0, 0.0, 0, 1200))
    a = data.fixes[data.fixes["timestamp"] == data.hit["closest_fix_time"]].iloc[0]
    assert rows["What the closest approach is"] == (f"a point on the straight line between recorded positions "
                                                    f"{a.seq} and {a.seq + 1} (1 min 00 s apart); no position "
                                                    f"was recorded there")
    assert rows["Tag coverage during the committed window"].startswith("10 % GPS, 0 % fallback, 90 % gap")


def test_one_hits_sentences_are_those_told_a_column_at_a_time(sample_week):
    """presence_phrase and coverage_phrase (a statement's first sentences, from one hit's row) are the sentences
    the reasons tell of the same hit among all others, also with facts missing (None, NaN, NaT)."""
    from geomatch.scoring.reasons import _Columns, coverage_phrase, coverage_phrases, presence_phrase, presence_phrases

    hits = sample_week[1].reset_index(drop=True)
    rows = hits.to_dict("records")
    rng = np.random.default_rng(0)
    holes = hits.head(60).astype(object)
    missing = {"closest_time": pd.NaT, "gap_to": pd.NaT, "min_distance_committed_m": np.nan,
               "coverage_good_share": np.nan, "longest_gap_committed_s": np.nan, "circle_accuracy_m": np.nan,
               "accuracy_at_closest_m": np.nan}
    for k in range(len(holes)):
        for name in rng.choice(list(missing), 3, replace=False):
            holes.loc[k, name] = [None, missing[name]][rng.integers(2)]
    for table in (hits, holes):
        columns = _Columns(table)
        told = list(zip(presence_phrases(columns).to_pylist(), coverage_phrases(columns).to_pylist()))
        assert [(presence_phrase(row), coverage_phrase(row)) for row in table.to_dict("records")] == told
    assert set(hits["presence"]) == {"observed", "interpolated", "possible"} and len(rows) > 1000
