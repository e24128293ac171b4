"""What the world generator returns: the world's tables and the truth behind them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from geomatch.simulate.town import Town


@dataclass(frozen=True)
class Truth:
    """What really happened. ``committed``: crime_ref, subject_id, at_scene_from, at_scene_to (the offender's
    stop at the scene), true_x, true_y. ``scenarios``: every planted coincidence (crime_ref, subject_id,
    scenario, offence, planted_distance_m (from the crime's true place), near_from, near_to, true_x, true_y,
    geocode_error_m). true_x/true_y: where the crime really happened (BNG metres; the crimes files record it
    geocode_error_m away). ``subjects``: subject_id, home_x/y, work_x/y (BNG metres),
    is_offender, has_car. ``windows``: crime_ref, from_utc, to_utc (the exact window the local times were made
    from), dst_ambiguous (a local bound falls in the repeated autumn hour). Times are ISO 8601 UTC text."""

    committed: pd.DataFrame
    scenarios: pd.DataFrame
    subjects: pd.DataFrame
    windows: pd.DataFrame


@dataclass(frozen=True)
class World:
    """Trails (one row per fix, sorted by subject and time), crimes (the table format, sorted by crime_ref),
    the same crimes in the MoJ request format (those with an MoJ code), the truth, and the town (streets and
    addresses; written as the basemap)."""

    trails: pd.DataFrame
    crimes: pd.DataFrame
    crimes_moj: pd.DataFrame
    truth: Truth
    town: Town | None = field(default=None, compare=False, repr=False)
