"""Scores: RFG(V) points from stated bands, the flag uplift, the trend class, and the reasons in words.

For an entity with repeat facts (see :func:`vvol.repeats.entity_facts`):

- recency = ``recency_points`` x 0.5 ^ (days since its latest crime / ``recency_half_life_days``);
- frequency, gravity (summed harm) and people (distinct other people) earn the points of the highest band
  threshold they reach (``frequency_bands``, ``gravity_bands``, ``people_bands``; places use
  ``location_frequency_bands`` and ``location_gravity_bands``);
- uplift = the sum of ``uplifts`` of the flags on any of its crimes, at most ``max_uplift``;
- score = 100 x (sum of points / most points possible) x (1 + uplift), rounded to 0.1; 100 is the most a
  person or place can score before uplift.

Trend compares crimes in this period (the last ``period_days``) with the period before:
``new`` (crimes this period and none earlier in the window), ``intensifying`` (more than before and at least
``trend_intensifying_ratio`` times as many), ``diminishing`` (none this period, or fewer and at most
``trend_diminishing_ratio`` times as many), otherwise ``persistent``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geomatch.core.times import UK_TZ
from vvol.config import Bands, VvolConfig
from vvol.inputs import flag_column

TRENDS = ("new", "intensifying", "persistent", "diminishing")


def band_points(values: np.ndarray, bands: Bands) -> np.ndarray:
    """Points of the highest band threshold each value reaches (0 below the first threshold)."""
    thresholds = np.array([t for t, _ in bands], float)
    points = np.array([p for _, p in bands], float)
    index = np.searchsorted(thresholds, np.asarray(values, float), side="right") - 1
    return np.where(index >= 0, points[np.maximum(index, 0)], 0.0)


def recency_points(days_since_last: np.ndarray, config: VvolConfig) -> np.ndarray:
    """Recency points, halving every ``recency_half_life_days`` days since the latest crime."""
    return config.recency_points * np.power(0.5, np.asarray(days_since_last, float) / config.recency_half_life_days)


def trend_class(current: np.ndarray, previous: np.ndarray, before: np.ndarray, config: VvolConfig) -> np.ndarray:
    """The trend class of each entity from its crime counts this period, the period before and earlier."""
    current, previous, before = (np.asarray(a, float) for a in (current, previous, before))
    new = (current > 0) & (previous == 0) & (before == 0)
    intensifying = ~new & (current > previous) & (current >= config.trend_intensifying_ratio * previous)
    diminishing = (current == 0) | ((current < previous) & (current <= config.trend_diminishing_ratio * previous))
    return np.select([new, intensifying, diminishing], ["new", "intensifying", "diminishing"], "persistent")


def add_scores(facts: pd.DataFrame, config: VvolConfig, *, flags: tuple[str, ...],
               people: tuple[str, np.ndarray] | None = None) -> pd.DataFrame:
    """``facts`` with ``recency_points``, ``frequency_points``, ``gravity_points``, ``<people>_points`` (when
    ``people=(name, counts)`` is given), ``uplift_pct``, ``score`` and ``trend`` added.

    Without ``people`` the entity is a place and the location bands apply."""
    out = facts.copy()
    out["recency_points"] = np.round(recency_points(out["days_since_last"].to_numpy(), config), 1)
    place = people is None
    out["frequency_points"] = band_points(out["crimes_12m"].to_numpy(),
                                          config.location_frequency_bands if place else config.frequency_bands)
    out["gravity_points"] = band_points(out["harm_12m"].to_numpy(),
                                        config.location_gravity_bands if place else config.gravity_bands)
    total = out["recency_points"] + out["frequency_points"] + out["gravity_points"]
    most = config.location_max_points
    if people is not None:
        name, counts = people
        out[f"{name}_12m"] = np.asarray(counts, dtype=np.int64)
        out[f"{name}_points"] = band_points(counts, config.people_bands)
        total = total + out[f"{name}_points"]
        most = config.person_max_points
    uplift = np.zeros(len(out))
    for name in flags:
        uplift += out[flag_column(name)].to_numpy(bool) * config.uplifts.get(name, 0.0)
    uplift = np.minimum(uplift, config.max_uplift)
    out["uplift_pct"] = np.round(100 * uplift, 1)
    out["score"] = np.round(100 * total.to_numpy() / most * (1 + uplift), 1)
    out["trend"] = trend_class(out["crimes_this_period"], out["crimes_previous_period"],
                               out["crimes_before_period"], config)
    return out


def uk_text(utc: pd.Series) -> pd.Series:
    """UTC times as UK local text with the offset and zone, e.g. ``2026-10-25 01:30:00 +01:00 (BST)``
    (the text of :func:`geomatch.core.times.format_uk`, vectorised; missing times give "")."""
    if utc.empty:
        return pd.Series([], index=utc.index, dtype=object)
    local = utc.dt.tz_convert(UK_TZ)
    wall = local.dt.tz_localize(None).to_numpy("datetime64[s]")
    offset_min = (wall - utc.dt.tz_localize(None).to_numpy("datetime64[s]")).astype(np.int64) // 60
    text = np.char.replace(np.datetime_as_string(wall, unit="s"), "T", " ").astype(object)
    sign = np.where(offset_min < 0, "-", "+")
    hours, minutes = np.abs(offset_min) // 60, np.abs(offset_min) % 60
    zone = np.where(offset_min == 0, "GMT", "BST")
    out = pd.Series(text, index=utc.index, dtype=object) + " " + sign + pd.Series(hours, index=utc.index) \
        .astype(str).str.zfill(2).to_numpy() + ":" + pd.Series(minutes, index=utc.index).astype(str).str.zfill(2) \
        .to_numpy() + " (" + zone + ")"
    return out.where(utc.notna(), "")


def _num(values, decimals: int = 0) -> pd.Series:
    series = pd.Series(np.asarray(values, float))
    return series.round(decimals).astype(str).str.removesuffix(".0") if decimals else \
        series.round().astype(np.int64).astype(str)


def reasons(scored: pd.DataFrame, config: VvolConfig, *, flags: tuple[str, ...], people: str | None = None,
            people_word: str = "people", extra: list[pd.Series] | None = None,
            window_text: str | None = None, months: bool = False) -> pd.Series:
    """Each row's score in words: every component with its points and band, the uplift and the trend.
    ``window_text`` names the window (``365 days``, ``12 months (2024-10 to 2025-09)``); with ``months`` (month-level
    dates) the latest crime is named by its month, and its days are counted from the 1st of that month."""
    n = scored.reset_index(drop=True)
    parts = [
        "frequency " + _num(n["frequency_points"], 1) + ": " + _num(n["crimes_12m"]) + " crimes in "
        + (window_text or f"{config.window_days} days"),
        "gravity " + _num(n["gravity_points"], 1) + ": harm " + _num(n["harm_12m"]),
        "recency " + _num(n["recency_points"], 1) + ": last crime " + (
            "in " + n["last_t"].dt.tz_convert(UK_TZ).dt.strftime("%Y-%m").fillna("?") + " ("
            + _num(n["days_since_last"]) + " d from its 1st to the as-of day)" if months
            else _num(n["days_since_last"]) + " d ago"),
    ]
    if people is not None:
        parts.append(people + " " + _num(n[f"{people}_points"], 1) + ": " + _num(n[f"{people}_12m"])
                     + f" {people_word}")
    same = n["same_type_max"] >= config.min_repeat
    parts.append(pd.Series(np.where(same, "same offence " + _num(n["same_type_max"]) + "x: "
                                    + n["same_type_offence"].astype(str), "")))
    for name in flags:
        on = n[flag_column(name)].to_numpy(bool)
        parts.append(pd.Series(np.where(on, f"{name} +{100 * config.uplifts.get(name, 0):g}%", "")))
    parts.append("trend " + n["trend"] + ": " + _num(n["crimes_this_period"]) + " this period, "
                 + _num(n["crimes_previous_period"]) + " the period before")
    parts.extend(p.reset_index(drop=True) for p in (extra or []))
    text = parts[0]
    for part in parts[1:]:
        text = text + np.where(part == "", "", "; " + part)
    return pd.Series(np.asarray(text, dtype=object), index=scored.index)


TIE_BREAK = (("score", False), ("harm_12m", False), ("crimes_12m", False), ("days_since_last", True))
"""The order of every list: score, then the uncapped facts behind it (harm, crimes, days since the latest crime),
so entries whose band points reach the same caps are still ordered by what they hold; the id last."""


def sort_list(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Sort by :data:`TIE_BREAK` then id, and number the rows: ``rank`` 1.. (equal ranks only for rows equal on
    every tie-break column), ``tied_on_score`` (how many rows share the score)."""
    columns = [c for c, _ in TIE_BREAK if c in frame] + [id_column]
    ascending = [a for c, a in TIE_BREAK if c in frame] + [True]
    out = frame.sort_values(columns, ascending=ascending, kind="stable", ignore_index=True)
    key = out[columns[:-1]]
    new_group = np.ones(len(out), bool)
    if len(out) > 1:
        new_group[1:] = (key.iloc[1:].to_numpy() != key.iloc[:-1].to_numpy()).any(axis=1)
    rank = np.maximum.accumulate(np.where(new_group, np.arange(1, len(out) + 1), 0))
    out.insert(0, "rank", rank.astype(np.int64))
    out.insert(out.columns.get_loc("score") + 1, "tied_on_score",
               out.groupby("score")["score"].transform("size").astype(np.int64))
    return out
