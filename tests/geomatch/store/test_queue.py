"""The queue against a brute-force reading of the store: every scope and filter, every page, on both backends.

The queue's SQL is written per backend for its planner (a reviewer's hits as "reassigned to them, or not
reassigned and of a subject they manage" on PostgreSQL, the plain coalesce on SQLite; pending as "no event"), so
each form is checked here against the plain definition: a hit's assignee is its reassignment, else its subject's
offender manager; its status the outcome of its latest event, else pending; highest score first, then hit id,
unscored last.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geomatch.store import OUTCOMES, add_review, record_run
from geomatch.store.access import Access
from geomatch.store.assignment import Scope, assign_hit, load_subjects, queue_page
from geomatch.store.accounts import add_user

N_HITS, REVIEWERS, TEAMS = 120, ("ann", "bob", "cy"), ("north", "south")


@pytest.fixture
def world(db_url) -> pd.DataFrame:
    """A store of hits (some unscored, many tied scores) with reviews and reassignments; returns each hit's
    expected score, subject, team, assignee and status."""
    rng = np.random.default_rng(15)
    crimes = pd.DataFrame({"crime_ref": ["CR/1"], "offence": ["burglary_residential"], "x": [530000.0],
                           "y": [180000.0], "committed_from": pd.to_datetime(["2026-10-01T10:00Z"], utc=True),
                           "committed_to": pd.to_datetime(["2026-10-01T12:00Z"], utc=True)})
    scores = rng.integers(0, 8, N_HITS).astype(float) * 10  # ties: the hit id decides
    scores[rng.random(N_HITS) < 0.1] = np.nan
    hits = pd.DataFrame({"hit_id": [f"H{i:03d}" for i in range(N_HITS)],
                         "subject_id": [f"S{s}" for s in rng.integers(0, 9, N_HITS)], "crime_ref": "CR/1",
                         "offence": "burglary_residential", "presence": "observed", "min_distance_m": 5.0,
                         "score": scores})
    record_run(db_url, hits, crimes)
    subjects = pd.DataFrame({"subject_id": [f"S{s}" for s in range(8)],  # S8 has no offender manager
                             "offender_manager": [REVIEWERS[s % 3] for s in range(8)],
                             "team": [TEAMS[s % 2] for s in range(8)]})
    load_subjects(db_url, subjects)
    for name in REVIEWERS:
        add_user(db_url, name, role="reviewer")
    expected = hits.merge(subjects, on="subject_id", how="left").set_index("hit_id")
    expected["assignee"], expected["status"] = expected["offender_manager"], "pending"
    for hit_id in rng.choice(hits["hit_id"], 40, replace=False):
        expected.loc[hit_id, "assignee"] = name = REVIEWERS[rng.integers(0, 3)]
        assign_hit(db_url, hit_id, name, access=Access("sue", "assign", hit_id))
    for hit_id in rng.choice(hits["hit_id"], 60):  # some hits twice: the latest outcome counts
        expected.loc[hit_id, "status"] = outcome = OUTCOMES[rng.integers(0, len(OUTCOMES))]
        add_review(db_url, hit_id, outcome=outcome, by="ann")
    return expected


def brute_force(world: pd.DataFrame, *, assignee=None, team=None, status="pending", min_score=None) -> list[str]:
    keep = pd.Series(True, index=world.index)
    if assignee is not None:
        keep &= world["assignee"] == assignee
    if team is not None:
        keep &= world["team"] == team
    if status is not None:
        keep &= world["status"] == status
    if min_score is not None:
        keep &= world["score"] >= min_score
    chosen = world[keep].reset_index()
    chosen["unscored"] = chosen["score"].isna()
    return chosen.sort_values(["unscored", "score", "hit_id"], ascending=[True, False, True])["hit_id"].tolist()


@pytest.mark.parametrize("status", ["pending", None, OUTCOMES[0]])
def test_queue_pages_equal_a_brute_force_reading(db_url, world, status):
    scopes = [(Scope(assignee=name), {"assignee": name}) for name in REVIEWERS]
    scopes += [(Scope(team=team), {"team": team}) for team in TEAMS] + [(Scope(), {})]
    for scope, expected_filter in scopes:
        for min_score in (None, 30.0):
            expected = brute_force(world, status=status, min_score=min_score, **expected_filter)
            got, offset = [], 0
            while True:  # every page of 7
                page = queue_page(db_url, scope, status=status, min_score=min_score, limit=7, offset=offset)
                got += [row["hit_id"] for row in page.rows]
                offset += 7
                if not page.has_more:
                    break
            assert got == expected, (scope, min_score)
    for name in REVIEWERS:  # "assigned to me" on an auditor's scope
        page = queue_page(db_url, Scope(), status=status, assigned_to=name, limit=500)
        assert [row["hit_id"] for row in page.rows] == brute_force(world, assignee=name, status=status)
        assert all(row["assignee"] == name for row in page.rows)
