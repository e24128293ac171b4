"""The IOM cohort report: windows with known answers (leap day, clock changes, no crimes before, leaving the area,
data that starts late), the members file, the statistics on a generated cohort with a planted effect and with
regression to the mean only, and the written report."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import vvol
from geomatch.core.manifest import verify_manifest
from tests.vvol.helpers import CHROMIUM, render_in_chromium
from vvol import synth_cohort
from vvol.cohort import add_months, months_between, parse_window, today_day
from vvol.cohort_pipeline import CohortSettings, run_cohort
from vvol.cohort_stats import bootstrap_ci, signed_rank_p, verdict
from vvol.costs import load_cost_table
from vvol.harm import load_harm_table

BURGLARY_HARM = 400.0  # vvol/data/harm_weights.csv, burglary_residential
BURGLARY_COST = 5930.0  # vvol/data/crime_costs.csv, burglary_residential (Home Office 2018, Domestic burglary)


def _crime(ref: str, when: str) -> dict:
    return {"crime_ref": ref, "offence": "burglary_residential", "committed_from": when, "easting": 616000,
            "northing": 244000}


def _write(tmp_path, crimes, people, cohort):
    paths = tmp_path / "crimes.csv", tmp_path / "people.csv", tmp_path / "cohort.csv"
    for rows, path in zip((crimes, people, cohort), paths):
        pd.DataFrame(rows).to_csv(path, index=False)
    return paths


def _hand_made(tmp_path):
    """Five members with known answers; as of 2025-12-31, crimes data from 2023-01-01 (the earliest crime)."""
    crimes, people = [], []

    def offend(person, ref, when, role="offender"):
        crimes.append(_crime(ref, when))
        people.append({"crime_ref": ref, "person_id": person, "role": role})

    offend("X", "X0", "2023-01-01 09:00")  # someone else's crime: it sets the start of the data
    # A: start 1 March 2024, so the before window runs 2023-03-01 .. 2024-02-29 (leap day) = 12 months
    offend("A", "A1", "2023-02-28 23:30")  # the day before the window: not counted
    offend("A", "A2", "2023-03-01 00:10")  # first day: counted
    offend("A", "A3", "2024-02-29 12:00")  # leap day, the last day before start: counted
    offend("A", "A4", "2024-03-01 00:00")  # start day: during
    people.append({"crime_ref": "A4", "person_id": "A", "role": "suspect"})  # a second role counts once
    offend("A", "A5", "2024-09-01 00:30")  # 00:30 BST = 23:30 UTC on 31 August: UK day 1 Sept, after
    offend("A", "A6", "2025-08-31 23:59")  # last day of the after window
    offend("A", "A7", "2025-09-01 00:00")  # the day after it: not counted
    people.append({"crime_ref": "X0", "person_id": "A", "role": "victim"})  # a victim is never counted
    # B: ends 26 October 2024, the day before the clocks go back
    offend("B", "B1", "2024-10-26 23:30")  # 23:30 BST = 22:30 UTC: during
    offend("B", "B2", "2024-10-27 00:30")  # 00:30 BST = 23:30 UTC on the 26th: UK day 27 Oct, after
    # C: no crime before, still managed
    offend("C", "C1", "2025-02-01 10:00")
    # D: leaves the area on 1 October 2024: after window observed 2024-07-01 .. 2024-09-30 only
    offend("D", "D1", "2024-09-30 20:00")
    offend("D", "D2", "2024-11-05 10:00")  # recorded after leaving: not counted
    # E: starts 1 June 2023, the before window 2022-06-01 .. 2023-05-31 is observed from 2023-01-01 (5 months)
    offend("E", "E1", "2023-02-10 10:00")
    cohort = [{"person_id": "A", "cohort": "NSAC", "start": "2024-03-01", "end": "2024-08-31", "left_area": ""},
              {"person_id": "B", "cohort": "NSAC", "start": "27/04/2024", "end": "2024-10-26", "left_area": ""},
              {"person_id": "C", "cohort": "DA", "start": "2024-06-01", "end": "", "left_area": ""},
              {"person_id": "D", "cohort": "DA", "start": "2024-01-01", "end": "2024-06-30",
               "left_area": "2024-10-01"},
              {"person_id": "E", "cohort": "DA", "start": "2023-06-01", "end": "2023-11-30", "left_area": ""}]
    return _write(tmp_path, crimes, people, cohort)


@pytest.fixture
def hand_made(tmp_path):
    crimes, people, cohort = _hand_made(tmp_path)
    result = run_cohort(cohort, crimes, people, CohortSettings(as_of="2025-12-31", n_boot=200))
    return result.table.set_index("person_id"), result


def test_calendar_arithmetic():
    day = lambda text: np.array([today_day(text)])  # noqa: E731
    assert add_months(day("2024-02-29"), -12)[0] == today_day("2023-02-28")
    assert add_months(day("2024-01-31"), 1)[0] == today_day("2024-02-29")
    # a whole year is 12 months whether or not it holds 29 February; part months are shares of their month
    assert months_between(day("2023-03-01"), day("2024-02-29"))[0] == 12
    assert months_between(day("2022-03-01"), day("2023-02-28"))[0] == 12
    assert months_between(day("2024-03-01"), day("2024-03-15"))[0] == pytest.approx(15 / 31)
    assert months_between(day("2024-03-02"), day("2024-03-01"))[0] == 0
    assert parse_window("12m") == 12 and parse_window("2y") == 24


def test_leap_day_window_and_uk_days(hand_made):
    table, _ = hand_made
    a = table.loc["A"]
    assert (a["before_from"], a["before_to"]) == ("2023-03-01", "2024-02-29")
    assert a["months_before"] == 12 and a["crimes_before"] == 2
    assert a["harm_before"] == 2 * BURGLARY_HARM and a["cost_before"] == 2 * BURGLARY_COST
    assert a["crimes_during"] == 1 and a["months_during"] == 6  # A4, once although offender and suspect
    assert (a["after_from"], a["after_to"]) == ("2024-09-01", "2025-08-31")
    assert a["crimes_after"] == 2 and a["months_after"] == 12  # A5 (UK day 1 Sept) and A6, not A7
    assert a["status"] == "ended"


def test_clock_change_day_goes_by_uk_local_day(hand_made):
    table, _ = hand_made
    b = table.loc["B"]
    assert b["start"] == "2024-04-27"  # written 27/04/2024 (UK day first)
    assert b["crimes_during"] == 1 and b["crimes_after"] == 1


def test_no_crimes_before_and_still_managed(hand_made):
    table, _ = hand_made
    c = table.loc["C"]
    assert c["crimes_before"] == 0 and c["months_before"] == 12  # observed, nothing in it: 0, not empty
    assert c["status"] == "managed" and np.isnan(c["crimes_after"]) and np.isnan(c["months_after"])
    assert c["after_from"] == ""
    assert c["months_during"] == pytest.approx(19)  # 2024-06-01 .. 2025-12-31
    assert c["crimes_during"] == 1


def test_leaving_the_area_ends_the_time_at_risk(hand_made):
    table, _ = hand_made
    d = table.loc["D"]
    assert (d["after_from"], d["after_to"]) == ("2024-07-01", "2024-09-30")
    assert d["months_after"] == 3 and d["crimes_after"] == 1  # D2 came after leaving


def test_window_before_the_data_starts_is_not_observed(hand_made):
    table, result = hand_made
    e = table.loc["E"]
    assert e["before_from"] == "2023-01-01" and e["months_before"] == 5 and e["crimes_before"] == 1
    assert result.data_from_day == today_day("2023-01-01")


def test_members_file_quarantine(tmp_path):
    crimes, people, _ = _hand_made(tmp_path)
    cohort = tmp_path / "members.csv"
    pd.DataFrame([{"person_id": "A", "cohort": "NSAC", "start": "2024-03-01", "end": ""},
                  {"person_id": "A", "cohort": "NSAC", "start": "2024-05-01", "end": ""},   # repeated_membership
                  {"person_id": "A", "cohort": "DA", "start": "2024-05-01", "end": "2024-04-01"},  # end_before_start
                  {"person_id": "B", "cohort": "", "start": "2024-03-01", "end": ""},       # missing_cohort
                  {"person_id": "C", "cohort": "DA", "start": "03/13/2024", "end": ""},     # US order: unparseable
                  {"person_id": "D", "cohort": "DA", "start": "2026-06-01", "end": ""}]     # start_after_as_of
                 ).to_csv(cohort, index=False)
    result = run_cohort(cohort, crimes, people, CohortSettings(as_of="2025-12-31", n_boot=200))
    assert result.members.counts() == {"rows_in": 6, "accepted": 1, "quarantined": 5}
    assert result.members.reason_counts() == {"end_before_start": 1, "missing_cohort": 1, "repeated_membership": 1,
                                              "start_after_as_of": 1, "unparseable_start": 1}
    assert result.files["cohort"]["ok"].all()


def test_cost_table_covers_every_harm_key():
    costs = load_cost_table()
    costs.check_keys(load_harm_table())
    assert costs.year == "2018" and costs.price_year == "2015/16" and "Home Office" in costs.source
    assert costs.cost_of(pd.Series(["homicide", "shoplifting"]))[0] == 3217740
    assert np.isnan(costs.cost_of(pd.Series(["shoplifting"]))[0])


def test_bootstrap_and_signed_rank_known_cases():
    low, high = bootstrap_ci(np.full(50, -2.0), n_boot=200, seed=0)
    assert low == high == -2.0
    assert signed_rank_p(np.zeros(10)) == 1.0
    assert signed_rank_p(np.full(30, -1.0)) < 1e-5
    values = np.random.default_rng(0).normal(0, 1, 400)
    low, high = bootstrap_ci(values, n_boot=1000, seed=1)
    assert low < values.mean() < high and high - low == pytest.approx(2 * 1.96 / 20, rel=0.2)


def _generated(tmp_path, effect):
    data = synth_cohort.generate(n_offenders=3000, n_members=250, effect=effect, seed=3)
    crimes, people, cohort = synth_cohort.write(data, tmp_path / f"effect{effect}")
    result = run_cohort(cohort, crimes, people, CohortSettings(as_of=data.as_of, n_boot=500))
    stats = result.statistics["IOM"]
    return result, stats[(stats["measure"] == "crimes") & (stats["comparison"] == "before -> after")].iloc[0]


def test_regression_to_the_mean_is_not_mistaken_for_an_effect(tmp_path):
    result, row = _generated(tmp_path, effect=0.0)
    # members were chosen at a peak: their offending falls although management changed nothing ...
    assert row["mean_change"] < 0 and row["ci_high"] < 0 and row["p_signed_rank"] < 0.01
    # ... and so does the matched comparison group's, so the difference in differences shows nothing
    assert row["comparison_mean_change"] < 0
    assert row["did_ci_low"] < 0 < row["did_ci_high"] and row["did_p_signed_rank"] > 0.05
    assert "no difference from comparable offenders" in verdict(row)
    balance = result.matched["IOM"].balance.set_index("feature")  # |SMD| < 0.25 is the usual bound (Stuart 2010)
    assert (balance["smd_after"].abs() < 0.25).all() and (balance["smd_before"] > 0.5).all()


def test_planted_effect_is_found(tmp_path):
    _, row = _generated(tmp_path, effect=0.5)
    assert row["did_ci_high"] < 0 and row["did_p_signed_rank"] < 0.001
    # half the crimes after joining were removed: the members' after rate is about half the comparison's
    assert row["mean_after"] == pytest.approx(0.5 * row["comparison_mean_after"], rel=0.25)


def test_cohort_command_writes_a_verified_report(tmp_path):
    crimes, people, _ = _hand_made(tmp_path)
    cohort = tmp_path / "members.csv"
    pd.DataFrame([{"person_id": "A", "cohort": "<script>alert(1)</script>", "start": "2024-03-01",
                   "end": "2024-08-31"},
                  {"person_id": "=HYPERLINK(\"x\")", "cohort": "DA", "start": "2024-06-01", "end": ""}]
                 ).to_csv(cohort, index=False)
    out = tmp_path / "report"
    run = CliRunner().invoke(vvol, ["cohort", "--cohort", str(cohort), "--crimes", str(crimes), "--people",
                                    str(people), "--out", str(out), "--as-of", "2025-12-31", "--bootstrap", "200",
                                    "--no-progress"])
    assert run.exit_code == 0, run.output
    for name in ("cohort.html", "cohort.xlsx", "people.csv", "statistics.csv", "top50.csv", "manifest.json",
                 "quarantine/cohort.csv"):
        assert (out / name).is_file(), name
    assert verify_manifest(out) == []
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "Regression to the mean" in page
    table = pd.read_csv(out / "people.csv", keep_default_na=False)
    assert list(table.columns[:6]) == ["person_id", "cohort", "start", "end", "left_area", "status"]
    assert {"crimes_before", "crimes_during", "crimes_after", "harm_after", "cost_before", "months_after"} \
        <= set(table.columns)
    assert table["person_id"].str.startswith("'=").any()  # formula neutralised
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cost_table"]["price_year"] == "2015/16"
    if CHROMIUM:  # the tables are built by the page's own script in a real browser
        dom = render_in_chromium(out / "cohort.html", tmp_path / "profile")
        assert dom.count('class="tabulator') >= 5 and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
        assert "<script>alert" not in dom


def test_cohort_command_refuses_ambiguous_dates(tmp_path):
    crimes, people, cohort = _hand_made(tmp_path)
    run = CliRunner().invoke(vvol, ["cohort", "--cohort", str(cohort), "--crimes", str(crimes), "--people",
                                    str(people), "--out", str(tmp_path / "o"), "--as-of", "10/11/2025"])
    assert run.exit_code == 2 and "not an ISO date" in run.output
