"""Reasons: short sentences that say why a hit scored as it did, from its features and the default model's
points, e.g. "stopped 14 min within 100 m, centred 6 m from the scene; not a place this subject visits
routinely (6 other days of trail)". Sentences are joined with "; " in the order of
:data:`geomatch.scoring.model.TERMS`."""
from __future__ import annotations

import math

import pandas as pd

from geomatch.scoring.config import ScoreConfig

SEPARATOR = "; "
WALK_MAX_MPS = 2.5  # passes slower than this (9 km/h) are told as walking, faster ones below vehicle speed as moving
#: The hit columns and features the reasons read.
READS = ("presence", "min_distance_m", "radius_m", "accuracy_at_closest_m", "source_at_closest", "max_gap_s",
         "stop_s", "stop_offset_m", "speed_near_mps", "window_s", "home_distance_m", "home_nights", "days_passing",
         "days_stopped", "routine_days")


def duration(seconds: float) -> str:
    """A duration for people: ``40 s``, ``14 min``, ``2 h 20 min``, ``1 d 3 h``."""
    if not math.isfinite(seconds):
        return "unknown time"
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def _days(n: int) -> str:
    return f"{n} other day" + ("" if n == 1 else "s")


def hit_reasons(row: dict, pts: dict, config: ScoreConfig) -> str:
    """The reasons of one hit: ``row`` holds its hit columns and features, ``pts`` its points per term."""
    w = config.weights
    said = []
    radius = row["radius_m"]
    if row["presence"] == "observed":
        said.append(f"a fix {row['min_distance_m']:.0f} m from the scene during the window")
    elif row["presence"] == "interpolated":
        said.append(f"the path between two fixes passes {row['min_distance_m']:.0f} m from the scene")
    elif row["max_gap_s"] > 0 and row["min_distance_m"] > radius + _accuracy(row, config):
        said.append(f"no fix near the scene: a {duration(row['max_gap_s'])} gap in the trail from which it "
                    f"could have been reached")
    else:
        said.append(f"only a fix {row['min_distance_m']:.0f} m away whose accuracy circle reaches the zone")

    if row["stop_s"] >= config.stop_min_s:
        offset = row["stop_offset_m"]
        centred = f", centred {offset:.0f} m from the scene" if not math.isnan(offset) else ""
        said.append(f"stopped {duration(row['stop_s'])} within {radius:.0f} m{centred}")
    elif pts["pass_speed"] < 0:
        speed = row["speed_near_mps"]
        kind = "drove" if speed >= w.vehicle_speed_mps else "walked" if speed < WALK_MAX_MPS else "moved"
        said.append(f"{kind} past without stopping ({row['speed_near_mps'] * 3.6:.0f} km/h)")
    elif row["presence"] != "possible":
        said.append(f"no stop in the zone (longest stay {duration(row['stop_s'])})")

    routine = []
    if pts["home"] < 0:
        routine.append(f"the subject's home is {row['home_distance_m']:.0f} m from the scene "
                       f"({row['home_nights']} nights there)")
    if row["days_stopped"] > 0:
        routine.append(f"stopped within {radius:.0f} m on {_days(row['days_stopped'])}")
    if row["days_passing"] > 0:
        routine.append(f"passes within {radius:.0f} m on {_days(row['days_passing'])}")
    if routine:
        said.extend(routine)
    elif row["routine_days"] > 0:
        said.append(f"not a place this subject visits routinely ({row['routine_days']} other days of trail)")
    else:
        said.append("no trail outside the crime's days to judge routine")

    window_points = pts["window"]
    specific = ("specific" if window_points >= 2.0 * w.window / 3.0 else
                "unspecific" if window_points <= w.window / 3.0 else "moderately specific")
    said.append(f"{duration(row['window_s'])} window ({specific})")
    if pts["source"] < 0:
        name = "the phone network (LBS)" if row["source_at_closest"] == "LBS" else "Wi-Fi"
        said.append(f"closest fix from {name}, not GPS")
    if pts["coarse"] < 0:
        said.append(f"fix accuracy {_accuracy(row, config):.0f} m is wider than the {radius:.0f} m zone")
    if pts["gap"] < 0:
        said.append(f"a {duration(row['max_gap_s'])} gap in the trail around the window")
    return SEPARATOR.join(said)


def _accuracy(row: dict, config: ScoreConfig) -> float:
    value = row["accuracy_at_closest_m"]
    return config.default_accuracy_m if value is None or math.isnan(value) else value


def all_reasons(table: pd.DataFrame, terms: pd.DataFrame, config: ScoreConfig) -> list[str]:
    """The reasons of every hit (one loop over hits, not fixes)."""
    rows = table[list(READS)].to_dict("records")
    pts = terms.to_dict("records")
    return [hit_reasons(row, p, config) for row, p in zip(rows, pts)]
