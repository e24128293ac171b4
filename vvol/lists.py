"""The four tasking lists: victims, offenders (and suspects), locations (premises and hot spots), clusters.

Each list is one row per entity, sorted by ``score`` descending then id, with its id column first, then ``score``,
then the score components, then the facts behind them and ``reasons``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from vvol.config import VvolConfig
from vvol.hotspots import Hotspots
from vvol.inputs import flag_column
from vvol.links import Links
from vvol.repeats import Window, distinct_counterparts, entity_facts
from vvol.score import add_scores, reasons, sort_list, uk_text

FACT_COLUMNS = ["trend", "crimes_12m", "same_type_max", "same_type_offence", "harm_12m", "days_since_last",
                "last_crime", "crimes_this_period", "crimes_previous_period", "crimes_before_period"]


def _finish(frame: pd.DataFrame, id_column: str, components: list[str], middle: list[str],
            flags: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.assign(last_crime=uk_text(frame["last_t"]), harm_12m=frame["harm_12m"].round(1),
                         days_since_last=frame["days_since_last"].round(1))
    flag_text = pd.Series("", index=frame.index, dtype=object)
    for name in flags:
        flag_text = flag_text + np.where(frame[flag_column(name)], np.where(flag_text == "", "", "|") + name, "")
    frame["flags"] = flag_text
    columns = [id_column, "score", *components, "uplift_pct", *FACT_COLUMNS, *middle, "flags", "reasons"]
    return sort_list(frame[columns], id_column)


def _people_list(window: Window, config: VvolConfig, roles: tuple[str, ...], other_roles: tuple[str, ...],
                 other_name: str, other_words: str, also_word: str) -> pd.DataFrame:
    """Repeat people in ``roles``, with the distinct people in ``other_roles`` on their crimes as the fourth
    component (``<other_name>_12m``) and whether they also appear in ``other_roles`` anywhere in the window."""
    people = window.people
    mine = people["role"].isin(roles).to_numpy()
    n = len(window.person_ids)
    facts = entity_facts(people["person"].to_numpy()[mine], people["crime"].to_numpy()[mine], n, window)
    counterparts = distinct_counterparts(window, roles, other_roles).reindex(range(n), fill_value=0).to_numpy()
    also = np.zeros(n, bool)
    also[people["person"].to_numpy()[people["role"].isin(other_roles).to_numpy()]] = True
    facts["person_id"] = window.person_ids
    facts[f"also_{also_word}"] = also
    keep = facts["crimes_12m"].to_numpy() >= config.min_repeat
    facts, counterparts = facts[keep], counterparts[keep]
    scored = add_scores(facts, config, flags=window.flags, people=(other_name, counterparts))
    extra = [pd.Series(np.where(scored[f"also_{also_word}"], f"also recorded as {also_word}", ""))]
    middle = [f"{other_name}_12m", f"also_{also_word}"]
    if "suspect" in roles:
        suspect = people["role"].eq("suspect").to_numpy()
        as_suspect = entity_facts(people["person"].to_numpy()[suspect], people["crime"].to_numpy()[suspect], n,
                                  window)["crimes_12m"].to_numpy()
        scored["as_suspect_12m"] = as_suspect[keep]
        middle.insert(1, "as_suspect_12m")
    scored["reasons"] = reasons(scored, config, flags=window.flags, people=other_name,
                                people_word=f"distinct {other_words}", extra=extra)
    components = ["recency_points", "frequency_points", "gravity_points", f"{other_name}_points"]
    return _finish(scored, "person_id", components, middle, window.flags)


def victims(window: Window, config: VvolConfig) -> pd.DataFrame:
    """Repeat victims: ``min_repeat`` or more crimes as victim in the window; the fourth component counts the
    different offenders and suspects on their crimes."""
    return _people_list(window, config, ("victim",), config.offender_roles, "offenders", "offenders/suspects",
                        "offender")


def offenders(window: Window, config: VvolConfig) -> pd.DataFrame:
    """Repeat offenders and suspects (``offender_roles``); the fourth component counts their different victims."""
    return _people_list(window, config, config.offender_roles, ("victim",), "victims", "victims", "victim")


def locations(window: Window, hotspots: Hotspots, config: VvolConfig) -> pd.DataFrame:
    """Repeat premises (``min_repeat`` or more crimes) and spatial hot spots, scored on recency, frequency, harm."""
    crimes = window.crimes
    premises = crimes["premises_id"].cat.codes.to_numpy().astype(np.int64)
    parts = []
    n_premises = len(crimes["premises_id"].cat.categories)
    at = premises >= 0
    for kind, code, n, ids in (("premises", premises[at], n_premises, crimes["premises_id"].cat.categories),
                               ("hotspot", hotspots.label[hotspots.label >= 0], len(hotspots.ids), hotspots.ids)):
        crime_index = np.flatnonzero(at) if kind == "premises" else np.flatnonzero(hotspots.label >= 0)
        facts = entity_facts(code, crime_index, n, window)
        facts["location_id"] = np.asarray(ids, dtype=object) if kind == "hotspot" else \
            ("P:" + pd.Index(ids).astype(str)).to_numpy(dtype=object)
        facts["kind"] = kind
        facts["easting"], facts["northing"] = _centroid(crimes, code, crime_index, n)
        facts["radius_m"] = np.round(hotspots.radius_m, 1) if kind == "hotspot" else 0.0
        facts["area"] = _main_area(crimes, code, crime_index, n)
        facts["people_12m"] = _people_at(window, code, crime_index, n)
        if kind == "premises":
            facts = facts[facts["crimes_12m"] >= config.min_repeat]
        parts.append(facts)
    facts = pd.concat(parts, ignore_index=True)
    scored = add_scores(facts, config, flags=window.flags)
    where = pd.Series(np.where(scored["kind"] == "hotspot", "hot spot of radius " + scored["radius_m"]
                               .round().astype(np.int64).astype(str) + " m", "premises"))
    scored["reasons"] = reasons(scored, config, flags=window.flags, extra=[where])
    middle = ["kind", "easting", "northing", "radius_m", "area", "people_12m"]
    return _finish(scored, "location_id", ["recency_points", "frequency_points", "gravity_points"], middle,
                   window.flags)


def _centroid(crimes: pd.DataFrame, code: np.ndarray, crime_index: np.ndarray, n: int):
    x, y = crimes["x"].to_numpy()[crime_index], crimes["y"].to_numpy()[crime_index]
    ok = np.isfinite(x) & np.isfinite(y)
    count = np.bincount(code[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.round(np.bincount(code[ok], weights=x[ok], minlength=n) / count),
                np.round(np.bincount(code[ok], weights=y[ok], minlength=n) / count))


def _main_area(crimes: pd.DataFrame, code: np.ndarray, crime_index: np.ndarray, n: int) -> np.ndarray:
    """The most frequent ``area`` among each entity's crimes (ties: alphabetical first)."""
    area = crimes["area"].cat.codes.to_numpy()[crime_index]
    names = np.append(np.asarray(crimes["area"].cat.categories, dtype=object), "")
    frame = pd.DataFrame({"e": code, "a": np.where(area >= 0, area, len(names) - 1)})
    counts = frame.value_counts().reset_index(name="n").sort_values(["e", "n", "a"], ascending=[True, False, True])
    first = counts.drop_duplicates("e")
    out = np.full(n, "", dtype=object)
    out[first["e"].to_numpy()] = names[first["a"].to_numpy()]
    return out


def _people_at(window: Window, code: np.ndarray, crime_index: np.ndarray, n: int) -> np.ndarray:
    """Distinct people involved in each entity's crimes."""
    of_crime = pd.DataFrame({"e": code, "crime": crime_index})
    joined = of_crime.merge(window.people[["crime", "person"]], on="crime")[["e", "person"]].drop_duplicates()
    return np.bincount(joined["e"].to_numpy(), minlength=n)


def clusters(window: Window, links: Links, config: VvolConfig) -> pd.DataFrame:
    """Linked clusters scored like people: recency, frequency, harm of the cluster's crimes, and its victims."""
    n = len(links.ids)
    code, crime_index = links.cluster_crime
    facts = entity_facts(code, crime_index, n, window)
    members = links.members
    facts["cluster_id"] = links.ids
    facts["people"] = np.bincount(members["cluster"][members["kind"] == "person"], minlength=n)
    facts["premises"] = np.bincount(members["cluster"][members["kind"] == "premises"], minlength=n)
    is_victim = members["roles"].str.split("+").map(lambda roles: "victim" in roles).to_numpy(bool)
    victims_count = np.bincount(members["cluster"][is_victim], minlength=n)
    facts["easting"], facts["northing"] = _centroid(window.crimes, code, crime_index, n)
    label = members["kind"] + ":" + members["member_id"] + np.where(members["roles"] != "",
                                                                    " (" + members["roles"] + ")", "")
    facts["members"] = label.groupby(members["cluster"]).agg(_member_list).reindex(range(n), fill_value="")
    scored = add_scores(facts, config, flags=window.flags, people=("victims", victims_count))
    size = pd.Series(scored["people"].astype(str) + " people and " + scored["premises"].astype(str)
                     + " premises linked by repeated shared crimes")
    scored["reasons"] = reasons(scored, config, flags=window.flags, people="victims",
                                people_word="distinct victims", extra=[size])
    components = ["recency_points", "frequency_points", "gravity_points", "victims_points"]
    middle = ["people", "premises", "victims_12m", "easting", "northing", "members"]
    return _finish(scored, "cluster_id", components, middle, window.flags)


MAX_MEMBERS_LISTED = 40


def _member_list(labels: pd.Series) -> str:
    """Members joined with ``; `` (the first :data:`MAX_MEMBERS_LISTED`, then how many more)."""
    shown = list(labels[:MAX_MEMBERS_LISTED])
    more = len(labels) - len(shown)
    return "; ".join(shown) + (f"; ... and {more} more" if more > 0 else "")
