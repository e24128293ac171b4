"""Who reviews which hit: each subject's offender manager (and team) from a subjects file, and the hits a
supervisor reassigned. A hit's assignee is its reassignment if any, else its subject's offender manager; its team
is its subject's team. Also the queue: a page of hits as one user may see them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from geomatch.core.errors import InputError
from geomatch.store.access import Access, append_access
from geomatch.store.engine import get_engine, prepared, read_connection, write_transaction
from geomatch.store.review import hit_conditions, hit_filter, latest_event
from geomatch.store.schema import PENDING, hit_assignments, hits, subjects, users

SUBJECT_COLUMNS = ("subject_id", "offender_manager")  # required; "team" optional


@dataclass(frozen=True)
class SubjectsSummary:
    """What :func:`load_subjects` did; ``managers_without_account``: offender managers with no user yet."""

    new: int
    changed: int
    unchanged: int
    managers_without_account: tuple[str, ...]


def read_subjects(path: Path) -> pd.DataFrame:
    """A subjects file (CSV: ``subject_id``, ``offender_manager``, optional ``team``) as text columns."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as error:
        raise InputError(f"the subjects file {path} does not exist") from error
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise InputError(f"the subjects file {path} cannot be read as CSV: {error}") from error
    frame.columns = [c.strip() for c in frame.columns]
    for column in SUBJECT_COLUMNS:
        if column not in frame.columns:
            raise InputError(f"the subjects file {path} has no '{column}' column", column=column)
    frame = frame[[c for c in (*SUBJECT_COLUMNS, "team") if c in frame.columns]].apply(lambda s: s.str.strip())
    for column in SUBJECT_COLUMNS:
        empty = frame.index[frame[column] == ""]
        if len(empty):
            raise InputError(f"the subjects file {path} has an empty '{column}' on line {empty[0] + 2}",
                             column=column)
    duplicated = frame["subject_id"][frame["subject_id"].duplicated()]
    if len(duplicated):
        raise InputError(f"the subjects file {path} lists subject '{duplicated.iloc[0]}' twice", column="subject_id")
    return frame


def load_subjects(db_url: str | None, frame: pd.DataFrame, *, by: str = "command line",
                  source: str = "") -> SubjectsSummary:
    """Store each subject's offender manager and team (subjects not in ``frame`` are kept as they were)."""
    now = datetime.now(timezone.utc)
    teams = frame["team"] if "team" in frame.columns else pd.Series("", index=frame.index)
    rows = [{"subject_id": s, "offender_manager": m, "team": t or None}
            for s, m, t in zip(frame["subject_id"], frame["offender_manager"], teams)]
    with write_transaction(get_engine(db_url)) as conn:
        stored = {r.subject_id: (r.offender_manager, r.team) for r in conn.execute(sa.select(subjects))}
        new = [dict(r, loaded_at=now) for r in rows if r["subject_id"] not in stored]
        changed = [{"b_subject_id": r["subject_id"], "offender_manager": r["offender_manager"], "team": r["team"],
                    "loaded_at": now}
                   for r in rows if r["subject_id"] in stored
                   and stored[r["subject_id"]] != (r["offender_manager"], r["team"])]
        if new:
            conn.execute(subjects.insert(), new)
        if changed:
            conn.execute(subjects.update().where(subjects.c.subject_id == sa.bindparam("b_subject_id")), changed)
        known = {u for (u,) in conn.execute(sa.select(users.c.username))}
        append_access(conn, Access(by, "load_subjects", source,
                                   detail=f"{len(new)} new, {len(changed)} changed, {len(rows)} in file"))
    missing = tuple(sorted({r["offender_manager"] for r in rows} - known))
    return SubjectsSummary(len(new), len(changed), len(rows) - len(new) - len(changed), missing)


def assignee_column() -> sa.ColumnElement:
    """A hit's assignee (needs the outer joins of :func:`_with_assignment`)."""
    return sa.func.coalesce(hit_assignments.c.assignee, subjects.c.offender_manager)


def _with_assignment(from_: sa.FromClause) -> sa.FromClause:
    return (from_.outerjoin(subjects, subjects.c.subject_id == hits.c.subject_id)
            .outerjoin(hit_assignments, hit_assignments.c.hit_id == hits.c.hit_id))


@dataclass(frozen=True)
class Scope:
    """The hits a user may see: all (both None), those assigned to ``assignee``, or those of ``team``'s subjects."""

    assignee: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: ``rows`` (dicts), and whether more hits follow."""

    rows: list[dict]
    has_more: bool


def queue_page(db_url: str | None, scope: Scope, *, status: str | None = PENDING, offence: str | None = None,
               subject: str | None = None, since: date | None = None, until: date | None = None,
               min_score: float | None = None, assigned_to: str | None = None,
               received_before: datetime | None = None, limit: int = 50, offset: int = 0) -> QueuePage:
    """Hits in ``scope`` that match the filters, highest score first (then by hit id), one page.

    Args:
        status, offence, subject, since, until, min_score: as :func:`geomatch.store.list_hits`.
        assigned_to: only hits assigned to this user.
        received_before: only hits first received before this instant (with status pending: the overdue ones).
    """
    values = hit_filter(status=status, subject=subject, offence=offence, since=since, until=until,
                        min_score=min_score)
    for name, value in (("assignee", scope.assignee), ("team", scope.team), ("assigned_to", assigned_to),
                        ("overdue_before", received_before)):
        if value is not None:
            values[name] = value
    engine = get_engine(db_url)
    query = _queue_statement(frozenset(values), engine.dialect.name)
    values.pop("pending", None)  # a condition without a value
    with read_connection(engine) as conn:
        rows = [dict(r) for r in conn.execute(query, {**values, "limit": limit + 1, "offset": offset}).mappings()]
    return QueuePage(rows[:limit], len(rows) > limit)


@lru_cache(maxsize=512)
def _queue_statement(names: frozenset[str], dialect: str) -> sa.Select:
    """The queue's query for the filters ``names`` (keys of :func:`geomatch.store.review.hit_filter`, and
    ``assignee``, ``team``, ``assigned_to``, ``overdue_before``) on the database ``dialect``, with the values and
    the page as bound parameters.

    Built once per combination of filters: building a statement and its cache key anew cost about as much as
    running it on SQLite.
    """
    latest, on_latest = latest_event(hits.c.hit_id)
    # The pending queue (the default) needs no latest event: its hits have none. The join, a lookup per hit read,
    # is left out, and the status and last review written as what they are.
    pending = "pending" in names
    status = sa.literal(PENDING) if pending else sa.func.coalesce(latest.c.outcome, PENDING)
    last_review_at = sa.null() if pending else latest.c.at
    mine = {
        "assignee": lambda: _assigned_to("assignee", dialect),
        # On SQLite an expression, not the column: its planner went from the team's index to all the team's hits
        # and sorted them (180 ms at 100,000 hits) rather than reading the queue's index (0.5 ms).
        "team": lambda: (subjects.c.team.concat("") if dialect == "sqlite" else subjects.c.team)
        == sa.bindparam("team"),
        "assigned_to": lambda: _assigned_to("assigned_to", dialect),
        "overdue_before": lambda: hits.c.first_received_at < sa.bindparam("overdue_before"),
    }
    joined = _with_assignment(hits)
    return prepared(sa.select(hits.c.hit_id, hits.c.score, status.label("status"),
                      hits.c.subject_id, hits.c.crime_ref, hits.c.offence, hits.c.presence, hits.c.min_distance_m,
                      hits.c.closest_time, hits.c.first_received_at, last_review_at.label("last_review_at"),
                      assignee_column().label("assignee"), subjects.c.team)
            # The latest event joined last: SQLite keeps the order of outer joins, and looks it up only for the
            # hits that pass the scope's test (a reviewer's queue page 1.9 -> 1.4 ms, page 2 3.1 -> 2.4 ms).
            .select_from(joined if pending else joined.outerjoin(latest, on_latest))
            .where(*hit_conditions(latest, names - set(mine)), *(mine[name]() for name in sorted(names & set(mine))))
            .order_by(hits.c.score.desc().nulls_last(), hits.c.hit_id)
            .limit(sa.bindparam("limit", type_=sa.Integer)).offset(sa.bindparam("offset", type_=sa.Integer)))


def _assigned_to(parameter: str, dialect: str) -> sa.ColumnElement:
    """The hits assigned to the user named by the bound ``parameter`` (needs the outer joins of
    :func:`_with_assignment`), in the form each database's planner does best with.

    SQLite reads the score index and checks each hit: ``assignee_column() == user`` is cheapest there. On
    PostgreSQL the same hits are written "reassigned to them, or not reassigned and of a subject they manage": of
    the coalesce over two outer joins its planner guessed 0.3 % of the hits (a reviewer has 5 %) and sorted them
    all (600 ms at 100,000 hits) instead of reading the queue's index until the page was full (6 ms). (On SQLite
    that form makes it gather the reviewer's hits through the subject index and sort them: 60 ms.)
    """
    if dialect == "sqlite":
        return assignee_column() == sa.bindparam(parameter)
    reassigned, other = hit_assignments.alias("reassigned"), hit_assignments.alias("reassignment")
    managed = subjects.alias("managed")
    return sa.or_(
        hits.c.hit_id.in_(sa.select(reassigned.c.hit_id).where(reassigned.c.assignee == sa.bindparam(parameter))),
        sa.and_(hits.c.subject_id.in_(sa.select(managed.c.subject_id)
                                      .where(managed.c.offender_manager == sa.bindparam(parameter))),
                ~sa.exists().where(other.c.hit_id == hits.c.hit_id)))


def hit_assignment(db_url: str | None, hit_id: str) -> tuple[str | None, str | None] | None:
    """A hit's (assignee, team), or None when there is no such hit."""
    with read_connection(get_engine(db_url)) as conn:
        row = conn.execute(_hit_assignment_statement(), {"hit_id": hit_id}).first()
    return None if row is None else (row[0], row[1])


@lru_cache(maxsize=1)
def _hit_assignment_statement() -> sa.Select:
    """A hit's assignee and team (checked on every request for a hit): built once."""
    return prepared(sa.select(assignee_column(), subjects.c.team).select_from(_with_assignment(hits))
                    .where(hits.c.hit_id == sa.bindparam("hit_id")))


def offences(db_url: str | None) -> list[str]:
    """The offences of the stored hits, sorted."""
    with read_connection(get_engine(db_url)) as conn:
        return [o for (o,) in conn.execute(sa.select(hits.c.offence).distinct().order_by(hits.c.offence))]


def assign_hit(db_url: str | None, hit_id: str, assignee: str, *, access: Access) -> None:
    """Reassign a hit to ``assignee`` (an active user) and log it in the same transaction."""
    now = datetime.now(timezone.utc)
    with write_transaction(get_engine(db_url)) as conn:
        if conn.execute(sa.select(hits.c.hit_id).where(hits.c.hit_id == hit_id)).first() is None:
            raise InputError(f"there is no hit '{hit_id}' in the store")
        if conn.execute(sa.select(users.c.username).where(users.c.username == assignee,
                                                          users.c.active.is_(True))).first() is None:
            raise InputError(f"there is no active user '{assignee}' to assign the hit to")
        conn.execute(hit_assignments.delete().where(hit_assignments.c.hit_id == hit_id))
        conn.execute(hit_assignments.insert().values(hit_id=hit_id, assignee=assignee, assigned_by=access.username,
                                                     assigned_at=now))
        append_access(conn, access)


def team_members(db_url: str | None, team: str | None) -> list[str]:
    """Active reviewers and supervisors of ``team`` (all teams when None), who may be assigned hits."""
    query = (sa.select(users.c.username).where(users.c.active.is_(True), users.c.role.in_(("reviewer", "supervisor")))
             .order_by(users.c.username))
    if team is not None:
        query = query.where(users.c.team == team)
    with read_connection(get_engine(db_url)) as conn:
        return [u for (u,) in conn.execute(query)]
