"""The transparent default model: points per feature (see :class:`geomatch.scoring.config.Weights`), summed and
clipped to 0-100. Deterministic, and monotonic where it should be: a longer stop, a shorter window, a closer
approach, a scene farther from home or visited on fewer other days never lowers the score, all else equal."""
from __future__ import annotations

import numpy as np
import pandas as pd

from geomatch.scoring.config import ScoreConfig

#: The terms of the default model, in the order reasons are given.
TERMS = ("presence", "proximity", "stop", "pass_speed", "offset", "home", "stayed_days", "passing_days", "window",
         "source", "coarse", "gap")

#: The hit columns (besides the features) the model reads.
HIT_INPUTS = ("presence", "min_distance_m", "radius_m", "accuracy_at_closest_m", "source_at_closest", "max_gap_s")


def points(table: pd.DataFrame, config: ScoreConfig | None = None) -> pd.DataFrame:
    """The points each term gives each hit (one column per term in :data:`TERMS`), from a table holding the
    :data:`HIT_INPUTS` and the :data:`geomatch.scoring.features.FEATURES`."""
    config = config or ScoreConfig()
    w = config.weights
    f = {c: table[c].to_numpy(dtype=float) for c in (
        "min_distance_m", "radius_m", "accuracy_at_closest_m", "max_gap_s", "stop_s", "speed_near_mps",
        "stop_offset_m", "window_s", "home_distance_m", "days_passing", "days_stopped")}
    presence = table["presence"].astype(str).to_numpy()
    source = table["source_at_closest"].astype(str).to_numpy()
    stopped = f["stop_s"] >= config.stop_min_s
    speed = np.nan_to_num(f["speed_near_mps"], nan=0.0)
    accuracy = np.nan_to_num(f["accuracy_at_closest_m"], nan=config.default_accuracy_m)
    coarse = accuracy > f["radius_m"]  # a fix wider than the zone: its speed is noise, and it is penalised itself
    log_window = np.log(np.maximum(f["window_s"], 1.0))
    log_short, log_long = np.log(w.window_short_s), np.log(w.window_long_s)
    offset = np.nan_to_num(f["stop_offset_m"], nan=0.0)
    home = np.nan_to_num(f["home_distance_m"], nan=np.inf)
    terms = {
        "presence": np.select([presence == "observed", presence == "interpolated", presence == "possible"],
                              [w.observed, w.interpolated, w.possible], 0.0),
        "proximity": w.proximity * (1.0 - np.clip(f["min_distance_m"] / f["radius_m"], 0.0, 1.0)),
        "stop": np.minimum(f["stop_s"] / 60.0 * w.stop_per_min, w.stop_max),
        "pass_speed": np.where(stopped | coarse, 0.0,
                               np.select([speed >= w.vehicle_speed_mps, speed >= w.walk_speed_mps],
                                         [-w.vehicle, -w.walk], 0.0)),
        "offset": -w.offset * np.clip((offset - w.offset_free_m) / (w.offset_full_m - w.offset_free_m), 0.0, 1.0),
        "home": -w.home * np.clip(2.0 - home / config.home_radius_m, 0.0, 1.0),
        "stayed_days": -np.minimum(w.stay_day * f["days_stopped"], w.stay_max),
        "passing_days": np.where(stopped, 0.0, -np.minimum(w.pass_day * f["days_passing"], w.pass_max)),
        "window": w.window * np.clip((log_long - log_window) / (log_long - log_short), 0.0, 1.0),
        "source": np.select([source == "LBS", source == "WIFI"], [-w.lbs, -w.wifi], 0.0),
        "coarse": np.where(coarse, -w.coarse, 0.0),
        "gap": -np.minimum(np.maximum(f["max_gap_s"] - w.gap_free_s, 0.0) / 60.0 * w.gap_per_min, w.gap_max),
    }
    return pd.DataFrame({name: terms[name] + 0.0 for name in TERMS}, index=table.index)


def default_scores(table: pd.DataFrame, config: ScoreConfig | None = None) -> np.ndarray:
    """The default model's score (0-100) of each hit: the sum of its :func:`points`, clipped."""
    return score_from_points(points(table, config))


def score_from_points(terms: pd.DataFrame) -> np.ndarray:
    """Sum the points and clip to 0-100, rounded to 0.1 so that reruns give identical files."""
    return np.round(np.clip(terms.sum(axis=1).to_numpy(dtype=float), 0.0, 100.0), 1)
