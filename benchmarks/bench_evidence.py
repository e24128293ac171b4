"""Evidence packs per second on the sample week: the strongest hits made with 1 worker and with 2.

Prints, from one run: packs per second with one worker (in process) and with two worker processes, each per
core against the target of :data:`TARGET_PER_CORE` packs per second per core, and packs per CPU-second (the CPU
time of the process drawing, or of the worker processes: what a quiet core would give, much less disturbed by
other work on the machine than the wall time), the speed-up, the mean size of a pack, and a check that both runs
wrote the same bytes (every file but the manifests, whose ``generated_at`` differs). The load average is printed
beside the figures.
"""
from __future__ import annotations

import hashlib
import os
import resource
import shutil
from pathlib import Path

from benchmarks.common import BENCH_DIR
from geomatch.evidence import EvidenceOptions, make_packs, select_hits
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TARGET_PER_CORE = 3.0
"""Packs per second per core the evidence stage aims at on the sample week (it made about one in 2026-11)."""


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def _cpu_seconds() -> float:
    """CPU time (user + system, s) of this process and of its finished children (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(quick: bool = False) -> None:
    n_hits = 8 if quick else 60
    root = BENCH_DIR / "evidence"
    shutil.rmtree(root, ignore_errors=True)
    config = MatchConfig()
    trails = load_trails(SAMPLE / "trails.parquet")
    crimes = load_crimes(SAMPLE / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    hits = match_hits(trails.accepted, crimes.accepted, config)
    chosen = select_hits(hits, top=n_hits)
    print(f"sample week: {len(trails.accepted):,} fixes, {len(hits):,} hits; packs for the {len(chosen):,} "
          f"strongest (observed first, then closest)")
    options = EvidenceOptions(crs=trails.crs)
    inputs = [SAMPLE / "trails.parquet", SAMPLE / "crimes.csv"]
    make_packs(chosen.head(2), trails.accepted, crimes.accepted, root / "warm", config=config, options=options)
    runs = {}
    for workers in (1, 2):
        cpu = _cpu_seconds()
        runs[workers] = make_packs(chosen, trails.accepted, crimes.accepted, root / f"packs_{workers}",
                                   config=config, options=options, inputs=inputs, workers=workers)
        cpu = _cpu_seconds() - cpu
        rate = runs[workers].packs_per_second
        cores = min(workers, os.cpu_count() or 1)
        print(f"{workers} worker(s): {len(chosen):,} packs in {runs[workers].seconds:.1f} s = {rate:.2f} packs/s = "
              f"{rate / cores:.2f} per core ({rate / cores / TARGET_PER_CORE:.2f}x the target of "
              f"{TARGET_PER_CORE:.0f} per core; load average {os.getloadavg()[0]:.1f}); {cpu:.1f} CPU s = "
              f"{len(chosen) / cpu:.2f} packs per CPU-second ({len(chosen) / cpu / TARGET_PER_CORE:.2f}x the "
              f"target); {len(runs[workers].failures)} failed")
    print(f"speed-up with 2 workers: {runs[1].seconds / runs[2].seconds:.2f}x on {os.cpu_count()} cores")
    size = sum(p.stat().st_size for p in runs[1].out_dir.rglob("*") if p.is_file())
    print(f"mean pack size: {size / max(len(chosen), 1) / 1e6:.2f} MB")
    same = _digests(runs[1].out_dir) == _digests(runs[2].out_dir)
    print(f"same bytes with 1 and 2 workers: {'yes' if same else 'NO'}")
