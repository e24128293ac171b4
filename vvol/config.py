"""``VvolConfig``: every threshold, band and weight V-VOL uses, in one frozen dataclass (loadable from TOML).

The bands are not published by any force, so ours are stated here, written into every manifest and explained in
every tasking pack. A force changes them with a TOML file (``vvol score --config force.toml``), for example::

    window_days = 365
    period_days = 28
    recency_half_life_days = 60
    frequency_bands = [[2, 5], [3, 10], [5, 15], [8, 20], [12, 25]]
    uplifts = { vulnerable = 0.3, domestic = 0.1 }
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geomatch.core.errors import InputError
from geomatch.core.tables import read_toml

Bands = tuple[tuple[float, float], ...]
"""``((threshold, points), ...)`` in rising threshold order: a value earns the points of the highest threshold it
reaches, and 0 below the first."""


BAND_FIELDS = ("frequency_bands", "gravity_bands", "people_bands", "location_frequency_bands",
               "location_gravity_bands")


@dataclass(frozen=True)
class VvolConfig:
    """Parameters of a V-VOL run. Units are in the names (``_days``, ``_m``); points are score points.

    Attributes:
        window_days: the rolling window that decides who and where is a repeat (365: "12 months"). When a file
            or the command line sets ``period_days`` but not ``window_days``, the window follows the period: the
            larger of 365 days and two periods.
        min_repeat: crimes in the window needed to be a repeat (victim, offender or premises).
        period_days: the reporting period; the trend compares the last period with the one before.
        offender_roles: involvement roles counted as perpetrators (offenders and suspects).
        recency_half_life_days: recency points halve for every this many days since the latest crime.
        recency_points: recency points for a crime on the as-of date.
        frequency_bands: points by number of crimes in the window.
        gravity_bands: points by summed harm (harm-table units) in the window.
        people_bands: points by distinct other people (victims of an offender, offenders of a victim,
            victims of a cluster).
        location_frequency_bands, location_gravity_bands: the same for premises and hot spots, which gather
            more crimes than a person does, so their bands start higher.
        uplifts: fractional score uplift per flag present on any crime of the entity in the window (flags come
            from crime columns and from victims' involvement columns of the same name); uplifts add up.
        max_uplift: cap on the summed uplift.
        trend_intensifying_ratio: this period's count at least ratio × the previous period's (and higher) is
            intensifying.
        trend_diminishing_ratio: this period's count at most ratio × the previous period's (or none) is
            diminishing.
        hotspot_eps_m: DBSCAN neighbourhood radius in metres for spatial hot spots.
        hotspot_min_crimes: DBSCAN minimum crimes (weighted) within ``hotspot_eps_m`` of a core point.
        link_min_shared: two entities are linked when they share at least this many crimes in the window.
        top_n: rows shown per list in ``index.html``.
        xlsx_max_rows: rows per sheet in ``tasking.xlsx`` (the CSV files always hold every row).
        harm_table: a force's own harm table (same format as ``vvol/data/harm_weights.csv``); None = ours. In a
            TOML file a relative path is taken from the TOML file's folder.
    """

    window_days: int = 365
    min_repeat: int = 2
    period_days: int = 90
    offender_roles: tuple[str, ...] = ("offender", "suspect")
    recency_half_life_days: float = 90.0
    recency_points: float = 25.0
    frequency_bands: Bands = ((2, 5), (3, 10), (5, 15), (8, 20), (12, 25))
    gravity_bands: Bands = ((10, 5), (50, 10), (150, 15), (500, 20), (1500, 25))
    people_bands: Bands = ((1, 5), (2, 10), (3, 15), (5, 20), (8, 25))
    location_frequency_bands: Bands = ((2, 5), (5, 10), (10, 15), (20, 20), (40, 25))
    location_gravity_bands: Bands = ((50, 5), (250, 10), (1000, 15), (3000, 20), (8000, 25))
    uplifts: dict[str, float] = field(default_factory=lambda: {"vulnerable": 0.25, "domestic": 0.10})
    max_uplift: float = 0.5
    trend_intensifying_ratio: float = 1.5
    trend_diminishing_ratio: float = 0.5
    hotspot_eps_m: float = 50.0
    hotspot_min_crimes: int = 10
    link_min_shared: int = 2
    top_n: int = 25
    xlsx_max_rows: int = 1000
    harm_table: str | None = None

    def __post_init__(self) -> None:
        _check_values(self)
        for name in BAND_FIELDS:
            bands = tuple((float(t), float(p)) for t, p in getattr(self, name))
            if [t for t, _ in bands] != sorted(t for t, _ in bands):
                raise InputError(f"{name} thresholds must rise", column=name)
            object.__setattr__(self, name, bands)
        object.__setattr__(self, "offender_roles", tuple(r.lower() for r in self.offender_roles))
        object.__setattr__(self, "uplifts", {str(k): float(v) for k, v in sorted(dict(self.uplifts).items())})
        if self.window_days < 2 * self.period_days:
            raise InputError("window_days must be at least two periods long (the trend compares two periods)",
                             column="window_days")
        if self.min_repeat < 1 or self.hotspot_min_crimes < 1 or self.link_min_shared < 1:
            raise InputError("min_repeat, hotspot_min_crimes and link_min_shared must be at least 1")

    @property
    def person_max_points(self) -> float:
        """Most points a person can earn before uplift (recency + frequency + gravity + people)."""
        return self.recency_points + _top(self.frequency_bands) + _top(self.gravity_bands) + _top(self.people_bands)

    @property
    def location_max_points(self) -> float:
        """Most points a location can earn before uplift (recency + frequency + gravity)."""
        return self.recency_points + _top(self.location_frequency_bands) + _top(self.location_gravity_bands)

    def replace(self, **changes: Any) -> "VvolConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_WHOLE_AT_LEAST_1 = ("window_days", "min_repeat", "period_days", "hotspot_min_crimes", "link_min_shared", "top_n",
                     "xlsx_max_rows")
_ABOVE_0 = ("recency_half_life_days", "trend_intensifying_ratio", "hotspot_eps_m")
_AT_LEAST_0 = ("recency_points", "max_uplift", "trend_diminishing_ratio")
XLSX_SHEET_ROWS = 1_048_575
"""Data rows an Excel sheet holds under its header row (1,048,576 rows in all)."""


def _check_values(config: VvolConfig) -> None:
    """Refuse a value of the wrong kind or out of its range (a TOML ``window_days = 'x'``, ``xlsx_max_rows = -1``),
    in one sentence naming the field, before any comparison could fail with a traceback."""
    for name in _WHOLE_AT_LEAST_1:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {value!r}", column=name)
    for name in (*_ABOVE_0, *_AT_LEAST_0):
        value = getattr(config, name)
        if not _is_number(value) or value < 0 or (name in _ABOVE_0 and value == 0):
            bound = "above 0" if name in _ABOVE_0 else "at least 0"
            raise InputError(f"{name} must be a finite number {bound}, got {value!r}", column=name)
    if config.xlsx_max_rows > XLSX_SHEET_ROWS:
        raise InputError(f"xlsx_max_rows must be at most {XLSX_SHEET_ROWS:,} (an Excel sheet's rows under its "
                         f"header), got {config.xlsx_max_rows:,}", column="xlsx_max_rows")
    for name in BAND_FIELDS:
        bands = getattr(config, name)
        if not all(isinstance(b, (tuple, list)) and len(b) == 2 and all(map(_is_number, b)) for b in bands):
            raise InputError(f"{name} must be pairs of numbers [threshold, points], got {bands!r}", column=name)
    if not isinstance(config.uplifts, dict) or not all(map(_is_number, config.uplifts.values())):
        raise InputError(f"uplifts must map flag names to numbers, got {config.uplifts!r}", column="uplifts")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _top(bands: Bands) -> float:
    return max((p for _, p in bands), default=0.0)


def load_config(path: Path | str | None, **overrides: Any) -> VvolConfig:
    """Read a TOML file of :class:`VvolConfig` fields (unknown keys are an error); ``overrides`` win."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        values = read_toml(path)
        known = {f.name for f in dataclasses.fields(VvolConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown configuration key '{unknown[0]}'", file=str(path))
        if isinstance(values.get("harm_table"), str) and not Path(values["harm_table"]).is_absolute():
            values["harm_table"] = str(path.parent / values["harm_table"])  # relative to the TOML file
        for key in ("offender_roles",):
            if key in values:
                values[key] = tuple(values[key])
        for key in BAND_FIELDS:
            if key in values:
                values[key] = tuple(tuple(pair) for pair in values[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "window_days" not in values and "period_days" in values:
        # the window follows the period: at least two periods (the trend compares two), at least a year
        values["window_days"] = max(VvolConfig.window_days, 2 * int(values["period_days"]))
    try:
        return VvolConfig(**values)
    except InputError as error:  # name the file the value came from
        if path is None or error.file is not None:
            raise
        raise InputError(error.message, file=str(path), column=error.column) from None


def parse_days(text: str) -> int:
    """A period such as ``90d``, ``12w``, ``3m`` (30-day months, but every 12 months is a 365-day year: ``12m`` =
    365, ``15m`` = 455; on month-level data a period is rounded to whole calendar months, see
    :func:`vvol.repeats.window_months`), ``1y`` (365 days) or ``90`` as whole days."""
    match = re.fullmatch(r"\s*(\d+)\s*([dwmy]?)\s*", str(text).lower())
    if not match:
        raise InputError(f"'{text}' is not a period (write 90d, 12w, 3m or 1y)", column="period")
    number, unit = int(match.group(1)), match.group(2) or "d"
    days = (number // 12 * 365 + number % 12 * 30) if unit == "m" else number * {"d": 1, "w": 7, "y": 365}[unit]
    if days < 1:
        raise InputError("the period must be at least one day", column="period")
    return days
