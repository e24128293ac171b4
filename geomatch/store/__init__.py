"""The review store: runs, crimes (with versions), hits, append-only review events and the MoJ monthly audit;
hit seals and an optional audit key (HMAC) so that edits and forgeries are found by ``verify_chain`` and
``verify_hits``.

SQLite file by default, PostgreSQL by URL, through SQLAlchemy; the schema is migrated (Alembic) on first use.
Every function takes the store's URL first (None: ``$GEOMATCH_DB`` or ``sqlite:///geomatch.db``). The names below
are imported on first use, so ``geomatch.store.outcomes`` can be read without loading SQLAlchemy.
"""
from __future__ import annotations

from geomatch.core.lazy import lazy_exports
from geomatch.store.outcomes import OUTCOMES, PENDING

_EXPORTS = {
    "AuditReport": "geomatch.store.audit", "build_audit": "geomatch.store.audit",
    "month_bounds": "geomatch.store.audit", "write_audit": "geomatch.store.audit",
    "ChainReport": "geomatch.store.chain", "verify_chain": "geomatch.store.chain",
    "DB_ENV_VAR": "geomatch.store.engine", "DEFAULT_DB_URL": "geomatch.store.engine",
    "get_engine": "geomatch.store.engine", "resolve_db_url": "geomatch.store.engine",
    "shown_url": "geomatch.store.engine",
    "PackSources": "geomatch.store.packs", "keep_pack_sources": "geomatch.store.packs",
    "load_pack_sources": "geomatch.store.packs",
    "RecordSummary": "geomatch.store.records", "record_run": "geomatch.store.records",
    "HitRecord": "geomatch.store.review", "ReviewEvent": "geomatch.store.review",
    "add_review": "geomatch.store.review", "get_hit": "geomatch.store.review", "list_hits": "geomatch.store.review",
    "HitsReport": "geomatch.store.seal", "verify_hits": "geomatch.store.seal",
    "AuditKey": "geomatch.store.keys", "load_key_file": "geomatch.store.keys", "using_key": "geomatch.store.keys",
}
__all__ = ["OUTCOMES", "PENDING", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
