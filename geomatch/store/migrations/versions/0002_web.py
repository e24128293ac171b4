"""The review web application: accounts, sessions, subjects' offender managers, hit assignments, and the access
log (append-only, hash-chained like the review events).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLES = ("reviewer", "supervisor", "auditor", "admin")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team", sa.String(128), nullable=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_users_role"),
    )
    op.create_table(
        "sessions",
        sa.Column("session_sha256", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(128), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"])
    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("offender_manager", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128), nullable=True),
        sa.Column("loaded_at", UTC, nullable=False),
    )
    op.create_index("ix_subjects_offender_manager", "subjects", ["offender_manager"])
    op.create_index("ix_subjects_team", "subjects", ["team"])
    op.create_table(
        "hit_assignments",
        sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), primary_key=True),
        sa.Column("assignee", sa.String(128), nullable=False),
        sa.Column("assigned_by", sa.String(128), nullable=False),
        sa.Column("assigned_at", UTC, nullable=False),
    )
    op.create_index("ix_hit_assignments_assignee", "hit_assignments", ["assignee"])
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_username", "access_log", ["username"])
    access_head = op.create_table(
        "access_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_access_head_single_row"),
    )
    op.bulk_insert(access_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    _forbid_changes_to_access_log()


def _forbid_changes_to_access_log() -> None:
    """Triggers that refuse UPDATE and DELETE on access_log (the hash chain still catches a bypass)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'access_log is append-only'; END $$")
        for action in ("update", "delete"):
            op.execute(f"CREATE TRIGGER access_log_no_{action} BEFORE {action.upper()} ON access_log "
                       "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()")
    else:
        for action in ("update", "delete"):
            op.execute(f"CREATE TRIGGER access_log_no_{action} BEFORE {action.upper()} ON access_log "
                       "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END")


def downgrade() -> None:
    for table in ("access_head", "access_log", "hit_assignments", "subjects", "sessions", "users"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION access_log_append_only()")
