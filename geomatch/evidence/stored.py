"""Packs from the review store: what ``geomatch match --db`` keeps per hit, and ``geomatch evidence --db``.

At match time :func:`pack_sources` picks, for every hit of the run, the rows its pack is drawn from (the hit, its
crime, the subject's fixes from ``context_s`` before the padded window to ``context_s`` after it, plus the fix
either side) and :func:`geomatch.store.record_run` keeps them. Later :func:`make_packs_from_store` makes packs
from those rows alone. Re-slicing the union of kept slices gives back each hit's slice exactly (the fix either
side of a span is kept with it), so a pack made later is byte-identical to one made at match time with the same
options; its manifest names the same input files and hashes.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.manifest import file_entry
from geomatch.evidence.context import EvidenceOptions, trail_slices
from geomatch.evidence.pack import EvidenceRun, make_packs, select_hits
from geomatch.match.config import MatchConfig, OffenceRule
from geomatch.store.packs import PackSources, load_pack_sources

log = logging.getLogger(__name__)


def pack_sources(hits: pd.DataFrame, trails: pd.DataFrame, crimes: pd.DataFrame, *, crs: str,
                 config: MatchConfig, inputs: Sequence[Path | Mapping[str, Any]],
                 context_s: float = EvidenceOptions.context_s) -> PackSources:
    """The rows every hit's pack is drawn from, to keep in the store.

    Args:
        hits: the run's hits.
        trails: accepted fixes sorted by subject then time (``Validated.accepted``).
        crimes: accepted crimes, in the same CRS.
        crs: the CRS of ``x``/``y``.
        config: the matching parameters of the run.
        inputs: the run's input files (hashed here) or their manifest entries.
        context_s: trail kept either side of each padded window (s); packs made later may show less, not more.
    """
    hits = hits.reset_index(drop=True)
    trails = trails.reset_index(drop=True)
    refs = set(hits["crime_ref"].astype(str))
    missing = sorted(refs - set(crimes["crime_ref"].astype(str)))
    if missing:
        raise InputError(f"{len(missing)} hit(s) name crimes not in the run's crimes, e.g. {missing[0]!r}")
    rows: dict[str, set[int]] = {}
    for subject, fixes in zip(hits["subject_id"].astype(str), trail_slices(hits, trails, context_s)):
        rows.setdefault(subject, set()).update(fixes.index)
    kept = {subject: trails.iloc[sorted(positions)].reset_index(drop=True)
            for subject, positions in sorted(rows.items())}
    entries = [dict(e) if isinstance(e, Mapping) else file_entry(Path(e)) for e in inputs]
    return PackSources(crs=crs, context_s=float(context_s), config=config_json(config), inputs=entries,
                       hits=hits, crimes=crimes[crimes["crime_ref"].astype(str).isin(refs)].reset_index(drop=True),
                       fixes=kept)


def config_json(config: MatchConfig) -> dict[str, Any]:
    """A :class:`MatchConfig` as JSON-ready values (``rules`` as ``{offence: {radius_m, pad_s}}``)."""
    from geomatch.core.manifest import to_jsonable

    return to_jsonable(config)


def config_from_json(values: Mapping[str, Any]) -> MatchConfig:
    """The :class:`MatchConfig` that :func:`config_json` wrote."""
    values = dict(values)
    rules = {key: OffenceRule(**rule) for key, rule in values.pop("rules").items()}
    return MatchConfig(rules=rules, **values)


def stored_hit_ids(db_url: str | None, *, hit_ids: Sequence[str] = (), status: str | None = None,
                   min_score: float | None = None) -> list[str]:
    """The hits asked for: ``hit_ids`` as given, else the store's hits with that status and score (highest
    score first), as :func:`geomatch.store.list_hits` selects them."""
    if hit_ids:
        if status is not None or min_score is not None:
            raise InputError("give hit ids or --status/--min-score, not both")
        return list(dict.fromkeys(hit_ids))
    from geomatch.store import list_hits

    listed = list_hits(db_url, status=status, min_score=min_score)
    return listed["hit_id"].astype(str).tolist()


def make_packs_from_store(db_url: str | None, out_dir: Path | str, *, hit_ids: Sequence[str] = (),
                          status: str | None = None, min_score: float | None = None, top: int | None = None,
                          options: EvidenceOptions | None = None, context_s: float | None = None,
                          workers: int = 1, progress: bool = False) -> EvidenceRun:
    """``geomatch evidence --db``: packs for stored hits, drawn from the rows kept when they were recorded.

    Args:
        db_url: the review store.
        out_dir: the evidence folder.
        hit_ids: these hits; or, when empty, the hits with ``status`` (``pending`` or an outcome) and at least
            ``min_score`` (every stored hit when neither is given).
        top: only the N highest-scored of those.
        options: drawing options (their CRS and context are set here).
        context_s: trail shown either side of the window (s): ``None`` shows what the store kept; shorter is
            allowed, longer is refused.
        workers, progress: as for :func:`make_packs`.

    Raises:
        InputError: no hit selected, a hit without kept rows, hits kept by runs with different matching
            parameters, or a context longer than the one kept.
    """
    options = options or EvidenceOptions()
    wanted = stored_hit_ids(db_url, hit_ids=hit_ids, status=status, min_score=min_score)
    if not wanted:
        raise InputError("no stored hit matches the selection")
    groups = load_pack_sources(db_url, wanted)
    first = groups[0]
    for group in groups[1:]:
        if (group.crs, group.context_s, group.config) != (first.crs, first.context_s, first.config):
            raise InputError("the hits asked for were recorded by runs with different matching parameters, CRS "
                             "or context; make their packs separately (--hit ID ...)")
    context_s = first.context_s if context_s is None else context_s
    if context_s > first.context_s:
        raise InputError(f"the store kept {first.context_s / 60:g} min of trail either side of each window; "
                         f"--context-min {context_s / 60:g} asks for more")
    hits = pd.concat([g.hits for g in groups], ignore_index=True)
    crimes = pd.concat([g.crimes for g in groups], ignore_index=True)
    crimes = crimes.drop_duplicates("crime_ref", keep="last").reset_index(drop=True)
    fixes = _concat_kept([f for g in groups for f in g.fixes.values()])
    hit_inputs = {str(hit): g.inputs for g in groups for hit in g.hits["hit_id"]}
    chosen = select_hits(hits, top=top)
    log.info("making %d packs from the store", len(chosen))
    return make_packs(chosen, fixes, crimes, out_dir, config=config_from_json(first.config),
                      options=replace(options, crs=first.crs, context_s=context_s), hit_inputs=hit_inputs,
                      workers=workers, progress=progress)


def _concat_kept(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Fixes kept per subject (and run) as one frame sorted by subject then time, each fix once; categorical
    columns stay categorical (with every run's categories)."""
    out = pd.concat(frames, ignore_index=True)
    for column in frames[0].columns:
        if isinstance(frames[0][column].dtype, pd.CategoricalDtype) and not isinstance(out[column].dtype,
                                                                                      pd.CategoricalDtype):
            categories = sorted(set().union(*(f[column].cat.categories for f in frames)))
            out[column] = pd.Categorical(out[column], categories=categories)
    if len(frames) > 1:
        out = out.drop_duplicates().sort_values(["subject_id", "timestamp"], kind="stable")
    return out.reset_index(drop=True)
