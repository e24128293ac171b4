"""The review web application under load: 20 offender managers at once on a store of 100,000 hits.

``geomatch serve`` runs in its own process on 127.0.0.1 (never another interface). Twenty clients (threads with
their own ``httpx`` connection and session cookie, logged in through the login form) each repeat a fixed number
of rounds: read their queue, open its first hit, record an outcome for it (with the form's CSRF token), read the
queue's second page. The run stops early if it passes a time cap. Prints per page kind the p50, p95 and largest
latency in milliseconds, errors, and the checks: every recorded outcome is in the store once (none lost, none
duplicated) and both hash chains verify. Baseline from the same run: the queue's store query alone, in process,
for the same reviewers (so the difference is HTTP, rendering and the access-log write).

On SQLite always; on PostgreSQL too when its server binaries are installed (a throwaway server from
tests/pgserver.py, which runs with fsync off: its writes are cheaper than a production server's).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict

import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks.bench_store import frames
from benchmarks.common import BENCH_DIR
from geomatch.store import record_run, verify_chain
from geomatch.store.accounts import add_user
from geomatch.store.assignment import Scope, load_subjects, queue_page
from geomatch.store.chain import ACCESS_CHAIN
from geomatch.store.engine import get_engine

N_CLIENTS = 20
PASSWORD = "load test password"
TIME_CAP_S = 300.0
WORKERS = int(os.environ.get("GEOMATCH_BENCH_WEB_WORKERS", "2"))  # server processes: this machine's cores
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIT = re.compile(r'<a href="/hits/(H[0-9a-f]+)">')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_store(url: str, n_hits: int) -> list[str]:
    """Record ``n_hits`` hits and give their 400 subjects to ``N_CLIENTS`` reviewers; returns the reviewers."""
    hits, crimes = frames(n_hits)
    record_run(url, hits, crimes)
    names = [f"om{i:02d}" for i in range(N_CLIENTS)]
    subjects = sorted(hits["subject_id"].unique())
    load_subjects(url, pd.DataFrame({"subject_id": subjects,
                                     "offender_manager": [names[i % N_CLIENTS] for i in range(len(subjects))],
                                     "team": [f"team{i % 2}" for i in range(len(subjects))]}))
    for name in names:
        add_user(url, name, role="reviewer", password=PASSWORD, team="team0")
    return names


class Reviewer(threading.Thread):
    """One offender manager's rounds; latencies (s) by page kind, errors, the hits it recorded outcomes for."""

    def __init__(self, base: str, name: str, rounds: int, deadline: float, ready: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.base, self.name, self.rounds, self.deadline, self.ready = base, name, rounds, deadline, ready
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.reviewed: list[str] = []

    def _get(self, client, kind: str, path: str):
        started = time.perf_counter()
        response = client.get(path)
        self.latency[kind].append(time.perf_counter() - started)
        if response.status_code != 200:
            self.errors.append(f"{kind} {path}: {response.status_code}")
        return response

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=60.0, follow_redirects=True) as client:
            login = client.get("/login")
            client.post("/login", data={"username": self.name, "password": PASSWORD, "next": "/",
                                        "csrf_token": _CSRF.search(login.text).group(1)})
            self.ready.wait()  # everyone logged in (argon2 is slow by design): now the timed rounds
            for _ in range(self.rounds):
                if time.monotonic() > self.deadline:
                    self.errors.append("time cap reached")
                    return
                queue = self._get(client, "queue", "/")
                hits = _HIT.findall(queue.text)
                if not hits:
                    self.errors.append("empty queue")
                    return
                page = self._get(client, "hit", f"/hits/{hits[0]}")
                started = time.perf_counter()
                posted = client.post(f"/hits/{hits[0]}/review", follow_redirects=False,
                                     data={"outcome": "no_further_action", "note": f"load test {self.name}",
                                           "csrf_token": _CSRF.search(page.text).group(1)})
                self.latency["record outcome"].append(time.perf_counter() - started)
                if posted.status_code == 303:
                    self.reviewed.append(hits[0])
                else:
                    self.errors.append(f"review {hits[0]}: {posted.status_code}")
                self._get(client, "queue page 2", "/?page=2")


def _percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return (f"n {len(ms):>5}  p50 {np.percentile(ms, 50):7.1f}  p95 {np.percentile(ms, 95):7.1f}  "
            f"max {ms.max():7.1f} ms")


def load_test(url: str, label: str, n_hits: int, rounds: int) -> dict[str, float]:
    """Run the load test on the store ``url``; returns the p95 (ms) of each page kind."""
    started = time.perf_counter()
    names = build_store(url, n_hits)
    print(f"[{label}] store of {n_hits:,} hits, {len(names)} reviewers: built in {time.perf_counter() - started:.1f} s")
    baseline = []
    for name in names:
        t0 = time.perf_counter()
        queue_page(url, Scope(assignee=name), limit=50)
        baseline.append(time.perf_counter() - t0)
    get_engine(url).dispose()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", "import cli; cli.geomatch()", "serve", "--db", url,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("geomatch serve did not start")
        deadline = time.monotonic() + TIME_CAP_S
        ready = threading.Barrier(len(names))
        clients = [Reviewer(base, name, rounds, deadline, ready) for name in names]
        started = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    latency: dict[str, list[float]] = defaultdict(list)
    for client in clients:
        for kind, values in client.latency.items():
            latency[kind].extend(values)
    errors = [e for c in clients for e in c.errors]
    posted = sorted(h for c in clients for h in c.reviewed)
    with get_engine(url).connect() as conn:
        stored = sorted(conn.execute(sa.text("SELECT hit_id FROM review_events WHERE note LIKE 'load test %'"))
                        .scalars())
    n_requests = sum(len(v) for v in latency.values())
    print(f"[{label}] {N_CLIENTS} clients x {rounds} rounds, {WORKERS} server processes: {n_requests:,} requests in {seconds:.1f} s "
          f"({n_requests / seconds:.0f} per s), errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    for kind in ("queue", "hit", "record outcome", "queue page 2"):
        print(f"[{label}]   {kind:<15} {_percentiles(latency[kind])}")
    print(f"[{label}]   baseline: the queue's store query alone, in process: {_percentiles(baseline)}")
    lost, duplicated = len(set(posted) - set(stored)), len(stored) - len(set(stored))
    print(f"[{label}] outcomes recorded {len(posted):,}, in the store {len(stored):,}: lost {lost}, "
          f"duplicated {duplicated}; review chain {'intact' if verify_chain(url).ok else 'BROKEN'}, "
          f"access log {'intact' if verify_chain(url, ACCESS_CHAIN).ok else 'BROKEN'}")
    return {kind: float(np.percentile(np.asarray(v) * 1000, 95)) for kind, v in latency.items()}


def main(quick: bool = False) -> None:
    n_hits, rounds = (5_000, 3) if quick else (100_000, 15)
    folder = BENCH_DIR / "web"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    load_test(f"sqlite:///{folder / 'store.db'}", "SQLite", n_hits, rounds)
    sys.path.insert(0, str(BENCH_DIR.resolve().parent))
    try:
        from tests.pgserver import shared_server, why_no_postgres
    except ImportError:  # benchmarks run from an installed package without the tests folder
        print("[PostgreSQL] skipped: tests/pgserver.py is not here")
        return
    if why_no_postgres():
        print(f"[PostgreSQL] skipped: {why_no_postgres()}")
        return
    load_test(shared_server().new_database(), "PostgreSQL", n_hits, rounds)
