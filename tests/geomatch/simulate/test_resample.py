"""One planned world drawn at several fix intervals: same crimes and truth, the same error process read at
each interval (correlated in time, not per fix), fallback fixes at most once a minute, deterministic."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geomatch.core.crs import BNG, WGS84, transform
from geomatch.core.errors import InputError
from geomatch.simulate.resample import error_process, resample_world, resampled_trails
from geomatch.simulate.world import plan_world, simulate_world


@pytest.fixture(scope="module")
def plan():
    return plan_world(n_subjects=3, days=1, seed=5)


def test_the_plan_makes_the_same_world_as_simulate_world():
    a, b = simulate_world(n_subjects=3, days=1, seed=5), resample_world(plan_world(3, 1, seed=5), 60)
    pd.testing.assert_frame_equal(a.crimes, b.crimes)
    pd.testing.assert_frame_equal(a.truth.committed, b.truth.committed)


def test_every_interval_has_the_same_crimes_and_fix_counts_that_scale(plan):
    worlds = {k: resample_world(plan, k) for k in (1, 15, 120)}
    for world in worlds.values():
        pd.testing.assert_frame_equal(world.crimes, worlds[1].crimes)
    gps = {k: int((w.trails["source"] == "GPS").sum()) for k, w in worlds.items()}
    assert gps[1] / gps[15] == pytest.approx(15, rel=0.05) and gps[15] / gps[120] == pytest.approx(8, rel=0.05)
    fallback = {k: int((w.trails["source"] != "GPS").sum()) for k, w in worlds.items()}
    assert fallback[1] == pytest.approx(fallback[15], rel=0.1)  # one a minute, whatever the GPS interval
    trails = worlds[1].trails
    for _, fixes in trails[trails["source"] != "GPS"].groupby("subject_id", observed=True):
        assert (fixes["timestamp"].diff().dropna() >= pd.Timedelta(seconds=60)).all()


def test_same_plan_seed_and_interval_same_trails(plan):
    pd.testing.assert_frame_equal(resampled_trails(plan, 5), resampled_trails(plan, 5))
    assert not resampled_trails(plan, 5, seed=1).equals(resampled_trails(plan, 5))


def test_the_error_is_one_process_read_at_each_interval(plan):
    # GPS fixes at the same second of a 1 s and a 15 s trail carry the same position: one error process
    fine, coarse = (resampled_trails(plan, k) for k in (1, 15))
    fine, coarse = (t[t["source"] == "GPS"].set_index(["subject_id", "timestamp"]) for t in (fine, coarse))
    common = coarse.index.intersection(fine.index)
    assert len(common) > 0.9 * len(coarse)
    np.testing.assert_allclose(fine.loc[common, "lat"], coarse.loc[common, "lat"], atol=1e-7)


def test_the_error_is_correlated_in_time():
    e = error_process(np.random.default_rng(0), 200_000, 60.0)[0]
    assert e.std() == pytest.approx(1.0, abs=0.05)
    for lag in (1, 60, 300):
        expected = (1 - 0.05 ** 2) * (1 + lag / 60.0) * np.exp(-lag / 60.0)
        assert np.corrcoef(e[:-lag], e[lag:])[0, 1] == pytest.approx(expected, abs=0.05)


def test_a_still_subject_wanders_slowly_at_1_s(plan):
    # the apparent speed of GPS error between fixes a second apart is small (independent noise would make it
    # several metres a second)
    trails = resampled_trails(plan, 1)
    one = trails[(trails["subject_id"] == trails["subject_id"].iloc[0]) & (trails["source"] == "GPS")]
    x, y = transform(one["lon"].to_numpy(), one["lat"].to_numpy(), WGS84, BNG)
    step = np.hypot(np.diff(x), np.diff(y))[np.diff(one["timestamp"]).astype("timedelta64[s]").astype(int) == 1]
    assert np.median(step) < 1.5


def test_bad_intervals_are_refused(plan):
    for bad in (0, 1.5):
        with pytest.raises(InputError, match="interval"):
            resampled_trails(plan, bad)
