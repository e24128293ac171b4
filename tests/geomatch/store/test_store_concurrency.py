"""Reliability of the review store: concurrent reviewers in separate processes, and writers killed mid-write."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geomatch.store import add_review, get_engine, record_run, verify_chain
from tests.geomatch.store.store_opener import open_new_store

SPAWN = multiprocessing.get_context("spawn")  # children open their own connections
N_WORKERS = 4
EVENTS_PER_WORKER = 25


def frames(n_hits: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    crimes = pd.DataFrame({"crime_ref": [f"C{i:06d}" for i in range(n_hits)], "offence": "robbery_personal",
                           "x": 530000.0, "y": 180000.0})
    hits = pd.DataFrame({"hit_id": [f"H{i:06d}" for i in range(n_hits)], "subject_id": "S1",
                         "crime_ref": crimes["crime_ref"], "offence": "robbery_personal",
                         "min_distance_m": 10.0, "score": 50.0})
    return hits, crimes


def count(db_url: str, table: str) -> int:
    with get_engine(db_url).connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def reviewer(db_url: str, worker: int, start) -> None:
    start.wait()
    record_run(db_url, *frames(5))  # every worker creates the schema and records the same run, all at once
    for i in range(EVENTS_PER_WORKER):
        add_review(db_url, f"H{(worker + i) % 5:06d}", outcome="investigation", by=f"worker {worker}",
                   note=f"w{worker} #{i}")


def test_concurrent_reviewers_on_a_new_store_lose_nothing(db_url):
    start = SPAWN.Event()
    workers = [SPAWN.Process(target=reviewer, args=(db_url, w, start)) for w in range(N_WORKERS)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    assert count(db_url, "runs") == N_WORKERS and count(db_url, "hits") == 5
    report = verify_chain(db_url)
    assert report.ok and report.n_events == N_WORKERS * EVENTS_PER_WORKER
    with get_engine(db_url).connect() as conn:
        notes = set(conn.execute(sa.text("SELECT note FROM review_events")).scalars())
    assert notes == {f"w{w} #{i}" for w in range(N_WORKERS) for i in range(EVENTS_PER_WORKER)}


def _pause_before_commit(after: int, paused) -> None:
    """From the ``after + 1``-th commit on, announce it and hang before COMMIT reaches the database."""
    commits = 0

    @sa.event.listens_for(Engine, "commit")
    def _hang(_conn) -> None:
        nonlocal commits
        commits += 1
        if commits > after:
            paused.set()
            time.sleep(120)


def review_until_killed(db_url: str, paused) -> None:
    get_engine(db_url)
    _pause_before_commit(3, paused)
    for i in range(100):
        add_review(db_url, "H000000", outcome="investigation", by="doomed", note=f"#{i}")


def record_until_killed(db_url: str, paused) -> None:
    get_engine(db_url)
    _pause_before_commit(0, paused)
    record_run(db_url, *frames(5000))


def kill_when_paused(target, db_url: str) -> None:
    paused = SPAWN.Event()
    process = SPAWN.Process(target=target, args=(db_url, paused))
    process.start()
    assert paused.wait(120), "the writer never reached its commit"
    os.kill(process.pid, signal.SIGKILL)
    process.join(30)
    assert process.exitcode == -signal.SIGKILL


def assert_database_intact(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        with get_engine(db_url).connect() as conn:
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"


def test_a_reviewer_killed_mid_write_leaves_the_chain_consistent(db_url):
    record_run(db_url, *frames(1))
    kill_when_paused(review_until_killed, db_url)
    assert_database_intact(db_url)
    report = verify_chain(db_url)
    assert report.ok and report.n_events == 3  # the fourth event was written but never committed
    event = add_review(db_url, "H000000", outcome="arrest", by="survivor")  # the write lock was released
    assert event.seq == 4 and verify_chain(db_url).ok


def test_a_run_killed_mid_write_records_nothing(db_url):
    get_engine(db_url)
    kill_when_paused(record_until_killed, db_url)
    assert_database_intact(db_url)
    assert [count(db_url, t) for t in ("runs", "crimes", "crime_versions", "hits")] == [0, 0, 0, 0]
    summary = record_run(db_url, *frames(5000))
    assert summary.hits_new == 5000 and count(db_url, "hits") == 5000


def review_once(db_url: str) -> None:
    add_review(db_url, "H000000", outcome="investigation", by="forked child")


def test_a_forked_child_and_its_parent_keep_their_own_connections(db_url):
    record_run(db_url, *frames(1))
    add_review(db_url, "H000000", outcome="investigation", by="parent")  # the parent's pool holds a connection
    child = multiprocessing.get_context("fork").Process(target=review_once, args=(db_url,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    add_review(db_url, "H000000", outcome="arrest", by="parent")  # the parent's connection still works
    report = verify_chain(db_url)
    assert report.ok and report.n_events == 3



def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    """Switching a new file to WAL mode raced ('database is locked' without waiting the busy timeout)."""
    for attempt in range(2):
        url = f"sqlite:///{tmp_path}/new{attempt}.db"
        start, results = SPAWN.Event(), SPAWN.Queue()
        workers = [SPAWN.Process(target=open_new_store, args=(url, start, results)) for _ in range(6)]
        for worker in workers:
            worker.start()
        time.sleep(3.0)  # every child imported and waiting
        start.set()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == [0] * len(workers)


def test_accesses_logged_by_many_threads_at_once_are_each_written_once_in_an_intact_chain(db_url):
    """The access log's group commit: threads that log while another write is under way have their entries
    written together by one of them; every entry is there exactly once, numbered without gaps, the chain intact,
    and each thread gets back its own entry's number."""
    import threading

    from geomatch.store.access import Access, list_access, log_access
    from geomatch.store.chain import ACCESS_CHAIN

    get_engine(db_url)
    n_threads, per_thread = 12, 15
    seqs: dict[tuple[int, int], int] = {}
    start = threading.Barrier(n_threads)

    def reviewer(i: int) -> None:
        start.wait()
        for j in range(per_thread):
            seqs[i, j] = log_access(db_url, Access(f"om{i:02d}", "view_hit", f"H{j:03d}", "127.0.0.1"))

    threads = [threading.Thread(target=reviewer, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = list_access(db_url).set_index("seq")
    assert len(seqs) == n_threads * per_thread and sorted(seqs.values()) == sorted(log.index)  # once each
    assert sorted(log.index) == list(range(1, len(log) + 1))  # no gaps
    for (i, j), seq in seqs.items():
        assert (log.loc[seq, "username"], log.loc[seq, "target"]) == (f"om{i:02d}", f"H{j:03d}")
    for i in range(n_threads):  # each thread's entries in the order it logged them, times in chain order
        assert [seqs[i, j] for j in range(per_thread)] == sorted(seqs[i, j] for j in range(per_thread))
    assert log.sort_index()["at"].is_monotonic_increasing
    assert verify_chain(db_url, ACCESS_CHAIN).ok


def log_from_threads(db_url: str, worker: int, n_threads: int, per_thread: int, start) -> None:
    import threading

    from geomatch.store.access import Access, log_access

    get_engine(db_url)
    start.wait()
    threads = [threading.Thread(target=lambda t=t: [log_access(db_url, Access(f"w{worker}t{t}", "view_hit", f"H{j:03d}"))
                                                    for j in range(per_thread)]) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_accesses_logged_by_threads_of_several_processes_at_once_keep_one_intact_chain(db_url):
    """Server processes (``geomatch serve --workers N``) log at once, each with its group commits: every entry
    once, numbered without gaps, each thread's in its order, the chain intact."""
    from geomatch.store.access import list_access
    from geomatch.store.chain import ACCESS_CHAIN

    get_engine(db_url)
    n_workers, n_threads, per_thread = 3, 4, 10
    start = SPAWN.Event()
    workers = [SPAWN.Process(target=log_from_threads, args=(db_url, w, n_threads, per_thread, start))
               for w in range(n_workers)]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # every child imported and waiting
    start.set()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    log = list_access(db_url).sort_values("seq")
    mine = log[log["action"] == "view_hit"]
    assert len(mine) == n_workers * n_threads * per_thread
    assert log["seq"].tolist() == list(range(1, len(log) + 1))
    for (username,), entries in mine.groupby(["username"]):
        assert entries["target"].tolist() == [f"H{j:03d}" for j in range(per_thread)], username
    assert verify_chain(db_url, ACCESS_CHAIN).ok


def test_sqlite_writers_wait_for_the_write_turn_of_other_processes_then_give_up(tmp_path, monkeypatch):
    """A writer waits while another process holds the SQLite store's write turn (the ``-writers`` file lock), and
    fails as SQLite does ("database is locked") after the busy timeout; once released, writing works."""
    import fcntl

    from geomatch.store import engine as engine_module

    url = f"sqlite:///{tmp_path}/store.db"
    record_run(url, *frames(1))
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 0.3)
    with open(tmp_path / "store.db-writers", "a") as other:  # another open file: as another process's lock
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            add_review(url, "H000000", outcome="investigation", by="blocked")
        assert time.monotonic() - started >= 0.3
    assert add_review(url, "H000000", outcome="investigation", by="after").seq == 1
    assert verify_chain(url).ok
