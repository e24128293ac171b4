"""The vectorised matcher against the brute-force oracle: hand-made edge cases and hypothesis properties."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geomatch.match.config import MatchConfig
from geomatch.core.crs import transform
from geomatch.match.matcher import HIT_COLUMNS, _subject_parts, hit_id, match_hits
from tests.geomatch.match.oracle import oracle_hits

T0 = pd.Timestamp("2026-10-24 22:00", tz="UTC")  # the UK clock change (01:00 UTC on 25 Oct) is 3 h later
CONFIG = MatchConfig().with_uniform_rule(radius_m=100.0, pad_s=900.0)


def make_trails(points: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """Trails from (subject, seconds after T0, x, y, accuracy) tuples, sorted as the loader sorts them."""
    frame = pd.DataFrame(points, columns=["subject_id", "seconds", "x", "y", "accuracy_m"])
    frame["timestamp"] = T0 + pd.to_timedelta(frame["seconds"], unit="s")
    frame = frame.sort_values(["subject_id", "timestamp"], kind="stable").drop_duplicates(["subject_id", "timestamp"])
    frame["subject_id"] = frame["subject_id"].astype("category")
    frame["source"] = np.where(frame["accuracy_m"] > 100, "LBS", "GPS")
    frame["lat"] = frame["lon"] = 0.0
    return frame.drop(columns="seconds").reset_index(drop=True)


def make_crimes(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """Crimes from (ref, x, y, from seconds, to seconds) tuples (times after T0)."""
    frame = pd.DataFrame(rows, columns=["crime_ref", "x", "y", "start", "end"])
    frame["offence"] = "burglary_residential"
    frame["committed_from"] = T0 + pd.to_timedelta(frame["start"], unit="s")
    frame["committed_to"] = T0 + pd.to_timedelta(frame["end"], unit="s")
    frame["long_window"] = False
    return frame.drop(columns=["start", "end"])


def assert_agrees(trails: pd.DataFrame, crimes: pd.DataFrame, config: MatchConfig = CONFIG) -> pd.DataFrame:
    hits = match_hits(trails, crimes, config)
    expected = oracle_hits(trails, crimes, config)
    got = {(h.subject_id, h.crime_ref): h for h in hits.itertuples(index=False)}
    assert set(got) == set(expected)
    for key, want in expected.items():
        hit = got[key]
        assert hit.presence == want["presence"], key
        assert hit.min_distance_m == pytest.approx(want["min_distance_m"], abs=1e-6), key
        assert hit.time_in_zone_s == pytest.approx(want["time_in_zone_s"], abs=1e-3), key
        assert hit.n_fixes_in_zone == want["n_fixes_in_zone"], key
        assert hit.max_gap_s == pytest.approx(want["max_gap_s"], abs=1e-6), key
        assert hit.min_distance_committed_m == pytest.approx(want["min_distance_committed_m"], abs=1e-6,
                                                             nan_ok=True), key
        assert hit.time_in_zone_committed_s == pytest.approx(want["time_in_zone_committed_s"], abs=1e-3), key
        good, fallback, gap, longest, n_gaps = want["coverage"]
        assert (hit.coverage_good_share, hit.coverage_fallback_share, hit.coverage_gap_share) == pytest.approx(
            (good, fallback, gap), abs=1e-9), key
        assert (hit.longest_gap_committed_s, hit.n_gaps_committed) == (pytest.approx(longest, abs=1e-6), n_gaps), key
        if want["presence"] in ("observed", "interpolated"):
            assert abs(hit.first_in.value - want["first_in_ns"]) <= 1_000, key
            assert abs(hit.last_out.value - want["last_out_ns"]) <= 1_000, key
    return hits


def test_observed_at_exactly_the_radius_and_window_bounds():
    trails = make_trails([("A", 0, 100.0, 0.0, 5), ("A", 3600, 5000, 0, 5), ("B", 600, 100.0001, 0, 0),
                          ("C", -900, 0, 50, 5), ("C", 7200 + 900, 0, 50, 5), ("D", -901, 0, 0, 5)])
    crimes = make_crimes([("C1", 0.0, 0.0, 0, 7200)])
    hits = assert_agrees(trails, crimes).set_index("subject_id")
    assert hits.loc["A", "presence"] == "observed" and hits.loc["A", "min_distance_m"] == 100.0
    assert "B" not in hits.index  # 0.1 mm outside with no accuracy, and no trail around it
    assert hits.loc["C", "presence"] == "observed" and hits.loc["C", "n_fixes_in_zone"] == 2  # both bounds
    assert "D" not in hits.index  # one second before the padded window, no fix after it


def test_interpolated_crossing_between_fixes_gets_time_at_closest_point():
    # 60 s apart, passing the scene at 10 m/s: fixes at x = -300 and +300, none within 100 m
    trails = make_trails([("A", 100, -300, 20, 5), ("A", 160, 300, 20, 5)])
    hits = assert_agrees(trails, make_crimes([("C1", 0, 0, 0, 600)]))
    hit = hits.iloc[0]
    assert hit.presence == "interpolated"
    assert hit.min_distance_m == pytest.approx(20.0)
    assert hit.closest_time == T0 + pd.Timedelta(seconds=130)
    assert hit.speed_at_closest_mps == pytest.approx(10.0)
    half_chord = np.sqrt(100**2 - 20**2)
    assert hit.time_in_zone_s == pytest.approx(2 * half_chord / 10.0)


def test_long_gap_is_not_interpolated_but_possible_when_reachable():
    # 20 min between fixes, 1 km either side of the scene: reachable at 30 m/s, so possible
    trails = make_trails([("A", 0, -1000, 0, 5), ("A", 1200, 1000, 0, 5)])
    hits = assert_agrees(trails, make_crimes([("C1", 0, 0, 0, 1200)]))
    assert hits.iloc[0].presence == "possible" and hits.iloc[0].max_gap_s == 1200
    slow = MatchConfig(walk_speed_mps=1.0, max_speed_mps=1.0).with_uniform_rule(100.0, 900.0)
    assert match_hits(trails, make_crimes([("C1", 0, 0, 0, 1200)]), slow).empty


def test_accuracy_circle_reaching_the_zone_is_possible():
    trails = make_trails([("A", 60, 450, 0, 400)])  # an LBS fix 450 m away with a 400 m radius
    hits = assert_agrees(trails, make_crimes([("C1", 0, 0, 0, 600)]))
    assert hits.iloc[0].presence == "possible" and hits.iloc[0].source_at_closest == "LBS"


def test_strongest_class_wins_and_ids_are_deterministic():
    trails = make_trails([("A", 0, 500, 0, 900), ("A", 60, 50, 0, 5), ("A", 120, 500, 0, 5)])
    hits = assert_agrees(trails, make_crimes([("C/1", 0, 0, 0, 600)]))
    assert list(hits.presence) == ["observed"]
    assert hits.hit_id.iloc[0] == hit_id("A", "C/1") and list(hits.columns) == HIT_COLUMNS


def test_stop_in_zone_measures_dwell():
    points = [("A", s, 30.0, 0.0, 5) for s in range(0, 12 * 60 + 1, 60)] + [("A", 13 * 60, 2000, 0, 5)]
    hits = assert_agrees(make_trails(points), make_crimes([("C1", 0, 0, 0, 3600)]))
    hit = hits.iloc[0]
    assert hit.time_in_zone_s == pytest.approx(12 * 60 + 60 * (70 / 1970), rel=1e-9)
    assert hit.n_fixes_in_zone == 13 and hit.first_in == T0


coordinate = st.floats(-1500, 1500, allow_nan=False)


@st.composite
def worlds(draw):
    n_subjects = draw(st.integers(1, 3))
    points = []
    for s in range(n_subjects):
        seconds = 0
        x, y = draw(coordinate), draw(coordinate)
        for _ in range(draw(st.integers(1, 25))):
            seconds += draw(st.sampled_from([1, 30, 60, 60, 90, 300, 301, 900, 2400, 9000]))
            x += draw(st.floats(-400, 400))
            y += draw(st.floats(-400, 400))
            acc = draw(st.sampled_from([0.0, 5.0, 20.0, 350.0]))
            points.append((f"S{s}", seconds, x, y, acc))
    crimes = []
    for c in range(draw(st.integers(1, 4))):
        start = draw(st.integers(-3600, 20000))
        crimes.append((f"C{c}", draw(coordinate), draw(coordinate), start, start + draw(st.integers(0, 6 * 3600))))
    return make_trails(points), make_crimes(crimes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_matcher_agrees_with_oracle(world):
    assert_agrees(*world)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.sampled_from([(615000.0, 244000.0), (530000.0, 180000.0)]))
def test_agrees_in_wgs84_roundtrip_and_across_clock_change(world, origin):
    """Trails given in WGS84 (converted to the grid) agree with the oracle; the times straddle 25 Oct 01:00 UTC."""
    trails, crimes = world
    trails = trails.assign(x=trails.x + origin[0], y=trails.y + origin[1])
    lon, lat = transform(trails.x.to_numpy(), trails.y.to_numpy(), "EPSG:27700", "EPSG:4326")
    trails["x"], trails["y"] = transform(lon, lat, "EPSG:4326", "EPSG:27700")
    crimes = crimes.assign(x=crimes.x + origin[0], y=crimes.y + origin[1])
    assert_agrees(trails, crimes)


def test_partial_windows_without_trail_after_are_not_hits():
    trails = make_trails([("A", -7200, 0, 0, 5), ("A", -3600, 0, 0, 5)])
    assert match_hits(trails, make_crimes([("C1", 0, 0, 0, 600)]), CONFIG).empty
    assert oracle_hits(trails, make_crimes([("C1", 0, 0, 0, 600)]), CONFIG) == {}


def test_long_trails_with_fallback_fixes_agree_with_oracle():
    """Thousands of fixes per subject, so every level of the box index and the wide-accuracy index is used."""
    rng = np.random.default_rng(7)
    points = []
    for s in range(3):
        seconds = np.cumsum(rng.choice([30, 60, 60, 60, 200, 400, 3000], 1500))
        x = np.cumsum(rng.normal(0, 120, 1500))
        y = np.cumsum(rng.normal(0, 120, 1500))
        accuracy = np.where(rng.random(1500) < 0.03, 400.0, rng.uniform(3, 30, 1500))
        points += [(f"S{s}", t, a, b, c) for t, a, b, c in zip(seconds, x, y, accuracy)]
    trails = make_trails(points)
    crimes = make_crimes([(f"C{c}", *rng.choice(trails[["x", "y"]].to_numpy()) + rng.normal(0, 150, 2),
                           start := int(rng.integers(0, 150_000)), start + int(rng.integers(60, 12 * 3600)))
                          for c in range(40)])
    # and scenes halfway along long, quick steps, which only the straight path between fixes passes
    step = trails[["x", "y"]].diff().pow(2).sum(axis=1).pow(0.5)
    quick = (trails["timestamp"].diff().dt.total_seconds() <= 300) & (step > 300) & (trails["subject_id"].cat.codes.diff() == 0)
    ends = trails.index[quick][:10]
    middles = (trails.loc[ends, ["x", "y"]].to_numpy() + trails.loc[ends - 1, ["x", "y"]].to_numpy()) / 2
    seconds = ((trails.loc[ends, "timestamp"] - T0).dt.total_seconds()).to_numpy()
    crimes = pd.concat([crimes, make_crimes([(f"M{k}", mx, my, int(t) - 600, int(t))
                                             for k, ((mx, my), t) in enumerate(zip(middles, seconds))])])
    hits = assert_agrees(trails, crimes)
    assert set(hits.presence) == {"observed", "interpolated", "possible"}


def random_long_world(seed: int, n_fixes: int, n_crimes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two subjects with ``n_fixes`` fixes each: walks, drives, stops and jumps, some wide fallback fixes and
    gaps, so that a pair's walk over the box pyramid skips and keeps runs at both levels."""
    rng = np.random.default_rng(seed)
    points = []
    for s in range(2):
        seconds = np.cumsum(rng.choice([1, 60, 60, 60, 60, 120, 301, 900, 2400], n_fixes))
        moving = rng.random(n_fixes) < 0.6  # stops: the subject stays put for a while
        step = np.where(moving[:, None], rng.normal(0, 150, (n_fixes, 2)), rng.normal(0, 3, (n_fixes, 2)))
        step[rng.random(n_fixes) < 0.01] += rng.normal(0, 3000, 2)  # a long jump now and then
        xy = np.cumsum(step, axis=0)
        accuracy = np.where(rng.random(n_fixes) < 0.08, rng.choice([80.0, 400.0]), rng.uniform(0, 30, n_fixes))
        points += [(f"S{s}", int(t), x, y, a) for t, (x, y), a in zip(seconds, xy, accuracy)]
    trails = make_trails(points)
    at = rng.integers(0, len(trails), n_crimes)  # half the crimes happen near the subject, half at any time
    scenes = trails[["x", "y"]].to_numpy()[at] + rng.normal(0, 120, (n_crimes, 2))
    seconds = (trails["timestamp"].iloc[at] - T0).dt.total_seconds().to_numpy()
    span = int((trails["timestamp"].max() - T0).total_seconds())
    starts = np.where(rng.random(n_crimes) < 0.5, seconds - rng.integers(0, 3600, n_crimes),
                      rng.integers(-3600, span, n_crimes))
    crimes = make_crimes([(f"C{c}", x, y, int(start), int(start + rng.integers(0, 14 * 3600)))
                          for c, ((x, y), start) in enumerate(zip(scenes, starts))])
    return trails, crimes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(300, 1500), st.integers(1, 12))
def test_long_random_trails_agree_with_oracle(seed, n_fixes, n_crimes):
    """Hundreds of fixes per subject: the kernels' skipping of far runs never changes a hit or a measurement."""
    assert_agrees(*random_long_world(seed, n_fixes, n_crimes))


def test_result_is_the_same_on_any_number_of_threads(monkeypatch):
    trails, crimes = random_long_world(3, 1500, 200)
    one = match_hits(trails, crimes, CONFIG, threads=1)
    monkeypatch.setattr("geomatch.match.matcher._PAIRS_PER_TASK", 3)  # many small tasks, finished in any order
    many = match_hits(trails, crimes, CONFIG, threads=4)
    assert len(one) > 10
    pd.testing.assert_frame_equal(one, many)


def test_result_is_the_same_matched_in_parts(monkeypatch):
    """Subjects matched a few at a time (to bound memory) give the same hits, in the same order."""
    trails, crimes = random_long_world(5, 1500, 200)
    whole = match_hits(trails, crimes, CONFIG)
    monkeypatch.setattr("geomatch.match.matcher._FIXES_PER_PART", 400)  # a part per subject or two
    assert len(_subject_parts(trails, 400)) > 1
    parts = match_hits(trails, crimes, CONFIG)
    assert len(whole) > 10
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)
