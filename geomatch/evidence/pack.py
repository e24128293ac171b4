"""Making evidence packs: one folder per hit, made in parallel, then the run's index page and manifest.

Each pack is a pure function of its hit, its crime, the subject's fixes around the window and the options, so
the files are the same byte for byte whatever the number of workers (only the manifests' ``generated_at``
differs between runs).

A pack that cannot be made never stops the others: its partial folder is removed, the failure (hit id and
reason) is logged, listed in the run's manifest and index and returned in :attr:`EvidenceRun.failures`, and
every other pack is written. The commands exit non-zero at the end when any pack failed.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from geomatch.match.config import MatchConfig
from geomatch.core.errors import InputError
from geomatch.core.quarantine import Validated, accepted_in_one_crs
from geomatch.evidence.basemap import basemap_paths, check_basemap
from geomatch.evidence.context import EvidenceOptions, pack_data, trail_slices
from geomatch.evidence.document import write_docx, write_pdf
from geomatch.evidence.htmlmap import write_map_html
from geomatch.evidence.index import THUMB_NAME, write_index
from geomatch.evidence.naming import safe_folder_name
from geomatch.evidence.outputs import remove_earlier_run
from geomatch.evidence.points import points_table, write_points
from geomatch.evidence.prism import REACHABLE_NAME, write_prisms
from geomatch.evidence.statement import Exhibits, build_statement
from geomatch.evidence.text import plain
from geomatch.evidence.staticmap import draw_map
from geomatch.evidence.timeline import draw_timeline
from geomatch.core.manifest import MANIFEST_NAME, file_entry, write_manifest
from geomatch.match.matcher import PRESENCE_CLASSES

log = logging.getLogger(__name__)
PACK_FILES = ("map.png", THUMB_NAME, "map.html", "timeline.png", "points.csv", REACHABLE_NAME, "statement.docx",
              "statement.pdf")
"""The files of a pack (and its ``manifest.json``); ``reachable.geojson`` holds the reachable areas of a
``possible`` hit's gaps (an empty collection for other hits)."""


@dataclass(frozen=True)
class PackJob:
    """Everything one worker needs to make one pack (small: only the fixes around the window travel)."""

    hit: Mapping[str, Any]
    crime: Mapping[str, Any]
    fixes: pd.DataFrame
    folder: Path
    config: MatchConfig
    options: EvidenceOptions
    inputs: tuple[Mapping[str, Any], ...]  # manifest entries of the input files, hashed once per run


@dataclass(frozen=True)
class PackFailure:
    """A pack that could not be made: its hit and why (the exception's type and message)."""

    hit_id: str
    reason: str


@dataclass(frozen=True)
class EvidenceRun:
    """What :func:`make_packs` wrote: the pack folders (in hit order, failed ones left out), the packs that
    failed, the index page and the run manifest."""

    out_dir: Path
    packs: tuple[Path, ...]
    index: Path
    manifest: Path
    seconds: float
    failures: tuple[PackFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """Every pack was made."""
        return not self.failures

    @property
    def packs_per_second(self) -> float:
        return len(self.packs) / self.seconds if self.seconds > 0 else float("inf")


def pack_folder(hit_id: str) -> str:
    """The folder name of a hit's pack (the hit id, made safe)."""
    return safe_folder_name(hit_id)


def select_hits(hits: pd.DataFrame, *, top: int | None = None, min_score: float | None = None) -> pd.DataFrame:
    """The hits to make packs for, most credible first: by ``score`` (highest first) when the hits are scored,
    else by presence class and closest approach; ties by hit id; then ``min_score`` and ``top`` applied."""
    if "score" in hits.columns:
        ranked = hits.sort_values(["score", "hit_id"], ascending=[False, True], kind="stable")
        if min_score is not None:
            ranked = ranked[ranked["score"] >= min_score]
    else:
        if min_score is not None:
            raise InputError("--min-score needs scored hits (run geomatch score first)")
        rank = hits["presence"].map({name: i for i, name in enumerate(PRESENCE_CLASSES)})
        ranked = hits.assign(_rank=rank).sort_values(["_rank", "min_distance_m", "hit_id"], kind="stable")
        ranked = ranked.drop(columns="_rank")
    return (ranked if top is None else ranked.head(top)).reset_index(drop=True)


def make_pack(job: PackJob) -> Path:
    """Make one pack: maps, timeline, points table, statement (DOCX and PDF) and its manifest."""
    from geomatch.core.version import __version__

    if job.fixes.empty:
        raise InputError(f"no fixes of subject {job.hit['subject_id']!r} around the window of hit "
                         f"{job.hit['hit_id']} in the trails")
    folder = job.folder
    folder.mkdir(parents=True, exist_ok=True)
    data = pack_data(job.hit, job.crime, job.fixes, job.config, job.options)
    exhibits = Exhibits(folder / "map.png", folder / "timeline.png", folder / "points.csv")
    draw_map(data, exhibits.map_png, job.options)
    write_map_html(data, folder / "map.html", job.options)
    draw_timeline(data, exhibits.timeline_png, job.options)
    points = points_table(data)  # written as points.csv and printed in the statement
    write_points(data, exhibits.points_csv, points)
    write_prisms(data.prisms, job.options.crs, folder / REACHABLE_NAME)
    names = tuple(Path(entry["path"]).name for entry in job.inputs)
    blocks = build_statement(data, exhibits, version=__version__, inputs=names, crs=job.options.crs,
                             points=points)
    title = f"Evidence pack {job.hit['hit_id']}"
    footer = f"geomatch evidence pack · hit {job.hit['hit_id']} · subject {plain(data.hit['subject_id'])}"
    write_docx(blocks, folder / "statement.docx", title=title, footer=footer)
    write_pdf(blocks, folder / "statement.pdf", title=title, footer=footer)
    write_manifest(folder, tool="geomatch evidence", inputs=[],
                   parameters={"hit_id": job.hit["hit_id"], "config": job.config, "options": job.options},
                   outputs=[folder / name for name in PACK_FILES],
                   counts={"fixes_shown": len(data.fixes), "points_in_vicinity": int(data.fixes["vicinity"].sum()),
                           "gaps_in_window": int(data.gaps["in_window"].sum())},
                   extra={"inputs": list(job.inputs)})  # hashed once per run, not once per pack
    return folder


def _check_options(options: EvidenceOptions) -> None:
    """Refuse, before any pack, options that would fail every pack."""
    if options.tiles:
        try:
            import contextily  # noqa: F401
        except ImportError as error:
            raise InputError("--tiles needs contextily: pip install 'geomatch[tiles]'") from error


def make_pack_or_failure(job: PackJob) -> Path | PackFailure:
    """:func:`make_pack`, turning any error into a :class:`PackFailure` (the partial folder is removed) so one
    awkward hit never stops the run."""
    try:
        return make_pack(job)
    except Exception as error:  # noqa: BLE001 - reported per pack, the run goes on
        shutil.rmtree(job.folder, ignore_errors=True)
        reason = f"{type(error).__name__}: {error}".strip()
        log.error("evidence pack for hit %s failed: %s", job.hit["hit_id"], reason)
        log.debug("the failure of the pack for hit %s", job.hit["hit_id"], exc_info=True)
        return PackFailure(str(job.hit["hit_id"]), reason)


def _jobs(hits: pd.DataFrame, trails: pd.DataFrame, crimes: pd.DataFrame, out_dir: Path, config: MatchConfig,
          options: EvidenceOptions, inputs: tuple[Mapping[str, Any], ...],
          hit_inputs: Mapping[str, tuple[Mapping[str, Any], ...]] | None = None,
          extra_inputs: tuple[Mapping[str, Any], ...] = ()) -> Iterator[PackJob]:
    by_ref = crimes.set_index(crimes["crime_ref"].astype(str), drop=False)
    missing = sorted(set(hits["crime_ref"].astype(str)) - set(by_ref.index))
    if missing:
        raise InputError(f"{len(missing)} hit(s) name crimes not in the crimes file, e.g. {missing[0]!r}")
    _check_same_crimes(hits, by_ref)
    for hit, fixes in zip(hits.to_dict("records"), trail_slices(hits, trails, options.context_s)):
        entries = inputs if hit_inputs is None else tuple(hit_inputs[str(hit["hit_id"])]) + extra_inputs
        yield PackJob(hit, by_ref.loc[str(hit["crime_ref"])].to_dict(), fixes,
                      out_dir / pack_folder(hit["hit_id"]), config, options, entries)


def _check_same_crimes(hits: pd.DataFrame, by_ref: pd.DataFrame) -> None:
    """Refuse hits made from other versions of the crimes: each hit's closest point must lie ``min_distance_m``
    from the crime's location (to 0.5 m) and its window must contain the crime's committed window."""
    crime = by_ref.loc[hits["crime_ref"].astype(str)]
    distance = np.hypot(hits["closest_x"].to_numpy(float) - crime["x"].to_numpy(float),
                        hits["closest_y"].to_numpy(float) - crime["y"].to_numpy(float))
    moved = np.abs(distance - hits["min_distance_m"].to_numpy(float)) > 0.5
    widened = ((hits["window_start"].to_numpy() > crime["committed_from"].to_numpy())
               | (hits["window_end"].to_numpy() < crime["committed_to"].to_numpy()))
    bad = np.flatnonzero(moved | widened)
    if len(bad):
        first = hits.iloc[bad[0]]
        raise InputError(f"{len(bad)} hit(s) do not match the crimes file (location or window changed since "
                         f"matching), e.g. hit {first['hit_id']} on crime {first['crime_ref']!r}; match again")


GC_YOUNGEST = 20_000
"""While packs are drawn, the collector looks at the youngest objects after this many allocations (Python's
default is 700): a pack allocates hundreds of thousands of short-lived objects."""


@contextmanager
def _collector_for_packs() -> Iterator[None]:
    """Run the garbage collector less while packs are drawn, and given back as it was after:

    - the objects that exist before the packs are kept out of its sight (:func:`gc.freeze`): each full collection
      went over every object of the caller too (a ``geomatch match`` process holds some 250,000: 13 ms a pack
      on the sample week), and worker processes forked meanwhile inherit them frozen, so they neither scan
      them nor copy their pages. A caller that froze objects itself keeps its own state (nothing is frozen);
    - it collects the youngest objects every :data:`GC_YOUNGEST` allocations rather than every 700 (its 800
      runs over 60 packs took 8 ms a pack; 6 runs take 1 ms).
    """
    thresholds = gc.get_threshold()
    frozen = not gc.get_freeze_count()
    if frozen:
        gc.freeze()
    gc.set_threshold(max(thresholds[0], GC_YOUNGEST), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if frozen:
            gc.unfreeze()


def make_packs(hits: pd.DataFrame, trails: Validated | pd.DataFrame, crimes: Validated | pd.DataFrame,
               out_dir: Path | str, *,
               config: MatchConfig | None = None, options: EvidenceOptions | None = None,
               inputs: Sequence[Path] = (), workers: int = 1, progress: bool = False,
               hit_inputs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
               review_status: Mapping[str, str] | None = None) -> EvidenceRun:
    """Make a pack per hit in ``out_dir/<hit id>/``, then ``out_dir/index.html`` and ``out_dir/manifest.json``.

    Args:
        hits: hits as :func:`geomatch.match.matcher.match_hits` returns them (``score``/``reasons`` used when present).
        trails: validated fixes (:func:`geomatch.ingest.trails.load_trails`) or their accepted rows, sorted by
            subject then time.
        crimes: validated crimes (:func:`geomatch.ingest.crimes.load_crimes`) or their accepted rows, in the
            same CRS.
        out_dir: the evidence folder (created).
        config: the matching parameters the hits were made with (the gap length).
        options: drawing options.
        inputs: the input files, hashed into every manifest.
        hit_inputs: instead of ``inputs``, per hit id the manifest entries of the files it was matched from
            (packs made from the store, :mod:`geomatch.evidence.stored`; the files need not exist here).
        workers: processes drawing packs (1 draws in this process).
        progress: show a progress bar.
        review_status: hit id to review status, shown in the index (``None``: the hits' ``review_status``
            column when they have one, else no status column).

    Returns:
        the run; a pack that failed is in ``failures`` (with its reason), not in ``packs``, and the others are
        all written.

    Raises:
        InputError: the CRS of the fixes is unknown (plain frames and no ``options.crs``), trails and crimes
            are in different CRSs, or the hits name crimes that are missing or changed.
    """
    started = time.perf_counter()
    config = config or MatchConfig()
    options = options or EvidenceOptions()
    trails, crimes, crs = accepted_in_one_crs(trails, crimes)
    if options.crs is None and crs is None:
        raise InputError("evidence needs the CRS of the fixes' x/y: pass the trails as load_trails returns them, "
                         "or set EvidenceOptions(crs=...)")
    options = replace(options, crs=options.crs or crs)
    _check_options(options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    input_paths = [Path(p) for p in inputs] + list(check_basemap(basemap_paths(options.basemap)))
    entries = tuple(file_entry(p) for p in input_paths)
    basemap_entries = entries[len(inputs):]
    if hit_inputs is not None:  # the run manifest lists every hit's input files once, then the basemap
        hit_inputs = {str(k): tuple(dict(e) for e in v) for k, v in hit_inputs.items()}
        entries = tuple({json.dumps(e, sort_keys=True): e for hit in hits["hit_id"].astype(str)
                         for e in hit_inputs[hit]}.values()) + basemap_entries
    remove_earlier_run(out_dir)  # the folder holds this run's packs only (geomatch.evidence.outputs)
    jobs = _jobs(hits.reset_index(drop=True), trails, crimes, out_dir, config, options, entries, hit_inputs,
                 basemap_entries)
    bar = tqdm(total=len(hits), desc="evidence packs", unit="pack", disable=None if progress else True,
               leave=False)
    results: list[Path | PackFailure] = []
    with _collector_for_packs():
        if workers <= 1 or len(hits) <= 1:
            for job in jobs:
                results.append(make_pack_or_failure(job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or workers)) as pool:
                for result in pool.map(make_pack_or_failure, jobs, chunksize=4):
                    results.append(result)
                    bar.update()
    bar.close()
    folders = [r for r in results if isinstance(r, Path)]
    failures = tuple(r for r in results if isinstance(r, PackFailure))
    index = write_index(hits.reset_index(drop=True), [r.name if isinstance(r, Path) else r for r in results],
                        out_dir / "index.html", review_status)
    outputs = [index] + [f / MANIFEST_NAME for f in folders]
    manifest = write_manifest(out_dir, tool="geomatch evidence", inputs=[],
                              parameters={"config": config, "options": options}, outputs=outputs,
                              counts={"packs": len(folders), "failed": len(failures)},
                              extra={"inputs": list(entries),
                                     "failures": [{"hit_id": f.hit_id, "reason": f.reason} for f in failures]})
    seconds = time.perf_counter() - started
    log.info("%d evidence packs written to %s in %.1f s (%d failed)", len(folders), out_dir, seconds,
             len(failures))
    return EvidenceRun(out_dir, tuple(folders), index, manifest, seconds, failures)


def load_and_make_packs(hits_path: Path, trails_path: Path, crimes_path: Path, out_dir: Path, *,
                        config: MatchConfig | None = None, options: EvidenceOptions | None = None,
                        trails_kwargs: Mapping[str, Any] | None = None,
                        crimes_kwargs: Mapping[str, Any] | None = None, top: int | None = None,
                        min_score: float | None = None, workers: int = 1, progress: bool = False) -> EvidenceRun:
    """``geomatch evidence``: read a hits file, choose the hits (:func:`select_hits`), reload their trails and
    crimes with the same loaders as ``geomatch match``, then :func:`make_packs`."""
    from geomatch.ingest.crimes import load_crimes
    from geomatch.match.output import read_hits
    from geomatch.ingest.trails import load_trails
    from geomatch.quality import assess_trails

    config = config or MatchConfig()
    hits = read_hits(hits_path)  # one sentence naming the file when it is not a hits file
    hits = select_hits(hits, top=top, min_score=min_score)
    trails = assess_trails(load_trails(trails_path, **dict(trails_kwargs or {})), config.quality_rule)
    crimes = load_crimes(crimes_path, target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s, **dict(crimes_kwargs or {}))
    return make_packs(hits, trails, crimes, out_dir, config=config, options=options,
                      inputs=[hits_path, trails_path, crimes_path], workers=workers, progress=progress)

