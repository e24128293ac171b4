"""The real police.uk street-level extract in ../shared/data/police-uk/: reading the format, quarantine, and
location clustering at real density (about 26 000 rows, three forces, August 2021)."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.vvol.helpers import SHARED_DATA
from vvol.config import VvolConfig
from vvol.harm import load_harm_table
from vvol.inputs import load_crimes
from vvol.pipeline import run

POLICE_UK = SHARED_DATA / "police-uk"
FILES = sorted(POLICE_UK.glob("policeuk_*_street.csv")) if POLICE_UK.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason=f"real police.uk extract not found at {POLICE_UK} "
                                                  "(the shared data folder beside the project)")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_row_is_accepted_or_quarantined_with_a_reason(path):
    crimes = load_crimes(path, load_harm_table())
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert crimes.rows_in == len(raw) == len(crimes.accepted) + len(crimes.quarantined)
    # every police.uk crime type is known to the harm table
    assert "unknown_offence" not in crimes.reason_counts()
    # rows without coordinates are the missing_location ones
    no_coordinates = int((raw["Longitude"] == "").sum())
    assert crimes.reason_counts().get("missing_location", 0) == no_coordinates
    # anti-social behaviour rows have no Crime ID and are kept for places under a made-up reference
    asb = int((raw["Crime type"] == "Anti-social behaviour").sum())
    made_up = crimes.accepted["crime_ref"].str.startswith("ASB-").sum()
    assert 0 < made_up <= asb
    # month-only dates: every crime starts on 1 August 2021, UK local time
    assert (crimes.accepted["t"] == pd.Timestamp("2021-07-31T23:00Z")).all()
    # in British National Grid metres, inside Great Britain
    assert crimes.accepted["x"].between(0, 700_000).all() and crimes.accepted["y"].between(0, 1_300_000).all()


def test_location_clustering_at_scale(tmp_path):
    combined = tmp_path / "three_forces.csv"
    pd.concat([pd.read_csv(f, dtype=str) for f in FILES]).to_csv(combined, index=False)
    tasking = run(combined, None, "2021-08-31", VvolConfig(hotspot_eps_m=50, hotspot_min_crimes=10))
    locations = tasking.locations
    hot = locations[locations["kind"] == "hotspot"]
    # police.uk snaps crimes to map points, so busy points are hot spots on their own; in a month of three
    # forces there are some hundreds of them, each compact (DBSCAN with eps 50 m does not chain whole towns);
    # a hot spot that is exactly one listed map point is listed once, as that point (one place, one entry)
    single_point = locations["same_as_hotspot"] != ""
    assert 100 < len(hot) + single_point.sum() < 1000 and single_point.sum() > len(hot)
    assert len(tasking.hotspots.ids) == len(hot) + single_point.sum()
    assert hot["radius_m"].max() < 500
    assert hot["crimes_12m"].min() >= 10
    # the busiest hot spots are in the big towns and cities of the three forces
    top_areas = set(hot.nlargest(20, "crimes_12m")["area"])
    assert top_areas & {"Bristol", "Norwich", "Ipswich", "Bath and North East Somerset", "Great Yarmouth"}
    # and the police.uk map points with two or more crimes are the repeat "premises"
    premises = locations[locations["kind"] == "premises"]
    assert len(premises) > 1000 and premises["location_id"].str.contains(" @ ").all()
    assert tasking.victims.empty and tasking.offenders.empty and tasking.clusters.empty


AVON_2025 = POLICE_UK / "avon-and-somerset-2025"


@pytest.mark.skipif(not AVON_2025.is_dir(), reason=f"{AVON_2025} not found")
def test_seven_months_of_one_force_from_a_folder_of_gzipped_files():
    tasking = run(AVON_2025, None, "2025-09-30", VvolConfig())
    balance = tasking.crimes_files
    assert len(balance) == 8 and balance["ok"].all() and balance["rows_in"].iloc[-1] == 114_046
    reasons = tasking.crimes.reason_counts()
    # a repeated Crime ID keeps one copy: only the other copies are set aside, each naming the kept one
    repeated = tasking.crimes.quarantined[tasking.crimes.quarantined["reason"].str.contains("repeated_crime_ref")]
    kept = set(tasking.crimes.accepted["crime_ref"])
    assert reasons["repeated_crime_ref_not_kept"] == len(repeated) > 400
    assert repeated["Crime ID"].isin(kept).all() and (repeated["kept_copy"] != "").all()
    # month-level dates: calendar-month periods; May and July 2025 are missing from the extract
    window = tasking.window
    assert window.months and window.current_text == "3 months (2025-07 to 2025-09)"
    assert window.month_counts.loc["2025-05"] == 0 and window.month_counts.loc["2025-06"] > 10_000
    # every listed place has a name a person knows, and no place is listed twice
    top = tasking.locations.head(25)
    assert top["place"].str.startswith("On or near").all()
    assert not top["location_id"].duplicated().any()
    ids = tasking.hotspots.ids
    listed_hot = set(tasking.locations.loc[tasking.locations["kind"] == "hotspot", "location_id"])
    twins = set(tasking.locations["same_as_hotspot"]) - {""}
    assert listed_hot.isdisjoint(twins) and len(listed_hot) + len(twins) == len(ids)
    # ties at the top are ordered by the facts behind the capped points
    tied = top[top["score"] == top["score"].iloc[0]]
    assert len(tied) > 1 and tied["harm_12m"].is_monotonic_decreasing
