"""IOM cohort offending before, during and after management: the members file, the windows, the per-person sums.

A cohort file has one row per member and cohort: ``person_id``, ``cohort`` (NSAC, DA, High harm ...), ``start``
and optional ``end`` of management, and optional ``left_area`` (the first day the person was no longer in the
force area, so the force no longer records their crimes). Dates are UK calendar days, written ``YYYY-MM-DD`` or
``DD/MM/YYYY`` (day first, the UK convention; nothing else is guessed).

Windows, in whole UK calendar days (a crime belongs to the UK local day it was committed on, so a crime at
00:30 BST belongs to that day, not to the UTC day before):

- before: the ``window`` (12 months) up to the day before ``start``;
- during: ``start`` to ``end`` (to the as-of day when there is no end);
- after: the ``window`` from the day after ``end``; none while still managed (no end, or an end on or after the
  as-of day).

Each window is observed only where the crimes data covers it (from ``data_from`` to the as-of day) and while the
person is in the area (before ``left_area``); the observed part gives the months at risk, counted in calendar
months (a whole calendar month is 1 whatever its length, so 29 February neither adds nor loses a day's weight),
and a crime is counted only inside it. A person counts as the offender on a crime (and as a suspect too when
``include_suspects``), never as a victim; two roles of one person on one crime count once.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, require_columns
from geomatch.core.times import UK_TZ
from vvol.costs import CostTable
from vvol.inputs import SOURCE_FILE

log = logging.getLogger(__name__)

WINDOWS = ("before", "during", "after")
MEASURES = ("crimes", "harm", "cost")
EPOCH = np.datetime64("1970-01-01", "D")


def parse_window(text: str) -> int:
    """A window such as ``12m`` (calendar months) or ``1y`` as a whole number of months (at least 1)."""
    match = re.fullmatch(r"\s*(\d+)\s*([my])\s*", str(text).lower())
    if not match or int(match.group(1)) < 1:
        raise InputError(f"'{text}' is not a window in months (write 12m or 1y)", column="window")
    return int(match.group(1)) * (12 if match.group(2) == "y" else 1)


def parse_days(values: pd.Series) -> np.ndarray:
    """UK calendar dates as day numbers since 1970-01-01 (int64; -1 where missing or not a date).

    Accepts ``YYYY-MM-DD`` (a time after it is ignored), ``DD/MM/YYYY`` and datetime columns (their UK local date).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.dt.tz_convert(UK_TZ).dt.tz_localize(None) if values.dt.tz is not None else values
    else:
        text = values.astype("string").str.strip()
        iso = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        uk = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
        stamps = iso.fillna(uk)
    days = stamps.to_numpy("datetime64[D]")
    out = (days - EPOCH).astype(np.int64)
    return np.where(np.isnat(days), -1, out)


def day_text(days: np.ndarray) -> np.ndarray:
    """Day numbers as ``YYYY-MM-DD`` text ("" for -1)."""
    days = np.asarray(days, np.int64)
    text = np.datetime_as_string(EPOCH + np.maximum(days, 0), unit="D").astype(object)
    return np.where(days >= 0, text, "")


def add_months(days: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """Day numbers moved by whole calendar months, the day of month clipped to the month's end (31 Jan + 1 month =
    28 or 29 Feb; 29 Feb 2024 - 12 months = 28 Feb 2023)."""
    stamp = EPOCH + np.asarray(days, np.int64)
    month = stamp.astype("datetime64[M]")
    day_of_month = (stamp - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    return (target.astype("datetime64[D]") - EPOCH).astype(np.int64) + np.minimum(day_of_month, length - 1)


def months_between(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Calendar months from day ``first`` to day ``last`` inclusive: whole months, plus the remaining days as a
    share of the month they fall in (0 where ``last < first``). 2023-03-01..2024-02-29 is exactly 12."""
    first, stop = np.asarray(first, np.int64), np.asarray(last, np.int64) + 1
    start_month = (EPOCH + first).astype("datetime64[M]")
    stop_month = (EPOCH + stop).astype("datetime64[M]")
    whole = (stop_month - start_month).astype(np.int64)
    whole = np.where(add_months(first, whole) > stop, whole - 1, whole)
    whole = np.maximum(whole, 0)
    anchor = add_months(first, whole)
    next_anchor = add_months(first, whole + 1)
    share = (stop - anchor) / np.maximum(next_anchor - anchor, 1)
    return np.where(stop > first, whole + share, 0.0)


def validate_cohort(table: RawTable, as_of_day: int) -> Validated:
    """Validate cohort rows.

    Accepted rows: ``person_id``, ``cohort`` (text), ``start``, ``end``, ``left_area`` (day numbers; -1: none),
    ``source_row`` (and ``source_file``).

    Reason codes: ``missing_person_id``, ``missing_cohort``, ``unparseable_start``, ``unparseable_end``,
    ``unparseable_left_area``, ``end_before_start``, ``start_after_as_of``, ``repeated_membership`` (the same
    person in the same cohort again; the first row is kept: a second spell needs a cohort name of its own).

    Raises:
        InputError: a required column is missing.
    """
    raw = table.frame
    require_columns(table, ["person_id", "cohort", "start"])
    checks = RowChecks(raw)
    person = raw["person_id"].astype("string").str.strip()
    cohort = raw["cohort"].astype("string").str.strip()
    checks.add("missing_person_id", person.isna() | (person == ""))
    checks.add("missing_cohort", cohort.isna() | (cohort == ""))
    start = parse_days(raw["start"])
    checks.add("unparseable_start", start < 0)
    given = {}
    for name in ("end", "left_area"):
        column = raw[name] if name in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
        present = column.notna().to_numpy() & (column.astype("string").str.strip() != "").fillna(False).to_numpy()
        given[name] = parse_days(column)
        checks.add(f"unparseable_{name}", present & (given[name] < 0))
    checks.add("end_before_start", (given["end"] >= 0) & (start >= 0) & (given["end"] < start))
    checks.add("start_after_as_of", start > as_of_day)
    cleaned = pd.DataFrame({"person_id": person, "cohort": cohort, "start": start, "end": given["end"],
                            "left_area": given["left_area"], SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
                            **({SOURCE_FILE: raw[SOURCE_FILE].to_numpy()} if SOURCE_FILE in raw else {})},
                           index=raw.index)
    repeat = cleaned.duplicated(["person_id", "cohort"], keep="first").to_numpy() & ~checks.bad
    checks.add("repeated_membership", repeat)
    validated = checks.split("cohort", str(table.path), cleaned)
    log.info("cohort %s: %s", table.path, validated.counts())
    return validated


@dataclass(frozen=True)
class OffenceLedger:
    """Each person's crimes as offender, sorted by (person, UK day), with running sums for window queries.

    Attributes:
        person_ids: person code -> ``person_id``.
        key: person code x 2^20 + UK local day number, sorted.
        cum_harm, cum_cost: running sums of harm points and pounds along ``key`` (a leading 0).
        first_day, last_day: the first and last UK day of any accepted crime (the data's coverage).
        uncosted: crimes in the ledger without a unit cost (they add 0 to cost).
    """

    person_ids: pd.Index
    key: np.ndarray
    cum_harm: np.ndarray
    cum_cost: np.ndarray
    first_day: int
    last_day: int
    uncosted: int

    def code(self, person_id: pd.Series) -> np.ndarray:
        """Person codes (-1 for a person with no crime as offender)."""
        return self.person_ids.get_indexer(person_id.astype(str))

    def sums(self, code: np.ndarray, first: np.ndarray, last: np.ndarray) -> dict[str, np.ndarray]:
        """Crimes, harm and cost of each person ``code`` on days ``first..last`` inclusive (0 where
        ``last < first`` or the person has no crime)."""
        code, first, last = (np.asarray(a, np.int64) for a in (code, first, last))
        ok = (code >= 0) & (last >= first)
        base = np.maximum(code, 0) << 20
        lo = np.searchsorted(self.key, base + np.maximum(first, 0), side="left")
        hi = np.searchsorted(self.key, base + np.maximum(last, 0), side="right")
        hi = np.where(ok, hi, lo)
        return {"crimes": (hi - lo).astype(np.int64), "harm": self.cum_harm[hi] - self.cum_harm[lo],
                "cost": self.cum_cost[hi] - self.cum_cost[lo]}


def offence_ledger(crimes: pd.DataFrame, people: pd.DataFrame, costs: CostTable, *,
                   include_suspects: bool = False) -> OffenceLedger:
    """Build the :class:`OffenceLedger` from accepted crimes (``crime_ref``, ``offence``, ``harm``, ``t``) and
    accepted involvements (``crime_ref``, ``person_id``, ``role``)."""
    roles = ["offender", "suspect"] if include_suspects else ["offender"]
    involved = people.loc[people["role"].isin(roles).to_numpy(), ["crime_ref", "person_id"]]
    crime = pd.Index(crimes["crime_ref"]).get_indexer(involved["crime_ref"])
    person_code, person_ids = pd.factorize(involved["person_id"].astype(str), sort=True)
    ok = crime >= 0
    pair = np.unique(person_code[ok].astype(np.int64) * max(len(crimes), 1) + crime[ok])
    person, crime = pair // max(len(crimes), 1), pair % max(len(crimes), 1)
    local_day = _uk_days(crimes["t"])
    day = local_day[crime]
    harm = crimes["harm"].to_numpy(float)[crime]
    unit = costs.cost_of(crimes["offence"])[crime]
    key = (person << 20) + day
    order = np.argsort(key, kind="stable")
    cum = lambda values: np.concatenate([[0.0], np.cumsum(values[order])])  # noqa: E731
    return OffenceLedger(person_ids=pd.Index(person_ids), key=key[order], cum_harm=cum(harm),
                         cum_cost=cum(np.nan_to_num(unit)),
                         first_day=int(local_day.min()) if len(local_day) else 0,
                         last_day=int(local_day.max()) if len(local_day) else 0,
                         uncosted=int(np.isnan(unit).sum()))


def _uk_days(t: pd.Series) -> np.ndarray:
    """UTC instants as UK local day numbers since 1970-01-01."""
    local = t.dt.tz_convert(UK_TZ).dt.tz_localize(None).to_numpy("datetime64[D]")
    return (local - EPOCH).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """Observed windows of each member (inclusive UK day numbers; ``last < first`` means nothing observed)."""

    first: dict[str, np.ndarray]
    last: dict[str, np.ndarray]
    exists: dict[str, np.ndarray]


def member_windows(start: np.ndarray, end: np.ndarray, left_area: np.ndarray, *, as_of_day: int,
                   data_from: int, window_months: int) -> Windows:
    """The before, during and after windows of each member (see the module notes), observed between
    ``data_from`` and ``as_of_day`` and before ``left_area`` (day numbers; -1: none)."""
    start, end, left_area = (np.asarray(a, np.int64) for a in (start, end, left_area))
    cap = np.where(left_area >= 0, np.minimum(left_area - 1, as_of_day), as_of_day)
    ended = (end >= 0) & (end < as_of_day)
    first = {"before": np.maximum(add_months(start, -window_months), data_from),
             "during": np.maximum(start, data_from),
             "after": np.where(ended, end + 1, as_of_day + 1)}
    last = {"before": np.minimum(start - 1, cap),
            "during": np.minimum(np.where(ended, end, as_of_day), cap),
            "after": np.where(ended, np.minimum(add_months(end + 1, window_months) - 1, cap), as_of_day)}
    exists = {"before": np.ones(len(start), bool), "during": np.ones(len(start), bool), "after": ended}
    return Windows(first=first, last=last, exists=exists)


def window_sums(ledger: OffenceLedger, code: np.ndarray, windows: Windows) -> pd.DataFrame:
    """``crimes_<w>``, ``harm_<w>``, ``cost_<w>``, ``months_<w>`` and ``<w>_from``/``<w>_to`` for each window;
    every column of a window is empty (NaN / "") where the window does not exist (no after while managed) or
    nothing of it was observed."""
    out = {}
    for name in WINDOWS:
        first, last = windows.first[name], windows.last[name]
        observed = windows.exists[name] & (last >= first)
        sums = ledger.sums(code, first, last)
        out[f"{name}_from"] = np.where(observed, day_text(first), "")
        out[f"{name}_to"] = np.where(observed, day_text(last), "")
        for measure in MEASURES:
            out[f"{measure}_{name}"] = np.where(observed, sums[measure], np.nan)
        out[f"months_{name}"] = np.where(observed, np.round(months_between(first, last), 3), np.nan)
    return pd.DataFrame(out)


def cohort_people(members: pd.DataFrame, ledger: OffenceLedger, *, as_of_day: int, data_from: int,
                  window_months: int) -> pd.DataFrame:
    """``people.csv``: one row per member and cohort with the sums of every window (see :func:`window_sums`),
    ordered by cohort then person."""
    members = members.sort_values(["cohort", "person_id"], kind="stable").reset_index(drop=True)
    windows = member_windows(members["start"], members["end"], members["left_area"], as_of_day=as_of_day,
                             data_from=data_from, window_months=window_months)
    sums = window_sums(ledger, ledger.code(members["person_id"]), windows)
    status = np.where(windows.exists["after"], "ended", "managed")
    head = pd.DataFrame({"person_id": members["person_id"], "cohort": members["cohort"],
                         "start": day_text(members["start"]), "end": day_text(members["end"]),
                         "left_area": day_text(members["left_area"]), "status": status})
    columns = [f"{m}_{w}" for m in MEASURES for w in WINDOWS] + [f"months_{w}" for w in WINDOWS] + \
              [f"{w}_{side}" for w in WINDOWS for side in ("from", "to")]
    return pd.concat([head, sums[columns]], axis=1)


def today_day(as_of: str | date) -> int:
    """An ISO date as a day number."""
    return int((np.datetime64(str(as_of), "D") - EPOCH).astype(np.int64))
