"""The Dask engine against the local engine: byte-identical hits over day, subject and subject+day partitions,
retries, an unreadable partition, quarantine across partitions, and the overlap rule on its own."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.match.config import MatchConfig
from geomatch.core.crs import BNG, WGS84, transform
from geomatch.engines import dask_engine
from geomatch.engines.dataset import open_dataset, write_partitioned
from geomatch.engines.plan import Slot, needed_fixes, plan_tasks
from geomatch.core.errors import InputError
from geomatch.pipeline import MatchInputs, run_match
from geomatch.ingest.trails import load_trails

START = pd.Timestamp("2026-10-22 00:00", tz="UTC")  # five days, over the UK clock change on 25 October
DAYS = 5
CONFIG = MatchConfig()


def make_world(directory: Path, seed: int = 7) -> tuple[Path, Path]:
    """A small seeded world that stresses partition boundaries.

    Six subjects walk (and sometimes drive) with a fix a minute, with short and long gaps; S02 has no fixes at
    all on the second day, nobody has any on the fourth; a few rows are bad. Crimes sit on and near the trails,
    many with windows across midnight UTC, some longer than a day, some inside gaps.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        t = START + pd.to_timedelta(np.arange(0, DAYS * 86400, 60) + rng.integers(0, 20), unit="s")
        speed = np.where(rng.random(len(t)) < 0.05, 12.0, 0.8)
        heading = np.cumsum(rng.normal(0, 0.4, len(t)))
        x = 616_000 + np.cumsum(speed * 60 * np.cos(heading)) * 0.3 + s * 400
        y = 244_000 + np.cumsum(speed * 60 * np.sin(heading)) * 0.3
        keep = np.ones(len(t), dtype=bool)
        for _ in range(12):  # gaps of 6 min to 3 h
            at = rng.integers(0, len(t))
            keep[at:at + rng.choice([6, 20, 90, 180])] = False
        day = ((t - START) // pd.Timedelta(days=1)).to_numpy()
        keep &= day != 3
        if s == 1:
            keep &= day != 1
        frame = pd.DataFrame({"subject_id": f"S{s + 1:02d}", "t": t[keep], "x": x[keep], "y": y[keep],
                              "accuracy_m": rng.choice([5.0, 12.0, 40.0, np.nan, 400.0], keep.sum()),
                              "source": rng.choice(["GPS", "GPS", "gps", "LBS", "WIFI", ""], keep.sum())})
        rows.append(frame)
    fixes = pd.concat(rows, ignore_index=True)
    lon, lat = transform(fixes["x"].to_numpy(), fixes["y"].to_numpy(), BNG, WGS84)
    trails = pd.DataFrame({
        "subject_id": fixes["subject_id"],
        "timestamp": fixes["t"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lat": np.round(lat, 7), "lon": np.round(lon, 7),
        "accuracy_m": fixes["accuracy_m"], "source": fixes["source"]})
    trails = trails.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any order in the file
    bad = pd.DataFrame([
        {"subject_id": "S01", "timestamp": "not a time", "lat": 52.05, "lon": 1.15},
        {"subject_id": "", "timestamp": "2026-10-22T10:00:00Z", "lat": 52.05, "lon": 1.15},
        {"subject_id": "S03", "timestamp": "2026-10-23T10:00:30Z", "lat": 1.15, "lon": 52.05},
        trails.iloc[5].to_dict(),  # an exact repeat of a fix
    ])
    trails = pd.concat([trails, bad], ignore_index=True)
    trails_path = directory / "trails.csv"
    trails.to_csv(trails_path, index=False)

    crimes = []
    for k in range(160):
        fix = fixes.iloc[rng.integers(0, len(fixes))]
        near = rng.random() < 0.8
        cx = fix["x"] + (rng.normal(0, 60) if near else rng.normal(0, 2000))
        cy = fix["y"] + (rng.normal(0, 60) if near else rng.normal(0, 2000))
        length = rng.choice([600, 3600, 4 * 3600, 13 * 3600, 30 * 3600])
        if k % 3 == 0:  # a window across midnight UTC
            midnight = fix["t"].floor("D") + pd.Timedelta(days=int(rng.integers(0, 2)))
            start = midnight - pd.Timedelta(seconds=int(rng.integers(0, 7200)))
        else:
            start = fix["t"] - pd.Timedelta(seconds=int(rng.integers(0, length)))
        end = start + pd.Timedelta(seconds=int(length))
        local = lambda ts: ts.tz_convert("Europe/London").strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
        crimes.append({"crime_ref": f"C{k:04d}",
                       "offence": rng.choice(["burglary_residential", "robbery_personal", "TFMV"]),
                       "easting": round(cx, 1), "northing": round(cy, 1),
                       "committed_from": local(start), "committed_to": local(end)})
    crimes_path = directory / "crimes.csv"
    pd.DataFrame(crimes).to_csv(crimes_path, index=False)
    return trails_path, crimes_path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("world")
    trails, crimes = make_world(directory)
    local = run_match(MatchInputs(trails=trails, crimes=crimes), directory / "local", CONFIG)
    return directory, trails, crimes, local


def run_dask(world, cluster, layout: str, out: str, scored: bool = True, **option):
    directory, trails, crimes, _ = world
    dataset = directory / f"ds_{layout.replace(',', '_')}"
    if not dataset.exists():
        write_partitioned(trails, str(dataset), by=tuple(layout.split(",")), buckets=3)
    inputs = MatchInputs(trails=str(dataset), crimes=crimes)
    options = dask_engine.DaskOptions(scheduler=cluster, **option)
    unscored = {} if scored else {"scorer": None}
    return dask_engine.run_match_dask(inputs, directory / out, CONFIG, options, **unscored)


@pytest.mark.parametrize("layout", ["day", "subject", "subject,day"])
def test_hits_identical_to_local_engine_byte_for_byte(world, cluster, layout):
    directory, _, _, local = world
    run = run_dask(world, cluster, layout, f"dask_{layout}")
    assert set(local.hits["presence"]) == {"observed", "interpolated", "possible"}
    assert len(local.hits) > 100
    for name in ("hits.parquet", "hits.csv"):
        assert (run.out_dir / name).read_bytes() == (local.out_dir / name).read_bytes(), name
    assert run.counts() == local.counts()  # rows in = accepted + quarantined, over all partitions


@pytest.mark.slow
def test_sample_world_identical_to_local_engine(cluster, tmp_path):
    """The committed sample world (36 subjects x 7 days over the clock change, with dirty rows), scored."""
    sample = Path(__file__).parents[3] / "sample_data"
    local = run_match(MatchInputs(trails=sample / "trails.parquet", crimes=sample / "crimes.csv"), tmp_path / "local")
    write_partitioned(sample / "trails.parquet", str(tmp_path / "ds"), by=("day",))
    run = dask_engine.run_match_dask(MatchInputs(trails=str(tmp_path / "ds"), crimes=sample / "crimes.csv"),
                                     tmp_path / "dask", options=dask_engine.DaskOptions(scheduler=cluster))
    assert len(local.hits) > 100 and "score" in local.hits
    for name in ("hits.parquet", "hits.csv"):
        assert (run.out_dir / name).read_bytes() == (local.out_dir / name).read_bytes(), name
    assert run.counts() == local.counts()


def test_boundary_cases_are_really_exercised(world):
    _, _, _, local = world
    hits = local.hits
    crosses_midnight = hits["window_start"].dt.normalize() != hits["window_end"].dt.normalize()
    assert crosses_midnight.sum() > 20
    assert (hits["max_gap_s"] > 86400).any()  # S02's missing day, measured from the next partition
    assert hits["long_window"].any()


def test_halo_and_edge_fixes_are_both_needed(world, cluster, monkeypatch):
    """Controls: without the edge fixes a measurement differs; without the halo hits are lost."""
    _, _, _, local = world
    expected = local.hits.set_index("hit_id")
    real_tasks = dask_engine.plan_tasks
    monkeypatch.setattr(dask_engine, "edge_fixes", lambda slots, tasks, edges: [pd.DataFrame() for _ in tasks])
    hits = run_dask(world, cluster, "day", "dask_no_edges", scored=False).hits.set_index("hit_id")
    assert hits.index.equals(expected.index)
    assert (hits["max_gap_s"] != expected["max_gap_s"]).any()
    monkeypatch.undo()
    monkeypatch.setattr(dask_engine, "plan_tasks", lambda *args: [
        replace(t, reads=t.reads[:1], after_slots=t.reads[1:] + t.after_slots) for t in real_tasks(*args)])
    hits = run_dask(world, cluster, "day", "dask_no_halo", scored=False).hits
    assert len(hits) < len(expected)


def test_quarantine_and_manifest_name_partitions(world, cluster):
    directory, _, _, local = world
    run = run_dask(world, cluster, "day", "dask_manifest")
    quarantined = pd.read_csv(run.out_dir / "quarantine" / "trails.csv", dtype=str)
    assert quarantined["partition"].str.startswith("day=").all()
    assert "day=unknown/part-0.parquet" in set(quarantined["partition"])
    expected = pd.read_csv(local.out_dir / "quarantine" / "trails.csv", dtype=str)
    assert sorted(zip(quarantined["source_row"], quarantined["reason"])) == \
        sorted(zip(expected["source_row"], expected["reason"]))  # the original file's row numbers
    manifest = json.loads((run.out_dir / "manifest.json").read_text())
    engine = manifest["engine"]
    assert engine["name"] == "dask" and engine["workers"] == 2
    assert [p["path"] for p in engine["partitions"]] == [f.name for f in open_dataset(engine["dataset"]).files]
    assert sum(p["rows_in"] for p in engine["partitions"]) == manifest["counts"]["trails"]["rows_in"]
    assert all(len(p["sha256"]) == 64 for p in engine["partitions"])


def test_failed_task_is_retried(world, in_process_cluster, monkeypatch):
    directory, _, _, local = world
    real = dask_engine.read_partition
    failed = set()

    def flaky(fs, part, shown, column_map=None):
        if part.name not in failed:  # every partition's first read fails, as on a lost worker
            failed.add(part.name)
            raise OSError("connection reset")
        return real(fs, part, shown, column_map)

    monkeypatch.setattr(dask_engine, "read_partition", flaky)
    run = run_dask(world, in_process_cluster, "day", "dask_retried", retries=1)
    assert failed and (run.out_dir / "hits.csv").read_bytes() == (local.out_dir / "hits.csv").read_bytes()
    monkeypatch.setattr(dask_engine, "read_partition", flaky)
    failed.clear()
    with pytest.raises(OSError):
        run_dask(world, in_process_cluster, "day", "dask_not_retried", retries=0)
    assert not (directory / "dask_not_retried").exists()


def test_dataset_behind_an_fsspec_url(world, in_process_cluster):
    """The same run over an fsspec URL (the in-memory filesystem here, shared with the in-process worker)."""
    directory, trails, crimes, local = world
    written = write_partitioned(trails, "memory://geomatch-test/trails", by=("day",))
    assert written and all(p.startswith("/geomatch-test/trails/day=") for p in written)
    run = dask_engine.run_match_dask(MatchInputs(trails="memory://geomatch-test/trails", crimes=crimes),
                                     directory / "dask_memory", CONFIG,
                                     dask_engine.DaskOptions(scheduler=in_process_cluster), scorer=None)
    unscored = run_match(MatchInputs(trails=trails, crimes=crimes), directory / "local_unscored", CONFIG, scorer=None)
    assert (run.out_dir / "hits.parquet").read_bytes() == (unscored.out_dir / "hits.parquet").read_bytes()
    assert json.loads(run.manifest.read_text())["engine"]["dataset"] == "memory://geomatch-test/trails"


def test_unreadable_partition_is_named_and_nothing_is_written(world, cluster, tmp_path):
    directory, trails, crimes, _ = world
    dataset = tmp_path / "broken"
    write_partitioned(trails, str(dataset), by=("day",))
    victim = dataset / "day=2026-10-24" / "part-0.parquet"
    victim.write_bytes(victim.read_bytes()[:200] + b"\x00" * 50)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="day=2026-10-24/part-0.parquet"):
        dask_engine.run_match_dask(MatchInputs(trails=str(dataset), crimes=crimes), out, CONFIG,
                                   dask_engine.DaskOptions(scheduler=cluster, retries=1))
    assert not out.exists()
    result = CliRunner().invoke(cli.geomatch, ["match", "--engine", "dask", "--scheduler", cluster, "--trails",
                                               str(dataset), "--crimes", str(crimes), "--out", str(out)])
    assert result.exit_code == 2
    assert "day=2026-10-24/part-0.parquet" in result.output and "could not be read" in result.output
    assert not out.exists()


def test_cli_partition_then_match_on_a_local_cluster_it_starts(world, tmp_path):
    directory, trails, crimes, local = world
    runner = CliRunner()
    result = runner.invoke(cli.geomatch, ["partition", "--trails", str(trails), "--by", "day", "--out",
                                          str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "5 partitions written" in result.output  # four days with fixes, and day=unknown
    options = dask_engine.DaskOptions(workers=1, processes=False)  # the CLI starts worker processes
    run = dask_engine.run_match_dask(MatchInputs(trails=str(tmp_path / "ds"), crimes=crimes), tmp_path / "out",
                                     CONFIG, options)
    assert (run.out_dir / "hits.parquet").read_bytes() == (local.out_dir / "hits.parquet").read_bytes()
    assert json.loads(run.manifest.read_text())["engine"]["scheduler"] == "LocalCluster(n_workers=1, threads_per_worker=1)"


def test_fixes_outside_their_day_stop_the_run(world, cluster, tmp_path):
    directory, trails, crimes, _ = world
    dataset = tmp_path / "moved"
    write_partitioned(trails, str(dataset), by=("day",))
    (dataset / "day=2026-10-22").rename(dataset / "day=2026-10-21")
    with pytest.raises(InputError, match="outside the partition's UTC day"):
        dask_engine.run_match_dask(MatchInputs(trails=str(dataset), crimes=crimes), tmp_path / "out", CONFIG,
                                   dask_engine.DaskOptions(scheduler=cluster, retries=0))


def test_a_subject_in_two_subject_partitions_stops_the_run(world, cluster, tmp_path):
    directory, trails, crimes, _ = world
    dataset = tmp_path / "split"
    written = write_partitioned(trails, str(dataset), by=("subject",), buckets=3)
    first, second = [Path(p) for p in written if "unknown" not in p][:2]
    shutil.copy(first, second.parent / "part-1.parquet")
    with pytest.raises(InputError, match="appears in both subject_bucket="):
        dask_engine.run_match_dask(MatchInputs(trails=str(dataset), crimes=crimes), tmp_path / "out", CONFIG,
                                   dask_engine.DaskOptions(scheduler=cluster, retries=0))


def test_partition_writer_places_every_row_once(world, tmp_path):
    _, trails, _, _ = world
    written = write_partitioned(trails, str(tmp_path / "ds"), by=("subject", "day"), buckets=4)
    parts = [pd.read_parquet(p) for p in written]
    assert sum(len(p) for p in parts) == len(pd.read_csv(trails))
    assert sorted(np.concatenate([p["original_row"].to_numpy() for p in parts]).tolist()) == \
        list(range(1, len(pd.read_csv(trails)) + 1))
    names = [Path(p).relative_to(tmp_path / "ds").as_posix() for p in written]
    assert all(n.startswith("subject_bucket=") for n in names)
    assert any("/day=unknown/" in n for n in names) and any(n.startswith("subject_bucket=unknown/") for n in names)
    validated = load_trails(written[0])  # a partition file is a trails file too
    assert validated.rows_in == len(parts[0])
    with pytest.raises(InputError, match="already holds Parquet"):
        write_partitioned(trails, str(tmp_path / "ds"), by=("day",))


def test_overlap_rule_owns_each_crime_once_and_reads_far_enough():
    day = 86_400 * 10**9
    slots = [Slot(group="g=a", start_ns=d * day, unknown_day=False, files=(i,)) for i, d in enumerate([0, 1, 2, 5])]
    slots.append(Slot(group="g=b", start_ns=None, unknown_day=False, files=(4,)))
    ws = np.array([-3 * day, day + day // 2, 2 * day - 1, 2 * day, 3 * day, 9 * day])
    we = ws + np.array([day // 2, 2 * day, 1, 4 * day, 10, day])
    tasks = {t.slot: t for t in plan_tasks(slots, ws, we)}
    owned = np.concatenate([t.owned for t in tasks.values() if t.slot < 4])
    assert sorted(owned.tolist()) == list(range(len(ws)))  # each crime once in group a ...
    assert tasks[4].owned.tolist() == list(range(len(ws))) and tasks[4].reads == (4,)  # ... and once in group b
    assert tasks[0].owned.tolist() == [0] and tasks[0].reads == (0,) and tasks[0].after_slots == (1, 2, 3)
    assert tasks[1].owned.tolist() == [1, 2] and tasks[1].reads == (1, 2)  # ends at 3.5 days: reads day 2
    assert tasks[2].owned.tolist() == [3, 4] and tasks[2].reads == (2, 3)  # ends day 6: reads up to day 5
    assert tasks[2].before_slots == (0, 1) and tasks[2].after_slots == ()
    assert tasks[3].owned.tolist() == [5]


def test_needed_fixes_keep_the_span_and_two_fixes_either_side_per_subject():
    t0 = pd.Timestamp("2026-10-22", tz="UTC")
    rows = [("A", h) for h in (0, 1, 2, 5, 6, 9, 10, 11)] + [("B", 1), ("B", 12)] + [("C", 0), ("C", 1)]
    trails = pd.DataFrame({"subject_id": pd.Categorical([s for s, _ in rows]),
                           "timestamp": [t0 + pd.Timedelta(hours=h) for _, h in rows]})
    span = ((t0 + pd.Timedelta(hours=5)).value, (t0 + pd.Timedelta(hours=8)).value)
    kept = needed_fixes(trails, span)
    hours = [(s, int((t - t0) / pd.Timedelta(hours=1))) for s, t in zip(kept["subject_id"], kept["timestamp"])]
    # the second fix either side gives the speed into or out of a gap at the end of a pair's range
    assert hours == [("A", 1), ("A", 2), ("A", 5), ("A", 6), ("A", 9), ("A", 10), ("B", 1), ("B", 12)]  # C ends before


def test_speed_into_a_gap_at_a_window_edge_comes_from_the_day_before(cluster, tmp_path):
    """A subject driving east at 12 m/s goes dark at 23:58 and reappears 25 min later, 2 km on; the scene, 4 km
    from both fixes, was reachable in the gap only at the speed of the segment 23:57-23:58: the day before the
    slot that owns the crime, and two fixes before its window. The Dask engine must see that fix too."""
    dark = pd.Timestamp("2026-11-02 23:58", tz="UTC")  # November: UK local time is UTC
    times = [dark - pd.Timedelta(minutes=m) for m in range(10, -1, -1)]
    times += [dark + pd.Timedelta(minutes=25 + m) for m in range(10)]
    x = np.array([615_000.0 - 720 * m for m in range(10, -1, -1)] + [617_000.0] * 10)
    lon, lat = transform(x, np.full(len(x), 244_000.0), BNG, WGS84)
    trails = tmp_path / "trails.csv"
    pd.DataFrame({"subject_id": "S01", "timestamp": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times],
                  "lat": np.round(lat, 8), "lon": np.round(lon, 8), "accuracy_m": 5.0}).to_csv(trails, index=False)
    crimes = tmp_path / "crimes.csv"
    pd.DataFrame([{"crime_ref": "C1", "offence": "burglary_residential", "easting": 616_000.0,
                   "northing": 244_000.0 + 3873.0, "committed_from": "2026-11-03 00:20:00",
                   "committed_to": "2026-11-03 00:25:00"}]).to_csv(crimes, index=False)
    local = run_match(MatchInputs(trails=trails, crimes=crimes), tmp_path / "local", CONFIG, scorer=None)
    assert local.hits["presence"].tolist() == ["possible"]
    write_partitioned(trails, str(tmp_path / "ds"), by=("day",))
    run = dask_engine.run_match_dask(MatchInputs(trails=str(tmp_path / "ds"), crimes=crimes), tmp_path / "dask",
                                     CONFIG, dask_engine.DaskOptions(scheduler=cluster), scorer=None)
    assert (run.out_dir / "hits.csv").read_bytes() == (local.out_dir / "hits.csv").read_bytes()


def test_a_local_clusters_workers_allocate_as_the_local_engine():
    """numpy's huge-page advice off and Arrow on the system allocator in every worker process it starts."""
    def memory_setup() -> tuple[str, bool]:
        import numpy
        import pyarrow

        return pyarrow.default_memory_pool().backend_name, bool(numpy._core.multiarray._get_madvise_hugepage())

    with dask_engine.dask_client(dask_engine.DaskOptions(workers=1)) as client:
        assert list(client.run(memory_setup).values()) == [("system", False)]
