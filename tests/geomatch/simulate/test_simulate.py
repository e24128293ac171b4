"""The seeded world generator: deterministic, well-formed, and its ground truth is true in the trails."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import geomatch as geomatch_cli
from geomatch.core.crs import BNG, WGS84, transform
from geomatch.ingest.offences import offence_table
from geomatch.simulate.world import CRIME_COLUMNS, MOJ_CODES, TRAIL_COLUMNS, simulate_world, write_world
from geomatch.core.times import parse_times


@pytest.fixture(scope="module")
def world():
    return simulate_world()


@pytest.fixture(scope="module")
def fixes(world):
    """Trails with BNG x/y, split by subject."""
    t = world.trails
    x, y = transform(t["lon"].to_numpy(), t["lat"].to_numpy(), WGS84, BNG)
    t = t.assign(x=x, y=y)
    return {str(k): g.reset_index(drop=True) for k, g in t.groupby("subject_id", observed=True)}


def _utc(text) -> pd.Timestamp:
    return pd.Timestamp(text)


def _path_distance_m(px: float, py: float, x: np.ndarray, y: np.ndarray) -> float:
    """Closest approach of the straight lines between consecutive fixes to a point (metres)."""
    if len(x) == 1:
        return float(np.hypot(x[0] - px, y[0] - py))
    ax, ay, dx, dy = x[:-1], y[:-1], np.diff(x), np.diff(y)
    length2 = np.where(dx * dx + dy * dy > 0, dx * dx + dy * dy, 1.0)
    f = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
    return float(np.hypot(ax + f * dx - px, ay + f * dy - py).min())


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    a, b = simulate_world(n_subjects=6, days=2, seed=7), simulate_world(n_subjects=6, days=2, seed=7)
    pd.testing.assert_frame_equal(a.trails, b.trails)
    pd.testing.assert_frame_equal(a.crimes, b.crimes)
    for fmt in ("parquet", "csv"):
        write_world(a, tmp_path / f"a_{fmt}", trails_format=fmt, dirty=True)
        write_world(b, tmp_path / f"b_{fmt}", trails_format=fmt, dirty=True)
        assert _digest(tmp_path / f"a_{fmt}") == _digest(tmp_path / f"b_{fmt}")
    other = simulate_world(n_subjects=6, days=2, seed=8)
    assert not other.crimes["easting"].equals(a.crimes["easting"])


def test_trails_columns_types_and_order(world):
    t = world.trails
    assert list(t.columns) == TRAIL_COLUMNS
    assert str(t["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert t["lat"].dtype == t["lon"].dtype == t["accuracy_m"].dtype == np.float64
    assert t["subject_id"].nunique() == 36 and t[TRAIL_COLUMNS].notna().all().all()
    step = t.groupby("subject_id", observed=True)["timestamp"].diff().dt.total_seconds()
    assert (step.dropna() > 0).all()  # sorted, strictly increasing per subject
    assert 55 <= step.median() <= 65
    assert (step > 300).sum() > 36 and (step >= 3600).sum() >= 5  # short gaps and a few long ones
    assert 52.0 < t["lat"].median() < 52.1 and 1.1 < t["lon"].median() < 1.25  # Ipswich
    assert 300_000 < len(t) < 36 * 7 * 1440


def test_accuracy_by_source_and_noise_matches_accuracy(world, fixes):
    t = world.trails
    share = t["source"].value_counts(normalize=True)
    assert share["GPS"] > 0.8 and 0.05 < share["WIFI"] < 0.2 and 0.005 < share["LBS"] < 0.04
    for source, (lo, hi) in {"GPS": (3, 25), "WIFI": (30, 80), "LBS": (200, 1000)}.items():
        acc = t.loc[t["source"] == source, "accuracy_m"]
        assert acc.min() >= lo and acc.max() <= hi
    # non-offenders at 03:00-04:00 local are at home: about 68 % of GPS fixes lie within their accuracy radius
    homes = world.truth.subjects.set_index("subject_id")
    inside = []
    for sid, f in fixes.items():
        if homes.loc[sid, "is_offender"]:
            continue
        local_hour = f["timestamp"].dt.tz_convert("Europe/London").dt.hour
        night = f[(local_hour == 3) & (f["source"] == "GPS")]
        d = np.hypot(night["x"] - homes.loc[sid, "home_x"], night["y"] - homes.loc[sid, "home_y"])
        inside.append((d <= night["accuracy_m"]).to_numpy())
    assert 0.6 < np.concatenate(inside).mean() < 0.76


def test_crimes_columns_refs_offences_and_windows(world):
    c = world.crimes
    assert list(c.columns) == CRIME_COLUMNS
    assert 200 <= len(c) <= 500
    assert c["crime_ref"].is_unique and c["crime_ref"].is_monotonic_increasing
    assert c["crime_ref"].str.fullmatch(r"SF/26/\d{6}").all()
    assert set(c["offence"]) <= set(offence_table().index)
    assert c["offence"].value_counts().index[0] in ("burglary_residential", "theft_from_vehicle")
    local = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    assert c["committed_from"].str.fullmatch(local).all() and c["committed_to"].str.fullmatch(local).all()
    assert c["area"].notna().all() and c["free_text"].str.len().gt(10).all()
    assert c["easting"].between(611_800, 620_200).all() and c["northing"].between(239_800, 248_200).all()
    w = world.truth.windows
    hours = (pd.to_datetime(w["to_utc"]) - pd.to_datetime(w["from_utc"])).dt.total_seconds() / 3600
    by_offence = hours.groupby(c["offence"])
    assert by_offence.max()["burglary_residential"] > 12  # a working day or a weekend away
    assert by_offence.max()["robbery_personal"] <= 0.75 and by_offence.min()["robbery_personal"] >= 5 / 60
    assert (hours > 0).all()
    span_start, span_end = world.trails["timestamp"].min(), world.trails["timestamp"].max()
    assert (pd.to_datetime(w["from_utc"]) >= span_start - pd.Timedelta("1min")).all()
    assert (pd.to_datetime(w["to_utc"]) <= span_end + pd.Timedelta("1min")).all()  # every window has trails


def test_offenders_stop_at_their_scenes_during_the_window(world, fixes):
    committed = world.truth.committed
    assert len(committed) >= 8
    offenders = set(world.truth.subjects.query("is_offender")["subject_id"])
    assert set(committed["subject_id"]) <= offenders and len(offenders) == 9
    windows = world.truth.windows.set_index("crime_ref")
    stood = world.truth.scenarios.set_index(["crime_ref", "subject_id"])["planted_distance_m"]
    for row in committed.itertuples():
        f = fixes[row.subject_id]
        at_from, at_to = _utc(row.at_scene_from), _utc(row.at_scene_to)
        window = windows.loc[row.crime_ref]
        assert _utc(window["from_utc"]) <= at_from < at_to <= _utc(window["to_utc"])
        assert 60 <= (at_to - at_from).total_seconds() <= 25 * 60
        near = f[(f["timestamp"] >= at_from - pd.Timedelta("60s")) & (f["timestamp"] <= at_to + pd.Timedelta("60s"))]
        d = np.hypot(near["x"] - row.true_x, near["y"] - row.true_y)  # from the true place, not the recorded one
        assert d.min() <= stood[(row.crime_ref, row.subject_id)] + 25.0, row.crime_ref


def test_offenders_stand_off_the_scene_and_crimes_are_recorded_with_geocoding_error(world):
    s = world.truth.scenarios
    stood = s[s["scenario"] == "committed"].set_index("offence")["planted_distance_m"]
    burglary = stood[stood.index.str.contains("burglary")]
    vehicle = stood[stood.index.str.contains("vehicle")]
    assert len(burglary) and burglary.between(10, 30).all()  # inside or behind the premises
    assert len(vehicle) and vehicle.between(1, 5).all()  # at the kerb beside the car
    assert stood.between(1, 30).all()
    crimes = world.crimes.set_index("crime_ref").loc[s["crime_ref"]]
    error = np.hypot(crimes["easting"].to_numpy() - s["true_x"], crimes["northing"].to_numpy() - s["true_y"])
    assert np.allclose(error, s["geocode_error_m"], atol=0.2)
    assert error.max() <= 60.2 and 10 < error.median() < 25 and (error > 30).mean() > 0.1
    moj = world.crimes_moj.dropna(subset=["easting"]).set_index("crime_ref")
    both = moj.index.intersection(s["crime_ref"])
    assert len(both) and np.allclose(moj.loc[both, "easting"].astype(float), world.crimes.set_index("crime_ref")
                                     .loc[both, "easting"])  # the MoJ file records the same (geocoded) place


def test_planted_innocent_scenarios_are_near_during_the_window(world, fixes):
    s = world.truth.scenarios
    kinds = s["scenario"].value_counts()
    for kind in ("home_next_door", "daily_route", "drive_by", "shop_stop", "workplace_nearby"):
        assert kinds.get(kind, 0) >= 3, kind
    assert s.groupby("scenario")["offence"].nunique().min() >= 2  # offences mixed within each scenario
    assert not set(s.loc[s["scenario"] != "committed", "crime_ref"]) & set(world.truth.committed["crime_ref"])
    windows = world.truth.windows.set_index("crime_ref")
    for row in s.itertuples():
        near_from, near_to = _utc(row.near_from), _utc(row.near_to)
        assert near_from < _utc(windows.loc[row.crime_ref, "to_utc"])
        assert near_to > _utc(windows.loc[row.crime_ref, "from_utc"])
        f = fixes[row.subject_id]
        f = f[(f["timestamp"] >= near_from - pd.Timedelta("2min")) & (f["timestamp"] <= near_to + pd.Timedelta("2min"))]
        d = _path_distance_m(row.true_x, row.true_y, f["x"].to_numpy(), f["y"].to_numpy())
        assert d <= row.planted_distance_m + 25.0, (row.crime_ref, row.scenario, d)
    planted = s.set_index("scenario")["planted_distance_m"]
    assert planted["home_next_door"].between(15, 80).all() and planted["shop_stop"].between(10, 60).all()
    close = {k: (planted[k] <= 30).sum() for k in ("home_next_door", "shop_stop")}
    assert min(close.values()) >= 3, close  # next door: as close as an offender behind the house
    passing = planted[["daily_route", "drive_by"]]
    assert passing.between(5, 30).all() and (passing <= 15).sum() >= 3


def test_drive_bys_are_fast_and_fixes_far_apart(world, fixes):
    drive_bys = world.truth.scenarios.query("scenario == 'drive_by'")
    assert len(drive_bys)
    for row in drive_bys.itertuples():
        f = fixes[row.subject_id]
        passing = _utc(row.near_from) + (_utc(row.near_to) - _utc(row.near_from)) / 2
        i = int(f["timestamp"].searchsorted(passing))
        before, after = f.iloc[i - 1], f.iloc[i]  # the fixes either side of the pass: one straight stretch
        assert (after["timestamp"] - before["timestamp"]).total_seconds() <= 70  # no gap here
        speed = np.hypot(after["x"] - before["x"], after["y"] - before["y"]) / (
            after["timestamp"] - before["timestamp"]).total_seconds()
        assert speed > 8.0, row.crime_ref  # 10-15 m/s, less a little GPS noise


def test_clock_change_crimes_are_ambiguous_and_one_is_committed_in_the_second_hour(world):
    c = world.crimes.merge(world.truth.windows, on="crime_ref")
    in_hour = c["committed_from"].str.startswith("2026-10-25 01:") | c["committed_to"].str.startswith("2026-10-25 01:")
    assert in_hour.sum() >= 2 and (c.loc[in_hour, "dst_ambiguous"]).all()
    assert parse_times(c.loc[in_hour, "committed_from"], side="start").ambiguous.any()
    committed = world.truth.committed.merge(c[in_hour], on="crime_ref")
    second_hour = committed["at_scene_from"].map(_utc) >= pd.Timestamp("2026-10-25 01:00", tz="UTC")
    assert second_hour.sum() == 1  # other offenders' crimes may have a bound in the first 01:xx (BST)
    row = committed[second_hour].iloc[0]
    assert row["committed_from"] < row["committed_to"]  # both local bounds in the second 01:xx: in order
    bst_reading = pd.Timestamp(row["committed_to"]).tz_localize("Europe/London", ambiguous=True)
    assert _utc(row["at_scene_from"]) > bst_reading  # only the widened (GMT) reading contains the offender


def test_moj_file_has_13_columns_one_location_kind_and_utc_times(world, tmp_path):
    write_world(world, tmp_path)
    moj = pd.read_csv(tmp_path / "crimes_moj.csv", header=None, dtype=str, keep_default_na=False)
    assert moj.shape[1] == 13
    assert len(moj) == (world.crimes["offence"].isin(list(MOJ_CODES))).sum()
    assert set(moj[1]) <= {"RB", "BIAD", "AB", "BOTD", "TOMV", "TFP", "TFMV"}
    grid = (moj[7] != "") & (moj[8] != "")
    geo = (moj[9] != "") & (moj[10] != "")
    assert (grid ^ geo).all() and grid.any() and geo.any()
    assert ((moj[7] == "") == (moj[8] == "")).all() and ((moj[9] == "") == (moj[10] == "")).all()
    assert set(moj.loc[grid, 11]) == {"OSGB36"} and set(moj.loc[geo, 11]) == {"WGS84"}
    assert moj[5].str.fullmatch(r"\d{14}").all() and moj[6].str.fullmatch(r"\d{14}").all()
    truth = world.truth.windows.set_index("crime_ref")
    expected = pd.to_datetime(truth.loc[moj[4], "from_utc"]).dt.strftime("%Y%m%d%H%M%S")
    assert (expected.to_numpy() == moj[5].to_numpy()).all()


def test_written_files_and_dirty_rows_reach_the_quarantine(world, tmp_path):
    from geomatch.ingest.crimes import load_crimes
    from geomatch.ingest.trails import load_trails

    paths = write_world(world, tmp_path, dirty=True)
    assert {p.name for p in paths} == {"trails.parquet", "crimes.csv", "crimes_moj.csv", "basemap.gpkg",
                                       "committed.csv", "scenarios.csv", "subjects.csv", "windows.csv", "dirty.csv"}
    stored = pd.read_parquet(tmp_path / "trails.parquet")
    assert str(stored["timestamp"].dtype) == "datetime64[ns, UTC]" and stored["timestamp"].isna().sum() == 1
    dirty = pd.read_csv(tmp_path / "truth" / "dirty.csv")
    assert len(dirty) >= 10
    trails = load_trails(tmp_path / "trails.parquet")
    trails = trails[0] if isinstance(trails, tuple) else trails
    loaded = {"trails.parquet": trails, "crimes.csv": load_crimes(tmp_path / "crimes.csv"),
              "crimes_moj.csv": load_crimes(tmp_path / "crimes_moj.csv", fmt="moj")}
    for name, validated in loaded.items():
        expected = dirty[(dirty["file"] == name) & (dirty["reason"] != "accepted_unsafe_text")]
        got = set(zip(validated.quarantined["source_row"], validated.quarantined["reason"]))
        assert got == set(zip(expected["source_row"], expected["reason"])), name
    unsafe = dirty.query("reason == 'accepted_unsafe_text'")["key"].iloc[0]
    assert unsafe in set(loaded["crimes.csv"].accepted["crime_ref"])


def test_trails_csv_uses_iso_utc_z(world, tmp_path):
    small = simulate_world(n_subjects=2, days=1)
    write_world(small, tmp_path, trails_format="csv")
    text = (tmp_path / "trails.csv").read_text().splitlines()
    assert text[0] == "subject_id,timestamp,lat,lon,accuracy_m,source"
    assert re.fullmatch(r"S001,2026-10-2[12]T\d{2}:\d{2}:\d{2}Z,52\.\d+,1\.\d+,\d+(\.\d)?,(GPS|WIFI|LBS)", text[1])
    assert len(text) - 1 == len(small.trails)


def test_sizes_scale():
    small, large = simulate_world(n_subjects=3, days=2), simulate_world(n_subjects=6, days=4)
    assert 3.3 < len(large.trails) / len(small.trails) < 4.7
    assert len(large.crimes) > 1.6 * len(small.crimes)
    fine = simulate_world(n_subjects=3, days=2, fix_interval_s=30)
    assert 1.8 < len(fine.trails) / len(small.trails) < 2.2


def test_cli_writes_world_and_rejects_bad_start(tmp_path):
    runner = CliRunner()
    result = runner.invoke(geomatch_cli, ["simulate", "--subjects", "3", "--days", "1", "--trails-format", "csv",
                                          "--dirty", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "fixes" in result.output and (tmp_path / "w" / "trails.csv").is_file()
    assert (tmp_path / "w" / "truth" / "dirty.csv").is_file()
    bad = runner.invoke(geomatch_cli, ["simulate", "--start", "22/10/2026", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "start must be a date" in bad.output


def test_bad_arguments_are_input_errors(tmp_path):
    from geomatch.core.errors import InputError

    with pytest.raises(InputError):
        simulate_world(n_subjects=0)
    tiny = simulate_world(n_subjects=1, days=1, fix_interval_s=3600)
    assert 0 < len(tiny.trails) <= 24  # one fix an hour, less any in gaps
    with pytest.raises(InputError, match="dirty rows need"):
        write_world(tiny, tmp_path, dirty=True)
    with pytest.raises(InputError, match="trails format"):
        write_world(tiny, tmp_path, trails_format="xlsx")
