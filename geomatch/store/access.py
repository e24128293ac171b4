"""The access log: who consulted, disclosed or altered what, when (UTC) and from where, and every login.

The Data Protection Act 2018, Part 3, s.62 asks a law-enforcement controller to log consultation, disclosure and
alteration of personal data. Each entry names the user (as authenticated, or as typed for a failed login), the
action (one of :data:`ACTIONS`), its target (a hit id, a file, a filter), the client (IP address or "command
line") and a detail. The log is append-only (triggers refuse UPDATE and DELETE) and hash-chained like the review
events (:data:`geomatch.store.chain.ACCESS_CHAIN`), so ``geomatch audit verify`` finds any edit.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.core.errors import InputError
from geomatch.core.times import uk_day_start
from geomatch.store.chain import ACCESS_CHAIN, append_entries
from geomatch.store.engine import get_engine, read_connection, write_transaction, writer_turn
from geomatch.store.schema import access_log

#: Actions logged, and what s.62 calls each: consultation, disclosure, alteration, or a login.
ACTIONS: dict[str, str] = {
    "login": "login", "login_failed": "login", "logout": "login",
    "view_queue": "consultation", "view_hit": "consultation", "view_file": "consultation",
    "view_access_log": "consultation",
    "download": "disclosure", "export": "disclosure",
    "review": "alteration", "assign": "alteration", "load_subjects": "alteration",
    "user_add": "alteration", "user_disable": "alteration", "user_enable": "alteration", "user_token": "alteration",
}
_MAX = {"username": 128, "client": 128}


@dataclass(frozen=True)
class Access:
    """One access to log (the time is taken when it is written, under the store's write lock)."""

    username: str
    action: str
    target: str = ""
    client: str = "command line"
    detail: str = ""


def append_access(conn: Connection, access: Access) -> tuple[int, str]:
    """Append ``access`` to the log inside the caller's write transaction. Returns (seq, hash)."""
    return append_accesses(conn, [access])[0]


def append_accesses(conn: Connection, accesses: list[Access]) -> list[tuple[int, str]]:
    """Append ``accesses`` in order inside the caller's write transaction, each timed as it is written.
    Returns each one's (seq, hash)."""
    for access in accesses:
        _check(access)
    entries = [{"at": datetime.now(timezone.utc), "username": a.username[:_MAX["username"]], "action": a.action,
                "target": a.target, "client": a.client[:_MAX["client"]], "detail": a.detail} for a in accesses]
    return append_entries(conn, ACCESS_CHAIN, entries)


def _check(access: Access) -> None:
    if access.action not in ACTIONS:
        raise ValueError(f"access action '{access.action}' is not one of {', '.join(ACTIONS)}")


@dataclass
class _Waiting:
    """An access waiting to be written by whichever thread of this process next takes the writer's turn."""

    access: Access
    seq: int | None = None
    error: BaseException | None = None


_waiting: dict[int, list[_Waiting]] = {}  # per engine: accesses logged and not yet written
_waiting_lock = threading.Lock()


def _forget_waiting_in_child() -> None:
    """After ``fork``: the parent's waiting accesses are its threads' to write, not this process's."""
    global _waiting_lock
    _waiting.clear()
    _waiting_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_waiting_in_child)


def log_access(db_url: str | None, access: Access) -> int:
    """Append ``access`` to the log, durably, before returning its sequence number.

    Group commit: the accesses that this process's threads log while another write is under way are written
    together, in order, in one transaction (one fsync) by the first of them to get the writer's turn; the others
    find theirs written (or the error that stopped it) when they get the turn. Each waits for its own entry to be
    committed, so nothing is shown before its consultation is on disk, and the chain is the same as one entry per
    transaction would make.
    """
    _check(access)
    engine = get_engine(db_url)
    mine = _Waiting(access)
    with _waiting_lock:
        _waiting.setdefault(id(engine), []).append(mine)
    with writer_turn(engine):
        if mine.seq is None and mine.error is None:
            with _waiting_lock:
                batch = _waiting.pop(id(engine))
            try:
                with write_transaction(engine) as conn:
                    written = append_accesses(conn, [w.access for w in batch])
            except BaseException as error:
                for waiting in batch:
                    waiting.error = error
            else:
                for waiting, (seq, _) in zip(batch, written):
                    waiting.seq = seq
    if mine.error is not None:
        raise mine.error
    return mine.seq


def list_access(db_url: str | None = None, *, user: str | None = None, since: date | datetime | None = None,
                limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """Logged accesses, newest first: ``seq``, ``at`` (UTC), ``username``, ``action``, ``kind`` (s.62), ``target``,
    ``client``, ``detail``.

    Args:
        user: only this user's accesses.
        since: from this UK local date (a ``date``) or this instant (a timezone-aware ``datetime``).
        limit, offset: a page of the log.
    """

    query = sa.select(access_log.c.seq, access_log.c.at, access_log.c.username, access_log.c.action,
                      access_log.c.target, access_log.c.client, access_log.c.detail).order_by(access_log.c.seq.desc())
    if user is not None:
        query = query.where(access_log.c.username == user)
    if since is not None:
        if isinstance(since, datetime):
            if since.tzinfo is None:
                raise InputError("the time an access-log listing starts from has no time zone")
            start = since.astimezone(timezone.utc)
        else:
            start = uk_day_start(since)
        query = query.where(access_log.c.at >= start)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    with read_connection(get_engine(db_url)) as conn:
        result = conn.execute(query)
        frame = pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
    frame.insert(4, "kind", frame["action"].map(ACTIONS).fillna("") if len(frame) else pd.Series(dtype=object))
    return frame
