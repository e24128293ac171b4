"""Reading real inputs at force scale: a CSV force-month from the generator (``geomatch simulate --subjects 200
--days 30 --trails-format csv``: about 8.3 million WGS84 fixes with ISO 8601 times) and the same world as Parquet.

Prints, for each format, from one run on the same machine, wall seconds and CPU seconds (user + system, every
thread: the fair measure on a shared machine) and the ratios of both:

- read and validate the trails (:func:`geomatch.ingest.trails.load_trails`: typed columns, every rule, the
  quarantine, the metric CRS) against a plain ``pyarrow.csv.read_csv`` (``pyarrow.parquet.read_table``) of the
  same file, interleaved three times (first and best of 3); target <= 1.5x;
- end to end (read, validate, match, score, write): ``geomatch -v match`` in a fresh process (imports and kernel
  loading included), every second of it accounted for in a table of wall and CPU seconds (start-up, imports,
  each stage it logs, exit: :func:`stage_table`), with its peak resident memory (target < 2 GB);
- the geopandas way over the whole file (read six columns with pandas, keep the GPS fixes our ``observed``
  class trusts, ``to_crs``, buffer the scenes, ``sjoin``, filter by time; observed hits only; target: end to end
  at least 20x faster);
- DuckDB over the same file as a competent analyst writes it (DuckDB reads it on every core; scenes listed per
  hour bucket and grid cell, an equality hash join on those keys, then the time window and an equirectangular
  radius, over the same GPS fixes; observed hits only; target: end to end faster).

Needs the ``bench`` extra (``pip install -e '.[bench]'``) for DuckDB.
"""
from __future__ import annotations

import gc
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.bench_match import geopandas_observed
from benchmarks.common import BENCH_DIR, run_cli, timed
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.core.memory import use_lean_memory
from geomatch.simulate.world import simulate_world, write_world

_METRES_PER_DEGREE_LAT = 110_574.0
_METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0


def world_files(subjects: int, days: int):
    """The generator's world written as CSV and as Parquet trails (made once, reused)."""
    folder = BENCH_DIR / f"inputs_{subjects}x{days}"
    if not (folder / "trails.csv").exists() or not (folder / "trails.parquet").exists():
        started = time.perf_counter()
        world = simulate_world(n_subjects=subjects, days=days, seed=1)
        write_world(world, folder, trails_format="parquet")
        write_world(world, folder, trails_format="csv")
        print(f"simulated {subjects} subjects x {days} days in {time.perf_counter() - started:.1f} s -> {folder}")
    return folder / "trails.csv", folder / "trails.parquet", folder / "crimes.csv"


def read_vs_plain(trails, plain_read) -> tuple[dict[str, tuple[float, float]], int]:
    """Wall and CPU seconds (first, best of 3) of the plain read and of read+validate, interleaved, as
    ``{"plain": (first, best), "plain_cpu": ..., "ours": ..., "ours_cpu": ...}``; and the rows read.

    Both run with the memory set-up of the ``geomatch match`` process that ``load_trails`` runs in
    (:func:`geomatch.core.memory.use_lean_memory`: numpy's huge-page advice off, Arrow on the system allocator),
    so the plain read gets the same allocator; the previous set-up is restored after."""
    previous_advice, previous_pool = np._core.multiarray._get_madvise_hugepage(), pa.default_memory_pool()
    use_lean_memory()
    try:
        return _read_vs_plain(trails, plain_read)
    finally:
        np._core.multiarray._set_madvise_hugepage(previous_advice)
        pa.set_memory_pool(previous_pool)


def _read_vs_plain(trails, plain_read) -> tuple[dict[str, tuple[float, float]], int]:
    runs: dict[str, list[float]] = {"plain": [], "plain_cpu": [], "ours": [], "ours_cpu": []}
    rows = 0
    for _ in range(3):
        figures: dict[str, float] = {}
        with timed(figures, "plain"):
            rows = plain_read(trails).num_rows
        gc.collect()
        with timed(figures, "ours"):
            validated = load_trails(trails)
        assert validated.rows_in == rows
        del validated
        gc.collect()
        for name in runs:
            runs[name].append(figures[name])
    return {name: (seconds[0], min(seconds)) for name, seconds in runs.items()}, rows


HOUR_S = 3600
CELL_DEG = 0.01
"""The DuckDB baseline's join keys: hour buckets and 0.01-degree cells (about 1.1 km by 0.7 km in England)."""


def duckdb_observed(trails, crimes: pd.DataFrame, config: MatchConfig, *,
                    split: dict[str, float] | None = None) -> set[tuple[str, str]]:
    """Observed pairs as a competent analyst writes them in DuckDB: every scene is listed once per hour bucket of
    its padded window and per grid cell its radius box touches, fixes get the same keys, an equality (hash) join
    on them, then the exact time window and the radius (equirectangular metres about the scene); the fixes are
    those our ``observed`` class uses (:func:`satellite_fixes`). DuckDB reads the file itself, on every core. (A
    band join on four ranges and no equality plans as a nested loop: it ran for 20 minutes on the force-month.)

    ``split``: when given, DuckDB first reads the whole file into a table of its own and then joins on that
    table, and the wall seconds of each go in ``split["read"]`` and ``split["join"]`` (the join alone is what
    compares with our match stage on fixes already in memory)."""
    import duckdb

    pad = crimes["offence"].map(lambda o: config.rule(o).pad_s).to_numpy(float)
    radius = crimes["offence"].map(lambda o: config.rule(o).radius_m).to_numpy(float)
    lat, lon = crimes["lat"].to_numpy(float), crimes["lon"].to_numpy(float)
    kx = _METRES_PER_DEGREE_LON_AT_EQUATOR * np.cos(np.radians(lat))
    t0 = crimes["committed_from"].astype("datetime64[ns, UTC]").to_numpy("datetime64[ns]").view("i8") / 1e9 - pad
    t1 = crimes["committed_to"].astype("datetime64[ns, UTC]").to_numpy("datetime64[ns]").view("i8") / 1e9 + pad
    dlat, dlon = radius / _METRES_PER_DEGREE_LAT, radius / kx
    scenes = pd.DataFrame({
        "crime_ref": crimes["crime_ref"].astype(str), "t0": t0, "t1": t1, "lat": lat, "lon": lon, "r": radius,
        "kx": kx, "ky": _METRES_PER_DEGREE_LAT,
        "h0": np.floor(t0 / HOUR_S).astype(np.int64), "h1": np.floor(t1 / HOUR_S).astype(np.int64),
        "y0": np.floor((lat - dlat) / CELL_DEG).astype(np.int64), "y1": np.floor((lat + dlat) / CELL_DEG).astype(np.int64),
        "x0": np.floor((lon - dlon) / CELL_DEG).astype(np.int64), "x1": np.floor((lon + dlon) / CELL_DEG).astype(np.int64),
    })
    source = (f"read_parquet('{trails}')" if str(trails).endswith(".parquet")
              else f"read_csv('{trails}', header = true)")
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")  # the bench prints its own lines
    connection.register("scenes", scenes)
    if split is not None:
        started = time.perf_counter()
        connection.execute(f"CREATE TABLE trails AS SELECT * FROM {source}")
        split["read"], source = time.perf_counter() - started, "trails"
    started = time.perf_counter()
    rows = connection.execute(f"""
        WITH fixes AS (
            SELECT subject_id, epoch(CAST(timestamp AS TIMESTAMPTZ)) AS t, lat, lon
            FROM {source}
            WHERE source = 'GPS' AND NOT coalesce(accuracy_m > {config.quality_rule.fallback_accuracy_m}, false)),
        keyed AS (
            SELECT subject_id, t, lat, lon, CAST(floor(t / {HOUR_S}) AS BIGINT) AS hour,
                   CAST(floor(lat / {CELL_DEG}) AS BIGINT) AS cy, CAST(floor(lon / {CELL_DEG}) AS BIGINT) AS cx
            FROM fixes),
        by_hour AS (SELECT *, unnest(range(h0, h1 + 1)) AS hour FROM scenes),
        by_row AS (SELECT *, unnest(range(y0, y1 + 1)) AS cy FROM by_hour),
        scene_keys AS (SELECT *, unnest(range(x0, x1 + 1)) AS cx FROM by_row)
        SELECT DISTINCT f.subject_id, c.crime_ref
        FROM keyed AS f JOIN scene_keys AS c ON f.hour = c.hour AND f.cy = c.cy AND f.cx = c.cx
        WHERE f.t BETWEEN c.t0 AND c.t1
          AND ((f.lon - c.lon) * c.kx) ^ 2 + ((f.lat - c.lat) * c.ky) ^ 2 <= c.r ^ 2
    """).fetchall()
    if split is not None:
        split["join"] = time.perf_counter() - started
    connection.close()
    return {(str(s), str(c)) for s, c in rows}


_STAGE = re.compile(r"stage (\w+): ([\d.]+) s wall, ([\d.]+) s CPU")
_COMMAND_STARTED = re.compile(r"^COMMAND_STARTED ([\d.]+) ([\d.]+)$", re.M)
_RUN_STARTED = re.compile(r"match run started at ([\d.]+) s \(epoch\), ([\d.]+) s CPU")


def stage_table(output: str, launched: float, wall: float, cpu: float) -> list[tuple[str, float, float]]:
    """Every second of a fresh ``geomatch -v match`` process accounted for, as ``(what, wall s, CPU s)`` rows:
    the interpreter's start-up, the command's imports and option checks, each stage it logged, and what follows
    them (the summary, freeing memory, the interpreter's exit). ``launched``: epoch s when the process was
    started; ``wall``, ``cpu``: the whole process's."""
    command_at, command_cpu = map(float, _COMMAND_STARTED.search(output).groups())
    run_at, run_cpu = map(float, _RUN_STARTED.search(output).groups())
    stages = [(name, float(w), float(c)) for name, w, c in _STAGE.findall(output)]
    rows = [("start-up: the interpreter, the command line's imports", command_at - launched, command_cpu),
            ("the match command's imports and option checks", run_at - command_at, run_cpu - command_cpu),
            *stages]
    rows.append(("after the stages: summary, freeing memory, exit", wall - sum(r[1] for r in rows),
                 cpu - sum(r[2] for r in rows)))
    return rows


def warm_up(trails) -> None:
    """Read a few rows of the same format once, so imports and compiled kernels are loaded before the clock."""
    small = BENCH_DIR / f"warm{''.join(trails.suffixes)}"
    if trails.suffix == ".parquet":
        pq.write_table(pq.read_table(trails).slice(0, 1000), small)
    else:
        with open(trails, encoding="utf-8") as source:
            small.write_text("".join(line for _, line in zip(range(1001), source)), encoding="utf-8")
    load_trails(small)


def _line(label: str, *seconds: float) -> None:
    print(f"  {label:<84} {'  '.join(f'{s:7.2f} s' for s in seconds)}", flush=True)


def _verdict(met: bool) -> str:
    return "OK" if met else "MISSED"


def bench_format(name: str, trails, crimes_path, plain_read, read_fixes, config: MatchConfig) -> None:
    """Every figure for one trails file, printed as it is measured: wall seconds, and CPU seconds (every thread;
    the fair measure on a shared machine) with the ratios of both."""
    print(f"\n  -- {name}: {trails} ({trails.stat().st_size / 1e6:,.0f} MB); load average {_load()}", flush=True)
    warm_up(trails)
    default = {}
    for attempt in range(2):  # for reference: the plain read as a new user runs it, on Arrow's default pool
        with timed(default, str(attempt)):
            plain_read(trails)
    _line(f"plain {plain_read.__name__} on Arrow's default pool ({pa.default_memory_pool().backend_name}), for "
          "reference: wall (first, best of 2)", default["0"], min(default["0"], default["1"]))
    read, rows = read_vs_plain(trails, plain_read)
    _line(f"plain {plain_read.__name__} of {rows:,} fixes, wall (first, best of 3)", *read["plain"])
    _line("read + validate: load_trails, wall (first, best of 3)", *read["ours"])
    _line(f"plain {plain_read.__name__}, CPU (first, best of 3)", *read["plain_cpu"])
    _line("read + validate: load_trails, CPU (first, best of 3)", *read["ours_cpu"])
    wall = [o / p for o, p in zip(read["ours"], read["plain"])]
    cpu = [o / p for o, p in zip(read["ours_cpu"], read["plain_cpu"])]
    print(f"  read+validate / plain read: wall first {wall[0]:4.2f}, best {wall[1]:4.2f}; CPU first {cpu[0]:4.2f}, "
          f"best {cpu[1]:4.2f}   (target <= 1.5)   {_verdict(max(wall) <= 1.5)} (wall), "
          f"{_verdict(max(cpu) <= 1.5)} (CPU)", flush=True)

    out = BENCH_DIR / f"inputs_out_{name.lower()}"
    launched = time.time()
    fresh = run_cli("geomatch", ["-v", "match", "--trails", str(trails), "--crimes", str(crimes_path),
                                 "--out", str(out)])
    _line("end to end: geomatch match in a fresh process (start-up, imports, kernels loaded): wall, CPU",
          fresh.seconds, fresh.cpu_seconds)
    stages = stage_table(fresh.output, launched, fresh.seconds, fresh.cpu_seconds)
    for what, wall, cpu in stages:
        _line(f"  {what}: wall, CPU", wall, cpu)
    print(f"  peak memory of geomatch match: {fresh.peak_rss_mb:,.0f} MiB = {fresh.peak_rss_mb * 2**20 / 1e9:.2f} GB "
          f"(target < 2 GB)   {_verdict(fresh.peak_rss_mb * 2**20 < 2e9)}", flush=True)

    validated = load_trails(trails)
    crimes = load_crimes(crimes_path, target_crs=validated.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    del validated
    gc.collect()
    ours_observed = set(map(tuple, pd.read_parquet(out / "hits.parquet").query("presence == 'observed'")[
        ["subject_id", "crime_ref"]].astype(str).itertuples(index=False)))
    figures: dict[str, float] = {}
    with timed(figures, "duckdb"):
        banded = duckdb_observed(trails, crimes.accepted, config)
    _line("DuckDB: hour-bucket and grid-cell hash join, then time and radius (observed only): wall, CPU",
          figures["duckdb"], figures["duckdb_cpu"])
    split: dict[str, float] = {}
    assert duckdb_observed(trails, crimes.accepted, config, split=split) == banded
    ours = {what: wall for what, wall, _ in stages}
    print(f"  for comparison, stage by stage (wall): DuckDB reading the file into a table {split['read']:.2f} s, then "
          f"its join alone {split['join']:.2f} s; the command's read_trails {ours['read_trails']:.2f} s (read, "
          f"validate, quarantine) and match {ours['match']:.2f} s (observed, interpolated and possible hits, "
          f"measured)", flush=True)
    gc.collect()
    with timed(figures, "geopandas"):
        analyst = geopandas_observed(trails, crimes.accepted, config, read=read_fixes)
    _line("geopandas way (read, keep GPS, to_crs, buffer, sjoin, time filter), whole file: wall, CPU",
          figures["geopandas"], figures["geopandas_cpu"])
    duck, duck_cpu = figures["duckdb"] / fresh.seconds, figures["duckdb_cpu"] / fresh.cpu_seconds
    print(f"  DuckDB / end to end (the command's wall and CPU): wall {duck:5.2f}x, CPU {duck_cpu:5.2f}x   "
          f"(target > 1)   {_verdict(duck > 1)} (wall), {_verdict(duck_cpu > 1)} (CPU)", flush=True)
    gpd_wall, gpd_cpu = figures["geopandas"] / fresh.seconds, figures["geopandas_cpu"] / fresh.cpu_seconds
    print(f"  geopandas / end to end (the command's wall and CPU): wall {gpd_wall:5.1f}x, CPU {gpd_cpu:5.1f}x   "
          f"(target >= 20x)   {_verdict(gpd_wall >= 20)} (wall), {_verdict(gpd_cpu >= 20)} (CPU)")
    print(f"  observed hits: ours {len(ours_observed):,}, geopandas {len(analyst):,} "
          f"({len(analyst ^ ours_observed)} differ: polygon buffers, outlier fixes), DuckDB {len(banded):,} "
          f"({len(banded ^ ours_observed)} differ: a flat-earth distance at the radius' edge, outlier fixes)",
          flush=True)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def read_csv(path):
    """The plain Arrow CSV read (type inference, every core)."""
    return pacsv.read_csv(path)


def read_parquet(path):
    """The plain Arrow Parquet read."""
    return pq.read_table(path)


def main(quick: bool = False) -> None:
    subjects, days = (20, 3) if quick else (200, 30)
    csv_path, parquet_path, crimes_path = world_files(subjects, days)
    config = MatchConfig()
    bench_format("CSV", csv_path, crimes_path, read_csv,
                 lambda path: satellite_fixes(pd.read_csv(path, usecols=ANALYST_COLUMNS, parse_dates=["timestamp"],
                                                          dtype={"subject_id": "category", "source": "category"}),
                                              config), config)
    bench_format("Parquet", parquet_path, crimes_path, read_parquet,
                 lambda path: satellite_fixes(pd.read_parquet(path, columns=ANALYST_COLUMNS), config), config)


ANALYST_COLUMNS = ["subject_id", "timestamp", "lat", "lon", "accuracy_m", "source"]


def satellite_fixes(fixes: pd.DataFrame, config: MatchConfig) -> pd.DataFrame:
    """The fixes an analyst would trust to say where someone was, as our ``observed`` class does: GPS, with an
    accuracy within the quality rule's ``fallback_accuracy_m`` (not mobile-cell or Wi-Fi fallbacks)."""
    keep = (fixes["source"].astype(str) == "GPS") & ~(fixes["accuracy_m"] > config.quality_rule.fallback_accuracy_m)
    return fixes.loc[keep.to_numpy(), ["subject_id", "timestamp", "lat", "lon"]].reset_index(drop=True)


if __name__ == "__main__":
    main()
