"""Matching parameters: one frozen :class:`MatchConfig`, with defaults, loadable from TOML."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from geomatch.core.errors import InputError
from geomatch.core.tables import read_toml
from geomatch.core.times import UK_TZ
from geomatch.ingest.offences import offence_table
from geomatch.quality.flags import QualityRule


@dataclass(frozen=True)
class OffenceRule:
    """How close and when, for one offence: a zone of ``radius_m`` metres around the scene and a window
    widened by ``pad_s`` seconds either side of the committed-from/committed-to times."""

    radius_m: float
    pad_s: float


def _require(value: object, name: str, *, above: float | None = None, at_least: float | None = None,
             bound_name: str | None = None) -> None:
    """Raise :class:`InputError` naming ``name`` unless ``value`` is a finite number above ``above`` / at least
    ``at_least`` (``bound_name`` names the field that bound comes from)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if above is not None and not value > above:
        raise InputError(f"{name} must be > {above:g}, got {value:g}")
    if at_least is not None and not value >= at_least:
        bound = f"{bound_name} ({at_least:g})" if bound_name else f"{at_least:g}"
        raise InputError(f"{name} must be >= {bound}, got {value:g}")


def _default_rules() -> dict[str, OffenceRule]:
    table = offence_table()
    return {key: OffenceRule(float(row.radius_m), float(row.pad_min) * 60.0) for key, row in table.iterrows()}


@dataclass(frozen=True)
class MatchConfig:
    """Every parameter of matching.

    Attributes:
        rules: per-offence radius (m, > 0) and padding (s, >= 0); defaults from
            ``geomatch/ingest/data/offences.csv``.
        max_window_s: crime windows longer than this (s) are still matched but flagged ``long_window``.

    Every value is checked when the config is made: distances, times and speeds must be finite and positive,
    ``possible_max_gap_s >= interp_max_gap_s``, ``max_speed_mps >= walk_speed_mps``, and ``naive_tz`` a known
    IANA zone; anything else raises :class:`~geomatch.core.errors.InputError` naming the field.
        interp_max_gap_s: consecutive fixes at most this far apart (s) are joined by a straight path
            (``interpolated`` presence); longer intervals are gaps.
        possible_max_gap_s: gaps up to this long (s) can make a ``possible`` hit if the scene was reachable
            and left again at a plausible speed; a longer gap (the tag off or uncharged) says nothing about where
            the subject was. Default 30 min.
        walk_speed_mps: the plausible speed (m/s) through a gap when the subject was still or slower on either
            side of it (someone indoors can still walk out): 2 m/s, a brisk walk.
        max_speed_mps: the plausible speed through a gap is the subject's own speed just before or after it, at
            most this (m/s); the default, 13.4 m/s, is 30 mph, the usual urban speed limit.
        naive_tz: time zone of naive crime times (UK police exports are Europe/London local time).
        fallback_accuracy_m: the trail-quality stage (:mod:`geomatch.quality`) flags a fix ``fallback`` when
            its source is LBS or Wi-Fi or its accuracy radius is wider than this (m, > 0; default 200 m).
            Fallback fixes are never joined into a path and never set a plausible speed; their accuracy circle
            can still make a ``possible`` hit.
        outlier_speed_mps: a least speed (m/s, the distance less both fixes' accuracy radii, over the time) that
            no person or car reaches: a run of fixes reached from the fix before and left to the fix after
            faster than this, while those two are within it of each other, is an ``outlier`` (a spike), never
            used; a step this fast between good fixes is a jump, never joined (>= ``max_speed_mps``; default
            50 m/s, 180 km/h).
        outlier_max_run_s: the longest run of fixes (s, first to last) that can be a spike (>= 0; default 60 s).
    """

    rules: Mapping[str, OffenceRule] = field(default_factory=_default_rules)
    max_window_s: float = 12 * 3600.0
    interp_max_gap_s: float = 300.0
    possible_max_gap_s: float = 1800.0
    walk_speed_mps: float = 2.0
    max_speed_mps: float = 13.4
    naive_tz: str = UK_TZ
    fallback_accuracy_m: float = 200.0
    outlier_speed_mps: float = 50.0
    outlier_max_run_s: float = 60.0

    def __post_init__(self) -> None:
        """Refuse values that make no sense, naming the field (scikit-learn style parameter checks)."""
        for key, rule in self.rules.items():
            _require(rule.radius_m, f"offences.{key}.radius_m", above=0.0)
            _require(rule.pad_s, f"offences.{key}.pad_s", at_least=0.0)
        _require(self.max_window_s, "max_window_s", above=0.0)
        _require(self.interp_max_gap_s, "interp_max_gap_s", above=0.0)
        _require(self.possible_max_gap_s, "possible_max_gap_s", at_least=self.interp_max_gap_s,
                 bound_name="interp_max_gap_s")
        _require(self.walk_speed_mps, "walk_speed_mps", above=0.0)
        _require(self.max_speed_mps, "max_speed_mps", at_least=self.walk_speed_mps, bound_name="walk_speed_mps")
        _require(self.fallback_accuracy_m, "fallback_accuracy_m", above=0.0)
        _require(self.outlier_speed_mps, "outlier_speed_mps", at_least=self.max_speed_mps, bound_name="max_speed_mps")
        _require(self.outlier_max_run_s, "outlier_max_run_s", at_least=0.0)
        try:
            ZoneInfo(self.naive_tz)
        except (TypeError, ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            raise InputError(f"naive_tz must be an IANA time zone such as Europe/London, got {self.naive_tz!r}") from None

    @property
    def quality_rule(self) -> QualityRule:
        """The trail-quality stage's parameters (:class:`geomatch.quality.QualityRule`)."""
        return QualityRule(self.fallback_accuracy_m, self.outlier_speed_mps, self.outlier_max_run_s)

    def rule(self, offence: str) -> OffenceRule:
        """The radius and padding for ``offence`` (a taxonomy key)."""
        return self.rules[offence]

    def with_uniform_rule(self, radius_m: float | None = None, pad_s: float | None = None) -> "MatchConfig":
        """The same config with one radius and/or padding for every offence (``--radius-m``, ``--pad-min``)."""
        rules = {key: OffenceRule(radius_m if radius_m is not None else r.radius_m,
                                  pad_s if pad_s is not None else r.pad_s) for key, r in self.rules.items()}
        return replace(self, rules=rules)

    @classmethod
    def from_toml(cls, path: Path | str) -> "MatchConfig":
        """Load a config: top-level scalar fields, and ``[offences.<key>]`` tables with ``radius_m``/``pad_min``.

        Example::

            max_window_s = 43200
            [offences.robbery_personal]
            radius_m = 50
            pad_min = 10
        """
        return cls.from_mapping(read_toml(path), source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config") -> "MatchConfig":
        """Build from a plain mapping shaped like the TOML file."""
        base = cls()
        scalars = {f.name for f in fields(cls)} - {"rules"}
        unknown = set(data) - scalars - {"offences"}
        if unknown:
            raise InputError(f"unknown setting(s): {', '.join(sorted(unknown))}", file=source)
        rules = dict(base.rules)
        for key, values in dict(data.get("offences", {})).items():
            if key not in rules:
                raise InputError(f"unknown offence '{key}' in [offences]", file=source)
            unknown = set(values) - {"radius_m", "pad_min"}
            if unknown:
                raise InputError(f"unknown setting(s) in [offences.{key}]: {', '.join(sorted(unknown))} (expected "
                                 f"radius_m, pad_min)", file=source)
            try:
                rules[key] = OffenceRule(float(values.get("radius_m", rules[key].radius_m)),
                                         float(values.get("pad_min", rules[key].pad_s / 60.0)) * 60.0)
            except (TypeError, ValueError) as error:
                raise InputError(f"[offences.{key}] radius_m and pad_min must be numbers ({error})",
                                 file=source) from None
        try:
            return replace(base, rules=rules, **{k: v for k, v in data.items() if k in scalars})
        except InputError as error:
            raise InputError(error.message, file=source) from None
