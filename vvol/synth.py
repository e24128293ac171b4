"""A seeded synthetic V-VOL data set with known answers: crimes and involvements in the project's input format.

Background crime is spread over eight Suffolk towns (Gaussian around each centre) and the countryside, with
victims, offenders and suspects drawn from large pools, so some people repeat by chance, as in real data. Planted
on top, with their identities returned as :class:`SynthTruth`:

- repeat victims ``RV####``: 3-6 violent crimes each in the last 300 days at home (``H-RV####``), half vulnerable;
- prolific offenders ``PO####``: 8-15 crimes each in the last 12 months, each against a different victim;
- domestic triads: victim ``DV####``, offender ``DO####``, home ``DH####``: 5-8 domestic crimes escalating in
  harm and frequency towards the as-of date (harassment -> common assault -> assault with injury);
- a pub hot spot ``PUB-0001`` in Ipswich: 36 Friday and Saturday night fights in 12 months among six regulars
  ``PG01``-``PG06``, every crime at the pub's door (within 15 m);
- a street hot spot by Ipswich station with no premises id: 20 thefts and robberies within 40 m.

Everything is vectorised with numpy, so :func:`generate` makes a million crimes in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TOWNS = (  # name, easting, northing (British National Grid, metres), share of town crime
    ("Ipswich", 616500, 244500, 0.30), ("Bury St Edmunds", 585500, 264000, 0.14),
    ("Lowestoft", 654000, 293000, 0.14), ("Felixstowe", 630000, 234500, 0.08),
    ("Sudbury", 587500, 241000, 0.08), ("Haverhill", 567000, 245500, 0.09),
    ("Newmarket", 564500, 263500, 0.08), ("Stowmarket", 604500, 258500, 0.09),
)
TOWN_SIGMA_M = 4000.0
RURAL_SHARE = 0.25
RURAL_BOX = (560000, 230000, 660000, 300000)
BACKGROUND_OFFENCES = {  # written as harm-table keys or Home Office codes, as a force export mixes them
    "common_assault": 0.14, "105A": 0.04, "assault_with_injury": 0.07, "8N": 0.03, "harassment": 0.08,
    "criminal_damage": 0.12, "burglary_residential": 0.06, "burglary_business": 0.03, "robbery_personal": 0.02,
    "theft_from_person": 0.03, "theft_of_vehicle": 0.03, "theft_from_vehicle": 0.06, "shoplifting": 0.12,
    "other_theft": 0.10, "public_order": 0.05, "stalking": 0.01, "possession_of_weapons": 0.01,
}
PUB_XY = (616420, 244380)
STATION_XY = (615700, 243650)


@dataclass(frozen=True)
class SynthTruth:
    """The planted problems the scoring must find."""

    repeat_victims: tuple[str, ...]
    prolific_offenders: tuple[str, ...]
    triads: tuple[tuple[str, str, str], ...]  # (victim, offender, premises)
    pub_premises: str
    pub_people: tuple[str, ...]
    station_xy: tuple[float, float]


@dataclass(frozen=True)
class SynthData:
    """Crimes and involvements as a force would export them (text columns), the as-of date and the truth."""

    crimes: pd.DataFrame
    people: pd.DataFrame
    as_of: str
    truth: SynthTruth


def generate(n_crimes: int = 5000, *, seed: int = 0, as_of: str = "2026-10-31", days: int = 730) -> SynthData:
    """Make ``n_crimes`` background crimes (plus the planted ones) over ``days`` days up to the end of ``as_of``.

    Involvements average two per crime (one victim; an offender in 70 %, a suspect in 20 %, a second victim in
    10 %). The same seed gives the same data.
    """
    rng = np.random.default_rng(seed)
    end = np.datetime64(as_of, "s") + np.timedelta64(1, "D")
    crimes, people = _background(rng, n_crimes, end, days)
    scale = max(1, n_crimes // 5000)
    blocks, truth = _planted(rng, end, scale)
    crimes = pd.concat([crimes] + [b[0] for b in blocks], ignore_index=True)
    people = pd.concat([people] + [b[1] for b in blocks], ignore_index=True)
    refs = _ids("CR", np.arange(1, len(crimes) + 1), 8)
    position = pd.Index(crimes.pop("local_ref")).get_indexer(people.pop("local_ref"))
    people.insert(0, "crime_ref", refs[position])
    crimes.insert(0, "crime_ref", refs)
    return SynthData(crimes=crimes, people=people.sort_values(["crime_ref", "role", "person_id"],
                                                              ignore_index=True),
                     as_of=as_of, truth=truth)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return (prefix + pd.Series(numbers).astype(str).str.zfill(width)).to_numpy(dtype=object)


def _times(rng: np.random.Generator, end: np.datetime64, days_ago: np.ndarray, hours: np.ndarray | None = None):
    """Naive UK local text for committed_from/committed_to: start hours drawn from ``hours`` (default: the whole
    day, evening-heavy), 0-3 h windows."""
    day = (end - np.timedelta64(1, "D")) - days_ago.astype("timedelta64[D]")
    hour = rng.choice(hours, size=len(days_ago)) if hours is not None else rng.choice(24, size=len(days_ago),
                                                                                      p=_HOURS)
    start = day + (hour * 3600 + rng.integers(0, 3600, len(days_ago))).astype("timedelta64[s]")
    stop = start + rng.integers(0, 3 * 3600, len(days_ago)).astype("timedelta64[s]")
    return np.datetime_as_string(start, unit="s"), np.datetime_as_string(stop, unit="s")


_HOURS = np.array([4, 3, 3, 2, 1, 1, 1, 2, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 5], float)
_HOURS /= _HOURS.sum()


def _place(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points in towns (Gaussian) or the countryside (uniform), and the nearest town's name as area."""
    names = np.array([t[0] for t in TOWNS], dtype=object)
    centres = np.array([(t[1], t[2]) for t in TOWNS], float)
    share = np.array([t[3] for t in TOWNS])
    town = rng.choice(len(TOWNS), size=n, p=share / share.sum())
    xy = centres[town] + rng.normal(0.0, TOWN_SIGMA_M, (n, 2))
    rural = rng.random(n) < RURAL_SHARE
    x0, y0, x1, y1 = RURAL_BOX
    xy[rural] = np.column_stack([rng.uniform(x0, x1, rural.sum()), rng.uniform(y0, y1, rural.sum())])
    nearest = np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    return np.round(xy[:, 0]), np.round(xy[:, 1]), names[nearest]


def _background(rng: np.random.Generator, n: int, end: np.datetime64, days: int):
    keys = list(BACKGROUND_OFFENCES)
    p = np.array(list(BACKGROUND_OFFENCES.values()))
    offence = np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]
    start, stop = _times(rng, end, rng.integers(0, days, n))
    n_premises = max(1, n // 3)
    px, py, parea = _place(rng, n_premises)
    x, y, area = _place(rng, n)
    at_premises = rng.random(n) < 0.6
    premises = rng.integers(0, n_premises, n)
    x = np.where(at_premises, px[premises], x)
    y = np.where(at_premises, py[premises], y)
    area = np.where(at_premises, parea[premises], area)
    premises_id = np.where(at_premises, _ids("PR", premises, 7), None)
    domestic = np.isin(offence, ["common_assault", "105A", "assault_with_injury", "8N", "harassment"]) \
        & (rng.random(n) < 0.3)
    crimes = pd.DataFrame({"local_ref": np.arange(n), "offence": offence, "committed_from": start,
                           "committed_to": stop, "easting": x, "northing": y, "premises_id": premises_id,
                           "area": area, "domestic": np.where(domestic, "Y", "N")})
    victims_pool, offenders_pool = 3 * n, n
    parts = [(np.arange(n), rng.integers(0, victims_pool, n), "victim")]
    for role, share in (("offender", 0.7), ("suspect", 0.2), ("victim", 0.1)):
        chosen = np.flatnonzero(rng.random(n) < share)
        pool = offenders_pool if role != "victim" else victims_pool
        parts.append((chosen, rng.integers(0, pool, len(chosen)), role))
    local = np.concatenate([c for c, _, _ in parts])
    person = np.concatenate([i for _, i, _ in parts])
    role = np.concatenate([np.full(len(c), r, dtype=object) for c, _, r in parts])
    people = pd.DataFrame({"local_ref": local, "person_id": _ids("P", person, 7), "role": role,
                           "vulnerable": np.where(rng.random(len(local)) < 0.05, "Y", "")})
    people = people.drop_duplicates(["local_ref", "person_id", "role"])
    return crimes, people


def _block(rng, end, offset, days_ago, offences, xy, premises, area, domestic, involvements, hours=None):
    """A planted block of crimes (local refs from ``offset``) and its involvements ``[(i, person, role, vuln)]``."""
    n = len(days_ago)
    start, stop = _times(rng, end, np.asarray(days_ago), hours)
    crimes = pd.DataFrame({"local_ref": offset + np.arange(n), "offence": offences, "committed_from": start,
                           "committed_to": stop, "easting": np.round(xy[:, 0]), "northing": np.round(xy[:, 1]),
                           "premises_id": premises, "area": area, "domestic": np.where(domestic, "Y", "N")})
    people = pd.DataFrame(involvements, columns=["i", "person_id", "role", "vulnerable"])
    people["local_ref"] = offset + people.pop("i")
    return crimes, people


def _planted(rng: np.random.Generator, end: np.datetime64, scale: int):
    """The planted problems, ``scale`` of each kind of person-level problem (one pub and one station)."""
    blocks, offset = [], 10**9  # local refs past any background ref; renumbered in generate()
    violence = np.array(["common_assault", "assault_with_injury", "harassment", "criminal_damage"], dtype=object)
    rv, po, triads = [], [], []
    for k in range(scale):
        victim, home = f"RV{k:04d}", f"H-RV{k:04d}"
        n = int(rng.integers(3, 7))
        hx, hy, harea = _place(rng, 1)
        xy = np.tile([hx[0], hy[0]], (n, 1))
        inv = [(i, victim, "victim", "Y" if k % 2 == 0 else "") for i in range(n)]
        inv += [(i, f"RVO{k:04d}{i}", "offender", "") for i in range(n)]
        blocks.append(_block(rng, end, offset, np.sort(rng.integers(0, 300, n)), rng.choice(violence, n), xy,
                             home, harea[0], np.zeros(n, bool), inv))
        offset += n
        rv.append(victim)

        offender = f"PO{k:04d}"
        n = int(rng.integers(8, 16))
        x, y, area = _place(rng, n)
        inv = [(i, offender, "offender", "") for i in range(n)] + \
              [(i, f"POV{k:04d}{i:02d}", "victim", "") for i in range(n)]
        offences = rng.choice(np.array(["robbery_personal", "theft_from_person", "burglary_residential",
                                        "assault_with_injury"], dtype=object), n)
        blocks.append(_block(rng, end, offset, np.sort(rng.integers(0, 365, n)), offences,
                             np.column_stack([x, y]), None, area, np.zeros(n, bool), inv))
        offset += n
        po.append(offender)

        dv, do, dh = f"DV{k:04d}", f"DO{k:04d}", f"DH{k:04d}"
        n = int(rng.integers(5, 9))
        hx, hy, harea = _place(rng, 1)
        days_ago = np.sort(np.round(200 * (np.linspace(1, 0, n) ** 2)).astype(int) + rng.integers(0, 5, n))
        offences = np.array(["harassment"] * (n // 3) + ["common_assault"] * (n // 3)
                            + ["assault_with_injury"] * (n - 2 * (n // 3)), dtype=object)[::-1]
        inv = [(i, dv, "victim", "Y") for i in range(n)] + [(i, do, "offender", "") for i in range(n)]
        blocks.append(_block(rng, end, offset, days_ago, offences, np.tile([hx[0], hy[0]], (n, 1)), dh,
                             harea[0], np.ones(n, bool), inv))
        offset += n
        triads.append((dv, do, dh))

    regulars = [f"PG{k:02d}" for k in range(1, 7)]
    n = 36
    candidates = np.arange(0, 364)
    weekday = ((end - np.timedelta64(1, "D")).astype("datetime64[D]").astype(int) - candidates + 3) % 7
    days_ago = np.sort(rng.choice(candidates[(weekday >= 4) & (weekday <= 5)], n, replace=False))
    xy = np.array(PUB_XY, float) + rng.uniform(-10, 10, (n, 2))
    pairs = [rng.choice(6, 2, replace=False) for _ in range(n)]
    inv = [(i, regulars[a], "victim", "") for i, (a, _) in enumerate(pairs)] + \
          [(i, regulars[b], "offender", "") for i, (_, b) in enumerate(pairs)]
    offences = rng.choice(np.array(["assault_with_injury", "common_assault", "public_order"], dtype=object), n)
    blocks.append(_block(rng, end, offset, days_ago, offences, xy, "PUB-0001", "Ipswich", np.zeros(n, bool),
                         inv, hours=np.array([21, 22, 23])))
    offset += n

    n = 20
    xy = np.array(STATION_XY, float) + rng.uniform(-25, 25, (n, 2))
    inv = [(i, f"SV{i:02d}", "victim", "") for i in range(n)]
    offences = rng.choice(np.array(["theft_from_person", "robbery_personal"], dtype=object), n)
    blocks.append(_block(rng, end, offset, np.sort(rng.integers(0, 330, n)), offences, xy, None, "Ipswich",
                         np.zeros(n, bool), inv))
    truth = SynthTruth(repeat_victims=tuple(rv), prolific_offenders=tuple(po), triads=tuple(triads),
                       pub_premises="PUB-0001", pub_people=tuple(regulars), station_xy=STATION_XY)
    return blocks, truth


def write(data: SynthData, directory: Path | str, *, fmt: str = "csv") -> tuple[Path, Path]:
    """Write ``crimes.<fmt>`` and ``people.<fmt>`` (``csv`` or ``parquet``) into ``directory``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    crimes_path, people_path = directory / f"crimes.{fmt}", directory / f"people.{fmt}"
    if fmt == "csv":
        data.crimes.to_csv(crimes_path, index=False, lineterminator="\n")
        data.people.to_csv(people_path, index=False, lineterminator="\n")
    elif fmt == "parquet":
        data.crimes.to_parquet(crimes_path, index=False)
        data.people.to_parquet(people_path, index=False)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return crimes_path, people_path
