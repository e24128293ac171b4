"""The review store at force scale, on a SQLite file: recording runs, reviewing, verifying, auditing.

Prints, from one run: the time to record a run of hits (with their crimes) and to record it again (nothing new);
the baseline of writing the same hits with ``DataFrame.to_sql`` (a plain copy, no de-duplication or history);
reviews per second through ``add_review`` (one durable transaction each) against bare ``sqlite3`` inserts with the
same durability; ``verify_chain`` against hashing the same events in memory; and the monthly audit to XLSX.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks.common import BENCH_DIR, timed
from geomatch.store import add_review, build_audit, record_run, verify_chain, write_audit
from geomatch.store.chain import event_hash
from geomatch.store.engine import get_engine

UTC = timezone.utc


def frames(n_hits: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hits and crimes with the matcher's columns (values random but plausible)."""
    rng = np.random.default_rng(seed)
    n_crimes = max(n_hits // 2, 1)
    start = pd.Timestamp("2026-10-01T00:00Z") + pd.to_timedelta(rng.integers(0, 30 * 86400, n_crimes), unit="s")
    crimes = pd.DataFrame({
        "crime_ref": [f"CR/26/{i:07d}" for i in range(n_crimes)], "offence": "burglary_residential",
        "x": rng.uniform(600_000, 620_000, n_crimes), "y": rng.uniform(230_000, 250_000, n_crimes),
        "committed_from": start, "committed_to": start + pd.Timedelta(hours=2), "area": "Ipswich",
    })
    crime = rng.integers(0, n_crimes, n_hits)
    subject = rng.integers(0, 400, n_hits)
    hits = pd.DataFrame({
        "hit_id": [f"H{i:016x}" for i in range(n_hits)], "subject_id": [f"S-{s:04d}" for s in subject],
        "crime_ref": crimes["crime_ref"].to_numpy()[crime], "offence": "burglary_residential",
        "presence": rng.choice(["observed", "interpolated", "possible"], n_hits),
        "min_distance_m": rng.uniform(0, 150, n_hits), "closest_time": start.to_numpy()[crime],
        "first_in": start.to_numpy()[crime], "last_out": start.to_numpy()[crime],
        "time_in_zone_s": rng.uniform(0, 900, n_hits), "n_fixes_in_zone": rng.integers(0, 20, n_hits),
        "speed_at_closest_mps": rng.uniform(0, 15, n_hits), "accuracy_at_closest_m": 8.0,
        "max_gap_s": 60.0, "score": rng.uniform(0, 100, n_hits).round(1), "reasons": "inside zone",
    })
    for column in ("closest_time", "first_in", "last_out"):
        hits[column] = pd.to_datetime(hits[column], utc=True)
    return hits, crimes


def main(quick: bool = False) -> None:
    n_hits, n_reviews = (5_000, 200) if quick else (100_000, 2_000)
    folder = BENCH_DIR / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'store.db'}"
    hits, crimes = frames(n_hits)
    seconds: dict[str, float] = {}
    get_engine(url)  # schema migration, not timed
    received = datetime(2026, 10, 15, 12, tzinfo=UTC)
    with timed(seconds, "record"):
        record_run(url, hits, crimes, {"bench": True}, received_at=received)
    with timed(seconds, "record_again"):
        again = record_run(url, hits, crimes, None, received_at=received)
    assert again.hits_unchanged == n_hits
    baseline = sa.create_engine(f"sqlite:///{folder / 'to_sql.db'}")
    with timed(seconds, "to_sql"):
        hits.to_sql("hits", baseline, index=False, chunksize=10_000)
        crimes.to_sql("crimes", baseline, index=False, chunksize=10_000)
    print(f"record a run of {n_hits:,} hits + {len(crimes):,} crimes: {seconds['record']:.2f} s "
          f"({n_hits / seconds['record']:,.0f} hits/s); again, nothing new: {seconds['record_again']:.2f} s")
    print(f"  baseline DataFrame.to_sql of the same rows (no de-duplication, no history): {seconds['to_sql']:.2f} s "
          f"-> record_run is {seconds['record'] / seconds['to_sql']:.1f}x")

    first = datetime(2026, 10, 16, 9, tzinfo=UTC)
    ids = hits["hit_id"].to_numpy()
    with timed(seconds, "reviews"):
        for i in range(n_reviews):
            add_review(url, ids[i * 7 % n_hits], outcome="investigation", by="DC 2201", note=f"review {i}",
                       at=first + timedelta(seconds=60 * i))
    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, hit_id TEXT, note TEXT, hash TEXT)")
    with timed(seconds, "raw_reviews"):
        for i in range(n_reviews):
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (i + 1, ids[i], f"review {i}", "0" * 64))
            raw.execute("COMMIT")
    raw.close()
    print(f"reviews through add_review (one durable transaction each, chained): "
          f"{n_reviews / seconds['reviews']:,.0f} /s; bare sqlite3 insert+commit, same durability: "
          f"{n_reviews / seconds['raw_reviews']:,.0f} /s -> {seconds['reviews'] / seconds['raw_reviews']:.1f}x")

    with timed(seconds, "verify"):
        report = verify_chain(url)
    assert report.ok and report.n_events == n_reviews
    at = first
    started = time.perf_counter()
    prev = "0" * 64
    for i in range(n_reviews):
        prev = event_hash(seq=i + 1, hit_id=ids[i], at=at, by="DC 2201", outcome="investigation",
                          note=f"review {i}", prev_hash=prev)
    in_memory = time.perf_counter() - started
    print(f"verify_chain over {n_reviews:,} events: {seconds['verify'] * 1000:.0f} ms; hashing them in memory: "
          f"{in_memory * 1000:.0f} ms -> {seconds['verify'] / in_memory:.1f}x (reading the rows is the rest)")

    with timed(seconds, "audit"):
        report = build_audit(url, "2026-10", as_of=datetime(2026, 11, 5, tzinfo=UTC))
    with timed(seconds, "xlsx"):
        write_audit(report, folder / "audit.xlsx")
    with timed(seconds, "csv"):
        write_audit(report, folder / "audit.csv")
    size_mb = (folder / "audit.xlsx").stat().st_size / 1e6
    print(f"October audit over {len(report.rows):,} hits: query {seconds['audit']:.2f} s, "
          f"XLSX {seconds['xlsx']:.2f} s ({size_mb:.1f} MB), CSV {seconds['csv']:.2f} s")


if __name__ == "__main__":
    main()
