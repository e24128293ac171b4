"""The per-fix speed in points.csv comes from quality-ok neighbours only: a fallback fix between two GPS fixes
neither sets their speed nor gets one of its own."""
from __future__ import annotations

import numpy as np
import pandas as pd

from geomatch.evidence.points import good_speed_mps

T0 = pd.Timestamp("2026-11-02 12:00", tz="UTC")


def _fixes(quality: list[str] | None) -> pd.DataFrame:
    # walking east at 1.5 m/s, a fix a minute; the third fix is an LBS fix 700 m north
    frame = pd.DataFrame({"timestamp": T0 + pd.to_timedelta([0, 60, 90, 120, 180], unit="s"),
                          "x": [0.0, 90.0, 135.0, 180.0, 270.0], "y": [0.0, 0.0, 700.0, 0.0, 0.0]})
    return frame if quality is None else frame.assign(quality=pd.Categorical(quality))


def test_a_fallback_fix_neither_sets_nor_gets_a_speed():
    speed = good_speed_mps(_fixes(["ok", "ok", "fallback", "ok", "ok"]), 300.0)
    assert np.isnan(speed[2])
    assert speed[[0, 1, 3, 4]].tolist() == [1.5, 1.5, 1.5, 1.5]


def test_without_quality_flags_every_fix_is_on_the_path():
    speed = good_speed_mps(_fixes(None), 300.0)
    assert speed[2] > 20.0  # the jump to the far fix, as the trail says when nothing flags it


def test_a_gap_gives_no_speed_across_it():
    speed = good_speed_mps(_fixes(["ok", "ok", "fallback", "ok", "ok"]), 30.0)
    assert np.isnan(speed).all()
