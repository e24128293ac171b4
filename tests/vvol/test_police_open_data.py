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
    # forces there are some hundreds of them, each compact (DBSCAN with eps 50 m does not chain whole towns)
    assert 100 < len(hot) < 1000
    assert hot["radius_m"].max() < 500
    assert hot["crimes_12m"].min() >= 10
    # the busiest hot spots are in the big towns and cities of the three forces
    top_areas = set(hot.nlargest(20, "crimes_12m")["area"])
    assert top_areas & {"Bristol", "Norwich", "Ipswich", "Bath and North East Somerset", "Great Yarmouth"}
    # and the police.uk map points with two or more crimes are the repeat "premises"
    premises = locations[locations["kind"] == "premises"]
    assert len(premises) > 1000 and premises["location_id"].str.contains(" @ ").all()
    assert tasking.victims.empty and tasking.offenders.empty and tasking.clusters.empty
