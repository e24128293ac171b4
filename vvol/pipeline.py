"""V-VOL end to end: read and validate, take the window, find repeats, hot spots and linked clusters, score.

Each stage is a plain function of its own module; :func:`run` composes them with a progress bar for the
command line, the notebook and the benchmark.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from geomatch.core.errors import InputError
from geomatch.core.quarantine import Validated
from vvol.config import VvolConfig
from vvol.harm import HarmTable, load_harm_table
from vvol.hotspots import Hotspots, find_hotspots
from vvol.inputs import load_crimes, load_people
from vvol.links import Links, linked_clusters
from vvol.lists import clusters, locations, offenders, victims
from vvol.repeats import Window, as_of_instant, select_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tasking:
    """Everything a tasking pack shows: the validated inputs, the window, and the four scored lists."""

    config: VvolConfig
    harm: HarmTable
    as_of: pd.Timestamp
    area: str | None
    crimes: Validated
    people: Validated | None
    window: Window
    hotspots: Hotspots
    links: Links
    victims: pd.DataFrame
    offenders: pd.DataFrame
    locations: pd.DataFrame
    clusters: pd.DataFrame

    def counts(self) -> dict[str, object]:
        """Row counts and list lengths for the summary and the manifest."""
        counts: dict[str, object] = {"crimes": self.crimes.counts(),
                                     "crimes_quarantine_reasons": self.crimes.reason_counts(),
                                     "window_crimes": len(self.window.crimes),
                                     "window_involvements": len(self.window.people)}
        if self.people is not None:
            counts["people"] = self.people.counts()
            counts["people_quarantine_reasons"] = self.people.reason_counts()
        for name in ("victims", "offenders", "locations", "clusters"):
            counts[name] = len(getattr(self, name))
        counts["hotspots"] = len(self.hotspots.ids)
        return counts


def read_inputs(crimes_path: Path | str, people_path: Path | str | None, config: VvolConfig,
                harm: HarmTable) -> tuple[Validated, Validated | None]:
    """Read and validate both tables; involvements are checked against the accepted crimes."""
    flags = tuple(config.uplifts)
    crimes = load_crimes(crimes_path, harm, flags=flags)
    people = None
    if people_path is not None:
        people = load_people(people_path, crimes.accepted["crime_ref"], flags=flags)
    return crimes, people


def run(crimes_path: Path | str, people_path: Path | str | None, as_of: str | pd.Timestamp,
        config: VvolConfig | None = None, *, area: str | None = None, progress: bool = False) -> Tasking:
    """Score one tasking period from files.

    Args:
        crimes_path: crimes table (CSV, Parquet, GeoPackage, or a police.uk street-level CSV).
        people_path: involvements table, or None to score locations only.
        as_of: the last day of the period (the whole day, UK local time) or a tz-aware instant.
        config: the bands and parameters (defaults when None).
        area: keep only crimes whose ``area`` is this name.
        progress: show a progress bar over the stages.
    """
    config = config or VvolConfig()
    stages = ["read", "window", "victims", "offenders", "hot spots", "locations", "links", "clusters"]
    bar = tqdm(total=len(stages), desc="vvol", unit="stage", disable=not progress)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    harm = load_harm_table(config.harm_table)
    crimes, people = read_inputs(crimes_path, people_path, config, harm)
    step("read")
    if area is not None and crimes.accepted["area"].isna().all():
        raise InputError("--area needs an 'area' column in the crimes", file=str(crimes_path), column="area")
    empty_people = pd.DataFrame({"crime_ref": pd.Series(dtype="string"), "person_id": pd.Series(dtype="string"),
                                 "role": pd.Categorical([], categories=["victim", "offender", "suspect"])})
    window = select_window(crimes.accepted, people.accepted if people is not None else empty_people,
                           as_of_instant(as_of), config, area=area)
    step("window")
    victim_list = victims(window, config)
    step("victims")
    offender_list = offenders(window, config)
    step("offenders")
    hot = find_hotspots(window, config)
    step("hot spots")
    location_list = locations(window, hot, config)
    step("locations")
    links = linked_clusters(window, config)
    step("links")
    cluster_list = clusters(window, links, config)
    step("clusters")
    bar.close()
    return Tasking(config=config, harm=harm, as_of=window.as_of, area=area, crimes=crimes, people=people,
                   window=window, hotspots=hot, links=links, victims=victim_list, offenders=offender_list,
                   locations=location_list, clusters=cluster_list)
