"""Tables of the review store (SQLAlchemy Core), for queries.

The tables are created by the Alembic migrations in ``geomatch/store/migrations/versions``; this module describes
the same schema for building queries, and a test checks the two agree. Every time column holds UTC: on
PostgreSQL as ``timestamptz``, on SQLite as text written in UTC and read back timezone-aware.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from geomatch.store.outcomes import OUTCOMES, PENDING  # noqa: F401  (re-exported)

#: The ``prev_hash`` of the first review event.
GENESIS_HASH = "0" * 64


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC ``datetime`` on every backend (SQLite keeps no zone, so UTC is implied there)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; times must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("tool_version", sa.String(32), nullable=False),
    sa.Column("n_hits", sa.Integer, nullable=False),
    sa.Column("n_crimes", sa.Integer, nullable=False),
    sa.Column("manifest", sa.Text, nullable=True),  # the run manifest as JSON
)

crimes = sa.Table(
    "crimes", metadata,
    sa.Column("crime_ref", sa.String(128), primary_key=True),
    sa.Column("offence", sa.String(64), nullable=False),
    sa.Column("committed_from", UTCDateTime, nullable=True),
    sa.Column("committed_to", UTCDateTime, nullable=True),
    sa.Column("x", sa.Float, nullable=True),  # EPSG:27700 easting, metres
    sa.Column("y", sa.Float, nullable=True),  # EPSG:27700 northing, metres
    sa.Column("area", sa.String(128), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("first_received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

crime_versions = sa.Table(
    "crime_versions", metadata,
    sa.Column("crime_ref", sa.String(128), sa.ForeignKey("crimes.crime_ref"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("content", sa.Text, nullable=False),  # the crime record as received, canonical JSON
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
)

hits = sa.Table(
    "hits", metadata,
    sa.Column("hit_id", sa.String(64), primary_key=True),
    sa.Column("subject_id", sa.String(128), nullable=False, index=True),
    sa.Column("crime_ref", sa.String(128), sa.ForeignKey("crimes.crime_ref"), nullable=False, index=True),
    sa.Column("offence", sa.String(64), nullable=False, index=True),
    sa.Column("presence", sa.String(32), nullable=True),
    sa.Column("min_distance_m", sa.Float, nullable=True),
    sa.Column("closest_time", UTCDateTime, nullable=True),
    sa.Column("first_in", UTCDateTime, nullable=True),
    sa.Column("last_out", UTCDateTime, nullable=True),
    sa.Column("time_in_zone_s", sa.Float, nullable=True),
    sa.Column("n_fixes_in_zone", sa.Integer, nullable=True),
    sa.Column("score", sa.Float, nullable=True, index=True),  # 0-100, NULL until scoring exists
    sa.Column("reasons", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),  # the whole hit row as received, canonical JSON
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("first_run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("last_run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("first_received_at", UTCDateTime, nullable=False, index=True),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
)

# The queue's order (migration 0004): on PostgreSQL with NULLS LAST (its index on score read backwards puts
# unscored hits first); on SQLite, whose DESC puts NULL last, with the subject too, so a reviewer's queue passes
# over other reviewers' hits from the index alone.
sa.Index("ix_hits_queue_order", hits.c.score.desc().nulls_last(), hits.c.hit_id).ddl_if(dialect="postgresql")
sa.Index("ix_hits_queue_order", hits.c.score.desc(), hits.c.hit_id, hits.c.subject_id).ddl_if(dialect="sqlite")

review_events = sa.Table(
    "review_events", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, 3 ... with no gaps
    sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.CheckConstraint("outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")", name="ck_review_events_outcome"),
)

# A hit's latest event in one step down an index on PostgreSQL (migration 0005); SQLite's index on hit_id holds the
# seq (its row id) already.
sa.Index("ix_review_events_hit_seq", review_events.c.hit_id, review_events.c.seq).ddl_if(dialect="postgresql")

# One row (id 1): the last event of the chain, so that deleting the newest events is detected too.
chain_head = sa.Table(
    "chain_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_chain_head_single_row"),
)

# Pack sources (migration 0003): what each hit's evidence pack is drawn from, so packs can be made from the store.
pack_runs = sa.Table(
    "pack_runs", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), primary_key=True, autoincrement=False),
    sa.Column("crs", sa.String(64), nullable=False),  # the metric CRS of the fixes' and crimes' x/y
    sa.Column("context_s", sa.Float, nullable=False),  # trail kept either side of each padded window (s)
    sa.Column("config", sa.Text, nullable=False),  # the MatchConfig as JSON
    sa.Column("inputs", sa.Text, nullable=False),  # manifest entries (path, sha256, bytes) of the input files
    sa.Column("hits", sa.LargeBinary, nullable=False),  # Parquet: the run's hits as matched (and scored)
    sa.Column("crimes", sa.LargeBinary, nullable=False),  # Parquet: their crimes as loaded, in the CRS
)

pack_fixes = sa.Table(
    "pack_fixes", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("pack_runs.run_id"), primary_key=True, autoincrement=False),
    sa.Column("subject_id", sa.String(128), primary_key=True),
    sa.Column("n_fixes", sa.Integer, nullable=False),
    sa.Column("fixes", sa.LargeBinary, nullable=False),  # Parquet: the subject's fixes that the run's packs need
)

pack_sources = sa.Table(
    "pack_sources", metadata,
    sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("pack_runs.run_id"), nullable=False, index=True),  # latest
)

# ---- the review web application (migration 0002): accounts, sessions, assignment, access log ----------------

#: Roles of the web application's accounts, from least to most privileged for users (see geomatch.web.auth).
ROLES: tuple[str, ...] = ("reviewer", "supervisor", "auditor", "admin")

users = sa.Table(
    "users", metadata,
    sa.Column("username", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("team", sa.String(128), nullable=True),
    sa.Column("password_hash", sa.Text, nullable=True),  # argon2id (PHC string); NULL: no password login
    sa.Column("token_sha256", sa.String(64), nullable=True, unique=True),  # hex SHA-256 of the API token
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),  # consecutive failed password logins
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_users_role"),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("session_sha256", sa.String(64), primary_key=True),  # hex SHA-256 of the session id in the cookie
    sa.Column("username", sa.String(128), sa.ForeignKey("users.username"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

subjects = sa.Table(
    "subjects", metadata,
    sa.Column("subject_id", sa.String(128), primary_key=True),
    sa.Column("offender_manager", sa.String(128), nullable=False, index=True),
    sa.Column("team", sa.String(128), nullable=True, index=True),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)

# A hit reassigned by a supervisor: overrides its subject's offender manager.
hit_assignments = sa.Table(
    "hit_assignments", metadata,
    sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), primary_key=True),
    sa.Column("assignee", sa.String(128), nullable=False, index=True),
    sa.Column("assigned_by", sa.String(128), nullable=False),
    sa.Column("assigned_at", UTCDateTime, nullable=False),
)

access_log = sa.Table(
    "access_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, 3 ... with no gaps
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("username", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("client", sa.String(128), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)

# One row (id 1): the last entry of the access log's chain.
access_head = sa.Table(
    "access_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_access_head_single_row"),
)
