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
#: The matcher's facts the first sentences are built from (hits matched before they existed lack them: those
#: sentences are then left out rather than guessed).
FACTS = ("n_fixes_in_zone", "closest_time", "closest_kind", "closest_fix_time", "closest_next_fix_time",
         "min_distance_committed_m", "closest_time_committed", "coverage_good_share", "coverage_fallback_share",
         "coverage_gap_share", "longest_gap_committed_s", "n_gaps_committed", "possible_by", "circle_distance_m",
         "circle_accuracy_m", "circle_source", "gap_from", "gap_to", "gap_speed_mps", "gap_speed_basis")


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


def _fixes(n: int) -> str:
    return "one fix" if n == 1 else f"{n} fixes"


def with_article(word: str) -> str:
    """"a GPS fix", "an LBS fix": the article as the letters are read out."""
    return ("an " if word[:1].upper() in "AEFHILMNORSX" else "a ") + word


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def closest_phrase(row: dict) -> str:
    """What the closest approach is, from the hit's facts: "21 m, at a GPS fix (±8 m)" or "21 m, a point on
    the straight line between two fixes 60 s apart", and the window it lies in."""
    distance = row["min_distance_m"]
    if _missing(distance):
        return "none: the trail of good fixes does not reach the window"
    if row["closest_kind"] == "segment":
        apart = (pd.Timestamp(row["closest_next_fix_time"]) - pd.Timestamp(row["closest_fix_time"])).total_seconds()
        what = f"{distance:.0f} m, a point on the straight line between two fixes {duration(apart)} apart"
    else:
        accuracy = row["accuracy_at_closest_m"]
        circle = f" (±{accuracy:.0f} m)" if not _missing(accuracy) else " (accuracy not reported)"
        what = f"{distance:.0f} m, at {with_article(str(row['source_at_closest']))} fix{circle}"
    committed = row["min_distance_committed_m"]
    if _missing(committed):
        return f"{what}, within the padded window (no trail during the committed window)"
    if committed <= distance + 1e-6:
        return f"{what}, during the committed window"
    return f"{what}, within the padded window ({committed:.0f} m at the closest during the committed window)"


def coverage_phrase(row: dict) -> str:
    """"tag coverage during the committed window: 62 % GPS, 0 % fallback, 38 % gap (one gap of 19 min)"."""
    gaps = int(row["n_gaps_committed"])
    longest = duration(row["longest_gap_committed_s"])
    told = ("no gap" if gaps == 0 else f"one gap of {longest}" if gaps == 1 else f"{gaps} gaps, the longest {longest}")
    return (f"tag coverage during the committed window: {row['coverage_good_share']:.0%} GPS, "
            f"{row['coverage_fallback_share']:.0%} fallback, {row['coverage_gap_share']:.0%} gap ({told})"
            ).replace("%", " %")


def presence_phrase(row: dict) -> str:
    """The first sentence: what placed the subject near the scene, exactly as the matcher measured it."""
    radius = row["radius_m"]
    if row["presence"] == "observed":
        return (f"{_fixes(int(row['n_fixes_in_zone']))} inside the {radius:.0f} m zone within the padded window; "
                f"closest approach {closest_phrase(row)}")
    if row["presence"] == "interpolated":
        return f"no fix inside the zone, but the path between fixes enters it; closest approach {closest_phrase(row)}"
    if row["possible_by"] == "accuracy circle":
        return (f"possible only: {with_article(str(row['circle_source']))} fix {row['circle_distance_m']:.0f} m from "
                f"the scene whose "
                f"accuracy circle (±{row['circle_accuracy_m']:.0f} m) reaches the zone; closest approach of the "
                f"trail {closest_phrase(row)}")
    gap = (pd.Timestamp(row["gap_to"]) - pd.Timestamp(row["gap_from"])).total_seconds()
    return (f"possible only: no fix near the scene; a {duration(gap)} gap in the trail from which it could have been "
            f"reached and left at {row['gap_speed_mps'] * 3.6:.0f} km/h ({row['gap_speed_basis']}); closest "
            f"approach of the trail {closest_phrase(row)}")


def hit_reasons(row: dict, pts: dict, config: ScoreConfig) -> str:
    """The reasons of one hit: ``row`` holds its hit columns and features, ``pts`` its points per term."""
    w = config.weights
    said = []
    radius = row["radius_m"]
    if all(name in row for name in FACTS):
        said.append(presence_phrase(row))
        said.append(coverage_phrase(row))
    elif row["presence"] == "observed":  # hits matched before the facts existed: no claim about fixes
        said.append(f"observed: the trail came within {row['min_distance_m']:.0f} m of the scene")
    elif row["presence"] == "interpolated":
        said.append(f"interpolated: the path between fixes passes {row['min_distance_m']:.0f} m from the scene")
    else:
        said.append(f"possible: the trail came within {row['min_distance_m']:.0f} m of the scene")

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
        said.append(f"closest position from {name}, not GPS")
    if pts["coarse"] < 0:
        said.append(f"accuracy at the closest approach {_accuracy(row, config):.0f} m is wider than the "
                    f"{radius:.0f} m zone")
    if pts["gap"] < 0:
        said.append(f"a {duration(row['max_gap_s'])} gap in the trail around the window")
    return SEPARATOR.join(said)


def _accuracy(row: dict, config: ScoreConfig) -> float:
    value = row["accuracy_at_closest_m"]
    return config.default_accuracy_m if value is None or math.isnan(value) else value


def all_reasons(table: pd.DataFrame, terms: pd.DataFrame, config: ScoreConfig) -> list[str]:
    """The reasons of every hit (one loop over hits, not fixes)."""
    rows = table[list(READS) + [c for c in FACTS if c in table.columns]].to_dict("records")
    pts = terms.to_dict("records")
    return [hit_reasons(row, p, config) for row, p in zip(rows, pts)]
