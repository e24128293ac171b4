"""The trail-quality stage on real GPS logs (``../shared/data/gps/``, skipped when absent): GeoLife (1-5 s,
Beijing), the Limerick bus 304 (1 s, GPX) and a Zurich phone history (about a fix a minute, with accuracy).

For each trail: fixes flagged fallback and outlier, the jumps left between good fixes (steps faster than
``outlier_speed_mps``, accuracy allowed for, that are not spikes), then planted scenes: a crime at the middle of
every jump (a 10-minute window around it, 100 m zone), and a crime on every 500th good fix (the subject was
there). Each set is matched with the rule and without it (every fix ok, nothing a jump), and the hits counted by
class. Prints one table; the figures are in ``docs/trail-quality.md``.
"""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.quality import assess_trails, least_speed

GPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "gps"
NO_RULE = MatchConfig(fallback_accuracy_m=1e12, outlier_speed_mps=1e12)  # every fix ok, no step a jump


def _limerick(folder: Path) -> Path:
    text = (GPS / "movingpandas_limerick_bus304_2019-02-18.gpx").read_text(encoding="utf-8")
    points = re.findall(r'<trkpt lat="([-\d.]+)" lon="([-\d.]+)">.*?<time>([^<]+)</time>', text, re.S)
    frame = pd.DataFrame(points, columns=["lat", "lon", "timestamp"]).assign(subject_id="BUS304")
    path = folder / "limerick.csv"
    frame.to_csv(path, index=False)
    return path


def _zurich(folder: Path) -> Path:
    raw = pd.read_csv(GPS / "trackintel_google_trajectory.csv", sep=";")
    frame = pd.DataFrame({"subject_id": "Z" + raw["user_id"].astype(str), "timestamp": raw["tracked_at"],
                          "lat": raw["latitude"], "lon": raw["longitude"], "accuracy_m": raw["accuracy"]})
    path = folder / "zurich.csv"
    frame.to_csv(path, index=False)
    return path


def _scenes(trails: pd.DataFrame, config: MatchConfig) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Crimes at the middle of every jump between good fixes, and on every 500th good fix; the jumps' count."""
    good = trails[trails["quality"] == "ok"].reset_index(drop=True)
    t = good["timestamp"].astype("int64").to_numpy()
    x, y, acc = good["x"].to_numpy(), good["y"].to_numpy(), good["accuracy_m"].to_numpy()
    same = good["subject_id"].to_numpy()[1:] == good["subject_id"].to_numpy()[:-1]
    speeds = np.array([least_speed(t, x, y, acc, i, i + 1) for i in range(len(good) - 1)])
    jumps = np.flatnonzero(same & (speeds > config.outlier_speed_mps) & (np.diff(t) <= config.interp_max_gap_s * 1e9))

    def crimes(rows: np.ndarray, at_x: np.ndarray, at_y: np.ndarray, at_t: np.ndarray, name: str) -> pd.DataFrame:
        when = pd.to_datetime(at_t, utc=True)
        return pd.DataFrame({"crime_ref": [f"{name}{k}" for k in range(len(rows))], "offence": "robbery",
                             "x": at_x, "y": at_y, "committed_from": when - pd.Timedelta(minutes=5),
                             "committed_to": when + pd.Timedelta(minutes=5), "long_window": False})

    mid = crimes(jumps, (x[jumps] + x[jumps + 1]) / 2, (y[jumps] + y[jumps + 1]) / 2,
                 (t[jumps] + t[jumps + 1]) // 2, "J")
    on = np.arange(0, len(good), 500)
    return mid, crimes(on, x[on], y[on], t[on], "F"), len(jumps)


def _counts(hits: pd.DataFrame) -> str:
    by = hits["presence"].value_counts()
    return f"{by.get('observed', 0)}/{by.get('interpolated', 0)}/{by.get('possible', 0)}"


def main(quick: bool = False) -> None:
    if not GPS.is_dir():
        print(f"no real GPS logs at {GPS}: skipped")
        return
    config = MatchConfig().with_uniform_rule(radius_m=100.0, pad_s=0.0)
    no_rule = NO_RULE.with_uniform_rule(radius_m=100.0, pad_s=0.0)
    print("hits are observed/interpolated/possible; 'jump scenes' sit halfway along a jump, 'fix scenes' on a fix")
    print(f"{'trail':<10} {'fixes':>8} {'fallback':>8} {'outlier':>8} {'jumps':>6} {'stage s':>8} "
          f"{'jump scenes: no rule':>21} {'rule':>10} {'fix scenes: no rule':>20} {'rule':>10}")
    with tempfile.TemporaryDirectory() as folder:
        sources = {"GeoLife": GPS / "geolife_trackintel_10users.csv", "Limerick": _limerick(Path(folder)),
                   "Zurich": _zurich(Path(folder))}
        for name, path in sources.items():
            validated = load_trails(path)
            started = time.perf_counter()
            flagged = assess_trails(validated, config.quality_rule)
            seconds = time.perf_counter() - started
            trails = flagged.accepted
            by = trails["quality"].value_counts()
            jump_scenes, fix_scenes, n_jumps = _scenes(trails, config)
            row = []
            for scenes in (jump_scenes, fix_scenes):
                row += [_counts(match_hits(validated.accepted, scenes, no_rule)),
                        _counts(match_hits(flagged, scenes, config))]
            print(f"{name:<10} {len(trails):>8,} {by.get('fallback', 0):>8,} {by.get('outlier', 0):>8,} {n_jumps:>6,} "
                  f"{seconds:>8.2f} {row[0]:>21} {row[1]:>10} {row[2]:>20} {row[3]:>10}")
            reasons = trails.loc[trails["quality"] == "outlier", "quality_reason"].astype(str)
            if len(reasons):
                print(f"           e.g. {reasons.value_counts().index[0]!r}")
