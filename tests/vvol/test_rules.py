"""Each V-VOL rule on hand-made data with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.vvol.helpers import crime, inv
from vvol.config import VvolConfig
from vvol.repeats import as_of_day, as_of_instant
from vvol.score import band_points, recency_points, trend_class


def test_as_of_is_the_end_of_the_uk_day_in_winter_and_summer():
    assert as_of_instant("2026-01-10") == pd.Timestamp("2026-01-11T00:00:00Z")
    assert as_of_instant("2026-07-10") == pd.Timestamp("2026-07-10T23:00:00Z")  # BST: midnight is 23:00 UTC
    assert as_of_day(as_of_instant("2026-07-10")) == "2026-07-10"


def test_rolling_window_across_the_year_end(score):
    # as of 10 Jan 2026 the 365-day window is 11 Jan 2025 00:00 .. 10 Jan 2026 24:00 (UK local)
    crimes = [crime("A1", "2025-01-11 00:00:00"), crime("A2", "2026-01-05 10:00:00"),   # A: first day of window
              crime("B1", "2025-01-10 23:59:00"), crime("B2", "2026-01-05 11:00:00"),   # B: a minute too early
              crime("C1", "2025-12-31 23:30:00"), crime("C2", "2026-01-01 00:30:00"),   # C: across New Year
              crime("D1", "2026-01-09 12:00:00"), crime("D2", "2026-01-11 00:00:00")]   # D: next day not counted
    people = [inv(c["crime_ref"], c["crime_ref"][0]) for c in crimes]
    tasking = score(crimes, people, "2026-01-10")
    victims = tasking.victims.set_index("person_id")
    assert sorted(victims.index) == ["A", "C"]
    assert victims.loc["C", "crimes_12m"] == 2
    assert victims.loc["A", "days_since_last"] == pytest.approx(5 + 14 / 24, abs=0.05)  # shown to 0.1 day


def test_min_repeat_and_same_type_view_with_a_tie(score):
    crimes = [crime("X1", "2026-03-01 10:00:00", "harassment"), crime("X2", "2026-03-02 10:00:00", "harassment"),
              crime("X3", "2026-03-03 10:00:00", "common_assault"), crime("X4", "2026-03-04 10:00:00", "105A"),
              crime("Y1", "2026-03-01 10:00:00", "harassment"), crime("Y2", "2026-03-05 10:00:00", "8N")]
    people = [inv(f"X{i}", "X") for i in range(1, 5)] + [inv("Y1", "Y"), inv("Y2", "Y")]
    victims = score(crimes, people, "2026-03-31").victims.set_index("person_id")
    # X: harassment x2 and common_assault x2 (105A is the Home Office code of common assault): tie -> alphabetical
    assert victims.loc["X", "same_type_max"] == 2
    assert victims.loc["X", "same_type_offence"] == "common_assault"
    assert "same offence 2x: common_assault" in victims.loc["X", "reasons"]
    # Y: an any-type repeat but not a same-type repeat (8N is assault with injury)
    assert victims.loc["Y", "same_type_max"] == 1
    assert victims.loc["Y", "harm_12m"] == 30 + 150


def test_ties_sort_by_id_and_every_list_is_sorted_by_score(score):
    crimes = [crime(f"{p}{i}", f"2026-03-0{i} 10:00:00") for p in "QPR" for i in (1, 2)]
    people = [inv(c["crime_ref"], "person-" + c["crime_ref"][0]) for c in crimes]
    victims = score(crimes, people, "2026-03-31").victims
    assert list(victims["person_id"]) == ["person-P", "person-Q", "person-R"]
    assert victims["score"].nunique() == 1


def test_person_both_victim_and_offender(score):
    crimes = [crime(f"C{i}", f"2026-02-0{i} 21:00:00", "assault_with_injury") for i in range(1, 6)]
    people = [inv("C1", "Z"), inv("C1", "O1", "offender"), inv("C2", "Z"), inv("C2", "O2", "offender"),
              inv("C3", "Z", "offender"), inv("C3", "V3"), inv("C4", "Z", "suspect"), inv("C4", "V4"),
              # a mutual fight: Z is victim and offender on the same crime, and never their own counterpart
              inv("C5", "Z"), inv("C5", "Z", "offender")]
    tasking = score(crimes, people, "2026-02-28")
    victims = tasking.victims.set_index("person_id")
    offenders = tasking.offenders.set_index("person_id")
    assert victims.loc["Z", "crimes_12m"] == 3 and bool(victims.loc["Z", "also_offender"])
    assert victims.loc["Z", "offenders_12m"] == 2          # O1, O2 (not Z on C5)
    assert offenders.loc["Z", "crimes_12m"] == 3           # C3, C4 (suspect), C5
    assert offenders.loc["Z", "as_suspect_12m"] == 1
    assert offenders.loc["Z", "victims_12m"] == 2          # V3, V4 (not Z on C5)
    assert bool(offenders.loc["Z", "also_victim"])
    assert "also recorded as offender" in victims.loc["Z", "reasons"]


def test_trend_classes_end_to_end(score):
    # period 30 days as of 30 Apr 2026: this period is 1-30 Apr, the previous 2-31 Mar
    dates = {"N": ["2026-04-10", "2026-04-20"],                              # new
             "I": ["2026-03-15", "2026-04-05", "2026-04-10", "2026-04-15"],  # 1 -> 3: intensifying
             "P": ["2026-03-10", "2026-03-20", "2026-04-10", "2026-04-20"],  # 2 -> 2: persistent
             "D": ["2026-03-05", "2026-03-10", "2026-03-15", "2026-04-20"],  # 3 -> 1: diminishing
             "Q": ["2025-12-01", "2026-01-10"]}                              # none in either: diminishing
    crimes, people = [], []
    for person, days in dates.items():
        for i, day in enumerate(days):
            crimes.append(crime(f"{person}{i}", f"{day} 12:00:00"))
            people.append(inv(f"{person}{i}", person))
    victims = score(crimes, people, "2026-04-30", period_days=30, window_days=365).victims.set_index("person_id")
    assert victims["trend"].to_dict() == {"N": "new", "I": "intensifying", "P": "persistent", "D": "diminishing",
                                          "Q": "diminishing"}
    assert victims.loc["I", ["crimes_this_period", "crimes_previous_period"]].tolist() == [3, 1]


@pytest.mark.parametrize("current, previous, before, expected", [
    (2, 0, 0, "new"), (2, 0, 3, "intensifying"), (3, 2, 0, "intensifying"), (2, 2, 0, "persistent"),
    (3, 3, 5, "persistent"), (2, 3, 0, "persistent"), (1, 2, 0, "diminishing"), (0, 0, 4, "diminishing"),
    (0, 2, 0, "diminishing"),
])
def test_trend_class_rules(current, previous, before, expected):
    got = trend_class(np.array([current]), np.array([previous]), np.array([before]), VvolConfig())
    assert got.tolist() == [expected]


def test_band_points_and_recency():
    bands = ((2, 5), (3, 10), (5, 15))
    assert band_points(np.array([0, 1, 2, 3, 4, 5, 99]), bands).tolist() == [0, 0, 5, 10, 10, 15, 15]
    config = VvolConfig(recency_half_life_days=90, recency_points=25)
    assert recency_points(np.array([0, 90, 180]), config).tolist() == pytest.approx([25, 12.5, 6.25])


def test_score_arithmetic_and_vulnerability_uplift(score):
    crimes = [crime("V1", "2026-05-30 12:00:00", "assault_with_injury"),
              crime("V2", "2026-05-30 13:00:00", "assault_with_injury", domestic="Y"),
              crime("W1", "2026-05-30 12:00:00", "assault_with_injury"),
              crime("W2", "2026-05-30 13:00:00", "assault_with_injury")]
    people = [inv("V1", "V", vulnerable="yes"), inv("V2", "V"), inv("V1", "A", "offender"),
              inv("W1", "W"), inv("W2", "W"), inv("W1", "A", "offender")]
    victims = score(crimes, people, "2026-05-31").victims.set_index("person_id")
    w, v = victims.loc["W"], victims.loc["V"]
    # both: 2 crimes (5 pts), harm 300 (15 pts), 1 offender (5 pts), recency 25 x 0.5^(days/90)
    assert w["frequency_points"] == 5 and w["gravity_points"] == 15 and w["offenders_points"] == 5
    base = w["recency_points"] + 25
    assert w["score"] == pytest.approx(round(base, 1), abs=0.06)
    # V: vulnerable (+25 %) and domestic (+10 %) on its crimes
    assert v["uplift_pct"] == 35.0
    assert v["score"] == pytest.approx(round(base * 1.35, 1), abs=0.1)
    assert v["flags"] == "domestic|vulnerable"
    assert "vulnerable +25%" in v["reasons"] and "domestic +10%" in v["reasons"]


def test_offender_victim_count_and_area_filter(score):
    crimes = [crime(f"K{i}", f"2026-06-0{i} 22:00:00", "robbery_personal", area="Ipswich" if i < 4 else "Sudbury")
              for i in range(1, 6)]
    people = [inv(f"K{i}", "OFF", "offender") for i in range(1, 6)] + \
             [inv("K1", "V1"), inv("K2", "V2"), inv("K3", "V2"), inv("K4", "V4"), inv("K5", "V5")]
    offenders = score(crimes, people, "2026-06-30").offenders.set_index("person_id")
    assert offenders.loc["OFF", "crimes_12m"] == 5 and offenders.loc["OFF", "victims_12m"] == 4
    assert offenders.loc["OFF", "harm_12m"] == 5 * 450
    ipswich = score(crimes, people, "2026-06-30", area="Ipswich").offenders.set_index("person_id")
    assert ipswich.loc["OFF", "crimes_12m"] == 3 and ipswich.loc["OFF", "victims_12m"] == 2


def test_repeat_premises_and_locations_list(score):
    crimes = [crime("P1", "2026-01-05 12:00:00", premises="SHOP-1", e=600000, n=240000),
              crime("P2", "2026-01-06 12:00:00", premises="SHOP-1", e=600000, n=240000),
              crime("P3", "2026-01-07 12:00:00", premises="SHOP-2", e=601000, n=240000)]
    locations = score(crimes, [inv("P1", "a")], "2026-01-31").locations
    assert locations["location_id"].tolist() == ["P:SHOP-1"]
    row = locations.iloc[0]
    assert (row["kind"], row["crimes_12m"], row["easting"], row["northing"]) == ("premises", 2, 600000, 240000)


def test_area_option_needs_an_area_column(tmp_path):
    from geomatch.core.errors import InputError
    from vvol.pipeline import run

    path = tmp_path / "c.csv"
    pd.DataFrame([{"crime_ref": "A", "offence": "8N", "date": "2026-01-01", "easting": 1, "northing": 2}]) \
        .to_csv(path, index=False)
    with pytest.raises(InputError, match="'area'"):
        run(path, None, "2026-01-31", area="Ipswich")
