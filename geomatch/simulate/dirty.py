"""Deliberately bad rows for the sample data, so the quarantine has something to catch.

The bad rows are new rows or copies of crimes by untagged people (never a crime in the truth) and three fixes
of the first subject at night. Each is listed in ``truth/dirty.csv`` with the loader's reason code and its
``source_row`` (1-based data row of the file as written, header not counted, as in the quarantine files).
One row, listed as ``accepted_unsafe_text``, is valid but carries spreadsheet-formula and HTML text: it must be
accepted, and neutralised or escaped in every output.
"""
from __future__ import annotations

import pandas as pd

from geomatch.core.errors import InputError
from geomatch.simulate.model import World

UNSAFE_TEXT = '=HYPERLINK("http://example.invalid/x","details") <script>alert(1)</script>'


def plant_dirty(world: World, trails_file: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Copies of the world's trails, crimes and MoJ crimes with bad rows added, and the list of them
    (file, reason, key, source_row)."""
    if len(world.trails) < 500 or len(world.crimes) < 20:
        raise InputError("dirty rows need a world of at least 500 fixes and 20 crimes")
    crimes, moj, refs = _dirty_crimes(world)
    trails, fixes = _dirty_trails(world.trails, trails_file)
    listed = []
    for file, frame in (("crimes.csv", crimes), ("crimes_moj.csv", moj)):
        for reason, ref, pick in refs[file]:
            hits = frame.index[frame["crime_ref"] == ref].tolist()
            for row in hits if pick == "all" else hits[-1:]:
                listed.append((file, reason, ref, row + 1))
    return trails, crimes, moj, pd.DataFrame(listed + fixes, columns=["file", "reason", "key", "source_row"])


def _dirty_crimes(world: World):
    windows = world.truth.windows
    planted = set(world.truth.scenarios["crime_ref"]) | set(windows.loc[windows["dst_ambiguous"], "crime_ref"])
    crimes, moj = world.crimes, world.crimes_moj
    spare = crimes[~crimes["crime_ref"].isin(planted) & crimes["crime_ref"].isin(moj["crime_ref"])]
    base = spare.iloc[:5].reset_index(drop=True)
    prefix, last = crimes["crime_ref"].iloc[-1].rsplit("/", 1)
    new_ref = iter(f"{prefix}/{int(last) + i:0{len(last)}d}" for i in range(1, 10))

    zero, reversed_, unknown, conflict, unsafe = (base.iloc[[i]].copy() for i in range(5))
    zero[["crime_ref", "easting", "northing"]] = [next(new_ref), 0.0, 0.0]
    reversed_[["crime_ref", "committed_from", "committed_to"]] = [next(new_ref), reversed_["committed_to"].iloc[0],
                                                                   reversed_["committed_from"].iloc[0]]
    unknown[["crime_ref", "offence"]] = [next(new_ref), "fly_tipping"]
    conflict[["committed_to", "free_text"]] = [_later(conflict["committed_to"].iloc[0]), "Amended: time corrected."]
    unsafe[["crime_ref", "free_text"]] = [next(new_ref), UNSAFE_TEXT]
    crimes_rows = [("zero_zero", zero), ("reversed_window", reversed_), ("unknown_offence", unknown),
                   ("duplicate_crime_ref_conflict", conflict), ("accepted_unsafe_text", unsafe)]
    dirty_crimes = pd.concat([crimes, *(f for _, f in crimes_rows)]).sort_values("crime_ref", kind="stable")

    m = moj[moj["crime_ref"].isin(base["crime_ref"])].iloc[:3].copy().reset_index(drop=True)
    both, code, backwards = (m.iloc[[i]].copy() for i in range(3))
    both["crime_ref"] = next(new_ref)
    src = crimes.set_index("crime_ref").loc[m["crime_ref"].iloc[0]]
    both[["easting", "northing", "latitude", "longitude"]] = [src["easting"], src["northing"], 52.05, 1.15]
    code[["crime_ref", "crime_type_code", "crime_type_description"]] = [next(new_ref), "XX", "Unknown"]
    backwards[["crime_ref", "date_time_from", "date_time_to"]] = [next(new_ref), backwards["date_time_to"].iloc[0],
                                                                   backwards["date_time_from"].iloc[0]]
    moj_rows = [("both_location_kinds", both), ("unknown_offence", code), ("reversed_window", backwards)]
    dirty_moj = pd.concat([moj, *(f for _, f in moj_rows)]).sort_values("crime_ref", kind="stable")

    refs = {"crimes.csv": [(r, f["crime_ref"].iloc[0], "all" if r.startswith("duplicate") else "last")
                           for r, f in crimes_rows],
            "crimes_moj.csv": [(r, f["crime_ref"].iloc[0], "last") for r, f in moj_rows]}
    return dirty_crimes.reset_index(drop=True), dirty_moj.reset_index(drop=True), refs


def _later(local_text: str) -> str:
    return (pd.Timestamp(local_text) + pd.Timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")


def _dirty_trails(trails: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[tuple[str, str, str, int]]]:
    """Blank one fix's timestamp, repeat one fix exactly, swap one fix's lat and lon (first subject, night)."""
    blank, repeat, swap = 100, 250, 400
    keys = {i: f"{trails['subject_id'].iloc[i]} {trails['timestamp'].iloc[i]:%Y-%m-%dT%H:%M:%SZ}"
            for i in (blank, repeat, swap)}
    out = pd.concat([trails.iloc[:repeat + 1], trails.iloc[repeat:]], ignore_index=True)
    out.loc[blank, "timestamp"] = pd.NaT
    lat, lon = float(out.at[swap + 1, "lat"]), float(out.at[swap + 1, "lon"])
    out.at[swap + 1, "lat"], out.at[swap + 1, "lon"] = lon, lat
    return out, [(file, "unparseable_time", keys[blank], blank + 1),
                 (file, "duplicate_fix", keys[repeat], repeat + 2), (file, "lat_lon_swapped", keys[swap], swap + 2)]
