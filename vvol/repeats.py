"""The rolling window and the repeat facts of any set of entities (people, premises, hot spots, clusters).

Everything is keyed by integer codes and computed with numpy and pandas group-bys, so a force's year of crime
(a million crimes, two million involvements) takes seconds. Times are measured in days before the as-of instant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geomatch.core.times import UK_TZ
from vvol.config import VvolConfig
from vvol.inputs import flag_column

DAY_NS = 86_400 * 10**9
CURRENT, PREVIOUS, EARLIER = 0, 1, 2
"""Period of a crime: the current period, the one before it, or earlier in the window."""


def as_of_day(as_of: pd.Timestamp) -> str:
    """The UK local day that ends at ``as_of`` (the inverse of :func:`as_of_instant`), e.g. ``2026-10-31``."""
    return (as_of - pd.Timedelta(1, "ns")).tz_convert(UK_TZ).strftime("%Y-%m-%d")


def as_of_instant(date: str | pd.Timestamp) -> pd.Timestamp:
    """The end of the as-of day in UK local time, as UTC (a pack "as of 2026-10-31" includes that whole day)."""
    day = pd.Timestamp(date)
    if day.tzinfo is not None:
        return day.tz_convert("UTC")
    return (day.normalize() + pd.Timedelta(days=1)).tz_localize(UK_TZ).tz_convert("UTC")


@dataclass(frozen=True)
class Window:
    """Crimes of the rolling window and the people involved in them.

    Attributes:
        as_of: the end of the window (UTC).
        crimes: window crimes in ``crime_ref`` order (position = crime code): the accepted crime columns plus
            ``days_ago`` (days before ``as_of``), ``period`` (:data:`CURRENT`, :data:`PREVIOUS`, :data:`EARLIER`)
            and one ``flag_<name>`` per configured flag, True when the crime or any victim in it carries it.
        people: involvements of window crimes: ``crime`` (crime code), ``person`` (person code), ``role``.
        person_ids: person code -> ``person_id``.
        flags: the flag names present.
        months: True when the crimes carry a month only (every time is midnight on the 1st, as in police.uk): the
            window and the periods are then whole calendar months.
        window_text, current_text, previous_text: the window and the two periods in words, e.g. ``12 months
            (2024-10 to 2025-09)`` or ``365 days``.
        month_counts: with ``months``, crimes per calendar month of the window (oldest first, ``YYYY-MM`` index).
    """

    as_of: pd.Timestamp
    crimes: pd.DataFrame
    people: pd.DataFrame
    person_ids: np.ndarray
    flags: tuple[str, ...]
    months: bool = False
    window_text: str = ""
    current_text: str = ""
    previous_text: str = ""
    month_counts: pd.Series | None = None


DAYS_PER_MONTH = 365.25 / 12


def is_month_level(t: pd.Series) -> bool:
    """True when every time is midnight on the 1st of a month, UK local time (dates given as months only)."""
    distinct = pd.Series(pd.unique(t.dropna()))
    if distinct.empty:
        return False
    local = pd.DatetimeIndex(distinct).tz_convert(UK_TZ)
    return bool(((local.day == 1) & (local.hour == 0) & (local.minute == 0) & (local.second == 0)).all())


def window_months(config: VvolConfig) -> tuple[int, int]:
    """(window, period) in calendar months for month-level data: ``period_days`` and ``window_days`` rounded to
    whole months (at least one), the window at least two periods long."""
    period = max(1, round(config.period_days / DAYS_PER_MONTH))
    return max(round(config.window_days / DAYS_PER_MONTH), 2 * period), period


def _month_index(t: pd.Series | pd.Timestamp) -> np.ndarray:
    local = pd.DatetimeIndex(t if isinstance(t, pd.Series) else [t]).tz_convert(UK_TZ)
    return (local.year * 12 + local.month - 1).to_numpy(np.int64)


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _months_text(first: int, last: int) -> str:
    return _month_name(last) if first == last else f"{_month_name(first)} to {_month_name(last)}"


def select_window(crimes: pd.DataFrame, people: pd.DataFrame, as_of: pd.Timestamp, config: VvolConfig,
                  area: str | None = None) -> Window:
    """The crimes of the window (and of ``area`` when given, matched without regard to case) and their
    involvements.

    Day-level times: crimes in ``[as_of - window_days, as_of)``; with the default as-of instant (midnight after
    the as-of day) that is exactly the last ``window_days`` local days; the current period is
    ``[as_of - period_days, as_of)`` and the previous one the same length before it.

    Month-level times (:func:`is_month_level`): the window is the last :func:`window_months` calendar months up
    to and including the month of the as-of day, and the periods are whole months (a 90-day period is the last
    3 months), so two periods always hold the same number of months.
    """
    t = crimes["t"]
    days_ago = (as_of.value - t.to_numpy("datetime64[ns]").view("i8")) / DAY_NS
    months = is_month_level(t)
    if months:
        n_window, n_period = window_months(config)
        last = int(_month_index(as_of - pd.Timedelta(1, "ns"))[0])
        months_ago = last - _month_index(t)
        keep = (months_ago >= 0) & (months_ago < n_window)
        period_of = months_ago // n_period
        window_text = f"{n_window} months ({_months_text(last - n_window + 1, last)})"
        current_text = f"{n_period} month{'s' if n_period > 1 else ''} ({_months_text(last - n_period + 1, last)})"
        previous_text = f"{n_period} month{'s' if n_period > 1 else ''} " \
                        f"({_months_text(last - 2 * n_period + 1, last - n_period)})"
    else:
        keep = (days_ago > 0) & (days_ago <= config.window_days)
        period_of = np.ceil(days_ago / config.period_days) - 1
        window_text = f"{config.window_days} days"
        current_text = f"the last {config.period_days} days"
        previous_text = f"the {config.period_days} days before"
    if area is not None:
        keep &= (crimes["area"].astype("string").str.lower() == area.lower()).fillna(False).to_numpy()
    window = crimes.loc[keep].reset_index(drop=True)
    window["days_ago"] = np.maximum(days_ago[keep], 0.0)
    window["period"] = np.minimum(period_of[keep], EARLIER).astype(np.int8)
    month_counts = None
    if months:
        counts = np.bincount(months_ago[keep], minlength=n_window)[::-1]
        month_counts = pd.Series(counts, index=[_month_name(last - n_window + 1 + i) for i in range(n_window)])
    crime_code = pd.Index(window["crime_ref"]).get_indexer(people["crime_ref"])
    involved = people.loc[crime_code >= 0]
    crime_code = crime_code[crime_code >= 0]
    person_code, person_ids = pd.factorize(involved["person_id"], sort=True)
    frame = pd.DataFrame({"crime": crime_code.astype(np.int64), "person": person_code.astype(np.int64),
                          "role": involved["role"].to_numpy()})
    flags = []
    for name in config.uplifts:
        column = flag_column(name)
        on_crime = window[column].to_numpy(bool) if column in window else np.zeros(len(window), bool)
        if column in involved:
            victim_flagged = involved[column].to_numpy(bool) & (frame["role"] == "victim").to_numpy()
            on_crime = on_crime | (np.bincount(crime_code[victim_flagged], minlength=len(window)) > 0)
        if column in window or column in involved:
            window[column] = on_crime
            flags.append(name)
    return Window(as_of=as_of, crimes=window, people=frame, person_ids=np.asarray(person_ids, dtype=object),
                  flags=tuple(flags), months=months, window_text=window_text, current_text=current_text,
                  previous_text=previous_text, month_counts=month_counts)


def entity_facts(entity: np.ndarray, crime: np.ndarray, n_entities: int, window: Window) -> pd.DataFrame:
    """Repeat facts of each entity from its (entity code, crime code) pairs; duplicates count once.

    Returns one row per entity code ``0 .. n_entities-1`` with ``crimes_12m``, ``harm_12m`` (harm points),
    ``days_since_last``, ``last_t`` (UTC), ``crimes_this_period``, ``crimes_previous_period``,
    ``crimes_before_period`` (earlier in the window), ``same_type_max`` and ``same_type_offence`` (the offence it
    met most often; ties go to the alphabetically first key), and ``flag_<name>`` (any crime flagged).
    """
    n_crimes = len(window.crimes)
    pair = np.unique(entity.astype(np.int64) * n_crimes + crime.astype(np.int64))
    e, c = pair // n_crimes, pair % n_crimes
    crimes = window.crimes
    out = pd.DataFrame(index=pd.RangeIndex(n_entities))
    out["crimes_12m"] = np.bincount(e, minlength=n_entities)
    out["harm_12m"] = np.bincount(e, weights=crimes["harm"].to_numpy(float)[c], minlength=n_entities)
    days = crimes["days_ago"].to_numpy()[c]
    last = np.full(n_entities, np.inf)
    np.minimum.at(last, e, days)
    out["days_since_last"] = last
    out["last_t"] = window.as_of - pd.to_timedelta(np.where(np.isfinite(last), last, np.nan), unit="D")
    period = crimes["period"].to_numpy()[c]
    for code, name in ((CURRENT, "crimes_this_period"), (PREVIOUS, "crimes_previous_period"),
                       (EARLIER, "crimes_before_period")):
        out[name] = np.bincount(e[period == code], minlength=n_entities)
    offence = crimes["offence"].cat.codes.to_numpy().astype(np.int64)[c]
    n_offences = len(crimes["offence"].cat.categories)
    kinds, counts = np.unique(e * n_offences + offence, return_counts=True)
    kind_entity, kind_offence = kinds // n_offences, kinds % n_offences
    order = np.lexsort((kind_offence, -counts, kind_entity))
    starts = np.ones(len(order), bool)
    starts[1:] = kind_entity[order][1:] != kind_entity[order][:-1]
    first = order[starts]
    out["same_type_max"] = 0
    out.loc[kind_entity[first], "same_type_max"] = counts[first]
    names = np.asarray(crimes["offence"].cat.categories, dtype=object)
    same = np.full(n_entities, "", dtype=object)
    same[kind_entity[first]] = names[kind_offence[first]]
    out["same_type_offence"] = same
    for name in window.flags:
        flagged = crimes[flag_column(name)].to_numpy(bool)[c]
        out[flag_column(name)] = np.bincount(e[flagged], minlength=n_entities) > 0
    return out


def distinct_counterparts(window: Window, own_roles: tuple[str, ...], other_roles: tuple[str, ...]) -> pd.Series:
    """For each person code with a role in ``own_roles``: how many different people had a role in ``other_roles``
    on the same crimes (the person never counts themself)."""
    people = window.people
    own = people.loc[people["role"].isin(own_roles).to_numpy(), ["crime", "person"]]
    other = people.loc[people["role"].isin(other_roles).to_numpy(), ["crime", "person"]]
    joined = own.merge(other, on="crime", suffixes=("", "_other"))
    joined = joined.loc[joined["person"] != joined["person_other"], ["person", "person_other"]].drop_duplicates()
    return joined.groupby("person").size()
