"""Stops, speeds and passes measured so that the sampling rate does not matter: the compiled kernels against
brute-force oracles (hypothesis), and a dwell measured the same at 1 s and at 60 s under correlated GPS error."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.scoring import ScoreConfig, Scorer
from geomatch.scoring.features import good_fixes
from geomatch.scoring.routine import NS, Scenes, SubjectTrail, days_passing, runs, still_fixes
from geomatch.simulate.resample import error_process

CONFIG = MatchConfig().with_uniform_rule(radius_m=100.0, pad_s=0.0)
T0 = pd.Timestamp("2026-11-02 00:00", tz="UTC")


# ---- oracles ---------------------------------------------------------------------------------------------------

def still_oracle(trail: SubjectTrail, config: ScoreConfig, reach_s: float) -> list[bool]:
    """A fix is still when, on either side, the nearest fix at least still_span_s away is close enough."""
    t, n, span = trail.t, len(trail.t), config.still_span_s * NS
    out = []
    for i in range(n):
        later = [j for j in range(n) if t[j] >= t[i] + span]
        earlier = [j for j in range(n) if t[j] <= t[i] - span]
        ends = ([later[0]] if later else []) + ([earlier[-1]] if earlier else [])
        out.append(any(
            abs(t[j] - t[i]) <= span + reach_s * NS
            and math.hypot(trail.x[j] - trail.x[i], trail.y[j] - trail.y[i])
            <= min(max(config.stay_radius_m, config.still_accuracy_factor
                       * math.hypot(trail.accuracy[i], trail.accuracy[j])), config.still_max_m)
            for j in ends))
    return out


def passing_oracle(trail: SubjectTrail, scenes: Scenes, gap_s: float) -> list[int]:
    """Days in each hit's routine period with a fix, or a segment between fixes at most gap_s apart, within r."""
    out = []
    for j in range(len(scenes.cx)):
        days = set()
        for i in range(len(trail.t)):
            x0, y0, x1, y1 = trail.x[i], trail.y[i], trail.x[i], trail.y[i]
            if i + 1 < len(trail.t) and 0 < trail.t[i + 1] - trail.t[i] <= gap_s * NS:
                x1, y1 = trail.x[i + 1], trail.y[i + 1]
            dx, dy = x1 - x0, y1 - y0
            f = 0.0 if dx == dy == 0 else min(max(((scenes.cx[j] - x0) * dx + (scenes.cy[j] - y0) * dy)
                                                  / (dx * dx + dy * dy), 0.0), 1.0)
            if math.hypot(x0 + f * dx - scenes.cx[j], y0 + f * dy - scenes.cy[j]) <= scenes.r[j]:
                days.add(int(trail.day[i]))
        routine = scenes.take(np.array([j])).routine(np.array(sorted(days), dtype=np.int64))[0]
        out.append(int(routine.sum()))
    return out


@st.composite
def trails(draw, max_fixes: int = 60) -> SubjectTrail:
    """A short random trail: steps of 1 s to 20 min, moves of up to 300 m, accuracy 3-60 m, over a few days."""
    n = draw(st.integers(1, max_fixes))
    steps = draw(st.lists(st.sampled_from([1, 5, 30, 60, 61, 119, 120, 121, 200, 400, 1200, 20000]),
                          min_size=n, max_size=n))
    moves = draw(st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300)), min_size=n, max_size=n))
    accuracy = draw(st.lists(st.floats(3, 60), min_size=n, max_size=n))
    t = T0.value + np.cumsum(np.array(steps, dtype=np.int64)) * NS
    x = np.cumsum([m[0] for m in moves]) * draw(st.sampled_from([0.0, 0.1, 1.0]))
    y = np.cumsum([m[1] for m in moves]) * draw(st.sampled_from([0.0, 0.1, 1.0]))
    day = (t // (86400 * NS)).astype(np.int64)
    return SubjectTrail(t, x.astype(float), y.astype(float), day, (t // (3600 * NS)) % 24,
                        np.array(accuracy, dtype=float))


@settings(max_examples=150, deadline=None)
@given(trails(), st.sampled_from([300.0, 1800.0]))
def test_still_fixes_match_the_oracle(trail, reach_s):
    config = ScoreConfig()
    assert still_fixes(trail, config, reach_s).tolist() == still_oracle(trail, config, reach_s)


@settings(max_examples=100, deadline=None)
@given(trails(), st.lists(st.tuples(st.floats(-500, 500), st.floats(-500, 500), st.floats(10, 150),
                                    st.integers(-2, 2)), min_size=1, max_size=5))
def test_passing_days_match_the_oracle(trail, points):
    first_day = int(trail.day[0])
    scenes = Scenes(np.array([p[0] for p in points]), np.array([p[1] for p in points]),
                    np.array([p[2] for p in points]), np.zeros(len(points), dtype=np.int64),
                    np.zeros(len(points), dtype=np.int64), np.array([first_day + p[3] for p in points]),
                    np.array([first_day + p[3] for p in points]), 28, 28)
    assert days_passing(trail, scenes, 300.0).tolist() == passing_oracle(trail, scenes, 300.0)


def test_a_stray_stretch_is_bridged_at_every_rate():
    # still fixes around one that is not: at 1 s a 60 s stray stretch, at 120 s one stray fix (120 s) are bridged;
    # a stretch of 3 stray fixes at 120 s (360 s) is not
    for step, stray in ((1, range(100, 160)), (120, [10]), (120, [10, 11, 12])):
        t = np.arange(30, dtype=np.int64) * step * NS if step == 120 else np.arange(400, dtype=np.int64) * NS
        index = np.setdiff1d(np.arange(len(t)), list(stray))
        first, last = runs(t, index, 300.0, 120.0)
        assert len(first) == (2 if len(stray) == 3 else 1)


# ---- a real dwell measured at 1 s and at 60 s ------------------------------------------------------------------

def _dwell_trail(dwell_s: int, interval_s: int, accuracy_m: float, seed: int) -> pd.DataFrame:
    """Walk 10 min east at 1.4 m/s to (0, 0), stay dwell_s there, walk 10 min north; fixes every interval_s read
    off one smooth error process (correlation 60 s) drawn every second, as geomatch.simulate.resample does."""
    total = 600 + dwell_s + 600
    second = np.arange(total)
    x = np.where(second < 600, -1.4 * (600 - second), 0.0)
    y = np.where(second > 600 + dwell_s, 1.4 * (second - 600 - dwell_s), 0.0)
    error = error_process(np.random.default_rng(seed), total, 60.0, rows=2) * accuracy_m / 1.51
    keep = second[::interval_s]
    return pd.DataFrame({
        "subject_id": "S", "timestamp": T0 + pd.to_timedelta(keep, unit="s"),
        "x": x[keep] + error[0, keep], "y": y[keep] + error[1, keep], "accuracy_m": accuracy_m, "source": "GPS",
        "lat": 0.0, "lon": 0.0})


def _stop_s(trails: pd.DataFrame, scene=(20.0, 10.0)) -> float:
    crimes = pd.DataFrame({"crime_ref": ["C"], "offence": ["burglary_residential"], "x": [scene[0]],
                           "y": [scene[1]], "committed_from": [T0], "committed_to": [T0 + pd.Timedelta(hours=2)],
                           "long_window": [False]})
    hits = match_hits(trails, crimes, CONFIG)
    assert len(hits) == 1
    return float(Scorer().score(hits, trails, crimes, CONFIG)["stop_s"].iloc[0])


@settings(max_examples=12, deadline=None)
@example(minutes=18, accuracy_m=18.326531455704426, seed=18)
@given(st.integers(5, 24), st.floats(3.0, 25.0), st.integers(0, 10 ** 6))
def test_a_dwell_measures_the_same_at_1_s_and_60_s(minutes, accuracy_m, seed):
    dwell_s = minutes * 60
    every_second = _stop_s(_dwell_trail(dwell_s, 1, accuracy_m, seed))
    every_minute = _stop_s(_dwell_trail(dwell_s, 60, accuracy_m, seed))
    assert abs(every_second - every_minute) <= 120.0
    # at most a fix interval short (plus the jitter); long by no more than the walk within the stillness
    # allowance plus the fixes' own error at each end (walking 1.4 m/s): a fix that close to the stop, once its
    # error is added, cannot be told from it (hypothesis found a 1,080 s dwell at 18 m accuracy measured 1,209 s
    # at 1 s, 6.6 s beyond the allowance alone)
    config = ScoreConfig()
    allowance_m = min(max(config.stay_radius_m, config.still_accuracy_factor * math.hypot(accuracy_m, accuracy_m)),
                      config.still_max_m)
    for measured in (every_second, every_minute):
        assert dwell_s - 120.0 <= measured <= dwell_s + 2 * (allowance_m + accuracy_m) / 1.4 + 30.0


def test_a_walk_past_is_no_stop_at_any_rate():
    for interval in (1, 5, 60):
        trails = _dwell_trail(0, interval, 12.0, seed=3)
        assert _stop_s(trails, scene=(-300.0, 0.0)) < ScoreConfig().stop_min_s


def test_only_quality_ok_fixes_are_measured():
    trails = _dwell_trail(600, 60, 8.0, seed=1)
    flagged = trails.assign(quality=pd.Categorical(["ok"] * len(trails), categories=["ok", "fallback", "outlier"]))
    flagged.loc[flagged.index[12], "quality"] = "fallback"
    assert good_fixes(flagged).sum() == len(trails) - 1
    assert good_fixes(trails) is None
    with_outlier = flagged.copy()
    with_outlier.loc[with_outlier.index[14], ["x", "quality"]] = (900.0, "outlier")
    assert _stop_s(with_outlier) == pytest.approx(_stop_s(flagged))


# ---- the compiled zone walk, stay points, homes and stay days against plain loops -------------------------------

def zone_oracle(trail: SubjectTrail, still: np.ndarray, cx: float, cy: float, r: float, ws: int, we: int,
                config: ScoreConfig, gap_s: float) -> tuple[float, float, float]:
    """(stop_s, stop_offset_m, median speed) of one hit by brute force, as features._in_zone defines them."""
    t, n = trail.t, len(trail.t)
    half, gap = round(config.speed_span_s / 2 * NS), round(gap_s * NS)
    inside = [i for i in range(n) if ws <= t[i] <= we and math.hypot(trail.x[i] - cx, trail.y[i] - cy) <= r]
    speeds = []
    for i in inside:
        before = max([j for j in range(n) if t[j] <= t[i] - half], default=0)
        after = min([j for j in range(n) if t[j] >= t[i] + half], default=n - 1)
        if 0 < t[after] - t[before] <= 2 * half + gap:
            speeds.append(math.hypot(trail.x[after] - trail.x[before], trail.y[after] - trail.y[before])
                          / ((t[after] - t[before]) / 1e9))
    stills = [i for i in inside if still[i]]
    best, best_len, run = None, -1, []
    for i in stills:
        if run:
            p = run[-1]
            between = (t[i] - t[p]) - 0.5 * (t[p + 1] - t[p]) - 0.5 * (t[i] - t[i - 1])
            if any(t[k + 1] - t[k] > gap for k in range(p, i)) or between > config.stop_bridge_s * NS:
                if t[run[-1]] - t[run[0]] > best_len:
                    best, best_len = run, t[run[-1]] - t[run[0]]
                run = []
        run.append(i)
    if run and t[run[-1]] - t[run[0]] > best_len:
        best, best_len = run, t[run[-1]] - t[run[0]]
    offset = math.nan
    if best is not None and len(best) >= 3:
        offset = math.hypot(np.median(trail.x[best]) - cx, np.median(trail.y[best]) - cy)
    return (best_len / 1e9 if best else 0.0, offset, float(np.median(speeds)) if speeds else math.nan)


@settings(max_examples=150, deadline=None)
@given(trails(), st.lists(st.tuples(st.floats(-400, 400), st.floats(-400, 400), st.floats(20, 200),
                                    st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=4))
def test_the_zone_walk_matches_the_oracle(trail, points):
    from geomatch.scoring.features import _in_zone
    config = ScoreConfig()
    t0 = int(trail.t[0])
    ws = np.array([t0 + p[3] * 600 * NS for p in points], dtype=np.int64)
    we = ws + np.array([p[4] * 900 * NS for p in points], dtype=np.int64)
    scenes = Scenes(np.array([p[0] for p in points]), np.array([p[1] for p in points]),
                    np.array([p[2] for p in points]), ws, we, ws // (86400 * NS), we // (86400 * NS), 28, 28)
    still = still_fixes(trail, config, 300.0)
    got = np.column_stack(_in_zone(trail, scenes, still, 300.0, config))
    want = np.array([zone_oracle(trail, still, p[0], p[1], p[2], a, b, config, 300.0)
                     for p, a, b in zip(points, ws, we)])
    # the same sums in another order: equal to the last bit or two (hypothesis found 4.73138540997849 against
    # 4.731385409978491)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def stays_oracle(trail: SubjectTrail, config: ScoreConfig) -> list[tuple[float, float, int, int]]:
    """Stay points by plain loops: runs of still fixes (bridged, split at long steps) of stay_min_s or more."""
    t = trail.t
    still = [i for i, s in enumerate(still_fixes(trail, config, config.stay_max_gap_s)) if s]
    found, run = [], []
    for i in still + [None]:
        if i is not None and run:
            p = run[-1]
            between = (t[i] - t[p]) - 0.5 * (t[p + 1] - t[p]) - 0.5 * (t[i] - t[i - 1])
            split = any(t[k + 1] - t[k] > config.stay_max_gap_s * NS for k in range(p, i)) \
                or between > config.stop_bridge_s * NS
        if run and (i is None or split):
            if t[run[-1]] - t[run[0]] >= config.stay_min_s * NS:
                found.append((sum(trail.x[run]) / len(run), sum(trail.y[run]) / len(run), int(t[run[0]]),
                              int(t[run[-1]])))
            run = []
        if i is not None:
            run.append(i)
    return found


@settings(max_examples=150, deadline=None)
@given(trails(max_fixes=80))
def test_stay_points_match_the_oracle(trail):
    from geomatch.scoring.routine import find_stays
    config = ScoreConfig()
    stays = find_stays(trail, config)
    want = stays_oracle(trail, config)
    assert [(int(a), int(b)) for a, b in zip(stays.t0, stays.t1)] == [(w[2], w[3]) for w in want]
    assert stays.x.tolist() == pytest.approx([w[0] for w in want]) and \
        stays.y.tolist() == pytest.approx([w[1] for w in want])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 23), st.floats(-200, 200), st.floats(-200, 200)),
                min_size=1, max_size=80),
       st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.floats(-200, 200), st.floats(-200, 200),
                          st.floats(10, 150)), min_size=1, max_size=4))
def test_homes_and_stay_days_match_the_oracle(fixes, hits):
    from geomatch.scoring.routine import Stays, days_with_stays, home_positions
    config = ScoreConfig(lookback_days=3, lookahead_days=2)
    fixes = sorted(fixes)
    day = np.array([f[0] for f in fixes], dtype=np.int32) + 20000
    trail = SubjectTrail(np.arange(len(fixes), dtype=np.int64) * NS, np.array([f[2] for f in fixes]),
                         np.array([f[3] for f in fixes]), day, np.array([f[1] for f in fixes], dtype=np.int8),
                         np.full(len(fixes), 10.0))
    first = np.array([20000 + min(h[0], h[1]) for h in hits])
    last = np.array([20000 + max(h[0], h[1]) for h in hits])
    scenes = Scenes(np.array([h[2] for h in hits]), np.array([h[3] for h in hits]), np.array([h[4] for h in hits]),
                    first, last, first, last, 3, 2)
    routine = scenes.routine
    home_x, home_y, nights = home_positions(trail, scenes, config)
    stays = Stays(trail.x, trail.y, trail.t, trail.t, day.astype(np.int64), day.astype(np.int64) + (trail.x > 0))
    stayed = days_with_stays(stays, scenes)
    for j in range(len(hits)):
        in_period = routine(np.unique(day))[j]
        night_days = [d for d, use in zip(np.unique(day), in_period) if use
                      and any(dd == d and config.night_start_h <= h < config.night_end_h
                              for dd, h in zip(day, trail.hour))]
        medians = [(np.median([x for x, dd, h in zip(trail.x, day, trail.hour) if dd == d and h < 5]),
                    np.median([y for y, dd, h in zip(trail.y, day, trail.hour) if dd == d and h < 5]))
                   for d in night_days]
        if medians:
            hx, hy = np.median([m[0] for m in medians]), np.median([m[1] for m in medians])
            near = sum(math.hypot(m[0] - hx, m[1] - hy) <= config.home_radius_m for m in medians)
        else:
            hx = hy = math.nan
            near = 0
        found = near >= config.min_home_nights
        assert nights[j] == near
        np.testing.assert_array_equal([home_x[j], home_y[j]], [hx, hy] if found else [math.nan, math.nan])
        days = {int(d) for s in range(len(stays.x)) if math.hypot(stays.x[s] - scenes.cx[j], stays.y[s]
                                                                  - scenes.cy[j]) <= scenes.r[j]
                for d in (stays.day0[s], stays.day1[s])}
        assert stayed[j] == sum(bool(routine(np.array([d]))[j, 0]) for d in days)
