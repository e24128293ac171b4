"""Reviewed hits for fitting: the latest outcome of each reviewed hit, with its features, from the review store
or from files (a scored hits table and a table of ``hit_id``, ``outcome``)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.tables import read_table


def reviewed_from_store(db_url: str | None) -> pd.DataFrame:
    """Every reviewed hit in the store: its latest ``outcome`` and the hit row as recorded (with the features
    when the run was scored), sorted by ``hit_id``."""
    import sqlalchemy as sa

    from geomatch.store.engine import get_engine, read_connection
    from geomatch.store.review import latest_event
    from geomatch.store.schema import hits

    latest, on_latest = latest_event(hits.c.hit_id)
    query = (sa.select(hits.c.hit_id, hits.c.detail, latest.c.outcome)
             .select_from(hits.join(latest, on_latest)).order_by(hits.c.hit_id))
    with read_connection(get_engine(db_url)) as conn:
        rows = conn.execute(query).all()
    records = [{**json.loads(detail), "hit_id": hit_id, "outcome": outcome} for hit_id, detail, outcome in rows]
    return pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=["hit_id", "outcome"])


def read_outcomes(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet table of ``hit_id``, ``outcome`` (one row per hit; the last row wins for repeats)."""
    table = read_table(path)
    frame = table.frame
    for column in ("hit_id", "outcome"):
        if column not in frame.columns:
            raise InputError(f"the outcomes table has no '{column}' column", file=str(path), column=column)
    frame = frame[["hit_id", "outcome"]].astype(str)
    return frame.drop_duplicates("hit_id", keep="last").sort_values("hit_id").reset_index(drop=True)


def join_outcomes(scored_hits: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Scored hits that have an outcome, with it (outcomes for hits not in the table are ignored)."""
    hits = scored_hits.drop(columns=[c for c in ("outcome",) if c in scored_hits.columns])
    return hits.merge(outcomes[["hit_id", "outcome"]], on="hit_id", how="inner").sort_values("hit_id")


def reviewed_hits(db_url: str | None, *, outcomes_path: Path | str | None = None,
                  hits_paths: Sequence[Path | str] = ()) -> pd.DataFrame:
    """Reviewed hits with their features for :func:`geomatch.scoring.fit_model`.

    Outcomes come from ``outcomes_path`` (``hit_id``, ``outcome``) when given, else from the store's latest
    reviews; features come from the scored hits files ``hits_paths`` when given, else from the hits as stored.
    """
    outcomes = read_outcomes(outcomes_path) if outcomes_path is not None else reviewed_from_store(db_url)
    if not hits_paths:
        if outcomes_path is not None:
            raise InputError("an outcomes file needs the scored hits files it refers to")
        return outcomes
    scored = pd.concat([pd.read_parquet(p) for p in hits_paths]).drop_duplicates("hit_id", keep="last")
    return join_outcomes(scored, outcomes)
