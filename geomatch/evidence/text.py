"""Wording and number formats shared by every part of a pack (maps, statement, HTML), so they always agree.

Distances are shown in metres, speeds in km/h, times in UK local time with the offset
(:func:`geomatch.core.times.format_uk`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from geomatch.ingest.offences import offence_table
from geomatch.core.crs import BNG, crs_name
from geomatch.core.safe import escape_controls
from geomatch.core.times import UK_TZ, format_uk

PRESENCE_WORDS = {
    "observed": "Observed: at least one recorded position of the tag lies inside the match zone during the "
                "window.",
    "interpolated": "Interpolated: no recorded position lies inside the zone, but the straight line between two "
                    "positions recorded a few minutes apart passes through it during the window. Where the "
                    "subject actually went between those positions is not known.",
    "possible": "Possible: the trail has a gap during the window (or a position whose accuracy circle reaches "
                "the zone) and the subject could have reached the zone and left again at a plausible speed. "
                "No recorded position places the subject in the zone.",
}


def plain(value: object) -> str:
    """Text from inputs for plain-text outputs (statement, pictures): a control character that a document cannot
    hold written as its escape (``\\x07``; :func:`geomatch.core.safe.escape_controls`, so a text reads the same
    in the statement as in ``points.csv``), missing values as ``—``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    return escape_controls(str(value))


def mpl_text(value: object, most: int | None = None) -> str:
    """Text from inputs for matplotlib: as :func:`plain`, cut to ``most`` characters (ending in ``…``) when
    given, with ``$`` escaped so it is never read as maths. Pictures have no room for long inputs; the statement
    and the tables carry them whole."""
    text = plain(value)
    if most is not None and len(text) > most:
        text = text[: most - 1] + "…"
    return text.replace("$", r"\$")


def offence_name(offence: str) -> str:
    """The offence's description from the taxonomy (the key itself when unknown)."""
    table = offence_table()
    return str(table.loc[offence, "description"]) if offence in table.index else plain(offence)


def fmt_m(metres: float) -> str:
    """A distance in metres with one decimal, e.g. ``37.4 m``; ``—`` when unknown."""
    return "—" if metres is None or not math.isfinite(metres) else f"{metres:,.1f} m"


def fmt_fixes(n: int) -> str:
    """A number of fixes: ``1 fix``, ``2 fixes``."""
    return f"{n:,} fix" if n == 1 else f"{n:,} fixes"


def fmt_kmh(mps: float) -> str:
    """A speed given in m/s, shown in km/h with one decimal, e.g. ``4.3 km/h``."""
    return "—" if mps is None or not math.isfinite(mps) else f"{mps * 3.6:,.1f} km/h"


def fmt_duration(seconds: float) -> str:
    """A duration in seconds as ``1 h 02 min 05 s`` / ``4 min 10 s`` / ``12 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@lru_cache(maxsize=4096)
def fmt_time(ts: pd.Timestamp) -> str:
    """A UTC instant to the nearest second, in UK local time with the offset (:func:`geomatch.core.times.format_uk`);
    kept per instant (a pack's pages name its window, closest approach and gaps a dozen times)."""
    return format_uk(ts if pd.isna(ts) else pd.Timestamp(ts).round("s"))


def uk_offsets_s(times: pd.Series) -> np.ndarray:
    """The offset of UK local time from UTC (s, east positive) at each UTC instant of ``times`` (no NaT)."""
    utc = pd.Series(times)
    local = utc.dt.tz_convert(UK_TZ).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return (local - utc.to_numpy(dtype="datetime64[ns]")).astype("timedelta64[s]").astype(np.int64)


def uk_times(times: pd.Series) -> np.ndarray:
    """UTC instants (no NaT) as UK local time with the offset, to the second below, e.g.
    ``2026-10-25 01:30:00 +01:00``: the form of ``points.csv``, vectorised (``strftime`` over a dense window took
    a tenth of a pack's tables)."""
    offsets = uk_offsets_s(times)
    local = pd.Series(times).to_numpy(dtype="datetime64[ns]") + offsets.astype("timedelta64[s]")
    kinds, which = np.unique(offsets, return_inverse=True)
    suffixes = np.array([f" {'-' if k < 0 else '+'}{abs(k) // 3600:02d}:{abs(k) % 3600 // 60:02d}" for k in kinds],
                        dtype=str)
    text = np.strings.replace(np.datetime_as_string(local, unit="s"), "T", " ")
    return np.strings.add(text, suffixes[which.reshape(-1)]).astype(object)


def utc_times(times: pd.Series) -> np.ndarray:
    """UTC instants (no NaT) in ISO 8601 to the second below, e.g. ``2026-10-25T00:30:00Z``, vectorised."""
    return np.strings.add(np.datetime_as_string(pd.Series(times).to_numpy(dtype="datetime64[ns]"), unit="s"),
                          "Z").astype(object)


def zone_names(times: pd.Series) -> str:
    """The UK local offsets that occur in ``times``, e.g. ``BST, +01:00`` or ``BST, +01:00 / GMT, +00:00``."""
    utc = pd.Series(times).dropna()
    if utc.empty:
        return "UK local time"
    offsets = uk_offsets_s(utc)  # one per fix, vectorised
    labels = []
    for row in np.sort(np.unique(offsets, return_index=True)[1]):  # each offset's first fix, in time order
        ts = utc.iloc[row].tz_convert(UK_TZ)
        offset = ts.strftime("%z")
        labels.append(f"{ts.tzname()}, {offset[:3]}:{offset[3:]}")
    return " / ".join(labels)


def time_ticks(start: pd.Timestamp, end: pd.Timestamp, n: int = 6) -> tuple[pd.DatetimeIndex, list[str]]:
    """At most ``n`` ticks at round times between two UTC instants, labelled in UK local time (``HH:MM``, with
    the day when the range spans midnight)."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((s for s in (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
                 if span / s <= n), 86400 * math.ceil(span / 86400 / n))
    ticks = pd.date_range(start.ceil(f"{step}s"), end, freq=f"{step}s")
    same_day = start.tz_convert(UK_TZ).date() == end.tz_convert(UK_TZ).date()
    fmt = "%H:%M" if same_day else "%d %b %H:%M"
    return ticks, [t.strftime(fmt) for t in ticks.tz_convert(UK_TZ)]


def grid_phrase(crs: str) -> str:
    """Where distances are measured, for a sentence: "on the British National Grid" or "in UTM zone 30N
    (EPSG:32630)"."""
    return "on the British National Grid" if crs == BNG else f"in {crs_name(crs)}"
