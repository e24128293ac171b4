"""Recording a matching run: its crimes (with version history) and its hits, without duplicates.

A hit is keyed by its deterministic ``hit_id``: recording the same hit again updates its measurements when they
changed and keeps the time it was first received. A crime is keyed by ``crime_ref``: a resent crime whose
content changed becomes a new version (the old ones stay in ``crime_versions``). One run is one transaction.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.core.version import __version__
from geomatch.core.errors import InputError
from geomatch.core.manifest import to_jsonable
from geomatch.store.engine import get_engine, write_transaction
from geomatch.store.packs import PackSources, keep_pack_sources
from geomatch.store.schema import crime_versions, crimes, hits, runs
from geomatch.store.seal import seal_hits

HIT_REQUIRED = ("hit_id", "subject_id", "crime_ref", "offence")
CRIME_REQUIRED = ("crime_ref", "offence")
_HIT_TYPED = ("subject_id", "crime_ref", "offence", "presence", "min_distance_m", "closest_time", "first_in",
              "last_out", "time_in_zone_s", "n_fixes_in_zone", "score", "reasons")
_CRIME_TYPED = ("offence", "committed_from", "committed_to", "x", "y", "area")
_TIME_COLUMNS = {"closest_time", "first_in", "last_out", "window_start", "window_end", "committed_from",
                 "committed_to"}
_NOT_CONTENT = {"source_row"}  # where a row sat in an input file is not part of the record
_CHUNK = 1000


@dataclass(frozen=True)
class RecordSummary:
    """What :func:`record_run` did. ``*_changed``: already stored, content differed (crimes: a new version)."""

    run_id: int
    hits_new: int
    hits_changed: int
    hits_unchanged: int
    crimes_new: int
    crimes_changed: int
    crimes_unchanged: int
    pack_sources_kept: int = 0  # hits whose pack sources were kept (``record_run(pack_sources=...)``)


def record_run(db_url: str | None, hits_frame: pd.DataFrame, crimes_frame: pd.DataFrame,
               manifest: dict | None = None, *, received_at: datetime | None = None,
               pack_sources: PackSources | None = None) -> RecordSummary:
    """Store one matching run's crimes and hits (one transaction; the schema is created on first use).

    Args:
        db_url: the store (None: ``$GEOMATCH_DB`` or ``sqlite:///geomatch.db``).
        hits_frame: hits as produced by the matcher (``hit_id``, ``subject_id``, ``crime_ref``, ``offence``
            required; measurements, ``score`` and ``reasons`` stored when present; times tz-aware UTC).
        crimes_frame: the run's accepted crimes (``crime_ref``, ``offence`` required); every hit's crime must be
            here or already stored.
        manifest: the run manifest, stored as JSON with the run.
        received_at: when the hits were received (timezone-aware; default now). Only for importing hits
            received earlier, such as a backlog kept by hand; never in the future.
        pack_sources: the rows each hit's evidence pack is drawn from, kept in the same transaction so packs can
            be made later from the store (:mod:`geomatch.store.packs`).

    The run ends by sealing the stored hits (:func:`geomatch.store.seal.seal_hits`), keyed when an audit key is
    in force.
    """
    hit_rows = _records(hits_frame, HIT_REQUIRED, "hits")
    crime_rows = _records(crimes_frame, CRIME_REQUIRED, "crimes")
    _refuse_duplicates(hit_rows, "hit_id", "hits")
    _refuse_duplicates(crime_rows, "crime_ref", "crimes")
    now = datetime.now(timezone.utc)
    if received_at is not None and (received_at.tzinfo is None or received_at > now):
        raise InputError("the time the hits were received must be timezone-aware and not in the future")
    received = now if received_at is None else received_at.astimezone(timezone.utc)
    with write_transaction(get_engine(db_url)) as conn:
        run_id = conn.execute(runs.insert().values(
            recorded_at=now, tool_version=__version__, n_hits=len(hit_rows), n_crimes=len(crime_rows),
            manifest=None if manifest is None else json.dumps(to_jsonable(manifest), sort_keys=True),
        )).inserted_primary_key[0]
        crime_counts = _record_crimes(conn, crime_rows, run_id, received)
        _check_crimes_known(conn, hit_rows, {row["crime_ref"] for row in crime_rows})
        hit_counts = _record_hits(conn, hit_rows, run_id, received)
        kept = 0 if pack_sources is None else keep_pack_sources(conn, run_id, pack_sources)
        seal_hits(conn, run_id)
    return RecordSummary(run_id, *hit_counts, *crime_counts, kept)


def _records(frame: pd.DataFrame, required: Iterable[str], what: str) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: times as UTC text (``2026-10-21T08:30:00.000000Z``), missing values as None."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"the {what} table has no '{missing[0]}' column", column=missing[0])
    names, columns = [], []
    for name in frame.columns:
        if name in _NOT_CONTENT:
            continue
        series = frame[name]
        if name in _TIME_COLUMNS:
            values = _utc_text_column(series, name, what)
        else:
            values = series.astype(object).where(series.notna(), None).tolist()
        if name in required:
            values = [None if v is None else str(v) for v in values]
            if any(v is None or v == "" for v in values):
                raise InputError(f"the {what} table has an empty '{name}'", column=name)
        names.append(str(name))
        columns.append(values)
    return [dict(zip(names, row)) for row in zip(*columns)]


def _utc_text_column(series: pd.Series, column: str, what: str) -> list[str | None]:
    """A time column as UTC text to the microsecond (the precision both databases keep); None where missing."""
    if pd.api.types.is_datetime64_dtype(series.dtype):
        raise InputError(f"the {what} table's times have no time zone (UTC expected)", column=column)
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        try:
            series = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError) as error:
            raise InputError(f"the {what} table has a time that cannot be read: {error}", column=column) from error
    instants = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    text = np.char.add(np.datetime_as_string(instants, unit="us"), "Z")
    return np.where(series.isna().to_numpy(), None, text).tolist()


def _typed(row: dict[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """The values of ``columns`` for the database: UTC text back to datetimes, absent columns as None."""
    typed = {c: row.get(c) for c in columns}
    for column in _TIME_COLUMNS.intersection(typed):
        if typed[column] is not None:
            typed[column] = datetime.fromisoformat(typed[column])
    return typed


def _canonical(row: dict[str, Any]) -> tuple[str, str]:
    """Canonical JSON of a row (sorted keys, no spaces, UTF-8) and its hex SHA-256."""
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refuse_duplicates(rows: list[dict[str, Any]], key: str, what: str) -> None:
    seen: set[str] = set()
    for row in rows:
        if row[key] in seen:
            raise InputError(f"the {what} table has '{row[key]}' twice", column=key)
        seen.add(row[key])


def _stored(conn: Connection, key: sa.Column, columns: list[sa.Column], keys: list[str]) -> dict[str, Any]:
    """Stored rows whose ``key`` is in ``keys``, by key (queried in chunks)."""
    found: dict[str, Any] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for row in conn.execute(sa.select(key, *columns).where(key.in_(chunk))):
            found[row[0]] = row
    return found


def _record_crimes(conn: Connection, rows: list[dict[str, Any]], run_id: int,
                   received: datetime) -> tuple[int, int, int]:
    stored = _stored(conn, crimes.c.crime_ref, [crimes.c.version, crimes.c.content_sha256],
                     [row["crime_ref"] for row in rows])
    new, changed, versions = [], [], []
    for row in rows:
        content, digest = _canonical(row)
        typed = _typed(row, _CRIME_TYPED)
        old = stored.get(row["crime_ref"])
        if old is None:
            version = 1
            new.append({"crime_ref": row["crime_ref"], **typed, "version": 1, "content_sha256": digest,
                        "first_received_at": received, "updated_at": received})
        elif old.content_sha256 != digest:
            version = old.version + 1
            changed.append({"b_crime_ref": row["crime_ref"], **typed, "version": version,
                            "content_sha256": digest, "updated_at": received})
        else:
            continue
        versions.append({"crime_ref": row["crime_ref"], "version": version, "content": content,
                         "content_sha256": digest, "received_at": received, "run_id": run_id})
    if new:
        conn.execute(crimes.insert(), new)
    if changed:
        conn.execute(crimes.update().where(crimes.c.crime_ref == sa.bindparam("b_crime_ref")), changed)
    if versions:
        conn.execute(crime_versions.insert(), versions)
    return len(new), len(changed), len(rows) - len(new) - len(changed)


def _check_crimes_known(conn: Connection, rows: list[dict[str, Any]], given: set[str]) -> None:
    unknown = sorted({row["crime_ref"] for row in rows} - given)
    stored = _stored(conn, crimes.c.crime_ref, [], unknown)
    missing = [ref for ref in unknown if ref not in stored]
    if missing:
        raise InputError(f"hits refer to crime '{missing[0]}', which is neither in the run's crimes nor stored "
                         f"({len(missing)} such crimes)", column="crime_ref")


def _record_hits(conn: Connection, rows: list[dict[str, Any]], run_id: int,
                 received: datetime) -> tuple[int, int, int]:
    stored = _stored(conn, hits.c.hit_id, [hits.c.content_sha256], [row["hit_id"] for row in rows])
    new, changed, seen = [], [], []
    for row in rows:
        detail, digest = _canonical(row)
        typed = _typed(row, _HIT_TYPED)
        if typed["n_fixes_in_zone"] is not None:
            typed["n_fixes_in_zone"] = int(typed["n_fixes_in_zone"])
        old = stored.get(row["hit_id"])
        if old is None:
            new.append({"hit_id": row["hit_id"], **typed, "detail": detail, "content_sha256": digest,
                        "first_run_id": run_id, "last_run_id": run_id, "first_received_at": received,
                        "last_seen_at": received})
        elif old.content_sha256 != digest:
            changed.append({"b_hit_id": row["hit_id"], **typed, "detail": detail, "content_sha256": digest,
                            "last_run_id": run_id, "last_seen_at": received})
        else:
            seen.append(row["hit_id"])
    if new:
        conn.execute(hits.insert(), new)
    if changed:
        conn.execute(hits.update().where(hits.c.hit_id == sa.bindparam("b_hit_id")), changed)
    for start in range(0, len(seen), _CHUNK):
        conn.execute(hits.update().where(hits.c.hit_id.in_(seen[start:start + _CHUNK]))
                     .values(last_run_id=run_id, last_seen_at=received))
    return len(new), len(changed), len(seen)
