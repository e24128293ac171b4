"""The ``geomatch match`` job: read and validate both inputs, match, write hits, quarantine and manifest.

:func:`run_match` is the job in one process; :func:`write_match_run` writes any engine's results the same way
(the Dask engine uses it too). :func:`geomatch.jobs.match_evidence_store` adds evidence packs and the review store.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from tqdm.auto import tqdm

from geomatch.core.crs import WGS84, transform_info, zone_span_warning
from geomatch.core.manifest import hash_in_background, write_manifest
from geomatch.core.quarantine import Validated
from geomatch.core.tables import input_files
from geomatch.ingest.crimes import CrimesFormat, far_from_trails, load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import PRESENCE_CLASSES, match_hits
from geomatch.match.output import write_hits
from geomatch.quality import QUALITY_CLASSES, assess_trails
from geomatch.scoring import Scorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchInputs:
    """Where the inputs are and how to read them: ``trails`` and ``crimes`` are each a file, a folder, a glob
    pattern or a tuple of them (read as one table, see :func:`geomatch.core.tables.read_table`)."""

    trails: Path | str | tuple[Path | str, ...]
    crimes: Path | str | tuple[Path | str, ...]
    crimes_format: CrimesFormat = "auto"
    trails_column_map: Mapping[str, str] = field(default_factory=dict)
    crimes_column_map: Mapping[str, str] = field(default_factory=dict)
    trails_crs: str | None = None
    trails_naive_tz: str | None = None
    trails_gpx_subject: str = "track"

    def files(self) -> list[Path]:
        """Every input file (folders and patterns expanded), for the manifest."""
        return [*input_files(self.trails), *input_files(self.crimes)]


@dataclass(frozen=True)
class MatchRun:
    """What one run produced: validated inputs, the hits, the files written, how long each stage took (s) and
    warnings for people (also in the manifest)."""

    out_dir: Path
    trails: Validated
    crimes: Validated
    crs: str
    hits: pd.DataFrame
    outputs: tuple[Path, ...]
    manifest: Path
    seconds: Mapping[str, float]
    warnings: tuple[str, ...] = ()

    def counts(self) -> dict[str, object]:
        """Row counts per input, hits by presence class, and crimes whose times were widened or flagged."""
        by_class = self.hits["presence"].value_counts()
        accepted = self.crimes.accepted
        return {
            "trails": self.trails.counts(),
            "crimes": self.crimes.counts(),
            "trails_quarantine_reasons": self.trails.reason_counts(),
            "crimes_quarantine_reasons": self.crimes.reason_counts(),
            "crimes_dst_adjusted": int(accepted["dst_adjusted"].sum()),
            "crimes_long_window": int(accepted["long_window"].sum()),
            "hits": len(self.hits),
            "hits_by_presence": {c: int(by_class.get(c, 0)) for c in PRESENCE_CLASSES},
            **{f"{name}_files": dict(v.per_file) for name, v in (("trails", self.trails), ("crimes", self.crimes))
               if v.per_file},
            "fixes_by_quality": self.fixes_by_quality(),
        }

    def fixes_by_quality(self) -> dict[str, int]:
        """Accepted fixes per trail-quality class (empty when the fixes are not at hand, as on Dask)."""
        accepted = self.trails.accepted
        if "quality" not in accepted.columns:
            return {}
        by_quality = accepted["quality"].value_counts()
        return {c: int(by_quality.get(c, 0)) for c in QUALITY_CLASSES}


def prepare_later_stages() -> threading.Thread:
    """Start doing, on a thread of its own, what the stages would otherwise pause for with the interpreter lock
    held: loading the compiled kernels of validation, quality, matching and scoring, with numba's own start-up
    (0.6-0.8 s in a fresh process; :func:`geomatch.scoring.warmup.warm_up` validates, flags, matches and scores
    four fixes), then importing polars (the CSV writer; 0.3-0.5 s). A run starts it as Arrow begins reading the
    trails, which leaves the lock free. The thread is returned."""
    def prepare() -> None:
        from geomatch.scoring.warmup import warm_up

        warm_up()
        import polars  # noqa: F401

    preparing = threading.Thread(target=prepare, name="prepare-later-stages", daemon=True)
    preparing.start()
    return preparing


class StageClock:
    """Times one stage after another: wall seconds into a run's ``seconds``, and wall and CPU seconds (every
    thread of the process) logged at INFO (``geomatch -v``), so that a run's time can be accounted for."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def done(self, name: str, seconds: dict[str, float]) -> None:
        """Record stage ``name`` as ending now, and start timing the next one."""
        wall, cpu = time.perf_counter(), time.process_time()
        seconds[name] = wall - self._wall
        log.info("stage %s: %.2f s wall, %.2f s CPU", name, wall - self._wall, cpu - self._cpu)
        self._wall, self._cpu = wall, cpu


def run_match(inputs: MatchInputs, out_dir: Path | str, config: MatchConfig | None = None, *,
              progress: bool = False, scorer: Scorer | None = Scorer()) -> MatchRun:
    """Run the whole job and write ``out_dir/hits.parquet``, ``hits.csv``, ``quarantine/`` and ``manifest.json``.

    Args:
        inputs: the trails and crimes files and how to read them.
        out_dir: output folder (created).
        config: matching parameters.
        progress: show a progress bar over the stages (on stderr).
        scorer: scores the hits (``score``, ``reasons`` and the features); None leaves them unscored.
    """
    config = config or MatchConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    stages = tqdm(total=6 if scorer else 5, desc="geomatch match", unit="stage", disable=None if progress else True,
                  leave=False)

    def stage(name: str, clock: StageClock) -> None:
        clock.done(name, seconds)
        stages.set_postfix_str(name)
        stages.update()

    log.info("match run started at %.3f s (epoch), %.2f s CPU since the process began", time.time(),
             time.process_time())
    hashing = hash_in_background(inputs.files())  # for the manifest, while the run reads and matches
    prepare_later_stages()  # while Arrow reads the trails with the interpreter lock free
    clock = StageClock()
    trails = load_trails(inputs.trails, column_map=inputs.trails_column_map, crs=inputs.trails_crs,
                         naive_tz=inputs.trails_naive_tz, gpx_subject=inputs.trails_gpx_subject)
    stage("read_trails", clock)
    trails = assess_trails(trails, config.quality_rule)
    stage("trail_quality", clock)
    crimes = load_crimes(inputs.crimes, fmt=inputs.crimes_format, column_map=inputs.crimes_column_map,
                         target_crs=trails.crs, naive_tz=config.naive_tz, max_window_s=config.max_window_s)
    stage("read_crimes", clock)
    hits = match_hits(trails, crimes, config)
    stage("match", clock)
    if scorer is not None:
        hits = scorer.score(hits, trails.accepted, crimes.accepted, config, progress=progress)
        stage("score", clock)

    run = write_match_run(out_dir, trails, crimes, hits, config=config, inputs=inputs,
                          input_files=hashing, scorer=scorer, seconds=seconds)
    stages.update()
    stages.close()
    return run


def write_match_run(out_dir: Path, trails: Validated, crimes: Validated, hits: pd.DataFrame, *,
                    config: MatchConfig, inputs: MatchInputs,
                    input_files: Sequence[Path | str] | Future[list[dict[str, object]]],
                    scorer: Scorer | None, seconds: dict[str, float],
                    engine: Mapping[str, object] | None = None) -> MatchRun:
    """Write a run's hits, quarantine and manifest (any engine), timing them as ``seconds["write"]`` and
    ``seconds["manifest"]`` (its warnings and counts, and the hashes: the inputs' may still be being made).

    Args:
        out_dir: the output folder (exists).
        trails, crimes: the validated inputs (their ``crs`` is the run's metric CRS).
        hits: the hits, scored or not.
        config, inputs: recorded in the manifest as the run's parameters.
        input_files: the files hashed into the manifest's inputs, or their entries being hashed
            (:func:`geomatch.core.manifest.hash_in_background`).
        scorer: how the hits were scored (``None``: unscored).
        seconds: time per stage so far (s); ``write`` and ``manifest`` are added.
        engine: how the run was distributed (the Dask engine's description), recorded in the manifest.
    """
    clock = StageClock()
    quarantine_dir = out_dir / "quarantine"
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="quarantine") as pool:  # beside the hits tables
        quarantined = [pool.submit(v.write_quarantine, quarantine_dir) for v in (trails, crimes)]
        outputs = write_hits(hits, out_dir) + [written.result() for written in quarantined]
    clock.done("write", seconds)
    crs = trails.crs
    has_fixes = {"x", "y", "lon"} <= set(trails.accepted.columns)  # a Dask run keeps its fixes on the cluster
    span = zone_span_warning(trails.accepted["lon"].to_numpy(), crs) if has_fixes else None
    far = far_from_trails(crimes.accepted, trails.accepted) if has_fixes else None
    notes = [f"{v.name}: {note}" for v in (trails, crimes) for note in v.notes]
    warnings = tuple(w for w in (span, far, *notes) if w)
    run = MatchRun(out_dir, trails, crimes, crs, hits, tuple(outputs), out_dir / "manifest.json", seconds, warnings)
    extra: dict[str, object] = {"crs": crs, "wgs84_transformation": transform_info(WGS84, crs)}
    if engine is not None:
        extra["engine"] = engine
    extra["score"] = scorer.describe() if scorer else {"model": "none"}
    if warnings:
        extra["warnings"] = list(warnings)
    write_manifest(out_dir, tool="geomatch match", parameters={"config": config, "inputs": inputs},
                   inputs=input_files.result() if isinstance(input_files, Future) else input_files,
                   outputs=outputs, counts=run.counts(), extra=extra)
    clock.done("manifest", seconds)
    log.info("match run written to %s", out_dir)
    return run


def format_summary(run: MatchRun) -> str:
    """The end-of-run summary for people: rows in/accepted/quarantined, hits by class, time taken."""
    counts = run.counts()
    lines = []
    for name, validated in (("fixes", run.trails), ("crimes", run.crimes)):
        c = validated.counts()
        lines.append(f"{name:>7}: {c['rows_in']:>10,} in = {c['accepted']:,} accepted + {c['quarantined']:,} "
                     f"quarantined  ({validated.source})")
        for file, f in validated.per_file.items():
            lines.append(f"{'':>7}  {f['rows_in']:>10,} in = {f['accepted']:,} accepted + {f['quarantined']:,} "
                         f"quarantined  ({file})")
    by_class = ", ".join(f"{k} {v:,}" for k, v in counts["hits_by_presence"].items())
    if counts["fixes_by_quality"]:
        quality = ", ".join(f"{k} {v:,}" for k, v in counts["fixes_by_quality"].items())
        lines.append(f"quality: fixes {quality} (fallback: LBS/Wi-Fi or wide accuracy; outlier: a spike)")
    lines.append(f"   hits: {counts['hits']:,} ({by_class})")
    lines.append(f"  flags: {counts['crimes_long_window']:,} crimes with a window over the maximum (matched, "
                 f"flagged long_window); {counts['crimes_dst_adjusted']:,} with a clock-change local time "
                 f"(window widened)")
    timing = ", ".join(f"{k} {v:.2f}" for k, v in run.seconds.items())
    lines.append(f"   time: {sum(run.seconds.values()):.2f} s ({timing})")
    lines.append(f"results: {run.out_dir}/hits.csv, hits.parquet, quarantine/, manifest.json")
    lines.extend(f"warning: {warning}" for warning in run.warnings)
    return "\n".join(lines)
