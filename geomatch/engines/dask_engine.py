"""``geomatch match --engine dask``: validation and matching over a partitioned trails dataset on Dask.

Rounds of tasks, each task retried on failure:

1. one task per partition file reads and validates it (the same rules as a single file), flags its fixes'
   quality, keeps its accepted fixes on the cluster and sends back a summary: counts, quarantined rows, SHA-256
   and, per subject, its first and last fixes; then one task per file of a subject group with several judges
   its subjects' first and last fixes again with the fixes of the files around it
   (:mod:`geomatch.quality.pieces`), so every fix has the flag the local engine gives it;
2. one task per slot (a group's day) that owns crimes matches them with :func:`geomatch.match.matcher.match_hits`,
   unchanged, over the fixes the overlap rule of :mod:`geomatch.engines.plan` gives it; the crimes are scattered
   to every worker once;
3. when scoring, one task per subject bucket scores its subjects' hits with :class:`geomatch.scoring.Scorer`
   over their whole trails (scoring looks at each subject's routine), gathered from every partition.

The hits are sorted as the local engine sorts them, and nothing is written until every task has succeeded: a
partition that cannot be read stops the run with an :class:`~geomatch.core.errors.InputError` naming it.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import fsspec
import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from tqdm.auto import tqdm

from geomatch.match.config import MatchConfig
from geomatch.ingest.crimes import load_crimes
from geomatch.engines.dataset import Dataset, PartitionFile, open_dataset, read_partition, subject_bucket
from geomatch.engines.plan import (EDGE_FIXES, SlotTask, edge_fixes, extreme_fixes, needed_fixes, neighbour_ends,
                                   plan_slots, plan_tasks)
from geomatch.core.errors import InputError
from geomatch.core.memory import use_lean_memory
from geomatch.match.matcher import HIT_COLUMNS, match_hits, padded_windows
from geomatch.pipeline import MatchInputs, MatchRun, write_match_run
from geomatch.core.tables import input_files
from geomatch.core.quarantine import REASON, SOURCE_ROW, Validated
from geomatch.scoring import Scorer
from geomatch.core.times import utc_ns
from geomatch.ingest.trails import validate_trails
from geomatch.quality import QUALITY_CLASSES, QualityRule, assess_trails
from geomatch.quality.pieces import judge_ends, trail_ends

log = logging.getLogger(__name__)

FIX_COLUMNS = ["subject_id", "timestamp", "x", "y", "accuracy_m", "source", "quality", "quality_reason"]
"""The columns of accepted fixes that matching and scoring use (kept on the cluster between the rounds)."""
PARTITION = "partition"
"""Column added to quarantined trail rows: the partition file they came from (relative to the dataset root)."""


@dataclass(frozen=True)
class DaskOptions:
    """Where and how to run.

    Attributes:
        scheduler: address of a running scheduler (``tcp://host:8786``); ``None`` starts a local cluster.
        workers: worker processes of the local cluster (one thread each).
        retries: times a failed task is tried again (a lost worker, a flaky store) before the run fails.
        processes: local cluster workers as processes (True) or threads of this process (False, for tests).
    """

    scheduler: str | None = None
    workers: int = 2
    retries: int = 2
    processes: bool = True


@dataclass(frozen=True)
class PartitionSummary:
    """What round 1 sends back for one partition file."""

    name: str
    sha256: str
    bytes: int
    crs: str
    rows_in: int
    accepted: int
    quarantined: pd.DataFrame
    quality: tuple[int, ...]  # accepted fixes per trail-quality class (QUALITY_CLASSES)
    first_fixes: pd.DataFrame  # per subject, its first EDGE_FIXES ok and fallback fixes (FIX_COLUMNS)
    last_fixes: pd.DataFrame  # per subject, its last EDGE_FIXES ok and fallback fixes
    ends: tuple[pd.DataFrame, pd.DataFrame]  # per subject, its first and its last outlier_max_run_s of fixes that
    # are not fallback, and one more (geomatch.quality.pieces.trail_ends)


@dataclass(frozen=True)
class ValidatedPartition:
    """Round 1's result, kept on the cluster: the accepted fixes and the summary."""

    fixes: pd.DataFrame
    summary: PartitionSummary


def validate_partition(fs: fsspec.AbstractFileSystem, part: PartitionFile, shown: str,
                       inputs: MatchInputs, rule: QualityRule) -> ValidatedPartition:
    """Round 1 task: read one partition file and validate its rows as :func:`geomatch.ingest.trails.load_trails` would,
    then flag their quality (:func:`geomatch.quality.assess_trails`) as if the file held the whole trail; the
    ends of each subject's trail in it are judged again by :func:`judge_partition_ends`.

    Raises:
        InputError: the file cannot be read, lacks a required column, or holds accepted fixes outside its day.
    """
    read = read_partition(fs, part, shown, inputs.trails_column_map)
    validated = assess_trails(validate_trails(read.table, crs=inputs.trails_crs, naive_tz=inputs.trails_naive_tz),
                              rule)
    fixes = validated.accepted[FIX_COLUMNS]
    _check_day(fixes, part, shown)
    quarantined = validated.quarantined
    quarantined.insert(0, PARTITION, part.name)
    summary = PartitionSummary(
        name=part.name, sha256=read.sha256, bytes=read.bytes, crs=validated.crs, rows_in=validated.rows_in,
        accepted=len(fixes), quarantined=quarantined, **_flag_summary(fixes), ends=trail_ends(fixes, rule))
    return ValidatedPartition(fixes, summary)


def judge_partition_ends(result: ValidatedPartition, before: pd.DataFrame, after: pd.DataFrame,
                         rule: QualityRule) -> ValidatedPartition:
    """Round 1 follow-up task: the partition with its subjects' first and last fixes judged again with the fixes
    of the files around it (``before``, ``after``: :func:`geomatch.engines.plan.neighbour_ends`), so a spike at a
    partition's edge is flagged as the local engine flags it; its summary's flag counts and edge fixes follow."""
    fixes = judge_ends(result.fixes, result.summary.ends, before, after, rule)
    if fixes is None:
        return result
    return ValidatedPartition(fixes, replace(result.summary, **_flag_summary(fixes)))


def _flag_summary(fixes: pd.DataFrame) -> dict[str, object]:
    """The summary's fields that follow the flags: fixes per class, and the first and last fixes per subject."""
    return {"quality": tuple(int(n) for n in fixes["quality"].value_counts().reindex(QUALITY_CLASSES,
                                                                                      fill_value=0)),
            "first_fixes": extreme_fixes([fixes], "first") if len(fixes) else fixes,
            "last_fixes": extreme_fixes([fixes], "last") if len(fixes) else fixes}


def _check_day(fixes: pd.DataFrame, part: PartitionFile, shown: str) -> None:
    """Accepted fixes of a ``day=D`` file must lie in that UTC day (the overlap rule relies on it)."""
    if part.unknown_day and len(fixes):
        raise InputError(f"the day=unknown partition holds {len(fixes):,} fixes with a valid time; "
                         "partition again with the same --trails-tz as the match", file=shown)
    if part.day is None or not len(fixes):
        return
    outside = (fixes["timestamp"] < part.day) | (fixes["timestamp"] >= part.day_end)
    if outside.any():
        first = fixes.loc[outside, "timestamp"].iloc[0]
        raise InputError(f"{int(outside.sum()):,} fixes lie outside the partition's UTC day (first at "
                         f"{first.isoformat()}); partition with geomatch partition and the same --trails-tz",
                         file=shown)


def summary_of(result: ValidatedPartition) -> PartitionSummary:
    """Round 1 follow-up task: only the summary travels back to the client."""
    return result.summary


def match_slot(crimes: pd.DataFrame, config: MatchConfig, task: SlotTask, edges: pd.DataFrame,
               *parts: ValidatedPartition) -> pd.DataFrame:
    """Round 2 task: the hits of the crimes a slot owns, over the fixes of the partitions it reads plus its
    edge fixes (see :mod:`geomatch.engines.plan`)."""
    trails = needed_fixes(_as_trails([p.fixes for p in parts] + [edges]), task.span_ns)
    return match_hits(trails, crimes.iloc[task.owned].reset_index(drop=True), config, threads=1)


def _as_trails(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Pieces of trails as one table of fixes sorted by subject then time, as the loader sorts them."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"subject_id": pd.Categorical([]), "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                             "x": [], "y": [], "accuracy_m": [], "source": pd.Categorical([]),
                             "quality": pd.Categorical([], categories=QUALITY_CLASSES),
                             "quality_reason": pd.Categorical([])}, columns=FIX_COLUMNS)
    subject = union_categoricals([f["subject_id"].astype("category") for f in frames], sort_categories=True)
    trails = pd.concat([f.drop(columns="subject_id") for f in frames], ignore_index=True)
    trails.insert(0, "subject_id", subject)
    order = np.lexsort((utc_ns(trails["timestamp"]), subject.codes))
    return trails.take(order).reset_index(drop=True)


def split_by_subject(result: ValidatedPartition, buckets: int) -> tuple[pd.DataFrame, ...]:
    """Round 3 task: a partition's fixes split into subject buckets (:func:`subject_bucket`)."""
    bucket = _bucket_of(result.fixes["subject_id"], buckets)
    return tuple(result.fixes[bucket == b] for b in range(buckets))


def _bucket_of(subjects: pd.Series, buckets: int) -> np.ndarray:
    """The subject bucket number of each (known) subject id."""
    return subject_bucket(subjects, buckets).astype(int).to_numpy()


def score_bucket(scorer: Scorer, config: MatchConfig, crimes: pd.DataFrame, hits: pd.DataFrame,
                 *pieces: pd.DataFrame) -> pd.DataFrame:
    """Round 3 task: score the hits of one bucket's subjects over those subjects' whole trails."""
    return scorer.score(hits, _as_trails(list(pieces)), crimes, config)


@contextmanager
def dask_client(options: DaskOptions) -> Iterator["distributed.Client"]:  # noqa: F821
    """A client of the scheduler at ``options.scheduler``, or of a local cluster started (and closed) here."""
    from distributed import Client

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise InputError(f"no Dask scheduler answered at {options.scheduler} ({error})") from error
        with client:
            yield client
        return
    with local_cluster(options.workers, processes=options.processes) as cluster, Client(cluster) as client:
        client.run(use_lean_memory)  # its workers read the trails: allocate as the local engine does
        yield client


def local_cluster(workers: int, *, processes: bool = True) -> "distributed.LocalCluster":  # noqa: F821
    """A local Dask cluster of ``workers`` workers with one thread each (dashboard on a free port).

    Worker processes are started without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: fixing glibc's
    thresholds makes every large numpy temporary a fresh ``mmap``, which made matching about 2.5 times slower
    here. (For ``dask worker`` elsewhere, set
    ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None`` before starting it.)
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0")


def run_match_dask(inputs: MatchInputs, out_dir: Path | str, config: MatchConfig | None = None,
                   options: DaskOptions | None = None, *, progress: bool = False,
                   scorer: Scorer | None = Scorer()) -> MatchRun:
    """The ``geomatch match`` job on Dask, over a partitioned trails dataset; the same outputs as
    :func:`geomatch.pipeline.run_match` (hits identical byte for byte), with the quarantined trail rows
    naming their partition and the manifest naming the engine, workers and partitions read.

    Args:
        inputs: ``inputs.trails`` is the dataset root (a local folder or fsspec URL, as text); the crimes file
            is read here, on the client.
        out_dir: output folder, written only once everything has succeeded.
        config: matching parameters.
        options: scheduler, local workers and retries.
        progress: progress bars over the tasks (stderr).
        scorer: scores the hits as the local engine does; None leaves them unscored.
    """
    config = config or MatchConfig()
    options = options or DaskOptions()
    dataset = open_dataset(str(inputs.trails))
    seconds: dict[str, float] = {}
    with dask_client(options) as client:
        workers = len(client.scheduler_info()["workers"])
        started = time.perf_counter()
        validated = [client.submit(validate_partition, dataset.fs, part, _shown(dataset, part), inputs,
                                   config.quality_rule, retries=options.retries, pure=False) for part in dataset.files]
        summaries = _gather(client, [client.submit(summary_of, v, pure=False) for v in validated],
                            "validate partitions", progress)
        crs = _common_crs(dataset, summaries)
        _check_groups(dataset, summaries)
        seconds["read_trails"] = time.perf_counter() - started

        started = time.perf_counter()
        slots = plan_slots(dataset.files)
        around = neighbour_ends(slots, [s.ends for s in summaries], config.quality_rule)
        for f, (before, after) in around.items():
            validated[f] = client.submit(judge_partition_ends, validated[f], before, after, config.quality_rule,
                                         retries=options.retries, pure=False)
        judged = _gather(client, [client.submit(summary_of, validated[f], pure=False) for f in around],
                         "judge partition edges", progress)
        for f, summary in zip(around, judged):
            summaries[f] = summary
        seconds["trail_quality"] = time.perf_counter() - started

        started = time.perf_counter()
        crimes = load_crimes(inputs.crimes, fmt=inputs.crimes_format, column_map=inputs.crimes_column_map,
                             target_crs=crs, naive_tz=config.naive_tz, max_window_s=config.max_window_s)
        seconds["read_crimes"] = time.perf_counter() - started

        started = time.perf_counter()
        tasks = plan_tasks(slots, *padded_windows(crimes.accepted, config))
        edges = edge_fixes(slots, tasks, {i: _slot_edges(slot.files, summaries) for i, slot in enumerate(slots)})
        crimes_on_workers = client.scatter(crimes.accepted, broadcast=True)
        matched = [client.submit(match_slot, crimes_on_workers, config, task, task_edges,
                                 *[validated[f] for s in task.reads for f in slots[s].files],
                                 retries=options.retries, pure=False)
                   for task, task_edges in zip(tasks, edges)]
        hits = _combine(_gather(client, matched, "match slots", progress), crimes.accepted, config)
        seconds["match"] = time.perf_counter() - started
        if scorer is not None:
            started = time.perf_counter()
            hits = _score(client, scorer, config, crimes, crimes_on_workers, hits, validated, workers, options,
                          progress)
            seconds["score"] = time.perf_counter() - started

    run = write_match_run(Path(out_dir), _combined_validated(dataset, summaries, crs), crimes, hits, config=config,
                          inputs=inputs, input_files=input_files(inputs.crimes), scorer=scorer, seconds=seconds,
                          engine=_engine(options, dataset, summaries, tasks, workers))
    log.info("dask match run written to %s (%d workers, %d partitions)", out_dir, workers, len(summaries))
    return run


def _shown(dataset: Dataset, part: PartitionFile) -> str:
    """How to name a partition file in messages: the dataset as given, then the file's relative name."""
    return f"{dataset.url.rstrip('/')}/{part.name}"


def _gather(client, futures: list, what: str, progress: bool) -> list:
    """Wait for every future (a progress bar over them), then their results in order. The first task to fail
    once its retries are spent stops the wait: its error (an InputError naming its partition) is raised, and
    the tasks still running are cancelled when the client closes."""
    from distributed import as_completed

    with tqdm(total=len(futures), desc=what, unit="task", disable=None if progress else True, leave=False) as bar:
        for future in as_completed(futures):
            if future.status == "error":
                future.result()  # raises the task's own exception
            bar.update()
    return client.gather(futures)


def _common_crs(dataset: Dataset, summaries: list[PartitionSummary]) -> str:
    """The metric CRS chosen for the fixes; every partition with accepted fixes must have chosen the same."""
    chosen = {s.crs for s in summaries if s.accepted}
    if len(chosen) > 1:
        raise InputError(f"partitions lie in different metric CRSs ({', '.join(sorted(chosen))}); match them "
                         "as separate datasets", file=dataset.url)
    return chosen.pop() if chosen else summaries[0].crs


def _check_groups(dataset: Dataset, summaries: list[PartitionSummary]) -> None:
    """A subject may appear in one subject group only (else its trail would be matched in pieces)."""
    seen: dict[str, str] = {}
    for part, summary in zip(dataset.files, summaries):
        if part.group is None:
            continue
        for subject in summary.first_fixes["subject_id"].astype(str).unique():
            other = seen.setdefault(subject, part.group)
            if other != part.group:
                raise InputError(f"subject {subject} appears in both {other} and {part.group}; a subject must "
                                 "lie in one subject partition", file=_shown(dataset, part))


def _slot_edges(files: tuple[int, ...], summaries: list[PartitionSummary]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(first fixes, last fixes) per subject over a slot's files."""
    return (extreme_fixes([summaries[f].first_fixes for f in files], "first"),
            extreme_fixes([summaries[f].last_fixes for f in files], "last"))


def _combine(parts: list[pd.DataFrame], crimes: pd.DataFrame, config: MatchConfig) -> pd.DataFrame:
    """The slots' hits as one table, sorted as :func:`geomatch.match.matcher.match_hits` sorts them."""
    found = [p for p in parts if len(p)]
    if not found:
        return match_hits(pd.DataFrame(columns=FIX_COLUMNS), crimes, config)  # the empty hits table
    hits = pd.concat(found, ignore_index=True)[HIT_COLUMNS]
    return hits.sort_values(["crime_ref", "subject_id"], kind="stable").reset_index(drop=True)


def _score(client, scorer: Scorer, config: MatchConfig, crimes: Validated, crimes_on_workers, hits: pd.DataFrame,
           validated: list, workers: int, options: DaskOptions, progress: bool) -> pd.DataFrame:
    """Score the hits, one task per subject bucket (two buckets per worker), each over its subjects' whole
    trails; the result in the hits' order, as :meth:`Scorer.score` keeps it."""
    from operator import getitem

    if hits.empty:
        return scorer.score(hits, _as_trails([]), crimes.accepted, config)
    buckets = 2 * max(workers, 1)
    split = [client.submit(split_by_subject, v, buckets, retries=options.retries, pure=False) for v in validated]
    hit_bucket = _bucket_of(hits["subject_id"], buckets)
    scored = []
    for b in range(buckets):
        mine = hits[hit_bucket == b]
        if len(mine):
            pieces = [client.submit(getitem, piece, b, pure=False) for piece in split]
            scored.append(client.submit(score_bucket, scorer, config, crimes_on_workers, mine, *pieces,
                                        retries=options.retries, pure=False))
    combined = pd.concat(_gather(client, scored, "score buckets", progress))
    return combined.loc[hits.index]


def _combined_validated(dataset: Dataset, summaries: list[PartitionSummary], crs: str) -> Validated:
    """Trail validation over all partitions: the quarantined rows of every partition (in partition, then row
    order) and the counts. The accepted fixes stay on the cluster, so ``accepted`` here has their number of rows
    and only their ``quality`` (for the counts)."""
    quarantined = [s.quarantined for s in summaries if len(s.quarantined)]
    combined = (pd.concat(quarantined, ignore_index=True) if quarantined
                else pd.DataFrame(columns=[PARTITION, SOURCE_ROW, REASON]))
    per_class = np.sum([s.quality for s in summaries], axis=0) if summaries else np.zeros(len(QUALITY_CLASSES), int)
    accepted = pd.DataFrame({"quality": pd.Categorical.from_codes(
        np.repeat(np.arange(len(QUALITY_CLASSES), dtype=np.int8), per_class), categories=QUALITY_CLASSES)})
    return Validated("trails", dataset.url, accepted, combined, sum(s.rows_in for s in summaries), crs=crs)


def _engine(options: DaskOptions, dataset: Dataset, summaries: list[PartitionSummary], tasks: list[SlotTask],
            workers: int) -> dict[str, object]:
    """How the run was distributed, for the manifest: scheduler, workers, retries and the partitions read."""
    partitions = [{"path": s.name, "sha256": s.sha256, "bytes": s.bytes, "rows_in": s.rows_in,
                   "accepted": s.accepted, "quarantined": len(s.quarantined)} for s in summaries]
    scheduler = options.scheduler or f"LocalCluster(n_workers={options.workers}, threads_per_worker=1)"
    return {"name": "dask", "scheduler": scheduler, "workers": workers, "retries": options.retries,
            "dataset": dataset.url, "partitions": partitions, "match_tasks": len(tasks),
            "slots_read_per_task_max": max((len(t.reads) for t in tasks), default=0)}
