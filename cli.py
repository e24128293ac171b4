"""Command line for ``geomatch`` and ``vvol``: parses options and calls the library, nothing more.

Library code logs and raises; this module prints. An :class:`geomatch.core.errors.InputError` becomes one sentence
on stderr and exit code 2.
"""
from __future__ import annotations

import atexit
import functools
import gc
import logging
import math
from pathlib import Path

import click

from geomatch.core.errors import InputError
from geomatch.core.memory import use_lean_memory
from geomatch.core.version import __version__
from geomatch.store.outcomes import OUTCOMES


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses nan and infinities (click lets nan through every bound)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


class FriendlyGroup(click.Group):
    """A click group whose commands all report bad input as one sentence with exit code 2: an
    :class:`InputError`, an option value click refuses, or a file the system cannot read or write (a folder
    where a file is expected, a file where a folder is, no permission, a full disk)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            self._fail(ctx, error.sentence())
        except click.BadParameter as error:
            self._fail(ctx, error.format_message())
        except OSError as error:
            if error.filename is None:
                raise
            reason = error.strerror or type(error).__name__
            self._fail(ctx, InputError(f"{reason[0].lower()}{reason[1:]}", file=str(error.filename)).sentence())

    @staticmethod
    def _fail(ctx, sentence: str) -> None:
        from geomatch.core.safe import terminal_text

        click.echo(f"error: {terminal_text(sentence)}", err=True)
        ctx.exit(2)


class _TerminalSafeFormatter(logging.Formatter):
    """Log lines with the message's control characters escaped (a warning may quote text from an input)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        from geomatch.core.safe import terminal_text

        return super().formatMessage(logging.makeLogRecord({**record.__dict__,
                                                            "message": terminal_text(record.message)}))


def _skip_the_final_collection() -> None:
    """At exit, leave every object to the system rather than to Python's last garbage collections, which walk
    every object numba, pandas and the rest made (0.5 CPU s, up to 3 s wall on a busy machine, after the work is
    done); files are closed and results committed before this point."""
    atexit.unregister(gc.freeze)  # once, however many commands a process runs (tests)
    atexit.register(gc.freeze)


def _configure_logging(verbose: bool) -> None:
    """Log to stderr at INFO (``-v``) or WARNING, unless logging is already set up (by a host program or tests)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_TerminalSafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(__version__, prog_name="geomatch", message="%(prog)s %(version)s")
def geomatch(verbose: bool) -> None:
    """Match GPS trails of tagged subjects against crime records, score, review and audit the hits."""
    _configure_logging(verbose)
    _skip_the_final_collection()


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(__version__, prog_name="vvol", message="%(prog)s %(version)s")
def vvol(verbose: bool) -> None:
    """V-VOL: repeat victims, offenders and locations, scored for tasking meetings."""
    _configure_logging(verbose)
    _skip_the_final_collection()


# ---- geomatch commands -------------------------------------------------------------------------------------


def _parse_column_map(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--map theirs=ours`` options as a mapping."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs or not ours:
            raise click.BadParameter(f"expected THEIRS=OURS, got {pair!r}")
        mapping[theirs.strip()] = ours.strip()
    return mapping


_key_option = click.option(
    "--key-file", type=click.Path(path_type=Path),
    help="Audit key (HMAC) kept outside the database: review events and hit seals are keyed with it, so a forged "
         "chain does not verify (default: $GEOMATCH_AUDIT_KEY, or the file named by $GEOMATCH_AUDIT_KEY_FILE).")


def _audit_key(key_file: Path | None):
    """A context in which the store uses the key in ``key_file`` (without one: the environment's, if any)."""
    import contextlib

    from geomatch.store.keys import load_key_file, using_key

    return using_key(load_key_file(key_file)) if key_file is not None else contextlib.nullcontext()


def _one_or_many(values: tuple[str, ...]) -> Path | tuple[Path, ...]:
    """A repeated path option: one path as it is, several as a tuple (read as one table)."""
    return Path(values[0]) if len(values) == 1 else tuple(Path(v) for v in values)


def _time_zone_option(ctx, param, value: str | None) -> str | None:
    """A time-zone option, refused when it names no zone (even where no timestamp needs it)."""
    from geomatch.core.times import check_time_zone

    return value if value is None else check_time_zone(value, option=param.opts[0])


def _crs_option(ctx, param, value: str | None) -> str | None:
    """A CRS option, refused when PROJ does not know it (even where no x/y column needs it)."""
    from geomatch.core.crs import check_crs

    return value if value is None else check_crs(value, option=param.opts[0])


def _reading_options(command):
    """Options saying how to read the trails and crimes files (shared by match and evidence); the command gets
    them as one ``reading`` mapping of :class:`geomatch.pipeline.MatchInputs` fields."""

    @functools.wraps(command)
    def with_reading(*args, crimes_format, trails_map, crimes_map, trails_crs, trails_tz, gpx_subject, **kwargs):
        reading = {"crimes_format": crimes_format, "trails_column_map": _parse_column_map(trails_map),
                   "crimes_column_map": _parse_column_map(crimes_map), "trails_crs": trails_crs,
                   "trails_naive_tz": trails_tz, "trails_gpx_subject": gpx_subject}
        return command(*args, reading=reading, **kwargs)

    options = [
        click.option("--crimes-format", type=click.Choice(["auto", "table", "moj"]), default="auto",
                     show_default=True, help="auto recognises the MoJ crime-mapping CSV."),
        click.option("--trails-map", multiple=True, metavar="THEIRS=OURS", help="Rename a trails column (repeatable)."),
        click.option("--crimes-map", multiple=True, metavar="THEIRS=OURS", help="Rename a crimes column (repeatable)."),
        click.option("--trails-crs", callback=_crs_option, help="CRS of x/y trail columns, e.g. EPSG:27700."),
        click.option("--trails-tz", callback=_time_zone_option,
                     help="Time zone of trail timestamps without an offset, e.g. Europe/London."),
        click.option("--gpx-subject", default="track", show_default=True, metavar="track|file|NAME",
                     help="GPX trails: a subject per track (named by the track), per file (named by the file), or "
                          "this name for every point."),
    ]
    for option in reversed(options):
        with_reading = option(with_reading)
    return with_reading


@geomatch.command()
@click.option("--trails", "trails_path", required=True, multiple=True,
              help="GPS fixes: CSV (also .csv.gz, .zip, ; tab | delimited), XLSX, Parquet, GeoParquet, GeoPackage, "
                   "GeoJSON or GPX; a folder, a glob pattern, or the option given again read as one (see "
                   "docs/inputs.md); with --engine dask a partitioned Parquet dataset (folder or fsspec URL).")
@click.option("--crimes", "crimes_path", required=True, multiple=True,
              help="Crime records: a table (any format --trails takes; a folder, glob or repeated option), or the "
                   "MoJ crime-mapping request CSV.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder.")
@_reading_options
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="MatchConfig TOML file.")
@click.option("--radius-m", type=float, help="One match radius (m) for every offence.")
@click.option("--pad-min", type=float, help="One time padding (min) either side of every window.")
@click.option("--db", "db_url", metavar="URL", help="Also record the run's crimes and hits in this review store.")
@_key_option
@click.option("--evidence", is_flag=True, help="Also make an evidence pack per hit in OUT/evidence/.")
@click.option("--evidence-workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes making evidence packs.")
@click.option("--evidence-top", type=click.IntRange(min=1), help="Packs for only the N highest-scored hits.")
@click.option("--basemap", type=click.Path(path_type=Path, exists=True, dir_okay=False), multiple=True,
              help="Local basemap under the packs' maps (repeatable; see geomatch evidence --help). Default: "
                   "[evidence] basemap in the settings file.")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Settings TOML (default: geomatch.toml in the working folder, if any).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: one process; dask: a Dask cluster over a partitioned trails dataset.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: start a "
                                                      "local cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Workers of the local Dask cluster (one thread each).")
@click.option("--no-score", is_flag=True, help="Leave the hits unscored (no score, reasons or features).")
@click.option("--score-config", type=click.Path(path_type=Path), help="ScoreConfig TOML file.")
@click.option("--score-model", type=click.Path(path_type=Path),
              help="Fitted score model (default: the one next to a SQLite --db, if any); used only if better.")
def match(trails_path: tuple[str, ...], crimes_path: tuple[str, ...], out_dir: Path, reading: dict,
          config_path: Path | None,
          radius_m: float | None, pad_min: float | None, evidence: bool, evidence_workers: int,
          evidence_top: int | None, basemap: tuple[Path, ...], settings_path: Path | None, db_url: str | None,
          key_file: Path | None, engine: str, scheduler: str | None,
          workers: int, no_score: bool, score_config: Path | None, score_model: Path | None) -> None:
    """Match trails against crimes, score the hits, and write hits, quarantine and a manifest to OUT."""
    from geomatch.core.manifest import start_hashing

    if engine != "dask":  # the manifest's hashes of the input files, on the core the imports below leave idle
        start_hashing((*trails_path, *crimes_path))
    from geomatch.match.config import MatchConfig
    from geomatch.jobs import match_evidence_store
    from geomatch.pipeline import MatchInputs, format_summary

    use_lean_memory()
    config = MatchConfig.from_toml(config_path) if config_path else MatchConfig()
    if radius_m is not None or pad_min is not None:
        try:
            config = config.with_uniform_rule(radius_m, pad_min * 60.0 if pad_min is not None else None)
        except InputError as error:  # name the option given, not the config field it fills
            given = " ".join(f"{name} {value:g}" for name, value in (("--radius-m", radius_m), ("--pad-min", pad_min))
                             if value is not None)
            raise InputError(f"{given} makes no sense for matching: {error.message}") from None
    if engine == "dask" and len(trails_path) > 1:
        raise click.UsageError("--engine dask reads one partitioned dataset: give --trails once")
    inputs = MatchInputs(trails=trails_path[0] if engine == "dask" else _one_or_many(trails_path),
                         crimes=_one_or_many(crimes_path), **reading)
    scorer = None if no_score else _scorer(score_config, score_model, db_url)
    dask = None
    if engine == "dask":
        from geomatch.engines.dask_engine import DaskOptions

        if not logging.getLogger().isEnabledFor(logging.INFO):  # the cluster's own INFO chatter only with -v
            import distributed  # noqa: F401  (it sets its loggers' levels when imported)

            logging.getLogger("distributed").setLevel(logging.WARNING)
        dask = DaskOptions(scheduler=scheduler, workers=workers)
    evidence_options = None
    if evidence:  # the settings file matters only to the packs (and matplotlib loads only for them: ~0.5 s)
        from geomatch.evidence.context import EvidenceOptions
        from geomatch.evidence.settings import load_settings

        evidence_options = EvidenceOptions(basemap=tuple(basemap) or load_settings(settings_path).basemap)
    with _audit_key(key_file):
        job = match_evidence_store(inputs, out_dir, config, scorer=scorer, evidence_top=evidence_top,
                                   evidence_workers=evidence_workers if evidence else None,
                                   evidence_options=evidence_options, db_url=db_url, dask=dask, progress=True)
    if scorer is not None:
        click.echo(f"  score: {_scorer_line(scorer)}")
    click.echo(format_summary(job.run))
    if job.evidence is not None:
        click.echo(_evidence_summary(job.evidence))
    if job.recorded is not None:
        from geomatch.store import shown_url

        recorded = job.recorded
        click.echo(f"  store: run {recorded.run_id} recorded in {shown_url(db_url)}: hits {recorded.hits_new:,} new, "
                   f"{recorded.hits_changed:,} changed, {recorded.hits_unchanged:,} unchanged; crimes "
                   f"{recorded.crimes_new:,} new, {recorded.crimes_changed:,} new versions")
    _exit_if_packs_failed(job.evidence)


@geomatch.command("simulate")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--subjects", type=click.IntRange(min=1), default=36, show_default=True, help="Tagged subjects.")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True, help="Days simulated.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same files).")
@click.option("--start", default="2026-10-22", show_default=True, help="First day (UK local), YYYY-MM-DD.")
@click.option("--fix-interval-s", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds between GPS fixes.")
@click.option("--trails-format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--dirty", is_flag=True, help="Plant a few bad rows for the quarantine (listed in truth/dirty.csv).")
def geomatch_simulate(out_dir: Path, subjects: int, days: int, seed: int, start: str, fix_interval_s: int,
                      trails_format: str, dirty: bool) -> None:
    """Generate a seeded synthetic world (trails, crimes, ground truth) in OUT_DIR."""
    from geomatch.simulate.world import simulate_world, write_world

    world = simulate_world(n_subjects=subjects, days=days, seed=seed, start=start, fix_interval_s=fix_interval_s,
                           progress=True)
    paths = write_world(world, out_dir, trails_format=trails_format, dirty=dirty)
    truth = world.truth.scenarios["scenario"].value_counts().sort_index()
    click.echo(f"simulated {subjects} subjects x {days} days from {start} (seed {seed}): "
               f"{len(world.trails):,} fixes, {len(world.crimes):,} crimes "
               f"({len(world.crimes_moj):,} in the MoJ file); planted: "
               + (", ".join(f"{name} {count}" for name, count in truth.items()) or "none"))
    for path in paths:
        click.echo(f"  wrote {path}")


@geomatch.command()
@click.option("--trails", "trails_path", required=True, type=click.Path(path_type=Path),
              help="GPS fixes: CSV, Parquet, GeoParquet or GeoPackage.")
@click.option("--by", default="day", show_default=True, type=click.Choice(["day", "subject", "subject,day"]),
              help="Partition keys: day=YYYY-MM-DD (UTC day), subject_bucket=NN, or both nested.")
@click.option("--out", "out", required=True, help="Dataset root: an empty folder or fsspec URL.")
@click.option("--buckets", type=click.IntRange(min=1), default=16, show_default=True,
              help="Subject buckets (with --by subject).")
@click.option("--trails-map", multiple=True, metavar="THEIRS=OURS", help="Rename a trails column (repeatable).")
@click.option("--trails-tz", callback=_time_zone_option,
              help="Time zone of timestamps without an offset (give the same to geomatch match).")
def partition(trails_path: Path, by: str, out: str, buckets: int, trails_map: tuple[str, ...],
              trails_tz: str | None) -> None:
    """Write a trails file as a partitioned Parquet dataset for geomatch match --engine dask."""
    from geomatch.engines.dataset import write_partitioned

    use_lean_memory()

    written = write_partitioned(trails_path, out, by=tuple(by.split(",")), buckets=buckets,
                                column_map=_parse_column_map(trails_map), naive_tz=trails_tz)
    click.echo(f"{len(written):,} partitions written to {out}")


def _scorer(config_path: Path | None, model_path: Path | None, db_url: str | None = None):
    """The scorer from a ScoreConfig TOML and a fitted model file (default: the model next to a SQLite store)."""
    from geomatch.scoring import ScoreConfig, Scorer, default_model_path, load_model

    config = ScoreConfig.from_toml(config_path) if config_path else ScoreConfig()
    if model_path is None and db_url:
        found = default_model_path(db_url)
        model_path = found if found is not None and found.is_file() else None
    return Scorer(config, load_model(model_path) if model_path else None)


def _scorer_line(scorer) -> str:
    if scorer.model is None:
        return "default model (transparent points)"
    used = "used" if scorer.uses_fitted else "not used: not better than the default on held-out reviews"
    return f"fitted model {scorer.model.path} ({used})"


_db_option = click.option("--db", "db_url", metavar="URL",
                          help="Review store: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB "
                               "(default: $GEOMATCH_DB, else sqlite:///geomatch.db in the working folder).")


@geomatch.group(cls=FriendlyGroup)
def hits() -> None:
    """List and inspect the hits in the review store."""


@hits.command("list")
@_db_option
@click.option("--status", type=click.Choice(["pending", *OUTCOMES]), help="Latest outcome, or pending.")
@click.option("--subject", help="Subject reference.")
@click.option("--offence", help="Offence key, e.g. burglary_residential.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after this UK date.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before this UK date.")
@click.option("--min-score", type=FiniteFloatRange(0, 100), help="Lowest score (0-100).")
def hits_list(db_url, status, subject, offence, since, until, min_score) -> None:
    """Stored hits with their review status, highest score first."""
    from geomatch.store import list_hits
    from geomatch.store.engine import require_store
    from geomatch.store.text import format_hit_list

    frame = list_hits(require_store(db_url), status=status, subject=subject, offence=offence, since=since and since.date(),
                      until=until and until.date(), min_score=min_score)
    click.echo(format_hit_list(frame))


@hits.command("show")
@click.argument("hit_id")
@_db_option
def hits_show(hit_id: str, db_url: str | None) -> None:
    """One hit in full: measurements, crime and review history (times in UK local time)."""
    from geomatch.store import get_hit
    from geomatch.store.engine import require_store
    from geomatch.store.text import format_hit

    click.echo(format_hit(get_hit(require_store(db_url), hit_id)))


@geomatch.command()
@click.argument("hit_id")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES), help="What was done.")
@click.option("--by", "by", required=True, help="Who reviewed (name or collar number).")
@click.option("--note", default="", help="Free text.")
@_db_option
@_key_option
def review(hit_id: str, outcome: str, by: str, note: str, db_url: str | None, key_file: Path | None) -> None:
    """Record a review of a hit (appended to the hash-chained event log)."""
    from geomatch.store import add_review
    from geomatch.store.text import format_event

    with _audit_key(key_file):
        event = add_review(db_url, hit_id, outcome=outcome, by=by, note=note)
    click.echo(format_event(event))


@geomatch.group(cls=FriendlyGroup, invoke_without_command=True)
@click.option("--month", metavar="YYYY-MM", help="UK calendar month (Europe/London) the hits were received in.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="FILE.xlsx or FILE.csv.")
@click.option("--review-days", type=FiniteFloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Agreed time from receiving a hit to its first review, in days.")
@click.option("--as-of", help="Outcomes as of this UK local time, e.g. '2026-11-05 09:00' (default: now).")
@_db_option
@_key_option
@click.pass_context
def audit(ctx, month, out_path, review_days, as_of, db_url, key_file) -> None:
    """MoJ monthly audit of the hits received in a month (or: geomatch audit verify)."""
    if ctx.invoked_subcommand is not None:
        return
    if month is None or out_path is None:
        raise click.UsageError("give --month YYYY-MM and --out FILE.xlsx|FILE.csv, or the subcommand verify")
    from geomatch.store import build_audit, write_audit
    from geomatch.store.audit import parse_as_of

    with _audit_key(key_file):
        report = build_audit(db_url, month, review_days=review_days, as_of=parse_as_of(as_of) if as_of else None)
    write_audit(report, out_path)
    for measure, value in report.summary:
        click.echo(f"{measure}: {value}")
    click.echo(f"audit written to {out_path}")


@audit.command()
@_db_option
@_key_option
@click.pass_context
def verify(ctx, db_url: str | None, key_file: Path | None) -> None:
    """Recompute the hash chains of the review events and of the access log, and check every hit row against its
    recorded content and the newest seal: exit 0 when all are intact, 1 naming the first broken entry and the
    hits at fault."""
    from geomatch.store import verify_chain
    from geomatch.store.chain import ACCESS_CHAIN
    from geomatch.store.engine import require_store
    from geomatch.store.seal import verify_hits
    from geomatch.store.text import format_chain, format_hits_check

    url = require_store(db_url or ctx.parent.params["db_url"])
    with _audit_key(key_file or ctx.parent.params["key_file"]):
        reports = [verify_chain(url), verify_chain(url, ACCESS_CHAIN)]
        hit_rows = verify_hits(url)
    for report in reports:
        click.echo(format_chain(report))
    click.echo(format_hits_check(hit_rows))
    ctx.exit(0 if all(report.ok for report in reports) and hit_rows.ok else 1)


@geomatch.group(cls=FriendlyGroup, invoke_without_command=True)
@click.option("--hits", "hits_path", type=click.Path(path_type=Path), help="hits.parquet from geomatch match.")
@click.option("--trails", "trails_path", type=click.Path(path_type=Path), help="The trails file of that run.")
@click.option("--crimes", "crimes_path", type=click.Path(path_type=Path),
              help="The crimes file of that run (needed only for hits files without scene_x/scene_y).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Output folder (default: the hits' folder).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="ScoreConfig TOML file.")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="Fitted score model from `geomatch score fit` (used only if it beat the default).")
@click.pass_context
def score(ctx, hits_path, trails_path, crimes_path, out_dir, config_path, model_path) -> None:
    """(Re)score a hits file: score 0-100 and reasons (or: geomatch score fit)."""
    if ctx.invoked_subcommand is not None:
        return
    if hits_path is None or trails_path is None:
        raise click.UsageError("give --hits DIR/hits.parquet and --trails FILE, or the subcommand fit")
    from geomatch.core.safe import terminal_text
    from geomatch.scoring.job import rescore

    use_lean_memory()
    scorer = _scorer(config_path, model_path)
    run = rescore(hits_path, trails_path, out_dir, crimes_path=crimes_path, scorer=scorer, progress=True)
    top = run.hits.sort_values(["score", "hit_id"], ascending=[False, True]).head(5)
    click.echo(f"scored {len(run.hits):,} hits with the {_scorer_line(scorer)}; highest:")
    for row in top.itertuples(index=False):
        click.echo(terminal_text(f"  {row.score:5.1f}  {row.hit_id}  {row.subject_id} / {row.crime_ref}: "
                                 f"{row.reasons}"))
    click.echo(f"results: {run.manifest.parent}/hits.csv, hits.parquet, manifest.json")


@score.command("fit")
@_db_option
@click.option("--outcomes", "outcomes_path", type=click.Path(path_type=Path),
              help="CSV/Parquet of hit_id, outcome (instead of the store's reviews).")
@click.option("--hits", "hits_paths", multiple=True, type=click.Path(path_type=Path),
              help="Scored hits.parquet with the features (repeatable; default: the hits as stored).")
@click.option("--estimator", type=click.Choice(["logistic", "boosting"]), default="logistic", show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="ScoreConfig TOML file.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the folds.")
@click.option("--model-out", type=click.Path(path_type=Path),
              help="Model file to write (default: next to a SQLite store, DB.score_model.joblib).")
def score_fit(db_url, outcomes_path, hits_paths, estimator, config_path, seed, model_out) -> None:
    """Fit a calibrated model on reviewed outcomes and compare it with the default on held-out reviews."""
    from geomatch.scoring import ScoreConfig, default_model_path, fit_model
    from geomatch.scoring.reviews import reviewed_hits

    if outcomes_path is not None and not hits_paths:
        raise click.UsageError("--outcomes needs --hits (the scored hits the outcomes refer to)")
    config = ScoreConfig.from_toml(config_path) if config_path else ScoreConfig()
    reviewed = reviewed_hits(db_url, outcomes_path=outcomes_path, hits_paths=hits_paths)
    model_out = model_out or default_model_path(db_url)
    if model_out is None:
        raise click.UsageError("give --model-out FILE (the store is not a SQLite file to put the model next to)")
    fitted = fit_model(reviewed, config, estimator=estimator, seed=seed).save(model_out)
    for line in fitted.report.lines():
        click.echo(line)
    click.echo(f"model written to {fitted.path} (sha256 {fitted.sha256[:12]}...)")


def _evidence_summary(run) -> str:
    failed = f"; {len(run.failures):,} FAILED (listed below)" if run.failures else ""
    return (f"evidence: {len(run.packs):,} packs in {run.out_dir} ({run.seconds:.1f} s, "
            f"{run.packs_per_second:.2f} packs/s){failed}; open {run.index}")


def _exit_if_packs_failed(run) -> None:
    """Name each pack that failed (hit and reason) on stderr and exit 1; the other packs are written."""
    if run is None or not run.failures:
        return
    for failure in run.failures:
        click.echo(f"evidence pack for hit {failure.hit_id} failed: {failure.reason}", err=True)
    raise SystemExit(1)


@geomatch.command()
@click.option("--hits", "hits_path", type=click.Path(path_type=Path), help="hits.parquet of a run.")
@click.option("--trails", "trails_path", type=click.Path(path_type=Path),
              help="The trails file the hits were matched from.")
@click.option("--crimes", "crimes_path", type=click.Path(path_type=Path),
              help="The crimes file the hits were matched from.")
@click.option("--db", "db_url", metavar="URL",
              help="Make the packs from the review store instead of the files (runs recorded by geomatch match "
                   "--db keep each hit's fixes); choose hits with --hit, or --status/--min-score.")
@click.option("--hit", "hit_ids", multiple=True, metavar="ID", help="With --db: this hit (repeatable).")
@click.option("--status", type=click.Choice(["pending", *OUTCOMES]), help="With --db: hits with this status.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Evidence folder.")
@click.option("--basemap", type=click.Path(path_type=Path, exists=True, dir_okay=False), multiple=True,
              help="Local basemap drawn under the maps (repeatable): a vector file (GeoPackage, Shapefile, "
                   "GeoJSON, FlatGeobuf: roads, buildings, water), an MBTiles or PMTiles archive of raster "
                   "tiles, or a GeoTIFF image. "
                   "Default: [evidence] basemap in the settings file.")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Settings TOML (default: geomatch.toml in the working folder, if any).")
@click.option("--tiles", metavar="URL", help="Tile URL template drawn under map.png (fetches tiles; needs the "
                                             "'tiles' extra). Off by default: no network.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes.")
@click.option("--top", type=click.IntRange(min=1), help="Only the N highest-scored hits (closest first if unscored).")
@click.option("--min-score", type=FiniteFloatRange(0, 100), help="Only hits scored at least this (0-100).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="MatchConfig TOML of the run.")
@click.option("--context-min", type=FiniteFloatRange(min=0),
              help="Trail shown either side of the window (min)  [default: 30; with --db, what the store kept]")
@click.option("--vicinity-m", type=FiniteFloatRange(min=0), default=500.0, show_default=True,
              help="Fixes within this distance (m) in the window are numbered and tabled.")
@_reading_options
def evidence(hits_path, trails_path, crimes_path, db_url, hit_ids, status, out_dir, basemap, settings_path, tiles,
             workers, top, min_score, config_path, context_min, vicinity_m, reading) -> None:
    """Make an evidence pack per hit (maps, timeline, points, statement, manifest) and an index page in OUT,
    from a run's files or from the review store (--db)."""
    from geomatch.match.config import MatchConfig
    from geomatch.evidence import EvidenceOptions, load_and_make_packs
    from geomatch.evidence.settings import load_settings

    use_lean_memory()
    settings = load_settings(settings_path)
    options = EvidenceOptions(vicinity_m=vicinity_m, basemap=tuple(basemap) or settings.basemap, tiles=tiles)
    if db_url:
        if hits_path or trails_path or crimes_path or config_path:
            raise click.UsageError("--db makes packs from the store: leave out --hits, --trails, --crimes, --config")
        from geomatch.evidence.stored import make_packs_from_store

        run = make_packs_from_store(db_url, out_dir, hit_ids=hit_ids, status=status, min_score=min_score,
                                    top=top, options=options, workers=workers, progress=True,
                                    context_s=None if context_min is None else context_min * 60.0)
        click.echo(_evidence_summary(run))
        return
    if hit_ids or status:
        raise click.UsageError("--hit and --status choose hits in the store: give --db URL")
    if not (hits_path and trails_path and crimes_path):
        raise click.UsageError("give --hits, --trails and --crimes (the run's files), or --db URL")
    config = MatchConfig.from_toml(config_path) if config_path else MatchConfig()
    from dataclasses import replace

    options = replace(options, context_s=(30.0 if context_min is None else context_min) * 60.0)
    run = load_and_make_packs(
        hits_path, trails_path, crimes_path, out_dir, config=config, options=options, workers=workers,
        trails_kwargs={"column_map": reading["trails_column_map"], "crs": reading["trails_crs"],
                       "naive_tz": reading["trails_naive_tz"], "gpx_subject": reading["trails_gpx_subject"]},
        crimes_kwargs={"fmt": reading["crimes_format"], "column_map": reading["crimes_column_map"]}, top=top,
        min_score=min_score, progress=True)
    click.echo(_evidence_summary(run))
    _exit_if_packs_failed(run)


@geomatch.command("verify")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.pass_context
def verify_outputs(ctx, directory: Path) -> None:
    """Check every file listed in DIRECTORY's manifest.json files (and its subfolders'): exit 0 when all match,
    1 naming each changed, missing or unlisted file."""
    from geomatch.core.manifest import verify_tree
    from geomatch.core.safe import terminal_text

    manifests, problems = verify_tree(directory)
    if manifests == 0:
        raise InputError("no manifest.json in this folder or below", file=str(directory))
    for problem in problems:
        click.echo(f"{problem.problem}: {terminal_text(problem.path)}")
    click.echo(f"{manifests:,} manifest(s): " + (f"{len(problems):,} file(s) changed, missing or not listed"
                                                  if problems else "every file matches"))
    ctx.exit(1 if problems else 0)


# ---- the review web application: serve, accounts, subjects, access log --------------------------------------


@geomatch.command()
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.option("--evidence-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder of evidence packs (geomatch evidence --out), shown in the hit pages.")
@click.option("--trust-user-header", metavar="NAME",
              help="Take the user from this header set by a single-sign-on reverse proxy (off by default).")
@click.option("--forwarded-allow-ips", metavar="IPS",
              help="Reverse proxies whose X-Forwarded-For gives the client address (default 127.0.0.1).")
@click.option("--reviewers-see-all", is_flag=True, help="Reviewers see and review every hit, not only their own.")
@click.option("--review-days", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Agreed time from receiving a hit to its first review, in days; older pending hits stand out.")
@click.option("--secure-cookies", is_flag=True, help="Mark cookies Secure (when a proxy serves HTTPS).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (one per core you give it).")
def serve(db_url, host, port, evidence_dir, trust_user_header, forwarded_allow_ips, reviewers_see_all, review_days,
          secure_cookies, workers) -> None:
    """Serve the review web application (queue, hits, outcomes, audit, access log) over the review store."""
    from geomatch.store.engine import require_store, shown_url
    from geomatch.web import WebSettings, serve as run_server

    url = require_store(db_url)
    settings = WebSettings(db_url=url, evidence_dir=evidence_dir, trust_user_header=trust_user_header,
                           reviewers_see_all=reviewers_see_all, review_days=review_days,
                           secure_cookies=secure_cookies)
    click.echo(f"serving {shown_url(url)} on http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(settings, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips, workers=workers)


@geomatch.group(cls=FriendlyGroup)
def users() -> None:
    """Accounts of the review web application."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "supervisor", "auditor", "admin"]))
@click.option("--team", help="Team (supervisors see and reassign their team's hits).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (first line).")
@_db_option
def users_add(name, role, team, password_stdin, db_url) -> None:
    """Add an account (without --password-stdin it logs in only by API token or a trusted proxy header)."""
    import sys

    from geomatch.store.accounts import add_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    user = add_user(db_url, name, role=role, password=password, team=team)
    click.echo(f"user {user.username} added ({user.role}{', team ' + user.team if user.team else ''})")


@users.command("disable")
@click.argument("name")
@_db_option
def users_disable(name, db_url) -> None:
    """Disable an account: its sessions end and its API token is refused."""
    from geomatch.store.accounts import set_active
    from geomatch.store.engine import require_store

    set_active(require_store(db_url), name, False)
    click.echo(f"user {name} disabled")


@users.command("enable")
@click.argument("name")
@_db_option
def users_enable(name, db_url) -> None:
    """Enable an account again (also lifts a lock after failed logins)."""
    from geomatch.store.accounts import set_active
    from geomatch.store.engine import require_store

    set_active(require_store(db_url), name, True)
    click.echo(f"user {name} enabled")


@users.command("token")
@click.argument("name")
@_db_option
def users_token(name, db_url) -> None:
    """Print a new API token for NAME, once (it replaces any earlier one; only its hash is stored)."""
    from geomatch.store.accounts import new_token
    from geomatch.store.engine import require_store

    click.echo(new_token(require_store(db_url), name))


@users.command("list")
@_db_option
def users_list(db_url) -> None:
    """Every account with its role, team and state."""
    from geomatch.store.accounts import list_users
    from geomatch.store.engine import require_store
    from geomatch.store.text import display_value

    for u in list_users(require_store(db_url)):
        state = "disabled" if not u["active"] else (f"locked until {display_value(u['locked_until'])}"
                                                    if u["locked_until"] else "active")
        click.echo(f"{u['username']}\t{u['role']}\t{u['team'] or '-'}\t{state}\t"
                   f"password {'yes' if u['password'] else 'no'}, token {'yes' if u['token'] else 'no'}")


@geomatch.group(cls=FriendlyGroup)
def subjects() -> None:
    """Subjects' offender managers and teams (who reviews which hit)."""


@subjects.command("load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@_db_option
def subjects_load(path: Path, db_url) -> None:
    """Load a subjects file (CSV: subject_id, offender_manager, optional team): each hit goes to its subject's
    offender manager."""
    from geomatch.store.assignment import load_subjects, read_subjects

    summary = load_subjects(db_url, read_subjects(path), source=str(path))
    click.echo(f"subjects: {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged")
    if summary.managers_without_account:
        click.echo("offender managers without an account yet (geomatch users add): "
                   + ", ".join(summary.managers_without_account))


@geomatch.command("access-log")
@click.option("--user", help="Only this user's accesses.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this UK date.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries (newest first).")
@_db_option
def access_log(user, since, limit, db_url) -> None:
    """Who consulted, disclosed or altered what, when and from where, and every login (newest first)."""
    from geomatch.store.access import list_access
    from geomatch.store.engine import require_store
    from geomatch.store.text import format_access_log

    frame = list_access(require_store(db_url), user=user, since=since and since.date(), limit=limit)
    click.echo(format_access_log(frame))


# ---- vvol commands -----------------------------------------------------------------------------------------


def _iso_day(text: str, option: str) -> str:
    """An ISO date (YYYY-MM-DD) or a one-sentence error; 10/11/2026 is refused rather than guessed."""
    import re

    import pandas as pd

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise InputError(f"{option} '{text}' is not an ISO date, so not a date we read (write YYYY-MM-DD; a date such as 10/11/2026 "
                         f"could be 10 November or 11 October)")
    try:
        day = pd.Timestamp(text.strip())
    except (ValueError, OverflowError) as error:
        raise InputError(f"{option} '{text}' is not a date") from error
    if not 1980 <= day.year <= 2100:  # a pack's workbook cannot be dated before 1980 (zip entries)
        raise InputError(f"{option} '{text}' is outside the years 1980 to 2100")
    return text.strip()


@vvol.command("score")
@click.option("--crimes", "crimes_paths", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Crimes: CSV (or .csv.gz), Parquet or GeoPackage table, or police.uk street-level CSVs; a "
                   "file, a folder or a glob pattern (quote it); repeat the option for several.")
@click.option("--people", "people_paths", multiple=True, type=click.Path(path_type=Path),
              help="Involvements (crime_ref, person_id, role), in the same forms; without it only locations are "
                   "scored.")
@click.option("--as-of", "as_of", required=True, help="Last day of the period (YYYY-MM-DD, UK local, whole day).")
@click.option("--period", default=None, help="Reporting period, e.g. 90d, 4w, 3m, 1y (default: the config's, "
                                              "90d); unless --window is given, the window is two periods when "
                                              "they are longer than a year.")
@click.option("--window", default=None, help="Repeat window, e.g. 365d or 12m (default: the config's, 365d).")
@click.option("--area", default=None, help="Only crimes whose 'area' is this name (any case).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="VvolConfig TOML file.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder for the pack.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def vvol_score(crimes_paths: tuple[Path, ...], people_paths: tuple[Path, ...], as_of: str, period: str | None,
               window: str | None, area: str | None, config_path: Path | None, out_dir: Path, progress: bool) -> None:
    """Score repeat victims, offenders, locations and linked clusters; write a tasking pack."""
    from vvol.config import load_config, parse_days
    from vvol.inputs import expand_paths
    from vvol.pack import summary_text, write_pack
    from vvol.pipeline import run as run_vvol

    as_of = _iso_day(as_of, "--as-of")
    config = load_config(config_path, period_days=parse_days(period) if period else None,
                         window_days=parse_days(window) if window else None)
    crimes_files = expand_paths(crimes_paths)
    people_files = expand_paths(people_paths) if people_paths else None
    tasking = run_vvol(crimes_files, people_files, as_of, config, area=area, progress=progress)
    inputs = crimes_files + (people_files or []) + ([config_path] if config_path else [])
    write_pack(tasking, out_dir, inputs=inputs)
    click.echo(summary_text(tasking, out_dir))


@vvol.command("cohort")
@click.option("--cohort", "cohort_paths", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Cohort members: person_id, cohort, start, optional end and left_area (file, folder or glob).")
@click.option("--crimes", "crimes_paths", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Crimes, as for vvol score (repeatable; files, folders, globs).")
@click.option("--people", "people_paths", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Involvements (crime_ref, person_id, role); offenders never in a cohort form the comparison group.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--window", default="12m", show_default=True, help="Before and after windows, in months (12m, 1y).")
@click.option("--as-of", "as_of", default=None, help="Last day of the data (YYYY-MM-DD); default: the latest crime.")
@click.option("--data-from", "data_from", default=None,
              help="First day the crimes data covers (YYYY-MM-DD); default: the earliest crime.")
@click.option("--include-suspects", is_flag=True, help="Count crimes where the person is a suspect too.")
@click.option("--costs", "cost_table", type=click.Path(path_type=Path), default=None,
              help="A force's own unit-cost table (format of vvol/data/crime_costs.csv).")
@click.option("--bootstrap", "n_boot", default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap and the candidate sample.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def vvol_cohort(cohort_paths, crimes_paths, people_paths, out_dir: Path, window: str, as_of: str | None,
           data_from: str | None, include_suspects: bool, cost_table: Path | None, n_boot: int, seed: int,
           progress: bool) -> None:
    """IOM cohort report: each member's crimes, harm and cost before, during and after management, with honest
    statistics (bootstrap CI, signed-rank test, matched comparison group, difference in differences)."""
    from vvol.cohort import parse_window
    from vvol.cohort_pipeline import CohortSettings, run_cohort
    from vvol.cohort_report import write_cohort
    from vvol.cohort_stats import verdict
    from vvol.inputs import expand_paths

    settings = CohortSettings(window_months=parse_window(window),
                              as_of=_iso_day(as_of, "--as-of") if as_of else None,
                              data_from=_iso_day(data_from, "--data-from") if data_from else None,
                              include_suspects=include_suspects, n_boot=n_boot, seed=seed)
    files = {name: expand_paths(paths) for name, paths in
             (("cohort", cohort_paths), ("crimes", crimes_paths), ("people", people_paths))}
    result = run_cohort(files["cohort"], files["crimes"], files["people"], settings,
                        cost_table=str(cost_table) if cost_table else None, progress=progress)
    write_cohort(result, out_dir, inputs=[p for paths in files.values() for p in paths]
                 + ([cost_table] if cost_table else []))
    for name in result.cohorts:
        stats = result.statistics[name]
        row = stats[(stats["measure"] == "crimes") & (stats["comparison"] == "before -> after")].iloc[0]
        click.echo(f"{name}: {int((result.table['cohort'] == name).sum()):,} members; {verdict(row)}")
    click.echo(f"report: {Path(out_dir) / 'cohort.html'}")


@vvol.command("simulate")
@click.option("--crimes", "n_crimes", type=click.IntRange(min=0), default=5000, show_default=True,
              help="Background crimes to generate.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--as-of", "as_of", default="2026-10-31", show_default=True, help="Last day of the data.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder.")
def vvol_simulate(n_crimes: int, seed: int, as_of: str, fmt: str, out_dir: Path) -> None:
    """Write a seeded synthetic crimes + people set with planted repeat problems (see vvol.synth)."""
    from vvol import synth

    as_of = _iso_day(as_of, "--as-of")
    data = synth.generate(n_crimes, seed=seed, as_of=as_of)
    crimes_path, people_path = synth.write(data, out_dir, fmt=fmt)
    click.echo(f"{len(data.crimes):,} crimes -> {crimes_path}; {len(data.people):,} involvements -> {people_path}")
    click.echo(f"planted: repeat victims {', '.join(data.truth.repeat_victims[:3])} ...; prolific offenders "
               f"{', '.join(data.truth.prolific_offenders[:3])} ...; pub {data.truth.pub_premises}")


if __name__ == "__main__":  # pragma: no cover
    geomatch()
