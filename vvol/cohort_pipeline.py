"""``vvol cohort`` end to end: read the cohort, crimes and people files, sum each member's windows, match a
comparison group, compute the statistics and each cohort's top 50 by RFG score."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from geomatch.core.errors import InputError
from geomatch.core.quarantine import Validated
from vvol.cohort import (OffenceLedger, cohort_people, offence_ledger, today_day, validate_cohort)
from vvol.cohort_stats import Matched, cohort_statistics, match_comparison, peak_share
from vvol.config import VvolConfig
from vvol.costs import CostTable, load_cost_table
from vvol.harm import HarmTable, load_harm_table
from vvol.inputs import Paths, load_crimes_files, load_people_files, read_inputs_table, reconcile
from vvol.lists import offenders
from vvol.repeats import as_of_instant, select_window

log = logging.getLogger(__name__)

TOP_N = 50


@dataclass(frozen=True)
class CohortSettings:
    """Parameters of a cohort report.

    Attributes:
        window_months: length of the before and after windows in calendar months.
        as_of: the last UK day of the data (ISO); None = the day of the latest crime.
        data_from: the first UK day the crimes data covers (ISO); None = the day of the earliest crime.
        include_suspects: count crimes where the person is a suspect, not only the offender.
        n_boot: bootstrap resamples; seed: seed of the bootstrap and the candidate sample.
        top_n: rows of each cohort's RFG list.
    """

    window_months: int = 12
    as_of: str | None = None
    data_from: str | None = None
    include_suspects: bool = False
    n_boot: int = 2000
    seed: int = 0
    top_n: int = TOP_N

    def __post_init__(self) -> None:
        if self.window_months < 1:
            raise InputError("the window must be at least one month", column="window")
        if self.n_boot < 100:
            raise InputError("at least 100 bootstrap resamples are needed for a 95% interval", column="n_boot")


@dataclass(frozen=True)
class CohortResult:
    """Everything the cohort report shows."""

    settings: CohortSettings
    harm: HarmTable
    costs: CostTable
    members: Validated
    crimes: Validated
    people: Validated
    files: dict[str, pd.DataFrame]
    ledger: OffenceLedger
    as_of_day: int
    data_from_day: int
    table: pd.DataFrame
    statistics: dict[str, pd.DataFrame]
    matched: dict[str, Matched | None]
    peaks: dict[str, tuple[float, float]]
    top: dict[str, pd.DataFrame]

    @property
    def cohorts(self) -> list[str]:
        return sorted(self.table["cohort"].unique())

    def counts(self) -> dict[str, object]:
        counts: dict[str, object] = {name: getattr(self, name).counts() for name in ("members", "crimes", "people")}
        counts.update({f"{name}_quarantine_reasons": getattr(self, name).reason_counts()
                       for name in ("members", "crimes", "people")})
        counts["files"] = {k: v.drop(columns="ok").to_dict(orient="records") for k, v in self.files.items()}
        counts["cohorts"] = {c: int((self.table["cohort"] == c).sum()) for c in self.cohorts}
        counts["crimes_without_unit_cost"] = self.ledger.uncosted
        counts["matched_pairs"] = {c: (len(m.pairs) if m is not None else 0) for c, m in self.matched.items()}
        return counts


def run_cohort(cohort_paths: Paths, crimes_paths: Paths, people_paths: Paths, settings: CohortSettings | None = None,
               *, harm_table: str | None = None, cost_table: str | None = None,
               progress: bool = False) -> CohortResult:
    """Read, validate and measure; see the module notes of :mod:`vvol.cohort` and :mod:`vvol.cohort_stats`."""
    settings = settings or CohortSettings()
    bar = tqdm(total=5, desc="vvol cohort", unit="stage", disable=not progress)
    harm, costs = load_harm_table(harm_table), load_cost_table(cost_table)
    costs.check_keys(harm)
    crimes, crimes_files = load_crimes_files(crimes_paths, harm)
    people, people_files = load_people_files(people_paths, crimes.accepted["crime_ref"])
    bar.update(1)
    ledger = offence_ledger(crimes.accepted, people.accepted, costs, include_suspects=settings.include_suspects)
    as_of_day = today_day(settings.as_of) if settings.as_of else ledger.last_day
    data_from = today_day(settings.data_from) if settings.data_from else ledger.first_day
    table, cohort_files = read_inputs_table(cohort_paths)
    members = validate_cohort(table, as_of_day)
    files = {"crimes": crimes_files, "people": people_files, "cohort": reconcile(members, cohort_files)}
    if members.accepted.empty:
        raise InputError("the cohort file has no valid member row (see quarantine/cohort.csv)", file=members.source)
    people_table = cohort_people(members.accepted, ledger, as_of_day=as_of_day, data_from=data_from,
                                 window_months=settings.window_months)
    bar.update(1)
    in_any = set(members.accepted["person_id"])
    candidates = pd.Index([p for p in ledger.person_ids if p not in in_any])
    statistics, matched, peaks = {}, {}, {}
    days = members.accepted.set_index(["cohort", "person_id"])[["start", "end"]]
    for name in sorted(people_table["cohort"].unique()):
        rows = people_table[people_table["cohort"] == name].reset_index(drop=True)
        keyed = days.loc[name].loc[rows["person_id"]]
        rows_days = rows.assign(start_day=keyed["start"].to_numpy(), end_day=keyed["end"].to_numpy())
        matched[name] = match_comparison(rows_days, candidates, ledger, as_of_day=as_of_day, data_from=data_from,
                                         window_months=settings.window_months, seed=settings.seed)
        statistics[name] = cohort_statistics(rows, matched[name], n_boot=settings.n_boot, seed=settings.seed)
        peaks[name] = peak_share(ledger, ledger.code(rows["person_id"]), rows_days["start_day"].to_numpy(),
                                 settings.window_months, data_from)
    bar.update(1)
    top = top_lists(crimes, people, people_table, as_of_day, settings)
    bar.update(2)
    bar.close()
    return CohortResult(settings=settings, harm=harm, costs=costs, members=members, crimes=crimes, people=people,
                        files=files, ledger=ledger, as_of_day=as_of_day, data_from_day=data_from,
                        table=people_table, statistics=statistics, matched=matched, peaks=peaks, top=top)


def top_lists(crimes: Validated, people: Validated, table: pd.DataFrame, as_of_day: int,
              settings: CohortSettings) -> dict[str, pd.DataFrame]:
    """Each cohort's members ranked by their V-VOL offender score (recency, frequency, gravity and victims over
    the 365 days up to the as-of day; every member with a crime in it is scored, not only repeats)."""
    config = VvolConfig(min_repeat=1)
    as_of = as_of_instant(str(np.datetime64(as_of_day, "D")))
    involved = people.accepted
    member = involved["person_id"].isin(set(table["person_id"])).to_numpy() & \
        involved["role"].isin(config.offender_roles).to_numpy()
    their_crimes = set(involved.loc[member, "crime_ref"])
    involved = involved[involved["crime_ref"].isin(their_crimes).to_numpy()]  # members' crimes, all their people
    window = select_window(crimes.accepted[crimes.accepted["crime_ref"].isin(their_crimes).to_numpy()],
                           involved, as_of, config)
    scored = offenders(window, config).drop(columns="rank")
    out = {}
    for name in sorted(table["cohort"].unique()):
        mine = scored[scored["person_id"].isin(set(table.loc[table["cohort"] == name, "person_id"]))]
        top = mine.head(settings.top_n).reset_index(drop=True)
        top.insert(0, "rank", np.arange(1, len(top) + 1))
        out[name] = top
    return out
