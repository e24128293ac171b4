"""The reachable area of a possible hit: the ellipse of a gap, against its definition and the matcher."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from geomatch.evidence import EvidenceOptions, make_packs, pack_data
from geomatch.evidence.prism import SPEED_SOURCES, Prism, reachable_areas
from geomatch.core.times import utc_ns
from geomatch.evidence.text import fmt_time
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from tests.geomatch.evidence.test_evidence import SCENE, docx_text, pdf_text

T0 = pd.Timestamp("2026-06-10 13:00", tz="UTC")


def gap_trail(before: tuple[float, float], after: tuple[float, float], gap_s: float, step_m: float = 10.0):
    """A subject walking ``step_m`` per minute for 20 min to ``before``, silent for ``gap_s``, then walking on
    from ``after`` for 20 min (scene at ``SCENE``)."""
    rows = []
    for k in range(-20, 1):
        rows.append((T0 + pd.Timedelta(minutes=k), SCENE[0] + before[0] + step_m * k, SCENE[1] + before[1]))
    for k in range(0, 21):
        rows.append((T0 + pd.Timedelta(seconds=gap_s + 60 * k), SCENE[0] + after[0] + step_m * k,
                     SCENE[1] + after[1]))
    frame = pd.DataFrame(rows, columns=["timestamp", "x", "y"])
    return frame.assign(subject_id=pd.Categorical(["P"] * len(frame)), lat=51.5, lon=-0.1, accuracy_m=5.0,
                        source="GPS")[["subject_id", "timestamp", "x", "y", "lat", "lon", "accuracy_m", "source"]]


def crimes_at(start: pd.Timestamp, minutes: float = 10) -> pd.DataFrame:
    return pd.DataFrame({"crime_ref": ["CR/P/1"], "offence": ["burglary_residential"], "x": [SCENE[0]],
                         "y": [SCENE[1]], "committed_from": [start],
                         "committed_to": [start + pd.Timedelta(minutes=minutes)], "long_window": [False],
                         "dst_adjusted": [False], "free_text": ["x"], "area": [pd.NA],
                         "location_accuracy_m": [np.nan]})


def test_gap_prism_of_a_possible_hit(tmp_path):
    trails = gap_trail((-790, -50), (600, 100), 25 * 60)
    crimes = crimes_at(T0 + pd.Timedelta(minutes=5))
    hits = match_hits(trails, crimes, MatchConfig())
    assert hits["presence"].tolist() == ["possible"]
    hit = hits.iloc[0]
    data = pack_data(hit.to_dict(), crimes.iloc[0].to_dict(), trails, MatchConfig(), EvidenceOptions(crs="EPSG:27700"))
    assert len(data.prisms) == 1
    prism = data.prisms[0]
    assert prism.speed_mps == 2.0 and prism.speed_source == SPEED_SOURCES[1]  # 10 m a minute: the walk floor
    assert prism.duration_s == 1500.0
    assert prism.semi_major_m == pytest.approx(1500.0)
    c = math.hypot(1390, 150) / 2
    assert prism.semi_minor_m == pytest.approx(math.sqrt(1500.0 ** 2 - c ** 2))
    assert (prism.x0, prism.y0, prism.x1, prism.y1) == (SCENE[0] - 790, SCENE[1] - 50, SCENE[0] + 600, SCENE[1] + 100)
    arrive = (math.hypot(790, 50) - 100) / 2.0
    depart = 1500 - (math.hypot(600, 100) - 100) / 2.0
    assert abs((prism.zone_from - (T0 + pd.Timedelta(seconds=arrive))).total_seconds()) < 1e-6
    assert abs((prism.zone_to - (T0 + pd.Timedelta(seconds=depart))).total_seconds()) < 1e-6
    assert prism.contains(*SCENE)

    run = make_packs(hits, trails, crimes, tmp_path / "ev", options=EvidenceOptions(crs="EPSG:27700"))
    folder = run.packs[0]
    collection = json.loads((folder / "reachable.geojson").read_text())
    (feature,) = collection["features"]
    ring = np.array(feature["geometry"]["coordinates"][0])
    assert ring[0].tolist() == ring[-1].tolist()
    sums = np.hypot(ring[:, 0] - prism.x0, ring[:, 1] - prism.y0) + np.hypot(ring[:, 0] - prism.x1,
                                                                             ring[:, 1] - prism.y1)
    assert sums == pytest.approx(3000.0, abs=0.05)  # every outline point: |AP| + |PB| = v T
    assert feature["properties"]["from_sequence"] == 21 and feature["properties"]["to_sequence"] == 22
    assert collection["crs"]["properties"]["name"] == "EPSG:27700"
    for text in (docx_text(folder / "statement.docx"), pdf_text(folder / "statement.pdf")):
        assert "Reachable area. No position was recorded for 25 min 00 s, from fix 21 at" in text
        assert "7.2 km/h (a brisk walk, the lowest speed used)" in text
        assert f"{2 * prism.semi_major_m:,.1f} m long and {2 * prism.semi_minor_m:,.1f} m wide" in text
        assert f"between {fmt_time(prism.zone_from)} and {fmt_time(prism.zone_to)}" in text


def test_no_prism_when_the_zone_was_out_of_reach_or_the_hit_is_observed():
    trails = gap_trail((-2000, 0), (2000, 0), 10 * 60)  # 4 km in 10 min needs 6.7 m/s; walking 10 m/min: 2 m/s
    crimes = crimes_at(T0)
    assert match_hits(trails, crimes, MatchConfig()).empty
    t = utc_ns(trails["timestamp"])
    window = (t[0], t[-1])
    args = (trails["x"].to_numpy(), trails["y"].to_numpy(), np.arange(1, len(t) + 1), trails["timestamp"], SCENE,
            100.0, window, MatchConfig())
    assert reachable_areas(t, *args) == ()
    fast = MatchConfig(walk_speed_mps=7.0, max_speed_mps=13.4)
    (prism,) = reachable_areas(t, *args[:-1], fast)
    assert prism.speed_mps == 7.0


@settings(max_examples=60, deadline=None)
@given(st.floats(-3000, 3000), st.floats(-3000, 3000), st.floats(-3000, 3000), st.floats(-3000, 3000),
       st.floats(60, 3600), st.floats(0.5, 14), st.floats(-5000, 5000), st.floats(-5000, 5000))
def test_prism_contains_exactly_the_reachable_points(x0, y0, x1, y1, gap_s, speed, px, py):
    start = T0
    reach = speed * gap_s
    if math.hypot(x1 - x0, y1 - y0) > reach:
        return  # no prism: the gap cannot be crossed at that speed
    prism = Prism(start, start + pd.Timedelta(seconds=gap_s), 1, 2, x0, y0, x1, y1, speed, SPEED_SOURCES[0],
                  start, start)
    brute = math.hypot(px - x0, py - y0) + math.hypot(px - x1, py - y1) <= reach
    margin = abs(math.hypot(px - x0, py - y0) + math.hypot(px - x1, py - y1) - reach)
    if margin > 1e-6 * reach:
        assert prism.contains(px, py) == brute
    ring = prism.outline(64)
    sums = np.hypot(ring[:, 0] - x0, ring[:, 1] - y0) + np.hypot(ring[:, 0] - x1, ring[:, 1] - y1)
    assert sums == pytest.approx(reach, rel=1e-6, abs=1e-6)
