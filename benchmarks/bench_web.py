"""The review web application under load: 20 offender managers at once on a store of 100,000 hits.

``geomatch serve`` runs in its own process on 127.0.0.1 (never another interface). Twenty clients (a process
each, with its own ``httpx`` connection and session cookie, logged in through the login form) each repeat a fixed
number of rounds: read their queue, open its first hit, record an outcome for it (with the form's CSRF token), read
the queue's second page. Two phases on the same store and server: back to back (each reviewer clicks again the
moment a page arrives: 20 requests always in flight, a stress test, the clients sharing the machine's cores with
the server) and paced (each reviewer pauses 1-3 s, seeded, before each click, as people who read the page do).
Each phase prints the CPU a request cost the server, the database server (PostgreSQL) and the load generator.
The run stops early if it passes a time cap. Prints per page kind the p50, p95 and largest
latency in milliseconds, errors, and the checks: every recorded outcome is in the store once (none lost, none
duplicated) and both hash chains verify. Baseline from the same run: the queue's store query alone, in process,
for the same reviewers (so the difference is HTTP, rendering and the access-log write). Then, one request at a
time, each page's server CPU (the server processes' user + system time, from /proc, per request) and its SQL
statements (counted in process): figures that the other work on a shared machine does not change much, where the
wall-clock latencies under load depend on it (the load average is printed beside them).

On SQLite always; on PostgreSQL too when its server binaries are installed (a throwaway server from
tests/pgserver.py, which runs with fsync off: its writes are cheaper than a production server's).
"""
from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

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
THINK_S = (1.0, 3.0)  # the paced phase: each reviewer clicks every 1-3 s (a person reading a page takes longer)
TARGET_P95_MS = 300.0  # issue 15: pages under 300 ms at the 95th percentile, 20 reviewers, 100,000 hits
COST_REPEATS = 60  # requests per page kind when measuring server CPU one request at a time (CPU ticks are 10 ms)
PASSWORD = "load test password"
TIME_CAP_S = 300.0
WORKERS = int(os.environ.get("GEOMATCH_BENCH_WEB_WORKERS", "2"))  # server processes: this machine's cores
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIT = re.compile(r'<a href="/hits/(H[0-9a-f]+)">')
KINDS = ("queue", "hit", "record outcome", "queue page 2")


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


@dataclass
class Reviewer:
    """One offender manager's rounds, run in a process of its own (:func:`_run_reviewer`): latencies (s) by page
    kind, errors, the hits it recorded outcomes for, and the CPU seconds its own process spent in the timed rounds
    (the load generator's share of the machine)."""

    name: str
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)
    cpu_s: float = 0.0


def _run_reviewer(base: str, name: str, rounds: int, deadline: float, ready, results,
                  think_s: tuple[float, float] | None, seed: int) -> None:
    """A reviewer's process: log in, wait for the others (``ready``, a barrier), do the rounds (pausing uniformly
    in ``think_s`` before each click, seeded; none back to back) and put its :class:`Reviewer` on ``results``.

    Each reviewer has its own process, not a thread of the benchmark's: twenty client threads sharing one
    interpreter lock queue for it after every response, which added their wait to the latencies measured.
    """
    import httpx

    me, rng = Reviewer(name), np.random.default_rng(seed)

    def think() -> None:
        if think_s:
            time.sleep(rng.uniform(*think_s))

    def get(client, kind: str, path: str):
        think()
        started = time.perf_counter()
        response = client.get(path)
        me.latency[kind].append(time.perf_counter() - started)
        if response.status_code != 200:
            me.errors.append(f"{kind} {path}: {response.status_code}")
        return response

    try:
        with httpx.Client(base_url=base, timeout=60.0, follow_redirects=True) as client:
            _login(client, name)
            ready.wait()  # everyone logged in (argon2 is slow by design): now the timed rounds
            cpu_before = time.process_time()
            for _ in range(rounds):
                if time.monotonic() > deadline:
                    me.errors.append("time cap reached")
                    break
                queue = get(client, "queue", "/")
                hits = _HIT.findall(queue.text)
                if not hits:
                    me.errors.append("empty queue")
                    break
                page = get(client, "hit", f"/hits/{hits[0]}")
                think()
                started = time.perf_counter()
                posted = client.post(f"/hits/{hits[0]}/review", follow_redirects=False,
                                     data={"outcome": "no_further_action", "note": f"load test {name}",
                                           "csrf_token": _CSRF.search(page.text).group(1)})
                me.latency["record outcome"].append(time.perf_counter() - started)
                if posted.status_code == 303:
                    me.reviewed.append(hits[0])
                else:
                    me.errors.append(f"review {hits[0]}: {posted.status_code}")
                get(client, "queue page 2", "/?page=2")
            me.cpu_s = time.process_time() - cpu_before
    except Exception as error:  # reported with the results, not lost in a child's traceback
        me.errors.append(f"{type(error).__name__}: {error}")
    me.latency = dict(me.latency)
    results.put(me)


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants (the server and its workers; PostgreSQL's
    postmaster and its backends), from /proc: each live member's own time and that of its children that ended
    (a backend ends with its connection)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # the process ended meanwhile
            continue
        child = int(stat.parent.name)
        parents[child], times[child] = int(fields[1]), sum(int(f) for f in fields[11:15]) / tick
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree, grew = tree | more, bool(more)
    return sum(times.get(member, 0.0) for member in tree)


def _login(client, name: str) -> None:
    login = client.get("/login")
    client.post("/login", data={"username": name, "password": PASSWORD, "next": "/",
                                "csrf_token": _CSRF.search(login.text).group(1)})


def _page_requests(client) -> dict[str, callable]:
    """One request of each page kind of a reviewer's round (for the costs measured one at a time)."""
    queue = client.get("/")
    hit = _HIT.findall(queue.text)[-1]
    token = _CSRF.search(client.get(f"/hits/{hit}").text).group(1)
    return {"queue": lambda: client.get("/"), "hit": lambda: client.get(f"/hits/{hit}"),
            "record outcome": lambda: client.post(f"/hits/{hit}/review", follow_redirects=False,
                                                  data={"outcome": "no_further_action", "note": "cost probe",
                                                        "csrf_token": token}),
            "queue page 2": lambda: client.get("/?page=2")}


def cpu_per_page(base: str, server_pid: int, name: str,
                 database_pid: int | None = None) -> dict[str, tuple[float, float | None]]:
    """CPU (ms) per request of each page kind, one request at a time: the server's (all its processes) and the
    database server's (PostgreSQL's postmaster and backends; None without ``database_pid``)."""
    import httpx

    costs = {}
    with httpx.Client(base_url=base, timeout=60.0, follow_redirects=True) as client:
        _login(client, name)
        for kind, request in _page_requests(client).items():
            request()
            before = _tree_cpu_s(server_pid)
            database_before = _tree_cpu_s(database_pid) if database_pid else None
            for _ in range(COST_REPEATS):
                request()
            database = (None if database_pid is None
                        else (_tree_cpu_s(database_pid) - database_before) / COST_REPEATS * 1000)
            costs[kind] = ((_tree_cpu_s(server_pid) - before) / COST_REPEATS * 1000, database)
    return costs


def statements_per_page(url: str, name: str) -> dict[str, tuple[int, int]]:
    """SQL statements and transactions each page kind sends to the store (in process, counted by the engine;
    on SQLite each BEGIN is a statement too, on PostgreSQL the driver sends it with the first statement)."""
    from fastapi.testclient import TestClient

    from geomatch.web import WebSettings, create_app

    client = TestClient(create_app(WebSettings(db_url=url)), base_url="http://127.0.0.1")
    _login(client, name)
    requests = _page_requests(client)
    sent: list[str] = []
    begun: list[object] = []

    def count(conn, cursor, statement, *args) -> None:
        sent.append(statement)

    def begin(conn) -> None:
        begun.append(conn)

    engine = get_engine(url)
    sa.event.listen(engine, "before_cursor_execute", count)
    sa.event.listen(engine, "begin", begin)
    try:
        counts = {}
        for kind, request in requests.items():
            sent.clear()
            begun.clear()
            request()
            counts[kind] = (len(sent), len(begun))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        sa.event.remove(engine, "begin", begin)
        engine.dispose()
    return counts


def _load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _percentiles(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return (f"n {len(ms):>5}  p50 {np.percentile(ms, 50):7.1f}  p95 {np.percentile(ms, 95):7.1f}  "
            f"max {ms.max():7.1f} ms")


@dataclass(frozen=True)
class Phase:
    """One timed phase of the load test: its reviewers (with their latencies), wall and server CPU seconds."""

    clients: list[Reviewer]
    rounds: int
    seconds: float
    server_cpu_s: float
    database_cpu_s: float | None
    load_before: str
    load_after: str


def _phase(base: str, names: list[str], server_pid: int, rounds: int,
           think_s: tuple[float, float] | None, database_pid: int | None = None) -> Phase:
    """Twenty reviewers (a process each) log in, then do ``rounds`` rounds at once, back to back (``think_s``
    None) or pausing ``think_s`` seconds (uniform) before each click."""
    context = multiprocessing.get_context("fork")
    deadline = time.monotonic() + TIME_CAP_S
    ready = context.Barrier(len(names) + 1)  # the reviewers logged in, and this process
    results = context.Queue()
    processes = [context.Process(target=_run_reviewer, args=(base, name, rounds, deadline, ready, results,
                                                             think_s, i), daemon=True)
                 for i, name in enumerate(names)]
    for process in processes:
        process.start()
    ready.wait(timeout=TIME_CAP_S)  # every reviewer logged in: the timed rounds start
    load_before = _load_average()
    started, cpu_before = time.perf_counter(), _tree_cpu_s(server_pid)
    database_before = _tree_cpu_s(database_pid) if database_pid else None
    clients = [results.get(timeout=TIME_CAP_S + 60) for _ in processes]
    seconds, server_cpu = time.perf_counter() - started, _tree_cpu_s(server_pid) - cpu_before
    database_cpu = _tree_cpu_s(database_pid) - database_before if database_pid else None
    for process in processes:
        process.join()
    return Phase(clients, rounds, seconds, server_cpu, database_cpu, load_before, _load_average())


def load_test(url: str, label: str, n_hits: int, rounds: int, paced_rounds: int,
              database_pid: int | None = None) -> dict[str, dict[str, float]]:
    """Run the load test on the store ``url``, back to back and paced; returns each phase's p95 (ms) by page.
    ``database_pid``: the database server's main process (PostgreSQL's postmaster), whose CPU is reported too."""
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
        phases = {"back to back": _phase(base, names, server.pid, rounds, None, database_pid),
                  f"paced ({THINK_S[0]:g}-{THINK_S[1]:g} s between clicks)":
                  _phase(base, names, server.pid, paced_rounds, THINK_S, database_pid)}
        costs = cpu_per_page(base, server.pid, names[0], database_pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    statements = statements_per_page(url, names[0])
    posted = sorted(h for phase in phases.values() for c in phase.clients for h in c.reviewed)
    with get_engine(url).connect() as conn:
        stored = sorted(conn.execute(sa.text("SELECT hit_id FROM review_events WHERE note LIKE 'load test %'"))
                        .scalars())
    p95s = {}
    for name, phase in phases.items():
        latency: dict[str, list[float]] = defaultdict(list)
        for client in phase.clients:
            for kind, values in client.latency.items():
                latency[kind].extend(values)
        errors = [e for c in phase.clients for e in c.errors]
        n_requests = sum(len(v) for v in latency.values())
        client_cpu_s = sum(c.cpu_s for c in phase.clients)
        database = ("" if phase.database_cpu_s is None
                    else f", database server {phase.database_cpu_s / n_requests * 1000:.1f}")
        print(f"[{label}] {name}: {N_CLIENTS} clients (a process each) x {phase.rounds} rounds, {WORKERS} server "
              f"processes: {n_requests:,} requests in {phase.seconds:.1f} s ({n_requests / phase.seconds:.0f} per s; "
              f"CPU ms a request: server {phase.server_cpu_s / n_requests * 1000:.1f}{database}, load generator "
              f"{client_cpu_s / n_requests * 1000:.1f}), load average {phase.load_before} -> {phase.load_after}, "
              f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        for kind in KINDS:
            p95 = np.percentile(np.asarray(latency[kind]) * 1000, 95)
            print(f"[{label}]   {kind:<15} {_percentiles(latency[kind])}  (target p95 < {TARGET_P95_MS:.0f} ms: "
                  f"{'met' if p95 < TARGET_P95_MS else 'MISSED'})")
        p95s[name] = {kind: float(np.percentile(np.asarray(v) * 1000, 95)) for kind, v in latency.items()}
    print(f"[{label}]   baseline: the queue's store query alone, in process: {_percentiles(baseline)}")
    lost, duplicated = len(set(posted) - set(stored)), len(stored) - len(set(stored))
    print(f"[{label}] outcomes recorded {len(posted):,}, in the store {len(stored):,}: lost {lost}, "
          f"duplicated {duplicated}; review chain {'intact' if verify_chain(url).ok else 'BROKEN'}, "
          f"access log {'intact' if verify_chain(url, ACCESS_CHAIN).ok else 'BROKEN'}")
    print(f"[{label}] one request at a time (reviewer {names[0]}, {COST_REPEATS} each): CPU ms per page (server"
          f"{', database server' if database_pid else ''}), SQL statements and transactions per page")
    for kind in KINDS:
        server_ms, database_ms = costs[kind]
        database = "" if database_ms is None else f" + database {database_ms:5.1f} ms"
        print(f"[{label}]   {kind:<15} server {server_ms:5.1f} ms{database}  {statements[kind][0]:3d} statements, "
              f"{statements[kind][1]} transactions")
    return p95s


def main(quick: bool = False) -> None:
    n_hits, rounds, paced_rounds = (5_000, 3, 1) if quick else (100_000, 15, 5)
    folder = BENCH_DIR / "web"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    load_test(f"sqlite:///{folder / 'store.db'}", "SQLite", n_hits, rounds, paced_rounds)
    sys.path.insert(0, str(BENCH_DIR.resolve().parent))
    try:
        from tests.pgserver import shared_server, why_no_postgres
    except ImportError:  # benchmarks run from an installed package without the tests folder
        print("[PostgreSQL] skipped: tests/pgserver.py is not here")
        return
    if why_no_postgres():
        print(f"[PostgreSQL] skipped: {why_no_postgres()}")
        return
    server = shared_server()
    postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    load_test(server.new_database(), "PostgreSQL", n_hits, rounds, paced_rounds, postmaster)
