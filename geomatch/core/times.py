"""Parsing times as evidence: everything becomes timezone-aware UTC.

UK police systems export naive local times (Europe/London). Twice a year the local clock is ambiguous (the
autumn hour that happens twice) or missing (the spring hour that never happens). For a crime window this module
never guesses: the start of a window takes the earliest instant the local time could mean and the end takes the
latest, so the window widens to cover every reading. Single instants (GPS fixes given in naive local time)
cannot be widened; there an ambiguous or missing local time is reported so the row can be quarantined.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError

UK_TZ = "Europe/London"
_OFFSET_SUFFIX = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"

Side = Literal["start", "end", "instant"]


@dataclass(frozen=True)
class ParsedTimes:
    """Times parsed from text, aligned to the input.

    Attributes:
        utc: ``datetime64[ns, UTC]``; NaT where unparseable, or for ``instant`` where ambiguous or missing.
        unparseable: the value could not be read as a date-time (missing values included).
        ambiguous: a naive local time in the autumn repeated hour.
        nonexistent: a naive local time in the spring missing hour.
        naive: a valid date-time without an offset (read in ``naive_tz``, or left unread when that is ``None``).
    """

    utc: pd.Series
    unparseable: np.ndarray
    ambiguous: np.ndarray
    nonexistent: np.ndarray
    naive: np.ndarray


def parse_times(values: pd.Series, *, side: Side = "instant", naive_tz: str | None = UK_TZ,
                fmt: str | None = None) -> ParsedTimes:
    """Parse date-time text (or datetime values) into UTC.

    Args:
        values: ISO 8601 text with an offset or ``Z`` (taken as given), naive text (local time in
            ``naive_tz``), or pandas datetimes (naive ones are local as well).
        side: ``start`` widens an ambiguous or missing local time to its earliest reading, ``end`` to its latest;
            ``instant`` refuses them (NaT, flagged).
        naive_tz: time zone of naive values; ``None`` makes naive values unparseable (an explicit zone is
            required) and ``"UTC"`` reads them as UTC.
        fmt: an explicit ``strptime`` format for naive values (for example ``%Y%m%d%H%M%S``).
    """
    if fmt is None:
        fast = _parse_arrow_iso(values, side=side, naive_tz=naive_tz)
        if fast is not None:
            return fast
    index = values.index
    n = len(values)
    utc = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    ambiguous = np.zeros(n, dtype=bool)
    nonexistent = np.zeros(n, dtype=bool)

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc = values if values.dtype == "datetime64[ns, UTC]" else \
            values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")  # already UTC (a typed read): no copy
        return ParsedTimes(utc, utc.isna().to_numpy(), ambiguous, nonexistent, np.zeros(n, dtype=bool))

    if pd.api.types.is_datetime64_dtype(values.dtype):
        text = values
        has_offset = np.zeros(n, dtype=bool)
    else:
        text = values.astype("string").str.strip()
        has_offset = text.str.contains(_OFFSET_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool)

    if has_offset.any():
        utc.iloc[has_offset] = pd.to_datetime(text[has_offset], utc=True, errors="coerce", format="ISO8601")

    naive_mask = ~has_offset
    naive_ok = np.zeros(n, dtype=bool)
    if naive_mask.any():
        naive_values = text[naive_mask]
        if fmt is not None or not pd.api.types.is_datetime64_dtype(naive_values.dtype):
            naive = pd.to_datetime(naive_values, errors="coerce", format=fmt or "ISO8601")
        else:
            naive = naive_values
        naive_ok[naive_mask] = naive.notna().to_numpy()
        if naive_tz is not None:
            localised, amb, gap = _localise(naive, side=side, tz=naive_tz)
            utc.iloc[naive_mask] = localised
            ambiguous[naive_mask] = amb
            nonexistent[naive_mask] = gap

    unparseable = utc.isna().to_numpy() & ~ambiguous & ~nonexistent
    return ParsedTimes(utc, unparseable, ambiguous, nonexistent, naive_ok)


_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([zZ]|[+-]\d{2}(:?\d{2})?)$"


def _parse_arrow_iso(values: pd.Series, *, side: Side, naive_tz: str | None) -> ParsedTimes | None:
    """Arrow-backed text (as CSV files are read) in ISO 8601 with an offset or ``Z``, parsed by Arrow in one
    vectorised pass; values in any other form go through :func:`parse_times` on their own. ``None`` when the
    values are not Arrow-backed text (or Arrow cannot parse the ISO-looking ones), so the general path runs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from geomatch.core.tables import arrow_text

    text = arrow_text(values)
    if text is None:
        return None
    target = pa.timestamp("ns", tz="UTC")
    n = len(values)
    try:  # the usual case: every value is ISO 8601 with an offset (or missing); Arrow refuses naive ones
        parsed = pc.cast(text, target)
        rest = np.zeros(n, dtype=bool)
    except pa.ArrowInvalid:
        iso = pc.fill_null(pc.match_substring_regex(text, _ISO_WITH_OFFSET), False)
        try:
            parsed = pc.cast(pc.if_else(iso, text, pa.scalar(None, text.type)), target)
        except pa.ArrowInvalid:  # ISO-looking but impossible (month 13): let pandas say which
            return None
        rest = iso.to_numpy(zero_copy_only=False) == 0
        rest &= text.is_valid().to_numpy(zero_copy_only=False)
    instants = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")
    ambiguous, nonexistent, naive = (np.zeros(n, dtype=bool) for _ in range(3))
    if rest.any():  # naive local times or other spellings: the general path, on those rows only
        other = parse_times(values[rest].astype(object), side=side, naive_tz=naive_tz)
        instants = instants.copy()
        instants[rest] = other.utc.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]")
        ambiguous[rest], nonexistent[rest], naive[rest] = other.ambiguous, other.nonexistent, other.naive
    utc = pd.Series(pd.DatetimeIndex(instants).tz_localize("UTC"), index=values.index)
    unparseable = utc.isna().to_numpy() & ~ambiguous & ~nonexistent
    return ParsedTimes(utc, unparseable, ambiguous, nonexistent, naive)


def _localise(naive: pd.Series, *, side: Side, tz: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Localise naive wall-clock times, resolving the ambiguous and missing hours by ``side``."""
    if tz == "UTC":
        return naive.dt.tz_localize("UTC"), np.zeros(len(naive), bool), np.zeros(len(naive), bool)
    raw = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    failed = raw.isna().to_numpy() & naive.notna().to_numpy()
    # Which failures are ambiguous and which nonexistent: only an ambiguous time localises both ways.
    as_dst = naive.dt.tz_localize(tz, ambiguous=np.ones(len(naive), bool), nonexistent="NaT")
    amb = failed & as_dst.notna().to_numpy()
    gap = failed & ~amb
    if side == "instant":
        return raw.dt.tz_convert("UTC"), amb, gap
    earliest = side == "start"
    amb_choice = np.full(len(naive), earliest)  # True = read as summer time, which is the earlier instant
    shift = pd.Timedelta(hours=-1 if earliest else 1)
    widened = naive.dt.tz_localize(tz, ambiguous=amb_choice, nonexistent=shift)
    return widened.dt.tz_convert("UTC"), amb, gap


def format_uk(ts: pd.Timestamp) -> str:
    """A UTC instant as UK local time with its offset, e.g. ``2026-10-25 01:30:00 +01:00 (BST)``."""
    if pd.isna(ts):
        return "—"
    local = ts.tz_convert(UK_TZ)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]} ({local.tzname()})"


FUTURE_SLACK = pd.Timedelta(days=1)
"""How far past the present a recorded time may lie (clocks and time zones differ); later ones are errors."""


def latest_credible_ns() -> int:
    """The latest instant (UTC ns) a record can truly carry: now plus :data:`FUTURE_SLACK`."""
    return (pd.Timestamp.now(tz="UTC") + FUTURE_SLACK).value


def check_time_zone(name: str, *, option: str = "naive_tz") -> str:
    """``name`` if it is an IANA time zone (``Europe/London``, ``UTC``).

    Raises:
        InputError: it names no time zone (one sentence naming ``option``), even where no value needs it.
    """
    try:
        ZoneInfo(name)
    except (TypeError, ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise InputError(f"{option} {name!r} is not a time zone (give an IANA name such as Europe/London, or "
                         f"UTC)") from None
    return name


def utc_ns(times: pd.Series) -> np.ndarray:
    """UTC times as int64 nanoseconds since the epoch (NaT becomes the minimum int64), for fast arithmetic."""
    return times.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view("i8")


def from_utc_ns(values: np.ndarray) -> pd.Series:
    """The inverse of :func:`utc_ns`: int64 nanoseconds to a ``datetime64[ns, UTC]`` Series."""
    return pd.Series(pd.DatetimeIndex(np.asarray(values, dtype="i8").view("M8[ns]")).tz_localize("UTC"))


def uk_day_start(day: date) -> datetime:
    """The UTC instant at which a UK local calendar day begins (midnight Europe/London, GMT or BST)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(UK_TZ)).astimezone(timezone.utc)
