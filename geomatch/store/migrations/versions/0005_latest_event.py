"""PostgreSQL: an index on review events by ``(hit_id, seq)``, so that a hit's latest event (``max(seq)`` of its
events: its status) is one step down an index.

SQLite's index on ``hit_id`` holds each event's ``seq`` already (the row id), so it finds the latest event that way.
PostgreSQL's holds only ``hit_id``: to find the largest ``seq`` it read every event of the hit, or, when its
statistics said the events were few (a store that had just started taking reviews), walked all the events
backwards from the newest until one was the hit's: a queue page of hits without events read every event once per
hit shown (51 x 105 events: 11 ms of a 15 ms page, growing with every review recorded).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "ix_review_events_hit_seq"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {INDEX} ON review_events (hit_id, seq)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {INDEX}")
