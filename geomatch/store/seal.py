"""Hit rows under the chain: every recording run seals the stored hits, and ``audit verify`` checks them.

A hit row holds its measurements twice: ``detail``, the hit as received (canonical JSON, whose SHA-256 is
``content_sha256``), and typed columns (subject, distance, score ...) for queries. :func:`verify_hits` checks that
every typed column says what ``detail`` says and that ``detail`` still hashes to ``content_sha256``, so an edited
subject, distance or score is found.

So that a row cannot be edited together with its hash, or deleted, each :func:`geomatch.store.record_run` ends by
sealing the store's hits: the digest of every hit's ``hit_id``, ``content_sha256``, ``first_received_at`` and
``first_run_id`` (sorted by hit id), chained to the previous run's seal, is kept in the run's ``manifest`` JSON
(key ``hit_seal``). The newest seal must match the hits as they are now. With an audit key
(:mod:`geomatch.store.keys`) the seal is an HMAC, which only the key's holder can remake; without one it detects
accidental edits and deletions, not a forger with database access.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.store.chain import utc_text
from geomatch.store.engine import get_engine, read_connection
from geomatch.store.keys import AuditKey, check_digest, current_key, digest, is_keyed
from geomatch.store.schema import GENESIS_HASH, hits, runs

SEAL_KEY = "hit_seal"
#: Typed hit columns and how a stored value is compared with the one in ``detail``.
_CHECKED = ("subject_id", "crime_ref", "offence", "presence", "min_distance_m", "closest_time", "first_in",
            "last_out", "time_in_zone_s", "n_fixes_in_zone", "score", "reasons")
_TIMES = {"closest_time", "first_in", "last_out"}


def _hits_digest(conn: Connection) -> tuple[str, int]:
    """SHA-256 over every stored hit's identity, content hash and receipt (sorted by hit id), and the count: the
    JSON rows ``[hit_id, content_sha256, first_received_at (UTC, ISO 8601), first_run_id]``, each followed by a
    line feed, hashed 10,000 rows at a time."""
    total, count = hashlib.sha256(), 0
    query = (sa.select(hits.c.hit_id, hits.c.content_sha256, hits.c.first_received_at, hits.c.first_run_id)
             .order_by(hits.c.hit_id))
    for part in conn.execute(query).yield_per(10_000).partitions():
        rows = [[hit_id, sha, received.isoformat(timespec="microseconds"), run_id]
                for hit_id, sha, received, run_id in part]
        text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)  # one encoder call per partition
        total.update(text[1:-1].replace("],[", "]\n[").encode("utf-8") + b"\n")
        count += len(rows)
    return total.hexdigest(), count


def _seal_bytes(run_id: int, hits_sha256: str, n_hits: int, prev: str) -> bytes:
    fields = {"run_id": run_id, "hits_sha256": hits_sha256, "n_hits": n_hits, "prev": prev}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sealed_runs(conn: Connection) -> list[tuple[int, dict[str, Any]]]:
    """(run_id, seal) of every run that has one, oldest first."""
    sealed = []
    for run_id, text in conn.execute(sa.select(runs.c.run_id, runs.c.manifest).order_by(runs.c.run_id)):
        try:
            manifest = json.loads(text) if text else None
        except json.JSONDecodeError:
            manifest = None
        seal = manifest.get(SEAL_KEY) if isinstance(manifest, dict) else None
        if isinstance(seal, dict):
            sealed.append((run_id, seal))
    return sealed


def seal_hits(conn: Connection, run_id: int) -> dict[str, Any]:
    """Seal the stored hits at the end of run ``run_id`` (``conn`` holds the write lock): the seal is added to the
    run's manifest JSON and returned."""
    hits_sha256, n_hits = _hits_digest(conn)
    earlier = [seal for sealed_id, seal in _sealed_runs(conn) if sealed_id < run_id]
    prev = earlier[-1]["seal"] if earlier else GENESIS_HASH
    seal = {"hits_sha256": hits_sha256, "n_hits": n_hits, "prev": prev,
            "seal": digest(_seal_bytes(run_id, hits_sha256, n_hits, prev), current_key())}
    text = conn.execute(sa.select(runs.c.manifest).where(runs.c.run_id == run_id)).scalar()
    manifest = json.loads(text) if text else {}
    manifest[SEAL_KEY] = seal
    conn.execute(runs.update().where(runs.c.run_id == run_id)
                 .values(manifest=json.dumps(manifest, sort_keys=True)))
    return seal


@dataclass(frozen=True)
class HitsReport:
    """The result of checking the stored hits.

    Attributes:
        ok: every row agrees with its recorded content and the newest seal matches the hits.
        n_hits: hits read.
        problems: what is wrong, one sentence each (the first 20 rows at fault, then the seals).
        n_bad_rows: hit rows whose typed columns or content hash disagree with their recorded content.
        sealed_run: the run whose seal covers the hits now (None: no run has one, a store written before seals).
        keyed: whether that seal is keyed; key_id: the key it was checked with (None: no key given).
    """

    ok: bool
    n_hits: int
    problems: tuple[str, ...]
    n_bad_rows: int
    sealed_run: int | None
    keyed: bool
    key_id: str | None


def verify_hits(db_url: str | None = None) -> HitsReport:
    """Check every stored hit row against its recorded content, and the hits against the newest run's seal."""
    key = current_key()
    problems: list[str] = []
    n_bad = 0
    with read_connection(get_engine(db_url)) as conn:
        columns = [hits.c.hit_id, hits.c.detail, hits.c.content_sha256, *(hits.c[name] for name in _CHECKED)]
        for row in conn.execute(sa.select(*columns).order_by(hits.c.hit_id)).yield_per(10_000):
            problem = _row_problem(row._mapping)
            if problem is not None:
                n_bad += 1
                if n_bad <= 20:
                    problems.append(f"hit {row.hit_id}: {problem}")
        if n_bad > 20:
            problems.append(f"... {n_bad - 20:,} more hit rows disagree with their recorded content")
        hits_sha256, n_hits = _hits_digest(conn)
        sealed = _sealed_runs(conn)
        latest_run = conn.execute(sa.select(sa.func.max(runs.c.run_id))).scalar()
    sealed_run, keyed = (sealed[-1][0], is_keyed(sealed[-1][1].get("seal", ""))) if sealed else (None, False)
    problems += _seal_problems(sealed, latest_run, hits_sha256, n_hits, key)
    return HitsReport(not problems, n_hits, tuple(problems), n_bad, sealed_run, keyed,
                      key.key_id if key is not None else None)


def _row_problem(row) -> str | None:
    """Why a hit row disagrees with its recorded content (``detail`` and ``content_sha256``), or None."""
    if hashlib.sha256(row["detail"].encode("utf-8")).hexdigest() != row["content_sha256"]:
        return "its recorded content (detail) no longer matches its content hash: it was changed after recording"
    try:
        detail = json.loads(row["detail"])
    except json.JSONDecodeError:
        return "its recorded content (detail) is not JSON"
    for name in _CHECKED:
        stored, recorded = row[name], detail.get(name)
        if name in _TIMES:
            stored = None if stored is None else utc_text(stored)
        elif name == "n_fixes_in_zone" and recorded is not None:
            recorded = int(recorded)
        if stored != recorded and not (stored is None and recorded is None):
            return f"column '{name}' says {stored!r} but the hit as recorded says {recorded!r}"
    return None


def _seal_problems(sealed: list[tuple[int, dict[str, Any]]], latest_run: int | None, hits_sha256: str,
                   n_hits: int, key: AuditKey | None) -> list[str]:
    """What is wrong with the chain of run seals and the newest seal's cover of the hits now."""
    problems, prev, keyed_seen = [], GENESIS_HASH, False
    for run_id, seal in sealed:
        stored = str(seal.get("seal", ""))
        if seal.get("prev") != prev:
            problems.append(f"run {run_id}'s hit seal does not follow the previous seal: a run's seal was changed "
                            "or removed")
            break
        problem = check_digest(stored, _seal_bytes(run_id, str(seal.get("hits_sha256")), int(seal.get("n_hits", -1)),
                                                   prev), key)
        if problem is not None:
            problems.append(f"run {run_id}'s hit seal is {problem}" if problem != "changed"
                            else f"run {run_id}'s hit seal was changed after it was written")
            break
        if key is not None and keyed_seen and not is_keyed(stored):
            problems.append(f"run {run_id}'s hit seal is not keyed although earlier seals are: written without "
                            "the audit key, or forged")
            break
        keyed_seen = keyed_seen or is_keyed(stored)
        prev = stored
    if problems or not sealed:
        return problems
    run_id, seal = sealed[-1]
    if key is not None and not is_keyed(seal["seal"]):
        problems.append(f"the newest hit seal (run {run_id}) is not keyed although a key was given: the hits were "
                        "recorded or resealed without the audit key (after a key is first set, the next run "
                        "recorded with it seals them)")
    elif latest_run != run_id:
        problems.append(f"run {latest_run} has no hit seal although run {run_id} has: it was recorded without "
                        "sealing (an older geomatch) or its seal was removed")
    elif seal.get("hits_sha256") != hits_sha256:
        change = (f"{seal.get('n_hits')} hits were sealed, {n_hits} are stored" if seal.get("n_hits") != n_hits
                  else "a hit's content hash, receipt time or first run differs")
        problems.append(f"the hits no longer match run {run_id}'s seal ({change}): hits were added, deleted or "
                        "edited outside geomatch")
    return problems
