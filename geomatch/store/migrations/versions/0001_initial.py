"""Initial schema: runs, crimes with their versions, hits, append-only review events with a hash chain.

Revision ID: 0001
Revises: (none)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OUTCOMES = ("no_further_action", "already_known", "intelligence_submitted", "investigation",
            "arrest", "charge", "caution", "recall")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("n_hits", sa.Integer, nullable=False),
        sa.Column("n_crimes", sa.Integer, nullable=False),
        sa.Column("manifest", sa.Text, nullable=True),
    )
    op.create_table(
        "crimes",
        sa.Column("crime_ref", sa.String(128), primary_key=True),
        sa.Column("offence", sa.String(64), nullable=False),
        sa.Column("committed_from", UTC, nullable=True),
        sa.Column("committed_to", UTC, nullable=True),
        sa.Column("x", sa.Float, nullable=True),
        sa.Column("y", sa.Float, nullable=True),
        sa.Column("area", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("first_received_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "crime_versions",
        sa.Column("crime_ref", sa.String(128), sa.ForeignKey("crimes.crime_ref"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
    )
    op.create_table(
        "hits",
        sa.Column("hit_id", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("crime_ref", sa.String(128), sa.ForeignKey("crimes.crime_ref"), nullable=False),
        sa.Column("offence", sa.String(64), nullable=False),
        sa.Column("presence", sa.String(32), nullable=True),
        sa.Column("min_distance_m", sa.Float, nullable=True),
        sa.Column("closest_time", UTC, nullable=True),
        sa.Column("first_in", UTC, nullable=True),
        sa.Column("last_out", UTC, nullable=True),
        sa.Column("time_in_zone_s", sa.Float, nullable=True),
        sa.Column("n_fixes_in_zone", sa.Integer, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("reasons", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("first_run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("last_run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("first_received_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
    )
    for column in ("subject_id", "crime_ref", "offence", "score", "first_received_at"):
        op.create_index(f"ix_hits_{column}", "hits", [column])
    op.create_table(
        "review_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.CheckConstraint("outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")",
                           name="ck_review_events_outcome"),
    )
    op.create_index("ix_review_events_hit_id", "review_events", ["hit_id"])
    chain_head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_chain_head_single_row"),
    )
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    _forbid_changes_to_review_events()


def _forbid_changes_to_review_events() -> None:
    """Triggers that refuse UPDATE and DELETE on review_events (the hash chain still catches a bypass)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION review_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'review_events is append-only'; END $$")
        for action in ("update", "delete"):
            op.execute(f"CREATE TRIGGER review_events_no_{action} BEFORE {action.upper()} ON review_events "
                       "FOR EACH ROW EXECUTE FUNCTION review_events_append_only()")
    else:
        for action in ("update", "delete"):
            op.execute(f"CREATE TRIGGER review_events_no_{action} BEFORE {action.upper()} ON review_events "
                       "BEGIN SELECT RAISE(ABORT, 'review_events is append-only'); END")


def downgrade() -> None:
    for table in ("chain_head", "review_events", "hits", "crime_versions", "crimes", "runs"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION review_events_append_only()")
