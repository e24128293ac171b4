"""Evidence packs per second: the same few hundred hits of a simulated world made with 1 worker and with 2.

Prints, from one run: packs per second with one worker (in process) and with two worker processes, the speed-up,
the mean size of a pack, and a check that both runs wrote the same bytes (every file but the manifests, whose
``generated_at`` differs).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from benchmarks.common import BENCH_DIR
from geomatch.match.config import MatchConfig
from geomatch.ingest.crimes import load_crimes
from geomatch.evidence import EvidenceOptions, make_packs, select_hits
from geomatch.match.matcher import match_hits
from geomatch.simulate.world import simulate_world, write_world
from geomatch.ingest.trails import load_trails


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def main(quick: bool = False) -> None:
    subjects, days, n_hits = (6, 1, 12) if quick else (12, 2, 200)
    root = BENCH_DIR / "evidence"
    shutil.rmtree(root, ignore_errors=True)
    write_world(simulate_world(n_subjects=subjects, days=days, seed=3), root / "world")
    config = MatchConfig()
    trails = load_trails(root / "world" / "trails.parquet")
    crimes = load_crimes(root / "world" / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    hits = match_hits(trails.accepted, crimes.accepted, config)
    chosen = select_hits(hits, top=n_hits)
    print(f"world: {subjects} subjects x {days} days, {len(trails.accepted):,} fixes, {len(hits):,} hits; packs for "
          f"the {len(chosen):,} strongest (observed first, then closest)")
    options = EvidenceOptions(crs=trails.crs)
    inputs = [root / "world" / "trails.parquet", root / "world" / "crimes.csv"]
    runs = {}
    for workers in (1, 2):
        runs[workers] = make_packs(chosen, trails.accepted, crimes.accepted, root / f"packs_{workers}",
                                   config=config, options=options, inputs=inputs, workers=workers)
        print(f"{workers} worker(s): {len(chosen):,} packs in {runs[workers].seconds:.1f} s = "
              f"{runs[workers].packs_per_second:.2f} packs/s")
    print(f"speed-up with 2 workers: {runs[1].seconds / runs[2].seconds:.2f}x on {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f}: other work on the machine slows both runs)")
    size = sum(p.stat().st_size for p in runs[1].out_dir.rglob("*") if p.is_file())
    print(f"mean pack size: {size / max(len(chosen), 1) / 1e6:.2f} MB")
    same = _digests(runs[1].out_dir) == _digests(runs[2].out_dir)
    print(f"same bytes with 1 and 2 workers: {'yes' if same else 'NO'}")
