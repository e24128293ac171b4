"""A seeded synthetic IOM population for testing and benchmarking ``vvol cohort``, with known truth.

Offenders commit crimes month by month, Poisson with a personal rate that drifts (a log-normal AR(1) shock each
month), so everyone has good and bad spells. Each month from the second year on, the offenders with the most
crimes in the 12 months before (the top :data:`ELIGIBLE_SHARE`, not yet chosen; drawn at random among them) join
the cohort on a day of that month: selected at a peak,
exactly as real IOM cohorts are. Their offending after joining is thinned by ``effect`` (0: management changes
nothing, so any fall is regression to the mean; 0.5: half their crimes after joining do not happen). The other
offenders are the pool a comparison group is matched from.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OFFENCES = np.array(["theft_from_vehicle", "shoplifting", "burglary_residential", "assault_with_injury",
                     "common_assault", "criminal_damage", "robbery_personal", "theft_of_vehicle"])
ELIGIBLE_SHARE = 0.2
"""Each month, members are drawn at random from the not-yet-chosen offenders in this top share of offending in
the 12 months before."""
OFFENCE_P = np.array([0.2, 0.25, 0.12, 0.08, 0.12, 0.13, 0.04, 0.06])


@dataclass(frozen=True)
class CohortData:
    """Generated tables (project formats) and the truth behind them."""

    crimes: pd.DataFrame
    people: pd.DataFrame
    cohort: pd.DataFrame
    as_of: str
    effect: float


def generate(n_offenders: int = 4000, n_members: int = 300, *, effect: float = 0.0, months: int = 48,
             first_month: str = "2022-01", seed: int = 0, managed_months: int = 6) -> CohortData:
    """Generate ``n_offenders`` offenders over ``months`` months from ``first_month``; ``n_members`` join the
    cohort "IOM" between month 13 and month ``months - 12 - managed_months`` (so most have a full after window),
    each managed for ``managed_months`` months (every fifth is still managed at the end)."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(0.7, 0.5, n_offenders)  # crimes per month, skewed as offending is
    shock = np.zeros((n_offenders, months))
    for m in range(1, months):
        shock[:, m] = 0.75 * shock[:, m - 1] + rng.normal(0, 0.45, n_offenders)
    counts = rng.poisson(base[:, None] * np.exp(shock))
    month0 = np.datetime64(first_month, "M")
    join_months = np.arange(12, months - 12 - managed_months)
    per_month = np.diff(np.linspace(0, n_members, len(join_months) + 1).round().astype(int))
    chosen = np.zeros(n_offenders, bool)
    start_month = np.full(n_offenders, -1)
    for m, k in zip(join_months, per_month):
        prior = counts[:, m - 12:m].sum(axis=1).astype(float)
        eligible = np.flatnonzero(~chosen & (prior >= np.quantile(prior[~chosen], 1 - ELIGIBLE_SHARE)))
        pick = rng.choice(eligible, min(k, len(eligible)), replace=False)
        chosen[pick] = True
        start_month[pick] = m
    members = np.flatnonzero(chosen)
    start_offset = rng.integers(0, 28, len(members))
    start_day = (month0 + start_month[members]).astype("datetime64[D]") + start_offset.astype("timedelta64[D]")
    end_day = (month0 + start_month[members] + managed_months).astype("datetime64[D]") \
        + start_offset.astype("timedelta64[D]") - np.timedelta64(1, "D")
    still = np.arange(len(members)) % 5 == 4
    # crimes, one row per crime, on a random day and hour of their month
    person = np.repeat(np.arange(n_offenders), counts.sum(axis=1))
    month = np.concatenate([np.repeat(np.arange(months), row) for row in counts])
    month_days = ((month0 + month + 1).astype("datetime64[D]") - (month0 + month).astype("datetime64[D]")) \
        .astype(np.int64)
    day = (month0 + month).astype("datetime64[D]") + (rng.uniform(0, 1, len(month)) * month_days) \
        .astype(np.int64).astype("timedelta64[D]")
    when = day.astype("datetime64[s]") + rng.integers(0, 86_400, len(day)).astype("timedelta64[s]")
    if effect > 0:
        member_start = np.full(n_offenders, np.datetime64("NaT"), "datetime64[s]")
        member_start[members] = start_day.astype("datetime64[s]")
        treated = ~np.isnat(member_start[person]) & (when >= member_start[person])
        keep = ~(treated & (rng.uniform(0, 1, len(when)) < effect))
        person, when = person[keep], when[keep]
    n = len(person)
    refs = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7))
    offence = rng.choice(OFFENCES, n, p=OFFENCE_P / OFFENCE_P.sum())
    crimes = pd.DataFrame({"crime_ref": refs, "offence": offence,
                           "committed_from": pd.Series(when).dt.strftime("%Y-%m-%d %H:%M:%S"),
                           "easting": rng.uniform(600_000, 630_000, n).round(),
                           "northing": rng.uniform(230_000, 260_000, n).round(), "area": "Ipswich"})
    person_ids = np.char.add("O", np.char.zfill(np.arange(n_offenders).astype(str), 6))
    people = pd.DataFrame({"crime_ref": refs, "person_id": person_ids[person], "role": "offender"})
    victims = pd.DataFrame({"crime_ref": refs, "person_id": np.char.add("V", np.char.zfill(
        rng.integers(0, 3 * n_offenders, n).astype(str), 6)), "role": "victim"})
    people = pd.concat([people, victims], ignore_index=True)
    as_of = str((month0 + months).astype("datetime64[D]") - np.timedelta64(1, "D"))
    cohort = pd.DataFrame({"person_id": person_ids[members], "cohort": "IOM",
                           "start": start_day.astype(str), "end": np.where(still, "", end_day.astype(str))})
    return CohortData(crimes=crimes, people=people, cohort=cohort, as_of=as_of, effect=effect)


def write(data: CohortData, out: Path | str, fmt: str = "csv") -> tuple[Path, Path, Path]:
    """Write ``crimes``, ``people`` (``.csv`` or ``.parquet``) and ``cohort.csv`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / f"crimes.{fmt}", out / f"people.{fmt}", out / "cohort.csv"
    for frame, path in zip((data.crimes, data.people), paths):
        frame.to_parquet(path, index=False) if fmt == "parquet" else frame.to_csv(path, index=False)
    data.cohort.to_csv(paths[2], index=False)
    return paths
