"""Reading real inputs at force scale: a CSV force-month from the generator (``geomatch simulate --subjects 200
--days 30 --trails-format csv``: about 8.6 million WGS84 fixes with ISO 8601 times) and the same world as Parquet.

Prints, for each format, from one run on the same machine:

- read and validate the trails (:func:`geomatch.ingest.trails.load_trails`: typed columns, every rule, the
  quarantine, the metric CRS) against a plain ``pyarrow.csv.read_csv`` (``pyarrow.parquet.read_table``) of the
  same file, interleaved three times (first and best of 3); target <= 1.5x;
- end to end (read, validate, match, score, write): ``geomatch match`` in a fresh process, the sum of its stage
  times as it prints them (the process's wall time, imports and kernel loading included, is printed beside),
  with its peak resident memory (target < 2 GB);
- the geopandas way (read with pandas, ``to_crs``, buffer the scenes, ``sjoin``, filter by time; observed hits
  only; target: end to end at least 20x faster);
- a DuckDB SQL band join over the same file (DuckDB reads it on every core; time and box band join with an
  equirectangular distance; observed hits only; target: end to end faster).

Needs the ``bench`` extra (``pip install -e '.[bench]'``) for DuckDB.
"""
from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.bench_match import geopandas_observed
from benchmarks.common import BENCH_DIR, run_cli, timed
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
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


def read_vs_plain(trails, plain_read) -> tuple[tuple[float, float], tuple[float, float], int]:
    """(first, best of 3) seconds of the plain read and of read+validate, interleaved; and the rows read."""
    plain, ours = [], []
    rows = 0
    for _ in range(3):
        started = time.perf_counter()
        rows = plain_read(trails).num_rows
        plain.append(time.perf_counter() - started)
        gc.collect()
        started = time.perf_counter()
        validated = load_trails(trails)
        ours.append(time.perf_counter() - started)
        assert validated.rows_in == rows
        del validated
        gc.collect()
    return (plain[0], min(plain)), (ours[0], min(ours)), rows


def duckdb_observed(trails, crimes: pd.DataFrame, config: MatchConfig) -> set[tuple[str, str]]:
    """Observed pairs by a DuckDB band join over the trails file: fixes within each padded window and the scene's
    box, then within the radius (equirectangular metres about the scene)."""
    import duckdb

    pad = pd.to_timedelta(crimes["offence"].map(lambda o: config.rule(o).pad_s), unit="s")
    radius = crimes["offence"].map(lambda o: config.rule(o).radius_m).to_numpy(float)
    cos_lat = np.cos(np.radians(crimes["lat"].to_numpy(float)))
    scenes = pd.DataFrame({
        "crime_ref": crimes["crime_ref"].astype(str), "t0": crimes["committed_from"] - pad,
        "t1": crimes["committed_to"] + pad, "lat": crimes["lat"].to_numpy(float), "lon": crimes["lon"].to_numpy(float),
        "r": radius, "kx": _METRES_PER_DEGREE_LON_AT_EQUATOR * cos_lat, "ky": _METRES_PER_DEGREE_LAT,
    })
    scenes["dlat"], scenes["dlon"] = scenes["r"] / scenes["ky"], scenes["r"] / scenes["kx"]
    source = (f"read_parquet('{trails}')" if str(trails).endswith(".parquet")
              else f"read_csv('{trails}', header = true)")
    connection = duckdb.connect()
    connection.register("scenes", scenes)
    rows = connection.execute(f"""
        SELECT DISTINCT f.subject_id, c.crime_ref
        FROM {source} AS f JOIN scenes AS c
          ON CAST(f.timestamp AS TIMESTAMPTZ) BETWEEN c.t0 AND c.t1
         AND f.lat BETWEEN c.lat - c.dlat AND c.lat + c.dlat
         AND f.lon BETWEEN c.lon - c.dlon AND c.lon + c.dlon
        WHERE ((f.lon - c.lon) * c.kx) ^ 2 + ((f.lat - c.lat) * c.ky) ^ 2 <= c.r ^ 2
    """).fetchall()
    connection.close()
    return {(str(s), str(c)) for s, c in rows}


def _stages(output: str) -> tuple[float, str]:
    """The end-to-end seconds (sum of the stages) and the stage line ``geomatch match`` printed."""
    line = next(x for x in output.splitlines() if x.strip().startswith("time:")).strip()
    return float(line.split()[1]), line


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
    print(f"  {label:<84} {'  '.join(f'{s:6.2f} s' for s in seconds)}", flush=True)


def bench_format(name: str, trails, crimes_path, plain_read, read_fixes, config: MatchConfig) -> None:
    """Every figure for one trails file, printed as it is measured."""
    print(f"\n  -- {name}: {trails} ({trails.stat().st_size / 1e6:,.0f} MB)", flush=True)
    warm_up(trails)
    plain, ours, rows = read_vs_plain(trails, plain_read)
    _line(f"plain {plain_read.__name__} of {rows:,} fixes (first, best of 3)", *plain)
    _line("read + validate: load_trails (first, best of 3)", *ours)
    ratio = max(ours[0] / plain[0], ours[1] / plain[1])
    print(f"  read+validate / plain read: first {ours[0] / plain[0]:4.2f}, best {ours[1] / plain[1]:4.2f}   "
          f"(target <= 1.5)   {'OK' if ratio <= 1.5 else 'MISSED'}", flush=True)

    out = BENCH_DIR / f"inputs_out_{name.lower()}"
    fresh = run_cli("geomatch", ["match", "--trails", str(trails), "--crimes", str(crimes_path), "--out", str(out)])
    end_to_end, stage_line = _stages(fresh.output)
    _line("end to end: geomatch match's stages (read, validate, match, score, write)", end_to_end)
    _line("  the same command's wall time in a fresh process (imports, kernels loaded)", fresh.seconds)
    print(f"  {stage_line}")
    print(f"  peak memory of geomatch match: {fresh.peak_rss_mb:,.0f} MiB (target < 2048 MiB)   "
          f"{'OK' if fresh.peak_rss_mb < 2048 else 'MISSED'}", flush=True)

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
    _line("DuckDB band join over the same file (observed only)", figures["duckdb"])
    duck = figures["duckdb"] / end_to_end
    print(f"  DuckDB / end to end:    {duck:5.2f}x   (target > 1)      {'OK' if duck > 1 else 'MISSED'}", flush=True)
    gc.collect()
    with timed(figures, "geopandas"):
        analyst = geopandas_observed(trails, crimes.accepted, config, read=read_fixes)
    _line("geopandas way (read, to_crs, buffer, sjoin, time filter)", figures["geopandas"])
    speedup = figures["geopandas"] / end_to_end
    print(f"  geopandas / end to end: {speedup:5.1f}x   (target >= 20x)   {'OK' if speedup >= 20 else 'MISSED'}")
    print(f"  observed hits: ours {len(ours_observed):,}, geopandas {len(analyst):,} "
          f"({len(analyst ^ ours_observed)} differ: polygon buffers), DuckDB {len(banded):,} "
          f"({len(banded ^ ours_observed)} differ: a flat-earth distance at the radius' edge)", flush=True)


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
                 lambda path: pd.read_csv(path, usecols=["subject_id", "timestamp", "lat", "lon"],
                                          dtype={"subject_id": "category"}, parse_dates=["timestamp"]), config)
    bench_format("Parquet", parquet_path, crimes_path, read_parquet,
                 lambda path: pd.read_parquet(path, columns=["subject_id", "timestamp", "lat", "lon"]), config)


if __name__ == "__main__":
    main()
