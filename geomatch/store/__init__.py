"""The review store: runs, crimes (with versions), hits, append-only review events and the MoJ monthly audit.

SQLite file by default, PostgreSQL by URL, through SQLAlchemy; the schema is migrated (Alembic) on first use.
Every function takes the store's URL first (None: ``$GEOMATCH_DB`` or ``sqlite:///geomatch.db``).
"""
from __future__ import annotations

from geomatch.store.audit import AuditReport, build_audit, month_bounds, write_audit
from geomatch.store.chain import ChainReport, verify_chain
from geomatch.store.engine import DB_ENV_VAR, DEFAULT_DB_URL, get_engine, resolve_db_url, shown_url
from geomatch.store.records import RecordSummary, record_run
from geomatch.store.review import HitRecord, ReviewEvent, add_review, get_hit, list_hits
from geomatch.store.schema import OUTCOMES, PENDING

__all__ = [
    "AuditReport", "ChainReport", "DB_ENV_VAR", "DEFAULT_DB_URL", "HitRecord", "OUTCOMES", "PENDING",
    "RecordSummary", "ReviewEvent", "add_review", "build_audit", "get_engine", "get_hit", "list_hits",
    "month_bounds", "record_run", "resolve_db_url", "shown_url", "verify_chain", "write_audit",
]
