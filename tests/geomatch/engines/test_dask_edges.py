"""Spikes at partition edges: the Dask engine flags every fix as the local engine does (a spike judged with its
true neighbours in the partitions around it) and so gives byte-identical hits and the same quality counts."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geomatch.core.crs import BNG, WGS84, transform
from geomatch.engines import dask_engine
from geomatch.engines.dataset import write_partitioned
from geomatch.match.config import MatchConfig
from geomatch.pipeline import MatchInputs, run_match

MIDNIGHT = pd.Timestamp("2026-11-03 00:00", tz="UTC")  # November: UK local time is UTC
CONFIG = MatchConfig()
AWAY = 2000.0  # m east of where the subject stands: where a spike lands


def write_inputs(directory: Path, fixes: pd.DataFrame, crimes: list[dict]) -> tuple[Path, Path]:
    """A trails CSV (WGS84, as a tag exports it) from fixes in British National Grid metres, and a crimes CSV."""
    lon, lat = transform(fixes["x"].to_numpy(), fixes["y"].to_numpy(), BNG, WGS84)
    trails = directory / "trails.csv"
    pd.DataFrame({"subject_id": fixes["subject_id"], "timestamp": fixes["t"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "lat": np.round(lat, 8), "lon": np.round(lon, 8), "accuracy_m": fixes["accuracy_m"],
                  "source": fixes["source"]}).to_csv(trails, index=False)
    path = directory / "crimes.csv"
    pd.DataFrame(crimes, columns=["crime_ref", "offence", "easting", "northing", "committed_from",
                                  "committed_to"]).to_csv(path, index=False)
    return trails, path


def crime(ref: str, x: float, y: float, start: pd.Timestamp, minutes: int = 10) -> dict:
    return {"crime_ref": ref, "offence": "burglary_residential", "easting": round(x, 1), "northing": round(y, 1),
            "committed_from": start.strftime("%Y-%m-%d %H:%M:%S"),
            "committed_to": (start + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")}


def run_both(directory: Path, cluster: str, scored: bool) -> tuple:
    """The local engine on the trails file, and the Dask engine on it partitioned by day."""
    inputs = MatchInputs(trails=directory / "trails.csv", crimes=directory / "crimes.csv")
    unscored = {} if scored else {"scorer": None}
    local = run_match(inputs, directory / "local", CONFIG, **unscored)
    dataset = directory / "ds"
    if not dataset.exists():
        write_partitioned(inputs.trails, str(dataset), by=("day",))
    run = dask_engine.run_match_dask(MatchInputs(trails=str(dataset), crimes=inputs.crimes), directory / "dask",
                                     CONFIG, dask_engine.DaskOptions(scheduler=cluster), **unscored)
    return local, run


def assert_same(local, run) -> None:
    for name in ("hits.parquet", "hits.csv"):
        assert (run.out_dir / name).read_bytes() == (local.out_dir / name).read_bytes(), name
    assert run.counts() == local.counts()  # the fixes per quality class included


def edge_world(directory: Path) -> None:
    """Five subjects standing 5 km apart with a GPS fix every 20 s from 23:50 to 00:10 UTC, each with a
    multipath spike 2 km east at midnight, where the day's partition ends:

    * S01: the spike is the last fix of the first day (23:59:50);
    * S02: the spike is the first fix of the second day (00:00:00);
    * S03: the spike ends the first day and the second begins with an LBS fix (a fallback fix, which the rule
      skips: the spike's neighbour after is the GPS fix behind it);
    * S04: one fix in the first day (23:59:40), the spike's neighbour before; the spike starts the second day;
    * S05: a run of two spike fixes across midnight (23:59:55 and 00:00:05).

    Crimes: one at each spike, its window over midnight (a spike joined into the path would be an observed hit
    there), and one where each subject stands.
    """
    rows, crimes = [], []
    steady = pd.date_range(MIDNIGHT - pd.Timedelta(minutes=10), MIDNIGHT + pd.Timedelta(minutes=10), freq="20s")
    spikes = {"S01": ["23:59:50"], "S02": ["00:00:00"], "S03": ["23:59:50"], "S04": ["00:00:00"],
              "S05": ["23:59:55", "00:00:05"]}
    for k, (subject, at) in enumerate(spikes.items()):
        home = (616_000.0, 244_000.0 + 5000.0 * k)
        spike_times = [MIDNIGHT + (pd.Timedelta(0) if t.startswith("00") else -pd.Timedelta(days=1))
                       + pd.Timedelta(t) for t in at]
        times = [t for t in steady if min(abs((t - s).total_seconds()) for s in spike_times) > 5]
        if subject == "S03":  # the LBS fix takes the place of the GPS fix at midnight
            times = [t for t in times if t != MIDNIGHT]
        if subject == "S04":
            times = [MIDNIGHT - pd.Timedelta(seconds=20)] + [t for t in times if t > MIDNIGHT]
        fixes = pd.DataFrame({"subject_id": subject, "t": times, "x": home[0] + np.arange(len(times)) % 3,
                              "y": home[1], "accuracy_m": 5.0, "source": "GPS"})
        spike = pd.DataFrame({"subject_id": subject, "t": spike_times, "x": home[0] + AWAY, "y": home[1],
                              "accuracy_m": 5.0, "source": "GPS"})
        parts = [fixes, spike]
        if subject == "S03":
            parts.append(pd.DataFrame({"subject_id": subject, "t": [MIDNIGHT], "x": home[0] + 300, "y": home[1],
                                       "accuracy_m": 700.0, "source": "LBS"}))
        rows.append(pd.concat(parts).sort_values("t"))
        crimes += [crime(f"SPIKE_{subject}", home[0] + AWAY, home[1] + 20, MIDNIGHT - pd.Timedelta(minutes=5)),
                   crime(f"HOME_{subject}", home[0] + 30, home[1] - 20, MIDNIGHT - pd.Timedelta(minutes=8), 16)]
    write_inputs(directory, pd.concat(rows, ignore_index=True), crimes)


SEEN: list[pd.DataFrame] = []
"""The Dask engine's flagged fixes, as its scoring round splits each partition (in-process workers only)."""
_SPLIT = dask_engine.split_by_subject


def recording_split(result, buckets: int):
    """:func:`dask_engine.split_by_subject`, keeping the partition's fixes in :data:`SEEN` (a function of this
    module, so the worker calls it by reference, not a pickled copy)."""
    SEEN.append(result.fixes)
    return _SPLIT(result, buckets)


def test_spikes_at_partition_edges_are_flagged_as_the_local_engine_flags_them(in_process_cluster, tmp_path,
                                                                               monkeypatch):
    edge_world(tmp_path)
    SEEN.clear()
    monkeypatch.setattr(dask_engine, "split_by_subject", recording_split)
    local, run = run_both(tmp_path, in_process_cluster, scored=True)
    flags = local.trails.accepted[["subject_id", "timestamp", "quality", "quality_reason"]].astype(str)
    spikes = flags[flags["quality"] == "outlier"]
    assert spikes.groupby("subject_id").size().to_dict() == {"S01": 1, "S02": 1, "S03": 1, "S04": 1, "S05": 2}
    assert (local.hits["crime_ref"].str.startswith("HOME_")).all() and len(local.hits) == 5
    assert_same(local, run)
    dask_flags = pd.concat(SEEN)[flags.columns].astype(str).sort_values(["subject_id", "timestamp"])
    assert dask_flags.reset_index(drop=True).equals(flags.reset_index(drop=True))  # every fix, every reason

    monkeypatch.setattr(dask_engine, "neighbour_ends", lambda *args: {})  # control: each partition judged alone
    alone = dask_engine.run_match_dask(MatchInputs(trails=str(tmp_path / "ds"), crimes=tmp_path / "crimes.csv"),
                                       tmp_path / "alone", CONFIG,
                                       dask_engine.DaskOptions(scheduler=in_process_cluster), scorer=None)
    assert alone.counts()["fixes_by_quality"]["outlier"] == 0
    assert set(alone.hits.loc[alone.hits["crime_ref"].str.startswith("SPIKE_"), "presence"]) == {"observed"}


@st.composite
def spiky_midnights(draw) -> tuple[pd.DataFrame, list[dict]]:
    """One to three subjects with fixes every 1-60 s (some LBS) from a few minutes before midnight UTC to a few
    after, spikes of one to three fixes planted near midnight (S0's always starting at its last fix of the first
    day), and a crime at each spike and on each trail."""
    rows, crimes = [], []
    for k in range(draw(st.integers(1, 3))):
        subject, x0, y0 = f"S{k}", 616_000.0, 244_000.0 + 3000.0 * k
        t = MIDNIGHT - pd.Timedelta(seconds=draw(st.integers(0, 400)))
        end = MIDNIGHT + pd.Timedelta(seconds=draw(st.integers(0, 400)))
        x, spike_left = x0, 0
        while t <= end:
            step = draw(st.sampled_from([1, 2, 5, 10, 30, 60]))
            near_midnight = abs((t - MIDNIGHT).total_seconds()) <= 90
            at_the_edge = k == 0 and t < MIDNIGHT <= t + pd.Timedelta(seconds=step)  # S0's last fix of the day
            if spike_left == 0 and (at_the_edge or near_midnight and draw(st.integers(0, 3)) == 0):
                spike_left = draw(st.integers(1, 3))
                crimes.append(crime(f"SPIKE_{subject}_{len(crimes)}", x + AWAY, y0, t - pd.Timedelta(minutes=5)))
            lbs = draw(st.integers(0, 9)) == 0
            rows.append({"subject_id": subject, "t": t, "x": x + (AWAY if spike_left else 0.0), "y": y0,
                         "accuracy_m": 700.0 if lbs else 5.0, "source": "LBS" if lbs else "GPS"})
            spike_left = max(spike_left - 1, 0)
            x += draw(st.floats(-1.5, 1.5)) * step
            t += pd.Timedelta(seconds=step)
        crimes.append(crime(f"TRAIL_{subject}", x0, y0 + 30, MIDNIGHT - pd.Timedelta(minutes=6), 12))
    return pd.DataFrame(rows), crimes


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spiky_midnights())
def test_dask_hits_are_the_local_hits_with_spikes_across_midnight(cluster, case):
    fixes, crimes = case
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        write_inputs(directory, fixes, crimes)
        local, run = run_both(directory, cluster, scored=False)
        assert_same(local, run)
        event(f"outliers flagged: {local.counts()['fixes_by_quality']['outlier'] > 0}")
