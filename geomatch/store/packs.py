"""Pack sources: the rows each hit's evidence pack is drawn from, kept in the store when a run is recorded, so a
reviewer with a hit id can get its pack without the run's input files.

Per run: its hits and their crimes (one Parquet blob each), the matching parameters, the CRS of ``x``/``y``, the
trail context kept and the input files' manifest entries; per subject of the run, the fixes its hits' packs
need (the union of :func:`geomatch.evidence.context.trail_slices` over its hits, one Parquet blob, so
overlapping windows are kept once); per hit, the latest run that kept it. Parquet keeps every value with its
exact type (nanosecond UTC times, categories, floats to the bit), so a pack made later is byte-identical to one
made at match time.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geomatch.core.errors import InputError
from geomatch.core.manifest import to_jsonable
from geomatch.store.engine import get_engine, read_connection
from geomatch.store.schema import pack_fixes, pack_runs, pack_sources

_CHUNK = 500


@dataclass(frozen=True)
class PackSources:
    """What packs are drawn from, for hits of one run.

    Attributes:
        crs: the metric CRS of the fixes' and crimes' ``x``/``y``.
        context_s: trail kept either side of each padded window (s).
        config: the matching parameters (``MatchConfig`` as JSON-ready values).
        inputs: manifest entries (``path``, ``sha256``, ``bytes``) of the run's input files.
        hits: the hits (``hit_id`` unique).
        crimes: their crimes (``crime_ref`` unique).
        fixes: per subject, the fixes the packs of its hits need, in time order.
    """

    crs: str
    context_s: float
    config: dict[str, Any]
    inputs: list[dict[str, Any]]
    hits: pd.DataFrame
    crimes: pd.DataFrame
    fixes: Mapping[str, pd.DataFrame]


def to_parquet(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet bytes (zstd, no index, pandas dtypes kept in the schema metadata)."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def from_parquet(blob: bytes) -> pd.DataFrame:
    """The frame :func:`to_parquet` wrote."""
    return pq.read_table(io.BytesIO(blob)).to_pandas()


def keep_pack_sources(conn: Connection, run_id: int, sources: PackSources) -> int:
    """Store ``sources`` as the pack sources of run ``run_id`` (inside the caller's write transaction); a hit
    kept by an earlier run now points at this one. Returns the number of hits kept."""
    conn.execute(pack_runs.insert().values(
        run_id=run_id, crs=sources.crs, context_s=float(sources.context_s),
        config=json.dumps(to_jsonable(sources.config), sort_keys=True),
        inputs=json.dumps(to_jsonable(sources.inputs), sort_keys=True),
        hits=to_parquet(sources.hits.reset_index(drop=True)),
        crimes=to_parquet(sources.crimes.reset_index(drop=True))))
    rows = [{"run_id": run_id, "subject_id": str(subject), "n_fixes": len(frame),
             "fixes": to_parquet(frame.reset_index(drop=True))} for subject, frame in sources.fixes.items()]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(pack_fixes.insert(), rows[start:start + _CHUNK])
    ids = sources.hits["hit_id"].astype(str).tolist()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        conn.execute(pack_sources.delete().where(pack_sources.c.hit_id.in_(chunk)))
        conn.execute(pack_sources.insert(), [{"hit_id": hit, "run_id": run_id} for hit in chunk])
    return len(ids)


def load_pack_sources(db_url: str | None, hit_ids: Sequence[str]) -> list[PackSources]:
    """The kept pack sources of ``hit_ids``, one :class:`PackSources` per run that kept them (in run order;
    hits in the order given).

    Raises:
        InputError: a hit has no kept sources (recorded before this store kept them, or not in the store).
    """
    wanted = list(dict.fromkeys(str(h) for h in hit_ids))
    run_of: dict[str, int] = {}
    groups = []
    with read_connection(get_engine(db_url)) as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            run_of.update(conn.execute(sa.select(pack_sources.c.hit_id, pack_sources.c.run_id)
                                       .where(pack_sources.c.hit_id.in_(chunk))).all())
        missing = [h for h in wanted if h not in run_of]
        if missing:
            raise InputError(f"{len(missing)} hit(s) have no fixes kept in the store, e.g. {missing[0]!r} "
                             f"(recorded before the store kept them, or not by geomatch match --db); make their "
                             f"packs from the input files with geomatch evidence --hits --trails --crimes")
        for run_id in sorted(set(run_of.values())):
            run = conn.execute(sa.select(pack_runs).where(pack_runs.c.run_id == run_id)).one()
            order = [h for h in wanted if run_of[h] == run_id]
            hits = from_parquet(run.hits).set_index("hit_id", drop=False).loc[order].reset_index(drop=True)
            crimes = from_parquet(run.crimes)
            crimes = crimes[crimes["crime_ref"].astype(str).isin(set(hits["crime_ref"].astype(str)))]
            subjects = sorted(set(hits["subject_id"].astype(str)))
            fixes = {row.subject_id: from_parquet(row.fixes) for row in conn.execute(
                sa.select(pack_fixes.c.subject_id, pack_fixes.c.fixes)
                .where(pack_fixes.c.run_id == run_id, pack_fixes.c.subject_id.in_(subjects))
                .order_by(pack_fixes.c.subject_id))}
            groups.append(PackSources(
                crs=run.crs, context_s=run.context_s, config=json.loads(run.config), inputs=json.loads(run.inputs),
                hits=hits, crimes=crimes.reset_index(drop=True), fixes=fixes))
    return groups
