"""V-VOL at force scale: a million crimes and two million involvements scored into a tasking pack; seven months of
real police.uk street crime for one force (a folder of gzipped monthly files) scored the same way; and the IOM
cohort report for 1,000 members among 30,000 offenders.

The data is the project's seeded synthetic set (:mod:`vvol.synth`) written as Parquet; ``vvol score`` runs in a
fresh process (read, validate, window, repeats, hot spots, links, scores, and the whole pack: CSV, XLSX, HTML with
maps, manifest). Printed: wall time and peak resident memory against the targets (60 s, 4 GB), the child's CPU
time (which the other users of a shared machine do not inflate), the machine's load, and whether the planted
problems came out on top.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import resource
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import BENCH_DIR, run_cli
from vvol import synth, synth_cohort

TARGET_S = 60.0
TARGET_MB = 4096.0
COHORT_TARGET_S = 30.0
POLICE_UK_2025 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "police-uk" / "avon-and-somerset-2025"


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _in_child(function, *args):
    """Run ``function(*args)`` in a fresh process and return its (small) result. On Linux a child's peak RSS
    starts from its parent's size when it forks, so the data is generated away from the process that forks the
    measured commands."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _score_input(n_crimes: int, out: Path):
    data = synth.generate(n_crimes, seed=42)
    crimes_path, people_path = synth.write(data, out, fmt="parquet")
    return crimes_path, people_path, data.as_of, data.truth, len(data.crimes), len(data.people)


def _cohort_input(n_offenders: int, n_members: int, out: Path):
    data = synth_cohort.generate(n_offenders=n_offenders, n_members=n_members, effect=0.3, seed=42)
    paths = synth_cohort.write(data, out, fmt="parquet")
    return paths, data.as_of, len(data.crimes), len(data.people), len(data.cohort)


def main(quick: bool = False) -> None:
    n_crimes = 100_000 if quick else 1_000_000
    root = BENCH_DIR / "vvol"
    started = time.perf_counter()
    crimes_path, people_path, as_of, truth, n_rows, n_people = _in_child(_score_input, n_crimes, root / "input")
    print(f"generated {n_rows:,} crimes and {n_people:,} involvements (seed 42, Parquet) in "
          f"{time.perf_counter() - started:.1f} s")

    load_before = os.getloadavg()[0]
    cpu_before = _child_cpu_s()
    run = run_cli("vvol", ["score", "--crimes", str(crimes_path), "--people", str(people_path), "--as-of",
                           as_of, "--period", "90d", "--out", str(root / "pack"), "--no-progress"])
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
    top_offenders = set(offenders["person_id"].head(2 * len(truth.prolific_offenders)))
    top_victims = set(victims["person_id"].head(5 * len(truth.repeat_victims)))
    triads = sum(any(f"person:{v} " in m and f"person:{o} " in m and f"premises:{h}" in m
                     for m in clusters["members"]) for v, o, h in truth.triads)
    print(f"  planted: prolific offenders in the top {len(top_offenders)}: "
          f"{len(top_offenders & set(truth.prolific_offenders))}/{len(truth.prolific_offenders)}; repeat victims "
          f"in the top {len(top_victims)}: {len(top_victims & set(truth.repeat_victims))}/"
          f"{len(truth.repeat_victims)}; domestic triads found as clusters: {triads}/{len(truth.triads)}")

    real_police_data(root)
    cohort(root, quick)


def real_police_data(root: Path) -> None:
    """``vvol score`` on the police.uk folder, as an analyst would run it (skipped when the data is absent)."""
    if not POLICE_UK_2025.is_dir():
        print(f"police.uk extract not found at {POLICE_UK_2025}: skipped")
        return
    cpu_before = _child_cpu_s()
    run = run_cli("vvol", ["score", "--crimes", str(POLICE_UK_2025), "--as-of", "2025-09-30", "--out",
                           str(root / "police-uk-pack"), "--no-progress"])
    cpu = _child_cpu_s() - cpu_before
    print("\n".join("  " + line for line in run.output.strip().splitlines()[:6]))
    print(f"vvol score on police.uk (7 gzipped monthly files): wall {run.seconds:.1f} s, CPU {cpu:.1f} s, peak "
          f"RSS {run.peak_rss_mb:,.0f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    locations = pd.read_csv(root / "police-uk-pack" / "locations.csv", keep_default_na=False)
    top = locations.head(25)
    print(f"  top 25: {int((top['score'] == top['score'].iloc[0]).sum())} share the top score "
          f"{top['score'].iloc[0]}, ordered by harm; {top['place'].nunique()} distinct place names; "
          f"{int((locations['same_as_hotspot'] != '').sum()):,} hot spots listed once as their map point")


def cohort(root: Path, quick: bool) -> None:
    """``vvol cohort`` on a generated population: 1,000 members among 30,000 offenders (a tenth when quick)."""
    scale = 10 if quick else 1
    (crimes, people, members), as_of, n_crimes, n_people, n_members = _in_child(
        _cohort_input, 30_000 // scale, 1000 // scale, root / "cohort-input")
    print(f"generated {n_crimes:,} crimes, {n_people:,} involvements (Parquet), {n_members:,} members")
    cpu_before = _child_cpu_s()
    run = run_cli("vvol", ["cohort", "--cohort", str(members), "--crimes", str(crimes), "--people", str(people),
                           "--as-of", as_of, "--out", str(root / "cohort-report"), "--no-progress"])
    cpu = _child_cpu_s() - cpu_before
    print("  " + run.output.strip().splitlines()[0][:300])
    print(f"vvol cohort: wall {run.seconds:.1f} s (target {COHORT_TARGET_S:.0f} s: "
          f"{run.seconds / COHORT_TARGET_S:.2f}x of target), CPU {cpu:.1f} s, peak RSS {run.peak_rss_mb:,.0f} MB "
          f"(target {TARGET_MB:,.0f} MB: {run.peak_rss_mb / TARGET_MB:.2f}x); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
