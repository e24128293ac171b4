"""Linked clusters and spatial hot spots on hand-made data."""
from __future__ import annotations

from tests.vvol.helpers import crime, inv


def _members(clusters, row: int) -> str:
    return clusters.iloc[row]["members"]


def test_triad_and_pub_group_link_and_one_off_meetings_do_not(score):
    crimes = [
        # domestic triad: V and O at home H, three times
        *(crime(f"D{i}", f"2026-05-0{i} 22:00:00", "assault_with_injury", premises="H", domestic="Y")
          for i in (1, 2, 3)),
        # pub: A-B fight twice, B-C fight twice, always at the PUB
        crime("P1", "2026-05-01 23:00:00", premises="PUB"), crime("P2", "2026-05-08 23:00:00", premises="PUB"),
        crime("P3", "2026-05-15 23:00:00", premises="PUB"), crime("P4", "2026-05-22 23:00:00", premises="PUB"),
        # a one-off: X robbed by Y once, and Y robs X's neighbour once: no repeated link
        crime("R1", "2026-05-02 12:00:00", "robbery_personal"), crime("R2", "2026-05-03 12:00:00", "robbery_personal"),
    ]
    people = [*(inv(f"D{i}", "V") for i in (1, 2, 3)), *(inv(f"D{i}", "O", "offender") for i in (1, 2, 3)),
              inv("P1", "A"), inv("P1", "B", "offender"), inv("P2", "B"), inv("P2", "A", "offender"),
              inv("P3", "C"), inv("P3", "B", "offender"), inv("P4", "B"), inv("P4", "C", "offender"),
              inv("R1", "X"), inv("R1", "Y", "offender"), inv("R2", "X2"), inv("R2", "Y", "offender")]
    clusters = score(crimes, people, "2026-05-31").clusters
    assert len(clusters) == 2
    members = set(clusters["members"])
    assert "person:O (offender); person:V (victim); premises:H" in members
    assert "person:A (offender+victim); person:B (offender+victim); person:C (offender+victim); premises:PUB" \
        in members
    pub = clusters[clusters["members"].str.contains("PUB")].iloc[0]
    assert (pub["crimes_12m"], pub["people"], pub["premises"], pub["victims_12m"]) == (4, 3, 1, 3)
    triad = clusters[clusters["members"].str.contains("premises:H")].iloc[0]
    assert triad["flags"] == "domestic" and triad["uplift_pct"] == 10.0
    assert all(cid.startswith("K") and len(cid) == 11 for cid in clusters["cluster_id"])


def test_cluster_ids_do_not_depend_on_other_data(score):
    base = [crime(f"D{i}", f"2026-05-0{i} 22:00:00", premises="H") for i in (1, 2)]
    people = [inv("D1", "V"), inv("D2", "V"), inv("D1", "O", "offender"), inv("D2", "O", "offender")]
    first = score(base, people, "2026-05-31").clusters["cluster_id"].tolist()
    more = base + [crime(f"E{i}", f"2026-05-1{i} 22:00:00", premises="G") for i in (1, 2)]
    more_people = people + [inv("E1", "W"), inv("E2", "W")]
    second = score(more, more_people, "2026-05-31").clusters["cluster_id"].tolist()
    assert first[0] in second and len(second) == 2


def test_link_threshold_is_configurable(score):
    crimes = [crime("A1", "2026-05-01 22:00:00"), crime("A2", "2026-05-02 22:00:00")]
    people = [inv("A1", "V"), inv("A1", "O", "offender"), inv("A2", "V2"), inv("A2", "O", "offender")]
    assert len(score(crimes, people, "2026-05-31").clusters) == 0
    loose = score(crimes, people, "2026-05-31", link_min_shared=1).clusters
    assert loose["members"].tolist() == ["person:O (offender); person:V (victim); person:V2 (victim)"]


def test_hotspot_dbscan_in_metres_with_weighted_duplicate_points(score):
    crimes = []
    # 6 crimes at one point and 4 within 30 m of it: one hot spot of 10 with min 10 crimes in 50 m
    crimes += [crime(f"S{i}", f"2026-04-{i + 1:02d} 12:00:00", e=600000, n=250000) for i in range(6)]
    crimes += [crime(f"T{i}", f"2026-04-{i + 10:02d} 12:00:00", e=600000 + 30 * (i % 2), n=250000 + 30 * (i // 2))
               for i in range(4)]
    # 9 crimes 5 km away: below the minimum, no hot spot
    crimes += [crime(f"U{i}", f"2026-04-{i + 1:02d} 12:00:00", e=605000, n=250000) for i in range(9)]
    tasking = score(crimes, [inv("S0", "p")], "2026-04-30")
    hot = tasking.locations[tasking.locations["kind"] == "hotspot"]
    assert len(hot) == 1
    row = hot.iloc[0]
    assert row["crimes_12m"] == 10
    assert abs(row["easting"] - 600006) <= 1 and abs(row["northing"] - 250006) <= 1
    assert row["location_id"] == "H:600010-0250010"
    assert 0 < row["radius_m"] < 50
    # eps 10 m: the 30 m neighbours fall away, the 6-crime point alone is below the minimum of 10
    assert (score(crimes, [inv("S0", "p")], "2026-04-30", hotspot_eps_m=10).locations["kind"] == "hotspot").sum() == 0


def test_dbscan_pre_filter_gives_exactly_the_clusters_of_plain_dbscan():
    import numpy as np
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    from vvol.hotspots import _may_cluster

    rng = np.random.default_rng(3)
    xy = np.round(np.vstack([rng.uniform(0, 20_000, (20_000, 2)), rng.normal(5_000, 300, (3_000, 2)),
                             rng.normal(12_000, 60, (400, 2))]))
    points, weight = np.unique(xy, axis=0, return_counts=True)
    plain = DBSCAN(eps=50, min_samples=6).fit_predict(points, sample_weight=weight)
    keep = _may_cluster(points, weight.astype(float), 50, 6)
    assert keep.mean() < 0.5  # most sparse points are dropped before DBSCAN
    filtered = np.full(len(points), -1)
    filtered[keep] = DBSCAN(eps=50, min_samples=6).fit_predict(points[keep], sample_weight=weight[keep])
    assert np.array_equal(plain >= 0, filtered >= 0)
    assert adjusted_rand_score(plain, filtered) == 1.0
