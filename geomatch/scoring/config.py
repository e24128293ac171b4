"""Scoring parameters: one frozen :class:`ScoreConfig` (routine places and the default model's points), from TOML."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from geomatch.core.errors import InputError
from geomatch.core.tables import read_toml


@dataclass(frozen=True)
class Weights:
    """Points of the transparent default model; a hit's score is their sum, clipped to 0-100.

    Attributes:
        observed, interpolated, possible: points for the presence class.
        proximity: points for a closest approach at the scene itself, falling linearly to 0 at the zone's edge.
        stop_per_min, stop_max: points per minute of the longest continuous stay in the zone, up to ``stop_max``.
        vehicle_speed_mps, vehicle: a pass without a stop at ``vehicle_speed_mps`` (m/s) or faster loses
            ``vehicle`` points (a drive-by); not for a fix wider than the zone, whose speed is noise.
        walk_speed_mps, walk: a pass without a stop at ``walk_speed_mps`` or faster (but slower than a vehicle)
            loses ``walk`` points (a walk-by).
        offset_free_m, offset_full_m, offset: the centre of the subject's stop lies ``offset_free_m`` or less from
            the scene: no loss; the loss grows linearly to ``offset`` points at ``offset_full_m`` and beyond.
        window_short_s, window_long_s, window: a window of ``window_short_s`` or less earns ``window`` points,
            one of ``window_long_s`` or more none, linearly in log(time) between.
        home: points lost when the scene is at the subject's home (within ``ScoreConfig.home_radius_m``); the
            loss fades linearly to 0 at twice that distance.
        pass_day, pass_max: a pass without a stop loses this many points per other day the trail passes
            through the zone, up to ``pass_max`` (passing by on other days explains passing by, not a stop).
        stay_day, stay_max: points lost per other day the subject stopped in the zone, up to ``stay_max``.
        lbs, wifi: points lost when the closest fix came from the phone network or Wi-Fi rather than GPS.
        coarse: points lost when the fix's accuracy radius is larger than the zone.
        gap_free_s, gap_per_min, gap_max: points lost per minute of the longest gap beyond ``gap_free_s``, up to
            ``gap_max``.
    """

    observed: float = 45.0
    interpolated: float = 30.0
    possible: float = 10.0
    proximity: float = 15.0
    stop_per_min: float = 2.0
    stop_max: float = 25.0
    vehicle_speed_mps: float = 7.0
    vehicle: float = 12.0
    walk_speed_mps: float = 1.0
    walk: float = 6.0
    offset_free_m: float = 15.0
    offset_full_m: float = 40.0
    offset: float = 20.0
    window_short_s: float = 3600.0
    window_long_s: float = 12 * 3600.0
    window: float = 12.0
    home: float = 35.0
    pass_day: float = 8.0
    pass_max: float = 30.0
    stay_day: float = 10.0
    stay_max: float = 40.0
    lbs: float = 20.0
    wifi: float = 5.0
    coarse: float = 10.0
    gap_free_s: float = 600.0
    gap_per_min: float = 0.25
    gap_max: float = 10.0


@dataclass(frozen=True)
class ScoreConfig:
    """Every parameter of scoring.

    Attributes:
        lookback_days: routine places are learnt from the subject's trail on this many UK days before the first
            day the window touches...
        lookahead_days: ... and this many days after the last (0: the past only). The window's own days never
            count, so a hit never explains itself away.
        still_span_s, stay_radius_m, still_accuracy_factor, still_max_m: a fix is *still* when the trail's net
            displacement from it to the first fix ``still_span_s`` seconds later, or from the last fix that long
            before, is small: at most ``stay_radius_m`` metres, or ``still_accuracy_factor`` times the two fixes'
            combined accuracy radius (their hypotenuse) where that is larger, but never more than ``still_max_m``.
            Net displacement over a fixed time span does not grow with the sampling rate, as the sum of GPS
            wander between consecutive fixes does.
        stop_bridge_s: a stretch of fixes outside the zone or moving that lasts at most this long (s) does not
            end a stop or a stay point (GPS wander, a multipath spike).
        speed_span_s: speeds near the scene are net displacement over this span (s) divided by its time.
        stay_min_s: a run of still fixes lasting at least this long (s) is a stay point.
        stay_max_gap_s: still fixes further apart than this (s) start a new stay point (a stop in the zone
            ends at any gap longer than the matcher's ``interp_max_gap_s``).
        night_start_h, night_end_h: UK local hours that count as night for finding home (start inclusive).
        home_radius_m: the scene is "at home" when within this distance of the subject's home.
        min_home_nights: nights needed to call a place home.
        stop_min_s: a stop in the zone of at least this long (s) counts as stopping there (a stop: consecutive
            still fixes in the zone during the window, bridged as above).
        default_accuracy_m: accuracy assumed for a fix that gives none.
        weights: the default model's points (see :class:`Weights`).
    """

    lookback_days: int = 28
    lookahead_days: int = 28
    still_span_s: float = 120.0
    stay_radius_m: float = 50.0
    still_accuracy_factor: float = 2.5
    still_max_m: float = 100.0
    stop_bridge_s: float = 120.0
    speed_span_s: float = 60.0
    stay_min_s: float = 300.0
    stay_max_gap_s: float = 1800.0
    night_start_h: int = 0
    night_end_h: int = 5
    home_radius_m: float = 60.0
    min_home_nights: int = 2
    stop_min_s: float = 120.0
    default_accuracy_m: float = 10.0
    weights: Weights = field(default_factory=Weights)

    @classmethod
    def from_toml(cls, path: Path | str) -> "ScoreConfig":
        """Load a config: top-level scalar fields and a ``[weights]`` table.

        Example::

            lookback_days = 42
            [weights]
            stop_per_min = 2.5
        """
        return cls.from_mapping(read_toml(path), source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config") -> "ScoreConfig":
        """Build from a plain mapping shaped like the TOML file (unknown keys are refused)."""
        scalars = {f.name for f in fields(cls)} - {"weights"}
        weight_names = {f.name for f in fields(Weights)}
        unknown = sorted(set(data) - scalars - {"weights"}) + sorted(
            f"weights.{k}" for k in set(dict(data.get("weights", {}))) - weight_names)
        if unknown:
            raise InputError(f"unknown setting(s): {', '.join(unknown)}", file=source)
        try:
            weights = Weights(**{k: float(v) for k, v in dict(data.get("weights", {})).items()})
            settings = {k: type(getattr(cls(), k))(v) for k, v in data.items() if k in scalars}
        except (TypeError, ValueError) as error:
            raise InputError(f"a setting has the wrong type ({error})", file=source) from error
        return replace(cls(), weights=weights, **settings)
