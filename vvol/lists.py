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
from geomatch.core.times import UK_TZ
from vvol.score import add_scores, reasons, sort_list, uk_text

FACT_COLUMNS = ["trend", "crimes_12m", "same_type_max", "same_type_offence", "harm_12m", "days_since_last",
                "last_crime", "crimes_this_period", "crimes_previous_period", "crimes_before_period"]


def _finish(frame: pd.DataFrame, id_column: str, components: list[str], middle: list[str],
            window: Window) -> pd.DataFrame:
    """Readable columns (``last_crime`` as UK local time, or as ``YYYY-MM`` on month-level data), flags as text,
    the columns in list order, sorted and ranked."""
    flags = window.flags
    last = (frame["last_t"].dt.tz_convert(UK_TZ).dt.strftime("%Y-%m").fillna("") if window.months
            else uk_text(frame["last_t"]))
    frame = frame.assign(last_crime=last, harm_12m=frame["harm_12m"].round(1),
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
                                people_word=f"distinct {other_words}", extra=extra, window_text=window.window_text, months=window.months)
    components = ["recency_points", "frequency_points", "gravity_points", f"{other_name}_points"]
    return _finish(scored, "person_id", components, middle, window)


def victims(window: Window, config: VvolConfig) -> pd.DataFrame:
    """Repeat victims: ``min_repeat`` or more crimes as victim in the window; the fourth component counts the
    different offenders and suspects on their crimes."""
    return _people_list(window, config, ("victim",), config.offender_roles, "offenders", "offenders/suspects",
                        "offender")


def offenders(window: Window, config: VvolConfig) -> pd.DataFrame:
    """Repeat offenders and suspects (``offender_roles``); the fourth component counts their different victims."""
    return _people_list(window, config, config.offender_roles, ("victim",), "victims", "victims", "victim")


def locations(window: Window, hotspots: Hotspots, config: VvolConfig) -> pd.DataFrame:
    """Repeat premises (``min_repeat`` or more crimes) and spatial hot spots, scored on recency, frequency, harm.

    One place, one entry: a hot spot whose crimes are exactly the window crimes of one listed premises (police.uk
    snaps crimes to map points, so most hot spots are one point) is not listed again; the premises row names it in
    ``same_as_hotspot``. ``place`` is the name a person knows: the most common ``place`` text of the entry's
    crimes (police.uk's "On or near ..."), else its premises id, with "and N other places" for a hot spot over
    several.
    """
    crimes = window.crimes
    premises = crimes["premises_id"].cat.codes.to_numpy().astype(np.int64)
    parts = []
    n_premises = len(crimes["premises_id"].cat.categories)
    at = premises >= 0
    premises_counts = np.bincount(premises[at], minlength=n_premises)
    same_as = _hotspot_is_premises(premises, hotspots, premises_counts)
    for kind, code, n, ids in (("premises", premises[at], n_premises, crimes["premises_id"].cat.categories),
                               ("hotspot", hotspots.label[hotspots.label >= 0], len(hotspots.ids), hotspots.ids)):
        crime_index = np.flatnonzero(at) if kind == "premises" else np.flatnonzero(hotspots.label >= 0)
        facts = entity_facts(code, crime_index, n, window)
        facts["location_id"] = np.asarray(ids, dtype=object) if kind == "hotspot" else \
            ("P:" + pd.Index(ids).astype(str)).to_numpy(dtype=object)
        facts["kind"] = kind
        facts["area"] = _most_common(crimes, "area", code, crime_index, n)[0]
        facts["place"] = _place(crimes, code, crime_index, n, kind, facts["location_id"].to_numpy(), facts["area"])
        facts["easting"], facts["northing"] = _centroid(crimes, code, crime_index, n)
        facts["radius_m"] = np.round(hotspots.radius_m, 1) if kind == "hotspot" else 0.0
        facts["people_12m"] = _people_at(window, code, crime_index, n)
        if kind == "premises":
            twin = np.full(n, "", dtype=object)
            twin[same_as[same_as >= 0]] = hotspots.ids[np.flatnonzero(same_as >= 0)]
            facts["same_as_hotspot"] = twin
            facts = facts[facts["crimes_12m"] >= config.min_repeat]
        else:
            facts["same_as_hotspot"] = ""
            facts = facts[same_as < 0]
        parts.append(facts)
    facts = pd.concat(parts, ignore_index=True)
    scored = add_scores(facts, config, flags=window.flags)
    where = pd.Series(np.where(scored["kind"] == "hotspot", "hot spot of radius " + scored["radius_m"]
                               .round().astype(np.int64).astype(str) + " m",
                               np.where(scored["same_as_hotspot"] != "", "premises (also a hot spot on its own: "
                                        + scored["same_as_hotspot"] + ")", "premises")))
    scored["reasons"] = reasons(scored, config, flags=window.flags, extra=[where], window_text=window.window_text, months=window.months)
    middle = ["kind", "place", "easting", "northing", "radius_m", "area", "people_12m", "same_as_hotspot"]
    return _finish(scored, "location_id", ["recency_points", "frequency_points", "gravity_points"], middle,
                   window)


def _hotspot_is_premises(premises: np.ndarray, hotspots: Hotspots, premises_counts: np.ndarray) -> np.ndarray:
    """For each hot spot: the premises code whose window crimes are exactly its crimes, or -1."""
    n = len(hotspots.ids)
    member = hotspots.label >= 0
    label, code = hotspots.label[member], premises[member]
    low = np.full(n, np.iinfo(np.int64).max)
    high = np.full(n, -1)
    np.minimum.at(low, label, code)
    np.maximum.at(high, label, code)
    size = np.bincount(label, minlength=n)
    single = (low == high) & (high >= 0)
    same = np.full(n, -1, dtype=np.int64)
    same[single] = np.where(premises_counts[high[single]] == size[single], high[single], -1)
    return same


def _place(crimes: pd.DataFrame, code: np.ndarray, crime_index: np.ndarray, n: int, kind: str,
           ids: np.ndarray, area: pd.Series) -> np.ndarray:
    """The name of each entry: its commonest ``place`` text (else premises id, else area), plus "and N other
    places" for a hot spot whose crimes carry several. ``ids`` are the entries' location ids, ``area`` their
    areas."""
    name, distinct = _most_common(crimes, "place", code, crime_index, n)
    if kind == "premises":
        return np.where(name != "", name, pd.Series(ids, dtype=object).str.removeprefix("P:").to_numpy(object))
    premises, _ = _most_common(crimes, "premises_id", code, crime_index, n)
    out = np.where(name != "", name, np.where(premises != "", premises, np.asarray(area, dtype=object)))
    others = distinct - 1
    suffix = np.where(others > 1, " and " + others.astype(str) + " other places",
                      np.where(others == 1, " and 1 other place", ""))
    return (pd.Series(out, dtype=object) + suffix).to_numpy(dtype=object)


def _centroid(crimes: pd.DataFrame, code: np.ndarray, crime_index: np.ndarray, n: int):
    x, y = crimes["x"].to_numpy()[crime_index], crimes["y"].to_numpy()[crime_index]
    ok = np.isfinite(x) & np.isfinite(y)
    count = np.bincount(code[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.round(np.bincount(code[ok], weights=x[ok], minlength=n) / count),
                np.round(np.bincount(code[ok], weights=y[ok], minlength=n) / count))


def _most_common(crimes: pd.DataFrame, column: str, code: np.ndarray, crime_index: np.ndarray,
                 n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per entity: the most frequent non-missing value of categorical ``column`` among its crimes (ties:
    alphabetical first; "" when none) and how many distinct values its crimes carry."""
    out = np.full(n, "", dtype=object)
    if column not in crimes:
        return out, np.zeros(n, np.int64)
    values = crimes[column].cat.codes.to_numpy()[crime_index]
    names = np.asarray(crimes[column].cat.categories, dtype=object)
    present = values >= 0
    frame = pd.DataFrame({"e": code[present], "a": values[present]})
    counts = frame.value_counts().reset_index(name="n").sort_values(["e", "n", "a"], ascending=[True, False, True])
    first = counts.drop_duplicates("e")
    out[first["e"].to_numpy()] = names[first["a"].to_numpy()]
    return out, np.bincount(counts["e"].to_numpy(), minlength=n)


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
                                people_word="distinct victims", extra=[size],
                                window_text=window.window_text, months=window.months)
    components = ["recency_points", "frequency_points", "gravity_points", "victims_points"]
    middle = ["people", "premises", "victims_12m", "easting", "northing", "members"]
    return _finish(scored, "cluster_id", components, middle, window)


MAX_MEMBERS_LISTED = 40


def _member_list(labels: pd.Series) -> str:
    """Members joined with ``; `` (the first :data:`MAX_MEMBERS_LISTED`, then how many more)."""
    shown = list(labels[:MAX_MEMBERS_LISTED])
    more = len(labels) - len(shown)
    return "; ".join(shown) + (f"; ... and {more} more" if more > 0 else "")
