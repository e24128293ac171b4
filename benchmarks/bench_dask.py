"""Matching on Dask: throughput with 1, 2, ... worker processes on one simulated world, and the scaling.

Simulates a world (``geomatch.simulate.world``), writes it as a day-partitioned dataset, runs the local engine once as
the baseline, then ``run_match_dask`` on a local cluster of each size (one thread per worker, started before
the clock runs; its start-up time is printed apart). Prints per cluster size the wall time of the run (read and
validate, match, write), hits per second and fixes per second, the speed-up against one worker and the scaling
efficiency (speed-up / workers), the CPU seconds of the client and of the workers, and checks the hits are the
local engine's byte for byte. Scoring is left out, as in ``bench_match``: it measures the spatial core. Last, the
CPU of judging spikes at the partitions' edges (:mod:`geomatch.quality.pieces`), in one process, beside that of
flagging the partitions alone and as a share of the first run's CPU (target under 5 %).

Run alone, with a larger world and more workers (on a machine with the cores for them)::

    python -m benchmarks.bench_dask --workers 1,4,8,16 --subjects 2000 --days 30
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import time

from benchmarks.common import BENCH_DIR, timed
from geomatch.engines.dask_engine import (DaskOptions, judge_partition_ends, local_cluster, run_match_dask,
                                          validate_partition)
from geomatch.engines.dataset import open_dataset, write_partitioned
from geomatch.engines.plan import neighbour_ends, plan_slots
from geomatch.match.config import MatchConfig
from geomatch.quality import flag_quality
from geomatch.quality.pieces import trail_ends
from geomatch.pipeline import MatchInputs, run_match
from geomatch.simulate.world import simulate_world, write_world


def _world(subjects: int, days: int) -> tuple:
    """The simulated world's trails and crimes files, and its day-partitioned dataset (made once, reused)."""
    world_dir = BENCH_DIR / f"world_{subjects}x{days}"
    trails, crimes = world_dir / "trails.parquet", world_dir / "crimes.csv"
    if not trails.exists():
        started = time.perf_counter()
        write_world(simulate_world(n_subjects=subjects, days=days, seed=1), world_dir)
        print(f"simulated {subjects} subjects x {days} days in {time.perf_counter() - started:.1f} s -> {world_dir}")
    dataset = world_dir / "trails_by_day"
    if not dataset.exists():
        started = time.perf_counter()
        written = write_partitioned(trails, str(dataset), by=("day",))
        print(f"partitioned by day into {len(written)} files in {time.perf_counter() - started:.1f} s")
    return trails, crimes, dataset


def run(workers: list[int], subjects: int, days: int) -> float:
    """Measure and print the scaling table (see the module docstring); the CPU s (client and workers) of the
    first cluster size's run."""
    from distributed import Client

    trails, crimes, dataset = _world(subjects, days)
    figures: dict[str, float] = {}
    local_out = BENCH_DIR / "dask_local"
    shutil.rmtree(local_out, ignore_errors=True)
    with timed(figures, "local"):
        local = run_match(MatchInputs(trails=trails, crimes=crimes), local_out, scorer=None)
    n_fixes, n_hits = len(local.trails.accepted), len(local.hits)
    print(f"world: {n_fixes:,} fixes, {len(local.crimes.accepted):,} crimes, {n_hits:,} hits")
    print(f"  local engine, one process: {figures['local']:.2f} s  ({n_hits / figures['local']:,.0f} hits/s, "
          f"{n_fixes / figures['local']:,.0f} fixes/s)")
    print(f"  {'workers':>7} {'start s':>8} {'run s':>8} {'hits/s':>10} {'fixes/s':>12} {'speed-up':>9} "
          f"{'efficiency':>10}  same bytes  (stages, s)")
    base, run_cpu = None, None
    for n in workers:
        out = BENCH_DIR / f"dask_{n}"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        with local_cluster(n) as cluster, Client(cluster) as client:
            client.run(importlib.import_module, "geomatch.engines.dask_engine")  # before the clock runs
            start_s = time.perf_counter() - started
            workers_cpu = sum(client.run(time.process_time).values())
            with timed(figures, f"dask_{n}"):
                dask_run = run_match_dask(MatchInputs(trails=str(dataset), crimes=crimes), out,
                                          options=DaskOptions(scheduler=cluster.scheduler_address), scorer=None)
            workers_cpu = sum(client.run(time.process_time).values()) - workers_cpu
        run_cpu = run_cpu or figures[f"dask_{n}_cpu"] + workers_cpu
        seconds = figures[f"dask_{n}"]
        base = base or seconds * n  # one worker's time, scaled when the list does not start at 1
        speedup = base / seconds
        same = all((out / f).read_bytes() == (local_out / f).read_bytes() for f in ("hits.parquet", "hits.csv"))
        print(f"  {n:>7} {start_s:>8.1f} {seconds:>8.2f} {n_hits / seconds:>10,.0f} {n_fixes / seconds:>12,.0f} "
              f"{speedup:>8.2f}x {speedup / n:>9.0%}  {same}   "
              f"({', '.join(f'{k} {v:.2f}' for k, v in dask_run.seconds.items())}; CPU s: client "
              f"{figures[f'dask_{n}_cpu']:.2f}, workers {workers_cpu:.2f}; load {_load()})")
    if workers[:2] == [1, 2]:
        ratio = figures["dask_1"] / figures["dask_2"]
        print(f"  scaling 1 -> 2 workers: {ratio:.2f}x (efficiency {ratio / 2:.0%}; this machine has 2 cores "
              "shared with other work)")
    return run_cpu


def edge_cost(dataset, run_cpu: float, repeats: int = 3) -> None:
    """Print the CPU (s, one process, best of ``repeats``) of judging spikes at the partitions' edges (the heads
    and tails of round 1, the client's merge, the judging tasks) beside that of flagging the partitions on their
    own, which round 1 did before and still does, and as a share of a Dask run's CPU (``run_cpu``, s)."""

    data, rule = open_dataset(str(dataset)), MatchConfig().quality_rule
    inputs = MatchInputs(trails=str(dataset), crimes="")
    parts = [validate_partition(data.fs, f, f.name, inputs, rule) for f in data.files]
    slots = plan_slots(data.files)

    def flagging() -> None:
        for part in parts:
            flag_quality(part.fixes, rule)

    def judging() -> None:
        ends = [trail_ends(p.fixes, rule) for p in parts]  # round 1's share
        for f, (before, after) in neighbour_ends(slots, ends, rule).items():
            judge_partition_ends(parts[f], before, after, rule)

    best = {name: min(_cpu(job) for _ in range(repeats)) for name, job in (("flag", flagging), ("edges", judging))}
    print(f"  spikes at partition edges ({len(parts)} files, one process, best of {repeats}): judging the edges "
          f"{best['edges']:.3f} CPU s, flagging the partitions alone {best['flag']:.3f} CPU s "
          f"(+{best['edges'] / best['flag']:.0%} on the quality stage); {best['edges'] / run_cpu:.1%} of the first "
          f"Dask run's CPU ({run_cpu:.1f} s; target < 5 %); load {_load()}")


def _cpu(job) -> float:
    started = time.process_time()
    job()
    return time.process_time() - started


def _load() -> str:
    """The 1-minute load average, to read wall times by."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main(quick: bool = False, workers: tuple[int, ...] = (1, 2), subjects: int | None = None,
         days: int | None = None) -> None:
    default_subjects, default_days = (20, 3) if quick else (200, 30)  # bench_match's force-month world
    run_cpu = run(list(workers), subjects or default_subjects, days or default_days)
    edge_cost(_world(subjects or default_subjects, days or default_days)[2], run_cpu)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small world, for a smoke test")
    parser.add_argument("--workers", default="1,2", help="cluster sizes, e.g. 1,2,4,8,16 (the first should be 1)")
    parser.add_argument("--subjects", type=int, help="subjects in the world (default 200, quick 20)")
    parser.add_argument("--days", type=int, help="days in the world (default 30, quick 3)")
    args = parser.parse_args()
    main(args.quick, tuple(int(w) for w in args.workers.split(",")), args.subjects, args.days)
