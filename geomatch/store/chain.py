"""The hash chain over review events: each event's SHA-256 covers its fields and the previous event's hash.

An event's hash is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of ``seq``, ``hit_id``,
``at`` (UTC, ISO 8601 with microseconds and ``Z``), ``by``, ``outcome``, ``note`` and ``prev_hash``. The first
event's ``prev_hash`` is 64 zeros. Events are numbered 1, 2, 3 ... with no gaps, and the ``chain_head`` row
names the last one, so an edited, inserted or deleted event (the newest included) breaks the chain.

With an audit key (:mod:`geomatch.store.keys`) an event's hash is an HMAC-SHA256 under the key instead, so a
forger with write access to the database but not the key cannot rewrite the chain. Verifying with a key also
requires the newest event, and every event after the first keyed one, to be keyed: a chain rewritten without the
key does not pass. Without a key the chain detects accidental edits, not a forger with database access.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.store.engine import get_engine, read_connection
from geomatch.store.keys import AuditKey, check_digest, current_key, digest, is_keyed
from geomatch.store.schema import GENESIS_HASH, chain_head, review_events


def utc_text(at: datetime) -> str:
    """A UTC instant as ``2026-10-22T13:05:00.000000Z`` (the form hashed)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(*, seq: int, hit_id: str, at: datetime, by: str, outcome: str, note: str, prev_hash: str,
               key: AuditKey | None = None) -> str:
    """Hex SHA-256 of one review event's canonical serialisation, chained to ``prev_hash`` (with ``key``: the
    keyed digest of :func:`geomatch.store.keys.digest`)."""
    return digest(_canonical_event(seq=seq, hit_id=hit_id, at=at, by=by, outcome=outcome, note=note,
                                   prev_hash=prev_hash), key)


def _canonical_event(*, seq: int, hit_id: str, at: datetime, by: str, outcome: str, note: str,
                     prev_hash: str) -> bytes:
    fields = {"seq": seq, "hit_id": hit_id, "at": utc_text(at), "by": by, "outcome": outcome, "note": note,
              "prev_hash": prev_hash}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def append_event(conn: Connection, *, hit_id: str, at: datetime, by: str, outcome: str, note: str) -> tuple[int, str]:
    """Append one event at the head of the chain; ``conn`` must hold the store's write lock. Returns (seq, hash).
    The hash is keyed when an audit key is in force (:func:`geomatch.store.keys.current_key`)."""
    head = conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).one()
    seq = head.seq + 1
    hashed = event_hash(seq=seq, hit_id=hit_id, at=at, by=by, outcome=outcome, note=note, prev_hash=head.hash,
                        key=current_key())
    conn.execute(review_events.insert().values(seq=seq, hit_id=hit_id, at=at, by=by, outcome=outcome, note=note,
                                               prev_hash=head.hash, hash=hashed))
    conn.execute(chain_head.update().where(chain_head.c.id == 1).values(seq=seq, hash=hashed))
    return seq, hashed


@dataclass(frozen=True)
class ChainReport:
    """The result of recomputing the chain.

    Attributes:
        ok: every event's hash recomputes, links to the one before, and the head names the last event.
        n_events: events read.
        head_seq, head_hash: the last intact event (0 and 64 zeros when there is none).
        broken_seq: the first broken event's number (None when intact); broken_hit_id: its hit.
        problem: what is wrong there, in words.
        n_keyed: events whose hash is keyed (HMAC under an audit key).
        key_id: the id of the key they were checked with (None: no key given).
    """

    ok: bool
    n_events: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    broken_hit_id: str | None = None
    problem: str | None = None
    n_keyed: int = 0
    key_id: str | None = None


def verify_chain(db_url: str | None = None) -> ChainReport:
    """Recompute every review event's hash in order and report the first break, if any (keyed hashes with the
    audit key in force, :func:`geomatch.store.keys.current_key`)."""
    key = current_key()
    key_id = key.key_id if key is not None else None
    columns = [review_events.c[name] for name in
               ("seq", "hit_id", "at", "by", "outcome", "note", "prev_hash", "hash")]
    with read_connection(get_engine(db_url)) as conn:
        head = conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).one()
        rows = conn.execute(sa.select(*columns).order_by(review_events.c.seq)).yield_per(10_000)
        prev_seq, prev_hash, n, n_keyed = 0, GENESIS_HASH, 0, 0
        for row in rows:
            n += 1
            problem = _link_problem(row, prev_seq, prev_hash, key)
            if problem is None and key is not None and n_keyed and not is_keyed(row.hash):
                problem = ("it is not keyed although earlier events are: it was written without the audit key, "
                           "or forged")
            if problem is not None:
                return ChainReport(False, n, prev_seq, prev_hash, row.seq, row.hit_id, problem, n_keyed, key_id)
            n_keyed += is_keyed(row.hash)
            prev_seq, prev_hash = row.seq, row.hash
    if key is not None and prev_seq and not is_keyed(prev_hash):
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq, None,
                           "the newest event is not keyed although a key was given: the chain was written or "
                           "rewritten without the audit key", n_keyed, key_id)
    if head.seq > prev_seq:
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq + 1, None,
                           f"the chain head records {head.seq} events but the last event is {prev_seq}: "
                           f"events {prev_seq + 1} to {head.seq} were deleted", n_keyed, key_id)
    if head.seq < prev_seq:
        return ChainReport(False, n, head.seq, head.hash, head.seq + 1, None,
                           f"the chain head records {head.seq} events but events go on to {prev_seq}: "
                           "events were added outside geomatch", n_keyed, key_id)
    if head.hash != prev_hash:
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq, None,
                           f"the chain head's hash differs from event {prev_seq}'s: "
                           "the head was changed outside geomatch", n_keyed, key_id)
    return ChainReport(True, n, prev_seq, prev_hash, n_keyed=n_keyed, key_id=key_id)


def _link_problem(row, prev_seq: int, prev_hash: str, key: AuditKey | None = None) -> str | None:
    """Why ``row`` does not follow the event before it, or None."""
    if row.seq != prev_seq + 1:
        missing = (f"event {prev_seq + 1} is missing" if row.seq == prev_seq + 2
                   else f"events {prev_seq + 1} to {row.seq - 1} are missing")
        return f"{missing} (deleted): event {row.seq} follows event {prev_seq}"
    if row.prev_hash != prev_hash:
        return f"its previous-event hash does not match event {prev_seq}: an earlier event was changed or replaced"
    canonical = _canonical_event(seq=row.seq, hit_id=row.hit_id, at=row.at, by=row.by, outcome=row.outcome,
                                 note=row.note, prev_hash=row.prev_hash)
    problem = check_digest(row.hash, canonical, key)
    if problem == "changed":
        return "its contents (hit, time, reviewer, outcome or note) changed after it was written"
    return None if problem is None else f"its hash is {problem}"
