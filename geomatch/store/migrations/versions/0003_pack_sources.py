"""Pack sources: per hit, the rows its evidence pack is drawn from (the hit, its crime, the subject's fixes
around the window), and per run the matching parameters, the CRS and the input files' hashes, so a pack can be
made later from the store alone.

Revision ID: 0003
Revises: 0001 (re-pointed to 0002 when the web app's migration is merged)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_runs",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), primary_key=True, autoincrement=False),
        sa.Column("crs", sa.String(64), nullable=False),
        sa.Column("context_s", sa.Float, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("hits", sa.LargeBinary, nullable=False),
        sa.Column("crimes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "pack_fixes",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("pack_runs.run_id"), primary_key=True,
                  autoincrement=False),
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("n_fixes", sa.Integer, nullable=False),
        sa.Column("fixes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "pack_sources",
        sa.Column("hit_id", sa.String(64), sa.ForeignKey("hits.hit_id"), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("pack_runs.run_id"), nullable=False),
    )
    op.create_index("ix_pack_sources_run_id", "pack_sources", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_pack_sources_run_id", "pack_sources")
    for table in ("pack_sources", "pack_fixes", "pack_runs"):
        op.drop_table(table)
