"""Scoring: each routine place and feature on hand-made trails with known answers, the default model's points,
monotonicity (hypothesis), determinism, and that no hit is ever dropped."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geomatch.match.config import MatchConfig
from geomatch.core.errors import InputError
from geomatch.match.matcher import match_hits
from geomatch.scoring import SCORE_COLUMNS, ScoreConfig, Scorer, default_scores, hit_features, with_scenes
from geomatch.scoring.routine import Scenes, SubjectTrail, days_passing, find_stays, home_positions
from geomatch.scoring.reasons import duration

T0 = pd.Timestamp("2026-11-02 00:00", tz="Europe/London").tz_convert("UTC")  # a Monday, GMT (UTC = UK time)
MIN = 60_000_000_000
CONFIG = MatchConfig().with_uniform_rule(radius_m=100.0, pad_s=0.0)


def day_of(subject: str, day: int, place_at) -> list[tuple]:
    """One fix a minute for a day: ``place_at(minute) -> (x, y)``."""
    return [(subject, T0 + pd.Timedelta(days=day, minutes=m), *place_at(m)) for m in range(1440)]


def trails_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subject_id", "timestamp", "x", "y"])
    frame = frame.sort_values(["subject_id", "timestamp"], kind="stable").reset_index(drop=True)
    frame["accuracy_m"] = 5.0
    frame["source"] = "GPS"
    frame["lat"] = frame["lon"] = 0.0
    return frame


def commuter(m: int) -> tuple[float, float]:
    """Home at (0, 0); walks east along y = 0 to work at (2000, 0) from 08:00 to 08:30 and back 17:00-17:30."""
    h = m / 60.0
    if 8.0 <= h < 8.5:
        return (h - 8.0) / 0.5 * 2000.0, 0.0
    if 8.5 <= h < 17.0:
        return 2000.0, 0.0
    if 17.0 <= h < 17.5:
        return 2000.0 - (h - 17.0) / 0.5 * 2000.0, 0.0
    return 0.0, 0.0


def stay_away(m: int) -> tuple[float, float]:
    return 5000.0, 5000.0


def crimes_frame(rows: list[tuple]) -> pd.DataFrame:
    """Crimes from (ref, x, y, day, from minute, to minute)."""
    frame = pd.DataFrame(rows, columns=["crime_ref", "x", "y", "day", "m0", "m1"])
    frame["offence"] = "robbery_personal"
    start = T0 + pd.to_timedelta(frame["day"], unit="D")
    frame["committed_from"] = start + pd.to_timedelta(frame["m0"], unit="min")
    frame["committed_to"] = start + pd.to_timedelta(frame["m1"], unit="min")
    frame["long_window"] = False
    return frame.drop(columns=["day", "m0", "m1"])


@pytest.fixture(scope="module")
def world():
    """A commuter A (home next to C_HOME, route past C_ROUTE daily) and B, who lives far away and on day 3
    walks to C_ROUTE, stops there 14 minutes (08:02-08:16) and walks back."""
    rows = []
    for day in range(6):
        rows += day_of("A", day, commuter)

        def b_day(m, day=day):
            if day == 3 and 8 * 60 + 2 <= m <= 8 * 60 + 16:
                return 1000.0, 20.0
            return stay_away(m)
        rows += day_of("B", day, b_day)
    trails = trails_frame(rows)
    crimes = crimes_frame([("C_ROUTE", 1000.0, 20.0, 3, 8 * 60, 8 * 60 + 30),
                           ("C_HOME", 30.0, 0.0, 3, 2 * 60, 3 * 60)])
    hits = match_hits(trails, crimes, CONFIG)
    scored = Scorer().score(hits, trails, crimes, CONFIG)
    return trails, crimes, hits, scored.set_index(["subject_id", "crime_ref"])


# ---- routine places on hand-made trails ----------------------------------------------------------------------

def _trail(rows: list[tuple[float, float, float]]) -> SubjectTrail:
    """From (minute, x, y) rows, on UK days counted from T0 (GMT, so UK day = UTC day)."""
    minutes = np.array([r[0] for r in rows], dtype=np.int64)
    t = T0.value + minutes * MIN
    day = (T0.value // 86_400_000_000_000) + minutes // 1440
    return SubjectTrail(t=t, x=np.array([r[1] for r in rows], float), y=np.array([r[2] for r in rows], float),
                        day=day, hour=(minutes % 1440) // 60, accuracy=np.full(len(rows), 5.0))


def _scenes(points: list[tuple[float, float]], day: int, r: float = 100.0, lookback_days: int = 28) -> Scenes:
    ws = np.full(len(points), T0.value + day * 1440 * MIN + 8 * 60 * MIN)
    first_day = np.full(len(points), T0.value // 86_400_000_000_000 + day)
    return Scenes(cx=np.array([p[0] for p in points], float), cy=np.array([p[1] for p in points], float),
                  r=np.full(len(points), r), ws=ws, we=ws + 30 * MIN, dws=first_day, dwe=first_day,
                  lookback=lookback_days, lookahead=28)


def test_stay_points_are_the_stops_not_the_walk():
    rows = [(m, 3.0 * (m % 2), 0.0) for m in range(20)]  # 20 min at the origin, jittering 3 m
    rows += [(19 + k, 84.0 * k, 0.0) for k in range(1, 12)]  # walking east at 1.4 m/s
    rows += [(31 + m, 1008.0, 2.0 * (m % 3)) for m in range(30)]  # 30 min at (1008, ~2)
    stays = find_stays(_trail(rows), ScoreConfig())
    assert len(stays.x) == 2
    assert stays.x[0] == pytest.approx(1.5, abs=2.0) and stays.x[1] == pytest.approx(1008.0, abs=1.0)
    # a stay runs from its first fix to its last: arriving, the 2 min after are spent there; leaving, the 2 min
    # before (measured over one side only, a stay no longer loses a minute at each end)
    assert (stays.t1[0] - stays.t0[0]) / MIN == 19
    assert (stays.t1[1] - stays.t0[1]) / MIN == 29


def test_a_short_pause_is_no_stay_point():
    rows = [(k, 84.0 * k, 0.0) for k in range(10)] + [(10 + m, 840.0, 0.0) for m in range(3)]
    rows += [(13 + k, 840.0 + 84.0 * k, 0.0) for k in range(1, 10)]
    assert len(find_stays(_trail(rows), ScoreConfig()).x) == 0


def test_home_is_where_the_nights_are_spent_outside_the_crime_days():
    rows = []
    for day in range(5):
        at_night = (0.0, 0.0) if day != 2 else (3000.0, 0.0)  # day 2 (the crime day) is spent elsewhere
        rows += [(day * 1440 + m, *(at_night if m < 6 * 60 else (1000.0, 1000.0))) for m in range(0, 1440, 10)]
    home_x, home_y, nights = home_positions(_trail(rows), _scenes([(40.0, 0.0)], day=2), ScoreConfig())
    assert (home_x[0], home_y[0], nights[0]) == (0.0, 0.0, 4)


def test_no_home_without_enough_nights():
    rows = [(m, 0.0, 0.0) for m in range(0, 300, 10)]  # one night only (day 0)
    home_x, _, nights = home_positions(_trail(rows), _scenes([(0.0, 0.0)], day=3), ScoreConfig())
    assert np.isnan(home_x[0]) and nights[0] == 1


def test_passing_days_count_the_path_between_fixes_and_leave_the_crime_day_out():
    # every day a fast pass along y = 0 with fixes 600 m apart: no fix within 100 m of (300, 50), the path is
    rows = [(day * 1440 + 480 + k, -600.0 + 600.0 * k, 0.0) for day in range(6) for k in range(3)]
    scenes = _scenes([(300.0, 50.0), (300.0, 150.0)], day=3)
    assert days_passing(_trail(rows), scenes, 300.0).tolist() == [5, 0]


def test_passing_days_respect_the_lookback():
    rows = [(day * 1440 + 480 + k, -600.0 + 600.0 * k, 0.0) for day in range(6) for k in range(3)]
    scenes = _scenes([(300.0, 50.0)], day=3, lookback_days=1)
    # one day before (day 2) plus the two days after the window (days 4 and 5)
    assert days_passing(_trail(rows), scenes, 300.0).tolist() == [3]


def test_a_gap_is_not_a_path():
    rows = [(day * 1440 + 480 + 10 * k, -600.0 + 600.0 * k, 0.0) for day in range(6) for k in range(3)]
    assert days_passing(_trail(rows), _scenes([(300.0, 50.0)], day=3), 300.0).tolist() == [0]


# ---- features of hits on a hand-made world ---------------------------------------------------------------------

def test_the_offender_stop(world):
    hit = world[3].loc[("B", "C_ROUTE")]
    assert hit["stop_s"] == pytest.approx(14 * 60)
    assert hit["stop_offset_m"] == pytest.approx(0.0)
    assert hit["speed_near_mps"] == pytest.approx(0.0)
    assert hit["days_passing"] == 0 and hit["days_stopped"] == 0 and hit["routine_days"] == 5
    assert hit["home_distance_m"] == pytest.approx(np.hypot(4000.0, 4980.0))
    assert hit["window_s"] == 30 * 60
    assert hit["approach_ratio"] == pytest.approx(0.0)
    assert "stopped 14 min within 100 m" in hit["reasons"]
    assert "not a place this subject visits routinely (5 other days of trail)" in hit["reasons"]


def test_the_daily_walk_past(world):
    hit = world[3].loc[("A", "C_ROUTE")]
    assert hit["stop_s"] == 0.0
    assert hit["speed_near_mps"] == pytest.approx(2000.0 / 1800.0)
    assert hit["days_passing"] == 5 and hit["days_stopped"] == 0
    assert hit["approach_ratio"] == pytest.approx(20.0 / 5.0)
    assert "walked past without stopping (4 km/h)" in hit["reasons"]
    assert "passes within 100 m on 5 other days" in hit["reasons"]


def test_home_next_door(world):
    hit = world[3].loc[("A", "C_HOME")]
    assert hit["home_distance_m"] == pytest.approx(30.0) and hit["home_nights"] == 5
    assert hit["stop_s"] == pytest.approx(60 * 60) and hit["stop_offset_m"] == pytest.approx(30.0)
    assert hit["days_stopped"] == 5
    assert "the subject's home is 30 m from the scene (5 nights there)" in hit["reasons"]


def test_the_offender_ranks_first_and_routine_presence_is_explained_not_hidden(world):
    scored = world[3]
    assert len(scored) == 3
    assert scored.loc[("B", "C_ROUTE"), "score"] > scored.loc[("A", "C_ROUTE"), "score"] > \
        scored.loc[("A", "C_HOME"), "score"]
    assert scored["reasons"].str.len().min() > 0


def test_scoring_keeps_every_hit_in_order_and_is_deterministic(world):
    trails, crimes, hits, _ = world
    first = Scorer().score(hits, trails, crimes, CONFIG)
    again = Scorer().score(hits, trails, crimes, CONFIG)
    pd.testing.assert_frame_equal(first, again)
    assert first["hit_id"].tolist() == hits["hit_id"].tolist()
    assert list(first.columns) == list(hits.columns) + SCORE_COLUMNS
    rescored = Scorer().score(first, trails, None, CONFIG)  # the scenes are kept from the first scoring
    pd.testing.assert_frame_equal(rescored, first)


def test_hits_of_a_subject_missing_from_the_trails_still_get_a_row(world):
    trails, crimes, hits, _ = world
    scored = Scorer().score(hits, trails[trails["subject_id"] == "B"], crimes, CONFIG)
    assert len(scored) == len(hits)
    row = scored.set_index(["subject_id", "crime_ref"]).loc[("A", "C_ROUTE")]
    assert row["routine_days"] == 0 and "no trail outside the crime's days" in row["reasons"]


def test_empty_hits(world):
    trails, crimes, hits, _ = world
    scored = Scorer().score(hits.iloc[:0], trails, crimes, CONFIG)
    assert scored.empty and list(scored.columns) == list(hits.columns) + SCORE_COLUMNS


def test_hits_need_their_scene():
    with pytest.raises(InputError, match="scene"):
        with_scenes(pd.DataFrame({"crime_ref": ["X"]}), None)
    with pytest.raises(InputError, match="not in the crimes"):
        with_scenes(pd.DataFrame({"crime_ref": ["X"]}), pd.DataFrame({"crime_ref": ["Y"], "x": [0.0], "y": [0.0]}))


def test_features_alone_match_the_scored_columns(world):
    trails, crimes, hits, scored = world
    features = hit_features(with_scenes(hits, crimes), trails, ScoreConfig(), CONFIG)
    assert features["days_passing"].tolist() == [scored.loc[(s, c), "days_passing"]
                                                 for s, c in zip(hits["subject_id"], hits["crime_ref"])]


def test_features_do_not_depend_on_the_number_of_threads(world):
    trails, crimes, hits, _ = world
    one, many = (hit_features(with_scenes(hits, crimes), trails, ScoreConfig(), CONFIG, threads=n) for n in (1, 4))
    pd.testing.assert_frame_equal(one, many, check_exact=True)


def test_reasons_do_not_depend_on_the_number_of_threads(world, monkeypatch):
    from geomatch.scoring import points, reasons

    trails, crimes, hits, scored = world
    table = scored.reset_index().drop(columns=["score", "reasons"])
    one = reasons.all_reasons(table, points(table), ScoreConfig(), threads=1)
    monkeypatch.setattr(reasons, "MIN_SLICE", 1)  # a slice per thread even for a handful of hits
    assert reasons.all_reasons(table, points(table), ScoreConfig(), threads=3) == one
    assert one == scored["reasons"].tolist()


def test_features_do_not_depend_on_the_order_or_the_fallback_fixes_of_the_trails(world):
    """Shuffled rows give the same features (each subject's fixes are put in time order when measured), and a
    fallback fix is left out of what scoring measures whether the rows are in order or not."""
    trails, crimes, hits, _ = world
    scenes = with_scenes(hits, crimes)
    in_order = hit_features(scenes, trails, ScoreConfig(), CONFIG)
    shuffled = trails.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(in_order, hit_features(scenes, shuffled, ScoreConfig(), CONFIG), check_exact=True)

    flagged = trails.assign(quality=pd.Categorical(["ok"] * len(trails), categories=["ok", "fallback", "outlier"]))
    flagged.loc[flagged.index[::7], "quality"] = "fallback"
    without = flagged[flagged["quality"] == "ok"].drop(columns="quality").reset_index(drop=True)
    expected = hit_features(scenes, without, ScoreConfig(), CONFIG)
    pd.testing.assert_frame_equal(expected, hit_features(scenes, flagged, ScoreConfig(), CONFIG), check_exact=True)
    shuffled = flagged.sample(frac=1.0, random_state=4).reset_index(drop=True)
    pd.testing.assert_frame_equal(expected, hit_features(scenes, shuffled, ScoreConfig(), CONFIG), check_exact=True)


# ---- the default model -----------------------------------------------------------------------------------------

def feature_row(**values) -> dict:
    row = {"presence": "observed", "min_distance_m": 10.0, "radius_m": 100.0, "accuracy_at_closest_m": 8.0,
           "source_at_closest": "GPS", "max_gap_s": 60.0, "approach_ratio": 1.25, "stop_s": 300.0,
           "speed_near_mps": 0.2, "stop_offset_m": 5.0, "window_s": 3600.0, "home_distance_m": 2000.0,
           "home_nights": 5, "days_passing": 0, "days_stopped": 0, "routine_days": 6}
    row.update(values)
    return row


rows = st.fixed_dictionaries({
    "presence": st.sampled_from(["observed", "interpolated", "possible"]),
    "min_distance_m": st.floats(0, 150), "accuracy_at_closest_m": st.one_of(st.just(np.nan), st.floats(1, 1000)),
    "source_at_closest": st.sampled_from(["GPS", "LBS", "WIFI"]), "max_gap_s": st.floats(0, 7200),
    "stop_s": st.floats(0, 7200), "speed_near_mps": st.one_of(st.just(np.nan), st.floats(0, 40)),
    "stop_offset_m": st.one_of(st.just(np.nan), st.floats(0, 100)), "window_s": st.floats(60, 86400 * 2),
    "home_distance_m": st.one_of(st.just(np.nan), st.floats(0, 5000)), "days_passing": st.integers(0, 30),
    "days_stopped": st.integers(0, 30),
})


def _scores(*variants: dict) -> list[float]:
    """Default scores of several variants of a row, in one table (fast)."""
    return default_scores(pd.DataFrame([feature_row(**v) for v in variants])).tolist()


def _score(row: dict) -> float:
    return _scores(row)[0]


@settings(max_examples=300, deadline=None)
@given(rows, st.floats(0, 7200))
def test_a_longer_stop_never_lowers_the_score(row, more):
    base, longer = _scores(row, {**row, "stop_s": row["stop_s"] + more})
    assert longer >= base


@settings(max_examples=300, deadline=None)
@given(rows, st.floats(0, 86400), st.integers(0, 10), st.floats(0, 150), st.floats(0, 5000))
def test_routine_and_vagueness_never_raise_the_score(row, longer, days, farther, home_farther):
    home = row["home_distance_m"] + home_farther
    score, *others, farther_home = _scores(
        row, {**row, "window_s": row["window_s"] + longer}, {**row, "days_passing": row["days_passing"] + days},
        {**row, "days_stopped": row["days_stopped"] + days}, {**row, "min_distance_m": row["min_distance_m"] + farther},
        {**row, "stop_offset_m": row["stop_offset_m"] + farther}, {**row, "home_distance_m": home})
    assert all(other <= score for other in others)
    assert farther_home >= score or np.isnan(home)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_scores_stay_between_0_and_100_and_observed_beats_possible(row):
    score, observed, interpolated, possible = _scores(row, {**row, "presence": "observed"},
                                                      {**row, "presence": "interpolated"},
                                                      {**row, "presence": "possible"})
    assert 0.0 <= score <= 100.0
    assert observed >= interpolated >= possible


def test_documented_points():
    # observed 45 + proximity 15 * 0.9 + stop 5 min * 2 + window 60 min 12 = 80.5
    assert _score({}) == pytest.approx(80.5)
    assert _score({"source_at_closest": "LBS"}) == pytest.approx(60.5)
    assert _score({"home_distance_m": 30.0}) == pytest.approx(45.5)
    assert _score({"stop_offset_m": 30.0}) == pytest.approx(80.5 - 20.0 * 15.0 / 25.0)
    # passing on other days explains a pass, not a stop: 80.5 - stop 10 - walking past 6 - 2 days * 8
    assert _score({"days_passing": 2}) == pytest.approx(80.5)
    assert _score({"days_passing": 2, "stop_s": 0.0, "speed_near_mps": 1.4}) == pytest.approx(48.5)


def test_config_from_toml(tmp_path):
    path = tmp_path / "score.toml"
    path.write_text("lookback_days = 42\n[weights]\nstop_per_min = 3\n", encoding="utf-8")
    config = ScoreConfig.from_toml(path)
    assert config.lookback_days == 42 and config.weights.stop_per_min == 3.0 and config.weights.observed == 45.0
    path.write_text("[weights]\nstopping = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="weights.stopping"):
        ScoreConfig.from_toml(path)


def test_durations_for_people():
    assert [duration(s) for s in (40, 840, 8400, 200000)] == ["40 s", "14 min", "2 h 20 min", "2 d 7 h"]


# ---- the command line ------------------------------------------------------------------------------------------

def test_match_scores_by_default_and_score_rescores_the_same(tmp_path):
    import json

    from click.testing import CliRunner

    import cli
    from geomatch.core.manifest import verify_manifest

    runner = CliRunner()
    world, out, bare = tmp_path / "world", tmp_path / "run", tmp_path / "bare"
    assert runner.invoke(cli.geomatch, ["simulate", str(world), "--subjects", "6", "--days", "3"]).exit_code == 0
    common = ["--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv")]
    result = runner.invoke(cli.geomatch, ["match", *common, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "score: default model" in result.output
    scored = pd.read_parquet(out / "hits.parquet")
    assert len(scored) > 0 and scored["score"].between(0, 100).all() and scored["reasons"].str.len().min() > 0
    assert json.loads((out / "manifest.json").read_text())["score"]["model"] == "default"

    assert runner.invoke(cli.geomatch, ["match", *common, "--out", str(bare), "--no-score"]).exit_code == 0
    unscored = pd.read_parquet(bare / "hits.parquet")
    assert "score" not in unscored.columns and len(unscored) == len(scored)
    assert json.loads((bare / "manifest.json").read_text())["score"] == {"model": "none"}

    # rescoring in place (the hits carry their scenes, so no crimes file is needed) gives match's scores
    result = runner.invoke(cli.geomatch, ["score", "--hits", str(bare / "hits.parquet"),
                                          "--trails", str(world / "trails.parquet")])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(bare / "hits.parquet"), scored)
    assert (bare / "hits.csv").read_bytes() == (out / "hits.csv").read_bytes()
    manifest = json.loads((bare / "manifest.json").read_text())
    assert manifest["tool"] == "geomatch score" and manifest["rescored"]["match_manifest"]["tool"] == "geomatch match"
    assert verify_manifest(bare) == []


def test_reasons_name_the_way_past_and_ignore_the_speed_of_coarse_fixes():
    from geomatch.scoring import points
    from geomatch.scoring.reasons import all_reasons

    table = pd.DataFrame([feature_row(stop_s=0.0, speed_near_mps=v) for v in (1.4, 5.0, 12.0)]
                         + [feature_row(stop_s=0.0, speed_near_mps=12.0, accuracy_at_closest_m=400.0,
                                        source_at_closest="LBS")])
    reasons = all_reasons(table, points(table), ScoreConfig())
    assert "walked past without stopping (5 km/h)" in reasons[0]
    assert "moved past without stopping (18 km/h)" in reasons[1]
    assert "drove past without stopping (43 km/h)" in reasons[2]
    assert "past" not in reasons[3] and "no stop in the zone" in reasons[3]
    assert "closest position from the phone network (LBS), not GPS" in reasons[3]
    assert "accuracy at the closest approach 400 m is wider than the 100 m zone" in reasons[3]
