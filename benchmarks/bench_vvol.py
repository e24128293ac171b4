"""V-VOL at force scale: a million crimes and two million involvements, scored into a tasking pack.

The data is the project's seeded synthetic set (:mod:`vvol.synth`) written as Parquet; ``vvol score`` runs in a
fresh process (read, validate, window, repeats, hot spots, links, scores, and the whole pack: CSV, XLSX, HTML with
maps, manifest). Printed: wall time and peak resident memory against the targets (60 s, 4 GB), the child's CPU
time (which the other users of a shared machine do not inflate), the machine's load, and whether the planted
problems came out on top.
"""
from __future__ import annotations

import os
import resource
import time

import pandas as pd

from benchmarks.common import BENCH_DIR, run_cli
from vvol import synth

TARGET_S = 60.0
TARGET_MB = 4096.0


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(quick: bool = False) -> None:
    n_crimes = 100_000 if quick else 1_000_000
    root = BENCH_DIR / "vvol"
    started = time.perf_counter()
    data = synth.generate(n_crimes, seed=42)
    crimes_path, people_path = synth.write(data, root / "input", fmt="parquet")
    print(f"generated {len(data.crimes):,} crimes and {len(data.people):,} involvements (seed 42, Parquet) in "
          f"{time.perf_counter() - started:.1f} s")

    load_before = os.getloadavg()[0]
    cpu_before = _child_cpu_s()
    run = run_cli("vvol", ["score", "--crimes", str(crimes_path), "--people", str(people_path), "--as-of",
                           data.as_of, "--period", "90d", "--out", str(root / "pack"), "--no-progress"])
    cpu = _child_cpu_s() - cpu_before
    load_after = os.getloadavg()[0]
    print(run.output.strip().splitlines()[0])
    print(f"vvol score: wall {run.seconds:.1f} s (target {TARGET_S:.0f} s: {run.seconds / TARGET_S:.2f}x of "
          f"target), peak RSS {run.peak_rss_mb:,.0f} MB (target {TARGET_MB:,.0f} MB: "
          f"{run.peak_rss_mb / TARGET_MB:.2f}x)")
    print(f"  CPU {cpu:.1f} s in the child ({cpu / TARGET_S:.2f}x of the wall target); load average "
          f"{load_before:.1f} before, {load_after:.1f} after on {os.cpu_count()} cores")

    pack = root / "pack"
    offenders = pd.read_csv(pack / "offenders.csv", usecols=["person_id"])
    victims = pd.read_csv(pack / "victims.csv", usecols=["person_id"])
    clusters = pd.read_csv(pack / "clusters.csv", usecols=["members"], keep_default_na=False)
    truth = data.truth
    top_offenders = set(offenders["person_id"].head(2 * len(truth.prolific_offenders)))
    top_victims = set(victims["person_id"].head(5 * len(truth.repeat_victims)))
    triads = sum(any(f"person:{v} " in m and f"person:{o} " in m and f"premises:{h}" in m
                     for m in clusters["members"]) for v, o, h in truth.triads)
    print(f"  planted: prolific offenders in the top {len(top_offenders)}: "
          f"{len(top_offenders & set(truth.prolific_offenders))}/{len(truth.prolific_offenders)}; repeat victims "
          f"in the top {len(top_victims)}: {len(top_victims & set(truth.repeat_victims))}/"
          f"{len(truth.repeat_victims)}; domestic triads found as clusters: {triads}/{len(truth.triads)}")
