"""Hash chains over append-only logs: each entry's SHA-256 covers its fields and the previous entry's hash.

The store keeps two such chains, described by :class:`Chain`: the review events (:data:`REVIEW_CHAIN`) and the
access log (:data:`ACCESS_CHAIN`, see :mod:`geomatch.store.access`). An entry's hash is the SHA-256 of the
canonical JSON (sorted keys, no spaces, UTF-8) of its ``seq``, its chain's fields and ``prev_hash``; times are
written in UTC, ISO 8601 with microseconds and ``Z``. A review event's fields are ``hit_id``, ``at``, ``by``,
``outcome`` and ``note``. The first entry's ``prev_hash`` is 64 zeros. Entries are numbered 1, 2, 3 ... with no
gaps, and the chain's head row names the last one, so an edited, inserted or deleted entry (the newest included)
breaks the chain.

With an audit key (:mod:`geomatch.store.keys`) an entry's hash is an HMAC-SHA256 under the key instead, so a
forger with write access to the database but not the key cannot rewrite the chain. Verifying with a key also
requires the newest entry, and every entry after the first keyed one, to be keyed: a chain rewritten without the
key does not pass. Without a key the chain detects accidental edits, not a forger with database access.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.store.engine import get_engine, prepared, read_connection
from geomatch.store.keys import AuditKey, check_digest, current_key, digest, is_keyed
from geomatch.store.schema import GENESIS_HASH, access_head, access_log, chain_head, review_events


@dataclass(frozen=True)
class Chain:
    """One hash-chained, append-only table and its head row.

    Attributes:
        table: the entries (columns ``seq``, the ``fields``, ``prev_hash``, ``hash``).
        head: the single-row table (``id`` 1) naming the last entry's ``seq`` and ``hash``.
        fields: the hashed columns besides ``seq`` and ``prev_hash``.
        key: the column named in a report of a broken entry (the hit of a review event, the user of an access).
        entry: what an entry is called in messages ("event", "access").
    """

    table: sa.Table
    head: sa.Table
    fields: tuple[str, ...]
    key: str
    entry: str


REVIEW_CHAIN = Chain(review_events, chain_head, ("hit_id", "at", "by", "outcome", "note"), "hit_id", "event")
ACCESS_CHAIN = Chain(access_log, access_head, ("at", "username", "action", "target", "client", "detail"),
                     "username", "access")


def utc_text(at: datetime) -> str:
    """A UTC instant as ``2026-10-22T13:05:00.000000Z`` (the form hashed)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(seq: int, values: dict[str, Any], prev_hash: str) -> bytes:
    """One entry's canonical serialisation (``values``: its chain's fields), the bytes that are hashed."""
    fields = {name: utc_text(v) if isinstance(v, datetime) else v for name, v in values.items()}
    fields.update(seq=seq, prev_hash=prev_hash)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(seq: int, values: dict[str, Any], prev_hash: str, key: AuditKey | None = None) -> str:
    """Hex SHA-256 of one entry's canonical serialisation, chained to ``prev_hash`` (with ``key``: the keyed
    digest of :func:`geomatch.store.keys.digest`)."""
    return digest(_canonical(seq, values, prev_hash), key)


def event_hash(*, seq: int, hit_id: str, at: datetime, by: str, outcome: str, note: str, prev_hash: str,
               key: AuditKey | None = None) -> str:
    """The hash of one review event, chained to ``prev_hash``."""
    return entry_hash(seq, {"hit_id": hit_id, "at": at, "by": by, "outcome": outcome, "note": note}, prev_hash,
                      key)


def append_entry(conn: Connection, chain: Chain, **values: Any) -> tuple[int, str]:
    """Append one entry (``values``: the chain's fields) at the head of ``chain``; ``conn`` must hold the store's
    write lock. Returns (seq, hash), the hash keyed when an audit key is in force
    (:func:`geomatch.store.keys.current_key`)."""
    return append_entries(conn, chain, [values])[0]


def append_entries(conn: Connection, chain: Chain, entries: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Append ``entries`` (each the chain's fields) in order at the head of ``chain``, in one insert; ``conn``
    must hold the store's write lock. Returns each entry's (seq, hash): the same as appending them one by one."""
    for values in entries:
        if set(values) != set(chain.fields):
            raise ValueError(f"a {chain.entry} entry has the fields {', '.join(chain.fields)}, "
                             f"got {', '.join(values)}")
    read_head, insert, move_head = _append_statements(chain)
    head = conn.execute(read_head).one()
    key = current_key()
    seq, prev_hash, rows = head.seq, head.hash, []
    for values in entries:
        seq += 1
        hashed = entry_hash(seq, values, prev_hash, key)
        rows.append({**values, "seq": seq, "prev_hash": prev_hash, "hash": hashed})
        prev_hash = hashed
    if len(rows) == 1 and conn.dialect.name == "postgresql":
        conn.execute(_append_one_statement(chain), rows[0])  # the head moved by the same statement
    else:
        conn.execute(insert, rows)
        conn.execute(move_head, {"seq": seq, "hash": prev_hash})
    return [(row["seq"], row["hash"]) for row in rows]


@lru_cache(maxsize=None)
def _append_statements(chain: Chain) -> tuple[sa.Select, sa.Insert, sa.Update]:
    """Reading ``chain``'s head, inserting entries, moving the head: built once (building a statement and its cache
    key anew cost about as much as running it; every page view appends an access)."""
    return (prepared(sa.select(chain.head.c.seq, chain.head.c.hash).where(chain.head.c.id == 1)),
            prepared(chain.table.insert()),
            prepared(chain.head.update().where(chain.head.c.id == 1).values(seq=sa.bindparam("seq"),
                                                                              hash=sa.bindparam("hash"))))


@lru_cache(maxsize=None)
def _append_one_statement(chain: Chain) -> sa.Insert:
    """PostgreSQL: insert one entry and move ``chain``'s head to it in one statement (the update a data-modifying
    ``WITH``), one round trip to the server fewer on every page view. SQLite has no data-modifying ``WITH``."""
    move_head = (chain.head.update().where(chain.head.c.id == 1)
                 .values(seq=sa.bindparam("seq"), hash=sa.bindparam("hash")).cte("moved_head"))
    columns = ("seq", *chain.fields, "prev_hash", "hash")
    return prepared(chain.table.insert().values({name: sa.bindparam(name) for name in columns}).add_cte(move_head))


def append_event(conn: Connection, *, hit_id: str, at: datetime, by: str, outcome: str, note: str) -> tuple[int, str]:
    """Append one review event at the head of the chain; ``conn`` must hold the store's write lock."""
    return append_entry(conn, REVIEW_CHAIN, hit_id=hit_id, at=at, by=by, outcome=outcome, note=note)


@dataclass(frozen=True)
class ChainReport:
    """The result of recomputing a chain.

    Attributes:
        ok: every entry's hash recomputes, links to the one before, and the head names the last entry.
        n_events: entries read.
        head_seq, head_hash: the last intact entry (0 and 64 zeros when there is none).
        broken_seq: the first broken entry's number (None when intact); broken_hit_id: its key (the hit of a
            review event, the user of an access).
        problem: what is wrong there, in words.
        entry: what an entry is called ("event", "access").
        n_keyed: entries whose hash is keyed (HMAC under an audit key).
        key_id: the id of the key they were checked with (None: no key given).
    """

    ok: bool
    n_events: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    broken_hit_id: str | None = None
    problem: str | None = None
    entry: str = "event"
    n_keyed: int = 0
    key_id: str | None = None


def verify_chain(db_url: str | None = None, chain: Chain = REVIEW_CHAIN) -> ChainReport:
    """Recompute every entry's hash of ``chain`` (default: the review events) in order; report the first break
    (keyed hashes with the audit key in force, :func:`geomatch.store.keys.current_key`)."""
    key = current_key()
    key_id = key.key_id if key is not None else None
    names = ("seq", *chain.fields, "prev_hash", "hash")
    columns = [chain.table.c[name] for name in names]
    entry = chain.entry
    with read_connection(get_engine(db_url)) as conn:
        head = conn.execute(sa.select(chain.head.c.seq, chain.head.c.hash).where(chain.head.c.id == 1)).one()
        rows = conn.execute(sa.select(*columns).order_by(chain.table.c.seq)).yield_per(10_000)
        prev_seq, prev_hash, n, n_keyed = 0, GENESIS_HASH, 0, 0
        for row in rows:
            n += 1
            problem = _link_problem(chain, row._mapping, prev_seq, prev_hash, key)
            if problem is None and key is not None and n_keyed and not is_keyed(row.hash):
                earlier = "events" if entry == "event" else f"{entry} entries"
                problem = (f"it is not keyed although earlier {earlier} are: it was written without the "
                           "audit key, or forged")
            if problem is not None:
                return ChainReport(False, n, prev_seq, prev_hash, row.seq, row._mapping[chain.key], problem, entry,
                                   n_keyed, key_id)
            n_keyed += is_keyed(row.hash)
            prev_seq, prev_hash = row.seq, row.hash
    if key is not None and prev_seq and not is_keyed(prev_hash):
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq, None,
                           f"the newest {entry} entry is not keyed although a key was given: the chain was written "
                           "or rewritten without the audit key", entry, n_keyed, key_id)
    if head.seq > prev_seq:
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq + 1, None,
                           f"the chain head records {head.seq} {entry} entries but the last one is {prev_seq}: "
                           f"{entry} entries {prev_seq + 1} to {head.seq} were deleted", entry, n_keyed, key_id)
    if head.seq < prev_seq:
        return ChainReport(False, n, head.seq, head.hash, head.seq + 1, None,
                           f"the chain head records {head.seq} {entry} entries but they go on to {prev_seq}: "
                           f"{entry} entries were added outside geomatch", entry, n_keyed, key_id)
    if head.hash != prev_hash:
        return ChainReport(False, n, prev_seq, prev_hash, prev_seq, None,
                           f"the chain head's hash differs from {entry} {prev_seq}'s: "
                           "the head was changed outside geomatch", entry, n_keyed, key_id)
    return ChainReport(True, n, prev_seq, prev_hash, entry=entry, n_keyed=n_keyed, key_id=key_id)


def _link_problem(chain: Chain, row, prev_seq: int, prev_hash: str, key: AuditKey | None = None) -> str | None:
    """Why ``row`` does not follow the entry before it, or None."""
    entry = chain.entry
    if row["seq"] != prev_seq + 1:
        missing = (f"{entry} {prev_seq + 1} is missing" if row["seq"] == prev_seq + 2
                   else f"{entry} entries {prev_seq + 1} to {row['seq'] - 1} are missing")
        return f"{missing} (deleted): {entry} {row['seq']} follows {entry} {prev_seq}"
    if row["prev_hash"] != prev_hash:
        return (f"its previous-entry hash does not match {entry} {prev_seq}: "
                "an earlier entry was changed or replaced")
    problem = check_digest(row["hash"], _canonical(row["seq"], {name: row[name] for name in chain.fields},
                                                   row["prev_hash"]), key)
    if problem == "changed":
        return f"its contents ({', '.join(f for f in chain.fields)}) changed after it was written"
    return None if problem is None else f"its hash is {problem}"
