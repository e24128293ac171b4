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
from vvol.inputs import Paths, load_crimes_files, load_people_files
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
    crimes_files: pd.DataFrame | None = None
    people_files: pd.DataFrame | None = None

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
        counts["dates"] = "calendar months (month-level dates)" if self.window.months else "days"
        counts["window"] = self.window.window_text
        for name in ("crimes_files", "people_files"):
            files = getattr(self, name)
            if files is not None:
                counts[name] = files.drop(columns="ok").to_dict(orient="records")
        return counts


def read_inputs(crimes_paths: Paths, people_paths: Paths | None, config: VvolConfig, harm: HarmTable
                ) -> tuple[Validated, Validated | None, pd.DataFrame, pd.DataFrame | None]:
    """Read and validate both tables (each one or several files); involvements are checked against the accepted
    crimes. Returns both and their per-file reconciliations (:func:`vvol.inputs.reconcile`)."""
    flags = tuple(config.uplifts)
    crimes, crimes_files = load_crimes_files(crimes_paths, harm, flags=flags)
    people = people_files = None
    if people_paths is not None and (isinstance(people_paths, (str, Path)) or len(people_paths)):
        people, people_files = load_people_files(people_paths, crimes.accepted["crime_ref"], flags=flags)
    return crimes, people, crimes_files, people_files


def check_area(crimes: pd.DataFrame, area: str | None, source: str) -> str | None:
    """The area as the data spells it (matched without regard to case), or None for all areas.

    Raises:
        InputError: the crimes carry no ``area``, or none of them is in ``area`` (the message lists the known ones).
    """
    if area is None:
        return None
    known = pd.Index(crimes["area"].dropna().astype(str).unique()).sort_values()
    if known.empty:
        raise InputError("--area needs an 'area' column in the crimes", file=source, column="area")
    found = [name for name in known if name.lower() == area.strip().lower()]
    if not found:
        shown = ", ".join(known[:40]) + (f" and {len(known) - 40} more" if len(known) > 40 else "")
        raise InputError(f"no crime is in area '{area}' (the areas are: {shown})", file=source, column="area")
    return found[0]


def run(crimes_path: Paths, people_path: Paths | None, as_of: str | pd.Timestamp,
        config: VvolConfig | None = None, *, area: str | None = None, progress: bool = False) -> Tasking:
    """Score one tasking period from files.

    Args:
        crimes_path: crimes table(s) (CSV, CSV.GZ, Parquet, GeoPackage, or police.uk street-level CSVs): a file,
            a folder, a glob pattern or a list of them.
        people_path: involvements table(s) in the same forms, or None to score locations only.
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
    crimes, people, crimes_files, people_files = read_inputs(crimes_path, people_path, config, harm)
    step("read")
    area = check_area(crimes.accepted, area, crimes.source)
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
                   locations=location_list, clusters=cluster_list, crimes_files=crimes_files,
                   people_files=people_files)
