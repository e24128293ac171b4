"""Review events (append-only) and the hits as reviewers see them: listed with their status, or one in full.

A hit's status is the outcome of its latest review event, or ``pending`` when it has none.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from geomatch.core.errors import InputError
from geomatch.core.times import UK_TZ, uk_day_start
from geomatch.store.access import Access, append_access
from geomatch.store.chain import append_event
from geomatch.store.engine import get_engine, prepared, read_connection, write_transaction
from geomatch.store.schema import OUTCOMES, PENDING, chain_head, crime_versions, crimes, hits, review_events

UK = ZoneInfo(UK_TZ)


@dataclass(frozen=True)
class ReviewEvent:
    """One stored review event (``at`` in UTC)."""

    seq: int
    hit_id: str
    at: datetime
    by: str
    outcome: str
    note: str
    hash: str


def add_review(db_url: str | None, hit_id: str, *, outcome: str, by: str, note: str = "",
               at: datetime | None = None, access: Access | None = None) -> ReviewEvent:
    """Append a review event to a hit and to the hash chain.

    Args:
        outcome: one of :data:`geomatch.store.schema.OUTCOMES`.
        by: who reviewed (name or collar number).
        note: free text.
        at: when the review happened (timezone-aware; default now). Only for importing past reviews: an event
            may not be dated before the chain's latest event nor in the future.
        access: an entry for the access log, written in the same transaction as the event (the web application's
            record of who altered the hit, from where).
    """
    if outcome not in OUTCOMES:
        raise InputError(f"outcome '{outcome}' is not one of {', '.join(OUTCOMES)}")
    if not by.strip():
        raise InputError("a review must say who made it (--by)")
    now = datetime.now(timezone.utc)
    if at is not None and at.tzinfo is None:
        raise InputError("the review time has no time zone")
    if at is not None and at > now:
        raise InputError(f"the review time {at.isoformat()} is in the future")
    with write_transaction(get_engine(db_url)) as conn:
        if conn.execute(_HIT_EXISTS, {"hit_id": hit_id}).first() is None:
            raise InputError(f"there is no hit '{hit_id}' in the store")
        if at is None:
            at = datetime.now(timezone.utc)  # taken under the write lock, so the chain is in time order
        else:
            at = at.astimezone(timezone.utc)
            latest = conn.execute(sa.select(review_events.c.at)
                                  .join(chain_head, chain_head.c.seq == review_events.c.seq)).scalar()
            if latest is not None and at < latest:
                raise InputError(f"the review time {at.isoformat()} is before the latest recorded review "
                                 f"({latest.isoformat()}); past reviews must be imported in time order")
        seq, digest = append_event(conn, hit_id=hit_id, at=at, by=by.strip(), outcome=outcome, note=note)
        if access is not None:
            append_access(conn, access)
    return ReviewEvent(seq, hit_id, at, by.strip(), outcome, note, digest)


_HIT_EXISTS = prepared(sa.select(hits.c.hit_id).where(hits.c.hit_id == sa.bindparam("hit_id")))


def latest_event(hit_id: sa.ColumnElement, until: datetime | None = None) -> tuple[sa.Alias, sa.ColumnElement]:
    """The latest review event of the hit ``hit_id`` (optionally as of ``until``), to outer-join on.

    Returns the aliased events table and the join condition. The condition is a correlated ``max(seq)`` lookup
    through the ``hit_id`` index: one index probe per hit, where joining a grouped subquery made SQLite scan
    every event for every hit.
    """
    latest, earlier = review_events.alias("latest"), review_events.alias("earlier")
    last_seq = sa.select(sa.func.max(earlier.c.seq)).where(earlier.c.hit_id == hit_id)
    if until is not None:
        last_seq = last_seq.where(earlier.c.at <= until)
    return latest, latest.c.seq == last_seq.scalar_subquery()


def list_hits(db_url: str | None = None, *, status: str | None = None, subject: str | None = None,
              offence: str | None = None, since: date | None = None, until: date | None = None,
              min_score: float | None = None) -> pd.DataFrame:
    """Stored hits with their status, highest score first (then by hit id; unscored hits last).

    Args:
        status: ``pending`` or an outcome (the latest event's).
        since, until: first-received date range in UK local dates, both inclusive.
        min_score: lowest score (0-100) shown; unscored hits are left out when given.
    """
    latest, on_latest = latest_event(hits.c.hit_id)
    status_col = sa.func.coalesce(latest.c.outcome, PENDING).label("status")
    query = (sa.select(hits.c.hit_id, hits.c.score, status_col, hits.c.subject_id, hits.c.crime_ref,
                       hits.c.offence, hits.c.presence, hits.c.min_distance_m, hits.c.closest_time,
                       hits.c.first_received_at, latest.c.at.label("last_review_at"))
             .select_from(hits.outerjoin(latest, on_latest))
             .order_by(hits.c.score.desc().nulls_last(), hits.c.hit_id))
    values = hit_filter(status=status, subject=subject, offence=offence, since=since, until=until,
                        min_score=min_score)
    query = query.where(*hit_conditions(latest, values))
    with read_connection(get_engine(db_url)) as conn:
        result = conn.execute(query, {k: v for k, v in values.items() if k != "pending"})
        return pd.DataFrame.from_records(result.all(), columns=list(result.keys()))


def hit_filter(*, status: str | None = None, subject: str | None = None, offence: str | None = None,
               since: date | None = None, until: date | None = None,
               min_score: float | None = None) -> dict[str, Any]:
    """The filters given (arguments as in :func:`list_hits`) as the values of the parameters of
    :func:`hit_conditions`: ``pending`` (None: no value), ``outcome``, ``subject``, ``offence``, ``received_from``
    and ``received_to`` (UTC instants, the end excluded), ``min_score``."""
    if status is not None and status != PENDING and status not in OUTCOMES:
        raise InputError(f"status '{status}' is not pending nor one of {', '.join(OUTCOMES)}")
    values: dict[str, Any] = {}
    if status == PENDING:
        values["pending"] = None
    elif status is not None:
        values["outcome"] = status
    if subject is not None:
        values["subject"] = subject
    if offence is not None:
        values["offence"] = offence
    if since is not None:
        values["received_from"] = uk_day_start(since)
    if until is not None:
        values["received_to"] = uk_day_start(until + timedelta(days=1))
    if min_score is not None:
        values["min_score"] = min_score
    return values


def hit_conditions(latest: sa.Alias, names: Iterable[str]) -> list[sa.ColumnElement]:
    """WHERE conditions on ``hits`` outer-joined to the ``latest`` event (see :func:`latest_event`) for the
    parameters ``names`` (keys of :func:`hit_filter`), as named bound parameters: values are never SQL text, and
    a statement built once serves every value."""
    conditions = {
        # No event at all, the same hits as "the latest event has no outcome" (every event has one), in a form
        # PostgreSQL's planner estimates (it took the outer join's NULL to keep 0.3 % of the hits).
        "pending": lambda: ~sa.exists().where(review_events.alias("any_event").c.hit_id == hits.c.hit_id),
        "outcome": lambda: latest.c.outcome == sa.bindparam("outcome"),
        "subject": lambda: hits.c.subject_id == sa.bindparam("subject"),
        "offence": lambda: hits.c.offence == sa.bindparam("offence"),
        "received_from": lambda: hits.c.first_received_at >= sa.bindparam("received_from"),
        "received_to": lambda: hits.c.first_received_at < sa.bindparam("received_to"),
        "min_score": lambda: hits.c.score >= sa.bindparam("min_score"),
    }
    return [conditions[name]() for name in sorted(names)]


@dataclass(frozen=True)
class HitRecord:
    """One hit in full: its stored row, its measurements as received, its crime and review history."""

    hit: dict[str, Any]
    measurements: dict[str, Any]
    crime: dict[str, Any]
    crime_version: int
    events: list[ReviewEvent]

    @property
    def status(self) -> str:
        return self.events[-1].outcome if self.events else PENDING


def get_hit(db_url: str | None, hit_id: str) -> HitRecord:
    """A hit with its crime (current version) and every review event, oldest first."""
    hit_query, events_query = _hit_statements()
    with read_connection(get_engine(db_url)) as conn:
        row = conn.execute(hit_query, {"hit_id": hit_id}).mappings().first()
        if row is None:
            raise InputError(f"there is no hit '{hit_id}' in the store")
        events = conn.execute(events_query, {"hit_id": hit_id}).mappings().all()
    return HitRecord(
        hit={name: row[name] for name in hits.c.keys()}, measurements=json.loads(row["detail"]),
        crime=json.loads(row["crime_content"]), crime_version=row["crime_version"],
        events=[ReviewEvent(e["seq"], e["hit_id"], e["at"], e["by"], e["outcome"], e["note"], e["hash"])
                for e in events])


@lru_cache(maxsize=1)
def _hit_statements() -> tuple[sa.Select, sa.Select]:
    """The statements of :func:`get_hit` (every hit page runs them): the hit with its crime's current version and
    content (one statement: on PostgreSQL each costs a round trip to the server); its events. Built once, the values
    bound at each call."""
    current = (hits.join(crimes, crimes.c.crime_ref == hits.c.crime_ref)
               .join(crime_versions, sa.and_(crime_versions.c.crime_ref == crimes.c.crime_ref,
                                             crime_versions.c.version == crimes.c.version)))
    return (prepared(sa.select(hits, crimes.c.version.label("crime_version"),
                               crime_versions.c.content.label("crime_content"))
                     .select_from(current).where(hits.c.hit_id == sa.bindparam("hit_id"))),
            prepared(sa.select(review_events).where(review_events.c.hit_id == sa.bindparam("hit_id"))
                     .order_by(review_events.c.seq)))
